// Learning from feedback through the JS API: simulated users click,
// the learner trains (`explore: 0`, training called by the test so runs
// are reproducible), and held-out queries, which never give feedback, are
// judged against labels the learner never sees. Also: every bad feedback
// input gets its code and changes nothing; feedback, the model and recent
// searches survive save and reopen; acknowledged feedback survives SIGKILL.
import { test, describe, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pkg from '../index.js'
import { makeRng, failureOf, assertCode } from './helpers.mjs'
import { intents, userClicks, ndcg, benchmarkLike } from './fixtures/intents.mjs'

const { VectorDB } = pkg
const LEARNING = { explore: 0, background: false }
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hnsw-gnn-feedback-'))
after(() => fs.rmSync(dir, { recursive: true, force: true }))
let files = 0
const freshPath = () => path.join(dir, `db-${files++}.hgnn`)

async function loaded(data, options = {}) {
  const db = new VectorDB({ dimensions: data.dim, learning: LEARNING, ...options })
  await db.insertBatch(data.items.map((vector, i) => ({ id: String(i), vector })))
  return db
}

/** `sessions` searches of training queries with feedback; trains every 200. */
async function simulate(db, data, { sessions, honest = true, seed = 1 }) {
  const rng = makeRng(seed)
  for (let s = 0; s < sessions; s++) {
    const q = data.train[rng.int(data.train.length)]
    const { searchId, hits } = db.searchSync(data.queries[q])
    await db.feedback({ searchId, ...userClicks(data, q, hits, rng, honest) })
    if ((s + 1) % 200 === 0) await db.train()
  }
  return db.train()
}

const heldOut = (db, data, options) => ndcg(data, data.test, (q) => db.searchSync(data.queries[q], options).hits)

describe('learning from clicks', () => {
  test('honest clicks lift held-out nDCG@10 by at least 10%', async () => {
    const data = benchmarkLike(1)
    const db = await loaded(data)
    const before = heldOut(db, data)
    await simulate(db, data, { sessions: 5000, seed: 2 })
    const after = heldOut(db, data)
    const stats = db.learningStats()
    console.log(`# held-out nDCG@10: static ${before.toFixed(4)} -> learned ${after.toFixed(4)} (model v${stats.modelVersion})`)
    assert.ok(stats.active, 'a model serves')
    assert.ok(after >= 1.1 * before, `learned ${after} vs static ${before}`)
    assert.equal(heldOut(db, data, { rerank: false }), before, 'rerank: false is base search')
    await db.close()
  })

  test('half-precision message passing learns as well (learning.model.messagePrecision: f16)', async () => {
    const data = benchmarkLike(1)
    const db = await loaded(data, { learning: { model: { messagePrecision: 'f16' } } })
    const before = heldOut(db, data)
    await simulate(db, data, { sessions: 5000, seed: 2 })
    const after = heldOut(db, data)
    console.log(`# held-out nDCG@10 with f16 messages: static ${before.toFixed(4)} -> learned ${after.toFixed(4)}`)
    assert.ok(db.learningStats().active, 'a model serves')
    assert.ok(after >= 1.1 * before, `learned ${after} vs static ${before}`)
    await db.close()
  })

  test('random clicks keep held-out nDCG@10 at 98% of static or better', async () => {
    const data = benchmarkLike(2)
    const db = await loaded(data)
    const before = heldOut(db, data)
    await simulate(db, data, { sessions: 5000, honest: false, seed: 3 })
    const after = heldOut(db, data)
    console.log(`# random clicks: static ${before.toFixed(4)} -> ${after.toFixed(4)}`)
    assert.ok(after >= 0.98 * before, `after ${after} vs static ${before}`)
    await db.close()
  })

  test('without feedback, results are exactly base search', async () => {
    const data = intents({ seed: 13 })
    const db = await loaded(data)
    const report = await db.train()
    assert.equal(report.published, false)
    for (const q of data.test.slice(0, 30)) {
      const served = db.searchSync(data.queries[q])
      const base = db.searchSync(data.queries[q], { rerank: false })
      assert.deepEqual(served.hits, base.hits)
      for (const hit of served.hits) assert.equal(hit.score, hit.baseScore)
    }
    await db.close()
  })

  test('hits keep distance and baseScore; score orders them', async () => {
    const data = intents({ seed: 14 })
    const db = await loaded(data)
    await simulate(db, data, { sessions: 1200, seed: 4 })
    assert.ok(db.learningStats().active)
    const { hits } = await db.search(data.queries[data.test[0]], { k: 10 })
    for (let i = 0; i < hits.length; i++) {
      assert.ok(Math.abs(hits[i].baseScore - (1 - hits[i].distance)) < 1e-5, 'cosine: baseScore = 1 - distance')
      if (i > 0) assert.ok(hits[i - 1].score >= hits[i].score, 'ordered by score')
    }
    const stats = db.learningStats()
    for (const key of ['sessions', 'modelVersion', 'trainings', 'published', 'heapBytes', 'blendWeight', 'lastTrainedAt', 'lastTrainingMs', 'loss']) {
      assert.equal(typeof stats[key], 'number', key)
    }
    assert.deepEqual(Object.keys(stats.interleaving).sort(), ['losses', 'ties', 'wins'])
    await db.resetLearning()
    assert.equal(db.learningStats().sessions, 0)
    assert.equal(db.learningStats().active, false)
    await db.close()
  })
})

describe('feedback input', () => {
  test('every bad feedback input gets its code and changes nothing', async () => {
    const data = intents({ seed: 15, items: 200, queries: 20 })
    const db = await loaded(data)
    const { searchId, hits } = await db.search(data.queries[0])
    const shown = hits.map((h) => h.id)
    const notShown = data.items.map((_, i) => String(i)).find((id) => !shown.includes(id))
    const cases = [
      [{ searchId: 'ffffffff-1' }, 'ERR_NOT_FOUND'],
      [{ searchId, clicked: [notShown] }, 'ERR_INVALID_ARGUMENT'],
      [{ searchId, converted: [notShown] }, 'ERR_INVALID_ARGUMENT'],
      [{ searchId, clicked: 'x' }, 'ERR_INVALID_ARGUMENT'],
      [{ searchId, clicks: [shown[0]] }, 'ERR_INVALID_ARGUMENT'],
      [{ searchId, query: data.queries[0], shown }, 'ERR_INVALID_ARGUMENT'],
      [{}, 'ERR_INVALID_ARGUMENT'],
      [null, 'ERR_INVALID_ARGUMENT'],
      ['searchId', 'ERR_INVALID_ARGUMENT'],
      [{ query: [1, 2, 3], shown }, 'ERR_DIMENSION_MISMATCH'],
      [{ query: new Float32Array(data.dim).fill(NaN), shown }, 'ERR_INVALID_VECTOR'],
      [{ query: data.queries[0], shown: [] }, 'ERR_INVALID_ARGUMENT'],
      [{ query: data.queries[0], shown: ['a', 'a'] }, 'ERR_INVALID_ARGUMENT'],
      [{ query: data.queries[0], shown: ['a'], clicked: ['b'] }, 'ERR_INVALID_ARGUMENT'],
      [{ query: data.queries[0] }, 'ERR_INVALID_ARGUMENT'],
    ]
    for (const [feedback, code] of cases) {
      const { error } = await failureOf(() => db.feedback(feedback), JSON.stringify(feedback))
      assertCode(error, code, JSON.stringify(feedback))
    }
    assert.equal(db.learningStats().sessions, 0, 'nothing was logged')
    // feedback() answers with a Promise whether it fails or not, also when
    // it is settled at once (an in-memory database has no log to wait for).
    const refused = db.feedback({ searchId: 'ffffffff-2' })
    assert.ok(refused instanceof Promise, 'a refused feedback is a rejected Promise, not a throw')
    await assert.rejects(refused, (error) => error.code === 'ERR_NOT_FOUND')
    // Good feedback for one search merges into one session.
    const first = db.feedback({ searchId, clicked: [shown[0]] })
    assert.ok(first instanceof Promise)
    assert.equal(await first, undefined)
    await db.feedback({ searchId, clicked: [shown[1]], converted: [shown[1]] })
    await db.feedback({ query: data.queries[1], shown: ['x', 'y'], clicked: ['y'] })
    assert.equal(db.learningStats().sessions, 2)
    for (const bad of [{ before: 'yesterday' }, { after: 1 }, 5]) {
      const { error } = await failureOf(() => db.purgeFeedback(bad), JSON.stringify(bad))
      assertCode(error, 'ERR_INVALID_ARGUMENT')
    }
    assert.equal(await db.purgeFeedback({ before: new Date(0) }), 0)
    assert.equal(await db.purgeFeedback(), 2)
    await db.close()
    assertCode((await failureOf(() => db.feedback({ searchId }))).error, 'ERR_CLOSED')
  })

  test('learning: false refuses feedback and never reranks; bad learning options are refused', async () => {
    const data = intents({ seed: 16, items: 200, queries: 20 })
    const db = await loaded(data, { learning: false })
    const { searchId, hits } = await db.search(data.queries[0])
    assertCode((await failureOf(() => db.feedback({ searchId, clicked: [hits[0].id] }))).error, 'ERR_INVALID_ARGUMENT')
    assert.equal(db.learningStats().enabled, false)
    for (const learning of [{ explore: 2 }, { bufferSessions: 0 }, { halflife: 1 }, { model: { hops: 3 } }, { model: { messagePrecision: 'f8' } }, 'on']) {
      assert.throws(() => new VectorDB({ dimensions: 4, learning }), { code: 'ERR_INVALID_ARGUMENT' }, JSON.stringify(learning))
    }
    await db.close()
  })
})

describe('learning state on disk', () => {
  test('feedback, the model and recent searches survive save and reopen', async () => {
    const data = intents({ seed: 17 })
    const file = freshPath()
    const db = await loaded(data, { path: file })
    await simulate(db, data, { sessions: 1200, seed: 5 })
    const stats = db.learningStats()
    assert.ok(stats.active)
    const pending = await db.search(data.queries[data.test[0]])
    const rankings = data.test.slice(0, 30).map((q) => db.searchSync(data.queries[q]).hits.map((h) => h.id))
    await db.save()
    // This session lives only in the write-ahead log.
    const extra = await db.search(data.queries[data.train[0]])
    await db.feedback({ searchId: extra.searchId, clicked: [extra.hits[0].id] })
    await db.close()

    const reopened = await VectorDB.open(file, { learning: LEARNING })
    const now = reopened.learningStats()
    assert.equal(now.modelVersion, stats.modelVersion, 'the saved model serves')
    assert.equal(now.sessions, stats.sessions + 1, 'the saved log plus the logged session')
    assert.deepEqual(
      data.test.slice(0, 30).map((q) => reopened.searchSync(data.queries[q]).hits.map((h) => h.id)),
      rankings,
      'the model ranks as before',
    )
    await reopened.feedback({ searchId: pending.searchId, clicked: [pending.hits[1].id] })
    await reopened.close()
  })

  test('acknowledged feedback survives SIGKILL', async () => {
    const data = intents({ seed: 18, items: 300, queries: 10 })
    const file = freshPath()
    const db = await loaded(data, { path: file })
    await db.save()
    await db.close()
    const writer = fileURLToPath(new URL('./fixtures/feedback-writer.mjs', import.meta.url))
    const acknowledged = await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [writer, file], { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      let err = ''
      child.stdout.setEncoding('utf8')
      child.stdout.on('data', (chunk) => {
        out += chunk
        if (out.split('\n').length > 150) child.kill('SIGKILL')
      })
      child.stderr.on('data', (chunk) => (err += chunk))
      child.on('exit', (code, signal) => {
        if (signal !== 'SIGKILL') return reject(new Error(`writer exited with ${code}: ${err}`))
        const complete = out.slice(0, out.lastIndexOf('\n') + 1)
        resolve(complete.split('\n').filter((line) => line.startsWith('+')).length)
      })
    })
    const reopened = await VectorDB.open(file, { learning: LEARNING })
    const sessions = reopened.learningStats().sessions
    assert.ok(acknowledged >= 100, `the writer acknowledged ${acknowledged}`)
    assert.ok(sessions >= acknowledged && sessions <= acknowledged + 1, `${sessions} sessions after ${acknowledged} acknowledged`)
    await reopened.close()
  })
})
