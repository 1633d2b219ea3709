// Every error code, from every method that can raise it: synchronous
// methods throw, Promise-returning methods reject (never throw). After each
// failure the database must hold exactly what it held before and keep
// working.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import pkg from '../index.js'
import { makeRng, assertCode, thrownBy } from './helpers.mjs'

const { VectorDB } = pkg

const DIM = 4
const N = 50

/** A small cosine database with metadata; ids item-0 … item-49. */
async function fixture(metric = 'cosine') {
  const db = new VectorDB({ dimensions: DIM, metric })
  const rng = makeRng(2024)
  await db.insertBatch(
    Array.from({ length: N }, (_, i) => ({
      id: `item-${i}`,
      vector: rng.gaussianVector(DIM),
      metadata: { i, group: i % 3, tags: [`t${i % 5}`] },
    })),
  )
  return db
}

const PROBES = [
  [1, 0, 0, 0],
  [0.3, -0.2, 0.9, 0.1],
  [-1, -1, 0.5, 2],
]

/** Everything observable about the database's contents. */
function snapshot(db) {
  const ids = Array.from({ length: N + 5 }, (_, i) => `item-${i}`).concat(['new', 'dup', 'fresh'])
  return {
    size: db.size,
    items: ids.map((id) => db.getSync(id)),
    searches: PROBES.map((q) => db.searchSync(q, { k: N + 10 }).hits),
  }
}

async function assertUnchangedAndWorking(db, before) {
  const after = snapshot(db)
  assert.equal(after.size, before.size, 'size changed after a failed call')
  assert.deepEqual(after.items, before.items, 'stored items changed after a failed call')
  assert.deepEqual(after.searches, before.searches, 'search results changed after a failed call')
  // Still usable for writes and reads.
  const id = await db.insert({ id: 'after-error', vector: [0.5, 0.5, -0.5, 0.25], metadata: { ok: true } })
  assert.equal(id, 'after-error')
  assert.equal(db.size, before.size + 1)
  const hit = db.searchSync([0.5, 0.5, -0.5, 0.25], { k: 1 }).hits[0]
  assert.equal(hit.id, 'after-error')
  assert.deepEqual(hit.metadata, { ok: true })
}

/**
 * Calls a Promise-returning method: it must return a Promise (not throw)
 * that rejects with an Error carrying `code`.
 */
async function assertRejects(call, code, what) {
  let promise
  assert.doesNotThrow(() => {
    promise = call()
  }, `${what} threw synchronously instead of returning a rejected Promise`)
  assert.ok(promise instanceof Promise, `${what} did not return a Promise`)
  await assert.rejects(promise, (error) => {
    assertCode(error, code, what)
    return true
  })
}

function assertThrows(call, code, what) {
  const error = thrownBy(call, what)
  assertCode(error, code, what)
}

// [description, code, call(db)] for Promise-returning methods.
const ASYNC_CASES = [
  // ERR_DIMENSION_MISMATCH
  ['insert of a too short vector', 'ERR_DIMENSION_MISMATCH', (db) => db.insert({ id: 'new', vector: [1, 2, 3] })],
  ['insert of a too long Float32Array', 'ERR_DIMENSION_MISMATCH', (db) => db.insert({ id: 'new', vector: new Float32Array(5).fill(1) })],
  [
    'insertBatch with one wrong-length vector in the middle',
    'ERR_DIMENSION_MISMATCH',
    (db) => db.insertBatch([{ id: 'new', vector: [1, 2, 3, 4] }, { id: 'fresh', vector: [1, 2] }, { vector: [4, 3, 2, 1] }]),
  ],
  ['upsert of a new id with a wrong-length vector', 'ERR_DIMENSION_MISMATCH', (db) => db.upsert({ id: 'new', vector: [1, 2] })],
  ['upsert of an existing id with a wrong-length vector', 'ERR_DIMENSION_MISMATCH', (db) => db.upsert({ id: 'item-3', vector: [1, 2] })],
  ['update with a wrong-length vector', 'ERR_DIMENSION_MISMATCH', (db) => db.update('item-3', { vector: [1, 2, 3, 4, 5] })],
  ['search with a wrong-length query', 'ERR_DIMENSION_MISMATCH', (db) => db.search([1, 2, 3])],
  ['searchBatch with one wrong-length query', 'ERR_DIMENSION_MISMATCH', (db) => db.searchBatch([[1, 2, 3, 4], [1, 2, 3]])],
  ['searchBatch with a flat array that is not a multiple of dimensions', 'ERR_DIMENSION_MISMATCH', (db) => db.searchBatch(new Float32Array(DIM * 2 + 1).fill(1))],
  ['searchBatch with a flat array shorter than dimensions', 'ERR_DIMENSION_MISMATCH', (db) => db.searchBatch(new Float32Array(DIM - 1).fill(1))],

  // ERR_INVALID_VECTOR
  ['insert of a vector with NaN', 'ERR_INVALID_VECTOR', (db) => db.insert({ id: 'new', vector: [1, NaN, 0, 0] })],
  ['insert of a vector with Infinity', 'ERR_INVALID_VECTOR', (db) => db.insert({ id: 'new', vector: new Float32Array([1, Infinity, 0, 0]) })],
  ['insert of a vector with -Infinity', 'ERR_INVALID_VECTOR', (db) => db.insert({ id: 'new', vector: [1, 0, -Infinity, 0] })],
  ['insert of a number beyond float32 range (becomes Infinity)', 'ERR_INVALID_VECTOR', (db) => db.insert({ id: 'new', vector: [1e39, 0, 0, 1] })],
  ['insert of an empty number[] vector', 'ERR_INVALID_VECTOR', (db) => db.insert({ id: 'new', vector: [] })],
  ['insert of an empty Float32Array', 'ERR_INVALID_VECTOR', (db) => db.insert({ id: 'new', vector: new Float32Array(0) })],
  ['insert of a zero vector under cosine', 'ERR_INVALID_VECTOR', (db) => db.insert({ id: 'new', vector: [0, 0, 0, 0] })],
  ['insertBatch with one NaN vector at the end', 'ERR_INVALID_VECTOR', (db) => db.insertBatch([{ id: 'new', vector: [1, 2, 3, 4] }, { id: 'fresh', vector: [NaN, 1, 1, 1] }])],
  ['insertBatch with a zero vector under cosine', 'ERR_INVALID_VECTOR', (db) => db.insertBatch([{ id: 'new', vector: [1, 2, 3, 4] }, { vector: new Float32Array(DIM) }])],
  ['upsert of an existing id with a NaN vector', 'ERR_INVALID_VECTOR', (db) => db.upsert({ id: 'item-1', vector: [NaN, 0, 0, 1] })],
  ['upsert of a new id with a zero vector under cosine', 'ERR_INVALID_VECTOR', (db) => db.upsert({ id: 'new', vector: [0, 0, 0, 0] })],
  ['update with an Infinity vector', 'ERR_INVALID_VECTOR', (db) => db.update('item-1', { vector: [Infinity, 0, 0, 1] })],
  ['update with a zero vector under cosine', 'ERR_INVALID_VECTOR', (db) => db.update('item-1', { vector: [0, 0, 0, 0], metadata: { changed: true } })],
  ['update with an empty vector', 'ERR_INVALID_VECTOR', (db) => db.update('item-1', { vector: [] })],
  ['search with a NaN query', 'ERR_INVALID_VECTOR', (db) => db.search([NaN, 0, 0, 1])],
  ['search with an empty query', 'ERR_INVALID_VECTOR', (db) => db.search(new Float32Array(0))],
  ['search with a zero query under cosine', 'ERR_INVALID_VECTOR', (db) => db.search([0, 0, 0, 0])],
  ['searchBatch with one Infinity query', 'ERR_INVALID_VECTOR', (db) => db.searchBatch([[1, 2, 3, 4], [1, -Infinity, 3, 4]])],
  ['searchBatch with a zero query in a flat array under cosine', 'ERR_INVALID_VECTOR', (db) => db.searchBatch(new Float32Array([1, 2, 3, 4, 0, 0, 0, 0]))],

  // ERR_INVALID_ARGUMENT: search options
  ...[
    ['k: 0', { k: 0 }],
    ['k: -1', { k: -1 }],
    ['k: 2.5', { k: 2.5 }],
    ['k: 1e9', { k: 1e9 }],
    ['k: 100001', { k: 100001 }],
    ['k: NaN', { k: NaN }],
    ['k: Infinity', { k: Infinity }],
    ['efSearch: 0', { efSearch: 0 }],
    ['efSearch: -3', { efSearch: -3 }],
    ['efSearch: 1.5', { efSearch: 1.5 }],
    ['efSearch: 1e9', { efSearch: 1e9 }],
  ].flatMap(([label, options]) => [
    [`search with ${label}`, 'ERR_INVALID_ARGUMENT', (db) => db.search([1, 2, 3, 4], options)],
    [`searchBatch with ${label}`, 'ERR_INVALID_ARGUMENT', (db) => db.searchBatch([[1, 2, 3, 4]], options)],
  ]),
  // ERR_INVALID_ARGUMENT: ids
  ['insert with an empty id', 'ERR_INVALID_ARGUMENT', (db) => db.insert({ id: '', vector: [1, 2, 3, 4] })],
  ['insertBatch with an empty id', 'ERR_INVALID_ARGUMENT', (db) => db.insertBatch([{ id: 'new', vector: [1, 2, 3, 4] }, { id: '', vector: [1, 2, 3, 4] }])],
  ['upsert with an empty id', 'ERR_INVALID_ARGUMENT', (db) => db.upsert({ id: '', vector: [1, 2, 3, 4] })],
  ['update with an empty id', 'ERR_INVALID_ARGUMENT', (db) => db.update('', { metadata: { x: 1 } })],
  ['insert with a 4097-byte id', 'ERR_INVALID_ARGUMENT', (db) => db.insert({ id: 'x'.repeat(4097), vector: [1, 2, 3, 4] })],
  // ERR_INVALID_ARGUMENT: metadata that is not a plain object
  ...[
    ['an array', [1, 2]],
    ['a string', 'red'],
    ['a number', 42],
    ['a boolean', true],
  ].flatMap(([label, metadata]) => [
    [`insert with metadata that is ${label}`, 'ERR_INVALID_ARGUMENT', (db) => db.insert({ id: 'new', vector: [1, 2, 3, 4], metadata })],
    [
      `insertBatch with metadata that is ${label}`,
      'ERR_INVALID_ARGUMENT',
      (db) => db.insertBatch([{ id: 'new', vector: [1, 2, 3, 4] }, { id: 'fresh', vector: [4, 3, 2, 1], metadata }]),
    ],
    [`upsert with metadata that is ${label}`, 'ERR_INVALID_ARGUMENT', (db) => db.upsert({ id: 'item-2', vector: [1, 2, 3, 4], metadata })],
    [`update with metadata that is ${label}`, 'ERR_INVALID_ARGUMENT', (db) => db.update('item-2', { vector: [1, 2, 3, 4], metadata })],
  ]),
  // ERR_INVALID_ARGUMENT: wrong JS types (caught by Node-API's conversion)
  ['insert with a string as vector', 'ERR_INVALID_ARGUMENT', (db) => db.insert({ id: 'new', vector: 'abcd' })],
  ['insert without a vector', 'ERR_INVALID_ARGUMENT', (db) => db.insert({ id: 'new' })],
  ['insert with a numeric id', 'ERR_INVALID_ARGUMENT', (db) => db.insert({ id: 7, vector: [1, 2, 3, 4] })],
  ['get with a numeric id', 'ERR_INVALID_ARGUMENT', (db) => db.get(7)],
  ['search with a string query', 'ERR_INVALID_ARGUMENT', (db) => db.search('abcd')],
  ['search with a string k', 'ERR_INVALID_ARGUMENT', (db) => db.search([1, 2, 3, 4], { k: '5' })],
  ['insertBatch of a non-array', 'ERR_INVALID_ARGUMENT', (db) => db.insertBatch('items')],

  // ERR_INVALID_FILTER
  ['search with an unknown operator', 'ERR_INVALID_FILTER', (db) => db.search([1, 2, 3, 4], { filter: { $foo: 1 } })],
  ['search with $in on a non-array', 'ERR_INVALID_FILTER', (db) => db.search([1, 2, 3, 4], { filter: { group: { $in: 3 } } })],
  ['searchBatch with an empty $or', 'ERR_INVALID_FILTER', (db) => db.searchBatch([[1, 2, 3, 4]], { filter: { $or: [] } })],

  // ERR_NOT_FOUND
  ['update of an unknown id (metadata)', 'ERR_NOT_FOUND', (db) => db.update('nope', { metadata: { x: 1 } })],
  ['update of an unknown id (vector)', 'ERR_NOT_FOUND', (db) => db.update('nope', { vector: [1, 2, 3, 4] })],
  ['update of an unknown id (no changes)', 'ERR_NOT_FOUND', (db) => db.update('nope', {})],

  // ERR_DUPLICATE_ID
  ['insert of an existing id', 'ERR_DUPLICATE_ID', (db) => db.insert({ id: 'item-0', vector: [1, 2, 3, 4] })],
  ['insertBatch containing an existing id', 'ERR_DUPLICATE_ID', (db) => db.insertBatch([{ id: 'new', vector: [1, 2, 3, 4] }, { id: 'item-9', vector: [1, 2, 3, 4] }])],
  [
    'insertBatch with the same id twice inside the batch',
    'ERR_DUPLICATE_ID',
    (db) => db.insertBatch([{ id: 'dup', vector: [1, 2, 3, 4] }, { id: 'fresh', vector: [2, 2, 3, 4] }, { id: 'dup', vector: [3, 2, 3, 4] }]),
  ],
]

// [description, code, call(db)] for synchronous methods.
const SYNC_CASES = [
  ['searchSync with a wrong-length query', 'ERR_DIMENSION_MISMATCH', (db) => db.searchSync([1, 2, 3])],
  ['searchSync with a too long Float32Array', 'ERR_DIMENSION_MISMATCH', (db) => db.searchSync(new Float32Array(DIM + 1).fill(1))],
  ['searchSync with a NaN query', 'ERR_INVALID_VECTOR', (db) => db.searchSync([1, NaN, 0, 0])],
  ['searchSync with an Infinity query', 'ERR_INVALID_VECTOR', (db) => db.searchSync(new Float32Array([1, Infinity, 0, 0]))],
  ['searchSync with an empty query', 'ERR_INVALID_VECTOR', (db) => db.searchSync([])],
  ['searchSync with a zero query under cosine', 'ERR_INVALID_VECTOR', (db) => db.searchSync([0, 0, 0, 0])],
  ['searchSync with k: 0', 'ERR_INVALID_ARGUMENT', (db) => db.searchSync([1, 2, 3, 4], { k: 0 })],
  ['searchSync with k: -1', 'ERR_INVALID_ARGUMENT', (db) => db.searchSync([1, 2, 3, 4], { k: -1 })],
  ['searchSync with k: 2.5', 'ERR_INVALID_ARGUMENT', (db) => db.searchSync([1, 2, 3, 4], { k: 2.5 })],
  ['searchSync with k: 1e9', 'ERR_INVALID_ARGUMENT', (db) => db.searchSync([1, 2, 3, 4], { k: 1e9 })],
  ['searchSync with k: 100001', 'ERR_INVALID_ARGUMENT', (db) => db.searchSync([1, 2, 3, 4], { k: 100001 })],
  ['searchSync with efSearch: 0', 'ERR_INVALID_ARGUMENT', (db) => db.searchSync([1, 2, 3, 4], { efSearch: 0 })],
  ['searchSync with a string query', 'ERR_INVALID_ARGUMENT', (db) => db.searchSync('abcd')],
  ['getSync with a numeric id', 'ERR_INVALID_ARGUMENT', (db) => db.getSync(7)],
  ['searchSync with an unknown operator', 'ERR_INVALID_FILTER', (db) => db.searchSync([1, 2, 3, 4], { filter: { $foo: 1 } })],
  ['searchSync with a non-object filter', 'ERR_INVALID_FILTER', (db) => db.searchSync([1, 2, 3, 4], { filter: [] })],
]

describe('Promise-returning methods reject (and never throw) with the documented code', () => {
  for (const [what, code, call] of ASYNC_CASES) {
    test(`${what}: rejects with ${code}, database unchanged`, async () => {
      const db = await fixture()
      const before = snapshot(db)
      await assertRejects(() => call(db), code, what)
      await assertUnchangedAndWorking(db, before)
    })
  }
})

describe('synchronous methods throw the documented code', () => {
  for (const [what, code, call] of SYNC_CASES) {
    test(`${what}: throws ${code}, database unchanged`, async () => {
      const db = await fixture()
      const before = snapshot(db)
      assertThrows(() => call(db), code, what)
      await assertUnchangedAndWorking(db, before)
    })
  }
})

describe('constructor', () => {
  const cases = [
    ['dimensions: 0', { dimensions: 0 }],
    ['dimensions: -1', { dimensions: -1 }],
    ['dimensions: 2.5', { dimensions: 2.5 }],
    ['dimensions: 65537', { dimensions: 65537 }],
    ['dimensions: NaN', { dimensions: NaN }],
    ['m: 1', { dimensions: 4, m: 1 }],
    ['m: 0', { dimensions: 4, m: 0 }],
    ['m: 257', { dimensions: 4, m: 257 }],
    ['efConstruction: 0', { dimensions: 4, efConstruction: 0 }],
    ['efSearch: 0', { dimensions: 4, efSearch: 0 }],
    ['efSearch: 100001', { dimensions: 4, efSearch: 100001 }],
    ['recentSearches: 0', { dimensions: 4, recentSearches: 0 }],
    ['an unknown metric', { dimensions: 4, metric: 'manhattan' }],
    ['an empty metric', { dimensions: 4, metric: '' }],
  ]
  for (const [what, options] of cases) {
    test(`${what} throws ERR_INVALID_ARGUMENT`, () => {
      assertThrows(() => new VectorDB(options), 'ERR_INVALID_ARGUMENT', `new VectorDB(${what})`)
    })
  }

  test(
    'missing dimensions throws ERR_INVALID_ARGUMENT',
    () => {
      assertThrows(() => new VectorDB({}), 'ERR_INVALID_ARGUMENT', 'new VectorDB({})')
      assertThrows(() => new VectorDB({ dimensions: '4' }), 'ERR_INVALID_ARGUMENT', "new VectorDB({ dimensions: '4' })")
    },
  )
})

describe('failures that must not lose or leak data', () => {
  test('a batch with a duplicate inside stores nothing, not even the items before it', async () => {
    const db = await fixture()
    await assertRejects(
      () => db.insertBatch([{ id: 'x1', vector: [1, 2, 3, 4] }, { id: 'x2', vector: [2, 2, 3, 4] }, { id: 'x1', vector: [3, 2, 3, 4] }]),
      'ERR_DUPLICATE_ID',
      'insertBatch',
    )
    assert.equal(db.size, N)
    assert.equal(db.getSync('x1'), null)
    assert.equal(db.getSync('x2'), null)
    // The ids are still free afterwards.
    await db.insertBatch([{ id: 'x1', vector: [1, 2, 3, 4] }, { id: 'x2', vector: [2, 2, 3, 4] }])
    assert.equal(db.size, N + 2)
  })

  test('a batch with generated ids and one bad vector stores none of the generated items', async () => {
    const db = await fixture()
    const batch = Array.from({ length: 500 }, (_, i) => ({ vector: [1, i + 1, 2, 3] }))
    batch[499] = { vector: [1, 2, 3] }
    await assertRejects(() => db.insertBatch(batch), 'ERR_DIMENSION_MISMATCH', 'insertBatch')
    assert.equal(db.size, N)
    const hits = db.searchSync([1, 1, 2, 3], { k: 100 }).hits
    assert.equal(hits.length, N)
    assert.ok(hits.every((h) => h.id.startsWith('item-')))
  })

  test('a failed update keeps both the old vector and the old metadata', async () => {
    const db = await fixture()
    const before = db.getSync('item-5')
    await assertRejects(() => db.update('item-5', { vector: [NaN, 1, 1, 1], metadata: { replaced: true } }), 'ERR_INVALID_VECTOR', 'update')
    assert.deepEqual(db.getSync('item-5'), before)
  })

  test('update of a deleted id rejects with ERR_NOT_FOUND and does not resurrect it', async () => {
    const db = await fixture()
    assert.equal(await db.delete('item-4'), true)
    await assertRejects(() => db.update('item-4', { metadata: { back: true } }), 'ERR_NOT_FOUND', 'update')
    assert.equal(db.getSync('item-4'), null)
    assert.equal(db.size, N - 1)
  })

  test('the error message names the offending value', async () => {
    const db = await fixture()
    const dup = await db.insert({ id: 'item-0', vector: [1, 2, 3, 4] }).catch((e) => e)
    assert.match(dup.message, /item-0/)
    const missing = await db.update('ghost-id', {}).catch((e) => e)
    assert.match(missing.message, /ghost-id/)
    const dims = thrownBy(() => db.searchSync([1, 2, 3]))
    assert.match(dims.message, /3/)
    assert.match(dims.message, /4/)
    const filter = thrownBy(() => db.searchSync([1, 2, 3, 4], { filter: { price: { $foo: 1 } } }))
    assert.match(filter.message, /\$foo/)
  })
})

describe('not errors', () => {
  test('get of an unknown id resolves null; getSync returns null', async () => {
    const db = await fixture()
    assert.equal(await db.get('nope'), null)
    assert.equal(await db.get(''), null)
    assert.equal(db.getSync('nope'), null)
  })

  test('delete of an unknown id resolves false and changes nothing', async () => {
    const db = await fixture()
    const before = snapshot(db)
    assert.equal(await db.delete('nope'), false)
    assert.equal(await db.delete(''), false)
    await assertUnchangedAndWorking(db, before)
  })

  test('huge k (100000) on a 50-item database returns all 50 items', async () => {
    const db = await fixture()
    const q = [0.1, 0.2, 0.3, 0.4]
    for (const res of [db.searchSync(q, { k: 100000 }), await db.search(q, { k: 100000 }), (await db.searchBatch([q], { k: 100000 }))[0]]) {
      assert.equal(res.hits.length, N)
      assert.equal(new Set(res.hits.map((h) => h.id)).size, N)
    }
  })

  test('a zero vector is valid under euclidean and dot', async () => {
    for (const metric of ['euclidean', 'dot']) {
      const db = new VectorDB({ dimensions: 3, metric })
      await db.insert({ id: 'zero', vector: [0, 0, 0] })
      await db.insert({ id: 'one', vector: [1, 0, 0] })
      assert.equal(db.searchSync([0, 0, 0], { k: 2 }).hits.length, 2)
    }
  })

  test('a filter of null or undefined means no filter', async () => {
    const db = await fixture()
    assert.equal(db.searchSync([1, 2, 3, 4], { filter: undefined }).hits.length, 10)
    assert.equal((await db.search([1, 2, 3, 4], { filter: null })).hits.length, 10)
  })
})
