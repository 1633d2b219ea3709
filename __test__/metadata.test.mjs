// Metadata is stored exactly as JSON.stringify makes it and comes back
// exactly as stored: after get, in search hits, after a save and reopen,
// and after a replay of the write-ahead log. (What JSON would change is
// refused: see bad-input.test.mjs.)
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pkg from '../index.js'
import { makeRng } from './helpers.mjs'

const { VectorDB, limits } = pkg
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hnsw-gnn-metadata-'))

class Money {
  constructor(cents) {
    this.cents = cents
  }
  toJSON() {
    return { amount: this.cents / 100, currency: 'EUR' }
  }
}

/** Doubles that stress a decimal round trip: ulps, extremes, integers past 2^53. */
function awkwardNumbers(rng) {
  const fixed = [0.1, 0.2, 0.1 + 0.2, 1 / 3, -0.5, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308,
    2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 2 ** 60, -(2 ** 60), 2 ** 64, 1e21, 123456789012345680000, 4294967296, -2147483649]
  const random = Array.from({ length: 200 }, () => {
    const bits = new DataView(new ArrayBuffer(8))
    bits.setUint32(0, Math.floor(rng.uniform() * 2 ** 32))
    bits.setUint32(4, Math.floor(rng.uniform() * 2 ** 32))
    const x = bits.getFloat64(0)
    return Number.isFinite(x) ? x : rng.gaussian() * 1e10
  })
  return [...fixed, ...random]
}

function nested(depth) {
  let value = { leaf: true }
  for (let i = 1; i < depth; i++) value = { x: value }
  return value
}

const rng = makeRng(99)
const NUMBERS = awkwardNumbers(rng)
const CASES = [
  ['a Date, stored as its ISO string', { at: new Date(Date.UTC(2026, 11, 1, 12, 30)) }, { at: '2026-12-01T12:30:00.000Z' }],
  ['an object with toJSON, stored as what toJSON returns', { price: new Money(1999) }, { price: { amount: 19.99, currency: 'EUR' } }],
  ['undefined fields, dropped', { a: 1, b: undefined, c: { d: undefined } }, { a: 1, c: {} }],
  ['undefined array elements, null', { list: [1, undefined, 3] }, { list: [1, null, 3] }],
  ['boxed primitives, unboxed', { n: Object(3), s: Object('x'), b: Object(false) }, { n: 3, s: 'x', b: false }],
  ['symbol keys, skipped', { a: 1, [Symbol('hidden')]: 2 }, { a: 1 }],
  ['awkward numbers, bit for bit', { numbers: NUMBERS }, { numbers: NUMBERS }],
  ['unicode, in values and names', { text: 'naïve 漢字 🎉', '名前': 'ü' }, { text: 'naïve 漢字 🎉', '名前': 'ü' }],
  [`metadata nested ${limits.maxMetadataDepth} levels (the limit)`, nested(limits.maxMetadataDepth), nested(limits.maxMetadataDepth)],
  ['a 1 MB string', { big: 'y'.repeat(1 << 20) }, { big: 'y'.repeat(1 << 20) }],
]

/** Asserts equality with numbers compared bit for bit (-0 and 0 apart, as Object.is). */
function assertSameJson(actual, expected, what) {
  assert.deepStrictEqual(actual, expected, what)
  const numbers = (value, out = []) => {
    if (typeof value === 'number') out.push(value)
    else if (value && typeof value === 'object') for (const v of Object.values(value)) numbers(v, out)
    return out
  }
  const [a, e] = [numbers(actual), numbers(expected)]
  for (let i = 0; i < e.length; i++) assert.ok(Object.is(a[i], e[i]), `${what}: number ${i} is ${a[i]}, stored ${e[i]}`)
}

describe('metadata is stored as JSON.stringify makes it, and read back exactly', () => {
  test('through insert, insertBatch (both forms), upsert and update; get, search, save + reopen and log replay', async () => {
    const file = path.join(dir, 'fidelity.hgnn')
    const db = new VectorDB({ dimensions: 3, path: file })
    const vector = (i) => [1, i + 1, (i * 7) % 5]
    const writes = []
    for (const [i, [what, metadata, stored]] of CASES.entries()) {
      const form = i % 5
      const id = `case-${i}`
      if (form === 0) await db.insert({ id, vector: vector(i), metadata })
      else if (form === 1) await db.insertBatch([{ id, vector: vector(i), metadata }])
      else if (form === 2) await db.insertBatch({ ids: [id], vectors: new Float32Array(vector(i)), metadata: [metadata] })
      else if (form === 3) await db.upsert({ id, vector: vector(i), metadata })
      else {
        await db.insert({ id, vector: vector(i), metadata: { before: true } })
        await db.update(id, { metadata })
      }
      writes.push([id, what, stored])
    }
    const check = (db, when) => {
      for (const [id, what, stored] of writes) {
        assertSameJson(db.getSync(id).metadata, stored, `${what} (${when}, get)`)
        const hit = db.searchSync(db.getSync(id).vector, { k: writes.length, rerank: false }).hits.find((h) => h.id === id)
        assertSameJson(hit.metadata, stored, `${what} (${when}, search hit)`)
      }
    }
    check(db, 'in memory')
    await db.close() // unsaved: the next open replays the log
    const replayed = await VectorDB.open(file)
    check(replayed, 'after log replay')
    await replayed.save()
    await replayed.close()
    const reopened = await VectorDB.open(file, { readOnly: true })
    check(reopened, 'after save and reopen')
    await reopened.close()
  })

  test('a Date in a filter matches the Date stored, as the same ISO text', async () => {
    const db = new VectorDB({ dimensions: 2 })
    const days = [1, 2, 3, 4].map((d) => new Date(Date.UTC(2026, 0, d)))
    await db.insertBatch(days.map((at, i) => ({ id: `d${i}`, vector: [1, i], metadata: { at } })))
    const ids = (filter) => db.searchSync([1, 0], { k: 10, filter }).hits.map((h) => h.id).sort()
    assert.deepEqual(ids({ at: days[2] }), ['d2'])
    assert.deepEqual(ids({ at: { $gte: days[1], $lt: days[3] } }), ['d1', 'd2'])
  })

  test('a refused value stores nothing, in any write form', async () => {
    const db = new VectorDB({ dimensions: 2 })
    await db.insert({ id: 'keep', vector: [1, 0], metadata: { v: 1 } })
    const bad = { n: 10n }
    const attempts = [
      () => db.insert({ id: 'x', vector: [1, 1], metadata: bad }),
      () => db.insertBatch([{ id: 'y', vector: [1, 1] }, { id: 'x', vector: [1, 1], metadata: bad }]),
      () => db.insertBatch({ ids: ['y', 'x'], vectors: new Float32Array(4).fill(1), metadata: [null, bad] }),
      () => db.upsert({ id: 'keep', vector: [0, 1], metadata: bad }),
      () => db.update('keep', { metadata: bad }),
    ]
    for (const attempt of attempts) {
      await assert.rejects(attempt(), (e) => e.code === 'ERR_INVALID_ARGUMENT' && /BigInt/.test(e.message))
    }
    assert.equal(db.size, 1)
    assert.deepEqual(db.getSync('keep').metadata, { v: 1 })
    assert.deepEqual(Array.from(db.getSync('keep').vector), [1, 0])
  })
})
