// Search quality against a brute-force reference on seeded clustered data,
// before and after deletions.
import { test, describe, before } from 'node:test'
import assert from 'node:assert/strict'
import pkg from '../index.js'
import { clusteredData, bruteForce, recall, makeRng } from './helpers.mjs'

const { VectorDB } = pkg

const N = 5000
const DIM = 32
const QUERIES = 200
const K = 10
const MIN_RECALL = 0.95

/** 5,000 clustered points plus 200 held-out queries from the same clusters. */
function dataset(seed) {
  const { vectors } = clusteredData({ n: N + QUERIES, dim: DIM, clusters: 20, subspaceDim: 8, spread: 1, noise: 0.1, seed })
  const items = vectors.slice(0, N).map((vector, i) => ({ id: `p${i}`, vector, metadata: { i } }))
  return { items, queries: vectors.slice(N) }
}

function meanRecall(db, metric, items, queries, k = K) {
  let sum = 0
  for (const q of queries) {
    const hits = db.searchSync(q, { k }).hits
    sum += recall(hits, bruteForce(metric, items, q, k))
  }
  return sum / queries.length
}

for (const metric of ['euclidean', 'cosine']) {
  describe(`${metric}: 5,000 × 32 clustered vectors`, () => {
    const { items, queries } = dataset(metric === 'euclidean' ? 11 : 12)
    let db

    before(async () => {
      db = new VectorDB({ dimensions: DIM, metric })
      const ids = await db.insertBatch(items)
      assert.equal(ids.length, N)
    })

    test(`mean recall@10 of searchSync at the default efSearch is at least ${MIN_RECALL}`, (t) => {
      const r = meanRecall(db, metric, items, queries)
      t.diagnostic(`${metric} recall@10 = ${r.toFixed(4)}`)
      assert.ok(r >= MIN_RECALL, `recall@10 ${r} < ${MIN_RECALL}`)
    })

    test('a larger efSearch does not lower recall', (t) => {
      let sum = 0
      for (const q of queries) sum += recall(db.searchSync(q, { k: K, efSearch: 256 }).hits, bruteForce(metric, items, q, K))
      const wide = sum / queries.length
      t.diagnostic(`${metric} recall@10 at efSearch 256 = ${wide.toFixed(4)}`)
      assert.ok(wide >= meanRecall(db, metric, items, queries) - 0.005)
      assert.ok(wide >= 0.98, `recall@10 at efSearch 256 is ${wide}`)
    })

    test('searchBatch has the same recall as searchSync (same hits)', async () => {
      const results = await db.searchBatch(queries.slice(0, 50), { k: K })
      results.forEach((r, i) => assert.deepEqual(r.hits, db.searchSync(queries[i], { k: K }).hits))
    })

    describe('after deleting 20% of the items', () => {
      let live
      const deleted = new Set()

      before(async () => {
        const rng = makeRng(77)
        const order = items.map((_, i) => i)
        for (let i = order.length - 1; i > 0; i--) {
          const j = rng.int(i + 1)
          ;[order[i], order[j]] = [order[j], order[i]]
        }
        for (const i of order.slice(0, N / 5)) deleted.add(items[i].id)
        const results = await Promise.all([...deleted].map((id) => db.delete(id)))
        assert.ok(results.every((r) => r === true))
        live = items.filter((item) => !deleted.has(item.id))
      })

      test('size is 80% of the items and deleted ids are gone from get', async () => {
        assert.equal(db.size, N - N / 5)
        for (const id of deleted) assert.equal(db.getSync(id), null)
      })

      test('no deleted id is ever returned (k = 10 and k = 200, searchSync and searchBatch)', async () => {
        for (const q of queries) {
          for (const h of db.searchSync(q, { k: K }).hits) assert.ok(!deleted.has(h.id), `deleted ${h.id} returned`)
        }
        // Queries at the deleted items themselves are the most likely to surface them.
        const atDeleted = [...deleted].slice(0, 300).map((id) => items[Number(id.slice(1))].vector)
        const batch = await db.searchBatch(atDeleted, { k: 200 })
        for (const r of batch) {
          assert.equal(r.hits.length, 200)
          for (const h of r.hits) assert.ok(!deleted.has(h.id), `deleted ${h.id} returned`)
        }
      })

      test(`mean recall@10 over the remaining items is at least ${MIN_RECALL}`, (t) => {
        const r = meanRecall(db, metric, live, queries)
        t.diagnostic(`${metric} recall@10 after deleting 20% = ${r.toFixed(4)}`)
        assert.ok(r >= MIN_RECALL, `recall@10 after deletions ${r} < ${MIN_RECALL}`)
      })

      test('a deleted id can be inserted again, with a new vector, and is found', async () => {
        const rng = makeRng(5)
        const again = [...deleted].slice(0, 50)
        for (const id of again) {
          const vector = queries[rng.int(queries.length)].map((x) => x + rng.gaussian() * 0.01)
          await db.insert({ id, vector, metadata: { again: true } })
          const stored = db.getSync(id)
          assert.deepEqual(stored.metadata, { again: true })
          const hit = db.searchSync(vector, { k: 1 }).hits[0]
          assert.equal(hit.id, id)
        }
        assert.equal(db.size, N - N / 5 + again.length)
        // Re-inserted ids are returned once, never twice (no ghost of the old item).
        for (const q of queries.slice(0, 50)) {
          const ids = db.searchSync(q, { k: 50 }).hits.map((h) => h.id)
          assert.equal(new Set(ids).size, ids.length)
        }
      })
    })
  })
}
