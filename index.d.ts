// Public types of hnsw-gnn. Everything generated from the Rust doc comments
// lives in native.d.ts and is re-exported here; this file adds the search
// methods that index.js assembles in JavaScript.

export * from './native'

import type { SearchOptions, OpenDbOptions } from './native'

/** One search hit. */
export interface SearchHit {
  /** The item's id. */
  id: string
  /**
   * Higher is closer: the cosine similarity (`cosine`), the dot product
   * (`dot`), or the negated squared euclidean distance (`euclidean`).
   */
  score: number
  /**
   * Lower is closer: `1 - cosine similarity`, `-dot`, or the squared
   * euclidean distance.
   */
  distance: number
  /** The item's metadata, or `null` when it has none. */
  metadata: Record<string, unknown> | null
}

/** What a search returns. */
export interface SearchResult {
  /** Names this search for later feedback; unique per search. */
  searchId: string
  /** At most `k` hits, closest first. */
  hits: SearchHit[]
}

declare module './native' {
  namespace VectorDB {
    /**
     * Opens an existing database file off the JS thread: validates it
     * (every section's checksum), memory-maps its vectors instead of
     * reading them into the heap, and replays its write-ahead log.
     * Rejects with `ERR_IO` (missing or unreadable file),
     * `ERR_CORRUPT_FILE`, `ERR_UNSUPPORTED_FORMAT` (written by a newer
     * hnsw-gnn) or `ERR_LOCKED` (another `VectorDB` is writing it; pass
     * `readOnly: true` to read alongside it).
     *
     * @example
     * const db = await VectorDB.open('shop.hgnn')
     */
    function open(path: string, options?: OpenDbOptions): Promise<VectorDB>
  }

  interface VectorDB {
    /**
     * The `k` nearest items to `query`, computed on the libuv thread pool.
     * Rejects with `ERR_DIMENSION_MISMATCH`, `ERR_INVALID_VECTOR`,
     * `ERR_INVALID_ARGUMENT` or `ERR_INVALID_FILTER` on bad input.
     *
     * @example
     * const { searchId, hits } = await db.search(query, { k: 10, filter: { color: 'red' } })
     */
    search(query: Float32Array | number[], options?: SearchOptions): Promise<SearchResult>
    /**
     * Like `search`, on the calling thread: the lowest latency, but it
     * blocks the event loop for the duration of the search (typically
     * 20–200 µs). Throws the same errors `search` rejects with.
     */
    searchSync(query: Float32Array | number[], options?: SearchOptions): SearchResult
    /**
     * Many searches in parallel on all cores. `queries` is an array of
     * vectors or one flat `Float32Array` of `n * dimensions` numbers.
     * Rejects on the first bad query.
     */
    searchBatch(queries: Array<Float32Array | number[]> | Float32Array, options?: SearchOptions): Promise<SearchResult[]>
  }
}
