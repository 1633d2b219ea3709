// Shared test helpers: a seeded PRNG, data generators, brute-force search
// references and error-capturing utilities. Not a test file itself (the
// name does not match node --test's patterns).
import assert from 'node:assert/strict'

import { createRequire } from 'node:module'

/** mulberry32: a tiny, fast, seeded 32-bit PRNG (shared with the benchmark). */
export const { mulberry32 } = createRequire(import.meta.url)('../benchmark/lib/rng.js')

/** A seeded random source with a few convenience draws. */
export function makeRng(seed) {
  const uniform = mulberry32(seed)
  let spare = null
  const rng = {
    uniform,
    /** Standard normal sample (Box–Muller). */
    gaussian() {
      if (spare !== null) {
        const s = spare
        spare = null
        return s
      }
      let u = 0
      while (u === 0) u = uniform()
      const v = uniform()
      const r = Math.sqrt(-2 * Math.log(u))
      spare = r * Math.sin(2 * Math.PI * v)
      return r * Math.cos(2 * Math.PI * v)
    },
    int(n) {
      return Math.floor(uniform() * n)
    },
    pick(array) {
      return array[Math.floor(uniform() * array.length)]
    },
    gaussianVector(dim, scale = 1) {
      const v = new Float32Array(dim)
      for (let i = 0; i < dim; i++) v[i] = rng.gaussian() * scale
      return v
    },
  }
  return rng
}

/**
 * Clustered data: `clusters` centres; each cluster spans a random
 * `subspaceDim`-dimensional subspace around its centre, plus small isotropic
 * noise. Returns `{ vectors, labels, rng }`.
 */
export function clusteredData({ n, dim, clusters = 20, subspaceDim = 4, spread = 1, noise = 0.05, seed = 1 }) {
  const rng = makeRng(seed)
  const centres = []
  const bases = []
  for (let c = 0; c < clusters; c++) {
    centres.push(rng.gaussianVector(dim, 3))
    const basis = []
    for (let b = 0; b < subspaceDim; b++) basis.push(rng.gaussianVector(dim, 1 / Math.sqrt(dim)))
    bases.push(basis)
  }
  const vectors = []
  const labels = []
  for (let i = 0; i < n; i++) {
    const c = rng.int(clusters)
    const v = Float32Array.from(centres[c])
    for (const direction of bases[c]) {
      const w = rng.gaussian() * spread
      for (let j = 0; j < dim; j++) v[j] += w * direction[j]
    }
    for (let j = 0; j < dim; j++) v[j] += rng.gaussian() * noise
    vectors.push(v)
    labels.push(c)
  }
  return { vectors, labels, rng, centres }
}

/** A query near a random data point (a realistic "nearby" query). */
export function nearbyQuery(rng, vectors, noise = 0.1) {
  const base = vectors[rng.int(vectors.length)]
  const q = new Float32Array(base.length)
  for (let j = 0; j < base.length; j++) q[j] = base[j] + rng.gaussian() * noise
  return q
}

// ------------------------------------------------------------ brute force --

function dot64(a, b) {
  let s = 0
  for (let i = 0; i < a.length; i++) s += a[i] * b[i]
  return s
}

function norm64(a) {
  return Math.sqrt(dot64(a, a))
}

/** `{ score, distance }` of `a` vs `b` under `metric`, computed in float64. */
export function exactScore(metric, a, b) {
  switch (metric) {
    case 'cosine': {
      const score = dot64(a, b) / (norm64(a) * norm64(b))
      return { score, distance: 1 - score }
    }
    case 'euclidean': {
      let d = 0
      for (let i = 0; i < a.length; i++) {
        const x = a[i] - b[i]
        d += x * x
      }
      return { score: -d, distance: d }
    }
    case 'dot': {
      const score = dot64(a, b)
      return { score, distance: -score }
    }
    default:
      throw new Error(`unknown metric ${metric}`)
  }
}

/**
 * Exact top-k: `items` is an array of `{ id, vector, metadata }`; `accept`
 * optionally filters them. Returns `[{ id, score, distance }]`, closest first.
 */
export function bruteForce(metric, items, query, k, accept = null) {
  const scored = []
  for (const item of items) {
    if (accept && !accept(item)) continue
    const { score, distance } = exactScore(metric, query, item.vector)
    scored.push({ id: item.id, score, distance })
  }
  scored.sort((x, y) => x.distance - y.distance)
  return scored.slice(0, k)
}

/** |hits ∩ reference| / |reference| on ids. */
export function recall(hits, reference) {
  if (reference.length === 0) return 1
  const want = new Set(reference.map((r) => r.id))
  let found = 0
  for (const h of hits) if (want.has(h.id)) found++
  return found / want.size
}

/** Asserts |actual - expected| ≤ tol · max(1, |expected|). */
export function assertClose(actual, expected, tol = 1e-4, what = 'value') {
  const bound = tol * Math.max(1, Math.abs(expected))
  assert.ok(
    Math.abs(actual - expected) <= bound,
    `${what}: expected ${expected}, got ${actual} (|diff| ${Math.abs(actual - expected)} > ${bound})`,
  )
}

/**
 * Asserts that `hits` rank like the brute-force `reference` (`{ id,
 * distance }`, closest first): ids in the same positions wherever distances
 * are not tied; within a group of tied distances the same ids in any order;
 * and for a tied group at the cut-off (`allDistances[k]` ties the last
 * reference hit, so which tied item makes the top k is arbitrary) matching
 * distances only. Distances must match everywhere.
 */
export function assertSameRanking(hits, reference, allDistances, message = '') {
  assert.equal(hits.length, reference.length, `${message}: hit count`)
  const tie = 1e-5
  const n = reference.length
  const cutTied = allDistances !== undefined && allDistances.length > n && n > 0 && allDistances[n] - reference[n - 1].distance < tie
  for (let start = 0; start < n; ) {
    let end = start + 1
    while (end < n && reference[end].distance - reference[end - 1].distance < tie) end++
    const hitIds = hits.slice(start, end).map((h) => h.id)
    const refIds = reference.slice(start, end).map((r) => r.id)
    if (!(cutTied && end === n)) {
      assert.deepEqual([...hitIds].sort(), [...refIds].sort(), `${message}: ids at positions ${start}..${end - 1} differ from brute force`)
      if (end - start === 1) assert.equal(hitIds[0], refIds[0], `${message}: id #${start}`)
    }
    for (let i = start; i < end; i++) assertClose(hits[i].distance, reference[i].distance, 1e-4, `${message}: distance #${i}`)
    start = end
  }
}

// ----------------------------------------------------- filter reference --

function deepEqualJson(a, b) {
  if (typeof a === 'number' && typeof b === 'number') return a === b
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
    return a.every((x, i) => deepEqualJson(x, b[i]))
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a)
    const kb = Object.keys(b)
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEqualJson(a[k], b[k]))
  }
  return a === b
}

function lookup(metadata, path) {
  if (metadata === null || metadata === undefined) return undefined
  let cur = metadata
  for (const seg of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, seg)) return undefined
    cur = cur[seg]
  }
  return cur
}

function opEq(stored, operand) {
  if (stored === undefined) return false
  if (Array.isArray(stored) && !Array.isArray(operand)) return stored.some((x) => deepEqualJson(x, operand))
  return deepEqualJson(stored, operand)
}

function compare(stored, op, operand) {
  let ord
  if (typeof stored === 'number' && typeof operand === 'number') ord = stored < operand ? -1 : stored > operand ? 1 : 0
  else if (typeof stored === 'string' && typeof operand === 'string') ord = stored < operand ? -1 : stored > operand ? 1 : 0
  else return false
  return { $gt: ord > 0, $gte: ord >= 0, $lt: ord < 0, $lte: ord <= 0 }[op]
}

function opApply(stored, op, operand) {
  switch (op) {
    case '$eq':
      return opEq(stored, operand)
    case '$ne':
      return !opEq(stored, operand)
    case '$in':
      return operand.some((x) => opEq(stored, x))
    case '$nin':
      return !operand.some((x) => opEq(stored, x))
    default:
      if (stored === undefined) return false
      if (Array.isArray(stored)) return stored.some((x) => compare(x, op, operand))
      return compare(stored, op, operand)
  }
}

/** A JS reference evaluator of the filter grammar documented in src/filter.rs. */
export function matchesFilter(filter, metadata) {
  return Object.entries(filter).every(([key, arg]) => {
    if (key === '$and') return arg.every((f) => matchesFilter(f, metadata))
    if (key === '$or') return arg.some((f) => matchesFilter(f, metadata))
    const stored = lookup(metadata, key)
    const isOps =
      arg !== null && typeof arg === 'object' && !Array.isArray(arg) && Object.keys(arg).some((k) => k.startsWith('$'))
    if (!isOps) return opEq(stored, arg)
    return Object.entries(arg).every(([op, operand]) => opApply(stored, op, operand))
  })
}

// ------------------------------------------------------------------ errors --

/** Calls `fn` and returns the error it throws (fails if it does not). */
export function thrownBy(fn, what = 'call') {
  try {
    fn()
  } catch (error) {
    return error
  }
  assert.fail(`${what} did not throw`)
}

/**
 * Calls an async method and returns `{ error, sync }`: the error it threw
 * synchronously (`sync: true`) or the reason its promise rejected with.
 * Fails if it neither throws nor rejects.
 */
export async function failureOf(fn, what = 'call') {
  let promise
  try {
    promise = fn()
  } catch (error) {
    return { error, sync: true }
  }
  assert.ok(promise instanceof Promise, `${what} should return a Promise`)
  try {
    await promise
  } catch (error) {
    return { error, sync: false }
  }
  assert.fail(`${what} resolved instead of rejecting`)
}

/** Asserts `error` is a real Error with `code` and a non-empty message. */
export function assertCode(error, code, what = 'error') {
  assert.ok(error instanceof Error, `${what}: expected an Error instance, got ${error}`)
  assert.equal(error.code, code, `${what}: wrong code (message: ${error.message})`)
  assert.equal(typeof error.message, 'string')
  assert.ok(error.message.length > 0, `${what}: empty message`)
}

/** A promise resolved after pending I/O callbacks and a short delay. */
export function tick(ms = 20) {
  return new Promise((resolve) => setImmediate(() => setTimeout(resolve, ms)))
}

export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
