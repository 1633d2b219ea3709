// Cancellation: insertBatch, save, train and snapshot take { signal } (an
// AbortSignal); an aborted call rejects with ERR_ABORTED, its cause the
// signal's reason, and leaves the database as it was before the call.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pkg from '../index.js'
import { makeRng, assertCode } from './helpers.mjs'
import { intents, userClicks } from './fixtures/intents.mjs'

const { VectorDB } = pkg

function flatRandom(rng, n, dim) {
  const out = new Float32Array(n * dim)
  for (let i = 0; i < out.length; i++) out[i] = rng.gaussian()
  return out
}

function isAbort(reason) {
  return (error) => {
    assertCode(error, 'ERR_ABORTED')
    assert.equal(error.cause, reason)
    return true
  }
}

test('an insertBatch aborted while linking stores none of its items, durably', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hnsw-gnn-abort-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'db.hgnn')
  const rng = makeRng(1)
  const db = new VectorDB({ dimensions: 32, metric: 'euclidean', path })
  await db.insertBatch({ ids: ['kept-0', 'kept-1'], vectors: flatRandom(rng, 2, 32) })
  const n = 40000
  const ids = Array.from({ length: n }, (_, i) => `batch-${i}`)
  const controller = new AbortController()
  const reason = new Error('the user went away')
  let progressCalls = 0
  const onProgress = () => {
    if (progressCalls++ === 0) controller.abort(reason)
  }
  await assert.rejects(db.insertBatch({ ids, vectors: flatRandom(rng, n, 32) }, { onProgress, signal: controller.signal }), isAbort(reason))
  assert.ok(progressCalls >= 1)
  assert.equal(db.size, 2)
  for (let i = 0; i < n; i += 997) assert.equal(db.getSync(ids[i]), null)
  const hits = db.searchSync(flatRandom(rng, 1, 32), { k: 10, efSearch: 100 }).hits
  assert.deepEqual(hits.map((h) => h.id).sort(), ['kept-0', 'kept-1'])
  // The same ids can go in again, and a reopen (replaying the log) agrees.
  await db.insertBatch({ ids: ids.slice(0, 10), vectors: flatRandom(rng, 10, 32) })
  assert.equal(db.size, 12)
  await db.close()
  const reopened = await VectorDB.open(path)
  assert.equal(reopened.size, 12)
  assert.equal(reopened.getSync(ids[20]), null)
  await reopened.close()
})

test('an already aborted signal rejects at once and stores nothing', async () => {
  const db = new VectorDB({ dimensions: 2 })
  const reason = new Error('too late')
  const signal = AbortSignal.abort(reason)
  await assert.rejects(db.insertBatch([{ id: 'a', vector: [1, 2] }], { signal }), isAbort(reason))
  await assert.rejects(db.insertBatch({ vectors: new Float32Array([1, 2]) }, { signal }), isAbort(reason))
  await assert.rejects(db.snapshot({ signal }), isAbort(reason))
  assert.equal(db.size, 0)
  // A signal that never fires changes nothing.
  await db.insertBatch([{ id: 'a', vector: [1, 2] }], { signal: new AbortController().signal })
  assert.equal(db.size, 1)
})

test('a save aborted while writing leaves the file and the log as they were, and no temp file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hnsw-gnn-abort-save-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'db.hgnn')
  const rng = makeRng(2)
  const db = new VectorDB({ dimensions: 64, metric: 'euclidean', path, durability: 'none', checkpoint: false })
  const n = 60000
  await db.insertBatch({ ids: Array.from({ length: n }, (_, i) => String(i)), vectors: flatRandom(rng, n, 64) })
  const fileBefore = readFileSync(path)
  const logBefore = readFileSync(`${path}-wal`)
  const generation = db.stats().generation
  const controller = new AbortController()
  const saving = db.save({ signal: controller.signal })
  controller.abort()
  await assert.rejects(saving, isAbort(controller.signal.reason))
  assert.deepEqual(readFileSync(path), fileBefore, 'the file is untouched')
  assert.deepEqual(readFileSync(`${path}-wal`), logBefore, 'the log is untouched')
  assert.deepEqual(readdirSync(dir).sort(), ['db.hgnn', 'db.hgnn-wal'])
  assert.equal(db.stats().generation, generation)
  assert.equal(db.size, n)
  await db.save()
  assert.equal(db.stats().generation, generation + 1)
  await db.close()
})

test('train and snapshot aborted change nothing; bad signals and options are refused', async () => {
  const data = intents({ seed: 3 })
  const db = new VectorDB({ dimensions: data.dim, learning: { background: false, explore: 0 } })
  await db.insertBatch(data.items.map((vector, i) => ({ id: String(i), vector })))
  const rng = makeRng(4)
  for (let s = 0; s < 600; s++) {
    const q = data.train[rng.int(data.train.length)]
    const { searchId, hits } = await db.search(data.queries[q], { k: 10 })
    await db.feedback({ searchId, ...userClicks(data, q, hits, rng) })
  }
  const before = db.learningStats()
  const controller = new AbortController()
  const training = db.train({ signal: controller.signal })
  controller.abort()
  await assert.rejects(training, isAbort(controller.signal.reason))
  assert.deepEqual(db.learningStats(), before, 'no pass counted, no model published')
  const report = await db.train()
  assert.ok(report.sessions >= 600)

  const snapshotting = new AbortController()
  const snapshot = db.snapshot({ signal: snapshotting.signal })
  snapshotting.abort()
  await assert.rejects(snapshot, isAbort(snapshotting.signal.reason))
  assert.equal((await db.snapshot()).ids.length, data.items.length)

  for (const options of [{ signal: 5 }, { signal: {} }, { every: 1 }, 7]) {
    for (const call of [() => db.save(options), () => db.train(options), () => db.snapshot(options)]) {
      await assert.rejects(call(), (e) => e.code === 'ERR_INVALID_ARGUMENT')
    }
  }
  await assert.rejects(db.insertBatch([], { signal: 'no' }), (e) => e.code === 'ERR_INVALID_ARGUMENT')
})
