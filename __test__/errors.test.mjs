// Errors beyond the generated bad-input matrix (bad-input.test.mjs):
// failures that must not lose or leak data, messages that name what was
// wrong, and calls that are not errors.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import pkg from '../index.js'
import { makeRng, assertCode, thrownBy } from './helpers.mjs'

const { VectorDB } = pkg

const DIM = 4
const N = 50

/** A small cosine database with metadata; ids item-0 … item-49. */
async function fixture(metric = 'cosine') {
  const db = new VectorDB({ dimensions: DIM, metric })
  const rng = makeRng(2024)
  await db.insertBatch(
    Array.from({ length: N }, (_, i) => ({
      id: `item-${i}`,
      vector: rng.gaussianVector(DIM),
      metadata: { i, group: i % 3, tags: [`t${i % 5}`] },
    })),
  )
  return db
}

const PROBES = [
  [1, 0, 0, 0],
  [0.3, -0.2, 0.9, 0.1],
  [-1, -1, 0.5, 2],
]

/** Everything observable about the database's contents. */
function snapshot(db) {
  const ids = Array.from({ length: N + 5 }, (_, i) => `item-${i}`).concat(['new', 'dup', 'fresh'])
  return {
    size: db.size,
    items: ids.map((id) => db.getSync(id)),
    searches: PROBES.map((q) => db.searchSync(q, { k: N + 10 }).hits),
  }
}

async function assertUnchangedAndWorking(db, before) {
  const after = snapshot(db)
  assert.equal(after.size, before.size, 'size changed after a failed call')
  assert.deepEqual(after.items, before.items, 'stored items changed after a failed call')
  assert.deepEqual(after.searches, before.searches, 'search results changed after a failed call')
  // Still usable for writes and reads.
  const id = await db.insert({ id: 'after-error', vector: [0.5, 0.5, -0.5, 0.25], metadata: { ok: true } })
  assert.equal(id, 'after-error')
  assert.equal(db.size, before.size + 1)
  const hit = db.searchSync([0.5, 0.5, -0.5, 0.25], { k: 1 }).hits[0]
  assert.equal(hit.id, 'after-error')
  assert.deepEqual(hit.metadata, { ok: true })
}

/**
 * Calls a Promise-returning method: it must return a Promise (not throw)
 * that rejects with an Error carrying `code`.
 */
async function assertRejects(call, code, what) {
  let promise
  assert.doesNotThrow(() => {
    promise = call()
  }, `${what} threw synchronously instead of returning a rejected Promise`)
  assert.ok(promise instanceof Promise, `${what} did not return a Promise`)
  await assert.rejects(promise, (error) => {
    assertCode(error, code, what)
    return true
  })
}


describe('failures that must not lose or leak data', () => {
  test('a batch with a duplicate inside stores nothing, not even the items before it', async () => {
    const db = await fixture()
    await assertRejects(
      () => db.insertBatch([{ id: 'x1', vector: [1, 2, 3, 4] }, { id: 'x2', vector: [2, 2, 3, 4] }, { id: 'x1', vector: [3, 2, 3, 4] }]),
      'ERR_DUPLICATE_ID',
      'insertBatch',
    )
    assert.equal(db.size, N)
    assert.equal(db.getSync('x1'), null)
    assert.equal(db.getSync('x2'), null)
    // The ids are still free afterwards.
    await db.insertBatch([{ id: 'x1', vector: [1, 2, 3, 4] }, { id: 'x2', vector: [2, 2, 3, 4] }])
    assert.equal(db.size, N + 2)
  })

  test('a batch with generated ids and one bad vector stores none of the generated items', async () => {
    const db = await fixture()
    const batch = Array.from({ length: 500 }, (_, i) => ({ vector: [1, i + 1, 2, 3] }))
    batch[499] = { vector: [1, 2, 3] }
    await assertRejects(() => db.insertBatch(batch), 'ERR_DIMENSION_MISMATCH', 'insertBatch')
    assert.equal(db.size, N)
    const hits = db.searchSync([1, 1, 2, 3], { k: 100 }).hits
    assert.equal(hits.length, N)
    assert.ok(hits.every((h) => h.id.startsWith('item-')))
  })

  test('a failed update keeps both the old vector and the old metadata', async () => {
    const db = await fixture()
    const before = db.getSync('item-5')
    await assertRejects(() => db.update('item-5', { vector: [NaN, 1, 1, 1], metadata: { replaced: true } }), 'ERR_INVALID_VECTOR', 'update')
    assert.deepEqual(db.getSync('item-5'), before)
  })

  test('update of a deleted id rejects with ERR_NOT_FOUND and does not resurrect it', async () => {
    const db = await fixture()
    assert.equal(await db.delete('item-4'), true)
    await assertRejects(() => db.update('item-4', { metadata: { back: true } }), 'ERR_NOT_FOUND', 'update')
    assert.equal(db.getSync('item-4'), null)
    assert.equal(db.size, N - 1)
  })

  test('the error message names the offending value', async () => {
    const db = await fixture()
    const dup = await db.insert({ id: 'item-0', vector: [1, 2, 3, 4] }).catch((e) => e)
    assert.match(dup.message, /item-0/)
    const missing = await db.update('ghost-id', {}).catch((e) => e)
    assert.match(missing.message, /ghost-id/)
    const dims = thrownBy(() => db.searchSync([1, 2, 3]))
    assert.match(dims.message, /3/)
    assert.match(dims.message, /4/)
    const filter = thrownBy(() => db.searchSync([1, 2, 3, 4], { filter: { price: { $foo: 1 } } }))
    assert.match(filter.message, /\$foo/)
  })
})

describe('not errors', () => {
  test('get of an unknown id resolves null; getSync returns null', async () => {
    const db = await fixture()
    assert.equal(await db.get('nope'), null)
    assert.equal(await db.get(''), null)
    assert.equal(db.getSync('nope'), null)
  })

  test('delete of an unknown id resolves false and changes nothing', async () => {
    const db = await fixture()
    const before = snapshot(db)
    assert.equal(await db.delete('nope'), false)
    assert.equal(await db.delete(''), false)
    await assertUnchangedAndWorking(db, before)
  })

  test('huge k (100000) on a 50-item database returns all 50 items', async () => {
    const db = await fixture()
    const q = [0.1, 0.2, 0.3, 0.4]
    for (const res of [db.searchSync(q, { k: 100000 }), await db.search(q, { k: 100000 }), (await db.searchBatch([q], { k: 100000 }))[0]]) {
      assert.equal(res.hits.length, N)
      assert.equal(new Set(res.hits.map((h) => h.id)).size, N)
    }
  })

  test('a zero vector is valid under euclidean and dot', async () => {
    for (const metric of ['euclidean', 'dot']) {
      const db = new VectorDB({ dimensions: 3, metric })
      await db.insert({ id: 'zero', vector: [0, 0, 0] })
      await db.insert({ id: 'one', vector: [1, 0, 0] })
      assert.equal(db.searchSync([0, 0, 0], { k: 2 }).hits.length, 2)
    }
  })

  test('a filter of null or undefined means no filter', async () => {
    const db = await fixture()
    assert.equal(db.searchSync([1, 2, 3, 4], { filter: undefined }).hits.length, 10)
    assert.equal((await db.search([1, 2, 3, 4], { filter: null })).hits.length, 10)
  })
})
