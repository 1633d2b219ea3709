'use strict'
// Loads the native addon through the loader NAPI-RS generates (native.js:
// a binary built in this directory, else the platform package
// hnsw-gnn-<platform>, else the WASI package). When none loads, the
// generated error advises deleting the lock file, which is not what helps
// here; this one names the platform, the package it looked for and what to
// do, and keeps the loader's errors as its `cause`.

const pkg = require('./package.json')
const { platformName } = require('./platform.js')

function missingBinaryError(cause) {
  const platform = platformName()
  const wanted = `${pkg.name}-${platform}`
  const shipped = Object.keys(pkg.optionalDependencies || {})
  const ships = shipped.includes(wanted)
  const lines = [
    `hnsw-gnn could not load its native binary for ${platform} (Node ${process.version}).`,
    ships
      ? `It looked for the package ${wanted}@${pkg.version}, an optional dependency of hnsw-gnn that npm installs only on ${platform}, and it is missing or failed to load.`
      : `It looked for the package ${wanted}, but hnsw-gnn ${pkg.version} ships no binary for ${platform}.`,
    'What to do:',
    ships
      ? `  - reinstall with optional dependencies (not --omit=optional or --no-optional), on the platform that runs the code — a node_modules copied from another OS, CPU or C library lacks it; or add ${wanted}@${pkg.version} to your dependencies;`
      : `  - binaries ship for: ${shipped.map((name) => name.slice(pkg.name.length + 1)).join(', ')};`,
    `  - or install ${pkg.name}-wasm32-wasi@${pkg.version} (runs wherever Node >= 20.19 runs, without SIMD);`,
    '  - or build it from source (needs Rust): in a clone of the hnsw-gnn repository run `npm install && npm run build`,',
    `    then set NAPI_RS_NATIVE_LIBRARY_PATH to the hnsw-gnn.${platform}.node it makes (README: "Install").`,
  ]
  const error = new Error(lines.join('\n'), { cause })
  error.code = 'ERR_NATIVE_BINARY_MISSING'
  return error
}

let native
try {
  native = require('./native.js')
} catch (error) {
  throw missingBinaryError(error)
}

module.exports = native
