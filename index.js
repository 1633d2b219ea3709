'use strict'
// The package entry point. It wraps the native classes (loaded by
// binding.js through the generated `native.js`) instead of exporting or
// subclassing them: each public object keeps its native counterpart in a
// private `#native` field, so nothing native is reachable from
// `require('hnsw-gnn')`. The layer
//   * turns option objects into the native calls' arguments (search and
//     insertBatch options go field by field: reading named properties
//     through Node-API costs more than a search's options are worth; the
//     names of any other keys go along and the core refuses them),
//   * assembles search hits from the packed numbers and text the native
//     side returns (objects are far cheaper to build here than through
//     Node-API),
//   * makes every Promise-returning method reject instead of throwing, and
//   * gives errors raised by Node-API itself stable codes: ERR_INVALID_ARGUMENT
//     for argument conversions, ERR_INTERNAL otherwise (errors from the Rust
//     core already carry theirs).
// Defaults, limits and validation live in the Rust core. Types and docs:
// index.d.ts.

const { resolve: resolvePath } = require('node:path')
const native = require('./binding.js')
const { losslessJsonText } = require('./lossless-json.js')

/** The limits the core holds every call to, read from Rust once. */
const limits = Object.freeze(native.limits())

// The WebAssembly (WASI) build sees the host's files through a WASI root
// preopened at '/', and resolves a relative path against that root rather
// than the process's working directory: resolve file paths here first.
// The native build takes them as given.
const wasiBinding = native.__napiBindingTarget === 'wasm32-wasi'

function filePath(path) {
  return wasiBinding && typeof path === 'string' ? resolvePath(path) : path
}

function withFilePath(options) {
  return wasiBinding && options && typeof options.path === 'string'
    ? { ...options, path: filePath(options.path) }
    : options
}

// Node-API's own statuses: argument conversions fail with `InvalidArg` or
// `<Type>Expected`; anything else is a failure inside the binding.
// A JS exception raised inside a conversion (V8's TypeError for a property
// read of null, say) has no code at all: a TypeError or RangeError there is
// a bad argument, anything else a failure inside the binding.
function withStableCode(error) {
  if (error && typeof error.code === 'string' && !error.code.startsWith('ERR_')) {
    const badArgument = error.code === 'InvalidArg' || error.code.endsWith('Expected')
    error.code = badArgument ? 'ERR_INVALID_ARGUMENT' : 'ERR_INTERNAL'
  } else if (error instanceof Error && error.code === undefined) {
    error.code = error instanceof TypeError || error instanceof RangeError ? 'ERR_INVALID_ARGUMENT' : 'ERR_INTERNAL'
  }
  return error
}

function sync(call) {
  try {
    return call()
  } catch (error) {
    throw withStableCode(error)
  }
}

function async(call) {
  try {
    return Promise.resolve(call()).catch((error) => Promise.reject(withStableCode(error)))
  } catch (error) {
    return Promise.reject(withStableCode(error))
  }
}

// ---------------------------------------------------------- JSON values --
// Metadata and filters cross to the core as JSON text, so what is stored is
// exactly what JSON.stringify makes of a value: a Date, or any object with
// toJSON, as what toJSON returns (a Date: its ISO 8601 string); undefined
// object fields dropped and undefined array elements null. What JSON would
// drop or change without a word is refused with ERR_INVALID_ARGUMENT:
// BigInt (JSON cannot hold one; Node-API used to round it), functions and
// symbols, NaN and ±Infinity (JSON writes null), objects whose contents JSON
// cannot see (Map, Set, typed arrays, RegExp, Error...: JSON writes {}),
// and cycles (lossless-json.js).

function jsonText(value, what, code = 'ERR_INVALID_ARGUMENT') {
  if (value === undefined) return undefined
  try {
    return losslessJsonText(value)
  } catch (error) {
    throw codedError(TypeError, code, `${what} cannot be stored as JSON: ${error.message}`)
  }
}

// An item (or update) with its metadata as JSON text.
function itemArgument(item, what = 'an item') {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) {
    throw invalidArgument(`${what} must be an object, got ${item === null ? 'null' : Array.isArray(item) ? 'an array' : typeof item}`)
  }
  idArgument(item.id)
  if (item.metadata === undefined) return item
  return { id: item.id, vector: item.vector, metadata: jsonText(item.metadata, 'metadata') }
}

// Node-API turns a lone UTF-16 surrogate into U+FFFD on the way to UTF-8,
// so '\ud800' and '\udc00' would both name the item '\ufffd': refused.
// Anything but a string goes to the core as it is, to be refused there.
function idArgument(id) {
  if (typeof id === 'string' && !id.isWellFormed()) {
    throw invalidArgument(`the id ${JSON.stringify(id.slice(0, 60))} holds a lone UTF-16 surrogate, which UTF-8 cannot store`)
  }
  return id
}

// Lets the classes wrap a native object made elsewhere (`VectorDB.open`,
// `snapshot()`); never exported, so callers cannot pass it.
const WRAP = Symbol('wrap a native object')

// The names of an options object's keys other than `known`, or undefined.
function otherKeys(options, known) {
  let others
  for (const key in options) if (!known.includes(key)) (others ??= []).push(key)
  return others
}

// ------------------------------------------------------------------ search --

// Search results arrive packed (see src/bindings/convert.rs, `pack`): per
// result a block of numbers `[n, searchId length, id lengths × k, scores × k,
// distances × k, base scores × k]` and one string holding the search id and the hit ids, or
// `[string, metadata[]]` when any hit has metadata.
const SEARCH_KEYS = ['k', 'efSearch', 'filter', 'rerank']

function blockLength(k) {
  return 2 + 4 * k
}

function requestedK(options) {
  const k = options == null || options.k === undefined ? native.DEFAULT_K : options.k
  // An invalid k is rejected by the native side; size the block for a valid one.
  return Number.isInteger(k) && k >= 1 && k <= limits.maxK ? k : 1
}

function searchArguments(options) {
  if (options == null) return [undefined, undefined, undefined, undefined, undefined]
  if (typeof options !== 'object') throw invalidArgument(`search options must be an object, got ${typeof options}`)
  const filter = jsonText(options.filter, 'filter', 'ERR_INVALID_FILTER')
  return [options.k, options.efSearch, filter, options.rerank, otherKeys(options, SEARCH_KEYS)]
}

function unpack(packed, numbers, offset, k) {
  const text = typeof packed === 'string' ? packed : packed[0]
  const metadata = typeof packed === 'string' ? null : packed[1]
  const n = numbers[offset]
  let position = numbers[offset + 1]
  const searchId = text.slice(0, position)
  const hits = new Array(n)
  for (let i = 0; i < n; i++) {
    const end = position + numbers[offset + 2 + i]
    hits[i] = {
      id: text.slice(position, end),
      score: numbers[offset + 2 + k + i],
      baseScore: numbers[offset + 2 + 3 * k + i],
      distance: numbers[offset + 2 + 2 * k + i],
      metadata: metadata === null ? null : metadata[i],
    }
    position = end
  }
  return { searchId, hits }
}

// Reused by every searchSync: the native side fills it before returning,
// and unpack copies everything out before the next call.
let syncNumbers = new Float64Array(blockLength(native.DEFAULT_K))

// ----------------------------------------------------------------- classes --

let wrapGraph
let nativeGraph

/** A validated graph for the GNN layers (see index.d.ts). */
class Graph {
  #native

  constructor(adjacency, options) {
    if (adjacency === WRAP) return
    this.#native = sync(() => new native.Graph(adjacency, options))
  }

  static {
    wrapGraph = (inner) => {
      const graph = new Graph(WRAP)
      graph.#native = inner
      return graph
    }
    nativeGraph = (graph) => graph.#native
  }

  get numNodes() {
    return this.#native.numNodes
  }

  get numEdges() {
    return this.#native.numEdges
  }

  get precision() {
    return this.#native.precision
  }

  csr() {
    return sync(() => this.#native.csr())
  }
}

let nativeHalfFeatures

/** Node features rounded once to half precision (see index.d.ts). */
class HalfFeatures {
  #native

  constructor(features) {
    this.#native = sync(() => new native.HalfFeatures(features))
  }

  static {
    nativeHalfFeatures = (features) => features.#native
  }

  get rows() {
    return this.#native.rows
  }

  get cols() {
    return this.#native.cols
  }

  toMatrix() {
    return sync(() => this.#native.toMatrix())
  }
}

// A graph argument as the native side takes it.
function graphArgument(graph) {
  return graph instanceof Graph ? nativeGraph(graph) : graph
}

const INSERT_BATCH_KEYS = ['onProgress', 'signal']
const SIGNAL_KEYS = ['signal']
const FLAT_ITEMS_KEYS = ['ids', 'vectors', 'metadata']
const FEEDBACK_KEYS = ['searchId', 'query', 'shown', 'clicked', 'converted']

function codedError(Class, code, message) {
  const error = new Class(message)
  error.code = code
  return error
}

function invalidArgument(message) {
  return codedError(TypeError, 'ERR_INVALID_ARGUMENT', message)
}

// Runs `call(token)`, where `token` is a native CancelToken that `signal` (an
// AbortSignal, or absent) cancels; the core stops at its next check and
// rejects with ERR_ABORTED, leaving the database as before the call. An
// already aborted signal rejects at once. The rejection's `cause` is the
// signal's reason, as fetch() does it.
function withSignal(what, options, known, call, { effectFree = false } = {}) {
  if (options != null && typeof options !== 'object') {
    return Promise.reject(invalidArgument(`${what} options must be an object, got ${typeof options}`))
  }
  const keys = options == null ? undefined : otherKeys(options, known)
  if (keys && known === SIGNAL_KEYS) {
    return Promise.reject(invalidArgument(`${what} options: unknown key(s) ${keys.join(', ')}; the only option is signal`))
  }
  const signal = options == null ? undefined : options.signal
  if (signal == null) return async(() => call(undefined, keys))
  if (typeof signal.aborted !== 'boolean' || typeof signal.addEventListener !== 'function') {
    return Promise.reject(invalidArgument(`${what}: signal must be an AbortSignal`))
  }
  const abortedError = (error = Object.assign(new Error(`${what} was aborted`), { code: 'ERR_ABORTED' })) => {
    error.cause ??= signal.reason
    return error
  }
  if (signal.aborted) return Promise.reject(abortedError())
  const token = new native.CancelToken()
  const onAbort = () => token.cancel()
  signal.addEventListener('abort', onAbort, { once: true })
  return async(() => call(token, keys))
    .then(
      // A call without effects whose signal fired before its result was
      // delivered is discarded: the caller asked for it to stop, and nothing
      // it did needs reporting. Calls with effects (save, train) report
      // what they did, since it happened.
      (result) => (effectFree && signal.aborted ? Promise.reject(abortedError()) : result),
      (error) => Promise.reject(error && error.code === 'ERR_ABORTED' ? abortedError(error) : error),
    )
    .finally(() => signal.removeEventListener('abort', onAbort))
}

// The flat insertBatch form's metadata: one JSON text (or null) per item.
function metadataTexts(metadata) {
  if (!Array.isArray(metadata)) return metadata
  return metadata.map((value, i) => (value == null ? null : jsonText(value, `metadata[${i}]`)))
}

// A time as `purgeFeedback` takes it: a Date or milliseconds since the epoch.
function epochMs(time) {
  return time instanceof Date ? time.getTime() : time
}

// The native database behind a VectorDB, for reranker.js (never exported).
let nativeOf

/** An embedded vector database (see index.d.ts). */
class VectorDB {
  static {
    nativeOf = (db) => db.#live()
  }

  #native
  // Set once this object's close() has resolved. With handle()/attach()
  // several objects (in several workers) share one database, which stays
  // open for the others: this object then refuses calls itself.
  #closed = false

  #live() {
    if (this.#closed) throw closedError()
    return this.#native
  }

  constructor(options) {
    if (options === WRAP) return
    this.#native = sync(() => new native.VectorDB(withFilePath(options)))
  }

  static async open(path, options) {
    const inner = await async(() => native.VectorDB.open(filePath(path), options))
    const db = new this(WRAP)
    db.#native = inner
    return db
  }

  get size() {
    return this.#native.size
  }

  get dimensions() {
    return this.#native.dimensions
  }

  get metric() {
    return this.#native.metric
  }

  insert(item) {
    return async(() => this.#live().insert(itemArgument(item)))
  }

  insertBatch(items, options) {
    const onProgress = options == null ? undefined : options.onProgress
    if (items != null && !Array.isArray(items) && typeof items === 'object') {
      // The flat form: { ids?, vectors: Float32Array, metadata? }.
      const { ids, vectors, metadata } = items
      if (Array.isArray(ids)) {
        try {
          ids.forEach((id) => idArgument(id))
        } catch (error) {
          return Promise.reject(error)
        }
      }
      const keys = otherKeys(items, FLAT_ITEMS_KEYS)
      if (keys) return Promise.reject(invalidArgument(`insertBatch items: unknown key(s) ${keys.join(', ')}`))
      if (!(vectors instanceof Float32Array)) {
        const got = vectors === null ? 'null' : Array.isArray(vectors) ? 'an array' : typeof vectors
        return Promise.reject(invalidArgument(`insertBatch items: vectors must be a Float32Array of n × dimensions values, got ${got}`))
      }
      return withSignal('insertBatch', options, INSERT_BATCH_KEYS, (token, others) =>
        this.#live().insertFlat(ids, vectors, metadataTexts(metadata), onProgress, others, token),
      )
    }
    return withSignal('insertBatch', options, INSERT_BATCH_KEYS, (token, others) =>
      this.#live().insertBatch(Array.isArray(items) ? items.map((item) => itemArgument(item)) : items, onProgress, others, token),
    )
  }

  upsert(item) {
    return async(() => this.#live().upsert(itemArgument(item)))
  }

  update(id, changes) {
    return async(() => this.#live().update(idArgument(id), itemArgument(changes, 'update changes')))
  }

  get(id) {
    return async(() => this.#live().get(idArgument(id)))
  }

  getSync(id) {
    return sync(() => this.#live().getSync(idArgument(id)))
  }

  delete(id) {
    return async(() => this.#live().delete(idArgument(id)))
  }

  search(query, options) {
    const k = requestedK(options)
    return async(() => this.#live().search(query, ...searchArguments(options))).then(([texts, numbers]) =>
      unpack(texts[0], numbers, 0, k),
    )
  }

  searchSync(query, options) {
    const k = requestedK(options)
    if (syncNumbers.length < blockLength(k)) syncNumbers = new Float64Array(blockLength(k))
    const packed = sync(() => this.#live().searchSync(query, ...searchArguments(options), syncNumbers))
    return unpack(packed, syncNumbers, 0, k)
  }

  searchBatch(queries, options) {
    const k = requestedK(options)
    return async(() => this.#live().searchBatch(queries, ...searchArguments(options))).then(([texts, numbers]) =>
      texts.map((packed, i) => unpack(packed, numbers, i * blockLength(k), k)),
    )
  }

  feedback(feedback) {
    return async(() => {
      if (feedback === null || typeof feedback !== 'object') {
        throw invalidArgument(`feedback must be an object such as { searchId, clicked }, got ${feedback === null ? 'null' : typeof feedback}`)
      }
      const { searchId, query, shown, clicked, converted } = feedback
      for (const ids of [shown, clicked, converted]) if (Array.isArray(ids)) ids.forEach((id) => idArgument(id))
      return this.#live().feedback(searchId, query, shown, clicked, converted, otherKeys(feedback, FEEDBACK_KEYS))
    })
  }

  train(options) {
    return withSignal('train', options, SIGNAL_KEYS, (token) => this.#live().train(token))
  }

  learningStats() {
    const stats = sync(() => this.#live().learningStats())
    for (const key of ['lastTrainedAt', 'lastTrainingMs', 'loss', 'validationGain', 'validationZ']) stats[key] ??= null
    return stats
  }

  resetLearning() {
    return async(() => this.#live().resetLearning())
  }

  exportFeedback() {
    return sync(() => this.#live().exportFeedback())
  }

  importFeedback(batch) {
    return async(() => {
      if (!(batch instanceof Uint8Array)) throw invalidArgument('importFeedback takes the Uint8Array from exportFeedback()')
      return this.#live().importFeedback(Buffer.isBuffer(batch) ? batch : Buffer.from(batch.buffer, batch.byteOffset, batch.byteLength))
    })
  }

  purgeFeedback(options) {
    return async(() => {
      if (options != null && typeof options !== 'object') throw invalidArgument('purgeFeedback options must be an object such as { before: Date }')
      const others = options == null ? undefined : otherKeys(options, ['before'])
      if (others) throw invalidArgument(`purgeFeedback options have no option ${JSON.stringify(others[0])}; the options are before`)
      const before = options == null ? undefined : epochMs(options.before)
      return this.#live().purgeFeedback(before)
    })
  }

  snapshot(options) {
    return withSignal('snapshot', options, SIGNAL_KEYS, (token) => this.#live().snapshot(token), { effectFree: true }).then(({ graph, features, ids }) => ({
      graph: wrapGraph(graph),
      features,
      ids,
    }))
  }

  stats() {
    const stats = sync(() => this.#live().stats())
    return {
      ...stats,
      path: stats.path ?? null,
      durability: stats.durability ?? null,
      fileLock: stats.fileLock ?? null,
      walHandle: stats.walHandle ?? null,
      lastCheckpointError: stats.lastCheckpointError ?? null,
    }
  }

  save(options) {
    return withSignal('save', options, SIGNAL_KEYS, (token) => this.#live().save(token))
  }

  refresh() {
    return async(() => this.#live().refresh())
  }

  compact() {
    return async(() => this.#live().compact())
  }

  close() {
    return async(() => this.#native.close()).then(() => {
      this.#closed = true
    })
  }

  handle() {
    return sync(() => this.#live().handle())
  }

  static attach(handle) {
    const db = new this(WRAP)
    db.#native = sync(() => native.VectorDB.attach(handle))
    return db
  }
}

function closedError() {
  const error = new Error('the database is closed')
  error.code = 'ERR_CLOSED'
  return error
}

let nativeModel

// What GCNLayer, GATLayer and GraphSAGE share; not exported itself.
class GnnLayer {
  #native

  constructor(kind, options) {
    this.#native = sync(() => new native.GnnModel(kind, options))
  }

  static {
    nativeModel = (layer) => layer.#native
  }

  get inputDim() {
    return this.#native.inputDim
  }

  get outputDim() {
    return this.#native.outputDim
  }

  get config() {
    return this.#native.config
  }

  get weightsMapped() {
    return this.#native.weightsMapped
  }

  weights() {
    return sync(() => this.#native.weights())
  }

  forward(features, graph) {
    return async(() => this.#native.forward(features, graphArgument(graph)))
  }

  forwardSync(features, graph) {
    return sync(() => this.#native.forwardSync(features, graphArgument(graph)))
  }

  saveWeights(path, options) {
    return async(() => this.#native.saveWeights(filePath(path), options))
  }

  saveWeightsSync(path, options) {
    return sync(() => this.#native.saveWeightsSync(filePath(path), options))
  }

  loadWeights(path) {
    return async(() => this.#native.loadWeights(filePath(path)))
  }

  loadWeightsSync(path) {
    return sync(() => this.#native.loadWeightsSync(filePath(path)))
  }
}

class GCNLayer extends GnnLayer {
  constructor(options) {
    super('gcn', options)
  }
}

class GATLayer extends GnnLayer {
  constructor(options) {
    super('gat', options)
  }

  forwardWithAttention(features, graph) {
    return async(() => nativeModel(this).forwardWithAttention(features, graphArgument(graph)))
  }

  forwardWithAttentionSync(features, graph) {
    return sync(() => nativeModel(this).forwardWithAttentionSync(features, graphArgument(graph)))
  }
}

class GraphSAGE extends GnnLayer {
  constructor(options) {
    super('sage', options)
  }

  forwardMinibatch(features, graph, batch) {
    return async(() => nativeModel(this).forwardMinibatch(features, graphArgument(graph), batch))
  }

  forwardMinibatchSync(features, graph, batch) {
    return sync(() => nativeModel(this).forwardMinibatchSync(features, graphArgument(graph), batch))
  }
}

function aggregate(features, graph, aggregation) {
  if (features instanceof HalfFeatures) {
    return async(() => native.aggregateHalf(nativeHalfFeatures(features), graphArgument(graph), aggregation))
  }
  return async(() => native.aggregate(features, graphArgument(graph), aggregation))
}

function aggregateSync(features, graph, aggregation) {
  if (features instanceof HalfFeatures) {
    return sync(() => native.aggregateHalfSync(nativeHalfFeatures(features), graphArgument(graph), aggregation))
  }
  return sync(() => native.aggregateSync(features, graphArgument(graph), aggregation))
}

function simdInfo() {
  return native.simdInfo()
}

// Named exports spelled out so that Node's ESM loader can see them
// (`import { VectorDB } from 'hnsw-gnn'`).
const { Reranker, LearnedSearch } = require('./reranker.js')({
  VectorDB,
  nativeOf,
  sync,
  async,
  unpack,
  blockLength,
  requestedK,
  invalidArgument,
  codedError,
  otherKeys,
  idArgument,
  jsonText,
  limits,
})

module.exports.VectorDB = VectorDB
module.exports.Reranker = Reranker
module.exports.LearnedSearch = LearnedSearch
module.exports.Graph = Graph
module.exports.HalfFeatures = HalfFeatures
module.exports.GCNLayer = GCNLayer
module.exports.GATLayer = GATLayer
module.exports.GraphSAGE = GraphSAGE
module.exports.aggregate = aggregate
module.exports.aggregateSync = aggregateSync
module.exports.simdInfo = simdInfo
module.exports.limits = limits
