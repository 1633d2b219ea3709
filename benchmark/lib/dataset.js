'use strict'
// Dataset directories: load, save, generate-and-cache, and the unit-norm
// variant (for ruvector, which only gets cosine here).
//
// A dataset directory holds:
//   base.f32     n  x dim  little-endian float32, row-major
//   queries.f32  nq x dim  little-endian float32, row-major
//   gt.i32       nq x w    int32 neighbour ids (w >= 10), nearest first
//   meta.json    { "n": ..., "nq": ..., "dim": ... }
// Generated data is written in exactly this format, so external and
// synthetic datasets go through the same code path.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const crypto = require('node:crypto')
const { generate, GENERATOR_VERSION, DEFAULTS: SYNTH_DEFAULTS } = require('./synth')
const { computeGroundTruth } = require('./groundtruth')

const DATA_ROOT = path.join(__dirname, '..', 'data')
const GT_WIDTH = 100 // store more than 10 columns: cheap, and allows recall@100 later

if (os.endianness() !== 'LE') throw new Error('dataset files are little-endian; big-endian hosts are not supported')

// Reads a whole file straight into a typed array (no intermediate Buffer,
// so loading does not transiently double RSS, which would blur the
// per-library peak-RSS numbers).
function readTyped(file, Ctor) {
  const fd = fs.openSync(file, 'r')
  try {
    const size = fs.fstatSync(fd).size
    if (size % Ctor.BYTES_PER_ELEMENT !== 0) throw new Error(`${file}: size is not a multiple of ${Ctor.BYTES_PER_ELEMENT}`)
    const out = new Ctor(size / Ctor.BYTES_PER_ELEMENT)
    const bytes = new Uint8Array(out.buffer)
    let off = 0
    while (off < size) {
      const got = fs.readSync(fd, bytes, off, Math.min(size - off, 1 << 26), off)
      if (got === 0) throw new Error(`${file}: unexpected end of file`)
      off += got
    }
    return out
  } finally {
    fs.closeSync(fd)
  }
}

function writeTyped(file, arr) {
  fs.writeFileSync(file, new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength))
}

function readMeta(dir) {
  return JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8'))
}

// Loads a dataset directory; `gtFile` lets the ruvector worker pick the
// unit-norm ground truth instead of gt.i32.
function loadDataset(dir, { gtFile = 'gt.i32' } = {}) {
  const meta = readMeta(dir)
  const { n, nq, dim } = meta
  const base = readTyped(path.join(dir, 'base.f32'), Float32Array)
  const queries = readTyped(path.join(dir, 'queries.f32'), Float32Array)
  const gt = readTyped(path.resolve(dir, gtFile), Int32Array) // absolute gtFile wins
  if (base.length !== n * dim) throw new Error(`base.f32 holds ${base.length} floats, expected n*dim = ${n * dim}`)
  if (queries.length !== nq * dim) throw new Error(`queries.f32 holds ${queries.length} floats, expected nq*dim = ${nq * dim}`)
  if (gt.length % nq !== 0) throw new Error(`${gtFile} length ${gt.length} is not a multiple of nq = ${nq}`)
  const gtWidth = gt.length / nq
  if (gtWidth < 10) throw new Error(`${gtFile} has ${gtWidth} neighbours per query; need at least 10`)
  return { ...meta, base, queries, gt, gtWidth }
}

function saveDataset(dir, { base, queries, gt, meta }) {
  fs.mkdirSync(dir, { recursive: true })
  writeTyped(path.join(dir, 'base.f32'), base)
  writeTyped(path.join(dir, 'queries.f32'), queries)
  writeTyped(path.join(dir, 'gt.i32'), gt)
  // meta.json last: its presence marks the cache entry as complete.
  fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta, null, 2))
}

// The generator's parameters are hashed into the key too, so retuning
// lib/synth.js can never reuse stale cached data.
function synthKey({ n, nq, dim, seed }) {
  const h = crypto.createHash('sha1').update(JSON.stringify(SYNTH_DEFAULTS)).digest('hex').slice(0, 6)
  return `synth-v${GENERATOR_VERSION}-${h}-n${n}-nq${nq}-d${dim}-s${seed}`
}

// Returns the directory of the synthetic dataset, generating it (and its
// exact ground truth) only if it is not cached yet.
async function ensureSynthetic(opts, log) {
  const dir = path.join(DATA_ROOT, synthKey(opts))
  if (fs.existsSync(path.join(dir, 'meta.json'))) {
    log(`using cached dataset ${path.relative(process.cwd(), dir)}`)
    return dir
  }
  const t0 = performance.now()
  log(`generating ${opts.n} x ${opts.dim} base + ${opts.nq} queries (seed ${opts.seed}) ...`)
  const { base, queries, params } = generate(opts)
  const t1 = performance.now()
  const width = Math.min(GT_WIDTH, opts.n)
  log(`  generated in ${((t1 - t0) / 1000).toFixed(1)} s; brute-force ground truth (k=${width}, ${opts.gtThreads} threads) ...`)
  const gt = await computeGroundTruth(base, queries, opts.dim, width, opts.gtThreads)
  log(`  ground truth in ${((performance.now() - t1) / 1000).toFixed(1)} s`)
  const meta = { n: opts.n, nq: opts.nq, dim: opts.dim, seed: opts.seed, generator: GENERATOR_VERSION, params }
  saveDataset(dir, { base, queries, gt, meta })
  return dir
}

// Where derived files (unit-norm GT) for a dataset live: next to generated
// data, or in a cache dir keyed by the external dataset's path and size.
function derivedDir(dir) {
  const abs = path.resolve(dir)
  if (abs.startsWith(path.resolve(DATA_ROOT) + path.sep)) return abs
  const st = fs.statSync(path.join(abs, 'base.f32'))
  const h = crypto.createHash('sha1').update(`${abs}:${st.size}:${st.mtimeMs}`).digest('hex').slice(0, 12)
  return path.join(DATA_ROOT, `ext-${path.basename(abs)}-${h}`)
}

function normalizeRows(arr, dim) {
  const out = new Float32Array(arr.length)
  for (let off = 0; off < arr.length; off += dim) {
    let s = 0
    for (let j = 0; j < dim; j++) s += arr[off + j] * arr[off + j]
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0
    for (let j = 0; j < dim; j++) out[off + j] = arr[off + j] * inv
  }
  return out
}

// Exact GT under cosine. For unit vectors ||a-b||^2 = 2 - 2cos(a,b), so the
// cosine ranking equals the squared-L2 ranking of the normalised data.
async function ensureUnitGroundTruth(dir, gtThreads, log) {
  const out = path.join(derivedDir(dir), 'gt-unit.i32')
  if (fs.existsSync(out)) return out
  const ds = loadDataset(dir)
  log(`computing exact cosine ground truth for unit-normalised data (ruvector) ...`)
  const t0 = performance.now()
  const gt = await computeGroundTruth(normalizeRows(ds.base, ds.dim), normalizeRows(ds.queries, ds.dim), ds.dim, 10, gtThreads)
  log(`  done in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  fs.mkdirSync(path.dirname(out), { recursive: true })
  writeTyped(out + '.tmp', gt)
  fs.renameSync(out + '.tmp', out)
  return out
}

module.exports = { loadDataset, readMeta, ensureSynthetic, ensureUnitGroundTruth, normalizeRows }
