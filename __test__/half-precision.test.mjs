// Half-precision rows: HalfFeatures for aggregate, and Graph's precision
// option for the layers, each within its stated bound of the f32 result
// (computed here in float64 from the same inputs), and their errors.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Graph, GCNLayer, HalfFeatures, aggregate, aggregateSync } from '../index.js'
import { makeRng, thrownBy, failureOf, assertCode } from './helpers.mjs'

function randomLists(rng, n, maxDegree) {
  return Array.from({ length: n }, () => Array.from({ length: rng.int(maxDegree + 1) }, () => rng.int(n)))
}

// Σ (or mean) over each node's sources of x and of |x|, in float64.
function reference(lists, x, cols, mean) {
  const sum = new Float64Array(lists.length * cols)
  const magnitude = new Float64Array(lists.length * cols)
  lists.forEach((sources, i) => {
    const scale = mean && sources.length ? 1 / sources.length : 1
    for (const j of sources) {
      for (let c = 0; c < cols; c++) {
        sum[i * cols + c] += x[j * cols + c] * scale
        magnitude[i * cols + c] += Math.abs(x[j * cols + c]) * scale
      }
    }
  })
  return { sum, magnitude }
}

test('aggregate over HalfFeatures stays within 2^-11 of its terms of the f32 result, sync and async', async () => {
  const rng = makeRng(5)
  const [n, cols] = [300, 40]
  const lists = randomLists(rng, n, 12)
  const data = rng.gaussianVector(n * cols, 3)
  const matrix = { data, rows: n, cols }
  const half = new HalfFeatures(matrix)
  assert.equal(half.rows, n)
  assert.equal(half.cols, cols)
  const widened = half.toMatrix()
  assert.equal(widened.data.length, n * cols)
  let rounded = 0
  for (let i = 0; i < data.length; i++) {
    assert.ok(Math.abs(widened.data[i] - data[i]) <= Math.abs(data[i]) * 2 ** -11)
    if (widened.data[i] !== data[i]) rounded++
  }
  assert.ok(rounded > 0, 'the values really are rounded')
  const graph = new Graph(lists)
  for (const aggregation of ['sum', 'mean']) {
    const { sum, magnitude } = reference(lists, data, cols, aggregation === 'mean')
    for (const out of [aggregateSync(half, graph, aggregation), await aggregate(half, lists, aggregation)]) {
      assert.equal(out.rows, n)
      assert.equal(out.cols, cols)
      for (let k = 0; k < sum.length; k++) {
        assert.ok(Math.abs(out.data[k] - sum[k]) <= 2 ** -11 * magnitude[k] * 1.01 + 1e-6, `${aggregation} element ${k}: ${out.data[k]} vs ${sum[k]}`)
      }
    }
  }
  assertCode(thrownBy(() => aggregateSync(half, graph, 'max')), 'ERR_INVALID_ARGUMENT')
  const rejected = await failureOf(() => aggregate(half, graph, 'max'))
  assert.equal(rejected.sync, false, 'async errors reject')
  assertCode(rejected.error, 'ERR_INVALID_ARGUMENT')
  // A graph of another size.
  assertCode(thrownBy(() => aggregateSync(half, [[0], [1]], 'sum')), 'ERR_DIMENSION_MISMATCH')
})

test('HalfFeatures refuses values it cannot hold', () => {
  const withNaN = { data: Float32Array.from([1, NaN, 3, 4]), rows: 2, cols: 2 }
  assertCode(thrownBy(() => new HalfFeatures(withNaN)), 'ERR_INVALID_VECTOR')
  const tooLarge = { data: Float32Array.from([1, 2, 70000, 4]), rows: 2, cols: 2 }
  const error = thrownBy(() => new HalfFeatures(tooLarge))
  assertCode(error, 'ERR_INVALID_VECTOR')
  assert.match(error.message, /row 1, column 0/)
})

test("Graph's f16 precision keeps GCN within 2e-3 of the output's scale, and its options are checked", () => {
  const rng = makeRng(8)
  const [n, inputDim, outputDim] = [400, 32, 64]
  const lists = randomLists(rng, n, 10)
  const features = { data: rng.gaussianVector(n * inputDim), rows: n, cols: inputDim }
  const full = new Graph(lists)
  const half = new Graph(lists, { precision: 'f16' })
  assert.equal(full.precision, 'f32')
  assert.equal(half.precision, 'f16')
  const layer = new GCNLayer({ inputDim, outputDim, activation: 'relu', seed: 3 })
  const a = layer.forwardSync(features, full).data
  const b = layer.forwardSync(features, half).data
  let scale = 0
  let error = 0
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(a[i]))
    error = Math.max(error, Math.abs(a[i] - b[i]))
  }
  assert.ok(error > 0, 'f16 rows are in use')
  assert.ok(error <= 2e-3 * scale, `error ${error} at scale ${scale}`)
  assertCode(thrownBy(() => new Graph(lists, { precision: 'f8' })), 'ERR_INVALID_ARGUMENT')
  assertCode(thrownBy(() => new Graph(lists, { precison: 'f16' })), 'ERR_INVALID_ARGUMENT')
  assertCode(thrownBy(() => new Graph(lists, 'f16')), 'ERR_INVALID_ARGUMENT')
})
