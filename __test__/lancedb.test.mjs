// hnsw-gnn/lancedb against a real LanceDB table in a temp directory.
// References: brute force in JS for rankings and scores, hnsw-gnn's own
// VectorDB (same items, the columns as metadata) for what a filter selects.
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { makeRng, nearbyQuery, recall, assertClose, assertCode, failureOf } from './helpers.mjs'
import { contractScore, bruteForceTop, constructionError } from './sources.mjs'

const require = createRequire(import.meta.url)
const { LanceDbSource } = require('../lancedb.js')
const { VectorDB, Reranker, LearnedSearch } = require('../index.js')

let lancedb
let arrow
let skip = false
try {
  lancedb = require('@lancedb/lancedb')
  arrow = require('apache-arrow')
} catch (error) {
  skip = `@lancedb/lancedb does not load here: ${error.message}`
}

const METRICS = ['cosine', 'euclidean', 'dot']
const N = 2000
const DIM = 16
const QUERIES = 20
const CATEGORIES = ['c0', 'c1', 'c2', 'c3', "it's", 'é', '𝒳']

/** Items whose scalar fields are the table's columns; a null `note` is a NULL cell (a missing field for hnsw-gnn). */
function makeItems() {
  const rng = makeRng(5150)
  return Array.from({ length: N }, (_, i) => ({
    id: i === 7 ? "it's 7" : `item ${i}`,
    vector: rng.gaussianVector(DIM),
    category: rng.pick(CATEGORIES),
    price: rng.int(100) - 10,
    rating: rng.pick([0.5, 1, 1.5, 2.25, 3, -1]),
    inStock: rng.uniform() < 0.5,
    note: rng.uniform() < 0.3 ? null : rng.pick(['a', 'B', 'ab', '', "x'); DROP TABLE t; --", 'back\\slash']),
  }))
}

const SCALARS = ['category', 'price', 'rating', 'inStock', 'note']

function metadataOf(item) {
  const metadata = {}
  for (const name of SCALARS) if (item[name] !== null) metadata[name] = item[name]
  return metadata
}

const NAMED_FILTERS = {
  'bare string': { category: 'c1' },
  'bare string with a quote': { category: "it's" },
  'bare number on an integer column': { price: 42 },
  'bare number on a float column': { rating: 1.5 },
  'bare boolean': { inStock: true },
  '$eq with another type matches nothing': { price: { $eq: '42' } },
  '$ne passes a NULL cell': { note: { $ne: 'a' } },
  '$ne with another type passes all': { price: { $ne: 'x' } },
  '$gt on integers': { price: { $gt: 80 } },
  '$gte with a fraction on an integer column': { price: { $gte: 79.5 } },
  '$lt with a fraction on an integer column': { price: { $lt: -4.5 } },
  '$lte on floats': { rating: { $lte: 1 } },
  '$gt and $lt on one field': { price: { $gt: 10, $lt: 20 } },
  '$gt on strings, code-point order': { category: { $gt: 'c3' } },
  '$lt on a string column with a number bound': { category: { $lt: 5 } },
  '$in mixed types': { category: { $in: ['c0', 5, true, 'é'] } },
  '$in []': { price: { $in: [] } },
  '$nin passes a NULL cell': { note: { $nin: ['a', 'B'] } },
  '$nin []': { note: { $nin: [] } },
  'hostile string value': { note: "x'); DROP TABLE t; --" },
  'backslash is data': { note: 'back\\slash' },
  '$or of $and': { $or: [{ $and: [{ category: 'c2' }, { price: { $lt: 30 } }] }, { rating: -1, inStock: false }] },
  '$and of $or': { $and: [{ $or: [{ category: 'c0' }, { note: '' }] }, { $or: [{ price: { $gte: 50 } }, { inStock: true }] }] },
  'empty filter': {},
}

describe('LanceDbSource over a real LanceDB table', { skip }, () => {
  const items = makeItems()
  const byId = new Map(items.map((item) => [item.id, item]))
  const rng = makeRng(8)
  const queries = Array.from({ length: QUERIES }, () => nearbyQuery(rng, items.map((item) => item.vector), 0.3))
  let directory
  let db
  let table
  const source = (options = {}) => new LanceDbSource({ table, metric: 'cosine', ...options })

  before(async () => {
    directory = fs.mkdtempSync(path.join(os.tmpdir(), 'hnsw-gnn-lancedb-'))
    db = await lancedb.connect(directory)
    const schema = new arrow.Schema([
      new arrow.Field('id', new arrow.Utf8(), false),
      new arrow.Field('vector', new arrow.FixedSizeList(DIM, new arrow.Field('item', new arrow.Float32(), true))),
      new arrow.Field('category', new arrow.Utf8()),
      new arrow.Field('price', new arrow.Int64()),
      new arrow.Field('rating', new arrow.Float64()),
      new arrow.Field('inStock', new arrow.Bool()),
      new arrow.Field('note', new arrow.Utf8(), true),
      new arrow.Field('tags', new arrow.List(new arrow.Field('item', new arrow.Utf8(), true))),
    ])
    const rows = items.map((item) => ({ ...item, vector: Array.from(item.vector), price: BigInt(item.price), tags: ['t'] }))
    table = await db.createTable('items', rows, { schema })
  })

  after(() => {
    table?.close()
    db?.close()
    if (directory) fs.rmSync(directory, { recursive: true, force: true })
  })

  for (const metric of METRICS) {
    test(`${metric}: recall@10 = 1 against brute force (flat search), scores equal the metric's score (1e-4), best first`, async () => {
      const lanceSource = source({ metric, metadata: ['category', 'price', 'note'] })
      let sum = 0
      for (const query of queries) {
        const hits = await lanceSource.search(query, { k: 10 })
        assert.equal(hits.length, 10)
        for (let i = 0; i < hits.length; i++) {
          const hit = hits[i]
          const item = byId.get(hit.id)
          assertClose(hit.score, contractScore(metric, query, item.vector), 1e-4, `${metric} score of ${hit.id}`)
          if (i > 0) assert.ok(hits[i - 1].score >= hit.score - 1e-6, 'best first')
          assert.deepEqual(hit.metadata, { category: item.category, price: item.price, note: item.note })
        }
        sum += recall(hits, bruteForceTop(metric, items, query, 10))
      }
      assert.equal(sum / queries.length, 1)
      assert.equal(lanceSource.dimensions, DIM)
    })
  }

  test('k = 200 returns 200 distinct rows; number[] and Float32Array queries agree', async () => {
    const lanceSource = source({ metric: 'dot' })
    const hits = await lanceSource.search(queries[0], { k: 200 })
    assert.equal(new Set(hits.map((hit) => hit.id)).size, 200)
    assert.deepEqual(await lanceSource.search(Array.from(queries[0]), { k: 200 }), hits)
  })

  test('vectors(ids) returns the stored vectors exactly (float32); unknown ids are absent; quotes are data', async () => {
    const lanceSource = source()
    const wanted = [...items.slice(0, 40).map((item) => item.id), "it's 7"]
    const found = await lanceSource.vectors([...wanted, 'nope', "x') OR TRUE OR ('", wanted[0]])
    assert.deepEqual([...found.keys()].sort(), [...new Set(wanted)].sort())
    for (const id of wanted) assert.deepEqual(found.get(id), byId.get(id).vector)
    assert.deepEqual(await lanceSource.vectors([]), new Map())
    assertCode((await failureOf(() => lanceSource.vectors(['a\0b']))).error, 'ERR_INVALID_ARGUMENT')
  })

  describe('filters select what hnsw-gnn selects', () => {
    let reference
    const query = makeRng(3).gaussianVector(DIM)

    before(async () => {
      reference = new VectorDB({ dimensions: DIM, metric: 'euclidean' })
      await reference.insertBatch(items.map((item) => ({ id: item.id, vector: item.vector, metadata: metadataOf(item) })))
    })
    after(() => reference?.close())

    async function sameSelection(filter, what) {
      const expected = (await reference.search(query, { k: N, filter, efSearch: 20_000, rerank: false })).hits.map((hit) => hit.id).sort()
      const actual = (await source({ metric: 'euclidean' }).search(query, { k: N, filter })).map((hit) => hit.id).sort()
      assert.deepEqual(actual, expected, `${what}: ${JSON.stringify(filter)}`)
      return expected.length
    }

    test('named filters: every supported operator, NULL cells, mixed types, nesting', async () => {
      const counts = {}
      for (const [name, filter] of Object.entries(NAMED_FILTERS)) counts[name] = await sameSelection(filter, name)
      const discriminating = Object.values(counts).filter((n) => n > 0 && n < N).length
      assert.ok(discriminating >= Object.keys(counts).length - 6, JSON.stringify(counts))
    })

    test('60 random filters over the scalar columns', async () => {
      const filterRng = makeRng(99)
      const operand = (field) => {
        const roll = filterRng.uniform()
        if (roll < 0.6) return filterRng.pick(items)[field] ?? 'a'
        return filterRng.pick(['c1', 'a', '', 3, 1.5, -1, true, false, "it's"])
      }
      const condition = (field) => {
        const op = filterRng.pick(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', 'bare'])
        if (op === 'bare') return operand(field)
        if (op === '$in' || op === '$nin') return { [op]: Array.from({ length: filterRng.int(4) }, () => operand(field)) }
        if (op.startsWith('$g') || op.startsWith('$l')) {
          const bound = operand(field)
          return { [op]: typeof bound === 'boolean' ? filterRng.int(50) + 0.5 : bound }
        }
        return { [op]: operand(field) }
      }
      const randomFilter = (depth) => {
        const filter = {}
        for (let i = 1 + filterRng.int(2); i > 0; i--) {
          if (depth < 2 && filterRng.uniform() < 0.3) filter[filterRng.pick(['$and', '$or'])] = [randomFilter(depth + 1), randomFilter(depth + 1)]
          else {
            const field = filterRng.pick(SCALARS)
            filter[field] = condition(field)
          }
        }
        return filter
      }
      let discriminating = 0
      for (let i = 0; i < 60; i++) {
        const n = await sameSelection(randomFilter(0), `random filter ${i}`)
        if (n > 0 && n < N) discriminating++
      }
      assert.ok(discriminating >= 25, `${discriminating} of 60 random filters select some but not all`)
    })
  })

  test('filters outside the supported subset are ERR_INVALID_FILTER, naming why', async () => {
    const lanceSource = source()
    const cases = [
      [{ 'category.x': 'a' }, /path/],
      [{ nope: 1 }, /no column "nope"/],
      [{ tags: 't' }, /column "tags" is of type List/],
      [{ category: null }, /got null/],
      [{ category: ['a'] }, /got an array/],
      [{ category: { a: 1 } }, /got an object/],
      [{ price: 2 ** 60 }, /2\^53/],
      [{ note: 'a\0b' }, /NUL/],
      [{ category: { $regex: 'a' } }, /unknown operator "\$regex"/],
      [{ $and: [] }, /non-empty array/],
    ]
    for (const [filter, message] of cases) {
      const { error } = await failureOf(() => lanceSource.search(queries[0], { filter }))
      assertCode(error, 'ERR_INVALID_FILTER', JSON.stringify(filter))
      assert.match(error.message, message)
    }
  })

  test('hostile values are data: the table survives', async () => {
    const lanceSource = source({ metadata: ['note'] })
    const hits = await lanceSource.search(queries[0], { k: N, filter: { note: "x'); DROP TABLE t; --" } })
    assert.ok(hits.length > 0)
    for (const hit of hits) assert.equal(hit.metadata.note, "x'); DROP TABLE t; --")
    assert.equal(await table.countRows(), N)
  })

  test('wrong dimension, NaN and a zero cosine query fail with their codes before LanceDB sees them', async () => {
    const lanceSource = source()
    await lanceSource.search(queries[0], { k: 1 })
    assertCode((await failureOf(() => lanceSource.search(new Float32Array(DIM + 2).fill(1)))).error, 'ERR_DIMENSION_MISMATCH')
    assertCode((await failureOf(() => source().search([1, 2, 3]))).error, 'ERR_DIMENSION_MISMATCH', 'on the first call')
    const nan = Float32Array.from(queries[0])
    nan[0] = NaN
    assertCode((await failureOf(() => lanceSource.search(nan))).error, 'ERR_INVALID_VECTOR')
    assertCode((await failureOf(() => lanceSource.search(new Float32Array(DIM)))).error, 'ERR_INVALID_VECTOR')
  })

  test('LearnedSearch over LanceDB: hits are among its filtered top depth, with its scores and metadata; feedback is logged', async () => {
    const lanceSource = source({ metadata: ['category', 'price'] })
    const reranker = new Reranker({ dimensions: DIM, metric: 'cosine', learning: { background: false } })
    const search = new LearnedSearch(lanceSource, reranker, { depth: 30 })
    const filter = { category: 'c1' }
    for (const query of queries.slice(0, 5)) {
      const engine = new Map((await lanceSource.search(query, { k: 30, filter })).map((hit) => [hit.id, hit]))
      const { searchId, hits } = await search.search(query, { k: 10, filter })
      assert.equal(hits.length, Math.min(10, engine.size))
      for (const hit of hits) {
        assert.ok(engine.has(hit.id), `${hit.id} is one of LanceDB's candidates`)
        assertClose(hit.baseScore, engine.get(hit.id).score, 1e-6)
        assert.deepEqual(hit.metadata, engine.get(hit.id).metadata)
      }
      await search.feedback({ searchId, clicked: [hits[0].id] })
    }
    assert.equal(reranker.learningStats().sessions, 5)
    await reranker.close()
  })

  test('a query beyond 32-bit float range is ERR_INVALID_VECTOR (finite as a double, Infinity as stored)', async () => {
    const huge = Array.from(queries[0])
    huge[3] = 1e39
    assertCode((await failureOf(() => source({ metric: 'euclidean' }).search(huge))).error, 'ERR_INVALID_VECTOR')
  })

  test('integer id columns: 19-digit Int64 ids are found; ids the column cannot hold (or LanceDB cannot write) are simply absent', async () => {
    const vector = (i) => Array.from({ length: DIM }, (_, j) => Math.cos(i + j))
    const big = ['9007199254740993', '1234567890123456789', '-9223372036854775807']
    const int64 = await db.createTable(
      'int64_ids',
      big.map((id, i) => ({ id: BigInt(id), vector: vector(i) })),
      { schema: new arrow.Schema([new arrow.Field('id', new arrow.Int64(), false), new arrow.Field('vector', new arrow.FixedSizeList(DIM, new arrow.Field('item', new arrow.Float32(), true)))]) },
    )
    const int64Source = new LanceDbSource({ table: int64, metric: 'cosine' })
    const found = await int64Source.vectors([...big, '-9223372036854775808', '9223372036854775808', 'x', '1.5'])
    assert.deepEqual([...found.keys()].sort(), [...big].sort())
    assert.deepEqual(Array.from(found.get(big[1])), Array.from(Float32Array.from(vector(1))))
    const hits = await int64Source.search(Float32Array.from(vector(1)), { k: 3 })
    assert.equal(hits[0].id, big[1], 'ids come back as their exact decimal text')
    int64.close()
    const int32 = await db.createTable('int32_ids', [{ id: 7, vector: vector(0) }], {
      schema: new arrow.Schema([new arrow.Field('id', new arrow.Int32(), false), new arrow.Field('vector', new arrow.FixedSizeList(DIM, new arrow.Field('item', new arrow.Float32(), true)))]),
    })
    const int32Source = new LanceDbSource({ table: int32, metric: 'cosine' })
    assert.deepEqual([...(await int32Source.vectors(['7', '2147483648', '99999999999'])).keys()], ['7'])
    int32.close()
  })

  test('bad options are ERR_INVALID_ARGUMENT TypeErrors', async () => {
    for (const options of [undefined, {}, { table: {}, metric: 'cosine' }, { table, metric: 'l2' }, { table, metric: 'dot', vector: 'a`b' }, { table, metric: 'dot', metadata: 'note' }, { table, metric: 'dot', nprobes: 4 }, { table, metric: 'dot', refineFactor: 0 }]) {
      const error = constructionError(LanceDbSource, options)
      assert.ok(error instanceof TypeError, JSON.stringify(options && Object.keys(options)))
      assertCode(error, 'ERR_INVALID_ARGUMENT')
    }
    for (const options of [{ k: 0 }, { k: 1.5 }, { where: 'TRUE' }]) {
      assertCode((await failureOf(() => source().search(queries[0], options))).error, 'ERR_INVALID_ARGUMENT')
    }
  })

  test('a missing column or a closed table is ERR_SOURCE with the cause, at once', async () => {
    for (const [options, message] of [
      [{ vector: 'embedding' }, /no column "embedding"/],
      [{ id: 'key' }, /no column "key"/],
      [{ vector: 'category' }, /not a fixed-size vector column/],
    ]) {
      const { error } = await failureOf(() => source(options).search(queries[0]))
      assertCode(error, 'ERR_SOURCE')
      assert.match(error.message, message)
    }
    const other = await db.createTable('closing', [{ id: 'a', vector: Array.from(queries[0]) }])
    const lanceSource = new LanceDbSource({ table: other, metric: 'euclidean' })
    assert.equal((await lanceSource.search(queries[0])).length, 1)
    other.close()
    const started = Date.now()
    for (const call of [() => lanceSource.search(queries[0]), () => lanceSource.vectors(['a'])]) {
      const { error } = await failureOf(call)
      assertCode(error, 'ERR_SOURCE')
      assert.match(error.message, /closed/)
      assert.ok(error.cause instanceof Error)
    }
    assert.ok(Date.now() - started < 2000)
  })

  test('with an HNSW index (IVF_HNSW_SQ) and refineFactor 5, recall@10 ≥ 0.9 and scores exact (1e-4)', async () => {
    await table.createIndex('vector', { config: lancedb.Index.hnswSq({ distanceType: 'cosine', numPartitions: 1 }) })
    // SQ-quantized distances pick the candidates: refining 5k of them by
    // their full vectors restores the recall, and makes the scores exact.
    const lanceSource = source({ refineFactor: 5 })
    let sum = 0
    for (const query of queries) {
      const hits = await lanceSource.search(query, { k: 10 })
      for (const hit of hits) assertClose(hit.score, contractScore('cosine', query, byId.get(hit.id).vector), 1e-4)
      sum += recall(hits, bruteForceTop('cosine', items, query, 10))
    }
    assert.ok(sum / queries.length >= 0.9, `recall@10 ${sum / queries.length}`)
    // LanceDB filters before the vector search: a selective filter still
    // gets k hits, all matching.
    const filtered = await source({ metadata: ['category'] }).search(queries[0], { k: 10, filter: { category: 'c1', price: { $lt: 20 } } })
    assert.equal(filtered.length, 10)
    for (const hit of filtered) assert.ok(hit.metadata.category === 'c1' && byId.get(hit.id).price < 20)
  })
})
