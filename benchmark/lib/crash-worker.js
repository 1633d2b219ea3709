'use strict'
// The child process of the crash loop (crash-cycle.js starts it, SIGKILLs
// it at a random moment, reopens the database and checks it). It opens the
// database (or creates it), then runs `concurrency` loops of seeded random
// operations until it is killed: inserts, batches, upserts, updates,
// deletes, searches with feedback, train(), save() and compact(), while
// automatic checkpoints fold the log in the background.
//
// Its configuration comes as one JSON line on stdin (see crash-cycle.js);
// stdin stays open, and its end (the parent died) ends the worker. It
// reports on stdout, one line per event, each written before the next
// operation starts:
//
//   ready {"items":n,"sessions":n}    opened; operations start now
//   b <op> <kind> <json>              operation <op> begins (what it writes)
//   a <op> <json>                     ... its Promise resolved: acknowledged
//   x <op> <code> <json message>      ... its Promise rejected
//   c <n>                             n automatic checkpoints have completed
//
// An item write's `b` line names each item it writes with the versions of
// its new vector and metadata (crash-content.js derives both from the id
// and the version), so the checker knows the old and the new state of
// every item an unacknowledged write touched. No two operations in flight
// touch the same item, so each item's state is one of exactly two.

const fs = require('node:fs')
const { VectorDB } = require('../..')
const { mulberry32 } = require('./rng')
const { vectorOf, metadataOf } = require('./crash-content')

// Operations that need an existing item fall back to an insert without one.
const NEEDS_TARGET = new Set(['upsertExisting', 'update', 'delete'])

function say(line) {
  // Synchronous for a pipe on Linux: the line is out before anything else
  // happens, so an acknowledgement the parent reads was given.
  process.stdout.write(`${line}\n`)
}

async function openOrCreate(config) {
  const { path, dimensions, durability, checkpoint, learning } = config
  if (fs.existsSync(path)) return VectorDB.open(path, { durability, checkpoint })
  return new VectorDB({ dimensions, metric: 'euclidean', path, durability, checkpoint, learning })
}

async function main(config) {
  const db = await openOrCreate(config)
  const random = mulberry32(config.seed)
  const int = (n) => Math.floor(random() * n)
  const live = new Set(config.live) // items believed present
  const busy = new Set() // items an operation in flight touches
  const kinds = Object.keys(config.mix)
  let next = 0
  let checkpoints = 0

  // Versions are unique across cycles, so every write is told apart.
  const versionOf = (op) => config.cycle * 1_000_000 + op
  const freshId = (op, i = null) => `k${config.cycle}-${op}${i === null ? '' : `.${i}`}`
  const metadataVersion = (version) => (random() < 0.15 ? null : version)

  function pickKind() {
    const overfull = live.size > config.targetItems
    let total = 0
    const weights = kinds.map((kind) => {
      let w = config.mix[kind]
      if (overfull && (kind === 'insert' || kind === 'batch' || kind === 'upsertNew')) w *= 0.25
      if (overfull && kind === 'delete') w *= 3
      total += w
      return w
    })
    let r = random() * total
    for (let i = 0; i < kinds.length; i++) {
      r -= weights[i]
      if (r < 0) return kinds[i]
    }
    return kinds[kinds.length - 1]
  }

  // A present item no operation in flight touches, or null.
  function pickTarget() {
    const ids = Array.from(live)
    if (ids.length === 0) return null
    for (let tries = 0; tries < 20; tries++) {
      const id = ids[int(ids.length)]
      if (!busy.has(id)) return id
    }
    return ids.find((id) => !busy.has(id)) ?? null
  }

  function noteCheckpoints() {
    const done = db.stats().checkpoints
    if (done > checkpoints) {
      checkpoints = done
      say(`c ${done}`)
    }
  }

  // Runs `work` as operation `op`, holding `ids` busy, and reports it;
  // resolves to its result, or undefined if it rejected.
  async function run(op, kind, payload, ids, work) {
    for (const id of ids) busy.add(id)
    say(`b ${op} ${kind} ${JSON.stringify(payload)}`)
    try {
      const result = await work()
      say(`a ${op} ${JSON.stringify(result ?? null)}`)
      return result
    } catch (error) {
      say(`x ${op} ${error.code ?? 'ERR_UNKNOWN'} ${JSON.stringify(String(error.message))}`)
      return undefined
    } finally {
      for (const id of ids) busy.delete(id)
    }
  }

  const item = (id, vv, mv) => ({ id, vector: vectorOf(id, vv, config.dimensions), metadata: metadataOf(id, mv) })

  async function operate() {
    const op = next++
    const version = versionOf(op)
    let kind = pickKind()
    let target = null
    if (NEEDS_TARGET.has(kind)) {
      target = pickTarget()
      if (target === null) kind = 'insert'
    }
    switch (kind) {
      case 'insert': {
        const id = freshId(op)
        const mv = metadataVersion(version)
        const written = { id, vector: vectorOf(id, version, config.dimensions) }
        if (mv !== null || random() < 0.5) written.metadata = metadataOf(id, mv)
        if ((await run(op, 'insert', [[id, version, mv]], [id], () => db.insert(written))) !== undefined) live.add(id)
        break
      }
      case 'batch': {
        const n = 2 + int(40)
        const states = Array.from({ length: n }, (_, i) => [freshId(op, i), version, metadataVersion(version)])
        const ids = states.map(([id]) => id)
        let items
        if (random() < 0.5) {
          items = states.map(([id, vv, mv]) => item(id, vv, mv))
        } else {
          // The flat form: one Float32Array of all vectors.
          const vectors = new Float32Array(n * config.dimensions)
          states.forEach(([id, vv], i) => vectors.set(vectorOf(id, vv, config.dimensions), i * config.dimensions))
          items = { ids, vectors, metadata: states.map(([id, , mv]) => metadataOf(id, mv)) }
        }
        // A quarter of the batches carry an AbortSignal that fires within
        // 0-3 ms: an aborted batch leaves tombstoned slots, some never
        // linked, which the next checkpoint writes (ERR_ABORTED is then the
        // expected outcome, and none of the batch may be there).
        const options = random() < 0.25 ? { signal: AbortSignal.timeout(int(4)) } : undefined
        if ((await run(op, 'batch', states, ids, () => db.insertBatch(items, options).then((got) => got.length))) !== undefined) {
          for (const id of ids) live.add(id)
        }
        break
      }
      case 'upsertNew':
      case 'upsertExisting': {
        const id = target ?? freshId(op)
        const mv = metadataVersion(version)
        if ((await run(op, 'upsert', [[id, version, mv]], [id], () => db.upsert(item(id, version, mv)))) !== undefined) live.add(id)
        break
      }
      case 'update': {
        // A new vector, new metadata, cleared metadata, or both.
        const shape = int(4)
        const changes = {}
        const payload = { id: target }
        if (shape === 0 || shape === 3) {
          changes.vector = vectorOf(target, version, config.dimensions)
          payload.vv = version
        }
        if (shape === 1 || shape === 3) {
          changes.metadata = metadataOf(target, version)
          payload.mv = version
        }
        if (shape === 2) {
          changes.metadata = null
          payload.mv = null
        }
        await run(op, 'update', payload, [target], () => db.update(target, changes))
        break
      }
      case 'delete': {
        live.delete(target)
        await run(op, 'delete', target, [target], () => db.delete(target))
        break
      }
      case 'feedback': {
        const query = vectorOf('query', version, config.dimensions)
        const { searchId, hits } = await db.search(query, { k: 10 })
        if (hits.length === 0) break
        const clicked = [hits[int(hits.length)].id]
        if (random() < 0.3) clicked.push(hits[int(hits.length)].id)
        const feedback = { searchId, clicked: Array.from(new Set(clicked)) }
        if (random() < 0.3) feedback.converted = [clicked[0]]
        await run(op, 'feedback', searchId, [], () => db.feedback(feedback).then(() => searchId))
        break
      }
      case 'train':
        await run(op, 'train', null, [], () => db.train().then((report) => ({ sessions: report.sessions, published: report.published })))
        break
      case 'save':
        await run(op, 'save', null, [], () => db.save())
        break
      case 'compact':
        await run(op, 'compact', null, [], () => db.compact())
        break
      default:
        throw new Error(`unknown operation kind ${kind}`)
    }
    noteCheckpoints()
  }

  say(`ready ${JSON.stringify({ items: db.size, sessions: db.learningStats().sessions })}`)
  setInterval(noteCheckpoints, 20)
  await Promise.all(
    Array.from({ length: config.concurrency }, async () => {
      for (;;) await operate()
    }),
  )
}

// The configuration is the first line on stdin.
let input = ''
process.stdin.setEncoding('utf8')
process.stdin.on('data', (chunk) => {
  if (input.includes('\n')) return
  input += chunk
  if (input.includes('\n')) {
    main(JSON.parse(input.slice(0, input.indexOf('\n')))).catch((error) => {
      process.stderr.write(`${error.stack}\n`)
      process.exit(2)
    })
  }
})
// The parent holds stdin open until it kills us: its end means the parent
// is gone, and a worker must not outlive it.
process.stdin.on('end', () => process.exit(3))
