'use strict'
// Exact k-nearest-neighbour ground truth by brute force, squared L2.
//
// Recall is only as trustworthy as the ground truth, so this is a plain,
// exhaustive scan (no approximation). Two things keep it fast in plain JS:
// the query range is split across worker_threads, and each distance sum is
// abandoned as soon as it exceeds the current k-th best (exact: a partial
// sum of squares only grows).

const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads')

// Top-k for one query; returns neighbour ids sorted by ascending distance
// (ties broken by lower id, so the result is deterministic).
function knnOne(base, n, dim, q, qOff, k, ids, dists) {
  let count = 0
  let worst = Infinity
  for (let i = 0; i < n; i++) {
    const bOff = i * dim
    let s = 0
    let j = 0
    // Check the running sum every 16 coordinates: cheap early exit.
    for (; j + 16 <= dim; j += 16) {
      for (let t = j; t < j + 16; t++) {
        const d = base[bOff + t] - q[qOff + t]
        s += d * d
      }
      if (s > worst) break
    }
    if (s > worst) continue
    for (; j < dim; j++) {
      const d = base[bOff + j] - q[qOff + j]
      s += d * d
    }
    if (count === k && s >= worst) continue
    // Insertion into the sorted top-k list.
    let pos = count < k ? count++ : k - 1
    while (pos > 0 && dists[pos - 1] > s) {
      dists[pos] = dists[pos - 1]
      ids[pos] = ids[pos - 1]
      pos--
    }
    dists[pos] = s
    ids[pos] = i
    if (count === k) worst = dists[k - 1]
  }
  return count
}

function knnRange(base, queries, dim, k, from, to, out) {
  const n = base.length / dim
  const ids = new Int32Array(k)
  const dists = new Float64Array(k)
  for (let qi = from; qi < to; qi++) {
    knnOne(base, n, dim, queries, qi * dim, k, ids, dists)
    out.set(ids, qi * k)
  }
}

// Copies the inputs into SharedArrayBuffers once so workers read them
// without per-thread copies (100k x 128 f32 = 51 MB).
function toShared(arr) {
  const shared = new Float32Array(new SharedArrayBuffer(arr.byteLength))
  shared.set(arr)
  return shared
}

async function computeGroundTruth(base, queries, dim, k, threads = 2) {
  const nq = queries.length / dim
  const n = base.length / dim
  if (k > n) throw new Error(`ground truth k=${k} exceeds base size ${n}`)
  const out = new Int32Array(new SharedArrayBuffer(nq * k * 4))
  const sBase = toShared(base)
  const sQueries = toShared(queries)
  const workers = Math.max(1, Math.min(threads, nq))
  const chunk = Math.ceil(nq / workers)
  const jobs = []
  for (let w = 0; w < workers; w++) {
    const from = w * chunk
    const to = Math.min(nq, from + chunk)
    if (from >= to) break
    jobs.push(
      new Promise((resolve, reject) => {
        const worker = new Worker(__filename, {
          workerData: { base: sBase, queries: sQueries, dim, k, from, to, out },
        })
        worker.once('message', resolve)
        worker.once('error', reject)
        worker.once('exit', (code) => code !== 0 && reject(new Error(`GT worker exited with ${code}`)))
      }),
    )
  }
  await Promise.all(jobs)
  return new Int32Array(out) // plain (non-shared) copy for the caller
}

if (!isMainThread && workerData && workerData.out) {
  const { base, queries, dim, k, from, to, out } = workerData
  knnRange(base, queries, dim, k, from, to, out)
  parentPort.postMessage('done')
}

module.exports = { computeGroundTruth, knnRange }
