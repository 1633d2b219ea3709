'use strict'
// The read-only reader of the concurrency soak (benchmark/soak.js), a
// process of its own (child_process.fork, IPC): opens the writer's file with
// `readOnly: true`, calls `refresh()` every 100-400 ms and searches all the
// while (two loops of searches, filtered searches, batches and gets, which
// run across the refreshes). It knows no model, so during the run it checks
// what a reader can know on its own:
//
// - every hit is a well-formed id that passes its filter, and its vector
//   (through its distance) matches the version its metadata names;
// - time never runs backwards: right after each refresh a synchronous probe
//   (getSync of ids seen before, searchSync) must find every id it saw at
//   an earlier refresh at the same or a later version (or deleted), and
//   `stats().generation` never decreases;
// - writes reject with ERR_READ_ONLY.
//
// On { type: 'verify', label, live: [[id, vv, metadata]], absent: [id] } it
// refreshes and compares what it sees with the writer's model (sent once the
// writers have stopped); on 'stop' it reports { type: 'done', tally,
// maxVersions, ... } and exits. Every second it sends { type: 'status' }.

const { DIMENSIONS, FILTERS, Tally, attempt, checkHits, checkItem, sleep, vectorFor } = require('./soak-workload')
const { mulberry32 } = require('./rng')

const [file, seedText, modulePath] = process.argv.slice(2)
const { VectorDB } = require(modulePath)

const random = mulberry32(Number(seedText) >>> 0)
const int = (n) => Math.floor(random() * n)
const tally = new Tally()
const stop = { stopped: false }
// Highest metadata version seen per id: from probes only (`probed`), and
// from everything (`maxVersions`, reported at the end).
const probed = new Map()
const maxVersions = new Map()
const state = { refreshes: 0, changed: 0, generation: -1, firstGeneration: -1 }

function query() {
  const q = vectorFor(`r.${int(1e6)}`, 0)
  for (let d = 0; d < DIMENSIONS; d++) q[d] *= 0.8
  return q
}

function noteVersions(hits) {
  for (const h of hits) {
    const v = h.metadata?.v
    if (Number.isInteger(v) && !(maxVersions.get(h.id) >= v)) maxVersions.set(h.id, v)
  }
}

// One refresh at a time (the loop's and verify's), each followed by the
// synchronous probe, so the probes see strictly later views in order.
let refreshing = Promise.resolve()
function refreshAndProbe(reader) {
  refreshing = refreshing.then(async () => {
    const { ok, value } = await attempt(tally, 'refresh', () => reader.refresh())
    if (!ok) return
    state.refreshes++
    if (value) state.changed++
    probe(reader)
  })
  return refreshing
}

function probe(reader) {
  const { generation } = reader.stats()
  if (generation < state.generation) tally.violation(`reader: generation went from ${state.generation} to ${generation}`)
  state.generation = generation
  // Ids seen at earlier refreshes: deleted since, or at the same or a later version.
  const ids = [...probed.keys()]
  for (let n = Math.min(100, ids.length); n > 0; n--) {
    const id = ids[int(ids.length)]
    const { ok, value } = attemptSync('getSync', () => reader.getSync(id))
    const v = value?.metadata?.v
    if (ok && Number.isInteger(v)) {
      if (v < probed.get(id)) tally.violation(`reader: ${id} went back from version ${probed.get(id)} to ${v} after a refresh`)
      else probed.set(id, v)
    }
  }
  for (let n = 0; n < 3; n++) {
    const q = query()
    const { ok, value } = attemptSync('searchSync', () => reader.searchSync(q, { k: 20 }))
    if (!ok) continue
    checkHits(tally, 'reader searchSync', value.hits, { query: q, k: 20 })
    noteVersions(value.hits)
    for (const h of value.hits) {
      const v = h.metadata?.v
      if (!Number.isInteger(v)) continue
      if (probed.has(h.id) && v < probed.get(h.id)) tally.violation(`reader: ${h.id} went back from version ${probed.get(h.id)} to ${v} after a refresh`)
      else probed.set(h.id, v)
    }
  }
}

function attemptSync(kind, call) {
  try {
    const value = call()
    tally.ok(kind)
    return { ok: true, value }
  } catch (error) {
    tally.error(kind, error)
    return { ok: false, error }
  }
}

async function refreshLoop(reader) {
  while (!stop.stopped) {
    await sleep(100 + int(300))
    await refreshAndProbe(reader)
  }
}

async function searchLoop(reader) {
  while (!stop.stopped) {
    const r = random()
    const q = query()
    if (r < 0.4) {
      const k = [1, 10, 50][int(3)]
      const { ok, value } = await attempt(tally, 'search', () => reader.search(q, { k }))
      if (ok) {
        checkHits(tally, 'reader search', value.hits, { query: q, k })
        noteVersions(value.hits)
        // The hits' items: gone since (a refresh came between) or consistent.
        for (const h of value.hits.slice(0, 3)) {
          const got = await attempt(tally, 'get', () => reader.get(h.id))
          const m = got.value?.metadata
          if (got.ok && got.value && Number.isInteger(m?.vv)) {
            checkItem(tally, 'reader get', got.value, { id: h.id, live: true, vv: m.vv, meta: m })
          }
        }
      }
    } else if (r < 0.8) {
      const spec = FILTERS[int(FILTERS.length)]
      const { ok, value } = await attempt(tally, 'filteredSearch', () => reader.search(q, { k: 10, filter: spec.filter }))
      if (ok) {
        checkHits(tally, 'reader filteredSearch', value.hits, { query: q, k: 10, accepts: spec.accepts })
        noteVersions(value.hits)
      }
    } else if (r < 0.95) {
      const queries = [q, query(), query()]
      const { ok, value } = await attempt(tally, 'searchBatch', () => reader.searchBatch(queries, { k: 10 }))
      if (ok) value.forEach((result, i) => checkHits(tally, 'reader searchBatch', result.hits, { query: queries[i], k: 10 }))
    } else if (r < 0.975) {
      await attempt(tally, 'writeReadOnly', () => reader.upsert({ id: 'reader.0.0', vector: q }))
    } else {
      // A reader takes feedback and queues it for the writer
      // (exportFeedback → importFeedback); this soak drops the batches.
      // (Another lane may have exported this lane's session already.)
      const { ok } = await attempt(tally, 'readerFeedback', () => reader.feedback({ query: q, shown: ['main.0.0'], clicked: ['main.0.0'] }))
      if (ok) {
        const batch = attemptSync('exportFeedback', () => reader.exportFeedback())
        if (batch.ok && !(batch.value instanceof Uint8Array)) tally.violation('exportFeedback gave no bytes')
      }
    }
  }
}

// Compares the refreshed reader with the writer's model.
async function verify(reader, { label, live, absent }) {
  await refreshAndProbe(reader)
  const problems = new Tally()
  if (reader.size !== live.length) problems.violation(`${label}: reader size ${reader.size}, model ${live.length}`)
  const liveIds = new Map()
  for (const [id, vv, meta] of live) {
    liveIds.set(id, meta)
    checkItem(problems, `${label} reader getSync`, reader.getSync(id), { id, live: true, vv, meta })
  }
  for (const id of absent) checkItem(problems, `${label} reader getSync`, reader.getSync(id), { id, live: false })
  for (let n = 0; n < 60; n++) {
    const q = query()
    const spec = n % 2 ? FILTERS[n % FILTERS.length] : null
    const { hits } = await reader.search(q, spec ? { k: 50, filter: spec.filter } : { k: 50 })
    checkHits(problems, `${label} reader search`, hits, { query: q, k: 50, accepts: spec?.accepts })
    for (const h of hits) if (!liveIds.has(h.id)) problems.violation(`${label}: reader search returned ${h.id}, not live in the model`)
  }
  return { type: 'verified', label, violations: problems.violations, size: reader.size, generation: reader.stats().generation }
}

async function main() {
  const reader = await VectorDB.open(file, { readOnly: true })
  state.generation = state.firstGeneration = reader.stats().generation
  process.send({ type: 'ready', size: reader.size, generation: state.generation })
  const status = setInterval(() => {
    process.send({ type: 'status', rss: process.memoryUsage.rss(), size: reader.size, generation: state.generation, refreshes: state.refreshes })
  }, 1000)
  const loops = [refreshLoop(reader), searchLoop(reader), searchLoop(reader)]
  let stopped
  const done = new Promise((resolve) => (stopped = resolve))
  // A writer that died (or was killed by its hang detector) leaves no one
  // to stop this process.
  process.on('disconnect', () => process.exit(3))
  process.on('message', (message) => {
    if (message.type === 'verify') {
      verify(reader, message).then(
        (reply) => process.send(reply),
        (error) => process.send({ type: 'verified', label: message.label, violations: { count: 1, samples: [`verify threw ${error?.code}: ${error?.message}`] } }),
      )
    } else if (message.type === 'stop') {
      stop.stopped = true
      stopped()
    }
  })
  await done
  await Promise.all(loops)
  clearInterval(status)
  await refreshing
  const generations = [state.firstGeneration, state.generation]
  await reader.close()
  process.send({ type: 'done', tally: tally.toJSON(), maxVersions: [...maxVersions], refreshes: state.refreshes, changed: state.changed, generations }, () => process.exit(0))
}

main().catch((error) => {
  process.send?.({ type: 'failed', error: { code: error?.code, message: String(error?.stack ?? error) } }, () => process.exit(1))
})
