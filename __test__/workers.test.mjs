// handle() / VectorDB.attach(): worker_threads share one database — no
// copy, one writer lock, one learner. Each holder closes itself; the last
// close closes the database.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Worker } from 'node:worker_threads'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pkg from '../index.js'
import { makeRng, assertCode, thrownBy, failureOf } from './helpers.mjs'

const { VectorDB } = pkg
const INDEX_JS = new URL('../index.js', import.meta.url).pathname

/** Runs `body` (an async function's text with `VectorDB` and `workerData` in scope) in a worker; resolves to what it returns. */
function inWorker(body, workerData) {
  const source = `
    const { workerData, parentPort } = require('node:worker_threads')
    const { VectorDB } = require(${JSON.stringify(INDEX_JS)})
    ;(async () => { ${body} })().then((value) => parentPort.postMessage({ value }), (error) => parentPort.postMessage({ error: { code: error.code, message: error.message } }))`
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData })
    worker.once('message', (message) => (message.error ? reject(Object.assign(new Error(message.error.message), message.error)) : resolve(message.value)))
    worker.once('error', reject)
  })
}

test('two workers write to and search the database the main thread holds', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hnsw-gnn-workers-'))
  try {
    const file = path.join(dir, 'shared.hgnn')
    const rng = makeRng(3)
    const vector = () => Array.from({ length: 8 }, () => rng.gaussian())
    const db = new VectorDB({ dimensions: 8, path: file, learning: { background: false } })
    await db.insertBatch(Array.from({ length: 100 }, (_, i) => ({ id: `main-${i}`, vector: vector() })))
    const handle = db.handle()
    const work = (name) => `
      const db = VectorDB.attach(workerData.handle)
      const items = workerData.vectors.map((vector, i) => ({ id: '${name}-' + i, vector }))
      await db.insertBatch(items)
      const found = await db.search(items[3].vector, { k: 1 })
      const size = db.size
      await db.close()
      const after = await db.search(items[3].vector).then(() => 'ok', (e) => e.code)
      return { nearest: found.hits[0].id, size, after }`
    const vectors = (n) => Array.from({ length: n }, vector)
    const [a, b] = await Promise.all([
      inWorker(work('a'), { handle, vectors: vectors(50) }),
      inWorker(work('b'), { handle, vectors: vectors(50) }),
    ])
    assert.equal(a.nearest, 'a-3')
    assert.equal(b.nearest, 'b-3')
    assert.ok(a.size >= 150 && b.size >= 150, 'each worker sees the main thread’s items and its own')
    assert.equal(a.after, 'ERR_CLOSED', 'a worker’s closed holder refuses calls')
    assert.equal(db.size, 200, 'the main thread sees both workers’ writes')
    assert.equal((await db.search(vectors(1)[0], { k: 5 })).hits.length, 5, 'and is still open after they closed')
    assertCode((await failureOf(() => VectorDB.open(file))).error, 'ERR_LOCKED')

    // The last holder's close closes the database and frees the file.
    await db.close()
    assertCode(thrownBy(() => VectorDB.attach(handle)), 'ERR_NOT_FOUND')
    const reopened = await VectorDB.open(file)
    assert.equal(reopened.size, 200, 'every worker write was logged')
    await reopened.close()
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('a worker holding the database keeps it open after the main thread closes', async () => {
  const db = new VectorDB({ dimensions: 2 })
  await db.insert({ id: 'a', vector: [1, 0] })
  const handle = db.handle()
  const attached = VectorDB.attach(handle)
  await db.close()
  assertCode(thrownBy(() => db.handle()), 'ERR_CLOSED')
  await assert.rejects(db.get('a'), { code: 'ERR_CLOSED' })
  assert.equal((await attached.get('a')).id, 'a', 'the other holder still works')
  await attached.close()
  assertCode(thrownBy(() => VectorDB.attach(handle)), 'ERR_NOT_FOUND')
  assertCode(thrownBy(() => VectorDB.attach('hnsw-gnn:nonsense')), 'ERR_NOT_FOUND')
  await attached.close() // closing twice is harmless
})
