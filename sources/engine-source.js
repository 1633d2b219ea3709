'use strict'
// What every engine's candidate source shares (hnsw-gnn/pgvector,
// hnsw-gnn/lancedb): its metric, the table's shape read once from the
// engine's catalog, and queries checked against both before the engine
// sees them. The members engines use are symbol-keyed, so that they stay
// out of the sources' public surface.

const { queryVector } = require('./arguments.js')

/** `source[tableShape]()`: the shape `readShape` resolved to, read on the first call. */
const tableShape = Symbol('tableShape')
/** `source[checkedQuery](query)`: `{ vector, shape }`, see EngineSource. */
const checkedQuery = Symbol('checkedQuery')

class EngineSource {
  #metric
  /** What `readShape` resolved to, once it has; `dimensions` is read from it. */
  #shape
  #describe

  /**
   * `metric` checked by the caller; `readShape()` reads the engine's
   * catalog and resolves to `{ dimensions, ...what the engine's queries need }`
   * (dimensions undefined where the engine does not say). A failed read is
   * retried by the next call (see onceUntilSuccess).
   */
  constructor(metric, readShape) {
    this.#metric = metric
    this.#describe = onceUntilSuccess(async () => (this.#shape = await readShape()))
  }

  get metric() {
    return this.#metric
  }

  /** The vector column's length once the first call has read the catalog; undefined before. */
  get dimensions() {
    return this.#shape?.dimensions
  }

  [tableShape]() {
    return this.#describe()
  }

  /**
   * The query checked, then the table's shape awaited (on the first call
   * it reads the engine's dimensions), then the query checked against
   * them: bad input costs no round trip once the dimensions are known, and
   * no search the engine would refuse is ever sent. `{ vector, shape }`,
   * `vector` a Float32Array.
   */
  async [checkedQuery](query) {
    queryVector(query, this.dimensions, this.#metric)
    const shape = await this.#describe()
    return { vector: queryVector(query, this.dimensions, this.#metric), shape }
  }
}

/**
 * `load` run on the first call and its promise shared by every call after;
 * a failure is forgotten, so a call after the cause is fixed (the table
 * created, the server back) tries again.
 */
function onceUntilSuccess(load) {
  let promise
  return () =>
    (promise ??= load().catch((error) => {
      promise = undefined
      throw error
    }))
}

module.exports = { EngineSource, tableShape, checkedQuery }
