// Many Promises in flight at once: inserts, searches, batches and upserts
// interleaved on the libuv pool must neither lose nor duplicate items.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import pkg from '../index.js'
import { fileURLToPath } from 'node:url'
import { makeRng, UUID_V4 } from './helpers.mjs'

const { VectorDB } = pkg

const DIM = 16

test('2,000 inserts, 2,000 searches and a 3,000-item insertBatch started together lose nothing', async (t) => {
  const rng = makeRng(31337)
  const db = new VectorDB({ dimensions: DIM, metric: 'euclidean' })
  // Half the single inserts bring their own id, half get a generated one.
  const singles = Array.from({ length: 2000 }, (_, i) => ({
    id: i % 2 === 0 ? `single-${i}` : undefined,
    vector: rng.gaussianVector(DIM),
    metadata: { source: 'single', i },
  }))
  const batch = Array.from({ length: 3000 }, (_, i) => ({
    id: `batch-${i}`,
    vector: rng.gaussianVector(DIM),
    metadata: { source: 'batch', i },
  }))
  const queries = Array.from({ length: 2000 }, () => rng.gaussianVector(DIM))

  const insertPromises = []
  const searchPromises = []
  let batchPromise
  let progressCalls = 0
  for (let i = 0; i < 2000; i++) {
    insertPromises.push(db.insert(singles[i]))
    searchPromises.push(db.search(queries[i], { k: 10 }))
    if (i === 500) batchPromise = db.insertBatch(batch, { onProgress: () => progressCalls++ })
  }
  const [singleIds, searchResults, batchIds] = await Promise.all([
    Promise.all(insertPromises),
    Promise.all(searchPromises),
    batchPromise,
  ])

  // Ids: the given ones come back unchanged, generated ones are UUID v4, all distinct.
  singleIds.forEach((id, i) => {
    if (singles[i].id !== undefined) assert.equal(id, singles[i].id)
    else assert.match(id, UUID_V4)
  })
  assert.deepEqual(batchIds, batch.map((item) => item.id))
  const allIds = [...singleIds, ...batchIds]
  assert.equal(new Set(allIds).size, 5000)
  assert.equal(db.size, 5000)

  // Searches that ran during the inserts saw a consistent database.
  const known = new Set(allIds)
  for (const res of searchResults) {
    assert.ok(res.hits.length <= 10)
    const ids = res.hits.map((h) => h.id)
    assert.equal(new Set(ids).size, ids.length, 'no duplicate hits')
    for (const h of res.hits) {
      assert.ok(known.has(h.id), `unknown id ${h.id} in a concurrent search`)
      assert.ok(h.metadata !== null && (h.metadata.source === 'single' || h.metadata.source === 'batch'))
    }
    for (let i = 1; i < res.hits.length; i++) assert.ok(res.hits[i].distance >= res.hits[i - 1].distance)
  }
  assert.equal(new Set(searchResults.map((r) => r.searchId)).size, searchResults.length)
  t.diagnostic(`insertBatch progress calls while racing: ${progressCalls}`)

  // Every item is stored intact.
  const vectors = [...singles.map((s) => s.vector), ...batch.map((b) => b.vector)]
  const stored = await Promise.all(allIds.map((id) => db.get(id)))
  stored.forEach((item, i) => {
    assert.ok(item !== null, `${allIds[i]} missing`)
    assert.equal(item.id, allIds[i])
    assert.deepEqual(item.vector, vectors[i])
  })

  // Every item is its own nearest neighbour (HNSW is approximate: allow 0.5%).
  let misses = 0
  allIds.forEach((id, i) => {
    const hit = db.searchSync(vectors[i], { k: 1 }).hits[0]
    if (hit.id !== id) misses++
  })
  t.diagnostic(`self-search misses: ${misses} of ${allIds.length}`)
  console.log(`concurrency: ${misses} of ${allIds.length} items not returned as their own nearest neighbour`)
  assert.ok(misses <= allIds.length * 0.005, `${misses} self-search misses (> 0.5%)`)
})

test('concurrent upserts of the same ids end with exactly one item per id', async () => {
  const rng = makeRng(7)
  const db = new VectorDB({ dimensions: DIM, metric: 'euclidean' })
  await db.insertBatch(Array.from({ length: 200 }, (_, i) => ({ id: `base-${i}`, vector: rng.gaussianVector(DIM) })))
  const ids = Array.from({ length: 40 }, (_, i) => (i < 20 ? `base-${i}` : `new-${i}`))
  const versions = new Map(ids.map((id) => [id, []]))
  const calls = []
  for (let round = 0; round < 25; round++) {
    for (const id of ids) {
      const vector = rng.gaussianVector(DIM)
      versions.get(id).push(vector)
      calls.push(db.upsert({ id, vector, metadata: { round } }))
    }
  }
  const results = await Promise.all(calls)
  assert.deepEqual(results, calls.map((_, i) => ids[i % ids.length]))
  assert.equal(db.size, 220)

  for (const id of ids) {
    const item = db.getSync(id)
    assert.ok(item !== null)
    const match = versions.get(id).findIndex((v) => v.every((x, j) => x === item.vector[j]))
    assert.ok(match >= 0, `${id} holds a vector that was never upserted for it`)
    assert.equal(item.metadata.round, match, `${id}: metadata and vector come from different upserts`)
  }
  // An exhaustive search returns every id exactly once.
  const all = db.searchSync(new Float32Array(DIM), { k: 1000 }).hits.map((h) => h.id)
  assert.equal(all.length, 220)
  assert.equal(new Set(all).size, 220)
})

test('concurrent inserts of one id: exactly one succeeds, the others reject with ERR_DUPLICATE_ID', async () => {
  const db = new VectorDB({ dimensions: 2 })
  const outcomes = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => db.insert({ id: 'same', vector: [1, i + 1] })))
  const fulfilled = outcomes.filter((o) => o.status === 'fulfilled')
  assert.equal(fulfilled.length, 1)
  for (const o of outcomes.filter((o) => o.status === 'rejected')) assert.equal(o.reason.code, 'ERR_DUPLICATE_ID')
  assert.equal(db.size, 1)
})

test('concurrent deletes and searches: deleted ids never come back, each delete succeeds once', async () => {
  const rng = makeRng(8)
  const db = new VectorDB({ dimensions: DIM, metric: 'cosine' })
  const items = Array.from({ length: 2000 }, (_, i) => ({ id: `d-${i}`, vector: rng.gaussianVector(DIM) }))
  await db.insertBatch(items)
  const doomed = items.filter((_, i) => i % 3 === 0).map((item) => item.id)
  const ops = []
  for (const id of doomed) {
    ops.push(db.delete(id), db.delete(id), db.search(rng.gaussianVector(DIM), { k: 5 }))
  }
  const results = await Promise.all(ops)
  for (let i = 0; i < doomed.length; i++) {
    const [a, b] = [results[3 * i], results[3 * i + 1]]
    assert.equal(Number(a) + Number(b), 1, `${doomed[i]} deleted ${Number(a) + Number(b)} times`)
  }
  assert.equal(db.size, 2000 - doomed.length)
  const gone = new Set(doomed)
  const after = await db.searchBatch(
    doomed.slice(0, 200).map((id) => items[Number(id.slice(2))].vector),
    { k: 20 },
  )
  for (const r of after) for (const h of r.hits) assert.ok(!gone.has(h.id), `deleted ${h.id} returned`)
})

// Regression: train() deadlocked against batch and single inserts (every
// call stopped settling within seconds). The fixture runs them, with
// feedback, in a child process so a hang fails this test instead of
// hanging the run.
test('train(), batch inserts, single inserts and feedback running together all keep settling', async () => {
  const { spawn } = await import('node:child_process')
  const fixture = new URL('./fixtures/train-during-writes.mjs', import.meta.url)
  const child = spawn(process.execPath, [fileURLToPath(fixture), '8'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  const code = await new Promise((resolve) => {
    const guard = setTimeout(() => child.kill('SIGKILL'), 90000)
    child.on('exit', (exitCode, signal) => {
      clearTimeout(guard)
      resolve(exitCode ?? signal)
    })
  })
  assert.equal(code, 0, output)
  assert.match(output, /every kind of call kept settling/)
})
