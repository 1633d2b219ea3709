'use strict'
// Persistence benchmark (benchmark/store.js), child-process side, plus the
// small system helpers the parent needs (fork a job, drop the page cache,
// ask how much of a file is cached).
//
// Every timed phase runs in a fresh child process (`store.js --child JSON`)
// that does ONE job, replies once over IPC and exits:
//
//   { job: 'build', lib, dir, file|null, saveRuns, refFile, nq, k, ef }
//       loads the dataset, builds the index (timed). With `file`: records
//       the top-k ids of the first `nq` queries to `refFile` (the reference
//       for the check after opening), then saves `saveRuns` times (each
//       save timed, followed by a separately timed fsync of the file).
//       Without `file` (hnsw-gnn only): the in-memory rebuild baseline.
//   { job: 'open', lib, mode, dir, file, refFile, nq, k, ef }
//       loads only the queries, reads /proc/self/status, opens/loads the
//       saved file (timed), reads /proc/self/status again, runs the first
//       `nq` searches (timed), reads it once more and compares the ids with
//       the reference.
//
// A fresh process per open means each open starts from an empty heap, so
// the /proc/self/status deltas belong to that open alone.

const fs = require('node:fs')
const path = require('node:path')
const { execFileSync, fork } = require('node:child_process')
const { loadDataset, readMeta } = require('./dataset')
const { M, EF_CONSTRUCTION } = require('./adapters')
const { gc } = require('./measure')

// Same convention as lib/adapters.js: hnsw-gnn from the project root, or
// from HNSW_GNN_MODULE (e.g. an installed package).
const PROJECT_ROOT = process.env.HNSW_GNN_MODULE ? path.resolve(process.env.HNSW_GNN_MODULE) : path.join(__dirname, '..', '..')
const ENTRY = path.join(__dirname, '..', 'store.js')

const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9

// ------------------------------------------------------------ system helpers

// Resident set of this process split as the kernel reports it, in bytes:
// RssAnon = private memory (heaps: JS, Rust, C++), RssFile = file pages
// mapped into this process (the addon's code, and memory-mapped data files).
function memStatus() {
  const txt = fs.readFileSync('/proc/self/status', 'utf8')
  const field = (key) => {
    const m = txt.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'))
    return m ? Number(m[1]) * 1024 : null
  }
  return { vmRss: field('VmRSS'), rssAnon: field('RssAnon'), rssFile: field('RssFile'), rssShmem: field('RssShmem') }
}

const maxRssBytes = () => process.resourceUsage().maxRSS * 1024 // maxRSS is in KiB

// Bytes of `file` in the page cache, via util-linux fincore; null if that
// tool is missing or fails. Used to show that "warm" and "cold" opens
// really started warm and cold.
function residentBytes(file) {
  try {
    const out = execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    const x = Number(out.trim())
    return Number.isFinite(x) ? x : null
  } catch {
    return null
  }
}

// Writes dirty pages back, then asks the kernel to drop the clean page
// cache (needs root; refused in many containers). Returns null on success,
// else the reason it could not be done.
function dropCaches() {
  try {
    execFileSync('sync')
    fs.writeFileSync('/proc/sys/vm/drop_caches', '1')
    return null
  } catch (e) {
    return e.code || e.message.split('\n')[0]
  }
}

// Reads `file` through once (untimed) so the next open finds it cached.
function warmPageCache(file) {
  const fd = fs.openSync(file, 'r')
  try {
    const buf = Buffer.allocUnsafe(1 << 24)
    let off = 0
    for (;;) {
      const got = fs.readSync(fd, buf, 0, buf.length, off)
      if (got === 0) break
      off += got
    }
  } finally {
    fs.closeSync(fd)
  }
}

// Parent side: runs one job in a fresh child and resolves with
// { ok: true, result } or { ok: false, error } (a crash, an OOM kill or a
// timeout is a result to report, not an exception).
function runChild(job, timeoutSec) {
  return new Promise((resolve) => {
    const child = fork(ENTRY, ['--child', JSON.stringify(job)], {
      execArgv: ['--expose-gc'], // the child collects garbage before reading its RSS
      // Child stdout goes to our stderr: stdout is reserved for the tables.
      stdio: ['ignore', process.stderr, 'inherit', 'ipc'],
    })
    let reply = null
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, timeoutSec * 1000)
    child.on('message', (m) => (reply = m))
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (reply && reply.type === 'result') resolve({ ok: true, result: reply.result })
      else if (reply && reply.type === 'error') resolve({ ok: false, error: reply.error })
      else if (timedOut) resolve({ ok: false, error: `timed out after ${timeoutSec} s (killed)` })
      else resolve({ ok: false, error: `child exited without a result (code ${code}, signal ${signal}${signal === 'SIGKILL' ? ': out of memory?' : ''})` })
    })
  })
}

// ------------------------------------------------------------ data

function rowViews(flat, dim) {
  const rows = []
  for (let off = 0; off < flat.length; off += dim) rows.push(flat.subarray(off, off + dim))
  return rows
}

// Reads a small typed file (queries, ground truth) into a fresh,
// aligned typed array.
function readSmall(file, Ctor, count) {
  const buf = fs.readFileSync(file)
  const out = new Ctor(count)
  new Uint8Array(out.buffer).set(buf.subarray(0, out.byteLength))
  return out
}

// The open job must not load the base vectors (that would swamp the RSS
// it measures): just the first `nq` queries and their ground truth.
function loadQueries(dir, nq) {
  const meta = readMeta(dir)
  if (nq > meta.nq) throw new Error(`need ${nq} queries, the dataset has ${meta.nq}`)
  const queries = readSmall(path.join(dir, 'queries.f32'), Float32Array, nq * meta.dim)
  const gtWidth = fs.statSync(path.join(dir, 'gt.i32')).size / 4 / meta.nq
  const gt = readSmall(path.join(dir, 'gt.i32'), Int32Array, nq * gtWidth)
  return { n: meta.n, dim: meta.dim, queries, gt, gtWidth }
}

// recall@k of `ids` (Int32Array nq*k, -1 = no hit) against exact neighbours.
function recallAtK(ids, k, gt, gtWidth) {
  const nq = ids.length / k
  let hits = 0
  for (let q = 0; q < nq; q++) {
    for (let a = 0; a < k; a++) {
      const id = ids[q * k + a]
      if (id < 0) continue
      for (let b = 0; b < k; b++) {
        if (gt[q * gtWidth + b] === id) {
          hits++
          break
        }
      }
    }
  }
  return hits / (nq * k)
}

// Number of queries whose ordered top-k id list differs from the reference.
function mismatches(ids, ref, k) {
  let bad = 0
  for (let q = 0; q < ids.length / k; q++) {
    for (let a = 0; a < k; a++) {
      if (ids[q * k + a] !== ref[q * k + a]) {
        bad++
        break
      }
    }
  }
  return bad
}

// ------------------------------------------------------------ libraries
// One driver per library, each on its fastest documented persistence path
// with the ann benchmark's graph parameters (M=16, efConstruction=200,
// squared L2). A driver has
//   builder(ds, job)  -> { build(), search(q), ids(r), save(file), stats?() , close() }
//   opener(job, mode) -> { open(file) (timed), search(q), ids(r), stats?(), close() }
//   modes             -> the ways it can open a saved file
//   queryForm(q)      -> a query in the form its search takes (converted untimed)

function pkgVersion(dirOrName) {
  try {
    let dir = path.dirname(require.resolve(dirOrName))
    for (;;) {
      // Skip nested package.json files without a version (usearch ships
      // one in dist/cjs that only sets "type").
      const file = path.join(dir, 'package.json')
      const version = fs.existsSync(file) && JSON.parse(fs.readFileSync(file, 'utf8')).version
      if (version) return version
      const up = path.dirname(dir)
      if (up === dir) return '?'
      dir = up
    }
  } catch {
    return '?'
  }
}

const DRIVERS = {
  'hnsw-gnn': {
    label: 'hnsw-gnn',
    version: () => pkgVersion(PROJECT_ROOT),
    modes: ['open'],
    modeNote: { open: 'VectorDB.open(path): validates CRCs, maps the vectors, loads the graph, replays the WAL' },
    saveNote: 'db.save(): temp file + fsync + rename (durability: none while loading)',
    queryForm: (q) => q,
    builder(ds, job) {
      const { VectorDB } = require(PROJECT_ROOT)
      const persist = job.file ? { path: job.file, durability: 'none' } : {}
      const db = new VectorDB({ dimensions: ds.dim, metric: 'euclidean', m: M, efConstruction: EF_CONSTRUCTION, ...persist })
      const opts = { k: job.k, efSearch: job.ef }
      return {
        async build() {
          // The flat form: one Float32Array of all vectors, copied once.
          const ids = Array.from({ length: ds.n }, (_, i) => String(i))
          await db.insertBatch({ ids, vectors: ds.base })
          if (db.size !== ds.n) throw new Error(`size ${db.size} after inserting ${ds.n}`)
        },
        search: (q) => db.searchSync(q, opts),
        ids: (r) => r.hits.map((h) => Number(h.id)),
        save: () => db.save(),
        stats: () => db.stats(),
        close: () => db.close(),
      }
    },
    opener(job) {
      const { VectorDB } = require(PROJECT_ROOT)
      const opts = { k: job.k, efSearch: job.ef }
      let db = null
      return {
        async open(file) {
          db = await VectorDB.open(file)
        },
        search: (q) => db.searchSync(q, opts),
        ids: (r) => r.hits.map((h) => Number(h.id)),
        stats: () => db.stats(),
        close: () => db.close(),
      }
    },
  },

  hnswlib: {
    label: 'hnswlib-node',
    version: () => pkgVersion('hnswlib-node'),
    modes: ['readIndex'],
    modeNote: { readIndex: 'new HierarchicalNSW + await readIndex(path): reads the whole file into memory' },
    saveNote: 'await writeIndex(path) (no fsync of its own)',
    // Its API takes plain number[]; converted before the clock starts.
    queryForm: (q) => Array.from(q),
    builder(ds, job) {
      const { HierarchicalNSW } = require('hnswlib-node')
      const index = new HierarchicalNSW('l2', ds.dim)
      return {
        async build() {
          // v3 has no batch or multi-threaded insert; addPoint is the only path
          // (as in the ann benchmark, the Float32Array -> number[] conversion
          // per point is part of building).
          index.initIndex(ds.n, M, EF_CONSTRUCTION, 100)
          const { dim, base } = ds
          for (let i = 0; i < ds.n; i++) index.addPoint(Array.from(base.subarray(i * dim, (i + 1) * dim)), i)
          index.setEf(job.ef)
        },
        search: (q) => index.searchKnn(q, job.k),
        ids: (r) => r.neighbors,
        save: (file) => index.writeIndex(file),
        close() {},
      }
    },
    opener(job) {
      const { HierarchicalNSW } = require('hnswlib-node')
      let index = null
      return {
        async open(file) {
          index = new HierarchicalNSW('l2', job.dim)
          await index.readIndex(file)
          index.setEf(job.ef)
        },
        search: (q) => index.searchKnn(q, job.k),
        ids: (r) => r.neighbors,
        close() {},
      }
    },
  },

  usearch: {
    label: 'usearch',
    version: () => pkgVersion('usearch'),
    modes: ['load', 'view'],
    modeNote: { load: 'new Index(config) + load(path): reads the whole file into memory', view: 'new Index(config) + view(path): memory-maps the file' },
    saveNote: 'save(path) (no fsync of its own)',
    queryForm: (q) => q,
    builder(ds, job) {
      const { Index } = require('usearch')
      const index = new Index(usearchConfig(ds.dim, job.ef))
      return {
        async build() {
          const keys = new BigUint64Array(ds.n)
          for (let i = 0; i < ds.n; i++) keys[i] = BigInt(i)
          index.add(keys, ds.base, 0) // threads=0: all cores
        },
        search: (q) => index.search(q, job.k, 1), // one query on this thread
        ids: (m) => Array.from(m.keys, Number),
        save: (file) => index.save(file),
        close() {},
      }
    },
    opener(job, mode) {
      const { Index } = require('usearch')
      let index = null
      return {
        async open(file) {
          // expansion_search is fixed at construction (no setter in its JS API).
          index = new Index(usearchConfig(job.dim, job.ef))
          if (mode === 'view') index.view(file)
          else index.load(file)
        },
        search: (q) => index.search(q, job.k, 1),
        ids: (m) => Array.from(m.keys, Number),
        close() {},
      }
    },
  },
}

function usearchConfig(dim, ef) {
  return { metric: 'l2sq', dimensions: dim, connectivity: M, expansion_add: EF_CONSTRUCTION, expansion_search: ef }
}

// Runs the first nq queries one by one; returns the wall time and the ids
// (Int32Array nq*k, -1 padded). Conversion of results to ids is untimed.
function searchAll(queries, handle, k) {
  const raw = new Array(queries.length)
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < queries.length; i++) raw[i] = handle.search(queries[i])
  const sec = seconds(t0)
  const ids = new Int32Array(queries.length * k).fill(-1)
  raw.forEach((r, i) => handle.ids(r).slice(0, k).forEach((id, a) => (ids[i * k + a] = id)))
  return { sec, ids }
}

function fsyncFile(file) {
  const fd = fs.openSync(file, 'r')
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

// ------------------------------------------------------------ jobs

async function buildJob(job) {
  const driver = DRIVERS[job.lib]
  const ds = loadDataset(job.dir)
  const handle = driver.builder(ds, job)
  gc()
  const t0 = process.hrtime.bigint()
  await handle.build()
  const buildSec = seconds(t0)
  const out = { lib: job.lib, label: driver.label, version: driver.version(), n: ds.n, buildSec, peakRss: maxRssBytes(), rssAfterBuild: memStatus() }
  console.error(`  [${job.lib}] built ${ds.n} x ${ds.dim} in ${buildSec.toFixed(1)} s${job.file ? '' : ' (in memory)'}`)
  if (!job.file) {
    await handle.close()
    return out
  }

  // Reference results of the index as built, before anything is saved.
  const queries = rowViews(ds.queries, ds.dim).slice(0, job.nq).map(driver.queryForm)
  const ref = searchAll(queries, handle, job.k)
  fs.writeFileSync(job.refFile, new Uint8Array(ref.ids.buffer))
  out.recall = recallAtK(ref.ids, job.k, ds.gt, ds.gtWidth)
  out.statsBeforeSave = handle.stats ? handle.stats() : null

  // Each save rewrites the whole file. The extra fsync afterwards puts the
  // peers (whose save does not fsync) on the same footing as hnsw-gnn
  // (whose save already did; its extra fsync finds nothing to write).
  out.saves = []
  for (let r = 0; r < job.saveRuns; r++) {
    gc()
    const s0 = process.hrtime.bigint()
    await handle.save(job.file)
    const saveSec = seconds(s0)
    const f0 = process.hrtime.bigint()
    fsyncFile(job.file)
    out.saves.push({ saveSec, fsyncSec: seconds(f0) })
    console.error(`  [${job.lib}] save ${r + 1}/${job.saveRuns}: ${saveSec.toFixed(2)} s (+ fsync ${out.saves[r].fsyncSec.toFixed(2)} s)`)
  }
  out.fileBytes = fs.statSync(job.file).size
  out.statsAfterSave = handle.stats ? handle.stats() : null
  await handle.close()
  // Everything the library left next to its file (hnsw-gnn: the emptied WAL).
  const dir = path.dirname(job.file)
  const base = path.basename(job.file)
  out.files = fs.readdirSync(dir).filter((f) => f.startsWith(base)).map((f) => ({ name: f, bytes: fs.statSync(path.join(dir, f)).size }))
  return out
}

async function openJob(job) {
  const driver = DRIVERS[job.lib]
  // Everything except the index itself is loaded before the first reading:
  // the library's code, the queries in its form, the reference ids.
  const data = loadQueries(job.dir, job.nq)
  const queries = rowViews(data.queries, data.dim).map(driver.queryForm)
  const ref = readSmall(job.refFile, Int32Array, job.nq * job.k)
  const handle = driver.opener({ ...job, dim: data.dim }, job.mode)
  gc()
  const before = memStatus()
  const t0 = process.hrtime.bigint()
  await handle.open(job.file)
  const openSec = seconds(t0)
  const afterOpen = memStatus()
  const stats = handle.stats ? handle.stats() : null
  const s = searchAll(queries, handle, job.k)
  const afterSearch = memStatus()
  await handle.close()
  return {
    lib: job.lib,
    mode: job.mode,
    openSec,
    before,
    afterOpen,
    afterSearch,
    stats,
    searchSec: s.sec,
    mismatches: mismatches(s.ids, ref, job.k),
    recall: recallAtK(s.ids, job.k, data.gt, data.gtWidth),
  }
}

// Entry point for `store.js --child JSON`.
async function childMain(job) {
  const reply = (msg) => process.send(msg, () => process.exit(0))
  process.on('disconnect', () => process.exit(0)) // parent gone: do not linger
  try {
    const result = job.job === 'build' ? await buildJob(job) : job.job === 'open' ? await openJob(job) : null
    if (!result) throw new Error(`unknown job ${JSON.stringify(job.job)}`)
    reply({ type: 'result', result })
  } catch (e) {
    reply({ type: 'error', error: (e && e.stack) || String(e) })
  }
}

module.exports = { DRIVERS, runChild, childMain, dropCaches, residentBytes, warmPageCache }
