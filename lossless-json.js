'use strict'
// JSON text of a value, refusing what JSON.stringify would change without a
// word: BigInt (JSON cannot hold one), functions and symbols (dropped), NaN
// and ±Infinity (written as null), objects whose contents JSON cannot see
// (Map, Set, typed arrays, RegExp, Error...: written as {}), strings and
// keys with a lone UTF-16 surrogate (no UTF-8 form), and cycles.
// Symbol-keyed properties are skipped, as JSON skips them. One check for
// every JSON hnsw-gnn takes: metadata and filters (index.js), and the
// filters candidate sources compile (sources/filter.js).

// new Number(1) and the like: JSON writes the primitive inside.
const BOXED_PRIMITIVES = new Set(['Number', 'String', 'Boolean'])

/** `JSON.stringify(value)`, or a TypeError saying what JSON would have lost. */
function losslessJsonText(value) {
  return JSON.stringify(value, refuseLossyJson)
}

// JSON.stringify's replacer: sees every value, after toJSON.
function refuseLossyJson(key, value) {
  const what = key === '' ? 'the value' : `field ${JSON.stringify(key)}`
  if (!key.isWellFormed()) throw new TypeError(`${what}'s name holds a lone UTF-16 surrogate, which UTF-8 cannot store`)
  switch (typeof value) {
    case 'bigint':
      throw new TypeError(`${what} is a BigInt (${value}n), which JSON cannot hold: pass a number or a string`)
    case 'function':
    case 'symbol':
      throw new TypeError(`${what} is a ${typeof value}, which JSON drops`)
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${what} is ${value}, which JSON writes as null`)
      return value
    case 'string':
      if (!value.isWellFormed()) throw new TypeError(`${what} holds a lone UTF-16 surrogate, which UTF-8 cannot store`)
      return value
    case 'object': {
      if (value === null || Array.isArray(value)) return value
      const tag = Object.prototype.toString.call(value).slice(8, -1)
      if (tag !== 'Object' && !BOXED_PRIMITIVES.has(tag)) {
        throw new TypeError(`${what} is a ${tag}, whose contents JSON does not see: convert it (say, to an array or a plain object) first`)
      }
      return value
    }
    default:
      return value
  }
}

module.exports = { losslessJsonText }
