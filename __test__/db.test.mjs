// Every method and getter of VectorDB, plus simdInfo().
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pkg from '../index.js'
import { makeRng, bruteForce, exactScore, assertClose, assertSameRanking, tick, UUID_V4 } from './helpers.mjs'

const { VectorDB, simdInfo } = pkg

const METRICS = ['cosine', 'euclidean', 'dot']

function randomItems(n, dim, seed, withMetadata = true) {
  const rng = makeRng(seed)
  return Array.from({ length: n }, (_, i) => ({
    id: `item-${i}`,
    vector: rng.gaussianVector(dim),
    metadata: withMetadata ? { i, even: i % 2 === 0 } : undefined,
  }))
}

describe('constructor and getters', () => {
  test('defaults: cosine metric, empty, dimensions as given', () => {
    const db = new VectorDB({ dimensions: 8 })
    assert.equal(db.metric, 'cosine')
    assert.equal(db.size, 0)
    assert.equal(db.dimensions, 8)
  })

  for (const metric of METRICS) {
    test(`metric getter reports '${metric}'`, () => {
      const db = new VectorDB({ dimensions: 3, metric })
      assert.equal(db.metric, metric)
    })
  }

  test('accepts every option (m, efConstruction, efSearch, recentSearches) and works with them', async () => {
    const db = new VectorDB({ dimensions: 4, metric: 'euclidean', m: 4, efConstruction: 20, efSearch: 5, recentSearches: 3 })
    assert.equal(db.dimensions, 4)
    assert.equal(db.metric, 'euclidean')
    const items = randomItems(100, 4, 7)
    await db.insertBatch(items)
    assert.equal(db.size, 100)
    const res = db.searchSync(items[3].vector, { k: 1 })
    assert.equal(res.hits[0].id, 'item-3')
  })

  test('extreme but valid dimensions (1 and 65536) are accepted', async () => {
    const one = new VectorDB({ dimensions: 1, metric: 'euclidean' })
    await one.insert({ id: 'a', vector: [2] })
    assert.equal(one.searchSync([2.1]).hits[0].id, 'a')
    const big = new VectorDB({ dimensions: 65536 })
    assert.equal(big.dimensions, 65536)
  })

  test('size counts live items through insert, upsert, delete', async () => {
    const db = new VectorDB({ dimensions: 2 })
    assert.equal(db.size, 0)
    await db.insert({ id: 'a', vector: [1, 0] })
    await db.insertBatch([{ id: 'b', vector: [0, 1] }, { vector: [1, 1] }])
    assert.equal(db.size, 3)
    await db.upsert({ id: 'a', vector: [1, 2] })
    assert.equal(db.size, 3)
    await db.upsert({ id: 'c', vector: [2, 1] })
    assert.equal(db.size, 4)
    await db.update('b', { vector: [0.5, 1] })
    assert.equal(db.size, 4)
    assert.equal(await db.delete('a'), true)
    assert.equal(db.size, 3)
  })
})

describe('insert, get, getSync', () => {
  test('insert resolves to the given id and stores vector (Float32Array) and metadata', async () => {
    const db = new VectorDB({ dimensions: 3, metric: 'euclidean' })
    const vector = new Float32Array([0.1, -2.5, 3])
    const id = await db.insert({ id: 'sku-1', vector, metadata: { color: 'red' } })
    assert.equal(id, 'sku-1')
    const item = await db.get('sku-1')
    assert.equal(item.id, 'sku-1')
    assert.ok(item.vector instanceof Float32Array)
    assert.deepEqual(item.vector, vector)
    assert.deepEqual(item.metadata, { color: 'red' })
  })

  test('insert accepts number[] vectors (stored as float32)', async () => {
    const db = new VectorDB({ dimensions: 3, metric: 'euclidean' })
    await db.insert({ id: 'n', vector: [0.1, 0.2, 0.3] })
    const item = db.getSync('n')
    assert.deepEqual(item.vector, new Float32Array([0.1, 0.2, 0.3]))
  })

  test('insert without id generates distinct UUID v4 ids', async () => {
    const db = new VectorDB({ dimensions: 2 })
    const ids = await Promise.all(Array.from({ length: 200 }, (_, i) => db.insert({ vector: [1, i + 1] })))
    for (const id of ids) assert.match(id, UUID_V4)
    assert.equal(new Set(ids).size, ids.length)
    const batchIds = await db.insertBatch(Array.from({ length: 200 }, (_, i) => ({ vector: [i + 1, 1] })))
    for (const id of batchIds) assert.match(id, UUID_V4)
    assert.equal(new Set([...ids, ...batchIds]).size, 400)
    assert.equal((await db.get(ids[0])).id, ids[0])
  })

  test('cosine stores vectors normalised to unit length', async () => {
    const db = new VectorDB({ dimensions: 3, metric: 'cosine' })
    await db.insert({ id: 'v', vector: [3, 0, 4] })
    const { vector } = db.getSync('v')
    assertClose(vector[0], 0.6, 1e-6)
    assertClose(vector[1], 0, 1e-6)
    assertClose(vector[2], 0.8, 1e-6)
  })

  test('euclidean and dot store vectors unchanged', async () => {
    for (const metric of ['euclidean', 'dot']) {
      const db = new VectorDB({ dimensions: 3, metric })
      await db.insert({ id: 'v', vector: [3, 0, 4] })
      assert.deepEqual(db.getSync('v').vector, new Float32Array([3, 0, 4]))
    }
  })

  test('metadata round-trips as plain objects: nested values, arrays, numbers, booleans, null', async () => {
    const db = new VectorDB({ dimensions: 2 })
    const metadata = {
      title: 'Trail runner',
      price: 49.99,
      count: 3,
      negative: -17,
      large: 2 ** 53,
      tiny: 1e-300,
      inStock: true,
      discontinued: false,
      note: null,
      tags: ['outdoor', 'running', 42, true, null, { nested: ['x'] }],
      dims: { w: 10, h: { value: 20, unit: 'cm' } },
      empty: {},
      emptyList: [],
      unicode: 'naïve café – 日本 🏃',
    }
    await db.insert({ id: 'm', vector: [1, 2], metadata })
    const fromGet = await db.get('m')
    assert.deepEqual(fromGet.metadata, metadata)
    assert.deepEqual(db.getSync('m').metadata, metadata)
    assert.equal(Object.getPrototypeOf(fromGet.metadata), Object.prototype)
    const hit = db.searchSync([1, 2], { k: 1 }).hits[0]
    assert.deepEqual(hit.metadata, metadata)
  })

  test('missing or null metadata is reported as null', async () => {
    const db = new VectorDB({ dimensions: 2 })
    await db.insert({ id: 'none', vector: [1, 0] })
    await db.insert({ id: 'null', vector: [0, 1], metadata: null })
    assert.equal(db.getSync('none').metadata, null)
    assert.equal((await db.get('null')).metadata, null)
    for (const hit of db.searchSync([1, 1]).hits) assert.equal(hit.metadata, null)
  })

  test('stored metadata is a copy: mutating the input object afterwards changes nothing', async () => {
    const db = new VectorDB({ dimensions: 2 })
    const metadata = { a: { b: 1 } }
    await db.insert({ id: 'x', vector: [1, 0], metadata })
    metadata.a.b = 2
    assert.deepEqual(db.getSync('x').metadata, { a: { b: 1 } })
    const got = db.getSync('x')
    got.metadata.a.b = 3
    assert.deepEqual(db.getSync('x').metadata, { a: { b: 1 } })
  })

  test('get and getSync of an unknown id return null', async () => {
    const db = new VectorDB({ dimensions: 2 })
    await db.insert({ id: 'a', vector: [1, 0] })
    assert.equal(await db.get('nope'), null)
    assert.equal(db.getSync('nope'), null)
  })

  test('get and getSync agree', async () => {
    const db = new VectorDB({ dimensions: 4, metric: 'cosine' })
    const items = randomItems(20, 4, 3)
    await db.insertBatch(items)
    for (const { id } of items) assert.deepEqual(await db.get(id), db.getSync(id))
  })
})

describe('insertBatch', () => {
  test('resolves to ids in input order, mixing given and generated ids', async () => {
    const db = new VectorDB({ dimensions: 3 })
    const ids = await db.insertBatch([
      { id: 'first', vector: [1, 0, 0] },
      { vector: new Float32Array([0, 1, 0]), metadata: { k: 1 } },
      { id: 'third', vector: [0, 0, 1], metadata: { k: 3 } },
    ])
    assert.equal(ids.length, 3)
    assert.equal(ids[0], 'first')
    assert.match(ids[1], UUID_V4)
    assert.equal(ids[2], 'third')
    assert.deepEqual(db.getSync(ids[1]).metadata, { k: 1 })
    assert.deepEqual(db.getSync('third').metadata, { k: 3 })
    assert.equal(db.size, 3)
  })

  test('an empty batch resolves to [] and stores nothing', async () => {
    const db = new VectorDB({ dimensions: 3 })
    assert.deepEqual(await db.insertBatch([]), [])
    assert.equal(db.size, 0)
  })

  test('every batch item is findable afterwards', async () => {
    const db = new VectorDB({ dimensions: 8, metric: 'euclidean' })
    const items = randomItems(1000, 8, 11)
    const ids = await db.insertBatch(items)
    assert.deepEqual(ids, items.map((x) => x.id))
    for (const item of items) {
      const stored = db.getSync(item.id)
      assert.deepEqual(stored.vector, item.vector)
      assert.deepEqual(stored.metadata, item.metadata)
    }
  })

  test('the flat form { ids, vectors, metadata } stores what the object form stores, and reopens the same', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'hnsw-gnn-flat-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    for (const metric of METRICS) {
      const items = randomItems(500, 8, 14)
      const vectors = new Float32Array(500 * 8)
      items.forEach((item, i) => vectors.set(item.vector, i * 8))
      const path = join(dir, `${metric}.hgnn`)
      const flat = new VectorDB({ dimensions: 8, metric, path })
      const objects = new VectorDB({ dimensions: 8, metric })
      const flatIds = await flat.insertBatch({ ids: items.map((x) => x.id), vectors, metadata: items.map((x) => x.metadata) })
      assert.deepEqual(flatIds, await objects.insertBatch(items))
      // The caller's array is copied, not kept: changing it changes nothing.
      vectors.fill(7)
      await flat.close()
      const reopened = await VectorDB.open(path)
      for (const item of items) {
        const expected = objects.getSync(item.id)
        assert.deepEqual(reopened.getSync(item.id), expected, `${metric}: ${item.id}`)
      }
      const query = items[3].vector
      assert.deepEqual(
        reopened.searchSync(query, { k: 5, efSearch: 600 }).hits.map((h) => h.id),
        bruteForce(metric, items, query, 5).map((h) => h.id),
      )
      await reopened.close()
    }
  })

  test('the flat form: ids and metadata are optional; bad shapes are refused and store nothing', async () => {
    const db = new VectorDB({ dimensions: 2, metric: 'euclidean' })
    const ids = await db.insertBatch({ vectors: new Float32Array([1, 2, 3, 4]) })
    assert.equal(ids.length, 2)
    ids.forEach((id) => assert.match(id, UUID_V4))
    const refusals = [
      [{ vectors: new Float32Array(3) }, 'ERR_DIMENSION_MISMATCH'],
      [{ ids: ['x'], vectors: new Float32Array([1, 2, 3, 4]) }, 'ERR_INVALID_ARGUMENT'],
      [{ vectors: new Float32Array([1, 2]), metadata: [] }, 'ERR_INVALID_ARGUMENT'],
      [{ vectors: new Float32Array([1, 2]), metadata: ['red'] }, 'ERR_INVALID_ARGUMENT'],
      [{ vectors: [1, 2] }, 'ERR_INVALID_ARGUMENT'],
      [{ ids: ['x'] }, 'ERR_INVALID_ARGUMENT'],
      [{ vectors: new Float32Array([1, 2]), colour: 'red' }, 'ERR_INVALID_ARGUMENT'],
      [{ vectors: new Float32Array([1, 2, 1, NaN]) }, 'ERR_INVALID_VECTOR'],
      [{ ids: ['y', ids[0]], vectors: new Float32Array([1, 2, 3, 4]) }, 'ERR_DUPLICATE_ID'],
      [{ ids: ['y', 'y'], vectors: new Float32Array([1, 2, 3, 4]) }, 'ERR_DUPLICATE_ID'],
    ]
    for (const [items, code] of refusals) {
      await assert.rejects(db.insertBatch(items), (e) => e.code === code, JSON.stringify(Object.keys(items)))
      assert.equal(db.size, 2)
    }
    assert.equal(db.getSync('y'), null)
  })

  async function progressCalls(n) {
    const db = new VectorDB({ dimensions: 8, metric: 'euclidean', efConstruction: 40 })
    const calls = []
    const ids = await db.insertBatch(randomItems(n, 8, 12, false), { onProgress: (done, total) => calls.push([done, total]) })
    // The last call may arrive just after the promise resolves.
    await tick()
    assert.equal(ids.length, n)
    return calls
  }

  test('onProgress reports done within 1..total, a constant total, and reaches done === total', async () => {
    const calls = await progressCalls(6000)
    assert.ok(calls.length >= 2, `expected several progress calls, got ${calls.length}`)
    for (const [done, total] of calls) {
      assert.equal(total, 6000)
      assert.ok(Number.isInteger(done) && done >= 1 && done <= total, `bad done ${done}`)
    }
    assert.equal(new Set(calls.map((c) => c[0])).size, calls.length, 'no value of done is reported twice')
    assert.ok(calls.some(([done]) => done === 6000), 'a call with done === total')
  })

  test(
    'onProgress calls arrive with strictly increasing done, the last one with done === total',
    async () => {
      for (let round = 0; round < 4; round++) {
        const calls = await progressCalls(6000)
        for (let i = 1; i < calls.length; i++) {
          assert.ok(calls[i][0] > calls[i - 1][0], `done not increasing: ${calls.map((c) => c[0]).join(',')}`)
        }
        assert.deepEqual(calls.at(-1), [6000, 6000])
      }
    },
  )

  test('onProgress ends with done === total for a small batch', async () => {
    const db = new VectorDB({ dimensions: 2 })
    const calls = []
    await db.insertBatch(randomItems(10, 2, 13), { onProgress: (done, total) => calls.push([done, total]) })
    await tick()
    assert.ok(calls.length >= 1)
    assert.deepEqual(calls.at(-1), [10, 10])
  })

  test(
    'onProgress ends with done === total for a one-item batch',
    async () => {
      const db = new VectorDB({ dimensions: 2 })
      const calls = []
      await db.insertBatch([{ vector: [1, 2] }], { onProgress: (done, total) => calls.push([done, total]) })
      await tick()
      assert.deepEqual(calls.at(-1), [1, 1])
    },
  )

  // With efSearch ≥ size the beam search visits every node reachable from
  // the entry point, so an item it cannot find is cut off from the graph.
  async function unreachableItems(build, rounds, n) {
    const lost = []
    for (let round = 0; round < rounds; round++) {
      const db = new VectorDB({ dimensions: 16, metric: 'cosine' })
      const items = randomItems(n, 16, 500 + round, false)
      await build(db, items)
      for (const item of items) {
        const hit = db.searchSync(item.vector, { k: 1, efSearch: n + 1 }).hits[0]
        if (hit.id !== item.id) lost.push(`round ${round}: ${item.id}`)
      }
    }
    return lost
  }

  test('every item inserted one by one is reachable: an exhaustive search finds it as its own nearest neighbour', async () => {
    const lost = await unreachableItems(async (db, items) => {
      for (const item of items) await db.insert(item)
    }, 2, 1000)
    assert.deepEqual(lost, [])
  })

  test(
    'every item of an insertBatch is reachable: an exhaustive search finds it as its own nearest neighbour',
    async () => {
      const lost = await unreachableItems((db, items) => db.insertBatch(items), 5, 1000)
      assert.deepEqual(lost, [])
    },
  )

  test('options may be omitted, null or have no onProgress', async () => {
    const db = new VectorDB({ dimensions: 2 })
    await db.insertBatch([{ vector: [1, 2] }])
    await db.insertBatch([{ vector: [1, 3] }], null)
    await db.insertBatch([{ vector: [1, 4] }], undefined)
    await db.insertBatch([{ vector: [1, 5] }], {})
    assert.equal(db.size, 4)
  })
})

describe('upsert', () => {
  test('inserts a new id', async () => {
    const db = new VectorDB({ dimensions: 2, metric: 'euclidean' })
    assert.equal(await db.upsert({ id: 'u', vector: [1, 2], metadata: { v: 1 } }), 'u')
    assert.equal(db.size, 1)
    assert.deepEqual(db.getSync('u'), { id: 'u', vector: new Float32Array([1, 2]), metadata: { v: 1 } })
  })

  test('without id inserts under a generated UUID v4', async () => {
    const db = new VectorDB({ dimensions: 2 })
    const id = await db.upsert({ vector: [1, 2] })
    assert.match(id, UUID_V4)
    assert.equal(db.size, 1)
  })

  test('replaces vector and metadata of an existing id, keeping one item', async () => {
    const db = new VectorDB({ dimensions: 2, metric: 'euclidean' })
    await db.insertBatch([
      { id: 'u', vector: [0, 0], metadata: { v: 1 } },
      { id: 'other', vector: [5, 5] },
    ])
    assert.equal(await db.upsert({ id: 'u', vector: [10, 10], metadata: { v: 2 } }), 'u')
    assert.equal(db.size, 2)
    assert.deepEqual(db.getSync('u'), { id: 'u', vector: new Float32Array([10, 10]), metadata: { v: 2 } })
    const near = db.searchSync([10, 10], { k: 2 }).hits
    assert.equal(near[0].id, 'u')
    assert.equal(near[0].distance, 0)
    // The old position no longer returns the item at its old distance.
    const old = db.searchSync([0, 0], { k: 2 }).hits
    assert.deepEqual(old.map((h) => h.id), ['other', 'u'])
    assert.equal(old[1].distance, 200)
  })

  test('replacing without metadata leaves the item without metadata', async () => {
    const db = new VectorDB({ dimensions: 2 })
    await db.insert({ id: 'u', vector: [1, 0], metadata: { v: 1 } })
    await db.upsert({ id: 'u', vector: [0, 1] })
    assert.equal(db.getSync('u').metadata, null)
  })
})

describe('update', () => {
  async function fixture() {
    const db = new VectorDB({ dimensions: 2, metric: 'euclidean' })
    await db.insertBatch([
      { id: 'a', vector: [0, 0], metadata: { name: 'a', n: 1 } },
      { id: 'b', vector: [3, 3], metadata: { name: 'b' } },
    ])
    return db
  }

  test('vector only: changes the vector and keeps the metadata', async () => {
    const db = await fixture()
    assert.equal(await db.update('a', { vector: [7, 7] }), undefined)
    assert.deepEqual(db.getSync('a'), { id: 'a', vector: new Float32Array([7, 7]), metadata: { name: 'a', n: 1 } })
    assert.equal(db.size, 2)
    const hit = db.searchSync([7, 7], { k: 1 }).hits[0]
    assert.equal(hit.id, 'a')
    assert.equal(hit.distance, 0)
    assert.deepEqual(hit.metadata, { name: 'a', n: 1 })
  })

  test('vector as Float32Array works the same', async () => {
    const db = await fixture()
    await db.update('a', { vector: new Float32Array([8, 8]) })
    assert.deepEqual(db.getSync('a').vector, new Float32Array([8, 8]))
  })

  test('metadata only: changes the metadata and keeps the vector', async () => {
    const db = await fixture()
    await db.update('a', { metadata: { name: 'renamed', extra: [1, 2] } })
    assert.deepEqual(db.getSync('a'), { id: 'a', vector: new Float32Array([0, 0]), metadata: { name: 'renamed', extra: [1, 2] } })
    const hit = db.searchSync([0, 0], { k: 1 }).hits[0]
    assert.deepEqual(hit.metadata, { name: 'renamed', extra: [1, 2] })
    // Filters see the new metadata.
    assert.deepEqual(db.searchSync([0, 0], { filter: { name: 'renamed' } }).hits.map((h) => h.id), ['a'])
    assert.deepEqual(db.searchSync([0, 0], { filter: { name: 'a' } }).hits, [])
  })

  test('metadata: null clears the metadata', async () => {
    const db = await fixture()
    await db.update('a', { metadata: null })
    assert.equal(db.getSync('a').metadata, null)
    assert.deepEqual(db.getSync('a').vector, new Float32Array([0, 0]))
  })

  test('both vector and metadata at once', async () => {
    const db = await fixture()
    await db.update('b', { vector: [1, 1], metadata: { name: 'B' } })
    assert.deepEqual(db.getSync('b'), { id: 'b', vector: new Float32Array([1, 1]), metadata: { name: 'B' } })
  })

  test('an empty change set keeps the item as it was', async () => {
    const db = await fixture()
    await db.update('a', {})
    assert.deepEqual(db.getSync('a'), { id: 'a', vector: new Float32Array([0, 0]), metadata: { name: 'a', n: 1 } })
  })
})

describe('delete', () => {
  test('resolves true, then false; the item is gone from get and search', async () => {
    const db = new VectorDB({ dimensions: 2, metric: 'euclidean' })
    await db.insertBatch(randomItems(50, 2, 21))
    assert.equal(await db.delete('item-7'), true)
    assert.equal(await db.delete('item-7'), false)
    assert.equal(db.size, 49)
    assert.equal(db.getSync('item-7'), null)
    assert.equal(await db.get('item-7'), null)
    const hits = db.searchSync([0, 0], { k: 100 }).hits
    assert.equal(hits.length, 49)
    assert.ok(!hits.some((h) => h.id === 'item-7'))
  })

  test('a deleted id can be inserted again', async () => {
    const db = new VectorDB({ dimensions: 2, metric: 'euclidean' })
    await db.insert({ id: 'x', vector: [1, 1] })
    await db.delete('x')
    await db.insert({ id: 'x', vector: [2, 2], metadata: { again: true } })
    assert.deepEqual(db.getSync('x'), { id: 'x', vector: new Float32Array([2, 2]), metadata: { again: true } })
    assert.equal(db.size, 1)
  })

  test('deleting the only item leaves an empty, usable database', async () => {
    const db = new VectorDB({ dimensions: 2 })
    await db.insert({ id: 'x', vector: [1, 1] })
    await db.delete('x')
    assert.equal(db.size, 0)
    assert.deepEqual(db.searchSync([1, 1]).hits, [])
    await db.insert({ id: 'y', vector: [1, 2] })
    assert.equal(db.searchSync([1, 1]).hits[0].id, 'y')
  })
})

describe('search, searchSync, searchBatch', () => {
  test('an empty database returns no hits', async () => {
    const db = new VectorDB({ dimensions: 3 })
    assert.deepEqual(db.searchSync([1, 2, 3]).hits, [])
    assert.deepEqual((await db.search([1, 2, 3])).hits, [])
    assert.deepEqual((await db.searchBatch([[1, 2, 3]]))[0].hits, [])
  })

  for (const metric of METRICS) {
    test(`${metric}: ids, scores and distances match a brute-force computation`, async () => {
      const dim = 16
      const db = new VectorDB({ dimensions: dim, metric })
      const items = randomItems(300, dim, 31 + METRICS.indexOf(metric))
      // One by one: the exactness of batch-built graphs is tested separately
      // ('every item of an insertBatch is reachable ...').
      for (const item of items) await db.insert(item)
      const rng = makeRng(99)
      for (let q = 0; q < 20; q++) {
        const query = rng.gaussianVector(dim)
        const all = bruteForce(metric, items, query, items.length)
        const ref = all.slice(0, 10)
        // A beam as wide as the database makes the search exhaustive.
        const res = db.searchSync(query, { k: 10, efSearch: 1000 })
        assertSameRanking(res.hits, ref, all.map((r) => r.distance), `${metric} query ${q}`)
        for (const hit of res.hits) {
          const item = items[Number(hit.id.slice('item-'.length))]
          const expected = exactScore(metric, query, item.vector)
          assertClose(hit.score, expected.score, 1e-4, `${metric} score of ${hit.id}`)
          assertClose(hit.distance, expected.distance, 1e-4, `${metric} distance of ${hit.id}`)
          if (metric === 'cosine') assertClose(hit.distance, 1 - hit.score, 1e-6, 'cosine distance = 1 - score')
          else assert.equal(hit.distance, -hit.score, `${metric} distance = -score`)
          assert.deepEqual(hit.metadata, item.metadata)
        }
        for (let i = 1; i < res.hits.length; i++) {
          assert.ok(res.hits[i].distance >= res.hits[i - 1].distance, 'hits sorted closest first')
          assert.ok(res.hits[i].score <= res.hits[i - 1].score, 'scores descending')
        }
      }
    })
  }

  test('default k is 10; k limits the hits; k larger than size returns everything', async () => {
    const db = new VectorDB({ dimensions: 4 })
    await db.insertBatch(randomItems(30, 4, 41))
    const q = [1, 0.5, -0.2, 0.1]
    assert.equal(db.searchSync(q).hits.length, 10)
    assert.equal(db.searchSync(q, {}).hits.length, 10)
    assert.equal(db.searchSync(q, null).hits.length, 10)
    assert.equal((await db.search(q)).hits.length, 10)
    assert.equal(db.searchSync(q, { k: 3 }).hits.length, 3)
    assert.equal((await db.search(q, { k: 1 })).hits.length, 1)
    const all = db.searchSync(q, { k: 1000 }).hits
    assert.equal(all.length, 30)
    assert.equal(new Set(all.map((h) => h.id)).size, 30)
  })

  test('efSearch smaller than k is raised to k', async () => {
    const db = new VectorDB({ dimensions: 4, metric: 'euclidean' })
    await db.insertBatch(randomItems(200, 4, 42))
    assert.equal(db.searchSync([0, 0, 0, 0], { k: 50, efSearch: 1 }).hits.length, 50)
  })

  test('search, searchSync, number[] and Float32Array queries give the same hits', async () => {
    const db = new VectorDB({ dimensions: 8, metric: 'cosine' })
    await db.insertBatch(randomItems(500, 8, 43))
    const rng = makeRng(5)
    for (let i = 0; i < 10; i++) {
      const q = rng.gaussianVector(8)
      const a = db.searchSync(q, { k: 5 })
      const b = db.searchSync(Array.from(q), { k: 5 })
      const c = await db.search(q, { k: 5 })
      const d = await db.search(Array.from(q), { k: 5 })
      for (const other of [b, c, d]) assert.deepEqual(other.hits, a.hits)
    }
  })

  test('searchBatch with an array of vectors matches searchSync per query', async () => {
    const db = new VectorDB({ dimensions: 8, metric: 'euclidean' })
    await db.insertBatch(randomItems(500, 8, 44))
    const rng = makeRng(6)
    const queries = Array.from({ length: 25 }, (_, i) => (i % 2 ? rng.gaussianVector(8) : Array.from(rng.gaussianVector(8))))
    const results = await db.searchBatch(queries, { k: 7 })
    assert.equal(results.length, queries.length)
    results.forEach((r, i) => assert.deepEqual(r.hits, db.searchSync(queries[i], { k: 7 }).hits))
  })

  test('searchBatch with one flat Float32Array matches searchSync per query', async () => {
    const dim = 8
    const db = new VectorDB({ dimensions: dim, metric: 'dot' })
    await db.insertBatch(randomItems(500, dim, 45))
    const rng = makeRng(7)
    const n = 30
    const flat = new Float32Array(n * dim)
    for (let i = 0; i < flat.length; i++) flat[i] = rng.gaussian()
    const results = await db.searchBatch(flat, { k: 4, efSearch: 100 })
    assert.equal(results.length, n)
    results.forEach((r, i) => {
      const q = flat.subarray(i * dim, (i + 1) * dim)
      assert.deepEqual(r.hits, db.searchSync(q, { k: 4, efSearch: 100 }).hits)
    })
  })

  test('searchBatch of zero queries resolves to []', async () => {
    const db = new VectorDB({ dimensions: 3 })
    await db.insert({ vector: [1, 2, 3] })
    assert.deepEqual(await db.searchBatch([]), [])
    assert.deepEqual(await db.searchBatch(new Float32Array(0)), [])
  })

  test('searchBatch applies filters to every query', async () => {
    const db = new VectorDB({ dimensions: 4, metric: 'euclidean' })
    await db.insertBatch(randomItems(300, 4, 46))
    const rng = makeRng(8)
    const results = await db.searchBatch(
      Array.from({ length: 10 }, () => rng.gaussianVector(4)),
      { k: 5, filter: { even: true } },
    )
    for (const r of results) {
      assert.equal(r.hits.length, 5)
      for (const h of r.hits) assert.equal(h.metadata.even, true)
    }
  })

  test('searchIds are unique strings across search, searchSync and searchBatch, and across databases', async () => {
    const db = new VectorDB({ dimensions: 3 })
    const other = new VectorDB({ dimensions: 3 })
    await db.insert({ vector: [1, 2, 3] })
    const ids = []
    for (let i = 0; i < 50; i++) ids.push(db.searchSync([1, 0, i]).searchId)
    ids.push(...(await Promise.all(Array.from({ length: 50 }, (_, i) => db.search([0, 1, i])))).map((r) => r.searchId))
    ids.push(...(await db.searchBatch(Array.from({ length: 50 }, (_, i) => [i, 1, 1]))).map((r) => r.searchId))
    for (let i = 0; i < 20; i++) ids.push(other.searchSync([1, 0, i]).searchId)
    for (const id of ids) assert.ok(typeof id === 'string' && id.length > 0)
    assert.equal(new Set(ids).size, ids.length)
  })
})

test(
  'ESM named imports work: import { VectorDB, simdInfo } from the package',
  async () => {
    const ns = await import('../index.js')
    assert.equal(typeof ns.VectorDB, 'function')
    assert.equal(typeof ns.simdInfo, 'function')
  },
)

test('CommonJS require exposes VectorDB and simdInfo', () => {
  const required = createRequire(import.meta.url)('../index.js')
  assert.equal(required, pkg)
  assert.equal(typeof required.VectorDB, 'function')
  assert.equal(typeof required.simdInfo, 'function')
})

test('simdInfo reports the active path among the available ones', (t) => {
  const info = simdInfo()
  t.diagnostic(`SIMD active: ${info.active}; available: ${info.available.join(', ')}`)
  console.log(`SIMD path in use: ${info.active} (available: ${info.available.join(', ')})`)
  const known = ['avx512', 'avx2', 'neon', 'scalar']
  assert.ok(known.includes(info.active), `unknown path ${info.active}`)
  assert.ok(Array.isArray(info.available) && info.available.length >= 1)
  for (const path of info.available) assert.ok(known.includes(path), `unknown path ${path}`)
  assert.ok(info.available.includes(info.active))
  assert.ok(info.available.includes('scalar'))
  if (process.env.HNSW_GNN_SIMD === undefined) {
    // Without an override the best available path is chosen.
    const best = known.find((p) => info.available.includes(p))
    assert.equal(info.active, best)
  }
})

test('stats() counts every heap byte the database holds, part by part', async () => {
  const db = new VectorDB({ dimensions: 8, learning: { background: false } })
  const empty = db.stats()
  await db.insertBatch(randomItems(300, 8, 5, false))
  const plain = db.stats()
  assert.ok(plain.indexHeapBytes >= 300 * 8 * 4, 'the vectors are on the heap')
  assert.ok(plain.catalogHeapBytes >= 300 * 'item-0'.length, 'and the ids')
  const text = 'x'.repeat(10_000)
  await db.insert({ id: 'with-metadata', vector: randomItems(1, 8, 6)[0].vector, metadata: { text } })
  const withMetadata = db.stats()
  assert.ok(withMetadata.catalogHeapBytes - plain.catalogHeapBytes >= text.length, 'metadata counts')
  const { searchId, hits } = await db.search(randomItems(1, 8, 7)[0].vector, { k: 5 })
  await db.feedback({ searchId, clicked: [hits[1].id] })
  const after = db.stats()
  assert.ok(after.recentSearchesHeapBytes > withMetadata.recentSearchesHeapBytes, 'a remembered search counts')
  assert.equal(after.learningHeapBytes, db.learningStats().heapBytes)
  assert.ok(after.learningHeapBytes > empty.learningHeapBytes, 'a logged session counts')
  for (const stats of [empty, plain, withMetadata, after]) {
    assert.equal(stats.heapBytes, stats.indexHeapBytes + stats.catalogHeapBytes + stats.recentSearchesHeapBytes + stats.learningHeapBytes)
  }
  await db.close()
})
