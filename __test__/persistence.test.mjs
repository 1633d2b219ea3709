// Persistence: one file plus a write-ahead log. What was acknowledged is
// there after a save and reopen, after SIGKILL, after a torn log; damaged
// files are refused with ERR_CORRUPT_FILE and never altered; a failed save
// keeps the old file; one writer at a time.
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import zlib from 'node:zlib'
import pkg from '../index.js'
import { makeRng, clusteredData, nearbyQuery, assertCode, thrownBy, failureOf } from './helpers.mjs'
import { killRound } from './fixtures/kill.mjs'

const { VectorDB } = pkg
const INDEX_JS = new URL('../index.js', import.meta.url).pathname

let dir
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hnsw-gnn-persist-'))
})
after(() => fs.rmSync(dir, { recursive: true, force: true }))

let fileCount = 0
function freshPath() {
  return path.join(dir, `db-${fileCount++}.hgnn`)
}

/** A database file with every kind of change in it; returns what it holds. */
async function populated(file, { n = 3000, dim = 32, durability = 'batch' } = {}) {
  const { vectors, rng } = clusteredData({ n, dim, clusters: 12, seed: 11 })
  const db = new VectorDB({ dimensions: dim, metric: 'cosine', path: file, durability })
  await db.insertBatch(vectors.map((vector, i) => ({ id: `item-${i}`, vector, metadata: { i, group: i % 5 } })))
  for (let i = 0; i < n; i += 10) await db.delete(`item-${i}`)
  for (let i = 1; i < n; i += 10) await db.update(`item-${i}`, { metadata: { i, edited: true, tags: ['a', 'b'] } })
  for (let i = 2; i < n; i += 20) await db.update(`item-${i}`, { vector: vectors[(i * 7) % n] })
  await db.update('item-3', { metadata: null })
  await db.upsert({ id: 'extra', vector: vectors[42], metadata: { extra: true } })
  return { db, vectors, rng, ids: vectors.map((_, i) => `item-${i}`).concat(['extra']) }
}

function contents(db, ids) {
  return ids.map((id) => db.getSync(id))
}

describe('save and reopen', () => {
  test('gives identical results for 1,000 queries, the same items, and maps the vectors', async () => {
    const file = freshPath()
    const { db, vectors, rng, ids } = await populated(file)
    await db.save()
    const queries = Array.from({ length: 1000 }, () => nearbyQuery(rng, vectors, 0.3))
    const expected = queries.map((q) => db.searchSync(q, { k: 10, filter: q[0] > 0 ? { group: { $ne: 2 } } : undefined }).hits)
    const items = contents(db, ids)
    assert.equal(items.filter((item) => item !== null).length, db.size)
    await db.close()

    const reopened = await VectorDB.open(file)
    assert.ok(reopened instanceof VectorDB)
    const actual = queries.map((q) => reopened.searchSync(q, { k: 10, filter: q[0] > 0 ? { group: { $ne: 2 } } : undefined }).hits)
    assert.deepEqual(actual, expected)
    assert.deepEqual(contents(reopened, ids), items)
    const stats = reopened.stats()
    assert.equal(stats.items, db.size)
    assert.equal(stats.vectorsMapped, true)
    assert.equal(stats.mappedVectorBytes, stats.slots * 32 * 4, 'every vector is read from the mapped file')
    assert.equal(stats.generation, 1)
    assert.equal(stats.path, file)
    assert.equal(stats.fileMapping, 'mmap', 'a native build maps; only WASI reads files into memory')
    assert.equal(stats.fileLock, 'flock', 'a native build locks the log; only WASI goes without')
    assert.equal(stats.walHandle, 'held', 'a native build keeps the log open; only WASI reopens it')
    await reopened.close()
  })

  test('unsaved changes come back from the log, and save() folds them into the file', async () => {
    const file = freshPath()
    const { db, ids } = await populated(file, { n: 1500 })
    const items = contents(db, ids)
    assert.ok(db.stats().walBytes > 1500 * 32 * 4, 'every change is in the log')
    await db.close()
    const reopened = await VectorDB.open(file)
    assert.deepEqual(contents(reopened, ids), items)
    await reopened.save()
    assert.equal(reopened.stats().walBytes, 32, 'only the log header is left')
    await reopened.close()
    const again = await VectorDB.open(file, { readOnly: true })
    assert.deepEqual(contents(again, ids), items)
    assert.equal(again.stats().fileLock, null, 'a read-only open takes no lock')
  })

  test("durability 'none' keeps everything on close", async () => {
    const file = freshPath()
    const { db, ids } = await populated(file, { n: 800, durability: 'none' })
    assert.equal(db.stats().durability, 'none')
    const items = contents(db, ids)
    await db.close()
    const reopened = await VectorDB.open(file)
    assert.deepEqual(contents(reopened, ids), items)
    await reopened.close()
  })

  test('new VectorDB({ path }) creates a file and refuses one that exists, which VectorDB.open opens', async () => {
    const file = freshPath()
    const db = new VectorDB({ dimensions: 3, metric: 'dot', path: file })
    await db.insert({ id: 'a', vector: [1, 2, 3] })
    await db.close()
    const before = fs.readFileSync(file)
    const error = thrownBy(() => new VectorDB({ dimensions: 3, metric: 'dot', path: file }))
    assertCode(error, 'ERR_ALREADY_EXISTS')
    assert.match(error.message, /VectorDB\.open/)
    assert.deepEqual(fs.readFileSync(file), before, 'a refused create leaves the file as it was')
    const same = await VectorDB.open(file)
    assert.equal(same.size, 1)
    assert.equal(same.dimensions, 3)
    assert.equal(same.metric, 'dot')
    await same.close()
  })
})

describe('automatic checkpoints', () => {
  const randomItems = (rng, n, prefix) => Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}`, vector: rng.gaussianVector(8) }))

  test('the log is folded into the file once it passes checkpoint.bytes; nothing is lost', async () => {
    const file = freshPath()
    const rng = makeRng(31)
    const db = new VectorDB({ dimensions: 8, path: file, checkpoint: { bytes: 32768 } })
    const items = []
    for (let round = 0; round < 20; round++) {
      const batch = randomItems(rng, 50, `r${round}`)
      items.push(...batch)
      await db.insertBatch(batch)
    }
    // The checkpoint thread runs beside the writes; give it a moment.
    for (let i = 0; i < 100 && db.stats().walBytes >= 32768; i++) await new Promise((r) => setTimeout(r, 20))
    const stats = db.stats()
    assert.ok(stats.checkpoints >= 1, `${stats.checkpoints} checkpoints`)
    assert.equal(stats.generation, stats.checkpoints, 'each checkpoint is a save')
    assert.ok(stats.walBytes < 32768, `log still ${stats.walBytes} bytes`)
    assert.equal(stats.lastCheckpointError, null)
    await db.close()
    const reopened = await VectorDB.open(file)
    for (const item of items) assert.notEqual(reopened.getSync(item.id), null, item.id)
    assert.equal(reopened.size, items.length)
    await reopened.close()
  })

  test('a log older than checkpoint.ageMs is folded in; checkpoint: false never folds', async () => {
    const rng = makeRng(32)
    const aged = new VectorDB({ dimensions: 8, path: freshPath(), checkpoint: { ageMs: 100 } })
    const off = new VectorDB({ dimensions: 8, path: freshPath(), checkpoint: false })
    const tiny = await VectorDB.open(off.stats().path, { checkpoint: false }).catch((e) => e)
    assert.equal(tiny.code, 'ERR_LOCKED')
    await aged.insert(randomItems(rng, 1, 'a')[0])
    await off.insertBatch(randomItems(rng, 2000, 'b'))
    for (let i = 0; i < 100 && aged.stats().checkpoints === 0; i++) await new Promise((r) => setTimeout(r, 20))
    assert.equal(aged.stats().checkpoints, 1)
    assert.equal(off.stats().checkpoints, 0)
    assert.ok(off.stats().walBytes > 2000 * 32)
    await aged.close()
    await off.close()
  })

  test('bad checkpoint options are refused with ERR_INVALID_ARGUMENT', () => {
    for (const checkpoint of [5, 'yes', { bytes: 0 }, { bytes: -1 }, { ageMs: 1.5 }, { every: 3 }]) {
      assertCode(thrownBy(() => new VectorDB({ dimensions: 2, path: freshPath(), checkpoint })), 'ERR_INVALID_ARGUMENT')
    }
    assertCode(thrownBy(() => new VectorDB({ dimensions: 2, checkpoint: true })), 'ERR_INVALID_ARGUMENT')
  })
})

describe('crash safety', () => {
  test('every write acknowledged before SIGKILL is there after reopening (20 kills)', async () => {
    const file = freshPath()
    const rng = makeRng(99)
    const expected = new Map()
    let checked = 0
    for (let run = 0; run < 20; run++) {
      const killAfterMs = rng.int(300)
      const round = await killRound({ path: file, run, seed: 500 + run, expected, killAfterMs })
      assert.deepEqual(round.missing, [], `round ${run} (killed after ${killAfterMs} ms) lost acknowledged writes`)
      assert.deepEqual(round.resurrected, [], `round ${run}: acknowledged deletes came back`)
      checked += round.written
    }
    assert.ok(checked > 200, `only ${checked} acknowledged writes were checked`)
    console.log(`# crash test: 20 SIGKILLs, ${checked} acknowledged writes checked, none lost`)
  })

  test('a SIGKILL during automatic checkpoints loses no acknowledged write (15 kills, a checkpoint every 4 KiB of log)', async () => {
    const file = freshPath()
    const rng = makeRng(98)
    const expected = new Map()
    let checked = 0
    let checkpoints = 0
    for (let run = 0; run < 15; run++) {
      const killAfterMs = 100 + rng.int(500)
      const round = await killRound({ path: file, run, seed: 700 + run, expected, checkpointBytes: 4096, killAfterMs })
      assert.deepEqual(round.missing, [], `round ${run} (killed after ${killAfterMs} ms) lost acknowledged writes`)
      assert.deepEqual(round.resurrected, [], `round ${run}: acknowledged deletes came back`)
      checked += round.written
      checkpoints += round.checkpoints
    }
    assert.ok(checkpoints >= 15, `only ${checkpoints} checkpoints completed in 15 rounds`)
    console.log(`# checkpoint crash test: 15 SIGKILLs, ${checked} acknowledged writes checked, none lost; ${checkpoints} checkpoints completed`)
  })

  test('a torn log tail is cut off; everything before it stays', async () => {
    const file = freshPath()
    const db = new VectorDB({ dimensions: 2, metric: 'euclidean', path: file, durability: 'fsync' })
    for (let i = 0; i < 5; i++) await db.insert({ id: `t${i}`, vector: [i, i] })
    await db.close()
    const log = `${file}-wal`
    const full = fs.readFileSync(log)
    fs.writeFileSync(log, Buffer.concat([full, Buffer.from([7, 0, 0, 0, 1, 2])]))
    let reopened = await VectorDB.open(file)
    assert.equal(reopened.size, 5)
    await reopened.close()
    assert.equal(fs.statSync(log).size, full.length, 'the torn tail was truncated')
    fs.writeFileSync(log, full.subarray(0, full.length - 3))
    reopened = await VectorDB.open(file)
    assert.equal(reopened.size, 4, 'the last, torn record is dropped')
    assert.equal(reopened.getSync('t4'), null)
    await reopened.close()
  })
})

// -------------------------------------------------------- damaged files --

/** The section table: `[{ kind, param, offset, length }]`. */
function sections(bytes) {
  const count = bytes.readUInt32LE(16)
  return Array.from({ length: count }, (_, i) => {
    const at = 128 + 32 * i
    return {
      kind: bytes.readUInt32LE(at),
      param: bytes.readUInt32LE(at + 4),
      offset: Number(bytes.readBigUInt64LE(at + 8)),
      length: Number(bytes.readBigUInt64LE(at + 16)),
    }
  })
}

/** Recomputes the header CRC, so only the deeper checks can object. */
function resealHeader(bytes) {
  const tableEnd = 128 + 32 * bytes.readUInt32LE(16)
  const copy = Buffer.from(bytes.subarray(0, tableEnd))
  copy.writeUInt32LE(0, 124)
  bytes.writeUInt32LE(zlib.crc32(copy), 124)
  return bytes
}

const SECTION_NAMES = { 1: 'vectors', 2: 'levels', 3: 'graph', 4: 'ids and metadata' }

describe('damaged files', () => {
  let good
  let goodLog
  const file = () => path.join(dir, 'damaged.hgnn')

  before(async () => {
    const { db } = await populated(file(), { n: 500, dim: 8 })
    await db.save()
    await db.insert({ id: 'logged', vector: new Float32Array(8).fill(0.5) })
    await db.close()
    good = fs.readFileSync(file())
    goodLog = fs.readFileSync(`${file()}-wal`)
  })

  /** Opening `bytes` must fail with `code` and leave the files as they were. */
  async function assertRefused(bytes, code, mention) {
    fs.writeFileSync(file(), bytes)
    fs.writeFileSync(`${file()}-wal`, goodLog)
    const { error } = await failureOf(() => VectorDB.open(file()))
    assertCode(error, code)
    if (mention) assert.match(error.message, mention)
    assert.ok(fs.readFileSync(file()).equals(bytes), 'a failed open does not modify the file')
    assert.ok(fs.readFileSync(`${file()}-wal`).equals(goodLog), 'a failed open does not modify the log')
    return error
  }

  test('the intact file opens (the baseline for the cases below)', async () => {
    fs.writeFileSync(file(), good)
    fs.writeFileSync(`${file()}-wal`, goodLog)
    const db = await VectorDB.open(file())
    assert.ok(db.getSync('logged') !== null)
    await db.close()
  })

  test('a flipped byte in each section names that section', async () => {
    const table = sections(good)
    assert.ok(table.length >= 4)
    for (const section of table) {
      for (const where of [0, Math.floor(section.length / 2), section.length - 1]) {
        if (section.length === 0) continue
        const bad = Buffer.from(good)
        bad[section.offset + where] ^= 0x40
        const name = SECTION_NAMES[section.kind]
        await assertRefused(bad, 'ERR_CORRUPT_FILE', new RegExp(name))
      }
    }
    const bad = Buffer.from(good)
    bad[60] ^= 1 // live count, inside the header
    await assertRefused(bad, 'ERR_CORRUPT_FILE', /header/)
  })

  test('truncated files are corrupt', async () => {
    for (const length of [0, 10, 127, 200, good.length >> 1, good.length - 1]) {
      await assertRefused(good.subarray(0, length), 'ERR_CORRUPT_FILE')
    }
  })

  test('huge counts behind a valid header checksum are refused without a giant allocation', async () => {
    const cases = [
      [48, 2n ** 32n - 3n, /vectors|levels|slots/], // slot count
      [56, 2n ** 63n, /live/], // live count
    ]
    for (const [at, value, mention] of cases) {
      const bad = Buffer.from(good)
      bad.writeBigUInt64LE(value, at)
      await assertRefused(resealHeader(bad), 'ERR_CORRUPT_FILE', mention)
    }
    const manySections = Buffer.from(good)
    manySections.writeUInt32LE(0xffffffff, 16)
    await assertRefused(manySections, 'ERR_CORRUPT_FILE', /sections/)
    const hugeSection = Buffer.from(good)
    hugeSection.writeBigUInt64LE(2n ** 62n, 128 + 16)
    await assertRefused(resealHeader(hugeSection), 'ERR_CORRUPT_FILE', /section table/)
  })

  test('a newer format version and foreign files are refused with ERR_UNSUPPORTED_FORMAT', async () => {
    const newer = Buffer.from(good)
    newer.writeUInt32LE(newer.readUInt32LE(8) + 1, 8)
    await assertRefused(resealHeader(newer), 'ERR_UNSUPPORTED_FORMAT', /upgrade/)
    await assertRefused(Buffer.from('{"not": "a database"}'.padEnd(400)), 'ERR_UNSUPPORTED_FORMAT')
  })

  test('a log that belongs to another database is refused', async () => {
    const other = freshPath()
    const db = new VectorDB({ dimensions: 8, metric: 'cosine', path: other })
    await db.insert({ id: 'x', vector: new Float32Array(8).fill(1) })
    await db.close()
    fs.writeFileSync(file(), good)
    fs.copyFileSync(`${other}-wal`, `${file()}-wal`)
    const { error } = await failureOf(() => VectorDB.open(file()))
    assertCode(error, 'ERR_CORRUPT_FILE')
    assert.match(error.message, /write-ahead log/)
  })
})

describe('saving and locking', () => {
  test('a failed save rejects with ERR_IO and keeps the previous file', async () => {
    const file = freshPath()
    const db = new VectorDB({ dimensions: 2, metric: 'euclidean', path: file })
    await db.insert({ id: 'a', vector: [1, 1] })
    await db.save()
    await db.insert({ id: 'b', vector: [2, 2] })
    const before = fs.readFileSync(file)
    fs.mkdirSync(`${file}.tmp`) // the temp file cannot be created
    const { error } = await failureOf(() => db.save())
    assertCode(error, 'ERR_IO')
    assert.ok(fs.readFileSync(file).equals(before), 'the old file is untouched')
    assert.equal(db.stats().generation, 1)
    await db.insert({ id: 'c', vector: [3, 3] }) // still writable
    await db.close()
    const reopened = await VectorDB.open(file)
    assert.equal(reopened.size, 3, 'the log still holds what the failed save did not')
    fs.rmdirSync(`${file}.tmp`)
    await reopened.save()
    assert.equal(reopened.stats().generation, 2)
    await reopened.close()
  })

  test('a second writer gets ERR_LOCKED, in this process and in another; readers may open', async () => {
    const file = freshPath()
    const db = new VectorDB({ dimensions: 2, metric: 'euclidean', path: file })
    await db.insert({ id: 'a', vector: [1, 1] })
    await db.save()
    await db.insert({ id: 'b', vector: [2, 2] })
    assertCode((await failureOf(() => VectorDB.open(file))).error, 'ERR_LOCKED')
    assertCode(thrownBy(() => new VectorDB({ dimensions: 2, metric: 'euclidean', path: file })), 'ERR_LOCKED')
    const script = `
      const { VectorDB } = require(${JSON.stringify(INDEX_JS)})
      const file = ${JSON.stringify(file)}
      ;(async () => {
        const writer = await VectorDB.open(file).then(() => 'opened', (e) => e.code)
        const reader = await VectorDB.open(file, { readOnly: true })
        const write = await reader.insert({ id: 'z', vector: [0, 0] }).then(() => 'ok', (e) => e.code)
        console.log(JSON.stringify({ writer, size: reader.size, b: reader.getSync('b') !== null, write }))
      })()`
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' })
    assert.equal(child.status, 0, child.stderr)
    assert.deepEqual(JSON.parse(child.stdout), { writer: 'ERR_LOCKED', size: 2, b: true, write: 'ERR_READ_ONLY' })
    await db.close()
    const next = await VectorDB.open(file)
    assert.equal(next.size, 2)
    await next.close()
  })

  test('bad options and calls after close get stable codes', async () => {
    const missing = path.join(dir, 'missing.hgnn')
    assertCode((await failureOf(() => VectorDB.open(missing))).error, 'ERR_IO')
    assert.equal(fs.existsSync(`${missing}-wal`), false, 'opening a missing file creates nothing')
    assertCode(thrownBy(() => new VectorDB({ dimensions: 2, durability: 'fsync' })), 'ERR_INVALID_ARGUMENT')
    assertCode(thrownBy(() => new VectorDB({ dimensions: 2, path: freshPath(), durability: 'sometimes' })), 'ERR_INVALID_ARGUMENT')
    assertCode(thrownBy(() => new VectorDB({ dimensions: 2, path: path.join(dir, 'no', 'such', 'dir.hgnn') })), 'ERR_IO')
    const memory = new VectorDB({ dimensions: 2 })
    assertCode((await failureOf(() => memory.save())).error, 'ERR_INVALID_ARGUMENT')

    const db = new VectorDB({ dimensions: 2, metric: 'euclidean', path: freshPath() })
    await db.insert({ id: 'a', vector: [1, 1] })
    await db.close()
    await db.close() // twice is fine
    for (const call of [() => db.insert({ id: 'b', vector: [1, 1] }), () => db.search([1, 1]), () => db.get('a'), () => db.save(), () => db.delete('a')]) {
      assertCode((await failureOf(call)).error, 'ERR_CLOSED')
    }
    assertCode(thrownBy(() => db.searchSync([1, 1])), 'ERR_CLOSED')
    assertCode(thrownBy(() => db.getSync('a')), 'ERR_CLOSED')
  })
})

describe('readers that follow the writer', () => {
  /** Runs `body` (an async function's text, with `VectorDB` and `file` in scope) in another process. */
  function inAnotherProcess(file, body) {
    const script = `
      const { VectorDB } = require(${JSON.stringify(INDEX_JS)})
      const file = ${JSON.stringify(file)}
      ;(async () => { ${body} })().catch((e) => { console.error(e); process.exit(1) })`
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' })
    assert.equal(child.status, 0, child.stderr)
  }

  test('refresh() picks up what a writer in another process logged and saved', async () => {
    const file = freshPath()
    const { vectors } = clusteredData({ n: 400, dim: 16, clusters: 4, seed: 5 })
    const item = (i) => ({ id: `item-${i}`, vector: vectors[i], metadata: { i } })
    const first = new VectorDB({ dimensions: 16, path: file })
    await first.insertBatch(vectors.slice(0, 200).map((_, i) => item(i)))
    await first.save()
    await first.close()

    const reader = await VectorDB.open(file, { readOnly: true })
    assert.equal(reader.size, 200)
    assert.equal(await reader.refresh(), false, 'nothing changed yet')
    const generation = reader.stats().generation

    // Logged, not saved: the reader finds it in the log.
    const items = JSON.stringify(vectors.slice(200, 300).map((v, i) => ({ id: `item-${200 + i}`, vector: Array.from(v), metadata: { i: 200 + i } })))
    inAnotherProcess(file, `
      const writer = await VectorDB.open(file)
      await writer.insertBatch(${items})
      await writer.update('item-7', { metadata: { i: 7, edited: true } })
      await writer.close()`)
    assert.equal(reader.size, 200, 'a reader sees nothing new until it refreshes')
    const searching = reader.search(vectors[250], { k: 1 })
    assert.equal(await reader.refresh(), true)
    assert.equal((await searching).hits.length, 1, 'a search in flight finishes')
    assert.equal(reader.size, 300)
    assert.equal((await reader.search(vectors[250], { k: 1 })).hits[0].id, 'item-250')
    assert.deepEqual((await reader.get('item-7')).metadata, { i: 7, edited: true })
    assert.equal(reader.stats().generation, generation, 'no save yet')
    assert.equal(await reader.refresh(), false)

    // Saved, then more logged: a new generation and the log after it.
    inAnotherProcess(file, `
      const writer = await VectorDB.open(file)
      await writer.save()
      await writer.delete('item-0')
      await writer.close()`)
    assert.equal(await reader.refresh(), true)
    assert.equal(reader.stats().generation, generation + 1)
    assert.equal(reader.size, 299)
    assert.equal(await reader.get('item-0'), null)
    assert.equal(reader.stats().readOnly, true)

    await reader.close()
    assertCode((await failureOf(() => reader.refresh())).error, 'ERR_CLOSED')
  })

  test('refresh() is for read-only databases', async () => {
    const writer = new VectorDB({ dimensions: 2, path: freshPath() })
    assertCode((await failureOf(() => writer.refresh())).error, 'ERR_INVALID_ARGUMENT')
    await writer.close()
    const memory = new VectorDB({ dimensions: 2 })
    assertCode((await failureOf(() => memory.refresh())).error, 'ERR_INVALID_ARGUMENT')
  })
})
