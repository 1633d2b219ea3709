// References for the candidate-source tests (pgvector, lancedb): the
// contract's scores computed in float64 from the vectors, independently of
// the sources' conversions of their engines' distances. Not a test file
// itself (the name does not match node --test's patterns).

/** The contract's score: cosine similarity, -(squared L2 distance) as hnsw-gnn's baseScore, or the inner product. */
export function contractScore(metric, a, b) {
  let dot = 0
  let aa = 0
  let bb = 0
  let l2 = 0
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i]
    aa += a[i] * a[i]
    bb += b[i] * b[i]
    l2 += (a[i] - b[i]) ** 2
  }
  if (metric === 'cosine') return dot / Math.sqrt(aa * bb)
  return metric === 'euclidean' ? -l2 : dot
}

/** The exact top `k` of `items` ({ id, vector }) by contract score: [{ id, score }], best first. */
export function bruteForceTop(metric, items, query, k) {
  return items
    .map((item) => ({ id: item.id, score: contractScore(metric, query, item.vector) }))
    .sort((x, y) => y.score - x.score)
    .slice(0, k)
}

/** What `new Source(options)` throws (fails if it does not). */
export function constructionError(Source, options) {
  try {
    new Source(options)
  } catch (error) {
    return error
  }
  throw new Error(`new ${Source.name}(${JSON.stringify(options && Object.keys(options))}) did not throw`)
}
