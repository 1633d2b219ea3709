'use strict'
// hnsw-gnn/lancedb: a candidate source over a @lancedb/lancedb Table, for
// hnsw-gnn's learned reranker. Types and docs: lancedb.d.ts.
//
// LanceDB's distances, as hnsw-gnn's higher-is-better scores (checked
// against brute force in __test__/lancedb.test.mjs):
//   'cosine' distance is 1 - cosine similarity;
//   'l2' distance is the SQUARED euclidean distance, hnsw-gnn's own, so
//   the score is -distance;
//   'dot' distance is 1 - the inner product.
// LanceDB takes no bind parameters: filter values and ids are written as
// escaped literals (sources/lance-filter.js).

const { sourceError, invalidArgument } = require('./sources/errors.js')
const { checkKeys, metricOption, nameOption, searchOptions, idList, describe } = require('./sources/arguments.js')
const { parseFilter } = require('./sources/filter.js')
const { EngineSource, tableShape, checkedQuery } = require('./sources/engine-source.js')
const { whereSql, quoteColumn, stringLiteral } = require('./sources/lance-filter.js')

const OPTION_KEYS = ['table', 'id', 'vector', 'metadata', 'metric', 'refineFactor']

const METRIC_DISTANCE = {
  cosine: { distanceType: 'cosine', score: (distance) => 1 - distance },
  euclidean: { distanceType: 'l2', score: (distance) => -distance },
  dot: { distanceType: 'dot', score: (distance) => 1 - distance },
}

/** Apache Arrow type ids (format constants, the same in every Arrow version). */
const ARROW_TYPE = { Int: 2, Float: 3, Utf8: 5, Bool: 6, FixedSizeList: 16, LargeUtf8: 20 }

/** A column's kind as filters see it: 'string', 'integer', 'float', 'boolean', or its Arrow type's name. */
function columnKind(type) {
  switch (type.typeId) {
    case ARROW_TYPE.Utf8:
    case ARROW_TYPE.LargeUtf8:
      return 'string'
    case ARROW_TYPE.Int:
      return 'integer'
    case ARROW_TYPE.Float:
      return 'float'
    case ARROW_TYPE.Bool:
      return 'boolean'
    default:
      return `of type ${String(type)}`
  }
}

/** A column name LanceDB can be told about: no back quotes (it cannot quote them). */
function columnOption(name, what) {
  nameOption(name, what)
  if (name.includes('`')) throw invalidArgument(`${what} ${JSON.stringify(name)} holds a back quote, which LanceDB cannot quote`)
  return name
}

/** Which ids an integer column of Arrow type `type` can hold (as integer literals). */
function integerIdFilter(type) {
  const bits = BigInt(type.bitWidth)
  // The signed minimum is left out: LanceDB reads `-9223372036854775808` as
  // the negation of a literal one beyond Int64, and fails the whole query.
  const [low, high] = type.isSigned ? [-(2n ** (bits - 1n)) + 1n, 2n ** (bits - 1n) - 1n] : [0n, 2n ** bits - 1n]
  return (id) => /^-?\d{1,20}$/.test(id) && BigInt(id) >= low && BigInt(id) <= high
}

/** A cell as JSON-friendly metadata: Int64 cells arrive as BigInt. */
function plainValue(value) {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : String(value)
  return value
}

class LanceDbSource extends EngineSource {
  #table
  #columns // { id, vector, metadata: string[] }
  #refineFactor

  constructor(options) {
    checkKeys(options, OPTION_KEYS, 'LanceDbSource options')
    // The shape: { dimensions, kinds, idFits } from the table's schema, read
    // on the first call (see #readShape).
    super(metricOption(options.metric, 'LanceDbSource'), () => this.#readShape())
    const { table, id = 'id', vector = 'vector', metadata = [] } = options
    if (table === null || typeof table !== 'object' || typeof table.vectorSearch !== 'function' || typeof table.query !== 'function') {
      throw invalidArgument(`LanceDbSource: table must be a @lancedb/lancedb Table, got ${describe(table)}`)
    }
    if (!Array.isArray(metadata)) throw invalidArgument(`LanceDbSource: metadata is an array of column names, got ${describe(metadata)}`)
    this.#table = table
    this.#columns = {
      id: columnOption(id, 'LanceDbSource: id (the id column)'),
      vector: columnOption(vector, 'LanceDbSource: vector (the vector column)'),
      metadata: metadata.map((name, i) => columnOption(name, `LanceDbSource: metadata[${i}]`)),
    }
    const { refineFactor = 1 } = options
    if (!Number.isInteger(refineFactor) || refineFactor < 1 || refineFactor > 1000) {
      throw invalidArgument(`LanceDbSource: refineFactor must be an integer from 1 to 1000, got ${describe(refineFactor)}`)
    }
    this.#refineFactor = refineFactor
  }

  async search(query, options) {
    const { k, filter } = searchOptions(options)
    const parsed = filter === undefined ? undefined : parseFilter(filter)
    const { vector, shape } = await this[checkedQuery](query)
    const where = parsed === undefined ? undefined : whereSql(parsed, shape.kinds)
    const { distanceType, score } = METRIC_DISTANCE[this.metric]
    const { id, metadata } = this.#columns
    const rows = await this.#run('search', () => {
      let search = this.#table
        .vectorSearch(vector)
        .column(this.#columns.vector)
        .distanceType(distanceType)
        // Over a quantized index (IVF_PQ, *_SQ) distances are approximate
        // unless refined: refining recomputes them from the full vectors of
        // refineFactor × k candidates. A flat search ignores it.
        .refineFactor(this.#refineFactor)
        .select([id, ...metadata, '_distance'])
        .limit(k)
      if (where !== undefined) search = search.where(where)
      return search.toArray()
    })
    return rows.map((row) => {
      const hit = { id: String(row[id]), score: score(row._distance) }
      if (metadata.length > 0) hit.metadata = Object.fromEntries(metadata.map((name) => [name, plainValue(row[name])]))
      return hit
    })
  }

  async vectors(ids) {
    const wanted = idList(ids)
    const nul = wanted.find((id) => id.includes('\0'))
    if (nul !== undefined) throw invalidArgument(`ids[${ids.indexOf(nul)}] holds a NUL character, which LanceDB filters cannot hold`)
    const shape = await this[tableShape]()
    const literals = shape.idFits === undefined ? wanted.map(stringLiteral) : wanted.filter(shape.idFits)
    const found = new Map()
    if (literals.length === 0) return found
    const { id, vector } = this.#columns
    const rows = await this.#run('vectors', () =>
      this.#table
        .query()
        .where(`${quoteColumn(id)} IN (${literals.join(', ')})`)
        .select([id, vector])
        .limit(literals.length)
        .toArray(),
    )
    for (const row of rows) found.set(String(row[id]), Float32Array.from(row[vector]))
    return found
  }

  /** The vector column's dimensions, the kinds of the columns filters may name, the id column's kind. */
  async #readShape() {
    const schema = await this.#run('describe', () => this.#table.schema())
    const fields = new Map(schema.fields.map((field) => [field.name, field]))
    const { id, vector, metadata } = this.#columns
    for (const [role, name] of [['id', id], ['vector', vector], ...metadata.map((name) => ['metadata', name])]) {
      if (!fields.has(name)) throw sourceError(`LanceDbSource on table ${this.#tableName()}`, new Error(`the table has no column ${JSON.stringify(name)} (the ${role} column)`))
    }
    const vectorType = fields.get(vector).type
    if (vectorType.typeId !== ARROW_TYPE.FixedSizeList) {
      throw sourceError(`LanceDbSource on table ${this.#tableName()}`, new Error(`column ${JSON.stringify(vector)} is ${String(vectorType)}, not a fixed-size vector column`))
    }
    const kinds = new Map([...fields].map(([name, field]) => [name, columnKind(field.type)]))
    // An integer id column is matched with integer literals; ids that are
    // not integers of its range cannot be in it.
    const idFits = kinds.get(id) === 'integer' ? integerIdFilter(fields.get(id).type) : undefined
    return { dimensions: vectorType.listSize, kinds, idFits }
  }

  #tableName() {
    try {
      return JSON.stringify(this.#table.name)
    } catch {
      return '(unnamed)'
    }
  }

  /** Runs a LanceDB call, its failure an ERR_SOURCE naming the call, table and column. */
  async #run(call, work) {
    try {
      return await work()
    } catch (error) {
      throw sourceError(`LanceDbSource.${call} on table ${this.#tableName()} (column ${this.#columns.vector})`, error)
    }
  }
}

module.exports = { LanceDbSource }
