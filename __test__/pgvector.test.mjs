// hnsw-gnn/pgvector against a real PostgreSQL with pgvector (see
// __test__/postgres.mjs: HNSW_GNN_PG_URI, or a throwaway server from
// .tools/pg-venv; without either the file skips, unless
// HNSW_GNN_REQUIRE_PG=1). References: brute force in JS for rankings and
// scores, hnsw-gnn's own VectorDB for what a filter selects.
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { makeRng, nearbyQuery, recall, assertClose, assertCode, failureOf } from './helpers.mjs'
import { contractScore, bruteForceTop, constructionError } from './sources.mjs'
import { postgresOrSkip } from './postgres.mjs'

const require = createRequire(import.meta.url)
const { PgVectorSource } = require('../pgvector.js')

const { server, skip } = await postgresOrSkip()
const pg = skip ? null : require('pg')
const { VectorDB } = require('../index.js')

const METRICS = ['cosine', 'euclidean', 'dot']
const OPCLASS = { cosine: 'vector_cosine_ops', euclidean: 'vector_l2_ops', dot: 'vector_ip_ops' }
const N = 3000
const DIM = 24
const QUERIES = 25

// Names a careless quoting would break: quotes, spaces, a dot in a schema.
const SUFFIX = `${process.pid}_${Date.now()}`
const SCHEMA = `hnsw-gnn "test".${SUFFIX}`
const TABLE = `it"ems ${SUFFIX}`
const COLUMNS = { id: 'item "id"', vector: "em'bed ding", metadata: 'meta data' }

const quote = (name) => `"${name.replaceAll('"', '""')}"`
const TABLE_SQL = `${quote(SCHEMA)}.${quote(TABLE)}`
const vectorText = (v) => `[${Array.from(v).join(',')}]`

/** A pool whose queries (and those of its clients) are recorded, to see what a source sends. */
function recordingPool(pool) {
  const sent = []
  const record = (query) => sent.push(typeof query === 'string' ? { text: query, values: [] } : query)
  return {
    sent,
    query: (query) => (record(query), pool.query(query)),
    connect: async () => {
      const client = await pool.connect()
      return { query: (query) => (record(query), client.query(query)), release: (error) => client.release(error) }
    },
  }
}

/** Inserts `items` ({ id, vector, metadata }) in one statement per 500; ids cast to `idType`. */
async function load(pool, tableSql, items, idType) {
  for (let start = 0; start < items.length; start += 500) {
    const batch = items.slice(start, start + 500)
    await pool.query(
      `INSERT INTO ${tableSql} (${quote(COLUMNS.id)}, ${quote(COLUMNS.vector)}, ${quote(COLUMNS.metadata)})` +
        ` SELECT i::${idType}, v::vector, m::jsonb FROM unnest($1::text[], $2::text[], $3::text[]) AS u(i, v, m)`,
      [batch.map((item) => item.id), batch.map((item) => vectorText(item.vector)), batch.map((item) => (item.metadata === null ? null : JSON.stringify(item.metadata)))],
    )
  }
}

// ----------------------------------------------------------------- data --

const CATEGORIES = ['c0', 'c1', 'c2', 'c3', 'c4']

function indexedItems() {
  const rng = makeRng(1919)
  return Array.from({ length: N }, (_, i) => ({
    id: String(i + 1), // a bigint column: ids come back as strings
    vector: rng.gaussianVector(DIM),
    metadata: i % 20 === 0 ? null : { category: CATEGORIES[rng.int(5)], price: rng.int(100), info: { rating: 1 + rng.int(5) } },
  }))
}

// Filter data: every JSON type, arrays (also of arrays and objects), nested
// objects, missing keys, nulls, numbers written as 1 and 1.5, and strings
// whose UTF-16 and code-point orders differ ('\uffff' vs '𝒳').
const STRINGS = ['a', 'b', 'ab', 'B', '', 'zz', 'é', '𝒳', '\uffff', "x'); DROP TABLE t; --"]

function scalar(rng) {
  switch (rng.int(7)) {
    case 0:
      return null
    case 1:
      return rng.uniform() < 0.5
    case 2:
    case 3:
      return rng.int(4) - 1
    case 4:
      return rng.pick([1.5, 2.5, -0.5, 0, 1e-7])
    default:
      return rng.pick(STRINGS)
  }
}

function jsonValue(rng, depth) {
  const roll = rng.int(10)
  if (roll <= 6 || depth >= 2) return scalar(rng)
  if (roll <= 8) return Array.from({ length: rng.int(4) }, () => jsonValue(rng, depth + 1))
  const object = {}
  for (const key of ['x', 'y']) if (rng.uniform() < 0.7) object[key] = jsonValue(rng, depth + 1)
  return object
}

function filterMetadata(rng) {
  if (rng.uniform() < 0.05) return null
  const metadata = {}
  for (const key of ['a', 'b', 'c', 'tags']) if (rng.uniform() < 0.7) metadata[key] = jsonValue(rng, 0)
  if (rng.uniform() < 0.7) metadata.n = { x: rng.uniform() < 0.4 ? { y: jsonValue(rng, 1) } : jsonValue(rng, 1), y: jsonValue(rng, 1) }
  else if (rng.uniform() < 0.5) metadata.n = jsonValue(rng, 0)
  return metadata
}

const PATHS = ['a', 'b', 'c', 'tags', 'n', 'n.x', 'n.y', 'n.x.y', 'nope', 'tags.0']

function lookup(metadata, path) {
  let value = metadata ?? undefined
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.hasOwn(value, key)) return undefined
    value = value[key]
  }
  return value
}

/** Half the time a value some item stores at `path` (or one of its elements), so that filters match. */
function operand(rng, items, path) {
  if (rng.uniform() < 0.5) {
    const stored = lookup(rng.pick(items).metadata, path)
    if (stored !== undefined) return Array.isArray(stored) && stored.length > 0 && rng.uniform() < 0.6 ? rng.pick(stored) : stored
  }
  return jsonValue(rng, 0)
}

function randomCondition(rng, items, path) {
  if (rng.uniform() < 0.25) return operand(rng, items, path)
  const condition = {}
  for (let i = rng.uniform() < 0.25 ? 2 : 1; i > 0; i--) {
    const op = rng.pick(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin'])
    if (op === '$in' || op === '$nin') {
      condition[op] = Array.from({ length: rng.int(4) }, () => operand(rng, items, path))
    } else if (op.startsWith('$g') || op.startsWith('$l')) {
      const value = operand(rng, items, path)
      condition[op] = typeof value === 'number' || typeof value === 'string' ? value : rng.uniform() < 0.5 ? rng.int(8) / 2 - 2 : rng.pick(STRINGS)
    } else {
      condition[op] = operand(rng, items, path)
    }
  }
  return condition
}

function randomFilter(rng, items, depth = 0) {
  const filter = {}
  const clauses = rng.uniform() < 0.05 ? 0 : 1 + rng.int(2)
  for (let i = 0; i < clauses; i++) {
    if (depth < 3 && rng.uniform() < 0.3 - 0.1 * depth) {
      filter[rng.uniform() < 0.3 ? '$and' : '$or'] = Array.from({ length: 1 + rng.int(3) }, () => randomFilter(rng, items, depth + 1))
    } else {
      const path = rng.pick(PATHS)
      filter[path] = randomCondition(rng, items, path)
    }
  }
  return filter
}

// Named filters: every operator, bare values, dotted paths, arrays,
// missing fields, literal objects and arrays, nesting.
const NAMED_FILTERS = {
  'bare string': { a: 'b' },
  'bare number matches 1 and 1.0 alike': { a: 1 },
  'bare null matches only a stored null': { a: null },
  'bare true': { b: true },
  '$eq on array membership': { tags: { $eq: 'a' } },
  'literal array: whole-array equality': { tags: [] },
  'literal object: deep equality, any key order': { n: { y: 0, x: 1 } },
  'empty literal object': { 'n.x': {} },
  '$ne passes a missing field': { c: { $ne: 'a' } },
  '$gt on numbers': { a: { $gt: 0 } },
  '$gte and $lt on one field': { b: { $gte: -0.5, $lt: 1.5 } },
  '$lte on strings, code-point order': { c: { $lte: '\uffff' } },
  '$gt on strings beyond U+FFFF': { a: { $gt: 'é' } },
  '$lt elementwise on arrays': { tags: { $lt: 0 } },
  '$in mixed types': { a: { $in: ['a', 0, null, true, [1.5]] } },
  '$in []': { a: { $in: [] } },
  '$nin []': { a: { $nin: [] } },
  '$nin with an array operand': { tags: { $nin: [['a'], 'b'] } },
  'dotted path two deep': { 'n.x.y': { $in: ['a', 'b', 1] } },
  'dotted path does not index arrays': { 'tags.0': { $ne: 'zz' } },
  'missing field': { nope: { $gte: 0 } },
  '$or of $and': { $or: [{ $and: [{ a: { $gte: 0 } }, { b: { $ne: null } }] }, { c: 'zz' }] },
  '$and of $or': { $and: [{ $or: [{ a: 'a' }, { b: 'b' }] }, { $or: [{ c: { $nin: ['a'] } }, { tags: 1 }] }] },
  'empty filter': {},
  'one-armed $or of {}': { $or: [{}] },
  'an injection attempt as a value': { a: "x'); DROP TABLE t; --" },
  'an injection attempt as a field': { "x'); DROP TABLE t; --": { $ne: 1 } },
}

// ---------------------------------------------------------------- tests --

describe('PgVectorSource over a real PostgreSQL with pgvector', { skip }, () => {
  const items = indexedItems()
  const byId = new Map(items.map((item) => [item.id, item]))
  const rng = makeRng(77)
  const queries = Array.from({ length: QUERIES }, () => nearbyQuery(rng, items.map((item) => item.vector), 0.3))
  let pool
  const source = (options = {}) =>
    new PgVectorSource({ pool, table: [SCHEMA, TABLE], id: COLUMNS.id, vector: COLUMNS.vector, metadata: COLUMNS.metadata, metric: 'cosine', ...options })

  before(async () => {
    pool = new pg.Pool({ connectionString: server.uri, max: 4 })
    await pool.query('CREATE EXTENSION IF NOT EXISTS vector')
    await pool.query(`CREATE SCHEMA ${quote(SCHEMA)}`)
    await pool.query(`CREATE TABLE ${TABLE_SQL} (${quote(COLUMNS.id)} bigint PRIMARY KEY, ${quote(COLUMNS.vector)} vector(${DIM}), ${quote(COLUMNS.metadata)} jsonb)`)
    await load(pool, TABLE_SQL, items, 'bigint')
    // One HNSW index per metric on the same column: the planner takes the
    // one whose operator the ORDER BY uses.
    for (const metric of METRICS) {
      await pool.query(`CREATE INDEX ${quote(`by ${metric}`)} ON ${TABLE_SQL} USING hnsw (${quote(COLUMNS.vector)} ${OPCLASS[metric]})`)
    }
    await pool.query(`ANALYZE ${TABLE_SQL}`)
  })

  after(async () => {
    if (pool) {
      await pool.query(`DROP SCHEMA IF EXISTS ${quote(SCHEMA)} CASCADE`)
      await pool.end()
    }
    await server?.stop()
  })

  for (const metric of METRICS) {
    test(`${metric}: recall@10 ≥ 0.9 against brute force, scores equal the metric's score (1e-4), best first`, async (t) => {
      const pgSource = source({ metric })
      let sum = 0
      for (const query of queries) {
        const hits = await pgSource.search(query, { k: 10 })
        assert.equal(hits.length, 10)
        for (let i = 0; i < hits.length; i++) {
          const hit = hits[i]
          assert.equal(typeof hit.id, 'string')
          assertClose(hit.score, contractScore(metric, query, byId.get(hit.id).vector), 1e-4, `${metric} score of ${hit.id}`)
          if (i > 0) assert.ok(hits[i - 1].score >= hit.score - 1e-6, 'best first')
          assert.deepEqual(hit.metadata, byId.get(hit.id).metadata ?? undefined)
        }
        sum += recall(hits, bruteForceTop(metric, items, query, 10))
      }
      t.diagnostic(`${metric} recall@10 ${(sum / queries.length).toFixed(3)}`)
      assert.ok(sum / queries.length >= 0.9, `recall@10 ${sum / queries.length}`)
      assert.equal(pgSource.dimensions, DIM, 'read from the column type')
    })

    test(`${metric}: k = 100 and 200 return k rows (hnsw.ef_search raised past its default 40)`, async () => {
      const pgSource = source({ metric })
      for (const k of [100, 200]) {
        const hits = await pgSource.search(queries[0], { k })
        assert.equal(hits.length, k)
        assert.equal(new Set(hits.map((hit) => hit.id)).size, k, 'distinct ids')
        assert.ok(recall(hits, bruteForceTop(metric, items, queries[0], k)) >= 0.9)
      }
    })
  }

  test('without the raised ef_search pgvector returns only 40 rows (why the source sets it)', async () => {
    const { rows } = await pool.query(`SELECT 1 FROM ${TABLE_SQL} ORDER BY ${quote(COLUMNS.vector)} <=> $1::vector LIMIT 100`, [vectorText(queries[0])])
    assert.equal(rows.length, 40)
  })

  test("the search SQL is served by the metric's HNSW index, in one transaction with SET LOCAL hnsw.ef_search", async () => {
    for (const metric of METRICS) {
      const recorder = recordingPool(pool)
      const pgSource = new PgVectorSource({ pool: recorder, table: [SCHEMA, TABLE], id: COLUMNS.id, vector: COLUMNS.vector, metric })
      await pgSource.search(queries[1], { k: 150 })
      const texts = recorder.sent.map((query) => query.text)
      const select = recorder.sent.find((query) => query.text.startsWith('SELECT') && query.text.includes('ORDER BY'))
      assert.deepEqual(texts.slice(-3), ['BEGIN; SET LOCAL hnsw.ef_search = 150', select.text, 'COMMIT'])
      assert.ok(!select.text.includes(vectorText(queries[1]).slice(0, 12)), 'the query vector is a parameter')
      const { rows } = await pool.query({ text: `EXPLAIN ${select.text}`, values: select.values })
      const plan = rows.map((row) => row['QUERY PLAN']).join('\n')
      assert.match(plan, new RegExp(`Index Scan using "by ${metric}"`), plan)
    }
  })

  test('vectors(ids) returns the stored vectors exactly (float32), in one query; unknown ids are absent', async () => {
    const recorder = recordingPool(pool)
    const pgSource = source({ pool: recorder })
    const wanted = items.slice(0, 60).map((item) => item.id)
    const found = await pgSource.vectors([...wanted, '0', '-5', 'abc', '', '99999999999999999999', 'x\0y', wanted[0]])
    assert.deepEqual([...found.keys()].sort(), [...wanted].sort())
    for (const id of wanted) {
      assert.ok(found.get(id) instanceof Float32Array)
      assert.deepEqual(found.get(id), byId.get(id).vector)
    }
    assert.equal(recorder.sent.filter((query) => query.text.includes('ANY($1)')).length, 1)
    assert.deepEqual(await pgSource.vectors([]), new Map())
  })

  test('a filtered search over the HNSW index returns only matching items (pgvector filters after the scan)', async () => {
    const filter = { category: { $in: ['c1', 'c2'] }, 'info.rating': { $gte: 3 } }
    const pgSource = source()
    for (const query of queries.slice(0, 5)) {
      const hits = await pgSource.search(query, { k: 10, filter })
      assert.ok(hits.length > 0 && hits.length <= 10)
      for (const hit of hits) {
        const { metadata } = byId.get(hit.id)
        assert.ok(['c1', 'c2'].includes(metadata.category) && metadata.info.rating >= 3, `${hit.id}: ${JSON.stringify(metadata)}`)
      }
    }
  })

  describe('filters select what hnsw-gnn selects', () => {
    // A small table without a vector index: Postgres scans it whole, so the
    // search is exact and its ids are exactly the matching items.
    const FILTER_ITEMS = 600
    const filterRng = makeRng(2024)
    const filterItems = Array.from({ length: FILTER_ITEMS }, (_, i) => ({ id: `f${i}`, vector: filterRng.gaussianVector(8), metadata: filterMetadata(filterRng) }))
    const filterTable = `${quote(SCHEMA)}.${quote('filter "items"')}`
    const query = filterRng.gaussianVector(8)
    let pgSource
    let reference

    before(async () => {
      await pool.query(`CREATE TABLE ${filterTable} (${quote(COLUMNS.id)} text PRIMARY KEY, ${quote(COLUMNS.vector)} vector(8), ${quote(COLUMNS.metadata)} jsonb)`)
      await load(pool, filterTable, filterItems, 'text')
      pgSource = new PgVectorSource({ pool, table: [SCHEMA, 'filter "items"'], ...COLUMNS, metric: 'euclidean' })
      reference = new VectorDB({ dimensions: 8, metric: 'euclidean' })
      await reference.insertBatch(filterItems)
    })

    async function sameSelection(filter, what) {
      const expected = (await reference.search(query, { k: FILTER_ITEMS, filter, efSearch: 10_000, rerank: false })).hits.map((hit) => hit.id).sort()
      const actual = (await pgSource.search(query, { k: FILTER_ITEMS, filter })).map((hit) => hit.id).sort()
      assert.deepEqual(actual, expected, `${what}: ${JSON.stringify(filter)}`)
      return expected.length
    }

    test('named filters: every operator, dotted paths, arrays, missing fields, nesting', async () => {
      const counts = {}
      for (const [name, filter] of Object.entries(NAMED_FILTERS)) counts[name] = await sameSelection(filter, name)
      // The filters are not vacuous: most select some but not all items.
      const discriminating = Object.values(counts).filter((n) => n > 0 && n < FILTER_ITEMS).length
      assert.ok(discriminating >= Object.keys(counts).length - 8, JSON.stringify(counts))
    })

    test('150 random filters, nested up to 3 levels', async () => {
      const filterRng2 = makeRng(31337)
      let discriminating = 0
      for (let i = 0; i < 150; i++) {
        const n = await sameSelection(randomFilter(filterRng2, filterItems), `random filter ${i}`)
        if (n > 0 && n < FILTER_ITEMS) discriminating++
      }
      assert.ok(discriminating >= 50, `${discriminating} of 150 random filters select some but not all`)
    })

    test('32 levels of $and/$or and of operand nesting are accepted, 33 refused with hnsw-gnn’s message', async () => {
      const nested = (levels) => {
        let filter = { a: 1 }
        for (let i = 0; i < levels; i++) filter = i % 2 ? { $and: [filter, {}] } : { $or: [filter, { b: 'zz' }] }
        return filter
      }
      await sameSelection(nested(32), '32 levels')
      let deep = 1
      for (let i = 0; i < 32; i++) deep = [deep]
      await sameSelection({ a: { $eq: deep } }, '32-deep operand')
      for (const filter of [nested(33), { a: { $in: [[deep]] } }]) {
        const { error } = await failureOf(() => pgSource.search(query, { filter }))
        const { error: ours } = await failureOf(() => reference.search(query, { filter }))
        assertCode(error, 'ERR_INVALID_FILTER')
        assert.equal(error.message, ours.message)
      }
    })

    test('malformed filters are ERR_INVALID_FILTER with hnsw-gnn’s message, before any SQL', async () => {
      const recorder = recordingPool(pool)
      const fresh = new PgVectorSource({ pool: recorder, table: [SCHEMA, 'filter "items"'], ...COLUMNS, metric: 'euclidean' })
      const malformed = [
        { a: { $foo: 1 } },
        { $not: [{ a: 1 }] },
        { a: { $gt: true } },
        { a: { $in: 'x' } },
        { $and: [] },
        { $or: [{ a: 1 }, 5] },
        { a: { $gt: 1, b: 2 } },
        { '': 1 },
        { 'a..b': 1 },
        { a: NaN },
        { a: 1n },
        { a: new Map() },
        'a string',
        [],
      ]
      for (const filter of malformed) {
        const { error } = await failureOf(() => fresh.search(query, { filter }))
        const { error: ours } = await failureOf(() => reference.search(query, { filter }))
        assertCode(error, 'ERR_INVALID_FILTER', JSON.stringify(String(filter)))
        assert.equal(ours.code, 'ERR_INVALID_FILTER')
        assert.equal(error.message, ours.message)
      }
      assert.deepEqual(recorder.sent, [])
    })

    after(() => reference?.close())
  })

  test('hostile values, fields and names are data, never SQL: the table survives', async () => {
    const pgSource = source()
    const hostile = "x'); DROP TABLE t; --"
    for (const filter of [{ category: hostile }, { category: { $in: [hostile, `${hostile}"`] } }, { category: { $gt: hostile } }, { [hostile]: { $ne: 1 } }, { [`info.${hostile}`]: 1 }]) {
      await pgSource.search(queries[0], { k: 5, filter })
    }
    const wrongTable = new PgVectorSource({ pool, table: [SCHEMA, `${TABLE}"; DROP TABLE ${TABLE_SQL}; --`], id: 'id', vector: 'v', metric: 'cosine' })
    assertCode((await failureOf(() => wrongTable.search(queries[0]))).error, 'ERR_SOURCE')
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM ${TABLE_SQL}`)
    assert.equal(rows[0].n, N)
  })

  test('a query of the wrong dimension is ERR_DIMENSION_MISMATCH, sent to no engine', async () => {
    const recorder = recordingPool(pool)
    const pgSource = source({ pool: recorder })
    await pgSource.search(queries[0], { k: 1 })
    const before = recorder.sent.length
    const { error } = await failureOf(() => pgSource.search(new Float32Array(DIM + 1).fill(1)))
    assertCode(error, 'ERR_DIMENSION_MISMATCH')
    assert.match(error.message, new RegExp(`${DIM + 1} dimensions.*${DIM}`))
    assert.equal(recorder.sent.length, before)
    // Also on the first call, which learns the dimensions first.
    assertCode((await failureOf(() => source().search([1, 2, 3]))).error, 'ERR_DIMENSION_MISMATCH')
  })

  test('NaN, Infinity, an empty query and a zero vector under cosine are ERR_INVALID_VECTOR, before any SQL', async () => {
    const recorder = recordingPool(pool)
    const pgSource = source({ pool: recorder })
    const nan = Float32Array.from(queries[0])
    nan[3] = NaN
    for (const query of [nan, [...queries[0].slice(1), Infinity], [], new Float32Array(DIM)]) {
      assertCode((await failureOf(() => pgSource.search(query))).error, 'ERR_INVALID_VECTOR')
    }
    assert.deepEqual(recorder.sent, [])
  })

  test('bad options are ERR_INVALID_ARGUMENT TypeErrors', async () => {
    const good = { pool, table: TABLE, id: 'id', vector: 'v', metric: 'cosine' }
    for (const options of [
      undefined,
      { ...good, pool: undefined },
      { ...good, pool: {} },
      { ...good, metric: 'l2' },
      { ...good, table: '' },
      { ...good, table: 'a.b.c' },
      { ...good, vector: 7 },
      { ...good, id: 'a\0b' },
      { ...good, metadata: null },
      { ...good, efSearch: 10 },
    ]) {
      const error = constructionError(PgVectorSource, options)
      assert.ok(error instanceof TypeError, JSON.stringify(options && Object.keys(options)))
      assertCode(error, 'ERR_INVALID_ARGUMENT')
    }
    const pgSource = source()
    for (const [query, options] of [
      ['not a vector', {}],
      [queries[0], { k: 0 }],
      [queries[0], { k: 2.5 }],
      [queries[0], { k: 100_001 }],
      [queries[0], { limit: 5 }],
      [queries[0], 'k=5'],
    ]) {
      const { error } = await failureOf(() => pgSource.search(query, options))
      assert.ok(error instanceof TypeError)
      assertCode(error, 'ERR_INVALID_ARGUMENT')
    }
    for (const ids of ['1', [1, 2], null]) assertCode((await failureOf(() => pgSource.vectors(ids))).error, 'ERR_INVALID_ARGUMENT')
  })

  test('a filter without a metadata column is ERR_INVALID_FILTER', async () => {
    const pgSource = source({ metadata: undefined })
    assertCode((await failureOf(() => pgSource.search(queries[0], { filter: { category: 'c1' } }))).error, 'ERR_INVALID_FILTER')
  })

  test('a missing table or column is ERR_SOURCE naming it, with the engine’s error as cause', async () => {
    const cases = [
      [{ table: [SCHEMA, 'no such table'] }, /no such table/],
      [{ vector: 'no such column' }, /no such column/],
      [{ id: 'no id' }, /no id/],
      [{ metadata: 'no metadata' }, /no metadata/],
      [{ vector: COLUMNS.metadata }, /jsonb, not a pgvector vector/],
      [{ metadata: COLUMNS.id }, /bigint, not jsonb/],
      [{ table: 'public.nowhere' }, /table public\.nowhere does not exist/],
    ]
    for (const [options, message] of cases) {
      const { error } = await failureOf(() => source(options).search(queries[0]))
      assertCode(error, 'ERR_SOURCE')
      assert.match(error.message, message)
      if (!options.table) assert.ok(error.message.includes(`${SCHEMA}.${TABLE}`), error.message)
      assert.ok(error.cause instanceof Error)
    }
    // An engine error after the catalog check: the column's type changed under it.
    const table = `${quote(SCHEMA)}.${quote('changing')}`
    await pool.query(`CREATE TABLE ${table} (id int, v vector(3))`)
    const changing = new PgVectorSource({ pool, table: [SCHEMA, 'changing'], id: 'id', vector: 'v', metric: 'dot' })
    assert.deepEqual(await changing.search([1, 2, 3]), [])
    await pool.query(`ALTER TABLE ${table} RENAME COLUMN v TO w`)
    const { error } = await failureOf(() => changing.search([1, 2, 3]))
    assertCode(error, 'ERR_SOURCE')
    assert.match(error.message, /changing.*column v.*failed: column "v" does not exist/)
    assert.equal(error.cause.code, '42703', 'the pg error, with its SQLSTATE')
  })

  test('a stored zero vector (no cosine distance: pgvector says NaN) is no candidate; a query beyond float32 is ERR_INVALID_VECTOR', async () => {
    const table = `${quote(SCHEMA)}.${quote('zeros')}`
    await pool.query(`CREATE TABLE ${table} (id int, v vector(3))`)
    await pool.query(`INSERT INTO ${table} VALUES (1, '[0,0,0]'), (2, '[1,0,0]'), (3, '[0,1,0]')`)
    const zeros = new PgVectorSource({ pool, table: [SCHEMA, 'zeros'], id: 'id', vector: 'v', metric: 'cosine' })
    const hits = await zeros.search([1, 0.5, 0], { k: 3 })
    assert.deepEqual(hits.map((hit) => hit.id), ['2', '3'])
    for (const hit of hits) assert.ok(Number.isFinite(hit.score))
    assertCode((await failureOf(() => zeros.search([1e39, 0, 0]))).error, 'ERR_INVALID_VECTOR')
  })

  test('a closed pool, or a server that is not there, is ERR_SOURCE at once, never a hang', async () => {
    const closing = new pg.Pool({ connectionString: server.uri, max: 1 })
    const pgSource = source({ pool: closing })
    assert.equal((await pgSource.search(queries[0], { k: 3 })).length, 3)
    await closing.end()
    for (const call of [() => pgSource.search(queries[0]), () => pgSource.vectors(['1'])]) {
      const started = Date.now()
      const { error } = await failureOf(call)
      assertCode(error, 'ERR_SOURCE')
      assert.ok(error.cause instanceof Error)
      assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`)
    }
    const nowhere = new pg.Pool({ host: '/nonexistent/socket/dir', user: 'postgres', database: 'postgres', max: 1 })
    const started = Date.now()
    const { error } = await failureOf(() => source({ pool: nowhere }).search(queries[0]))
    assertCode(error, 'ERR_SOURCE')
    assert.ok(Date.now() - started < 2000)
    await nowhere.end()
  })
})
