#!/usr/bin/env bash
# Builds the platform binaries this x86-64 Linux machine can make into
# npm/<abi>/hnsw-gnn.<abi>.node, checks each, and runs scripts/smoke.cjs
# with it. Run as `npm run build:platforms`.
#
# Tools: zig and cargo-zigbuild from PyPI, pinned, in a project-local
# virtualenv (.tools/zig, made on first use); nothing else is installed.
# Linked by zig against an old glibc's symbol versions, a gnu binary loads
# on any distribution with that glibc or newer.
#
# Done so far: linux-x64-gnu against glibc 2.17 (CentOS 7 / RHEL 7 and
# everything newer). The arm64, musl and WASI builds come next.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS=.tools/zig
ZIGLANG_VERSION=0.17.1
CARGO_ZIGBUILD_VERSION=0.24.1
if [ ! -x "$TOOLS/bin/cargo-zigbuild" ]; then
  echo "installing ziglang $ZIGLANG_VERSION and cargo-zigbuild $CARGO_ZIGBUILD_VERSION into $TOOLS"
  python3 -m venv "$TOOLS"
  "$TOOLS/bin/pip" install --quiet "ziglang==$ZIGLANG_VERSION" "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION"
fi
export PATH="$PWD/$TOOLS/bin:$PATH"

# The highest GLIBC_x.y symbol version a shared object asks for.
highest_glibc() {
  objdump -T "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1
}

# build_gnu ABI RUST_TARGET GLIBC: builds, copies into npm/ABI, and fails if
# the binary asks for a newer glibc than GLIBC.
build_gnu() {
  local abi=$1 target=$2 glibc=$3
  local started=$SECONDS
  cargo zigbuild --release --target "$target.$glibc" --target-dir target/platforms
  local out="npm/$abi/hnsw-gnn.$abi.node"
  cp "target/platforms/$target/release/libhnsw_gnn.so" "$out"
  local needed
  needed=$(highest_glibc "$out")
  if [ "$(printf '%s\n%s\n' "$needed" "$glibc" | sort -V | tail -1)" != "$glibc" ]; then
    echo "$out asks for GLIBC_$needed, newer than $glibc" >&2
    exit 1
  fi
  echo "$abi: built in $((SECONDS - started)) s; highest glibc symbol version $needed (at most $glibc)"
}

build_gnu linux-x64-gnu x86_64-unknown-linux-gnu 2.17
NAPI_RS_NATIVE_LIBRARY_PATH="$PWD/npm/linux-x64-gnu/hnsw-gnn.linux-x64-gnu.node" node scripts/smoke.cjs
