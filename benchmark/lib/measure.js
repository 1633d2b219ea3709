'use strict'
// Timing passes and the statistics derived from them.
//
// Every query is timed individually with process.hrtime.bigint() so we get
// latency percentiles; QPS comes from the wall time of the whole pass.
// Timed passes drop each result right away, as an application would:
// retaining thousands of result objects (and, for usearch, their native
// ArrayBuffers) made the GC add millisecond stalls to whichever library
// allocates most. Recall comes from a separate untimed pass (collect*),
// which also serves as warm-up; all libraries' searches are deterministic.

const now = process.hrtime.bigint

function median(xs) {
  const s = Float64Array.from(xs).sort()
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

// Nearest-rank percentile of an already sorted array.
function percentile(sorted, p) {
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))
  return sorted[idx]
}

function summarize(latNs, totalNs) {
  const sorted = Float64Array.from(latNs).sort()
  const count = sorted.length
  return {
    qps: count / (Number(totalNs) / 1e9),
    meanUs: Number(totalNs) / 1e3 / count,
    p50Us: percentile(sorted, 0.5) / 1e3,
    p99Us: percentile(sorted, 0.99) / 1e3,
  }
}

// One query per call, on this thread.
function passSync(queries, fn) {
  const lat = new Float64Array(queries.length)
  let sink = null
  const t0 = now()
  for (let i = 0; i < queries.length; i++) {
    const s = now()
    sink = fn(queries[i])
    lat[i] = Number(now() - s)
  }
  const total = now() - t0
  if (sink == null) throw new Error('search returned nothing')
  return summarize(lat, total)
}

// One query per call, awaited before the next one is issued: measures the
// per-call cost of the Promise path (thread-pool hop + resolve).
async function passAsync(queries, fn) {
  const lat = new Float64Array(queries.length)
  let sink = null
  const t0 = now()
  for (let i = 0; i < queries.length; i++) {
    const s = now()
    sink = await fn(queries[i])
    lat[i] = Number(now() - s)
  }
  const total = now() - t0
  if (sink == null) throw new Error('search returned nothing')
  return summarize(lat, total)
}

// All queries in one call (library parallelises internally): throughput only.
async function passBatch(queries, fn) {
  const t0 = now()
  const sink = await fn(queries)
  const totalNs = now() - t0
  if (sink == null) throw new Error('batch search returned nothing')
  return { qps: queries.length / (Number(totalNs) / 1e9), meanUs: Number(totalNs) / 1e3 / queries.length }
}

// Untimed passes that keep the returned ids, for recall.
function collectSync(queries, fn, toIds) {
  return queries.map((q) => toIds(fn(q)))
}

async function collectAsync(queries, fn, toIds) {
  const out = []
  for (const q of queries) out.push(toIds(await fn(q)))
  return out
}

// recall@k: fraction of the true k nearest that the library returned in its
// top k, averaged over queries. `ids[i]` is the list of returned ids.
function recallAtK(ids, gt, gtWidth, k) {
  let hits = 0
  for (let q = 0; q < ids.length; q++) {
    const got = ids[q]
    const row = q * gtWidth
    const m = Math.min(k, got.length)
    for (let a = 0; a < m; a++) {
      for (let b = 0; b < k; b++) {
        if (gt[row + b] === got[a]) {
          hits++
          break
        }
      }
    }
  }
  return hits / (ids.length * k)
}

function gc() {
  // Collect between passes (child runs with --expose-gc) so a major GC of
  // the previous pass's garbage does not land inside the next timed pass.
  if (typeof global.gc === 'function') global.gc()
}

module.exports = { median, percentile, passSync, passAsync, passBatch, collectSync, collectAsync, recallAtK, gc }
