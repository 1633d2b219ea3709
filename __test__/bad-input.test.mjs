// The bad-input matrix: every public method, fed each bad value its
// arguments can take, must fail with its documented code — Promise-returning
// methods by rejecting, sync ones by throwing — with a short message, and
// leave what it was called on unchanged and working (items, searches,
// learning state and GNN weights compared before and after).
//
// The cases are generated: ARGUMENTS lists bad values per kind of argument,
// METHODS lists each method once with the kinds of its arguments. A new
// method is one line in METHODS.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pkg from '../index.js'
import { makeRng, assertCode } from './helpers.mjs'

const { VectorDB, Graph, GCNLayer, GATLayer, GraphSAGE, aggregate, aggregateSync, limits } = pkg

const DIM = 4
const N = 40
const ARG = 'ERR_INVALID_ARGUMENT'
const DIMS = 'ERR_DIMENSION_MISMATCH'
const VEC = 'ERR_INVALID_VECTOR'
const FILTER = 'ERR_INVALID_FILTER'
const GRAPH = 'ERR_INVALID_GRAPH'
const NOT_FOUND = 'ERR_NOT_FOUND'
const DUP = 'ERR_DUPLICATE_ID'
const IO = 'ERR_IO'
const CORRUPT = 'ERR_CORRUPT_FILE'

// A message a person can read: bad input of any size gets a short one.
const MAX_MESSAGE = 1000

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hnsw-gnn-bad-input-'))

// ------------------------------------------------------------- bad values --

function nested(depth, leaf) {
  let value = leaf
  for (let i = 0; i < depth; i++) value = { x: value }
  return value
}

function nestedFilter(depth) {
  let filter = { group: 1 }
  for (let i = 0; i < depth; i++) filter = { $and: [filter] }
  return filter
}

// A bad value made from the method's valid argument and the test's context
// (the layer class): `from((validArg, context) => value)`.
const DERIVED = Symbol('derived bad value')
const from = (make) => ({ [DERIVED]: make })

const cycle = { a: 1 }
cycle.self = cycle
const MB = 'x'.repeat(1 << 20)

const VECTOR = [
  ['a string', 'abcd', ARG],
  ['null', null, ARG],
  ['an object', { length: 4 }, ARG],
  ['a number[] with a string in it', [1, 'a', 0, 0], ARG],
  ['too short', [1, 2, 3], DIMS],
  ['a too long Float32Array', new Float32Array(DIM + 1).fill(1), DIMS],
  ['NaN inside', [1, NaN, 0, 0], VEC],
  ['Infinity inside', new Float32Array([1, Infinity, 0, 0]), VEC],
  ['-Infinity inside', [1, 0, -Infinity, 0], VEC],
  ['1e39 (Infinity as float32)', [1e39, 0, 0, 1], VEC],
  ['empty', [], VEC],
  ['an empty Float32Array', new Float32Array(0), VEC],
  ['zero (cosine)', [0, 0, 0, 0], VEC],
]

const METADATA = [
  ['an array', [1, 2], ARG],
  ['a string', 'red', ARG],
  ['a number', 42, ARG],
  ['a Date (stored as a string, not an object)', new Date(0), ARG],
  ['with a BigInt', { n: 2n ** 60n + 1n }, ARG],
  ['with a function', { f() {} }, ARG],
  ['with a symbol', { s: Symbol('s') }, ARG],
  ['with a cycle', cycle, ARG],
  ['with NaN', { n: NaN }, ARG],
  ['with -Infinity', { n: -Infinity }, ARG],
  ['with a Map', { m: new Map([[1, 2]]) }, ARG],
  ['with a Set', { s: new Set([1]) }, ARG],
  ['with a Float32Array', { v: new Float32Array(2) }, ARG],
  ['with a lone surrogate in a value', { s: 'a\ud800' }, ARG],
  ['with a lone surrogate in a name', { ['\udc00']: 1 }, ARG],
  ['nested 1 level too deep', nested(limits.maxMetadataDepth + 1, 1), ARG],
  ['nested 1,000 levels deep', nested(1000, 1), ARG],
]

const ID = [
  ['a number', 7, ARG],
  ['empty', '', ARG],
  ['4,097 bytes', 'x'.repeat(4097), ARG],
  ['1 MB', MB, ARG],
  ['an object', { id: 'item-1' }, ARG],
  ['with a lone surrogate (would collide with U+FFFD)', 'a\ud800', ARG],
]

const FILTERS = [
  ['an unknown operator', { $foo: 1 }, FILTER],
  ['an unknown operator on a field', { group: { $near: 1 } }, FILTER],
  ['$in on a non-array', { group: { $in: 3 } }, FILTER],
  ['$gt on an object', { group: { $gt: { a: 1 } } }, FILTER],
  ['$and of a non-array', { $and: { group: 1 } }, FILTER],
  ['an empty $or', { $or: [] }, FILTER],
  ['an array', [], FILTER],
  ['a string', 'group = 1', FILTER],
  ['nested 1,000 levels deep', nestedFilter(1000), FILTER],
  ['nested 33 levels deep', nestedFilter(33), FILTER],
  ['a 1 MB operator name', { group: { ['$' + MB]: 1 } }, FILTER],
  ['with a BigInt', { group: 1n }, FILTER],
  ['with a function', { group: () => 1 }, FILTER],
  ['with a Date inside a Map', { at: new Map() }, FILTER],
  ['with a cycle', cycle, FILTER],
]

const SEARCH_OPTIONS = [
  ...[0, -1, 2.5, 1e9, limits.maxK + 1, NaN, Infinity, '5'].map((k) => [`k: ${String(k)}`, { k }, ARG]),
  ...[0, -3, 1.5, 1e9, limits.maxEfSearch + 1, '64'].map((efSearch) => [`efSearch: ${efSearch}`, { efSearch }, ARG]),
  ['an unknown key', { topK: 5 }, ARG],
  ['rerank: "yes"', { rerank: 'yes' }, ARG],
  ...FILTERS.map(([label, filter, code]) => [`a filter that is ${label}`, { filter }, code]),
]

const ABORT_OPTIONS = [
  ['a number', 5, ARG],
  ['an unknown key', { timeout: 5 }, ARG],
  ['a signal that is not an AbortSignal', { signal: { aborted: 'no' } }, ARG],
]

// Bad values per kind of argument: [label, value, code]. `db` kinds get the
// fixture's state where they need it.
const ARGUMENTS = {
  vector: VECTOR,
  item: [
    ['null', null, ARG],
    ['a number', 5, ARG],
    ['without a vector', { id: 'new' }, ARG],
    ...VECTOR.map(([label, vector, code]) => [`with a vector ${label}`, { id: 'new', vector }, code]),
    ...ID.map(([label, id, code]) => [`with an id ${label}`, { id, vector: [1, 2, 3, 4] }, code]),
    ...METADATA.map(([label, metadata, code]) => [`with metadata ${label}`, { id: 'new', vector: [1, 2, 3, 4], metadata }, code]),
  ],
  items: [
    ['a string', 'items', ARG],
    ['null', null, ARG],
    ['[null]', [null], ARG],
    ['with the same id twice', [{ id: 'dup', vector: [1, 2, 3, 4] }, { id: 'fresh', vector: [2, 1, 3, 4] }, { id: 'dup', vector: [3, 2, 1, 4] }], DUP],
    ['with an existing id last', [{ id: 'new', vector: [1, 2, 3, 4] }, { id: 'item-9', vector: [1, 2, 3, 4] }], DUP],
    ...VECTOR.map(([label, vector, code]) => [`with a vector ${label} last`, [{ id: 'new', vector: [1, 2, 3, 4] }, { vector }], code]),
    ...METADATA.map(([label, metadata, code]) => [`with metadata ${label} last`, [{ id: 'new', vector: [1, 2, 3, 4] }, { vector: [4, 3, 2, 1], metadata }], code]),
    ['flat, vectors a number[]', { vectors: [1, 2, 3, 4] }, ARG],
    ['flat, vectors not a multiple of dimensions', { vectors: new Float32Array(DIM * 2 + 1).fill(1) }, DIMS],
    ['flat, a NaN in vectors', { vectors: new Float32Array([1, 2, 3, 4, NaN, 1, 1, 1]) }, VEC],
    ['flat, 1 id for 2 vectors', { ids: ['a'], vectors: new Float32Array(DIM * 2).fill(1) }, ARG],
    ['flat, the same id twice', { ids: ['a', 'a'], vectors: new Float32Array(DIM * 2).fill(1) }, DUP],
    ['flat, an id with a lone surrogate', { ids: ['a', '\udc00'], vectors: new Float32Array(DIM * 2).fill(1) }, ARG],
    ['flat, 3 metadata for 2 vectors', { metadata: [{}, {}, {}], vectors: new Float32Array(DIM * 2).fill(1) }, ARG],
    ...METADATA.map(([label, metadata, code]) => [`flat, metadata ${label}`, { vectors: new Float32Array(DIM * 2).fill(1), metadata: [null, metadata] }, code]),
    ['flat, an unknown key', { vectors: new Float32Array(DIM).fill(1), extra: 1 }, ARG],
  ],
  insertBatchOptions: [
    ['a number', 5, ARG],
    ['an unknown key', { progress: () => {} }, ARG],
    ['onProgress a string', { onProgress: 'log' }, ARG],
    ['a signal that is not an AbortSignal', { signal: {} }, ARG],
  ],
  existingId: [...ID.filter(([, id]) => typeof id !== 'string' || id.length > 0), ['unknown', 'nope', NOT_FOUND], ['empty', '', ARG]],
  lookupId: ID.filter(([, id]) => typeof id !== 'string' || !id.isWellFormed()),
  changes: [
    ['null', null, ARG],
    ...VECTOR.filter(([, vector]) => vector !== null).map(([label, vector, code]) => [`a vector ${label}`, { vector }, code]),
    ...METADATA.map(([label, metadata, code]) => [`metadata ${label}`, { metadata }, code]),
  ],
  queries: [
    ['a string', 'abcd', ARG],
    ['null', null, ARG],
    ...VECTOR.map(([label, vector, code]) => [`with a query ${label} last`, [[1, 2, 3, 4], vector], code]),
    ['a flat Float32Array not a multiple of dimensions', new Float32Array(DIM * 2 + 1).fill(1), DIMS],
    ['a flat Float32Array shorter than dimensions', new Float32Array(DIM - 1).fill(1), DIMS],
  ],
  searchOptions: [['a number', 5, ARG], ...SEARCH_OPTIONS],
  abortOptions: ABORT_OPTIONS,
  feedback: [
    ['null', null, ARG],
    ['a string', 'clicked', ARG],
    ['for an unknown searchId', from((f) => ({ ...f, searchId: 'nope' })), NOT_FOUND],
    ['with a numeric searchId', from((f) => ({ ...f, searchId: 7 })), ARG],
    ['clicking an id that was not shown', from((f) => ({ ...f, clicked: ['item-never-shown'] })), ARG],
    ['with clicked a string', from((f) => ({ ...f, clicked: 'item-1' })), ARG],
    ['clicking an id with a lone surrogate', from((f) => ({ ...f, clicked: ['\ud800'] })), ARG],
    ['with an unknown key', from((f) => ({ ...f, liked: [] })), ARG],
    ['with shown holding the same id twice', from((f) => ({ ...f, shown: [f.clicked[0], f.clicked[0]] })), ARG],
    ['with both a searchId and a query', from((f) => ({ ...f, query: [1, 2, 3, 4], shown: f.clicked })), ARG],
    ['with a query too short', from(({ clicked }) => ({ query: [1, 2, 3], shown: clicked, clicked })), DIMS],
    ['with a NaN query', from(({ clicked }) => ({ query: [NaN, 1, 1, 1], shown: clicked, clicked })), VEC],
    ['with a query but no shown', from(({ clicked }) => ({ query: [1, 2, 3, 4], clicked })), ARG],
  ],
  purgeOptions: [
    ['a number', 5, ARG],
    ['before a string', { before: 'yesterday' }, ARG],
    ['before NaN', { before: NaN }, ARG],
    ['before an invalid Date', { before: new Date('nope') }, ARG],
    ['an unknown key', { after: 0 }, ARG],
  ],
  handle: [
    ['a number', 7, ARG],
    ['unknown', 'hnsw-gnn-handle-nope', NOT_FOUND],
  ],
  openPath: [
    ['a number', 7, ARG],
    ['missing', path.join(dir, 'missing.hgnn'), IO],
    ['a directory', dir, IO],
    ['not a database', path.join(dir, 'not-a-database.hgnn'), 'ERR_UNSUPPORTED_FORMAT'],
    ['a database cut short', path.join(dir, 'truncated.hgnn'), CORRUPT],
  ],
  dbOptions: [
    ['a number', 4, ARG],
    ['without dimensions', {}, ARG],
    ...[0, -1, 2.5, limits.maxDimensions + 1, NaN, '4'].map((dimensions) => [`dimensions: ${String(dimensions)}`, { dimensions }, ARG]),
    ...[
      ['m: 1', { m: 1 }],
      ['m: 257', { m: limits.maxM + 1 }],
      ['efConstruction: 0', { efConstruction: 0 }],
      ['efSearch: 0', { efSearch: 0 }],
      ['efSearch beyond the limit', { efSearch: limits.maxEfSearch + 1 }],
      ['recentSearches: 0', { recentSearches: 0 }],
      ['an unknown metric', { metric: 'manhattan' }],
      ['an empty metric', { metric: '' }],
      ['an unknown key', { dimension: 4 }],
      ['path a number', { path: 7 }],
      ['durability without a path', { durability: 'sync' }],
      ['checkpoint without a path', { checkpoint: { bytes: 1 << 20 } }],
      ['learning a string', { learning: 'yes' }],
      ['learning with bufferSessions: -1', { learning: { bufferSessions: -1 } }],
      ['learning with an unknown key', { learning: { rate: 0.1 } }],
      ['a cycle', { extra: cycle }],
    ].map(([label, options]) => [label, { dimensions: DIM, ...options }, ARG]),
    ['a path in a missing directory', { dimensions: DIM, path: path.join(dir, 'no-such-dir', 'x.hgnn') }, IO],
    ['the path of an existing database', from(() => ({ dimensions: DIM, path: validFile })), 'ERR_ALREADY_EXISTS'],
  ],
  openOptions: [
    ['a number', 5, ARG],
    ['an unknown key', { dimensions: 4 }, ARG],
    ['readOnly a string', { readOnly: 'yes' }, ARG],
    ['an unknown durability', { durability: 'sometimes' }, ARG],
  ],
}
fs.writeFileSync(path.join(dir, 'not-a-database.hgnn'), 'hello, not a database')
const validFile = path.join(dir, 'valid.hgnn')
await new VectorDB({ dimensions: DIM, path: validFile }).close()
{
  const truncated = new VectorDB({ dimensions: DIM, path: path.join(dir, 'truncated.hgnn') })
  await truncated.insert({ vector: [1, 2, 3, 4], metadata: { a: 1 } })
  await truncated.save()
  await truncated.close()
  const size = fs.statSync(path.join(dir, 'truncated.hgnn')).size
  fs.truncateSync(path.join(dir, 'truncated.hgnn'), size - 9)
}

// --------------------------------------------------------------- fixtures --

/** A small cosine database with metadata (ids item-0 … item-39) and one search to give feedback on. */
async function dbFixture() {
  const db = new VectorDB({ dimensions: DIM })
  const rng = makeRng(17)
  await db.insertBatch(
    Array.from({ length: N }, (_, i) => ({
      id: `item-${i}`,
      vector: rng.gaussianVector(DIM),
      metadata: { i, group: i % 3, tags: [`t${i % 5}`], at: new Date(1e12 + i) },
    })),
  )
  const { searchId, hits } = await db.search([1, 0.5, 0, 0], { k: 5 })
  return { db, valid: { feedback: { searchId, clicked: [hits[1].id] } } }
}

const PROBES = [
  [1, 0, 0, 0],
  [0.3, -0.2, 0.9, 0.1],
]

/** Everything observable about a database's contents. */
function dbState(db) {
  const ids = Array.from({ length: N }, (_, i) => `item-${i}`).concat(['new', 'dup', 'fresh', 'a'])
  const { sessions, modelVersion, trainings } = db.learningStats()
  return {
    size: db.size,
    items: ids.map((id) => db.getSync(id)),
    searches: PROBES.map((q) => db.searchSync(q, { k: N + 5, rerank: false }).hits),
    filtered: db.searchSync(PROBES[0], { k: N, filter: { group: 1 } }).hits.map((h) => h.id),
    learning: { sessions, modelVersion, trainings },
  }
}

async function assertDbUnchanged(db, before) {
  assert.deepEqual(dbState(db), before, 'the database changed after a failed call')
  // ...and still takes writes.
  await db.insert({ id: 'after-error', vector: [0.5, 0.5, -0.5, 0.25], metadata: { ok: true } })
  assert.equal(db.searchSync([0.5, 0.5, -0.5, 0.25], { k: 1 }).hits[0].id, 'after-error')
}

// ---------------------------------------------------------------- methods --

// One line per method: [name, call(target, ...args), kinds of its arguments,
// valid arguments (a function of the fixture's `valid` values where needed)].
const DB_METHODS = [
  ['insert', (db, item) => db.insert(item), ['item'], [{ id: 'new', vector: [1, 2, 3, 4] }]],
  ['insertBatch', (db, items, options) => db.insertBatch(items, options), ['items', 'insertBatchOptions'], [[{ id: 'new', vector: [1, 2, 3, 4] }], {}]],
  ['upsert', (db, item) => db.upsert(item), ['item'], [{ id: 'new', vector: [1, 2, 3, 4] }]],
  ['update', (db, id, changes) => db.update(id, changes), ['existingId', 'changes'], ['item-3', { metadata: { x: 1 } }]],
  ['get', (db, id) => db.get(id), ['lookupId'], ['item-3']],
  ['getSync', (db, id) => db.getSync(id), ['lookupId'], ['item-3'], 'sync'],
  ['delete', (db, id) => db.delete(id), ['lookupId'], ['item-3']],
  ['search', (db, q, options) => db.search(q, options), ['vector', 'searchOptions'], [[1, 2, 3, 4], { k: 3 }]],
  ['searchSync', (db, q, options) => db.searchSync(q, options), ['vector', 'searchOptions'], [[1, 2, 3, 4], { k: 3 }], 'sync'],
  ['searchBatch', (db, qs, options) => db.searchBatch(qs, options), ['queries', 'searchOptions'], [[[1, 2, 3, 4]], { k: 3 }]],
  ['snapshot', (db, options) => db.snapshot(options), ['abortOptions'], [{}]],
  ['feedback', (db, f) => db.feedback(f), ['feedback'], [(valid) => valid.feedback]],
  ['train', (db, options) => db.train(options), ['abortOptions'], [{}]],
  ['purgeFeedback', (db, options) => db.purgeFeedback(options), ['purgeOptions'], [{ before: 0 }]],
  ['save (in memory: nothing to save to)', (db, options) => db.save(options), ['abortOptions'], [{}]],
  ['VectorDB.attach', (_, handle) => VectorDB.attach(handle), ['handle'], [null], 'sync'],
  ['VectorDB.open', (_, file, options) => VectorDB.open(file, options), ['openPath', 'openOptions'], [validFile, {}]],
  ['new VectorDB', (_, options) => new VectorDB(options), ['dbOptions'], [{ dimensions: DIM }], 'sync'],
]

// Calls that are wrong for the state they find, not for their arguments:
// [what, code, call(db, valid)].
const STATE_CASES = [
  ['refresh() of a writable database', ARG, (db) => db.refresh()],
  ['save() of a database without a file', ARG, (db) => db.save()],
  ['feedback with learning off', ARG, async (db) => {
    const off = new VectorDB({ dimensions: DIM, learning: false })
    await off.insert({ id: 'a', vector: [1, 2, 3, 4] })
    const { searchId } = await off.search([1, 2, 3, 4])
    return off.feedback({ searchId, clicked: ['a'] })
  }],
  ['feedback for a search of another database', NOT_FOUND, async (db) => {
    const other = new VectorDB({ dimensions: DIM })
    await other.insert({ id: 'item-1', vector: [1, 2, 3, 4] })
    const { searchId } = await other.search([1, 2, 3, 4])
    return db.feedback({ searchId, clicked: ['item-1'] })
  }],
]

/** Calls `call` and returns its failure: a rejection (async) or a throw (sync). */
async function failureOf(call, mode, what) {
  let result
  try {
    result = call()
  } catch (error) {
    assert.equal(mode, 'sync', `${what} threw synchronously instead of returning a rejected Promise: ${error && error.message}`)
    return error
  }
  if (mode === 'sync') assert.fail(`${what} did not throw (returned ${typeof result})`)
  assert.ok(result instanceof Promise, `${what} did not return a Promise`)
  return result.then(
    () => assert.fail(`${what} resolved`),
    (error) => error,
  )
}

/** The generated cases of a method table: [what, code, args(valid), mode]. */
function* casesOf([name, , kinds, validArgs, mode = 'async']) {
  for (const [position, kind] of kinds.entries()) {
    const bad = ARGUMENTS[kind]
    assert.ok(bad, `no bad values for argument kind ${kind}`)
    for (const [label, value, code] of bad) {
      const args = (valid, context = {}) =>
        validArgs.map((arg, i) => {
          const validArg = typeof arg === 'function' ? arg(valid) : arg
          if (i !== position) return validArg
          return value !== null && typeof value === 'object' && DERIVED in value ? value[DERIVED](validArg, context) : value
        })
      yield [`${name}: argument ${position + 1} (${kind}) ${label}`, code, args, mode]
    }
  }
}

describe('bad input to VectorDB fails with its code and changes nothing', () => {
  for (const [what, code, call] of STATE_CASES) {
    test(`${what}: ${code}`, async () => {
      const { db, valid } = await dbFixture()
      const before = dbState(db)
      const error = await failureOf(() => call(db, valid), 'async', what)
      assertCode(error, code, what)
      await assertDbUnchanged(db, before)
      await db.close()
    })
  }
  for (const method of DB_METHODS) {
    const call = method[1]
    for (const [what, code, args, mode] of casesOf(method)) {
      test(`${what}: ${code}`, async () => {
        const { db, valid } = await dbFixture()
        const before = dbState(db)
        const error = await failureOf(() => call(db, ...args(valid)), mode, what)
        assertCode(error, code, what)
        assert.ok(error.message.length <= MAX_MESSAGE, `${what}: a ${error.message.length}-character message`)
        await assertDbUnchanged(db, before)
        await db.close()
      })
    }
  }
})

// ------------------------------------------------------------------- GNN --

const NODES = 6
const ADJACENCY = [[1, 2], [0], [0, 3], [2, 4, 5], [3], [3]]
const features = () => new Float32Array(NODES * DIM).map((_, i) => Math.sin(i))

const FEATURES = [
  ['a string', 'abcd', ARG],
  ['null', null, ARG],
  ['a Float32Array one row short', new Float32Array((NODES - 1) * DIM).fill(1), DIMS],
  ['a Float32Array with a partial row', new Float32Array(NODES * DIM + 1).fill(1), DIMS],
  ['NaN inside', new Float32Array(NODES * DIM).fill(NaN), VEC],
  ['Infinity inside', new Float32Array(NODES * DIM).fill(Infinity), VEC],
  ['a Matrix whose data is shorter than rows × cols', { data: new Float32Array(4), rows: NODES, cols: DIM }, DIMS],
]

// A layer also has a width to hold features to (aggregate takes any width,
// and reads a bare array's width off the graph's node count).
const LAYER_FEATURES = [...FEATURES, ['a Matrix of the wrong width', { data: new Float32Array(NODES * (DIM + 1)), rows: NODES, cols: DIM + 1 }, DIMS]]

const GRAPHS = [
  ['a string', 'graph', ARG],
  ['null', null, ARG],
  ['a neighbour id out of range', [[1], [0], [9], [], [], []], GRAPH],
  ['a negative neighbour id', [[-1], [0], [], [], [], []], GRAPH],
  ['a fractional neighbour id', [[1.5], [0], [], [], [], []], GRAPH],
  ['CSR offsets that decrease', { offsets: new Uint32Array([0, 2, 1, 3, 3, 3, 3]), targets: new Uint32Array([1, 2, 0]) }, GRAPH],
  ['CSR offsets past the targets', { offsets: new Uint32Array([0, 1, 2, 3, 4, 5, 9]), targets: new Uint32Array([1, 0, 0, 2, 3, 3]) }, GRAPH],
  ['CSR without targets', { offsets: new Uint32Array([0, 0, 0, 0, 0, 0, 0]) }, ARG],
]
const LAYER_GRAPHS = [...GRAPHS, ['fewer lists than feature rows', [[1], [0]], DIMS]]

fs.writeFileSync(path.join(dir, 'not-weights.bin'), 'not a weight file at all')

Object.assign(ARGUMENTS, {
  features: FEATURES,
  graph: GRAPHS,
  layerFeatures: LAYER_FEATURES,
  layerGraph: LAYER_GRAPHS,
  aggregation: [
    ['unknown', 'median', ARG],
    ['a number', 1, ARG],
  ],
  batch: [
    ['a node out of range', [0, NODES], GRAPH],
    ['a negative node', [-1], GRAPH],
    ['a string', 'all', ARG],
  ],
  weightsPath: [
    ['missing', path.join(dir, 'missing-weights.bin'), IO],
    ['not a weight file', path.join(dir, 'not-weights.bin'), 'ERR_UNSUPPORTED_FORMAT'],
    ['a weight file cut short', from((_, { className }) => path.join(dir, `truncated-${className}.bin`)), CORRUPT],
    ['of a wider layer of this kind', from((_, { className }) => path.join(dir, `other-shape-${className}.bin`)), DIMS],
    ['of another kind of layer', from((_, { className }) => path.join(dir, className === 'GCNLayer' ? 'other-shape-GATLayer.bin' : 'other-kind.bin')), ARG],
    ['a number', 7, ARG],
  ],
  savePath: [
    ['in a missing directory', path.join(dir, 'no-such-dir', 'w.bin'), IO],
    ['a number', 7, ARG],
  ],
  saveOptions: [
    ['an unknown weight type', { weightType: 'f8' }, ARG],
    ['an unknown key', { compress: true }, ARG],
  ],
})

const LAYERS = [
  ['GCNLayer', (inputDim = DIM) => new GCNLayer({ inputDim, outputDim: 4, seed: 1 })],
  ['GATLayer', (inputDim = DIM) => new GATLayer({ inputDim, outputDim: 4, numHeads: 2, seed: 1 })],
  ['GraphSAGE', (inputDim = DIM) => new GraphSAGE({ inputDim, outputDim: 4, numLayers: 2, seed: 1 })],
]
// Weights of the same kind of layer with a wider input.
for (const [className, make] of LAYERS) make(DIM + 1).saveWeightsSync(path.join(dir, `other-shape-${className}.bin`))
for (const [className, make] of LAYERS) {
  const file = path.join(dir, `truncated-${className}.bin`)
  make().saveWeightsSync(file)
  fs.truncateSync(file, fs.statSync(file).size - 7)
}
// ...and of another kind of layer of the same widths.
LAYERS[0][1]().saveWeightsSync(path.join(dir, 'other-kind.bin'))

const LAYER_METHODS = [
  ['forward', (layer, x, g) => layer.forward(x, g), ['layerFeatures', 'layerGraph'], [features(), ADJACENCY]],
  ['forwardSync', (layer, x, g) => layer.forwardSync(x, g), ['layerFeatures', 'layerGraph'], [features(), ADJACENCY], 'sync'],
  ['loadWeights', (layer, file) => layer.loadWeights(file), ['weightsPath'], [null]],
  ['loadWeightsSync', (layer, file) => layer.loadWeightsSync(file), ['weightsPath'], [null], 'sync'],
  ['saveWeights', (layer, file, options) => layer.saveWeights(file, options), ['savePath', 'saveOptions'], [path.join(dir, 'ok.bin'), {}]],
  ['saveWeightsSync', (layer, file, options) => layer.saveWeightsSync(file, options), ['savePath', 'saveOptions'], [path.join(dir, 'ok.bin'), {}], 'sync'],
]

const LAYER_SPECIFIC = {
  GATLayer: [
    ['forwardWithAttention', (layer, x, g) => layer.forwardWithAttention(x, g), ['layerFeatures', 'layerGraph'], [features(), ADJACENCY]],
    ['forwardWithAttentionSync', (layer, x, g) => layer.forwardWithAttentionSync(x, g), ['layerFeatures', 'layerGraph'], [features(), ADJACENCY], 'sync'],
  ],
  GraphSAGE: [
    ['forwardMinibatch', (layer, x, g, b) => layer.forwardMinibatch(x, g, b), ['layerFeatures', 'layerGraph', 'batch'], [features(), ADJACENCY, [0, 1]]],
    ['forwardMinibatchSync', (layer, x, g, b) => layer.forwardMinibatchSync(x, g, b), ['layerFeatures', 'layerGraph', 'batch'], [features(), ADJACENCY, [0, 1]], 'sync'],
  ],
}

/** Everything observable about a layer. */
function layerState(layer) {
  return { weights: layer.weights(), output: layer.forwardSync(features(), ADJACENCY) }
}

describe('bad input to the GNN layers fails with its code and changes nothing', () => {
  for (const [className, make] of LAYERS) {
    for (const method of [...LAYER_METHODS, ...(LAYER_SPECIFIC[className] ?? [])]) {
      for (const [what, code, args, mode] of casesOf(method)) {
        test(`${className}.${what}: ${code}`, async () => {
          const layer = make()
          const before = layerState(layer)
          const error = await failureOf(() => method[1](layer, ...args({}, { className })), mode, what)
          assertCode(error, code, what)
          assert.ok(error.message.length <= MAX_MESSAGE, `${what}: a ${error.message.length}-character message`)
          assert.deepEqual(layerState(layer), before, `${className} changed after a failed ${what}`)
        })
      }
    }
  }

  const FUNCTIONS = [
    ['aggregate', (x, g, a) => aggregate(x, g, a), ['features', 'graph', 'aggregation'], [features(), ADJACENCY, 'mean']],
    ['aggregateSync', (x, g, a) => aggregateSync(x, g, a), ['features', 'graph', 'aggregation'], [features(), ADJACENCY, 'mean'], 'sync'],
    ['new Graph', (g) => new Graph(g), ['graph'], [ADJACENCY], 'sync'],
  ]
  for (const method of FUNCTIONS) {
    for (const [what, code, args, mode] of casesOf(method)) {
      test(`${what}: ${code}`, async () => {
        const error = await failureOf(() => method[1](...args({})), mode, what)
        assertCode(error, code, what)
        assert.ok(error.message.length <= MAX_MESSAGE, `${what}: a ${error.message.length}-character message`)
      })
    }
  }

  const OPTIONS = [
    ['inputDim: 0', { inputDim: 0, outputDim: 3 }],
    ['inputDim: -1', { inputDim: -1, outputDim: 3 }],
    ['inputDim: 2.5', { inputDim: 2.5, outputDim: 3 }],
    ['inputDim beyond the limit', { inputDim: limits.maxGnnWidth + 1, outputDim: 3 }],
    ['outputDim missing', { inputDim: 4 }],
    ['dropout: 1.5', { inputDim: 4, outputDim: 3, dropout: 1.5 }],
    ['dropout: NaN', { inputDim: 4, outputDim: 3, dropout: NaN }],
    ['an unknown activation', { inputDim: 4, outputDim: 3, activation: 'swish2' }],
    ['an unknown key', { inputDim: 4, outputDim: 3, heads: 2 }],
    ['a string', 'big'],
    ['with a cycle', { inputDim: 4, outputDim: 3, extra: cycle }],
  ]
  const SPECIFIC_OPTIONS = {
    GATLayer: [
      ['numHeads: 0', { inputDim: 4, outputDim: 3, numHeads: 0 }],
      ['numHeads beyond the limit', { inputDim: 4, outputDim: 3, numHeads: limits.maxGnnHeads + 1 }],
    ],
    GraphSAGE: [
      ['numLayers: 0', { inputDim: 4, outputDim: 3, numLayers: 0 }],
      ['an unknown aggregator', { inputDim: 4, outputDim: 3, aggregator: 'median' }],
      ['sampleSizes with a negative size', { inputDim: 4, outputDim: 3, sampleSizes: [-1] }],
    ],
  }
  for (const [className] of LAYERS) {
    for (const [what, options] of [...OPTIONS, ...(SPECIFIC_OPTIONS[className] ?? [])]) {
      test(`new ${className} with ${what}: ${ARG}`, async () => {
        const error = await failureOf(() => new pkg[className](options), 'sync', `new ${className}`)
        assertCode(error, ARG, `new ${className}(${what})`)
      })
    }
  }
})

// ------------------------------------------------------ after close() --

const AFTER_CLOSE = [
  ['insert', (db) => db.insert({ id: 'new', vector: [1, 2, 3, 4] })],
  ['insertBatch', (db) => db.insertBatch([{ vector: [1, 2, 3, 4] }])],
  ['insertBatch (flat)', (db) => db.insertBatch({ vectors: new Float32Array(DIM).fill(1) })],
  ['upsert', (db) => db.upsert({ id: 'item-1', vector: [1, 2, 3, 4] })],
  ['update', (db) => db.update('item-1', { metadata: {} })],
  ['get', (db) => db.get('item-1')],
  ['getSync', (db) => db.getSync('item-1'), 'sync'],
  ['delete', (db) => db.delete('item-1')],
  ['search', (db) => db.search([1, 2, 3, 4])],
  ['searchSync', (db) => db.searchSync([1, 2, 3, 4]), 'sync'],
  ['searchBatch', (db) => db.searchBatch([[1, 2, 3, 4]])],
  ['snapshot', (db) => db.snapshot()],
  ['feedback', (db, valid) => db.feedback(valid.feedback)],
  ['train', (db) => db.train()],
  ['learningStats', (db) => db.learningStats(), 'sync'],
  ['resetLearning', (db) => db.resetLearning()],
  ['purgeFeedback', (db) => db.purgeFeedback()],
  ['stats', (db) => db.stats(), 'sync'],
  ['save', (db) => db.save()],
  ['compact', (db) => db.compact()],
  ['refresh', (db) => db.refresh()],
  ['handle', (db) => db.handle(), 'sync'],
]

describe('every method after close() fails with ERR_CLOSED', () => {
  for (const [name, call, mode = 'async'] of AFTER_CLOSE) {
    test(`${name} after close(): ERR_CLOSED`, async () => {
      const { db, valid } = await dbFixture()
      await db.close()
      const error = await failureOf(() => call(db, valid), mode, `${name} after close()`)
      assertCode(error, 'ERR_CLOSED', `${name} after close()`)
      await db.close() // closing twice is harmless
    })
  }
})

describe('close() while work is in flight', () => {
  test('close() during searches, writes, feedback and training: each call resolves or fails with ERR_CLOSED, and every acknowledged write is in the file', async () => {
    const file = path.join(dir, 'close-during.hgnn')
    const db = new VectorDB({ dimensions: DIM, path: file })
    const rng = makeRng(5)
    await db.insertBatch(Array.from({ length: 200 }, (_, i) => ({ id: `base-${i}`, vector: rng.gaussianVector(DIM) })))
    const { searchId, hits } = await db.search([1, 0, 0, 0])
    const acknowledged = []
    const calls = []
    for (let i = 0; i < 300; i++) {
      const id = `w-${i}`
      calls.push(db.insert({ id, vector: rng.gaussianVector(DIM), metadata: { i } }).then(() => acknowledged.push(id)))
      calls.push(db.search(rng.gaussianVector(DIM), { k: 5 }))
      if (i % 50 === 0) calls.push(db.train())
    }
    calls.push(db.feedback({ searchId, clicked: [hits[0].id] }))
    calls.push(db.insertBatch(Array.from({ length: 2000 }, () => ({ vector: rng.gaussianVector(DIM) }))))
    const closing = db.close()
    const outcomes = await Promise.allSettled(calls)
    await closing
    const codes = new Set(outcomes.filter((o) => o.status === 'rejected').map((o) => o.reason && o.reason.code))
    for (const code of codes) assert.equal(code, 'ERR_CLOSED', `a call in flight at close() failed with ${code}`)
    const reopened = await VectorDB.open(file)
    for (const id of acknowledged) assert.notEqual(reopened.getSync(id), null, `acknowledged ${id} is missing after close()`)
    console.log(`# close() in flight: ${acknowledged.length} of 300 inserts acknowledged, ${outcomes.filter((o) => o.status === 'rejected').length} calls got ERR_CLOSED`)
    await reopened.close()
  })
})
