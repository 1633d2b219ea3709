// The panic boundary: a panic anywhere in the core reaches JS as an Error
// with code ERR_INTERNAL — from a sync call (thrown) and from async tasks on
// every pool (rejected) — and the process and the database keep serving.
// The panics are injected through a test-only hook of the raw binding
// (`internalArmPanic`), which the package's entry points do not expose.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import pkg from '../index.js'
import { assertCode } from './helpers.mjs'

const { VectorDB } = pkg
const binding = createRequire(import.meta.url)('../binding.js')

test('the panic hook is not reachable from the public entry points', () => {
  const require = createRequire(import.meta.url)
  assert.equal(pkg.internalArmPanic, undefined)
  assert.equal(require('../internal.js').internalArmPanic, undefined)
  assert.equal(typeof binding.internalArmPanic, 'function')
  assert.throws(() => binding.internalArmPanic('nowhere'), (e) => e.code === 'ERR_INVALID_ARGUMENT')
})

async function fixture() {
  const db = new VectorDB({ dimensions: 3 })
  await db.insertBatch(Array.from({ length: 20 }, (_, i) => ({ id: `i${i}`, vector: [1, i, i % 3] })))
  return db
}

async function assertServing(db, size) {
  assert.equal(db.size, size)
  assert.equal(db.searchSync([1, 5, 2], { k: 1 }).hits[0].id, 'i5')
  assert.equal((await db.search([1, 7, 1], { k: 1 })).hits[0].id, 'i7')
  await db.insert({ id: `after-${size}`, vector: [2, 2, 2] })
  assert.equal(db.size, size + 1)
}

const CASES = [
  ['searchSync (a sync call on the JS thread)', 'search', (db) => db.searchSync([1, 2, 3]), 'sync'],
  ['search (an async task on the search pool)', 'search', (db) => db.search([1, 2, 3])],
  ['searchBatch (an async task on the libuv pool)', 'search', (db) => db.searchBatch([[1, 2, 3]])],
  ['insert (an async write, holding the catalogue write lock)', 'insert', (db) => db.insert({ id: 'x', vector: [1, 1, 1] })],
  ['insertBatch (an async write)', 'insert', (db) => db.insertBatch([{ id: 'x', vector: [1, 1, 1] }])],
]

for (const [what, site, call, mode] of CASES) {
  test(`a panic inside ${what} is ERR_INTERNAL, and the database keeps serving`, async () => {
    const db = await fixture()
    binding.internalArmPanic(site)
    let error
    if (mode === 'sync') {
      try {
        call(db)
      } catch (e) {
        error = e
      }
      assert.ok(error, `${what} did not throw`)
    } else {
      const promise = call(db)
      assert.ok(promise instanceof Promise)
      error = await promise.then(() => assert.fail('resolved'), (e) => e)
    }
    assertCode(error, 'ERR_INTERNAL', what)
    assert.match(error.message, /injected panic/)
    // The failed call changed nothing, and everything still works.
    assert.equal(db.getSync('x'), null)
    await assertServing(db, 20)
    await db.close()
  })
}
