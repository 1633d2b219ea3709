'use strict'
// The static retrieval every method starts from: hnsw-gnn's HNSW index over
// the dataset (cosine, M 16, efConstruction 200), searched to a fixed depth.
// Results are cached per query vector object, so the baselines' rerank cost
// is measured without the base search that all of them share.

const path = require('node:path')

const { rowViews } = require('../lib/adapters')

const PROJECT_ROOT = path.join(__dirname, '..', '..')
const BASE_DEPTH = 100
const BASE_EF_SEARCH = 160

async function createBase(dataset, { depth = BASE_DEPTH, efSearch = BASE_EF_SEARCH } = {}) {
  const { VectorDB } = require(PROJECT_ROOT)
  const db = new VectorDB({ dimensions: dataset.dim, metric: 'cosine', m: 16, efConstruction: 200, efSearch })
  await db.insertBatch(rowViews(dataset.vectors, dataset.dim).map((vector, i) => ({ id: String(i), vector })))
  // Keyed by the query vector object: callers pass the same row views again.
  const cache = new WeakMap()
  const toResult = (result) => ({
    ids: Int32Array.from(result.hits, (hit) => Number(hit.id)),
    scores: Float32Array.from(result.hits, (hit) => hit.score),
  })
  const fetch = (query, k) => toResult(db.searchSync(query, { k, efSearch: Math.max(efSearch, k) }))
  return {
    depth,
    dataset,
    // Fills the cache for many queries at once, on all cores.
    async warm(queries) {
      const results = await db.searchBatch(queries, { k: depth })
      queries.forEach((query, i) => cache.set(query, toResult(results[i])))
    },
    // { ids, scores } of the `k` (default: depth) nearest items, best first;
    // scores are cosine similarities.
    search(query, k = depth) {
      let result = cache.get(query)
      if (!result || (result.ids.length < k && result.ids.length < dataset.count)) {
        result = fetch(query, Math.max(k, depth))
        cache.set(query, result)
      }
      if (result.ids.length <= k) return result
      return { ids: result.ids.subarray(0, k), scores: result.scores.subarray(0, k) }
    },
    // A search for a vector that will not be asked again (no caching).
    searchOnce(query, k = depth) {
      return fetch(query, k)
    },
    close: () => db.close(),
  }
}

// Cosine similarity of a query with item `item` (rows are unit length).
function similarity(dataset, query, item) {
  const { dim, vectors } = dataset
  let s = 0
  for (let d = 0, o = item * dim; d < dim; d++) s += query[d] * vectors[o + d]
  return s
}

module.exports = { createBase, similarity, BASE_DEPTH, BASE_EF_SEARCH, PROJECT_ROOT }
