// Filtered search against a brute-force filtered top-k computed in JS with
// a reference evaluator of the grammar in src/filter.rs.
import { test, describe, before } from 'node:test'
import assert from 'node:assert/strict'
import pkg from '../index.js'
import { makeRng, bruteForce, recall, matchesFilter, assertSameRanking, assertCode, thrownBy } from './helpers.mjs'

const { VectorDB } = pkg

const N = 5000
const DIM = 16
const METRIC = 'cosine'
const QUERIES_PER_FILTER = 20
const CATEGORIES = Array.from({ length: 10 }, (_, i) => `c${i}`)
const TAGS = ['red', 'blue', 'green', 'sale', 'new']

function makeItems() {
  const rng = makeRng(4242)
  return Array.from({ length: N }, (_, i) => {
    const vector = rng.gaussianVector(DIM)
    if (i % 50 === 49) return { id: `s${i}`, vector, metadata: null } // 2% without metadata
    const tags = TAGS.filter(() => rng.uniform() < 0.35)
    const metadata = {
      serial: i,
      category: CATEGORIES[rng.int(CATEGORIES.length)],
      price: rng.int(100),
      inStock: rng.uniform() < 0.5,
      tags,
      info: { brand: `b${rng.int(7)}`, rating: 1 + rng.int(5) },
    }
    if (i % 10 === 0) metadata.maybe = null
    else if (i % 10 === 1) metadata.maybe = 1
    return { id: `s${i}`, vector, metadata }
  })
}

// Filters matching a small fraction of the items: the result must equal the
// exact filtered top-k.
const SELECTIVE = {
  'bare value + $lt': { category: 'c3', price: { $lt: 20 } },
  '$eq + bare boolean': { category: { $eq: 'c7' }, inStock: true },
  '$gte': { price: { $gte: 95 } },
  '$gt': { price: { $gt: 97 } },
  '$lte': { price: { $lte: 3 } },
  '$gt and $lt on one field': { price: { $gt: 40, $lt: 44 } },
  'dotted paths': { 'info.brand': 'b2', 'info.rating': { $gte: 4 } },
  '$gt on strings via a dotted path': { 'info.brand': { $gt: 'b5' }, price: { $lt: 30 } },
  '$in + $lt': { category: { $in: ['c1', 'c2'] }, price: { $lt: 10 } },
  '$nin (all but one category)': { category: { $nin: CATEGORIES.slice(0, 9) } },
  '$ne + $lt': { category: { $ne: 'c5' }, price: { $lt: 5 } },
  '$or': { $or: [{ price: { $lt: 2 } }, { 'info.rating': 5, category: 'c4' }] },
  '$and with array membership': { $and: [{ tags: 'sale' }, { price: { $gt: 90 } }] },
  'nested $and / $or': { $and: [{ $or: [{ category: 'c0' }, { category: 'c9' }] }, { $or: [{ price: { $lt: 10 } }, { price: { $gte: 95 } }] }] },
  'literal object (deep equality)': { info: { rating: 3, brand: 'b1' } },
  'literal array (whole-array equality)': { tags: ['red'] },
  'null matches only a stored null': { maybe: null, price: { $lt: 50 } },
  '$in with a number list': { serial: { $in: [3, 17, 256, 1024, 4000, 4999, 77777] } },
}

// Filters matching about half of the items: graph search with a filter.
const BROAD = {
  'bare boolean': { inStock: true },
  '$gte (50%)': { price: { $gte: 50 } },
  '$nin (50%)': { category: { $nin: ['c0', 'c1', 'c2', 'c3', 'c4'] } },
  '$or (≈47%)': { $or: [{ category: { $in: ['c0', 'c1', 'c2'] } }, { price: { $lt: 25 } }] },
  '$lte on a dotted path (60%)': { 'info.rating': { $lte: 3 } },
  '$ne on array membership (includes items without metadata)': { tags: { $ne: 'sale' } },
}

describe('filtered search', () => {
  const items = makeItems()
  const rng = makeRng(99)
  const queries = Array.from({ length: QUERIES_PER_FILTER }, () => rng.gaussianVector(DIM))
  let db

  before(async () => {
    db = new VectorDB({ dimensions: DIM, metric: METRIC })
    await db.insertBatch(items)
  })

  const matchingItems = (filter) => items.filter((item) => matchesFilter(filter, item.metadata))

  test('the reference evaluator agrees with the filters’ intended selectivity', () => {
    for (const [name, filter] of Object.entries(SELECTIVE)) {
      const n = matchingItems(filter).length
      assert.ok(n >= 1 && n <= 600, `selective filter "${name}" matches ${n} items`)
    }
    for (const [name, filter] of Object.entries(BROAD)) {
      const n = matchingItems(filter).length
      assert.ok(n >= 0.4 * N && n <= 0.7 * N, `broad filter "${name}" matches ${n} items`)
    }
  })

  for (const [name, filter] of Object.entries(SELECTIVE)) {
    test(`selective filter (${name}) returns exactly the brute-force filtered top-k`, async () => {
      const matching = matchingItems(filter)
      for (const [qi, q] of queries.entries()) {
        for (const k of [10, 50]) {
          const res = db.searchSync(q, { k, filter })
          const all = bruteForce(METRIC, matching, q, matching.length)
          assert.equal(res.hits.length, Math.min(k, matching.length), 'k hits when at least k items match')
          assertSameRanking(res.hits, all.slice(0, k), all.map((r) => r.distance), `${name}, query ${qi}, k ${k}`)
        }
      }
      // The async form agrees.
      const res = await db.search(queries[0], { k: 10, filter })
      assert.deepEqual(res.hits, db.searchSync(queries[0], { k: 10, filter }).hits)
    })
  }

  for (const [name, filter] of Object.entries(BROAD)) {
    test(`broad filter (${name}): every hit matches, k hits, recall@10 ≥ 0.95`, async (t) => {
      const matching = matchingItems(filter)
      const byId = new Map(items.map((item) => [item.id, item]))
      let sum = 0
      for (const q of queries) {
        const res = db.searchSync(q, { k: 10, filter })
        assert.equal(res.hits.length, 10)
        for (const hit of res.hits) {
          assert.ok(matchesFilter(filter, byId.get(hit.id).metadata), `hit ${hit.id} does not match ${JSON.stringify(filter)}`)
          assert.deepEqual(hit.metadata, byId.get(hit.id).metadata)
        }
        sum += recall(res.hits, bruteForce(METRIC, matching, q, 10))
      }
      const r = sum / queries.length
      t.diagnostic(`recall@10 with filter ${JSON.stringify(filter)}: ${r.toFixed(4)}`)
      assert.ok(r >= 0.95, `filtered recall@10 ${r}`)
      // k = 100 also returns k hits that all match.
      const wide = await db.search(queries[0], { k: 100, filter })
      assert.equal(wide.hits.length, 100)
      for (const hit of wide.hits) assert.ok(matchesFilter(filter, byId.get(hit.id).metadata))
    })
  }

  test('searchBatch applies the filter like searchSync, for an array and a flat Float32Array', async () => {
    const filter = SELECTIVE['dotted paths']
    const flat = new Float32Array(queries.length * DIM)
    queries.forEach((q, i) => flat.set(q, i * DIM))
    for (const input of [queries, flat]) {
      const results = await db.searchBatch(input, { k: 10, filter })
      results.forEach((r, i) => assert.deepEqual(r.hits, db.searchSync(queries[i], { k: 10, filter }).hits))
    }
  })

  test('fewer matches than k returns all matches; no match returns no hits', async () => {
    const seven = { serial: { $in: [1, 2, 3, 4, 5, 6, 7] } }
    const res = db.searchSync(queries[0], { k: 10, filter: seven })
    assert.deepEqual(res.hits.map((h) => h.metadata.serial).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7])
    assert.deepEqual(db.searchSync(queries[0], { filter: { category: 'nope' } }).hits, [])
    assert.deepEqual((await db.search(queries[0], { filter: { serial: { $in: [] } } })).hits, [])
  })

  test('an empty filter {} matches everything, items without metadata included', () => {
    const res = db.searchSync(queries[1], { k: 10, filter: {} })
    assert.deepEqual(res.hits, db.searchSync(queries[1], { k: 10 }).hits)
    const all = db.searchSync(queries[1], { k: N, filter: {} })
    assert.equal(all.hits.length, N)
  })

  test('$ne and $nin match items without metadata and missing fields; $eq and ranges do not', () => {
    const noMeta = items.filter((item) => item.metadata === null).map((item) => item.id)
    const ne = new Set(db.searchSync(queries[2], { k: N, filter: { category: { $ne: 'c0' } } }).hits.map((h) => h.id))
    for (const id of noMeta) assert.ok(ne.has(id), `${id} (no metadata) should pass $ne`)
    const nin = new Set(db.searchSync(queries[2], { k: N, filter: { maybe: { $nin: [1] } } }).hits.map((h) => h.id))
    assert.equal(nin.size, matchingItems({ maybe: { $nin: [1] } }).length)
    const gte = db.searchSync(queries[2], { k: N, filter: { price: { $gte: 0 } } }).hits
    assert.equal(gte.length, N - noMeta.length)
    for (const hit of gte) assert.notEqual(hit.metadata, null)
  })

  test('filters see deletes and metadata updates immediately', async () => {
    const db2 = new VectorDB({ dimensions: 2, metric: 'euclidean' })
    await db2.insertBatch([
      { id: 'a', vector: [0, 0], metadata: { color: 'red' } },
      { id: 'b', vector: [1, 0], metadata: { color: 'red' } },
      { id: 'c', vector: [2, 0], metadata: { color: 'blue' } },
    ])
    assert.deepEqual(db2.searchSync([0, 0], { filter: { color: 'red' } }).hits.map((h) => h.id), ['a', 'b'])
    await db2.delete('a')
    await db2.update('c', { metadata: { color: 'red' } })
    assert.deepEqual(db2.searchSync([0, 0], { filter: { color: 'red' } }).hits.map((h) => h.id), ['b', 'c'])
    await db2.update('b', { metadata: null })
    assert.deepEqual(db2.searchSync([0, 0], { filter: { color: 'red' } }).hits.map((h) => h.id), ['c'])
  })
})

describe('invalid filters', () => {
  const INVALID = [
    ['unknown top-level operator', { $foo: 1 }],
    ['unknown field operator', { a: { $regex: 'x' } }],
    ['$in on a non-array', { a: { $in: 3 } }],
    ['$nin on a string', { a: { $nin: 'x' } }],
    ['empty $or', { $or: [] }],
    ['empty $and', { $and: [] }],
    ['$and on an object', { $and: { a: 1 } }],
    ['a non-object inside $or', { $or: [{ a: 1 }, 5] }],
    ['$gt with null', { a: { $gt: null } }],
    ['$lt with an array', { a: { $lt: [1] } }],
    ['$gte with a boolean', { a: { $gte: true } }],
    ['operator mixed with a plain key', { a: { $eq: 1, b: 2 } }],
    ['empty field name', { '': 1 }],
    ['empty path segment', { 'a..b': 1 }],
    ['a filter that is an array', [{ a: 1 }]],
    ['a filter that is a string', 'a = 1'],
    ['an operand nested deeper than 64 levels', { a: { $eq: Array.from({ length: 70 }).reduce((v) => [v], 1) } }],
  ]
  let db

  before(async () => {
    db = new VectorDB({ dimensions: 3 })
    await db.insertBatch([
      { id: 'x', vector: [1, 0, 0], metadata: { a: 1 } },
      { id: 'y', vector: [0, 1, 0], metadata: { a: 2 } },
    ])
  })

  for (const [what, filter] of INVALID) {
    test(`${what}: searchSync throws, search and searchBatch reject, with ERR_INVALID_FILTER`, async () => {
      assertCode(thrownBy(() => db.searchSync([1, 2, 3], { filter }), 'searchSync'), 'ERR_INVALID_FILTER', 'searchSync')
      let promise
      assert.doesNotThrow(() => {
        promise = db.search([1, 2, 3], { filter })
      }, 'search must reject, not throw')
      await assert.rejects(promise, (error) => {
        assertCode(error, 'ERR_INVALID_FILTER', 'search')
        return true
      })
      await assert.rejects(db.searchBatch([[1, 2, 3]], { filter }), (error) => {
        assertCode(error, 'ERR_INVALID_FILTER', 'searchBatch')
        return true
      })
      // Nothing changed; valid searches still work.
      assert.equal(db.size, 2)
      assert.deepEqual(db.searchSync([1, 0, 0], { k: 1, filter: { a: 1 } }).hits.map((h) => h.id), ['x'])
    })
  }

  // Deeper than 32 levels the filter parser refuses; past ~64 levels Node-API's own
  // JSON conversion refuses first, with ERR_INVALID_ARGUMENT.
  test(
    '$and nesting deeper than 32 levels rejects with ERR_INVALID_FILTER',
    async () => {
      const deep = Array.from({ length: 40 }).reduce((f) => ({ $and: [f] }), { a: 1 })
      assertCode(thrownBy(() => db.searchSync([1, 2, 3], { filter: deep })), 'ERR_INVALID_FILTER', 'searchSync')
      await assert.rejects(db.search([1, 2, 3], { filter: deep }), (error) => {
        assertCode(error, 'ERR_INVALID_FILTER', 'search')
        return true
      })
    },
  )

  test('nesting of 30 levels is still valid', () => {
    const filter = Array.from({ length: 30 }).reduce((f) => ({ $or: [f, { a: 2 }] }), { a: 1 })
    assert.equal(db.searchSync([1, 0, 0], { filter }).hits.length, 2)
  })
})
