'use strict'
// A parsed hnsw-gnn filter (sources/filter.js) as a Postgres boolean
// expression over a jsonb metadata column. The caller's values never become
// SQL text: every path segment and operand is a bind parameter, and the
// column name arrives already quoted as an identifier.
//
// How each part keeps hnsw-gnn's semantics (src/filter/mod.rs):
// * Paths: `col -> $a::text -> $b::text`. The text form of `->` reads
//   object keys only, so a path never descends into an array (`#>` would
//   take "0" as an array index), and a missing key, a scalar on the way or
//   a NULL column all give SQL NULL: a missing field.
// * Equality: jsonb `=` is deep equality with object keys in any order
//   and numbers compared as numbers. A stored array also matches when one
//   of its elements equals a non-array operand; the elements are read with
//   jsonb_array_elements inside a CASE, which guarantees it only ever sees
//   an array (AND does not promise an evaluation order).
// * Comparisons apply only between numbers or between strings, elementwise
//   on a stored array; strings compare with COLLATE "C", UTF-8 byte order,
//   which is the code-point order hnsw-gnn uses, whatever the database's
//   collation.
// * Every expression is TRUE or FALSE, never NULL (a missing field makes
//   $eq/$in FALSE), so NOT gives $ne/$nin exactly: a missing field passes.

const COMPARISON_SQL = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' }

/**
 * `filter` (a parsed node) as SQL over `column` (a quoted identifier);
 * `parameter(value)` adds a bind parameter and returns its `$n`.
 */
function filterSql(node, column, parameter) {
  if (node.and) return node.and.length === 0 ? 'TRUE' : `(${node.and.map((n) => filterSql(n, column, parameter)).join(' AND ')})`
  if (node.or) return `(${node.or.map((n) => filterSql(n, column, parameter)).join(' OR ')})`
  // The path's parameters are added on first use only: `$in: []` is FALSE
  // without it, and a parameter the SQL never names has no type.
  let value
  const valueSql = () => (value ??= `(${column}${node.path.map((segment) => ` -> ${parameter(segment)}::text`).join('')})`)
  const conditions = node.conditions.map((condition) => conditionSql(condition, valueSql, parameter))
  return conditions.length === 1 ? conditions[0] : `(${conditions.join(' AND ')})`
}

function conditionSql(condition, valueSql, parameter) {
  if (condition.op === '$in') return memberSql(condition.operands, valueSql, parameter)
  if (condition.op === '$nin') return `(NOT ${memberSql(condition.operands, valueSql, parameter)})`
  const value = valueSql()
  const operator = COMPARISON_SQL[condition.op]
  const isNumber = typeof condition.bound === 'number'
  const bound = isNumber ? `${parameter(JSON.stringify(condition.bound))}::jsonb` : `${parameter(condition.bound)}::text`
  const compare = (element) =>
    isNumber
      ? `(jsonb_typeof(${element}) = 'number' AND ${element} ${operator} ${bound})`
      : `(jsonb_typeof(${element}) = 'string' AND (${element} #>> '{}') COLLATE "C" ${operator} ${bound})`
  return `(CASE WHEN jsonb_typeof(${value}) = 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements(${value}) AS element WHERE ${compare('element')}) ELSE COALESCE(${compare(value)}, FALSE) END)`
}

/** `$in: operands` (and `$eq: operand`): FALSE for a missing field. */
function memberSql(operands, valueSql, parameter) {
  if (operands.length === 0) return 'FALSE'
  const value = valueSql()
  const whole = operands.length === 1 ? `${value} = ${parameter(JSON.stringify(operands[0]))}::jsonb` : `${value} IN (SELECT jsonb_array_elements(${parameter(JSON.stringify(operands))}::jsonb))`
  const scalars = operands.filter((operand) => !Array.isArray(operand))
  if (scalars.length === 0) return `COALESCE(${whole}, FALSE)`
  const elements = `EXISTS (SELECT 1 FROM jsonb_array_elements(${value}) AS element WHERE element IN (SELECT jsonb_array_elements(${parameter(JSON.stringify(scalars))}::jsonb)))`
  return `(CASE WHEN jsonb_typeof(${value}) = 'array' THEN ${elements} ELSE FALSE END OR COALESCE(${whole}, FALSE))`
}

module.exports = { filterSql }
