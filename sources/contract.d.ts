// The contract every candidate source of hnsw-gnn keeps (hnsw-gnn/pgvector,
// hnsw-gnn/lancedb): another engine finds candidates, hnsw-gnn's learned
// reranker reorders them.

/** How a source's engine compares vectors. */
export type SourceMetric = 'cosine' | 'euclidean' | 'dot'

/**
 * The codes a source's errors carry (`error.code`): hnsw-gnn's own, plus
 * `ERR_SOURCE` for a failure inside the engine.
 */
export type SourceErrorCode =
  /** The query's length differs from the source's `dimensions`; nothing was sent to the engine. */
  | 'ERR_DIMENSION_MISMATCH'
  /** An empty query, NaN or ±Infinity in it, or a zero vector under cosine; nothing was sent. */
  | 'ERR_INVALID_VECTOR'
  /** A bad option or argument, or an unknown option key (a `TypeError`). */
  | 'ERR_INVALID_ARGUMENT'
  /** A malformed filter, one the source cannot express, or a filter without a metadata column (a `TypeError`). */
  | 'ERR_INVALID_FILTER'
  /**
   * The engine failed: a missing table or column, a closed pool or table,
   * a refused connection, an SQL error. The message names the call, table
   * and column; `cause` is the engine's own error.
   */
  | 'ERR_SOURCE'

/** What a source's calls throw or reject with. */
export interface SourceError extends Error {
  code: SourceErrorCode
  cause?: unknown
}

/** Options of a source's `search`. Unknown keys are an `ERR_INVALID_ARGUMENT`. */
export interface SourceSearchOptions {
  /** How many hits at most (default 10, from 1 to 100000). */
  k?: number
  /**
   * hnsw-gnn's metadata filter (`{ color: 'red', price: { $lt: 20 } }`,
   * operators `$eq $ne $gt $gte $lt $lte $in $nin $and $or`, dotted paths),
   * compiled to the engine's query language; each source documents what it
   * supports and where its engine's semantics differ.
   */
  filter?: Record<string, unknown>
}

/** One candidate from the engine. */
export interface SourceHit {
  /** The row's id as a string (numbers and bigints converted with `String`). */
  id: string
  /**
   * Higher is closer, on hnsw-gnn's scale for the metric: cosine
   * similarity (`cosine`), the negated SQUARED euclidean distance
   * (`euclidean`, as hnsw-gnn's own `baseScore`), or the inner product
   * (`dot`): a hit's score can be given to `Reranker.rerank` as is.
   */
  score: number
  /** The row's metadata, when the source was given metadata column(s) and the row has it. */
  metadata?: Record<string, unknown>
}

/** What hnsw-gnn's reranker needs from another engine. */
export interface CandidateSource {
  readonly metric: SourceMetric
  /** The engine's vector length, once the first call has read it from the schema; undefined before. */
  readonly dimensions: number | undefined
  /** At most `k` hits, best first. */
  search(query: Float32Array | number[], options?: SourceSearchOptions): Promise<SourceHit[]>
  /** The stored vectors of the ids that exist (others are simply absent), in one round trip. */
  vectors(ids: string[]): Promise<Map<string, Float32Array>>
}
