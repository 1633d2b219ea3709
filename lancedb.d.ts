// hnsw-gnn/lancedb: a LanceDB table as a candidate source for hnsw-gnn's
// learned reranker. Needs `@lancedb/lancedb` (an optional peer dependency
// of hnsw-gnn; 0.30 is the newest that runs on Node 20, and what the tests
// use) and its peer `apache-arrow`.

import type { CandidateSource, SourceHit, SourceMetric, SourceSearchOptions } from './sources/contract'

export type { CandidateSource, SourceError, SourceErrorCode, SourceHit, SourceMetric, SourceSearchOptions } from './sources/contract'

/**
 * What the source uses of a `@lancedb/lancedb` `Table` (written out here so
 * that these types do not pin one LanceDB release).
 */
export interface LanceTableLike {
  readonly name: string
  schema(): Promise<{ fields: Array<{ name: string; type: unknown }> }>
  vectorSearch(vector: Float32Array): unknown
  query(): unknown
}

/** Options of `new LanceDbSource(...)`. Unknown keys are an `ERR_INVALID_ARGUMENT`. */
export interface LanceDbSourceOptions {
  /** An open LanceDB table. The source never closes it. */
  table: LanceTableLike
  /** The id column, string or integer (default `'id'`); ids come back as strings. */
  id?: string
  /** The fixed-size-list vector column (default `'vector'`); its length becomes `dimensions` on the first call. */
  vector?: string
  /**
   * Columns returned with each hit as its `metadata` object (default none):
   * `{ column: value }`, a NULL cell as `null`, an Int64 cell as a number
   * (as a string beyond ±2^53). Filters may name any scalar column, listed
   * here or not.
   */
  metadata?: string[]
  /**
   * The distance LanceDB searches with: `'cosine'`, `'euclidean'` (LanceDB's
   * `'l2'`) or `'dot'`. An index must have been built for the same one.
   */
  metric: SourceMetric
  /**
   * LanceDB's refine factor (default 1, at most 1000): over a quantized
   * index (IVF_PQ, IVF_HNSW_SQ) `refineFactor × k` candidates are re-scored
   * with their full vectors, so scores are exact and, above 1, recall
   * improves. A flat search (no index) ignores it.
   */
  refineFactor?: number
}

/**
 * A candidate source over a LanceDB table.
 *
 * `search(query, { k, filter })` is `table.vectorSearch(query)` on the
 * vector column with the metric's distance type, `limit(k)`, only the id,
 * metadata and `_distance` columns, and the filter as a `where` clause
 * (LanceDB applies it before the vector search, so k matches come back
 * when k exist). LanceDB's distances become scores: cosine distance is
 * `1 - similarity`; `l2` distance is the SQUARED euclidean distance, so
 * the score is `-distance` (hnsw-gnn's scale); `dot` distance is `1 - inner product`.
 *
 * `vectors(ids)` is one query `WHERE id IN (...)`: LanceDB takes no bind
 * parameters, so ids are written as SQL string literals with quotes
 * doubled (an id holding NUL is an `ERR_INVALID_ARGUMENT`); for an
 * integer id column, ids that are not integers cannot exist and are left
 * out.
 *
 * Filters: hnsw-gnn's language over the table's top-level scalar columns
 * (string, integer, float, boolean), written into the where clause as
 * escaped literals with back-quoted column names. Supported: bare values,
 * `$eq $ne $gt $gte $lt $lte $in $nin $and $or` with string, number and
 * boolean operands, with hnsw-gnn's semantics, where a NULL cell is a
 * missing field (it fails `$eq $in $gt $gte $lt $lte`, passes `$ne $nin`)
 * and an operand of another type than the column matches nothing (`$ne`
 * passes), as a stored value of another type would. Differences: numbers
 * compare in the column's type (a Float32 column holds 0.1 as
 * 0.100000001); an integer column compares with `x > 2.5` as `x >= 3`.
 * `ERR_INVALID_FILTER`, rather than a guess: dotted paths, columns the
 * table lacks, list/struct/date columns, `null`, array and object
 * operands, integers beyond ±2^53 against an integer column, strings with
 * NUL, and column names holding a back quote (LanceDB cannot quote them).
 *
 * Errors (`SourceError`): `ERR_DIMENSION_MISMATCH` and `ERR_INVALID_VECTOR`
 * before LanceDB sees the query; `ERR_INVALID_ARGUMENT` for bad options;
 * `ERR_SOURCE` for a missing column, a vector column that is not a
 * fixed-size list, a closed table or any LanceDB failure, with LanceDB's
 * error as `cause`.
 */
export declare class LanceDbSource implements CandidateSource {
  constructor(options: LanceDbSourceOptions)
  readonly metric: SourceMetric
  /** The vector column's length, once the first call has read the schema; undefined before. */
  readonly dimensions: number | undefined
  search(query: Float32Array | number[], options?: SourceSearchOptions): Promise<SourceHit[]>
  vectors(ids: string[]): Promise<Map<string, Float32Array>>
}
