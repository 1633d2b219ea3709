'use strict'
// hnsw-gnn/pgvector: a candidate source over a Postgres table with a
// pgvector column, for hnsw-gnn's learned reranker. Types and docs:
// pgvector.d.ts.
//
// Nothing the caller passes becomes SQL text: table and column names are
// quoted as identifiers, the query, k, ids and every filter value are bind
// parameters. The only number written into SQL is hnsw.ef_search, an
// integer computed here (SET takes no parameters).
//
// A search is one transaction on one pooled connection, because pgvector's
// HNSW scan returns at most hnsw.ef_search rows (40 by default) and
// `SET LOCAL` lasts for the transaction only: BEGIN and SET LOCAL go in one
// round trip, then the SELECT, then COMMIT.

const { sourceError, invalidArgument, invalidFilter } = require('./sources/errors.js')
const { checkKeys, metricOption, nameOption, searchOptions, idList, describe } = require('./sources/arguments.js')
const { parseFilter } = require('./sources/filter.js')
const { EngineSource, tableShape, checkedQuery } = require('./sources/engine-source.js')
const { filterSql } = require('./sources/pg-filter.js')

const OPTION_KEYS = ['pool', 'table', 'id', 'vector', 'metadata', 'metric']

/** pgvector's operator per metric, and its distance on hnsw-gnn's higher-is-better scale. */
const METRIC_SQL = {
  cosine: { operator: '<=>', score: (distance) => 1 - distance }, // cosine distance
  // hnsw-gnn's scale: the negated SQUARED L2 distance (`<->` is not squared).
  euclidean: { operator: '<->', score: (distance) => -distance * distance },
  dot: { operator: '<#>', score: (distance) => -distance }, // negative inner product
}

/** pgvector's bounds on hnsw.ef_search; its default is 40. */
const EF_SEARCH_MIN = 40
const EF_SEARCH_MAX = 1000

/** Integer id columns, and the values their type accepts. */
const INTEGER_RANGES = {
  smallint: [-(2n ** 15n), 2n ** 15n - 1n],
  integer: [-(2n ** 31n), 2n ** 31n - 1n],
  bigint: [-(2n ** 63n), 2n ** 63n - 1n],
}
const UUID = /^\{?[0-9a-f]{8}-?(?:[0-9a-f]{4}-?){3}[0-9a-f]{12}\}?$/i

/** `"name"` with embedded double quotes doubled: an identifier Postgres takes verbatim. */
function quoteIdentifier(name) {
  return `"${name.replaceAll('"', '""')}"`
}

/** `'table'`, `'schema.table'` or `['schema', 'table']` as its parts. */
function tableParts(table) {
  const parts = Array.isArray(table) ? table : typeof table === 'string' ? table.split('.') : [table]
  if (parts.length < 1 || parts.length > 2) {
    throw invalidArgument(`PgVectorSource: table is 'table', 'schema.table' or ['schema', 'table'] (for names with dots), got ${describe(table)}`)
  }
  return parts.map((part) => nameOption(part, 'PgVectorSource: a table name part'))
}

/** pgvector's text form '[1,2,3]' (JSON, as it writes finite floats) as a Float32Array. */
function parseVector(text) {
  return new Float32Array(JSON.parse(text))
}

class PgVectorSource extends EngineSource {
  #pool
  #names // { table, id, vector, metadata } as the caller wrote them, for messages
  #sql // { table, id, vector, metadata } quoted

  constructor(options) {
    checkKeys(options, OPTION_KEYS, 'PgVectorSource options')
    // The shape: { dimensions, idFits } from the catalog, read on the first
    // call (see #readShape).
    super(metricOption(options.metric, 'PgVectorSource'), () => this.#readShape())
    const { pool, table, id, vector, metadata } = options
    if (pool === null || typeof pool !== 'object' || typeof pool.connect !== 'function' || typeof pool.query !== 'function') {
      throw invalidArgument(`PgVectorSource: pool must be a pg Pool (an object with connect() and query()), got ${describe(pool)}`)
    }
    this.#pool = pool
    const parts = tableParts(table)
    this.#names = {
      table: parts.join('.'),
      id: nameOption(id, 'PgVectorSource: id (the id column)'),
      vector: nameOption(vector, 'PgVectorSource: vector (the vector column)'),
      metadata: metadata === undefined ? undefined : nameOption(metadata, 'PgVectorSource: metadata (a jsonb column)'),
    }
    this.#sql = {
      table: parts.map(quoteIdentifier).join('.'),
      id: quoteIdentifier(id),
      vector: quoteIdentifier(vector),
      metadata: metadata === undefined ? undefined : quoteIdentifier(metadata),
    }
  }

  async search(query, options) {
    const { k, filter } = searchOptions(options)
    const where = this.#whereClause(filter)
    const { vector } = await this[checkedQuery](query)
    const { operator, score } = METRIC_SQL[this.metric]
    const columns = [this.#sql.id, `${this.#sql.vector} ${operator} $1::vector`]
    if (this.#sql.metadata !== undefined) columns.push(this.#sql.metadata)
    const text =
      `SELECT ${columns.join(', ')} FROM ${this.#sql.table}` +
      ` WHERE ${this.#sql.vector} IS NOT NULL${where ? ` AND ${where.sql}` : ''}` +
      // By position, so that the ORDER BY is the operator expression the
      // HNSW index serves, computed once.
      ' ORDER BY 2 LIMIT $2'
    const values = [`[${vector.join(',')}]`, k, ...(where ? where.values : [])]
    const efSearch = Math.min(EF_SEARCH_MAX, Math.max(EF_SEARCH_MIN, k))
    const rows = await this.#inTransaction(`SET LOCAL hnsw.ef_search = ${efSearch}`, { text, values, rowMode: 'array' }, 'search')
    const hits = []
    for (const row of rows) {
      // A zero vector has no cosine distance: pgvector answers NaN, and
      // such a row is no candidate (LanceDB leaves it out too).
      if (!Number.isFinite(row[1])) continue
      const hit = { id: String(row[0]), score: score(row[1]) }
      if (row.length > 2 && row[2] !== null) hit.metadata = row[2]
      hits.push(hit)
    }
    return hits
  }

  async vectors(ids) {
    const wanted = idList(ids)
    const shape = await this[tableShape]()
    const values = wanted.filter(shape.idFits)
    const found = new Map()
    if (values.length === 0) return found
    const text = `SELECT ${this.#sql.id}, ${this.#sql.vector}::text FROM ${this.#sql.table} WHERE ${this.#sql.id} = ANY($1) AND ${this.#sql.vector} IS NOT NULL`
    const result = await this.#query({ text, values: [values], rowMode: 'array' }, 'vectors')
    for (const [id, vector] of result.rows) found.set(String(id), parseVector(vector))
    return found
  }

  /** `filter` as `{ sql, values }` with parameters from $3 on, or undefined for none. */
  #whereClause(filter) {
    if (filter === undefined) return undefined
    if (this.#sql.metadata === undefined) {
      throw invalidFilter(`a filter needs a metadata column: this PgVectorSource over ${this.#names.table} was made without the metadata option`)
    }
    const values = []
    const parameter = (value) => {
      values.push(value)
      return `$${values.length + 2}`
    }
    return { sql: filterSql(parseFilter(filter), this.#sql.metadata, parameter), values }
  }

  /**
   * Checks that the table and columns exist and reads the vector column's
   * dimensions and the id column's type.
   */
  async #readShape() {
    const { table, id, vector, metadata } = this.#names
    const wanted = [id, vector, ...(metadata === undefined ? [] : [metadata])]
    const result = await this.#query(
      {
        text:
          'SELECT to_regclass($1) IS NOT NULL, a.attname, t.typname, format_type(a.atttypid, a.atttypmod), a.atttypmod' +
          ' FROM (SELECT 1) AS one LEFT JOIN pg_attribute AS a' +
          ' ON a.attrelid = to_regclass($1) AND a.attname = ANY($2) AND a.attnum > 0 AND NOT a.attisdropped' +
          ' LEFT JOIN pg_type AS t ON t.oid = a.atttypid',
        values: [this.#sql.table, wanted],
        rowMode: 'array',
      },
      'describe',
    )
    if (!result.rows[0][0]) throw sourceError(`PgVectorSource on ${table}`, new Error(`table ${table} does not exist (or is not visible to this role)`))
    const columns = new Map(result.rows.filter((row) => row[1] !== null).map(([, name, typeName, type, typmod]) => [name, { typeName, type, typmod }]))
    for (const [role, name] of [['id', id], ['vector', vector], ['metadata', metadata]]) {
      if (name !== undefined && !columns.has(name)) {
        throw sourceError(`PgVectorSource on ${table}`, new Error(`table ${table} has no column ${JSON.stringify(name)} (the ${role} column)`))
      }
    }
    const vectorColumn = columns.get(vector)
    if (vectorColumn.typeName !== 'vector') {
      throw sourceError(`PgVectorSource on ${table}`, new Error(`column ${JSON.stringify(vector)} is ${vectorColumn.type}, not a pgvector vector`))
    }
    if (metadata !== undefined && columns.get(metadata).typeName !== 'jsonb') {
      throw sourceError(`PgVectorSource on ${table}`, new Error(`column ${JSON.stringify(metadata)} is ${columns.get(metadata).type}, not jsonb`))
    }
    // `vector(384)` has typmod 384; an untyped `vector` column says nothing.
    return { dimensions: vectorColumn.typmod > 0 ? vectorColumn.typmod : undefined, idFits: idFilter(columns.get(id).type) }
  }

  /** `pool.query`, its failure an ERR_SOURCE naming the call and table. */
  async #query(query, call) {
    try {
      return await this.#pool.query(query)
    } catch (error) {
      throw sourceError(`PgVectorSource.${call} on ${this.#names.table} (column ${this.#names.vector})`, error)
    }
  }

  /** `setup` (a constant SQL text) and `query` in one transaction; the rows. */
  async #inTransaction(setup, query, call) {
    let client
    try {
      client = await this.#pool.connect()
    } catch (error) {
      throw sourceError(`PgVectorSource.${call} on ${this.#names.table} (column ${this.#names.vector})`, error)
    }
    let failure
    try {
      await client.query(`BEGIN; ${setup}`)
      const result = await client.query(query)
      await client.query('COMMIT')
      return result.rows
    } catch (error) {
      failure = error
      throw sourceError(`PgVectorSource.${call} on ${this.#names.table} (column ${this.#names.vector})`, error)
    } finally {
      // A connection that failed mid-transaction is dropped, not pooled in
      // an aborted transaction.
      client.release(failure)
    }
  }
}

/** Which ids the id column's type can hold: others cannot exist, and would fail the whole query. */
function idFilter(type) {
  const range = INTEGER_RANGES[type]
  if (range) {
    return (id) => /^-?\d{1,19}$/.test(id) && BigInt(id) >= range[0] && BigInt(id) <= range[1]
  }
  if (type === 'uuid') return (id) => UUID.test(id)
  return (id) => !id.includes('\0')
}

module.exports = { PgVectorSource }
