'use strict'
// Child-process side: holds ONE library's index and runs what the parent
// asks for, one message at a time.
//
// Each library lives in its own process so that peak RSS (maxRSS) belongs to
// that library alone, and so one library's heap, threads or crash cannot
// disturb another's timings. The processes stay alive after building so the
// parent can interleave the libraries' timed passes (see orchestrate.js).
//
// Protocol (parent -> child, child replies once to each):
//   (on start)          -> { type: 'built', info } | { type: 'skipped', reason } | { type: 'error', error }
//   { cmd: 'prepare', ef } -> { type: 'prepared', recall: { mode: recall@k } }
//   { cmd: 'run' }         -> { type: 'ran', timing: { mode: { qps, meanUs, p50Us, p99Us } } }
//   { cmd: 'finish' }      -> { type: 'finished', info }   (then exits)

const { loadDataset, normalizeRows } = require('./dataset')
const { ADAPTERS, NotInstalled } = require('./adapters')
const { median, passSync, passAsync, passBatch, collectSync, collectAsync, recallAtK, gc } = require('./measure')

const MB = 1024 * 1024
const maxRssMB = () => process.resourceUsage().maxRSS / 1024 // maxRSS is in KiB
const rssMB = () => process.memoryUsage().rss / MB
const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9

function loadFor(lib, cfg) {
  const ds = loadDataset(cfg.dir, { gtFile: cfg.gtFile })
  if (lib === 'ruvector' && cfg.ruvectorMetric === 'cosine') {
    // ruvector gets cosine on unit vectors (see adapters.js); cfg.gtFile is
    // the matching unit-norm ground truth.
    ds.base = normalizeRows(ds.base, ds.dim)
    ds.queries = normalizeRows(ds.queries, ds.dim)
  }
  return ds
}

class Session {
  constructor(lib, cfg) {
    this.lib = lib
    this.cfg = cfg
    this.fns = null // query functions at the current efSearch
  }

  async build() {
    const { lib, cfg } = this
    this.ds = loadFor(lib, cfg)
    const efs = lib === 'ruvector' ? cfg.ruvectorEfs : cfg.efs
    this.adapter = ADAPTERS[lib](this.ds, { ...cfg, efs })
    gc()
    const baselineMB = rssMB() // data + runtime, before any index exists
    const t0 = process.hrtime.bigint()
    await this.adapter.build()
    const buildSec = seconds(t0)
    const buildPeakMB = maxRssMB()
    gc()
    const steadyMB = rssMB() // what the built index keeps, once the build's transients are gone
    console.error(`  [${lib}] built ${this.ds.n} x ${this.ds.dim} in ${buildSec.toFixed(1)} s (peak RSS ${buildPeakMB.toFixed(0)} MB, after build ${steadyMB.toFixed(0)} MB)`)
    const { label, version, buildNote } = this.adapter
    return { lib, label, version, buildNote, buildSec, n: this.ds.n, rss: { baselineMB, buildPeakMB, steadyMB } }
  }

  // Switches to efSearch `ef` and runs an untimed pass over all queries in
  // every mode: gives recall@k per mode and warms caches, branch predictors
  // and lazily initialised native state.
  async prepare(ef) {
    const { ds, cfg, adapter } = this
    const fns = (this.fns = await adapter.at(ef))
    const queries = adapter.queries
    const r = (ids) => recallAtK(ids, ds.gt, ds.gtWidth, cfg.k)
    const recall = {}
    if (fns.sync) recall.sync = r(collectSync(queries, fns.sync, fns.ids))
    if (fns.async) recall.async = r(await collectAsync(queries, fns.async, fns.ids))
    if (fns.batch) recall.batch = r(fns.batchIds(await fns.batch(queries)))
    return recall
  }

  // One timed pass over all queries in each mode. Sync and async passes run
  // back to back so their difference (the async overhead) is taken between
  // passes that saw the same machine load.
  async run() {
    const { fns } = this
    const queries = this.adapter.queries
    const timing = {}
    if (fns.sync) {
      gc()
      timing.sync = passSync(queries, fns.sync)
    }
    if (fns.async) {
      gc()
      timing.async = await passAsync(queries, fns.async)
    }
    if (fns.batch) {
      gc()
      timing.batch = await passBatch(queries, fns.batch)
    }
    return timing
  }

  async finish() {
    const { adapter } = this
    try {
      const hopFloorUs = adapter.hopProbe ? await measureHop(adapter.hopProbe, adapter.queries.length, this.cfg.runs) : null
      return { endPeakMB: maxRssMB(), hopFloorUs, extraBuilds: adapter.extraBuilds || [] }
    } finally {
      adapter.cleanup()
    }
  }
}

// Median over runs of (p50 of await probe.async() - p50 of probe.sync()), µs.
async function measureHop(probe, calls, runs) {
  const slots = new Array(calls).fill(0)
  const diffs = []
  for (let r = 0; r < runs; r++) {
    gc()
    const s = passSync(slots, probe.sync)
    const a = await passAsync(slots, probe.async)
    diffs.push(a.p50Us - s.p50Us)
  }
  return median(diffs)
}

function failure(e) {
  return e instanceof NotInstalled ? { type: 'skipped', reason: e.message } : { type: 'error', error: (e && e.stack) || String(e) }
}

// Entry point for `ann.js --worker LIB --worker-config JSON`.
async function workerMain(lib, cfg) {
  const session = new Session(lib, cfg)
  const reply = (msg, then) => process.send(msg, then)
  try {
    reply({ type: 'built', info: await session.build() })
  } catch (e) {
    if (session.adapter) session.adapter.cleanup()
    return reply(failure(e), () => process.exit(0))
  }
  // The parent awaits each reply before sending the next command, so
  // commands never overlap.
  process.on('message', async (m) => {
    try {
      if (m.cmd === 'prepare') reply({ type: 'prepared', recall: await session.prepare(m.ef) })
      else if (m.cmd === 'run') reply({ type: 'ran', timing: await session.run() })
      else if (m.cmd === 'finish') reply({ type: 'finished', info: await session.finish() }, () => process.exit(0))
      else throw new Error(`unknown command ${JSON.stringify(m)}`)
    } catch (e) {
      reply(failure(e), () => process.exit(1))
    }
  })
  // The parent going away (Ctrl-C, crash) must not leave us running.
  process.on('disconnect', () => process.exit(0))
}

module.exports = { workerMain }
