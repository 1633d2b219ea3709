// The public face: what `require('hnsw-gnn')` exports is exactly what
// index.d.ts declares — the module's keys and every class's public members,
// read from the declarations with the TypeScript compiler — nothing native
// or private is reachable, the README's API table lists the same methods,
// and unknown option keys are refused everywhere.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import pkg from '../index.js'
import { assertCode, thrownBy, failureOf } from './helpers.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)

/** Exports of index.d.ts: `values` (name → 'class' | 'function' | 'const'), and per class its instance and static members. */
function declared() {
  const file = join(root, 'index.d.ts')
  const program = ts.createProgram([file], { strict: true, noEmit: true, types: [] })
  const checker = program.getTypeChecker()
  const source = program.getSourceFile(file)
  const diagnostics = ts.getPreEmitDiagnostics(program, source)
  assert.deepEqual(diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')), [], 'index.d.ts type-checks')
  const moduleSymbol = checker.getSymbolAtLocation(source)
  const values = new Map()
  const classes = new Map()
  for (const symbol of checker.getExportsOfModule(moduleSymbol)) {
    const name = symbol.getName()
    if (symbol.flags & ts.SymbolFlags.Class) {
      values.set(name, 'class')
      const declaration = symbol.declarations.find(ts.isClassDeclaration)
      const instance = checker.getDeclaredTypeOfSymbol(symbol)
      const statics = checker.getTypeOfSymbolAtLocation(symbol, declaration)
      classes.set(name, {
        instance: checker.getPropertiesOfType(instance).map((p) => p.getName()).sort(),
        statics: checker.getPropertiesOfType(statics).map((p) => p.getName()).filter((p) => p !== 'prototype').sort(),
      })
    } else if (symbol.flags & ts.SymbolFlags.Function) {
      values.set(name, 'function')
    } else if (symbol.flags & ts.SymbolFlags.Variable) {
      values.set(name, 'const')
    }
  }
  return { values, classes, checker, moduleSymbol }
}

/** Public members of a runtime class: along the prototype chain, and static. */
function runtimeMembers(cls) {
  const instance = new Set()
  for (let proto = cls.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) if (name !== 'constructor') instance.add(name)
  }
  const statics = Object.getOwnPropertyNames(cls).filter((n) => !['length', 'name', 'prototype'].includes(n))
  return { instance: [...instance].sort(), statics: statics.sort() }
}

test('the module exports exactly the values index.d.ts declares, of the declared kinds', () => {
  const { values } = declared()
  assert.deepEqual(Object.keys(pkg).sort(), [...values.keys()].sort())
  for (const [name, kind] of values) {
    const actual = pkg[name]
    if (kind === 'const') assert.notEqual(typeof actual, 'function', name)
    else assert.equal(typeof actual, 'function', `${name} is a ${kind}`)
    if (kind === 'class') assert.match(Function.prototype.toString.call(actual), /^class /, `${name} is a JS class, not a native one`)
  }
})

test('every class has exactly the public members index.d.ts declares', () => {
  const { classes } = declared()
  assert.ok(classes.size >= 5, `${classes.size} classes declared`)
  for (const [name, members] of classes) {
    assert.deepEqual(runtimeMembers(pkg[name]), members, `${name}: runtime members vs index.d.ts`)
  }
})

test('nothing native or private is reachable from the package', async () => {
  for (const name of Object.keys(pkg)) {
    assert.ok(!name.startsWith('_'), `exported ${name}`)
    const value = pkg[name]
    if (typeof value !== 'function') continue
    const { instance, statics } = runtimeMembers(value)
    for (const member of [...instance, ...statics]) assert.ok(!member.startsWith('_'), `${name}.${member}`)
  }
  const db = new pkg.VectorDB({ dimensions: 2 })
  assert.deepEqual(Object.keys(db), [], 'native handles live in private fields')
  assert.deepEqual(Object.getOwnPropertySymbols(db), [])
  const { graph } = await db.snapshot()
  assert.deepEqual(Object.keys(graph), [])
  assert.deepEqual(Object.keys(new pkg.GCNLayer({ inputDim: 2, outputDim: 2 })), [])
  // The package's exports map hides the generated loader; the benchmarks'
  // probes are behind the documented, untyped `hnsw-gnn/internal`.
  assert.throws(() => require('hnsw-gnn/native.js'), { code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' })
  assert.equal(typeof require('hnsw-gnn/internal').sgemm, 'function')
  assert.equal(typeof require('hnsw-gnn/internal').trainSteps, 'function')
  assert.equal(require('hnsw-gnn'), pkg)
})

test('limits come from the Rust core, frozen', () => {
  const { limits } = pkg
  assert.ok(Object.isFrozen(limits))
  assert.equal(limits.maxK, 100000)
  assert.equal(limits.maxDimensions, 65536)
  const db = new pkg.VectorDB({ dimensions: 2 })
  assertCode(thrownBy(() => db.searchSync([1, 0], { k: limits.maxK + 1 })), 'ERR_INVALID_ARGUMENT')
  assert.deepEqual(db.searchSync([1, 0], { k: limits.maxK }).hits, [])
  assertCode(thrownBy(() => new pkg.VectorDB({ dimensions: limits.maxDimensions + 1 })), 'ERR_INVALID_ARGUMENT')
})

test("the README's API table lists VectorDB's methods, VectorDB.open, simdInfo and limits", () => {
  const { classes } = declared()
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('\n## API'), readme.indexOf('\n## ', readme.indexOf('\n## API') + 1))
  // The first table of the section: one row per method (or per group of
  // getters), the method's call written before any ` → `.
  const lines = section.split('\n')
  const first = lines.findIndex((line) => line.startsWith('| method'))
  const end = lines.findIndex((line, i) => i > first && !line.startsWith('|'))
  const listed = new Set()
  for (const line of lines.slice(first + 2, end)) {
    const call = line.split('|')[1].split(' → ')[0]
    for (const [, name] of call.matchAll(/`(?:VectorDB\.)?(\w+)/g)) listed.add(name)
  }
  const vectorDb = classes.get('VectorDB')
  const expected = new Set([...vectorDb.instance, ...vectorDb.statics, 'simdInfo', 'limits'])
  assert.deepEqual([...listed].sort(), [...expected].sort())
})

test('unknown option keys are refused everywhere, naming the key', async () => {
  const { VectorDB, GCNLayer, GATLayer, GraphSAGE } = pkg
  const named = (error, key) => {
    assertCode(error, 'ERR_INVALID_ARGUMENT')
    assert.match(error.message, new RegExp(`"${key}"`), error.message)
  }
  named(thrownBy(() => new VectorDB({ dimensions: 2, dims: 3 })), 'dims')
  const db = new VectorDB({ dimensions: 2 })
  await db.insert({ vector: [1, 0] })
  named(thrownBy(() => db.searchSync([1, 0], { topK: 5 })), 'topK')
  named((await failureOf(() => db.search([1, 0], { k: 1, limit: 5 }))).error, 'limit')
  named((await failureOf(() => db.searchBatch([[1, 0]], { ef: 5 }))).error, 'ef')
  named((await failureOf(() => db.insertBatch([{ vector: [0, 1] }], { progress: () => {} }))).error, 'progress')
  assert.equal(db.size, 1, 'a refused batch stores nothing')
  named((await failureOf(() => VectorDB.open('/nonexistent.hgnn', { readonly: true }))).error, 'readonly')
  named(thrownBy(() => new GCNLayer({ inputDim: 2, outputDim: 2, numHeads: 2 })), 'numHeads')
  named(thrownBy(() => new GATLayer({ inputDim: 2, outputDim: 2, heads: 2 })), 'heads')
  named(thrownBy(() => new GraphSAGE({ inputDim: 2, outputDim: 2, layers: 2 })), 'layers')
  const gcn = new GCNLayer({ inputDim: 2, outputDim: 2 })
  named(thrownBy(() => gcn.saveWeightsSync('/tmp/never-written.weights', { type: 'f16' })), 'type')
  named((await failureOf(() => gcn.saveWeights('/tmp/never-written.weights', { dtype: 'f16' }))).error, 'dtype')
  // Known keys with undefined values are simply absent.
  assert.equal(db.searchSync([1, 0], { k: undefined, filter: undefined }).hits.length, 1)
})
