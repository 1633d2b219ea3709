// Reclaimed space: deleted and replaced items give their slots back at
// save() (and compact()), so a database that churns through its whole live
// set many times stays the size of a fresh build of what it holds.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pkg from '../index.js'
import { clusteredData, makeRng, nearbyQuery, bruteForce, recall } from './helpers.mjs'

const { VectorDB } = pkg

const DIM = 16
const LIVE = 2000
const ROUNDS = 10
const OPTIONS = { dimensions: DIM, metric: 'euclidean', efSearch: 10 }

function flat(vectors) {
  const out = new Float32Array(vectors.length * DIM)
  vectors.forEach((v, i) => out.set(v, i * DIM))
  return out
}

async function meanRecall(db, items, queries) {
  let total = 0
  for (const query of queries) {
    const { hits } = await db.search(query, { k: 10 })
    total += recall(hits, bruteForce('euclidean', items, query, 10))
  }
  return total / queries.length
}

test(`deleting and re-inserting the live set ${ROUNDS}× keeps file, heap and recall at a fresh build's`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hnsw-gnn-churn-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const { vectors } = clusteredData({ n: LIVE * (ROUNDS + 1), dim: DIM, clusters: 30, seed: 77 })
  const ids = Array.from({ length: LIVE }, (_, i) => `item-${i}`)
  const roundVectors = (r) => vectors.slice(r * LIVE, (r + 1) * LIVE)

  const churned = new VectorDB({ ...OPTIONS, path: join(dir, 'churned.hgnn') })
  await churned.insertBatch({ ids, vectors: flat(roundVectors(0)) })
  for (let r = 1; r <= ROUNDS; r++) {
    // Concurrent writes share their fsyncs (durability 'batch').
    assert.ok((await Promise.all(ids.map((id) => churned.delete(id)))).every(Boolean))
    // Half come back through insertBatch, half through upsert (a fresh slot each).
    const next = roundVectors(r)
    await churned.insertBatch({ ids: ids.slice(0, LIVE / 2), vectors: flat(next.slice(0, LIVE / 2)) })
    const upserts = []
    for (let i = LIVE / 2; i < LIVE; i++) upserts.push(churned.upsert({ id: ids[i], vector: next[i] }))
    await Promise.all(upserts)
    // And a quarter are replaced in place by update (which also moves them).
    const updates = []
    for (let i = 0; i < LIVE; i += 4) updates.push(churned.update(ids[i], { vector: next[i] }))
    await Promise.all(updates)
    if (r % 3 === 0 || r === ROUNDS) await churned.save()
  }
  const churnedStats = churned.stats()
  assert.equal(churnedStats.items, LIVE)
  assert.equal(churnedStats.slots, LIVE, 'the last save reclaimed every tombstone')

  const fresh = new VectorDB({ ...OPTIONS, path: join(dir, 'fresh.hgnn') })
  await fresh.insertBatch({ ids, vectors: flat(roundVectors(ROUNDS)) })
  await fresh.save()
  const freshStats = fresh.stats()

  const items = roundVectors(ROUNDS).map((vector, i) => ({ id: ids[i], vector }))
  const rng = makeRng(5)
  const queries = Array.from({ length: 1000 }, () => nearbyQuery(rng, roundVectors(ROUNDS), 1))
  const churnedRecall = await meanRecall(churned, items, queries)
  const freshRecall = await meanRecall(fresh, items, queries)
  const fileRatio = statSync(join(dir, 'churned.hgnn')).size / statSync(join(dir, 'fresh.hgnn')).size
  const heapRatio = churnedStats.heapBytes / freshStats.heapBytes
  t.diagnostic(
    `after ${ROUNDS} rounds: file ${fileRatio.toFixed(3)}× a fresh build's, heap ${heapRatio.toFixed(3)}×, recall@10 ${churnedRecall.toFixed(4)} vs ${freshRecall.toFixed(4)}`,
  )
  assert.ok(fileRatio <= 1.1 && fileRatio >= 0.9, `file ${fileRatio}× a fresh build's`)
  assert.ok(heapRatio <= 1.1, `heap ${heapRatio}× a fresh build's`)
  // Quiet runs leave 0.003-0.006 between the two; a fully loaded CI run
  // left 0.0117 (0.9796 vs 0.9913) once: concurrent writes relink a little
  // worse under contention, the same open question as the Rust compaction
  // test's margin.
  assert.ok(churnedRecall >= freshRecall - 0.02, `recall ${churnedRecall} vs fresh ${freshRecall}`)

  // What was reclaimed stays gone after a reopen; what is live is all there.
  await churned.close()
  const reopened = await VectorDB.open(join(dir, 'churned.hgnn'))
  assert.equal(reopened.stats().slots, LIVE)
  for (let i = 0; i < LIVE; i += 97) assert.deepEqual(reopened.getSync(ids[i]).vector, items[i].vector)
  await reopened.close()
  await fresh.close()
})

test('compact() reclaims the slots of a database without a file, and searches keep working', async () => {
  const db = new VectorDB(OPTIONS)
  const { vectors } = clusteredData({ n: 3000, dim: DIM, seed: 78 })
  await db.insertBatch({ ids: vectors.map((_, i) => String(i)), vectors: flat(vectors) })
  assert.equal(await db.compact(), false, 'nothing to reclaim')
  for (let i = 0; i < 3000; i += 2) await db.delete(String(i))
  assert.equal(db.stats().slots, 3000)
  const heapBefore = db.stats().heapBytes
  const searches = Array.from({ length: 200 }, (_, i) => db.search(vectors[i], { k: 5 }))
  assert.equal(await db.compact(), true)
  for (const { hits } of await Promise.all(searches)) assert.ok(hits.every((h) => Number(h.id) % 2 === 1))
  const stats = db.stats()
  assert.equal(stats.slots, 1500)
  assert.equal(stats.items, 1500)
  assert.ok(stats.heapBytes < heapBefore, `heap ${stats.heapBytes} after, ${heapBefore} before`)
  for (let i = 1; i < 3000; i += 2) assert.equal(db.searchSync(vectors[i], { k: 1, efSearch: 64 }).hits[0].id, String(i))
  assert.equal(db.getSync('0'), null)
  await db.insert({ id: '0', vector: vectors[0] })
  assert.equal(db.searchSync(vectors[0], { k: 1 }).hits[0].id, '0')
})
