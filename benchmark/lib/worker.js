'use strict'
// Child-process side: benchmarks ONE library and reports JSON to the parent.
//
// Each library runs in its own process so that peak RSS (maxRSS) belongs to
// that library alone, and so that one library's heap, threads or crashes
// cannot disturb the next one's timings.

const { loadDataset, normalizeRows } = require('./dataset')
const { ADAPTERS, NotInstalled } = require('./adapters')
const { median, passSync, passAsync, passBatch, recallAtK, gc } = require('./measure')

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

async function warmup(fns, queries, count) {
  const w = queries.slice(0, Math.min(count, queries.length))
  if (fns.sync) for (const q of w) fns.sync(q)
  if (fns.async) for (const q of w) await fns.async(q)
  if (fns.batch) await fns.batch(w)
}

// Runs `runs` timed passes of every mode the library offers at one
// efSearch. Modes are interleaved within a run so the async-minus-sync
// difference is taken between passes that saw the same machine load.
async function measureEf(fns, queries, ds, cfg) {
  const samples = { sync: [], async: [], batch: [] }
  const overheadUs = []
  for (let r = 0; r < cfg.runs; r++) {
    let sync = null
    if (fns.sync) {
      gc()
      sync = passSync(queries, fns.sync)
      samples.sync.push(score(sync, fns.ids, ds, cfg.k))
    }
    if (fns.async) {
      gc()
      const a = await passAsync(queries, fns.async)
      samples.async.push(score(a, fns.ids, ds, cfg.k))
      if (sync) overheadUs.push(a.meanUs - sync.meanUs)
    }
    if (fns.batch) {
      gc()
      const b = await passBatch(queries, fns.batch)
      samples.batch.push(score({ ...b, raw: fns.batchIds(b.raw) }, (x) => x, ds, cfg.k))
    }
  }
  const points = []
  for (const mode of ['sync', 'async', 'batch']) {
    const s = samples[mode]
    if (!s.length) continue
    const pick = (key) => (s[0][key] === undefined ? null : median(s.map((x) => x[key])))
    points.push({ mode, recall: pick('recall'), qps: pick('qps'), meanUs: pick('meanUs'), p50Us: pick('p50Us'), p99Us: pick('p99Us') })
  }
  return { points, asyncOverheadUs: overheadUs.length ? median(overheadUs) : null }
}

function score(pass, toIds, ds, k) {
  const ids = pass.raw.map(toIds)
  const { raw, ...timing } = pass
  return { ...timing, recall: recallAtK(ids, ds.gt, ds.gtWidth, k) }
}

async function runLibrary(lib, cfg) {
  const ds = loadFor(lib, cfg)
  const efs = lib === 'ruvector' ? cfg.ruvectorEfs : cfg.efs
  const adapter = ADAPTERS[lib](ds, { ...cfg, efs })
  const queries = adapter.queries
  gc()
  const baselineMB = rssMB() // data + runtime, before any index exists

  const t0 = process.hrtime.bigint()
  await adapter.build()
  const buildSec = seconds(t0)
  const buildPeakMB = maxRssMB()
  console.error(`  [${lib}] built ${ds.n} x ${ds.dim} in ${buildSec.toFixed(1)} s (peak RSS ${buildPeakMB.toFixed(0)} MB)`)

  const perEf = []
  try {
    for (const ef of efs) {
      const fns = await adapter.at(ef)
      await warmup(fns, queries, cfg.warmup)
      const { points, asyncOverheadUs } = await measureEf(fns, queries, ds, cfg)
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
