'use strict'
// Child-process side: benchmarks ONE library and reports JSON to the parent.
//
// Each library runs in its own process so that peak RSS (maxRSS) belongs to
// that library alone, and so that one library's heap, threads or crashes
// cannot disturb the next one's timings.

const { loadDataset, normalizeRows } = require('./dataset')
const { ADAPTERS, NotInstalled } = require('./adapters')
const { median, passSync, passAsync, passBatch, collectSync, collectAsync, recallAtK, gc } = require('./measure')

const MB = 1024 * 1024
const maxRssMB = () => process.resourceUsage().maxRSS / 1024 // maxRSS is in KiB
const rssMB = () => process.memoryUsage().rss / MB
const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9

function loadFor(lib, cfg) {
  const ds = loadDataset(cfg.dir, { gtFile: cfg.gtFile })
  if (lib === 'ruvector') {
    // ruvector gets cosine on unit vectors (see adapters.js); cfg.gtFile is
    // the matching unit-norm ground truth.
    ds.base = normalizeRows(ds.base, ds.dim)
    ds.queries = normalizeRows(ds.queries, ds.dim)
  }
  return ds
}

// Untimed pass over all queries in every mode: gives recall@k per mode and
// warms caches, branch predictors and lazily initialised native state.
async function recallPass(fns, queries, ds, k) {
  const recall = {}
  const r = (ids) => recallAtK(ids, ds.gt, ds.gtWidth, k)
  if (fns.sync) recall.sync = r(collectSync(queries, fns.sync, fns.ids))
  if (fns.async) recall.async = r(await collectAsync(queries, fns.async, fns.ids))
  if (fns.batch) recall.batch = r(fns.batchIds(await fns.batch(queries)))
  return recall
}

// Runs `runs` timed passes of every mode the library offers at one
// efSearch. Modes are interleaved within a run so the async-minus-sync
// difference is taken between passes that saw the same machine load.
async function measureEf(fns, queries, cfg) {
  const samples = { sync: [], async: [], batch: [] }
  const overheadUs = []
  for (let r = 0; r < cfg.runs; r++) {
    let sync = null
    if (fns.sync) {
      gc()
      sync = passSync(queries, fns.sync)
      samples.sync.push(sync)
    }
    if (fns.async) {
      gc()
      const a = await passAsync(queries, fns.async)
      samples.async.push(a)
      if (sync) overheadUs.push(a.meanUs - sync.meanUs)
    }
    if (fns.batch) {
      gc()
      samples.batch.push(await passBatch(queries, fns.batch))
    }
  }
  const timings = {}
  for (const [mode, s] of Object.entries(samples)) {
    if (!s.length) continue
    const med = (key) => (s[0][key] === undefined ? null : median(s.map((x) => x[key])))
    timings[mode] = { qps: med('qps'), meanUs: med('meanUs'), p50Us: med('p50Us'), p99Us: med('p99Us') }
  }
  return { timings, asyncOverheadUs: overheadUs.length ? median(overheadUs) : null }
}

async function runLibrary(lib, cfg) {
  const ds = loadFor(lib, cfg)
  const efs = lib === 'ruvector' ? cfg.ruvectorEfs : cfg.efs
  const adapter = ADAPTERS[lib](ds, { ...cfg, efs })
  const queries = adapter.queries
  gc()
  const baselineMB = rssMB() // data + runtime, before any index exists

  const perEf = []
  let buildSec, buildPeakMB
  try {
    const t0 = process.hrtime.bigint()
    await adapter.build()
    buildSec = seconds(t0)
    buildPeakMB = maxRssMB()
    console.error(`  [${lib}] built ${ds.n} x ${ds.dim} in ${buildSec.toFixed(1)} s (peak RSS ${buildPeakMB.toFixed(0)} MB)`)

    for (const ef of efs) {
      const fns = await adapter.at(ef)
      const recall = await recallPass(fns, queries, ds, cfg.k)
      const { timings, asyncOverheadUs } = await measureEf(fns, queries, cfg)
      const points = Object.keys(timings).map((mode) => ({ mode, recall: recall[mode], ...timings[mode] }))
      perEf.push({ ef, points, asyncOverheadUs })
      const main = points[0]
      console.error(`  [${lib}] ef=${ef}: recall@${cfg.k} ${main.recall.toFixed(4)}, ${main.mode} ${Math.round(main.qps)} QPS`)
    }
  } finally {
    adapter.cleanup()
  }
  return {
    lib,
    label: adapter.label,
    version: adapter.version,
    buildNote: adapter.buildNote,
    buildSec,
    extraBuilds: adapter.extraBuilds || [],
    rss: { baselineMB, buildPeakMB, endPeakMB: maxRssMB() },
    perEf,
  }
}

// Entry point for `ann.js --worker LIB --worker-config JSON`.
async function workerMain(lib, cfg) {
  let msg
  try {
    msg = { ok: true, result: await runLibrary(lib, cfg) }
  } catch (e) {
    msg = e instanceof NotInstalled ? { skipped: e.message } : { error: (e && e.stack) || String(e) }
  }
  process.send(msg, () => process.exit(0))
}

module.exports = { workerMain }
