// hnsw-gnn/pgvector: Postgres + pgvector as a candidate source for
// hnsw-gnn's learned reranker. Needs the `pg` package (an optional peer
// dependency of hnsw-gnn) and the `vector` extension in the database.

import type { CandidateSource, SourceHit, SourceMetric, SourceSearchOptions } from './sources/contract'

export type { CandidateSource, SourceError, SourceErrorCode, SourceHit, SourceMetric, SourceSearchOptions } from './sources/contract'

/** The result of a query, as `pg` gives it. */
export interface PgQueryResult {
  rows: unknown[]
}

/** A query as `pg` takes it: the source always passes values separately from the text. */
export interface PgQueryConfig {
  text: string
  values?: unknown[]
  rowMode?: 'array'
}

/** A connection checked out of the pool: what `pg`'s `PoolClient` offers. */
export interface PgPoolClientLike {
  query(query: string | PgQueryConfig): Promise<PgQueryResult>
  /** A truthy argument destroys the connection instead of returning it to the pool. */
  release(error?: Error | boolean): void
}

/** What the source uses of a `pg` `Pool` (any object with the same contract will do). */
export interface PgPoolLike {
  query(query: PgQueryConfig): Promise<PgQueryResult>
  connect(): Promise<PgPoolClientLike>
}

/** Options of `new PgVectorSource(...)`. Unknown keys are an `ERR_INVALID_ARGUMENT`. */
export interface PgVectorSourceOptions {
  /** A `pg` Pool. The source checks connections out per search and never ends the pool. */
  pool: PgPoolLike
  /**
   * The table: `'items'`, `'schema.items'`, or `['schema', 'items']` for
   * names that hold a dot. Names are quoted as identifiers (exactly as
   * written, case included), never interpolated.
   */
  table: string | [string] | [string, string]
  /** The id column (any type; ids come back as strings). */
  id: string
  /** The `vector(n)` column; `n` becomes `dimensions` on the first call. */
  vector: string
  /** A `jsonb` column of metadata: returned with each hit, and what filters see. Without it, a filter is an `ERR_INVALID_FILTER`. */
  metadata?: string
  /**
   * Which pgvector operator orders the search: `'cosine'` (`<=>`, give the
   * index `vector_cosine_ops`), `'euclidean'` (`<->`, `vector_l2_ops`) or
   * `'dot'` (`<#>`, `vector_ip_ops`). With no index of the matching operator
   * class Postgres scans the whole table: exact, and slow on large tables.
   */
  metric: SourceMetric
}

/**
 * A candidate source over a Postgres table with a pgvector column.
 *
 * `search(query, { k, filter })` runs one transaction on a pooled
 * connection: `SET LOCAL hnsw.ef_search` to `k` (at least pgvector's
 * default 40, at most its limit 1000: pgvector's HNSW scan returns at most
 * ef_search rows, so `k` above 1000 returns at most 1000 from an index
 * scan), then `SELECT ... ORDER BY <vector> <op> $1 LIMIT $2`, so the HNSW
 * index serves the ordering. The query, `k`, ids and every filter value
 * are bind parameters; the only SQL the source writes from numbers is the
 * integer ef_search. The first call of either method reads the table's
 * catalog entry once (table and columns exist, the vector column's
 * dimensions, the id column's type).
 *
 * `vectors(ids)` is one `SELECT ... WHERE id = ANY($1)`, served by the id
 * column's index. Ids the id column's type cannot hold (`'abc'` for a
 * bigint column, a string with NUL) cannot exist and are left out rather
 * than failing the query.
 *
 * Filters are hnsw-gnn's language compiled to SQL over the `metadata`
 * jsonb column, with hnsw-gnn's semantics (paths read object keys only,
 * never array indexes; a stored array matches an operand equal to one of
 * its elements; comparisons only between numbers or between strings, in
 * code-point order whatever the database's collation; a missing field
 * fails `$eq $in $gt $gte $lt $lte` and passes `$ne $nin`; a NULL
 * metadata cell is an item without metadata; 32 levels of nesting at
 * most). Where jsonb differs:
 * - numbers compare as exact decimals, not as float64: two numbers that
 *   float64 cannot tell apart (beyond ~17 significant digits) differ here.
 *   JSON written by JavaScript never holds such numbers;
 * - jsonb keeps the last of duplicate object keys (JavaScript objects
 *   have none).
 * And where pgvector differs: with an HNSW index, pgvector (0.6, 0.7)
 * filters the ef_search rows its scan found, so a selective filter can
 * return fewer than `k` hits, even none, although more rows match
 * (pgvector 0.8's `hnsw.iterative_scan` scans on; a partial index per
 * frequent filter also helps). Without a usable vector index the search is
 * an exact scan and returns every match up to `k`.
 *
 * Errors (`SourceError`): a query of the wrong length is
 * `ERR_DIMENSION_MISMATCH` and NaN/Infinity `ERR_INVALID_VECTOR`, both
 * before any SQL of the search; bad options `ERR_INVALID_ARGUMENT`;
 * a malformed filter `ERR_INVALID_FILTER`; a missing table or column, a
 * vector column that is not `vector`, a metadata column that is not
 * `jsonb`, a closed pool or a refused connection `ERR_SOURCE`, with the
 * `pg` error as `cause`. A closed pool rejects at once; how long a
 * connection attempt may take is the pool's `connectionTimeoutMillis`.
 */
export declare class PgVectorSource implements CandidateSource {
  constructor(options: PgVectorSourceOptions)
  readonly metric: SourceMetric
  /** The `vector(n)` column's `n`, once the first call has read it; undefined before (and for an untyped `vector` column). */
  readonly dimensions: number | undefined
  search(query: Float32Array | number[], options?: SourceSearchOptions): Promise<SourceHit[]>
  vectors(ids: string[]): Promise<Map<string, Float32Array>>
}
