#!/usr/bin/env bash
# Installs hnsw-gnn as a new user would and uses it (run by `npm test`):
#   1. `npm pack` the main package and this host's platform package (its
#      binary: the one `npm run build` just made here);
#   2. install both tarballs, @langchain/core and the TypeScript types into a
#      fresh temp project, --prefer-offline (from the cache the repository's
#      own install filled), with a PATH holding only node and npm: no Rust,
#      no C compiler, no node-gyp, and the main package has no install script;
#   3. run scripts/smoke.cjs from CommonJS and from an ES module, use the
#      LangChain store from both, and compile a `strict` TypeScript consumer
#      of `hnsw-gnn` and `hnsw-gnn/langchain` against the packed types;
#   4. install the main package again with --os/--cpu set to another
#      platform, so no binary comes with it, and check the error users get.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

PLATFORM=$(node -p "require('./platform.js').platformName()")
BINARY="hnsw-gnn.$PLATFORM.node"
[ -f "$BINARY" ] || { echo "pack-smoke: no $BINARY: run \`npm run build\` first" >&2; exit 1; }
LANGCHAIN_VERSION=$(node -p "require('@langchain/core/package.json').version")
TYPES_NODE_VERSION=$(node -p "require('@types/node/package.json').version")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hnsw-gnn-pack-smoke-XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# 1. The tarballs. The platform package is staged with the host's binary.
npm pack --silent --pack-destination "$WORK" >/dev/null
cp -r "npm/$PLATFORM" "$WORK/platform"
cp "$BINARY" "$WORK/platform/"
(cd "$WORK/platform" && npm pack --silent --pack-destination "$WORK" >/dev/null)
MAIN_TGZ=$(ls "$WORK"/hnsw-gnn-[0-9]*.tgz)
PLATFORM_TGZ=$(ls "$WORK"/hnsw-gnn-"$PLATFORM"-*.tgz)

# 2. A PATH with node and npm and nothing else.
mkdir -p "$WORK/bin"
ln -s "$(command -v node)" "$WORK/bin/node"
ln -s "$(command -v npm)" "$WORK/bin/npm"
BARE_PATH="$WORK/bin"
for tool in cargo rustc cc gcc clang make python3 node-gyp; do
  if PATH=$BARE_PATH command -v "$tool" >/dev/null 2>&1; then
    echo "pack-smoke: $tool is on the bare PATH" >&2
    exit 1
  fi
done
install_into() { # DIR NPM-ARGS...: a fresh project in DIR, then npm install
  local dir=$1
  shift
  mkdir -p "$dir"
  echo '{ "name": "consumer", "version": "1.0.0", "private": true }' >"$dir/package.json"
  (cd "$dir" && PATH=$BARE_PATH npm install --prefer-offline --no-audit --no-fund --loglevel=error "$@")
}

APP="$WORK/app"
started=$SECONDS
install_into "$APP" "$MAIN_TGZ" "$PLATFORM_TGZ" "@langchain/core@$LANGCHAIN_VERSION" "@types/node@$TYPES_NODE_VERSION"
echo "pack-smoke: installed $(basename "$MAIN_TGZ") and $(basename "$PLATFORM_TGZ") in $((SECONDS - started)) s"
node -e "
  const pkg = require('$APP/node_modules/hnsw-gnn/package.json')
  const scripts = Object.keys(pkg.scripts || {}).filter((s) => /install|prepare/.test(s))
  if (scripts.length) throw new Error('the main package has install scripts: ' + scripts)
"
if ls "$APP/node_modules/hnsw-gnn/"*.node >/dev/null 2>&1; then
  echo "pack-smoke: the main package carries a binary" >&2
  exit 1
fi

# 3. CommonJS and ES module smoke, the LangChain store, strict TypeScript.
cp scripts/smoke.cjs "$APP/smoke.cjs"
cp __test__/fixtures/consumer/* "$APP/"
cd "$APP"
PATH=$BARE_PATH HNSW_GNN_MODULE=hnsw-gnn node smoke.cjs
PATH=$BARE_PATH node smoke.mjs
PATH=$BARE_PATH node langchain.cjs
PATH=$BARE_PATH node "$ROOT/node_modules/typescript/bin/tsc" -p tsconfig.json
PATH=$BARE_PATH node dist/consumer.mjs
PATH=$BARE_PATH node dist/consumer-cjs.cjs
echo "pack-smoke: strict TypeScript consumer compiled and ran"

# 4. No binary for this platform: our error, not a stack of loader errors.
OTHER="$WORK/other"
install_into "$OTHER" "$MAIN_TGZ" --os=freebsd --cpu=riscv64
cd "$OTHER"
PATH=$BARE_PATH node -e "
  try {
    require('hnsw-gnn')
  } catch (error) {
    const expected = ['$PLATFORM', 'hnsw-gnn-$PLATFORM', 'optional dependencies', 'npm run build', 'NAPI_RS_NATIVE_LIBRARY_PATH']
    const missing = expected.filter((text) => !error.message.includes(text))
    if (error.code !== 'ERR_NATIVE_BINARY_MISSING' || missing.length) {
      console.error(error)
      throw new Error('the missing-binary error lacks: ' + missing.join(', '))
    }
    console.log('pack-smoke: without a binary, require says:\n' + error.message.replace(/^/gm, '  | '))
    process.exit(0)
  }
  throw new Error('hnsw-gnn loaded without its platform package')
"
echo "pack-smoke: ok"
