'use strict'
// What an item of the crash loop holds, as a pure function of its id and a
// version number: the worker writes these contents and the checker
// recomputes them, so an acknowledged write is described on the worker's
// stdout by two numbers, and a torn or stale item (a vector of one version
// with the metadata of another, or bits of neither) cannot pass as right.

const { mulberry32, deriveSeed } = require('./rng')

// FNV-1a over the id's UTF-16 code units: a seed per id.
function hashId(id) {
  let h = 0x811c9dc5
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}

/** The vector of `id` at `version`: uniform in [-1, 1), exact in f32. */
function vectorOf(id, version, dimensions) {
  const uniform = mulberry32(deriveSeed(hashId(id), version))
  const vector = new Float32Array(dimensions)
  for (let d = 0; d < dimensions; d++) vector[d] = uniform() * 2 - 1
  return vector
}

/**
 * The metadata of `id` at `version` (`null` for version `null`): nested
 * objects, arrays, strings beyond ASCII, fractions, booleans and a null,
 * so every kind of value a metadata conversion handles round-trips.
 */
function metadataOf(id, version) {
  if (version === null) return null
  return {
    id,
    version,
    group: version % 7,
    price: version / 4,
    label: `größe-${version}-✓`,
    tags: [`t${version % 3}`, 'crash', version % 2 === 0],
    nested: { deep: { n: version, list: [1, 2.5, null] } },
    gone: null,
  }
}

module.exports = { vectorOf, metadataOf }
