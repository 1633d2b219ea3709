'use strict'
// What the feedback baselines remember of past sessions, decayed by age as
// DESIGN.md §5 prescribes (half-life in sessions; conversions weighted).

const { PROJECT_ROOT } = require('./base')

const FEEDBACK_DEFAULTS = Object.freeze({ halfLifeSessions: 5000, conversionWeight: 3 })

// Exponential decay by session count without touching old entries: an event
// of weight w at time t is stored as w * 2^(t / halfLife) and read back
// divided by 2^(now / halfLife). The stored scale grows by 2 every half-life,
// so doubles cover about 5 million sessions at the default half-life, far
// beyond one benchmark run (10,000 sessions).
class DecayClock {
  constructor(halfLifeSessions) {
    this.halfLife = halfLifeSessions
    this.sessions = 0
    this.scale = 1
  }

  tick() {
    this.sessions++
    this.scale = 2 ** (this.sessions / this.halfLife)
    if (!Number.isFinite(this.scale)) throw new Error('DecayClock: run too long for one scale')
  }

  // The stored weight of an event happening now.
  stamp(weight = 1) {
    return weight * this.scale
  }

  // A stored sum as of now.
  read(stored) {
    return stored / this.scale
  }
}

// A session's click weight for an item: 1 per click, `conversionWeight` per
// conversion (a converted item was clicked, too).
function clickWeights(session, conversionWeight) {
  const converted = new Set(session.converted)
  return session.clicked.map((item) => [item, converted.has(item) ? conversionWeight : 1])
}

// Items shown above the last click and not clicked: seen and passed over.
function skippedItems(session) {
  const clicked = new Set(session.clicked)
  let last = -1
  session.shown.forEach((item, i) => {
    if (clicked.has(item)) last = i
  })
  return session.shown.slice(0, last + 1).filter((item) => !clicked.has(item))
}

// Logged queries (identical vectors merged) with their decayed session
// counts, per-item click weights and skips, and an index to find the logged
// queries most similar to a new one (hnsw-gnn itself, cosine; with a wide
// beam over a few thousand queries this is exact in practice).
class QueryMemory {
  constructor(dim, { halfLifeSessions, conversionWeight } = FEEDBACK_DEFAULTS) {
    const { VectorDB } = require(PROJECT_ROOT)
    this.index = new VectorDB({ dimensions: dim, metric: 'cosine', m: 16, efConstruction: 200, efSearch: 200 })
    this.clock = new DecayClock(halfLifeSessions)
    this.conversionWeight = conversionWeight
    this.slotOf = new Map() // vector content key -> slot
    this.slots = [] // { sessions, clicks: Map<item, stored>, skips: Map<item, stored> }
  }

  // Records one session; resolves once a new query is indexed.
  async record(session) {
    this.clock.tick()
    const key = contentKey(session.query)
    let slot = this.slotOf.get(key)
    if (slot === undefined) {
      slot = this.slots.length
      this.slots.push({ sessions: 0, clicks: new Map(), skips: new Map() })
      this.slotOf.set(key, slot)
      await this.index.insert({ id: String(slot), vector: session.query })
    }
    const entry = this.slots[slot]
    entry.sessions += this.clock.stamp()
    for (const [item, weight] of clickWeights(session, this.conversionWeight)) {
      entry.clicks.set(item, (entry.clicks.get(item) || 0) + this.clock.stamp(weight))
    }
    for (const item of skippedItems(session)) entry.skips.set(item, (entry.skips.get(item) || 0) + this.clock.stamp())
  }

  // Up to `count` logged queries most similar to `query`:
  // [{ slot, similarity, entry }], most similar first.
  neighbours(query, count) {
    if (this.slots.length === 0) return []
    const { hits } = this.index.searchSync(query, { k: Math.min(count, this.slots.length) })
    return hits.map((hit) => ({ similarity: hit.score, entry: this.slots[Number(hit.id)] }))
  }

  // Per-item evidence from the neighbours of `query`: for each neighbour j
  // with weight w_j = max(0, similarity)^power, its click rate on item i
  // (decayed click weight / decayed sessions of j); returned as a Map of
  // item -> sum_j w_j * rate_ji / sum_j w_j, and the same for skips when
  // `withSkips` (only Rocchio uses them).
  evidence(query, { neighbours, similarityPower, withSkips = false }) {
    const clicks = new Map()
    const skips = new Map()
    let total = 0
    for (const { similarity, entry } of this.neighbours(query, neighbours)) {
      const w = Math.max(0, similarity) ** similarityPower
      if (w === 0) continue
      total += w
      const perSession = w / entry.sessions // both stored at the same scale
      for (const [item, stored] of entry.clicks) clicks.set(item, (clicks.get(item) || 0) + stored * perSession)
      if (withSkips) for (const [item, stored] of entry.skips) skips.set(item, (skips.get(item) || 0) + stored * perSession)
    }
    if (total > 0) {
      for (const [item, v] of clicks) clicks.set(item, v / total)
      for (const [item, v] of skips) skips.set(item, v / total)
    }
    return { clicks, skips }
  }

  close() {
    return this.index.close()
  }
}

// Identical query vectors share a slot; the key is their exact bytes.
function contentKey(vector) {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64')
}

module.exports = { DecayClock, QueryMemory, FEEDBACK_DEFAULTS, clickWeights, skippedItems }
