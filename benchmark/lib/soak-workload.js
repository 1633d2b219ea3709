'use strict'
// The concurrency soak's workload (benchmark/soak.js), shared by the main
// thread, its worker_threads and the read-only reader process.
//
// Every item's content follows from its id and a version number: the
// vector is `vectorFor(id, vv)` and the metadata `metadataFor(id, v, vv,
// owner)` carries both numbers, so anyone who sees an item (a search hit
// in another thread or process) can check that its vector and metadata
// belong together without asking the writer. Each writer (a `Lane`) owns a
// fixed pool of ids, `<owner>.<lane>.<index>`, and awaits each of its own
// calls before the next, so the state of every id is exactly what its
// lane's acknowledged calls say: the `Model` a thread keeps of its lanes'
// ids is exact, and the main thread's model (its own lanes plus the acks
// its workers post) is exact once every writer has stopped.
//
// The metric is euclidean so that `get` returns the inserted Float32 values
// bit for bit (cosine would store them normalised).

const { mulberry32, deriveSeed } = require('./rng')

const DIMENSIONS = 32
const ID_PATTERN = /^(main|w\d+)\.(\d+)\.(\d+)$/
const COLORS = ['red', 'green', 'blue', 'black']
const TAGS = ['sale', 'new', 'eco', 'gift', 'bulk']

// Error codes a call may reject with in this workload without that being a
// failure (see index.d.ts). Calls not listed may not reject at all.
const EXPECTED_CODES = {
  // A searchId older than the last `recentSearches` searches is forgotten.
  feedback: ['ERR_NOT_FOUND'],
  // Calls made to fail: each must reject, with exactly this code.
  insertDuplicate: ['ERR_DUPLICATE_ID'],
  updateMissing: ['ERR_NOT_FOUND'],
  writeReadOnly: ['ERR_READ_ONLY'],
  // Calls given an AbortSignal that may fire before they finish.
  insertBatchAbortable: ['ERR_ABORTED'],
  trainAbortable: ['ERR_ABORTED'],
}
// Of those, the calls that must not resolve.
const MUST_REJECT = new Set(['insertDuplicate', 'updateMissing', 'writeReadOnly'])

// FNV-1a over the id's UTF-16 code units: a 32-bit seed per id.
function hashString(text) {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0
  return h
}

function vectorFor(id, vectorVersion) {
  const random = mulberry32(deriveSeed(hashString(id), vectorVersion))
  const vector = new Float32Array(DIMENSIONS)
  for (let d = 0; d < DIMENSIONS; d++) vector[d] = random() * 2 - 1
  return vector
}

// Plain JSON values of every kind (strings with non-ASCII text, integers,
// fractions, booleans, arrays, a nested object, null).
function metadataFor(id, version, vectorVersion, owner) {
  const random = mulberry32(deriveSeed(hashString(id), version + 0x40000000))
  const tags = TAGS.filter(() => random() < 0.3)
  return {
    owner,
    v: version,
    vv: vectorVersion,
    color: COLORS[Math.floor(random() * COLORS.length)],
    price: Math.floor(random() * 1000) / 10,
    tags,
    shelf: { row: Math.floor(random() * 10), label: `rayon-é-${Math.floor(random() * 100)}` },
    fresh: random() < 0.5,
    note: random() < 0.2 ? null : 'ok',
  }
}

// Filters with a hand-written predicate each (the independent reference).
// None uses $ne/$nin, whose meaning for items without metadata is not the
// point here.
const FILTERS = [
  { filter: { color: 'red' }, accepts: (m) => m?.color === 'red' },
  { filter: { price: { $lt: 25 } }, accepts: (m) => typeof m?.price === 'number' && m.price < 25 },
  { filter: { tags: 'sale' }, accepts: (m) => Array.isArray(m?.tags) && m.tags.includes('sale') },
  { filter: { $or: [{ color: 'blue' }, { 'shelf.row': { $gte: 8 } }] }, accepts: (m) => m?.color === 'blue' || (m?.shelf?.row ?? -1) >= 8 },
  { filter: { owner: { $in: ['w0', 'w1'] }, fresh: true }, accepts: (m) => (m?.owner === 'w0' || m?.owner === 'w1') && m.fresh === true },
  { filter: { $and: [{ price: { $gte: 50 } }, { color: { $in: ['green', 'black'] } }] }, accepts: (m) => m?.price >= 50 && (m.color === 'green' || m.color === 'black') },
]

// Deep equality of JSON values, key order aside.
function sameJson(a, b) {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]))
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const keys = Object.keys(a)
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && sameJson(a[k], b[k]))
  }
  return Object.is(a, b)
}

function sameVector(a, b) {
  if (!(a instanceof Float32Array) || a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false
  return true
}

function squaredDistance(a, b) {
  let sum = 0
  for (let i = 0; i < a.length; i++) {
    const x = a[i] - b[i]
    sum += x * x
  }
  return sum
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// A full garbage collection of this thread's JS heap, for measuring what
// stays alive (null if the runtime does not allow it).
function exposeGc() {
  if (typeof globalThis.gc === 'function') return globalThis.gc
  try {
    require('node:v8').setFlagsFromString('--expose-gc')
    return require('node:vm').runInNewContext('gc')
  } catch {
    return null
  }
}

// This thread's JS heap after a full collection (heapUsed + external), or
// null without `gc`.
function liveJsBytes(gc) {
  if (!gc) return null
  gc()
  const { heapUsed, external } = process.memoryUsage()
  return heapUsed + external
}

// --------------------------------------------------------------- tallies --

// Successful calls per kind, rejections per kind and code (expected or
// not), and violations: results that contradict the model.
class Tally {
  constructor() {
    this.calls = {}
    this.errors = {} // kind -> code -> { count, expected, message }
    this.violations = { count: 0, samples: [] }
  }

  ok(kind, n = 1) {
    this.calls[kind] = (this.calls[kind] ?? 0) + n
  }

  error(kind, error) {
    const code = typeof error?.code === 'string' ? error.code : 'NO_CODE'
    const expected = (EXPECTED_CODES[kind] ?? []).includes(code)
    const byCode = (this.errors[kind] ??= {})
    const entry = (byCode[code] ??= { count: 0, expected, message: String(error?.message ?? error).slice(0, 300) })
    entry.count++
    return expected
  }

  violation(text) {
    this.violations.count++
    if (this.violations.samples.length < 20) this.violations.samples.push(text)
  }

  unexpectedErrors() {
    let n = 0
    for (const byCode of Object.values(this.errors)) for (const e of Object.values(byCode)) if (!e.expected) n += e.count
    return n
  }

  merge(other) {
    for (const [kind, n] of Object.entries(other.calls)) this.ok(kind, n)
    for (const [kind, byCode] of Object.entries(other.errors)) {
      for (const [code, e] of Object.entries(byCode)) {
        const mine = ((this.errors[kind] ??= {})[code] ??= { count: 0, expected: e.expected, message: e.message })
        mine.count += e.count
      }
    }
    this.violations.count += other.violations.count
    for (const s of other.violations.samples) if (this.violations.samples.length < 20) this.violations.samples.push(s)
    return this
  }

  toJSON() {
    return { calls: this.calls, errors: this.errors, violations: this.violations }
  }

  static from(json) {
    return new Tally().merge(json)
  }
}

// Runs `call` and books it under `kind`: resolves to `{ ok, value, error }`.
// A call that may not reject and does, or must reject and does not, is
// booked as such; the caller checks the value.
async function attempt(tally, kind, call) {
  try {
    const value = await call()
    if (MUST_REJECT.has(kind)) {
      tally.violation(`${kind} resolved instead of rejecting with ${EXPECTED_CODES[kind]}`)
      return { ok: true, value }
    }
    tally.ok(kind)
    return { ok: true, value }
  } catch (error) {
    tally.error(kind, error)
    return { ok: false, error }
  }
}

// ----------------------------------------------------------------- model --

// What one thread knows of ids: per id whether it is live, its versions
// (`issued`: the last version any call on it used, acknowledged or not)
// and metadata, and when its last call started and settled (ticks of this
// thread's clock), so a search can tell which of its hits it can judge.
class Model {
  constructor(owner) {
    this.owner = owner
    this.entries = new Map()
    this.inFlight = new Set()
    this.clock = 0
  }

  entry(id) {
    let e = this.entries.get(id)
    if (!e) {
      e = { id, live: false, issued: 0, vv: 0, meta: null, settled: 0 }
      this.entries.set(id, e)
    }
    return e
  }

  begin(ids) {
    this.clock++
    for (const id of ids) this.inFlight.add(id)
  }

  settle(ids) {
    const tick = ++this.clock
    for (const id of ids) {
      this.inFlight.delete(id)
      this.entry(id).settled = tick
    }
  }

  // Whether `id`'s state has been known and unchanged since `tick`: this
  // thread owns it, no call on it is in flight, and its last one settled
  // before `tick`.
  stableSince(id, tick) {
    if (this.inFlight.has(id)) return false
    const e = this.entries.get(id)
    return e === undefined || e.settled < tick
  }

  owns(id) {
    const match = ID_PATTERN.exec(id)
    return match !== null && match[1] === this.owner
  }

  live() {
    let n = 0
    for (const e of this.entries.values()) if (e.live) n++
    return n
  }
}

// The part of an entry that travels in an ack (worker -> main thread).
const ackOf = (e) => ({ id: e.id, live: e.live, issued: e.issued, vv: e.vv, meta: e.meta })

// Checks a result list against what can be known of it: well-formed ids of
// no more than `k` hits, no repeats, the filter holding, each hit's vector
// (through its distance to the query) matching the version its metadata
// names, and, for ids of `model`'s thread that no call touched during the
// search, the id being live with exactly the model's metadata.
function checkHits(tally, what, hits, { query, k, accepts, model, since }) {
  if (hits.length > k) tally.violation(`${what}: ${hits.length} hits for k = ${k}`)
  const seen = new Set()
  for (const hit of hits) {
    if (seen.has(hit.id)) tally.violation(`${what}: ${hit.id} returned twice`)
    seen.add(hit.id)
    if (!ID_PATTERN.test(hit.id)) tally.violation(`${what}: unknown id ${JSON.stringify(hit.id)}`)
    if (accepts && !accepts(hit.metadata)) tally.violation(`${what}: ${hit.id} does not pass the filter (metadata ${JSON.stringify(hit.metadata)})`)
    const m = hit.metadata
    if (m !== null && typeof m === 'object' && Number.isInteger(m.vv)) {
      const expected = squaredDistance(query, vectorFor(hit.id, m.vv))
      if (!(Math.abs(expected - hit.distance) <= 1e-3 * Math.max(1, expected))) {
        tally.violation(`${what}: ${hit.id} at distance ${hit.distance}, but its metadata's vector version ${m.vv} is at ${expected}`)
      }
    }
    if (model && model.owns(hit.id) && model.stableSince(hit.id, since)) {
      const e = model.entries.get(hit.id)
      if (!e || !e.live) tally.violation(`${what}: ${hit.id} returned but ${e ? 'deleted' : 'never inserted'} before the search began`)
      else if (!sameJson(hit.metadata, e.meta)) tally.violation(`${what}: ${hit.id} has metadata ${JSON.stringify(hit.metadata)}, model ${JSON.stringify(e.meta)}`)
    }
  }
}

// Compares a `get` result with the model's entry.
function checkItem(tally, what, item, e) {
  if (!e.live) {
    if (item !== null) tally.violation(`${what}: ${e.id} is deleted but get returned it (metadata ${JSON.stringify(item.metadata)})`)
    return
  }
  if (item === null) return tally.violation(`${what}: ${e.id} is live (vector version ${e.vv}) but get returned null`)
  if (item.id !== e.id) tally.violation(`${what}: get(${e.id}) returned id ${item.id}`)
  if (!sameVector(item.vector, vectorFor(e.id, e.vv))) tally.violation(`${what}: ${e.id} holds another vector than version ${e.vv}`)
  if (!sameJson(item.metadata, e.meta)) tally.violation(`${what}: ${e.id} has metadata ${JSON.stringify(item.metadata)}, model ${JSON.stringify(e.meta)}`)
}

// ------------------------------------------------------------------ lane --

// One writer: a loop of random calls on `db` until `stop.stopped`, writes
// only to its own ids, each call awaited before the next. `onAck(entry)`
// hears of every change to one of its ids once the call resolved, and
// `onSettle()` of every step of the loop (for the hang detector).
class Lane {
  constructor({ db, model, tally, owner, lane, pool, seed, stop, onAck = () => {}, onSettle = () => {} }) {
    Object.assign(this, { db, model, tally, owner, lane, pool, stop, onAck, onSettle })
    this.random = mulberry32(deriveSeed(seed, hashString(`${owner}.${lane}`)))
    this.ids = Array.from({ length: pool }, (_, i) => `${owner}.${lane}.${i}`)
    this.lastSearch = null
  }

  int(n) {
    return Math.floor(this.random() * n)
  }

  chance(p) {
    return this.random() < p
  }

  // A new version of `id` with a new vector (and usually metadata).
  nextVersion(e, withMetadata = true) {
    e.issued++
    return { vv: e.issued, meta: withMetadata ? metadataFor(e.id, e.issued, e.issued, this.owner) : null }
  }

  apply(e, live, vv, meta) {
    e.live = live
    e.vv = vv
    e.meta = meta
    this.onAck(e)
  }

  query() {
    // Near a random pool item's (any version's) vector, or anywhere.
    const q = vectorFor(`${this.owner}.${this.lane}.${this.int(this.pool)}`, this.int(8))
    if (this.chance(0.5)) for (let d = 0; d < q.length; d++) q[d] += (this.random() - 0.5) * 0.2
    return q
  }

  // Fills about 80% of the pool in one batch (before the clock starts):
  // about where the mix of writes in `write` keeps it.
  async populate() {
    const chosen = this.ids.filter(() => this.chance(0.8))
    const entries = chosen.map((id) => this.model.entry(id))
    const versions = entries.map((e) => this.nextVersion(e))
    const vectors = new Float32Array(chosen.length * DIMENSIONS)
    versions.forEach((v, i) => vectors.set(vectorFor(chosen[i], v.vv), i * DIMENSIONS))
    await this.db.insertBatch({ ids: chosen, vectors, metadata: versions.map((v) => v.meta) })
    entries.forEach((e, i) => this.apply(e, true, versions[i].vv, versions[i].meta))
    return chosen.length
  }

  async run() {
    while (!this.stop.stopped) {
      const r = this.random()
      if (r < 0.2) await this.search(false)
      else if (r < 0.33) await this.search(true)
      else if (r < 0.35) await this.searchSync()
      else if (r < 0.37) await this.searchBatch()
      else if (r < 0.45) await this.feedback()
      else if (r < 0.52) await this.get()
      else await this.write()
      this.onSettle()
    }
  }

  async search(filtered) {
    const kind = filtered ? 'filteredSearch' : 'search'
    const query = this.query()
    const k = [1, 10, 50][this.int(3)]
    const spec = filtered ? FILTERS[this.int(FILTERS.length)] : null
    const options = { k, efSearch: [16, 64, 128][this.int(3)] }
    if (spec) options.filter = spec.filter
    const since = ++this.model.clock
    const { ok, value } = await attempt(this.tally, kind, () => this.db.search(query, options))
    if (!ok) return
    checkHits(this.tally, kind, value.hits, { query, k, accepts: spec?.accepts, model: this.model, since })
    if (value.hits.length > 0) this.lastSearch = { searchId: value.searchId, query, hits: value.hits }
  }

  async searchSync() {
    const query = this.query()
    const spec = this.chance(0.5) ? FILTERS[this.int(FILTERS.length)] : null
    const since = ++this.model.clock
    const { ok, value } = await attempt(this.tally, 'searchSync', async () => this.db.searchSync(query, spec ? { k: 10, filter: spec.filter } : { k: 10 }))
    if (ok) checkHits(this.tally, 'searchSync', value.hits, { query, k: 10, accepts: spec?.accepts, model: this.model, since })
  }

  async searchBatch() {
    const queries = Array.from({ length: 4 }, () => this.query())
    const spec = this.chance(0.5) ? FILTERS[this.int(FILTERS.length)] : null
    const since = ++this.model.clock
    const { ok, value } = await attempt(this.tally, 'searchBatch', () => this.db.searchBatch(queries, spec ? { k: 10, filter: spec.filter } : { k: 10 }))
    if (!ok) return
    if (value.length !== queries.length) this.tally.violation(`searchBatch: ${value.length} results for ${queries.length} queries`)
    value.forEach((result, i) => checkHits(this.tally, 'searchBatch', result.hits, { query: queries[i], k: 10, accepts: spec?.accepts, model: this.model, since }))
  }

  // Feedback on real search results: clicks (some converted) on shown ids,
  // by searchId, or now and then as a search served elsewhere.
  async feedback() {
    const last = this.lastSearch
    if (!last) return this.search(false)
    const clicked = [last.hits[this.int(last.hits.length)].id]
    const converted = this.chance(0.3) ? clicked : undefined
    if (this.chance(0.2)) {
      const shown = last.hits.map((h) => h.id)
      await attempt(this.tally, 'feedbackServedElsewhere', () => this.db.feedback({ query: last.query, shown, clicked, converted }))
    } else {
      await attempt(this.tally, 'feedback', () => this.db.feedback(converted ? { searchId: last.searchId, clicked, converted } : { searchId: last.searchId, clicked }))
    }
    if (this.chance(0.5)) this.lastSearch = null
  }

  // An own id: exactly as the model says (no other call can touch it).
  async get() {
    const e = this.model.entry(this.ids[this.int(this.pool)])
    const sync = this.chance(0.3)
    const { ok, value } = await attempt(this.tally, sync ? 'getSync' : 'get', async () => (sync ? this.db.getSync(e.id) : this.db.get(e.id)))
    if (ok) checkItem(this.tally, sync ? 'getSync' : 'get', value, e)
  }

  async write() {
    const e = this.model.entry(this.ids[this.int(this.pool)])
    const r = this.random()
    if (e.live) {
      if (r < 0.3) return this.upsert(e)
      if (r < 0.62) return this.update(e)
      if (r < 0.97) return this.delete(e, 'delete')
      return this.call('insertDuplicate', [e], () => this.db.insert({ id: e.id, vector: vectorFor(e.id, 1) }))
    }
    if (r < 0.4) return this.insert(e)
    if (r < 0.7) return this.upsert(e)
    if (r < 0.85) return this.insertBatch(false)
    if (r < 0.9) return this.insertBatch(true)
    if (r < 0.95) return this.call('updateMissing', [e], () => this.db.update(e.id, { metadata: { x: 1 } }))
    return this.delete(e, 'deleteMissing')
  }

  // Runs a call on own ids, marked in flight for the searches' sake. The
  // entries are acked however it ends: a call that failed (an aborted
  // batch) still used up versions, which a reader may have seen.
  async call(kind, entries, fn) {
    const ids = entries.map((e) => e.id)
    this.model.begin(ids)
    try {
      return await attempt(this.tally, kind, fn)
    } finally {
      this.model.settle(ids)
      for (const e of entries) this.onAck(e)
    }
  }

  async insert(e) {
    const { vv, meta } = this.nextVersion(e, !this.chance(0.05))
    const item = meta ? { id: e.id, vector: vectorFor(e.id, vv), metadata: meta } : { id: e.id, vector: vectorFor(e.id, vv) }
    const { ok, value } = await this.call('insert', [e], () => this.db.insert(item))
    if (!ok) return
    if (value !== e.id) this.tally.violation(`insert(${e.id}) resolved to ${value}`)
    this.apply(e, true, vv, meta)
  }

  async upsert(e) {
    const { vv, meta } = this.nextVersion(e, !this.chance(0.05))
    // A plain array now and then instead of a Float32Array (same values).
    const vector = this.chance(0.2) ? Array.from(vectorFor(e.id, vv)) : vectorFor(e.id, vv)
    const { ok, value } = await this.call('upsert', [e], () => this.db.upsert({ id: e.id, vector, metadata: meta }))
    if (!ok) return
    if (value !== e.id) this.tally.violation(`upsert(${e.id}) resolved to ${value}`)
    this.apply(e, true, vv, meta)
  }

  // New metadata only, a new vector with new metadata, or metadata cleared.
  async update(e) {
    const r = this.random()
    e.issued++
    let changes
    let vv = e.vv
    let meta
    if (r < 0.5) {
      meta = metadataFor(e.id, e.issued, e.vv, this.owner)
      changes = { metadata: meta }
    } else if (r < 0.95) {
      vv = e.issued
      meta = metadataFor(e.id, e.issued, vv, this.owner)
      changes = { vector: vectorFor(e.id, vv), metadata: meta }
    } else {
      meta = null
      changes = { metadata: null }
    }
    const { ok } = await this.call('update', [e], () => this.db.update(e.id, changes))
    if (ok) this.apply(e, true, vv, meta)
  }

  async delete(e, kind) {
    const wasLive = e.live
    e.issued++
    const { ok, value } = await this.call(kind, [e], () => this.db.delete(e.id))
    if (!ok) return
    if (value !== wasLive) this.tally.violation(`delete(${e.id}) resolved to ${value}, but the id was ${wasLive ? 'live' : 'absent'}`)
    if (wasLive) this.apply(e, false, e.vv, null)
  }

  // Up to 8 absent own ids in one batch, in either input form; `abortable`
  // gives it a signal that may fire within a few milliseconds, after which
  // the batch must have left no trace.
  async insertBatch(abortable) {
    const absent = this.ids.filter((id) => !this.model.entry(id).live)
    const entries = []
    for (let n = 1 + this.int(8); n > 0 && absent.length > 0; n--) {
      const [id] = absent.splice(this.int(absent.length), 1)
      entries.push(this.model.entry(id))
    }
    if (entries.length === 0) return
    const versions = entries.map((e) => this.nextVersion(e))
    let items
    if (this.chance(0.5)) {
      items = entries.map((e, i) => ({ id: e.id, vector: vectorFor(e.id, versions[i].vv), metadata: versions[i].meta }))
    } else {
      const vectors = new Float32Array(entries.length * DIMENSIONS)
      entries.forEach((e, i) => vectors.set(vectorFor(e.id, versions[i].vv), i * DIMENSIONS))
      items = { ids: entries.map((e) => e.id), vectors, metadata: versions.map((v) => v.meta) }
    }
    const kind = abortable ? 'insertBatchAbortable' : 'insertBatch'
    const options = abortable ? { signal: AbortSignal.timeout(this.int(4)) } : undefined
    const { ok, value } = await this.call(kind, entries, () => this.db.insertBatch(items, options))
    if (!ok) return
    if (!sameJson(value, entries.map((e) => e.id))) this.tally.violation(`insertBatch resolved to ${JSON.stringify(value)}`)
    entries.forEach((e, i) => this.apply(e, true, versions[i].vv, versions[i].meta))
  }
}

module.exports = {
  DIMENSIONS,
  ID_PATTERN,
  EXPECTED_CODES,
  FILTERS,
  Lane,
  Model,
  Tally,
  ackOf,
  attempt,
  checkHits,
  checkItem,
  exposeGc,
  hashString,
  liveJsBytes,
  metadataFor,
  sameJson,
  sameVector,
  sleep,
  vectorFor,
}
