'use strict'
// The crash loop's model of what the database must hold, and the check of
// a reopened database against it.
//
// The model carries across cycles: every item ever written, with the
// versions of its acknowledged vector and metadata (crash-content.js), or
// `null` once its delete was acknowledged; and the number of feedback
// sessions the log holds. A cycle's worker output (crash-worker.js) moves
// it forward: an acknowledged operation fixes its items' new state; one in
// flight at the kill leaves each of its items in the old state or the new
// one, never anything else, and the check settles which from what the
// reopened database holds.

const { isDeepStrictEqual } = require('node:util')
const { vectorOf, metadataOf } = require('./crash-content')

const ITEM_WRITES = new Set(['insert', 'batch', 'upsert', 'update', 'delete'])

class CrashModel {
  constructor() {
    /** id → [vectorVersion, metadataVersion | null], or null once deleted. */
    this.items = new Map()
    /** Feedback sessions the log holds (exact after each check). */
    this.sessions = 0
    /**
     * Search ids whose feedback was acknowledged, or in flight at a kill
     * (it may be logged): only to explain lost sessions.
     */
    this.searchIds = new Set()
    /**
     * Items a failed check found wrong: no longer checked or written, so a
     * loss is counted once, not again in every later cycle.
     */
    this.quarantined = new Set()
  }

  /** Items the model holds present. */
  presentCount() {
    let n = 0
    for (const state of this.items.values()) if (state !== null) n++
    return n
  }

  presentIds() {
    return Array.from(this.items).filter(([, state]) => state !== null).map(([id]) => id)
  }

  quarantine(ids) {
    for (const id of ids) {
      this.items.delete(id)
      this.quarantined.add(id)
    }
  }
}

/**
 * Parses a worker's complete stdout lines into
 * `{ ready, ops: Map op → { kind, payload, status, result, code } , acked: [op], checkpoints }`.
 */
function parseWorkerLines(lines) {
  const ops = new Map()
  const acked = []
  let ready = null
  let checkpoints = 0
  for (const line of lines) {
    const space = line.indexOf(' ')
    const tag = line.slice(0, space < 0 ? line.length : space)
    const rest = space < 0 ? '' : line.slice(space + 1)
    if (tag === 'ready') {
      ready = JSON.parse(rest)
    } else if (tag === 'c') {
      checkpoints = Math.max(checkpoints, Number(rest))
    } else if (tag === 'b') {
      const [op, kind, ...payload] = rest.split(' ')
      ops.set(Number(op), { kind, payload: JSON.parse(payload.join(' ')), status: 'begun', result: null, code: null })
    } else if (tag === 'a') {
      const at = rest.indexOf(' ')
      const op = ops.get(Number(rest.slice(0, at)))
      op.status = 'acked'
      op.result = JSON.parse(rest.slice(at + 1))
      acked.push(op)
    } else if (tag === 'x') {
      const [op, code, ...message] = rest.split(' ')
      const entry = ops.get(Number(op))
      entry.status = 'rejected'
      entry.code = code
      entry.result = JSON.parse(message.join(' '))
    } else {
      throw new Error(`the worker printed an unknown line: ${JSON.stringify(line)}`)
    }
  }
  return { ready, ops, acked, checkpoints }
}

/** The new state an item write gives each item it touches: [[id, state]]. */
function newStates(op, items) {
  switch (op.kind) {
    case 'insert':
    case 'batch':
    case 'upsert':
      return op.payload.map(([id, vv, mv]) => [id, [vv, mv]])
    case 'update': {
      const { id } = op.payload
      const old = items.get(id) ?? null
      if (old === null) return [[id, old]] // the model holds it absent: flagged by the check
      return [[id, ['vv' in op.payload ? op.payload.vv : old[0], 'mv' in op.payload ? op.payload.mv : old[1]]]]
    }
    case 'delete':
      return [[op.payload, null]]
    default:
      return []
  }
}

/**
 * Moves the model past one cycle's worker output and returns what the
 * check needs: `{ pending: Map id → { old, new, op }, feedbackAcked,
 * feedbackInFlight, writesAcked, repeatedSearchIds, deleteMisses,
 * rejected: [{ kind, code, message }], inFlight: [kind] }`.
 */
function advance(model, parsed) {
  const out = {
    pending: new Map(),
    feedbackAcked: 0,
    feedbackInFlight: 0,
    writesAcked: 0,
    repeatedSearchIds: 0,
    deleteMisses: [],
    rejected: [],
    inFlight: [],
  }
  for (const op of parsed.acked) {
    if (op.kind === 'feedback') {
      out.feedbackAcked++
      if (model.searchIds.has(op.result)) out.repeatedSearchIds++
      model.searchIds.add(op.result)
      continue
    }
    if (!ITEM_WRITES.has(op.kind)) continue
    if (op.kind === 'delete' && op.result !== true) out.deleteMisses.push(op.payload)
    for (const [id, state] of newStates(op, model.items)) {
      model.items.set(id, state)
      out.writesAcked++
    }
  }
  for (const op of parsed.ops.values()) {
    if (op.status === 'rejected') out.rejected.push({ kind: op.kind, code: op.code, message: op.result })
    if (op.status !== 'begun') continue
    out.inFlight.push(op.kind)
    if (op.kind === 'feedback') {
      out.feedbackInFlight++
      model.searchIds.add(op.payload)
    }
    for (const [id, state] of newStates(op, model.items)) {
      out.pending.set(id, { old: model.items.get(id) ?? null, new: state, op })
    }
  }
  return out
}

function holds(item, id, state, dimensions) {
  if (state === null) return item === null
  if (item === null) return false
  const want = vectorOf(id, state[0], dimensions)
  if (item.vector.length !== want.length) return false
  for (let d = 0; d < want.length; d++) {
    if (!Object.is(item.vector[d], want[d])) return false
  }
  return isDeepStrictEqual(item.metadata, metadataOf(id, state[1]))
}

/**
 * Checks the reopened `db` against the model and `advanced` (from
 * `advance`), settling every pending item and the session count. Returns
 * `{ checkedItems, missing, stale, resurrected, torn, partialBatches,
 * phantom, notInGraph, sizeMismatch, lostFeedback, extraSessions, badHits,
 * sessions }`: the id lists name what failed (`phantom`: in the snapshot,
 * written by nobody; `notInGraph`: `get` finds it, the snapshot lacks it;
 * `badHits`: searches returned it, the snapshot lacks it);
 * `partialBatches` counts batches in flight at the kill that came back in
 * part (allowed: a batch is atomic against errors, the API promises
 * nothing of it against a crash). Items found wrong are quarantined.
 */
async function checkDatabase(db, model, advanced) {
  const dimensions = db.dimensions
  const result = { checkedItems: 0, missing: [], stale: [], resurrected: [], torn: [], partialBatches: 0, phantom: [], notInGraph: [], sizeMismatch: null, lostFeedback: 0, extraSessions: 0, badHits: [], sessions: 0 }
  for (const [id, state] of model.items) {
    if (advanced.pending.has(id)) continue
    result.checkedItems++
    const item = db.getSync(id)
    if (holds(item, id, state, dimensions)) continue
    if (state === null) result.resurrected.push(id)
    else if (item === null) result.missing.push(id)
    else result.stale.push(id)
  }
  const batchOutcomes = new Map()
  for (const [id, { old, new: next, op }] of advanced.pending) {
    result.checkedItems++
    const item = db.getSync(id)
    let settled
    if (holds(item, id, next, dimensions)) settled = next
    else if (holds(item, id, old, dimensions)) settled = old
    else {
      result.torn.push(id)
      settled = item === null ? null : old
    }
    model.items.set(id, settled)
    if (op.kind === 'batch') {
      const outcome = batchOutcomes.get(op) ?? new Set()
      outcome.add(settled === next)
      batchOutcomes.set(op, outcome)
    }
  }
  for (const outcome of batchOutcomes.values()) if (outcome.size > 1) result.partialBatches++

  // Nothing the model does not know: the live set, as the graph has it.
  const present = new Set(model.presentIds())
  // Items earlier failures left in the database are neither checked nor unknown.
  for (const id of model.quarantined) if (db.getSync(id) !== null) present.add(id)
  const { ids } = await db.snapshot()
  const inGraph = new Set(ids)
  const accounted = new Set([...result.resurrected, ...result.torn])
  for (const id of ids) if (!present.has(id) && !accounted.has(id)) result.phantom.push(id)
  const expectedSize = present.size - result.missing.length + result.resurrected.length + result.phantom.length
  if (db.size !== expectedSize) result.sizeMismatch = `${db.size}, the check expected ${expectedSize}`
  const lost = new Set(result.missing)
  for (const id of present) if (!inGraph.has(id) && !lost.has(id)) result.notInGraph.push(id)
  // Searches walk the graph: they must find only live items.
  for (let q = 0; q < 4 && inGraph.size > 0; q++) {
    const { hits } = await db.search(vectorOf('check', q, dimensions), { k: 10 })
    for (const hit of hits) if (!inGraph.has(hit.id)) result.badHits.push(hit.id)
  }
  model.quarantine([...result.missing, ...result.stale, ...result.resurrected, ...result.torn, ...result.phantom])

  // Every acknowledged feedback is a session of its own (search ids are
  // unique per search), so the log holds at least one more per
  // acknowledgement, and at most one more per feedback in flight.
  const sessions = db.learningStats().sessions
  const least = model.sessions + advanced.feedbackAcked
  const most = least + advanced.feedbackInFlight
  if (sessions < least) result.lostFeedback = least - sessions
  if (sessions > most) result.extraSessions = sessions - most
  model.sessions = sessions
  result.sessions = sessions
  return result
}

module.exports = { CrashModel, parseWorkerLines, advance, checkDatabase }
