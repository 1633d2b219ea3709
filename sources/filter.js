'use strict'
// hnsw-gnn's metadata filter language, parsed in JS for the candidate
// sources, which compile it to their engine's query language
// (sources/pg-filter.js, sources/lance-filter.js). The grammar and its
// errors are those of src/filter (parse.rs), so a filter that hnsw-gnn
// refuses is refused here with the same ERR_INVALID_FILTER reason:
//
//   filter := { clause, ... }            clauses ANDed; {} matches everything
//   clause := $and: [filter, ...] | $or: [filter, ...]    non-empty arrays
//           | field: value                                 field $eq value
//           | field: { $op: operand, ... }                 ops ANDed
//   $op    := $eq $ne $gt $gte $lt $lte $in $nin
//   field  := name("." name)*            a path into nested objects
//
// The filter first goes through JSON exactly as hnsw-gnn sends it to its
// core (a Date becomes its ISO text, undefined fields vanish; NaN, BigInt
// and the like are refused), so both see the same value.
//
// Parsed form (what the compilers walk):
//   { and: Node[] } | { or: Node[] }                   `and: []` matches all
//   { field, path: string[], conditions: Condition[] } conditions ANDed
//   Condition: { op: '$in' | '$nin', operands: json[] }   ($eq/$ne: one operand)
//            | { op: '$gt' | '$gte' | '$lt' | '$lte', bound: number | string }

const { invalidFilter } = require('./errors.js')
const { losslessJsonText } = require('../lossless-json.js')

/** Deepest `$and`/`$or` nesting and deepest operand, as src/filter's MAX_DEPTH. */
const MAX_DEPTH = 32
const COMPARISONS = ['$gt', '$gte', '$lt', '$lte']

function parseFilter(filter) {
  return parseNode(jsonValue(filter), 'filter', 0)
}

// ------------------------------------------------------------ the value --

/** `filter` as JSON makes it, refusing what JSON would change without a word. */
function jsonValue(filter) {
  let text
  try {
    text = losslessJsonText(filter)
  } catch (error) {
    throw invalidFilter(`filter cannot be stored as JSON: ${error.message}`)
  }
  if (text === undefined) throw invalidFilter(`filter must be an object, got ${typeof filter}`)
  return JSON.parse(text)
}

/** A JSON value in a message, cut at 60 characters as hnsw-gnn's are. */
function shortJson(value) {
  const text = JSON.stringify(value)
  return text.length <= 60 ? text : `${text.slice(0, 60)}…`
}

function isPlainObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

// ------------------------------------------------------------- parsing --

function parseNode(value, at, depth) {
  if (depth > MAX_DEPTH) throw invalidFilter(`invalid filter: $and/$or nested deeper than ${MAX_DEPTH} levels`)
  if (!isPlainObject(value)) throw invalidFilter(`invalid filter: ${at} must be an object, got ${shortJson(value)}`)
  const clauses = []
  for (const [key, operand] of Object.entries(value)) {
    if (key === '$and') {
      for (const child of parseList(key, operand, at, depth)) clauses.push(...(child.and ?? [child]))
    } else if (key === '$or') {
      const children = parseList(key, operand, at, depth)
      clauses.push(children.length === 1 ? children[0] : { or: children })
    } else if (key.startsWith('$')) {
      throw invalidFilter(`invalid filter: unknown operator "${key}" in ${at} (only $and and $or may appear outside a field)`)
    } else {
      clauses.push(parseField(key, operand))
    }
  }
  return clauses.length === 1 ? clauses[0] : { and: clauses }
}

function parseList(key, operand, at, depth) {
  if (!Array.isArray(operand) || operand.length === 0) {
    throw invalidFilter(`invalid filter: ${key} in ${at} needs a non-empty array of filter objects, got ${shortJson(operand)}`)
  }
  const prefix = at === 'filter' ? '' : `${at}.`
  return operand.map((item, i) => parseNode(item, `${prefix}${key}[${i}]`, depth + 1))
}

function parseField(field, operand) {
  if (field === '') throw invalidFilter('invalid filter: empty field name')
  const path = field.split('.')
  if (path.includes('')) throw invalidFilter(`invalid filter: field "${field}" has an empty path segment`)
  const keys = isPlainObject(operand) ? Object.keys(operand) : []
  const operators = keys.filter((key) => key.startsWith('$'))
  if (operators.length === 0) return { field, path, conditions: [membership(field, '$in', [operand])] }
  const plain = keys.find((key) => !key.startsWith('$'))
  if (plain !== undefined) {
    throw invalidFilter(
      `invalid filter: field "${field}" mixes operator "${operators[0]}" with plain key "${plain}"; use either an operator object or a literal object`,
    )
  }
  return { field, path, conditions: operators.map((op) => parseCondition(field, op, operand[op])) }
}

function parseCondition(field, op, operand) {
  switch (op) {
    case '$eq':
      return membership(field, '$in', [operand])
    case '$ne':
      return membership(field, '$nin', [operand])
    case '$in':
    case '$nin':
      if (!Array.isArray(operand)) throw invalidFilter(`invalid filter: ${op} on field "${field}" needs an array, got ${shortJson(operand)}`)
      return membership(field, op, operand, op)
    default:
      if (!COMPARISONS.includes(op)) throw invalidFilter(`invalid filter: unknown operator "${op}" on field "${field}"`)
      if (typeof operand !== 'number' && typeof operand !== 'string') {
        throw invalidFilter(`invalid filter: ${op} on field "${field}" needs a number or string, got ${shortJson(operand)}`)
      }
      return { op, bound: operand }
  }
}

/** `$in`/`$nin` (and `$eq`/`$ne` as one-operand sets), operands checked for depth. */
function membership(field, op, operands, written = op === '$in' ? '$eq' : '$ne') {
  for (const operand of operands) {
    if (nesting(operand) > MAX_DEPTH) {
      throw invalidFilter(`invalid filter: ${written} on field "${field}": operand nested deeper than ${MAX_DEPTH} levels`)
    }
  }
  return { op, operands }
}

/** How many arrays and objects deep `value` goes (stops counting past the limit). */
function nesting(value, limit = MAX_DEPTH + 1) {
  if (value === null || typeof value !== 'object') return 0
  if (limit === 0) return 1
  let deepest = 0
  for (const child of Object.values(value)) deepest = Math.max(deepest, nesting(child, limit - 1))
  return deepest + 1
}

module.exports = { parseFilter, MAX_DEPTH }
