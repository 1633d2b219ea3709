'use strict'
// A parsed hnsw-gnn filter (sources/filter.js) as a LanceDB where-clause
// over the table's scalar columns. LanceDB takes no bind parameters, so
// values are written as literals: strings single-quoted with quotes
// doubled (NUL refused), numbers as JavaScript writes them, column names
// back-quoted (a name holding a back quote cannot be quoted, and is
// refused).
//
// The subset: a field is a top-level column of string, integer, float or
// boolean type; operands are strings, numbers and booleans. Within it the
// semantics are hnsw-gnn's, with a NULL cell as a missing field ($eq, $in
// and comparisons fail, $ne and $nin pass) and an operand of another type
// than the column matching nothing, as a stored value of another type
// would. Refused with ERR_INVALID_FILTER: dotted paths, unknown columns,
// columns of other types (lists, structs, dates), null/array/object
// operands, and integers beyond ±2^53 against an integer column.

const { invalidFilter } = require('./errors.js')

const COMPARISON_SQL = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' }

function quoteColumn(name) {
  if (name.includes('`')) throw invalidFilter(`invalid filter: column ${JSON.stringify(name)} holds a back quote, which LanceDB filters cannot quote`)
  return `\`${name}\``
}

function stringLiteral(text) {
  if (text.includes('\0')) throw invalidFilter('invalid filter: a string with a NUL character cannot be written into a LanceDB filter')
  return `'${text.replaceAll("'", "''")}'`
}

/**
 * `node` (a parsed filter) as a where-clause; `kinds` maps each column name
 * to 'string', 'integer', 'float', 'boolean' or another word (unsupported).
 */
function whereSql(node, kinds) {
  if (node.and) return node.and.length === 0 ? 'TRUE' : `(${node.and.map((n) => whereSql(n, kinds)).join(' AND ')})`
  if (node.or) return `(${node.or.map((n) => whereSql(n, kinds)).join(' OR ')})`
  if (node.path.length > 1) throw invalidFilter(`invalid filter: field "${node.field}" is a path; LanceDB filters name top-level columns only`)
  const kind = kinds.get(node.field)
  if (kind === undefined) throw invalidFilter(`invalid filter: the table has no column "${node.field}"`)
  if (!['string', 'integer', 'float', 'boolean'].includes(kind)) {
    throw invalidFilter(`invalid filter: column "${node.field}" is ${kind}; LanceDB filters support string, number and boolean columns`)
  }
  const column = quoteColumn(node.field)
  const conditions = node.conditions.map((condition) => conditionSql(condition, column, kind, node.field))
  return conditions.length === 1 ? conditions[0] : `(${conditions.join(' AND ')})`
}

function conditionSql(condition, column, kind, field) {
  if (condition.op === '$in' || condition.op === '$nin') {
    const literals = condition.operands.map((operand) => literalFor(operand, kind, field, condition.op)).filter((literal) => literal !== null)
    const member = literals.length === 0 ? 'FALSE' : literals.length === 1 ? `${column} = ${literals[0]}` : `${column} IN (${literals.join(', ')})`
    if (condition.op === '$in') return member
    return literals.length === 0 ? 'TRUE' : `(${column} IS NULL OR NOT (${member}))`
  }
  let bound = condition.bound
  const sameType = typeof bound === 'string' ? kind === 'string' : kind === 'integer' || kind === 'float'
  if (!sameType) return 'FALSE'
  let operator = COMPARISON_SQL[condition.op]
  if (kind === 'integer' && !Number.isInteger(bound)) {
    // An integer column takes only integer literals: x > 2.5 is x >= 3.
    bound = condition.op === '$gt' || condition.op === '$gte' ? Math.ceil(bound) : Math.floor(bound)
    operator = condition.op === '$gt' || condition.op === '$gte' ? '>=' : '<='
  }
  return `${column} ${operator} ${literalFor(bound, kind, field, condition.op)}`
}

/** `operand` as a literal of the column's kind, or null when no value of the column can equal it. */
function literalFor(operand, kind, field, op) {
  switch (typeof operand) {
    case 'string':
      return kind === 'string' ? stringLiteral(operand) : null
    case 'boolean':
      return kind === 'boolean' ? String(operand).toUpperCase() : null
    case 'number':
      if (kind === 'float') return String(operand)
      if (kind !== 'integer' || !Number.isInteger(operand)) return null
      if (!Number.isSafeInteger(operand)) throw invalidFilter(`invalid filter: ${op} on field "${field}": ${operand} is beyond ±2^53, which an integer column cannot be compared with exactly here`)
      return String(operand)
    default:
      throw invalidFilter(
        `invalid filter: ${op} on field "${field}": LanceDB filters take strings, numbers and booleans, got ${operand === null ? 'null' : Array.isArray(operand) ? 'an array' : 'an object'}`,
      )
  }
}

module.exports = { whereSql, quoteColumn, stringLiteral }
