'use strict'
// Synthetic, seeded, deliberately non-trivial ANN data.
//
// Uniform or isotropic-gaussian data is a poor benchmark: either every
// point is roughly equidistant (hopeless for any index) or a single blob is
// so easy that efSearch barely matters. Real embeddings sit on a union of
// low-dimensional, unevenly populated patches. We model that as a mixture of
// gaussian clusters, each living in its own random low-dimensional subspace
// (with a decaying spectrum), with varied spreads and sizes, plus isotropic
// full-dimensional noise so nothing is exactly degenerate.
//
// Bump GENERATOR_VERSION whenever the output changes, so cached data under
// benchmark/data/ is regenerated instead of silently reused.

const { Rng, deriveSeed } = require('./rng')

const GENERATOR_VERSION = 1

// Tuned on the default 100k x 128 set, 2,000 queries, so that hnswlib
// (M=16, efConstruction=200) gets recall@10 ~0.86 at efSearch 16 and first
// reaches 0.95 at efSearch 64 (0.92 / 0.955 / 0.97 / 0.985 at 32..256).
// Cluster overlap (centerSpread) is the main difficulty knob; ann.js prints
// hnswlib's recall at efSearch 16 and warns if it reaches 0.9.
const DEFAULTS = {
  clusters: 300, // "a few hundred" patches
  intrinsic: 32, // dimensions of each patch's subspace
  centerSpread: 0.8, // std-dev of cluster centres per coordinate; lower = more overlap = harder
  patchScale: 0.35, // typical std-dev along a patch's leading direction, per coordinate
  noise: 0.06, // isotropic noise std-dev per coordinate
  spreadSigma: 0.5, // log-normal sigma of per-cluster spread
  sizeSigma: 0.5, // log-normal sigma of per-cluster population
}

function makeModel(rng, dim, p) {
  const clusters = []
  let totalWeight = 0
  for (let c = 0; c < p.clusters; c++) {
    const center = new Float64Array(dim)
    for (let j = 0; j < dim; j++) center[j] = rng.gaussian() * p.centerSpread
    // Random basis (dim x intrinsic). Gaussian columns in high dimension are
    // nearly orthogonal, which is all we need; no Gram-Schmidt required.
    const basis = new Float64Array(dim * p.intrinsic)
    for (let j = 0; j < basis.length; j++) basis[j] = rng.gaussian()
    // Varied spreads: log-normal scale per cluster.
    const scale = p.patchScale * Math.exp(p.spreadSigma * rng.gaussian())
    // Varied sizes: log-normal weights give a few big and many small clusters.
    const weight = Math.exp(p.sizeSigma * rng.gaussian())
    totalWeight += weight
    clusters.push({ center, basis, scale, cumWeight: totalWeight })
  }
  // Decaying spectrum: the patch is elongated, not a ball.
  const spectrum = new Float64Array(p.intrinsic)
  for (let r = 0; r < p.intrinsic; r++) spectrum[r] = 1 / Math.sqrt(1 + r)
  return { dim, clusters, totalWeight, spectrum, p }
}

function pickCluster(model, u) {
  const target = u * model.totalWeight
  const cs = model.clusters
  let lo = 0
  let hi = cs.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (cs[mid].cumWeight < target) lo = mid + 1
    else hi = mid
  }
  return cs[lo]
}

function sample(model, count, rng) {
  const { dim, spectrum, p } = model
  const out = new Float32Array(count * dim)
  const g = new Float64Array(p.intrinsic)
  for (let i = 0; i < count; i++) {
    const c = pickCluster(model, rng.uniform())
    for (let r = 0; r < p.intrinsic; r++) g[r] = rng.gaussian() * spectrum[r] * c.scale
    const row = i * dim
    for (let j = 0; j < dim; j++) {
      let v = c.center[j] + rng.gaussian() * p.noise
      const b = j * p.intrinsic
      for (let r = 0; r < p.intrinsic; r++) v += c.basis[b + r] * g[r]
      out[row + j] = v
    }
  }
  return out
}

// Base and queries share the model (same distribution) but use independent
// random streams, so no query is a copy of a base vector.
function generate({ n, nq, dim, seed }, overrides = {}) {
  const p = { ...DEFAULTS, ...overrides }
  const model = makeModel(new Rng(deriveSeed(seed, 0)), dim, p)
  const base = sample(model, n, new Rng(deriveSeed(seed, 1)))
  const queries = sample(model, nq, new Rng(deriveSeed(seed, 2)))
  return { base, queries, params: p }
}

module.exports = { generate, GENERATOR_VERSION, DEFAULTS }
