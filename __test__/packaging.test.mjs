// What `npm pack` ships and what the package promises about it: the exact
// file list (no binary, no test data, no target/), no install script, the
// platform packages in step with the main package, engines on every one,
// and a LICENSE that matches package.json. scripts/pack-smoke.sh then
// installs the tarballs and uses them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const readJson = (file) => JSON.parse(fs.readFileSync(path.join(root, file), 'utf8'))
const pkg = readJson('package.json')

test('npm pack ships the JS entry points, their types, README and LICENSE, and nothing else', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--loglevel=error'], { cwd: root, encoding: 'utf8' })
  const files = JSON.parse(out)[0].files.map((f) => f.path).sort()
  assert.deepEqual(files, [
    'LICENSE',
    'README.md',
    'binding.js',
    'index.d.ts',
    'index.js',
    'internal.js',
    'lancedb.d.ts',
    'lancedb.js',
    'langchain/index.cjs',
    'langchain/index.d.mts',
    'langchain/index.d.ts',
    'langchain/index.mjs',
    'langchain/store.cjs',
    'lossless-json.js',
    'native.js',
    'package.json',
    'pgvector.d.ts',
    'pgvector.js',
    'platform.js',
    'reranker.js',
    'sources/arguments.js',
    'sources/contract.d.ts',
    'sources/engine-source.js',
    'sources/errors.js',
    'sources/filter.js',
    'sources/lance-filter.js',
    'sources/pg-filter.js',
  ])
  const size = JSON.parse(out)[0].size
  assert.ok(size < 200_000, `the tarball is ${size} bytes`)
})

test('the main package has no install script and its entry points exist', () => {
  const lifecycle = Object.keys(pkg.scripts).filter((name) => /^(pre|post)?install$|^prepare$/.test(name))
  assert.deepEqual(lifecycle, [], 'an install script would run on every user’s machine')
  for (const entry of [pkg.main, pkg.types, ...Object.values(pkg.exports).flatMap(targets)]) {
    if (entry.endsWith('.d.mts')) continue // made by prepack from langchain/index.d.ts
    assert.ok(fs.existsSync(path.join(root, entry)), `${entry} exists`)
  }
})

/** Every file an `exports` entry can point to. */
function targets(entry) {
  return typeof entry === 'string' ? [entry] : Object.values(entry).flatMap(targets)
}

test('platform packages are in step with the main package (scripts/platforms.mjs --check)', () => {
  execFileSync(process.execPath, [path.join(root, 'scripts', 'platforms.mjs'), '--check'], { cwd: root, stdio: 'pipe' })
  const names = Object.keys(pkg.optionalDependencies)
  assert.equal(names.length, pkg.napi.targets.length)
  for (const dir of fs.readdirSync(path.join(root, 'npm'))) {
    const platform = readJson(`npm/${dir}/package.json`)
    assert.ok(names.includes(platform.name), `${platform.name} is an optional dependency`)
    assert.equal(pkg.optionalDependencies[platform.name], pkg.version)
    assert.ok(platform.engines?.node, `${platform.name} says which Node it needs`)
    assert.ok(platform.cpu?.length === 1, `${platform.name} names its CPU`)
  }
})

test('LICENSE matches package.json', () => {
  assert.equal(pkg.license, 'MIT')
  assert.match(fs.readFileSync(path.join(root, 'LICENSE'), 'utf8'), /^MIT License\n/)
  assert.equal(pkg.peerDependenciesMeta['@langchain/core'].optional, true, 'users who skip the LangChain subpath need not install it')
})
