'use strict'
// Checking what callers pass to a candidate source, the same way for every
// engine, so that a bad query never reaches the engine: queries, search
// options, id lists and the names of tables and columns.

const { invalidArgument, invalidVector, dimensionMismatch } = require('./errors.js')

const METRICS = ['cosine', 'euclidean', 'dot']
const SEARCH_KEYS = ['k', 'filter']
/** `search`'s default `k`, as hnsw-gnn's. */
const DEFAULT_K = 10
/** The largest `k`, hnsw-gnn's `limits.maxK`. */
const MAX_K = 100_000

function describe(value) {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`
}

/** Throws unless `options` is an object whose keys are all in `known`. */
function checkKeys(options, known, what) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgument(`${what} must be an object, got ${describe(options)}`)
  }
  const unknown = Object.keys(options).filter((key) => !known.includes(key))
  if (unknown.length > 0) {
    throw invalidArgument(`unknown ${what} key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} (known: ${known.join(', ')})`)
  }
}

function metricOption(metric, what) {
  if (!METRICS.includes(metric)) {
    throw invalidArgument(`${what}: metric must be one of ${METRICS.map((m) => `'${m}'`).join(', ')}, got ${describe(metric)}`)
  }
  return metric
}

/** A table or column name: a non-empty string without NUL. */
function nameOption(name, what) {
  if (typeof name !== 'string' || name.length === 0 || name.includes('\0')) {
    throw invalidArgument(`${what} must be a non-empty name without NUL characters, got ${describe(name)}`)
  }
  return name
}

/** `{ k, filter }` of a search, with k defaulted and checked. */
function searchOptions(options) {
  if (options === undefined || options === null) return { k: DEFAULT_K, filter: undefined }
  checkKeys(options, SEARCH_KEYS, 'search options')
  const k = options.k === undefined ? DEFAULT_K : options.k
  if (!Number.isInteger(k) || k < 1 || k > MAX_K) {
    throw invalidArgument(`k must be an integer from 1 to ${MAX_K}, got ${describe(k)}`)
  }
  return { k, filter: options.filter ?? undefined }
}

/**
 * The query as a Float32Array (the precision engines store), checked
 * before any engine sees it: finite numbers, the vectors' dimensions when
 * known, and not all zeros under cosine (which has no direction). Also the
 * Reranker's check before it stores anything.
 */
function queryVector(query, dimensions, metric) {
  if (!(query instanceof Float32Array) && !Array.isArray(query)) {
    throw invalidArgument(`a query must be a Float32Array or an array of numbers, got ${describe(query)}`)
  }
  if (query.length === 0) throw invalidVector('the query vector is empty')
  if (dimensions !== undefined && query.length !== dimensions) {
    throw dimensionMismatch(`the query has ${query.length} dimensions, the vectors ${dimensions}`)
  }
  const vector = query instanceof Float32Array ? query : new Float32Array(query.length)
  let nonZero = false
  for (let i = 0; i < query.length; i++) {
    const x = query[i]
    if (typeof x !== 'number') throw invalidArgument(`query[${i}] is ${describe(x)}, not a number`)
    if (!Number.isFinite(x)) throw invalidVector(`query[${i}] is ${x}: vectors hold finite numbers only`)
    vector[i] = x
    // Engines store 32-bit floats: 1e39 is finite here and Infinity there.
    if (!Number.isFinite(vector[i])) throw invalidVector(`query[${i}] is ${x}, beyond the range of a 32-bit float`)
    nonZero ||= x !== 0
  }
  if (!nonZero && metric === 'cosine') throw invalidVector('the query is a zero vector, which has no cosine similarity')
  return vector
}

/** The distinct ids of a `vectors(ids)` call. */
function idList(ids) {
  if (!Array.isArray(ids)) throw invalidArgument(`ids must be an array of strings, got ${describe(ids)}`)
  for (let i = 0; i < ids.length; i++) {
    if (typeof ids[i] !== 'string') throw invalidArgument(`ids[${i}] is ${describe(ids[i])}, not a string`)
  }
  return [...new Set(ids)]
}

module.exports = { METRICS, DEFAULT_K, MAX_K, describe, checkKeys, metricOption, nameOption, searchOptions, queryVector, idList }
