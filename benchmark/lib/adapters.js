'use strict'
// One adapter per library, each using that library's fastest documented
// path with identical graph parameters (M=16, efConstruction=200, squared
// L2). An adapter exposes:
//   build()        -> builds the index (timed by the caller)
//   at(ef)         -> query functions for that efSearch:
//                     { sync?(q), async?(q), batch?(qs), ids(raw), batchIds(raw) }
//   buildNote      -> how the index was built, printed in the report
//   queries        -> the queries in the form its search takes
//   extraBuilds?   -> further builds (ruvector: one index per efSearch)
//   hopProbe?      -> trivial sync/async call pair, reference for async cost
//   cleanup()      -> removes temp files
// Queries arrive pre-sliced as Float32Array views (or number[] for
// hnswlib, converted before timing), so no conversion is timed.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const M = 16
const EF_CONSTRUCTION = 200
// hnsw-gnn is loaded from the project root (require('..') from benchmark/);
// HNSW_GNN_MODULE points it at another build, e.g. an installed package.
const PROJECT_ROOT = process.env.HNSW_GNN_MODULE ? path.resolve(process.env.HNSW_GNN_MODULE) : path.join(__dirname, '..', '..')

function tmpFile(tag) {
  return path.join(os.tmpdir(), `ann-bench-${tag}-${process.pid}-${Date.now()}`)
}

function isInstalled(name) {
  try {
    require.resolve(name)
    return true
  } catch {
    return false
  }
}

// One Float32Array view per row of a flat array (views, not copies).
function rowViews(flat, dim) {
  const rows = []
  for (let off = 0; off < flat.length; off += dim) rows.push(flat.subarray(off, off + dim))
  return rows
}

// Reads the version from the package.json nearest to the resolved entry
// point (`require('usearch/package.json')` is blocked by its exports map).
function pkgVersion(name) {
  try {
    let dir = path.dirname(require.resolve(name))
    for (;;) {
      const file = path.join(dir, 'package.json')
      if (fs.existsSync(file)) {
        const pkg = JSON.parse(fs.readFileSync(file, 'utf8'))
        if (pkg.version && (pkg.name === name || path.isAbsolute(name))) return pkg.version
      }
      const up = path.dirname(dir)
      if (up === dir) return '?'
      dir = up
    }
  } catch {
    return '?'
  }
}

// Drops native objects that are no longer referenced. N-API finalizers run
// after the GC pass (deferred to the event loop), hence gc, yield, gc.
async function releaseNative() {
  if (typeof global.gc !== 'function') return
  global.gc()
  await new Promise((resolve) => setImmediate(resolve))
  global.gc()
}

// Thrown when a library cannot be loaded: the parent prints it as "skipped".
class NotInstalled extends Error {}

function requireOrSkip(name, hint) {
  try {
    return require(name)
  } catch (e) {
    throw new NotInstalled(`${hint} (${e.message.split('\n')[0]})`)
  }
}

// ---------------------------------------------------------------- hnswlib
function hnswlib(ds, { k }) {
  const { HierarchicalNSW } = requireOrSkip('hnswlib-node', 'hnswlib-node not installed')
  const index = new HierarchicalNSW('l2', ds.dim)
  // Its API takes plain number[]; converting is part of using it, but we do
  // it before the clock starts so only the search itself is timed.
  const queries = rowViews(ds.queries, ds.dim).map((q) => Array.from(q))
  return {
    label: 'hnswlib-node',
    version: pkgVersion('hnswlib-node'),
    // v3 has no batch or multi-threaded insert; addPoint is the only path.
    buildNote: 'addPoint() per vector, 1 thread (v3 has no batch/parallel insert; Float32Array->number[] per point included)',
    queries,
    async build() {
      index.initIndex(ds.n, M, EF_CONSTRUCTION, 100)
      const dim = ds.dim
      const base = ds.base
      for (let i = 0; i < ds.n; i++) index.addPoint(Array.from(base.subarray(i * dim, (i + 1) * dim)), i)
    },
    async at(ef) {
      index.setEf(ef)
      return {
        sync: (q) => index.searchKnn(q, k),
        ids: (r) => r.neighbors,
      }
    },
    cleanup() {},
  }
}

// ---------------------------------------------------------------- usearch
function usearch(ds, { k }) {
  const { Index } = requireOrSkip('usearch', 'usearch not installed')
  const file = tmpFile('usearch')
  const config = (ef) => ({
    metric: 'l2sq',
    dimensions: ds.dim,
    connectivity: M,
    expansion_add: EF_CONSTRUCTION,
    expansion_search: ef,
  })
  let index = null
  return {
    label: 'usearch',
    version: pkgVersion('usearch'),
    buildNote: 'add(all keys, all vectors, threads=0 -> all cores)',
    queries: rowViews(ds.queries, ds.dim),
    async build() {
      const built = new Index(config(64))
      const keys = new BigUint64Array(ds.n)
      for (let i = 0; i < ds.n; i++) keys[i] = BigInt(i)
      built.add(keys, ds.base, 0)
      // expansion_search is fixed at construction and its JS binding has no
      // setter, so each efSearch gets a fresh Index loaded from this file.
      built.save(file)
    },
    async at(ef) {
      index = null
      await releaseNative() // free the previous efSearch's copy before loading another
      index = new Index(config(ef))
      index.load(file)
      const idx = index
      return {
        // threads=1: one query on the calling thread, like searchSync.
        sync: (q) => idx.search(q, k, 1),
        // All queries in one call, threads=0 -> all cores. The full pass hands
        // over the flat query matrix (no copy); warm-up slices get flattened.
        batch: (qs) => idx.search(qs.length === ds.nq ? ds.queries : qs, k, 0),
        ids: (m) => Array.from(m.keys, Number),
        batchIds: (bm) => {
          const out = []
          for (let i = 0; i < bm.counts.length; i++) out.push(Array.from(bm.get(i).keys, Number))
          return out
        },
      }
    },
    cleanup() {
      fs.rmSync(file, { force: true })
    },
  }
}

// --------------------------------------------------------------- hnsw-gnn
function hnswGnn(ds, { k }) {
  const { VectorDB } = requireOrSkip(PROJECT_ROOT, 'hnsw-gnn addon not built (run `npm run build`)')
  const db = new VectorDB({ dimensions: ds.dim, metric: 'euclidean', m: M, efConstruction: EF_CONSTRUCTION, efSearch: 64 })
  const queries = rowViews(ds.queries, ds.dim)
  const toIds = (r) => r.hits.map((h) => Number(h.id))
  return {
    label: 'hnsw-gnn',
    version: pkgVersion(PROJECT_ROOT),
    buildNote: 'insertBatch({ ids, vectors }): all vectors in one Float32Array, parallel on all cores',
    queries,
    async build() {
      // The flat form: ids as strings (hnsw-gnn's ids are strings; the
      // peers take integer labels), vectors copied once into the index.
      const ids = Array.from({ length: ds.n }, (_, i) => String(i))
      await db.insertBatch({ ids, vectors: ds.base })
      if (db.size !== ds.n) throw new Error(`hnsw-gnn size ${db.size} after inserting ${ds.n}`)
    },
    async at(ef) {
      const opts = { k, efSearch: ef }
      return {
        sync: (q) => db.searchSync(q, opts),
        async: (q) => db.search(q, opts),
        // The full pass hands over one flat Float32Array (documented form,
        // no per-query objects to convert), as usearch gets.
        batch: (qs) => db.searchBatch(qs.length === ds.nq ? ds.queries : qs, opts),
        ids: toIds,
        batchIds: (rs) => rs.map(toIds),
      }
    },
    // Reference for the async overhead: the same thread-pool round trip
    // around a trivial lookup (await get() vs getSync()), if the API has it.
    hopProbe:
      typeof db.get === 'function' && typeof db.getSync === 'function'
        ? { sync: () => db.getSync('0'), async: () => db.get('0') }
        : null,
    cleanup() {},
  }
}

// --------------------------------------------------------------- ruvector
// Optional peer. Its per-query efSearch is ignored (checked: recall does not
// move), so it gets a fresh index per efSearch, set in hnswConfig. Its dot
// metric is unreliable, so by default it runs cosine on unit-normalised
// copies of the data (the worker passes those in, with the matching exact
// ground truth). Caveat: that copy is far easier than the raw data, so
// --ruvector-metric euclidean (same data and ground truth as the others;
// its score is plain, not squared, L2: same ranking) is the fairer match.
function ruvector(ds, { k, efs, ruvectorMetric }) {
  const cosine = ruvectorMetric === 'cosine'
  const rv = requireOrSkip('ruvector', 'ruvector not installed, skipped')
  const Native = rv.NativeVectorDb || rv.VectorDb // raw binding: skips the wrapper's JSON/metadata mapping
  const items = rowViews(ds.base, ds.dim).map((vector, i) => ({ id: String(i), vector }))
  let db = null
  let builtEf = null
  let file = null
  const extraBuilds = []
  async function buildFor(ef) {
    db = null
    await releaseNative()
    if (file) fs.rmSync(file, { recursive: true, force: true })
    file = tmpFile('ruvector') + '.db' // it persists to disk; keep that off the repo
    db = new Native({
      dimensions: ds.dim,
      distanceMetric: cosine ? 'Cosine' : 'Euclidean',
      storagePath: file,
      hnswConfig: { m: M, efConstruction: EF_CONSTRUCTION, efSearch: ef, maxElements: ds.n },
    })
    await db.insertBatch(items)
    builtEf = ef
  }
  return {
    label: 'ruvector',
    version: pkgVersion('ruvector'),
    buildNote: `insertBatch(all items), ${cosine ? 'cosine on unit-normalised data' : 'euclidean'}, one index per efSearch`,
    queries: rowViews(ds.queries, ds.dim),
    extraBuilds,
    async build() {
      await buildFor(efs[0])
    },
    async at(ef) {
      if (ef !== builtEf) {
        const t0 = process.hrtime.bigint()
        await buildFor(ef)
        extraBuilds.push({ ef, sec: Number(process.hrtime.bigint() - t0) / 1e9 })
      }
      const cur = db
      return {
        // Its search is Promise-only: this is its single-query path.
        async: (q) => cur.search({ vector: q, k }),
        ids: (r) => r.map((h) => Number(h.id)),
      }
    },
    cleanup() {
      if (file) fs.rmSync(file, { recursive: true, force: true })
    },
  }
}

const ADAPTERS = { hnswlib, usearch, 'hnsw-gnn': hnswGnn, ruvector }

module.exports = { ADAPTERS, NotInstalled, M, EF_CONSTRUCTION, isInstalled, rowViews, pkgVersion }
