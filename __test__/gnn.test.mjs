// GNN layers from JS: each class against an independent JavaScript
// reference built from the layer's own weights, the database's graph and
// vectors, minibatches, weight files, and every error.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { VectorDB, Graph, GCNLayer, GATLayer, GraphSAGE } from '../index.js'
import { makeRng, clusteredData, thrownBy, failureOf, assertCode } from './helpers.mjs'

// ------------------------------------------------------------ references --

function randomGraph(rng, n, maxDegree) {
  return Array.from({ length: n }, () => {
    const list = new Set()
    const degree = rng.int(maxDegree + 1)
    for (let k = 0; k < degree; k++) list.add(rng.int(n))
    return [...list]
  })
}

function randomFeatures(rng, n, d) {
  return rng.gaussianVector(n * d)
}

const row = (m, i) => m.data.subarray(i * m.cols, (i + 1) * m.cols)

/** `x · W` for x given as n × d Float32Array and W a Matrix. */
function project(x, n, W) {
  const out = new Float64Array(n * W.cols)
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < W.rows; k++) {
      const xi = x[i * W.rows + k]
      for (let c = 0; c < W.cols; c++) out[i * W.cols + c] += xi * W.data[k * W.cols + c]
    }
  }
  return out
}

const relu = (v) => Math.max(0, v)

function assertMatrixClose(actual, expected, rows, cols, tol, what) {
  assert.equal(actual.rows, rows, `${what}: rows`)
  assert.equal(actual.cols, cols, `${what}: cols`)
  for (let i = 0; i < rows * cols; i++) {
    const a = actual.data[i]
    const e = expected[i]
    assert.ok(Math.abs(a - e) <= tol * (1 + Math.abs(e)), `${what}[${Math.floor(i / cols)}, ${i % cols}]: ${a} vs ${e}`)
  }
}

// Kipf & Welling: Â = A + I, out_i = Σ_j Â_ij / sqrt(d_i d_j) (x_j W) + b.
function referenceGcn(x, lists, W, b, activation) {
  const n = lists.length
  const rows = lists.map((list, i) => (list.includes(i) ? list : [...list, i]))
  const degree = rows.map((r) => r.length)
  const xw = project(x, n, W)
  const out = new Float64Array(n * W.cols)
  for (let i = 0; i < n; i++) {
    for (const j of rows[i]) {
      const w = 1 / Math.sqrt(degree[i] * degree[j])
      for (let c = 0; c < W.cols; c++) out[i * W.cols + c] += w * xw[j * W.cols + c]
    }
    for (let c = 0; c < W.cols; c++) out[i * W.cols + c] = activation(out[i * W.cols + c] + b.data[c])
  }
  return out
}

// Veličković et al.: per head, softmax over j ∈ N(i) ∪ {i} of
// LeakyReLU(a_src · z_j + a_dst · z_i), then concatenated heads plus bias.
function referenceGat(x, lists, weights, heads, slope) {
  const n = lists.length
  const W = weights['0.weight']
  const width = W.cols / heads
  const z = project(x, n, W)
  const score = (a, i, h) => {
    let s = 0
    for (let c = 0; c < width; c++) s += a.data[h * width + c] * z[i * W.cols + h * width + c]
    return s
  }
  const out = new Float64Array(n * W.cols)
  const attention = []
  for (let i = 0; i < n; i++) {
    const sources = lists[i].includes(i) ? lists[i] : [...lists[i], i]
    const perHead = []
    for (let h = 0; h < heads; h++) {
      const e = sources.map((j) => {
        const raw = score(weights['0.attention_source'], j, h) + score(weights['0.attention_destination'], i, h)
        return raw > 0 ? raw : slope * raw
      })
      const max = Math.max(...e)
      const exp = e.map((v) => Math.exp(v - max))
      const sum = exp.reduce((a, b) => a + b, 0)
      const alpha = exp.map((v) => v / sum)
      perHead.push(alpha)
      sources.forEach((j, k) => {
        for (let c = 0; c < width; c++) out[i * W.cols + h * width + c] += alpha[k] * z[j * W.cols + h * width + c]
      })
    }
    for (let c = 0; c < W.cols; c++) out[i * W.cols + c] += weights['0.bias'].data[c]
    attention.push({ sources, perHead })
  }
  return { out, attention }
}

// Hamilton et al., mean aggregator: x W_self + b + mean(x_N) W_neigh.
function referenceSageLayer(x, n, d, lists, weights, layer, activation) {
  const selfPart = project(x, n, weights[`${layer}.weight`])
  const mean = new Float32Array(n * d)
  lists.forEach((list, i) => {
    for (const j of list) for (let c = 0; c < d; c++) mean[i * d + c] += x[j * d + c] / list.length
  })
  const neighborPart = project(mean, n, weights[`${layer}.neighbor_weight`])
  const cols = weights[`${layer}.weight`].cols
  const out = new Float32Array(n * cols)
  for (let i = 0; i < n * cols; i++) out[i] = activation(selfPart[i] + neighborPart[i] + weights[`${layer}.bias`].data[i % cols])
  return out
}

// ------------------------------------------------------------------ tests --

test('GCNLayer matches Kipf & Welling computed in JS from its own weights', async () => {
  const rng = makeRng(1)
  const n = 60
  const lists = randomGraph(rng, n, 6)
  const x = randomFeatures(rng, n, 8)
  const gcn = new GCNLayer({ inputDim: 8, outputDim: 5, activation: 'relu', seed: 3 })
  assert.equal(gcn.inputDim, 8)
  assert.equal(gcn.outputDim, 5)
  const weights = gcn.weights()
  assert.deepEqual(Object.keys(weights).sort(), ['0.bias', '0.weight'])
  const expected = referenceGcn(x, lists, weights['0.weight'], weights['0.bias'], relu)
  assert.ok(expected.some((v) => v > 0) && expected.some((v) => v === 0), 'ReLU active and inactive')
  assertMatrixClose(gcn.forwardSync(x, lists), expected, n, 5, 1e-4, 'sync, lists')
  assertMatrixClose(await gcn.forward(x, lists), expected, n, 5, 1e-4, 'async, lists')
  const graph = new Graph(lists)
  const csr = graph.csr()
  assert.equal(graph.numNodes, n)
  assert.equal(graph.numEdges, csr.targets.length)
  assert.ok(!('ids' in graph), 'a Graph is only a graph; snapshots carry ids beside it')
  assertMatrixClose(await gcn.forward({ data: x, rows: n, cols: 8 }, graph), expected, n, 5, 1e-4, 'matrix + Graph')
  assertMatrixClose(gcn.forwardSync(x, csr), expected, n, 5, 1e-4, 'CSR arrays')
  // Outputs chain into the next layer.
  const next = new GCNLayer({ inputDim: 5, outputDim: 2, activation: 'none', seed: 4 })
  assert.equal((await next.forward(await gcn.forward(x, graph), graph)).cols, 2)
})

test('GATLayer matches multi-head attention computed in JS; attention sums to 1 per node and head', async () => {
  const rng = makeRng(2)
  const n = 40
  const lists = randomGraph(rng, n, 5)
  const x = randomFeatures(rng, n, 6)
  const gat = new GATLayer({ inputDim: 6, outputDim: 8, numHeads: 4, concatHeads: true, dropout: 0.1, leakyReluSlope: 0.2, seed: 5 })
  const weights = gat.weights()
  assert.equal(weights['0.attention_source'].rows, 4)
  assert.equal(weights['0.attention_source'].cols, 2)
  const { out, attention: expectedAttention } = referenceGat(x, lists, weights, 4, 0.2)
  // Inference ignores dropout: repeated calls agree exactly.
  assert.deepEqual(gat.forwardSync(x, lists).data, gat.forwardSync(x, lists).data)
  const result = await gat.forwardWithAttention(x, lists)
  assertMatrixClose(result.output, out, n, 8, 1e-4, 'GAT output')
  assert.equal(result.heads, 4)
  const { offsets, targets } = result.graph
  assert.equal(offsets.length, n + 1)
  assert.equal(result.attention.length, targets.length * 4)
  for (let i = 0; i < n; i++) {
    const sources = [...targets.subarray(offsets[i], offsets[i + 1])]
    assert.deepEqual([...sources].sort(), [...expectedAttention[i].sources].sort(), `node ${i} attends its neighbours and itself`)
    for (let h = 0; h < 4; h++) {
      let sum = 0
      sources.forEach((j, k) => {
        const alpha = result.attention[(offsets[i] + k) * 4 + h]
        sum += alpha
        const expected = expectedAttention[i].perHead[h][expectedAttention[i].sources.indexOf(j)]
        assert.ok(Math.abs(alpha - expected) < 1e-5, `α(${i}←${j}, head ${h}): ${alpha} vs ${expected}`)
      })
      assert.ok(Math.abs(sum - 1) < 1e-5, `node ${i} head ${h} sums to ${sum}`)
    }
  }
  assertMatrixClose(gat.forwardWithAttentionSync(x, lists).output, out, n, 8, 1e-4, 'sync')
  // Averaged heads: each head is outputDim wide.
  const mean = new GATLayer({ inputDim: 6, outputDim: 3, numHeads: 2, concatHeads: false, seed: 1 })
  assert.equal(mean.weights()['0.weight'].cols, 6)
  assert.equal(mean.forwardSync(x, lists).cols, 3)
})

test('GraphSAGE (mean) matches Hamilton et al. computed in JS, layer by layer', async () => {
  const rng = makeRng(3)
  const n = 50
  const lists = randomGraph(rng, n, 7)
  const x = randomFeatures(rng, n, 6)
  const sage = new GraphSAGE({ inputDim: 6, hiddenDim: 5, outputDim: 3, numLayers: 2, aggregator: 'mean', seed: 9 })
  const weights = sage.weights()
  const hidden = referenceSageLayer(x, n, 6, lists, weights, 0, relu)
  const expected = referenceSageLayer(hidden, n, 5, lists, weights, 1, (v) => v)
  assertMatrixClose(await sage.forward(x, lists), expected, n, 3, 1e-4, 'GraphSAGE')
  const normalized = new GraphSAGE({ inputDim: 6, outputDim: 4, normalize: true, seed: 2 })
  const out = normalized.forwardSync(x, lists)
  for (let i = 0; i < n; i++) {
    const r = row(out, i)
    const length = Math.hypot(...r)
    assert.ok(length === 0 || Math.abs(length - 1) < 1e-5, `row ${i} has length ${length}`)
  }
})

test('forwardMinibatch gives the batch rows of forward, for every aggregator, sampled or not', async () => {
  const rng = makeRng(4)
  const n = 400
  const lists = randomGraph(rng, n, 14)
  const graph = new Graph(lists)
  const x = randomFeatures(rng, n, 8)
  const batch = [3, 399, 0, 3, 127]
  for (const aggregator of ['mean', 'max', 'sum', 'lstm']) {
    for (const sampleSizes of [undefined, [4, 2]]) {
      const sage = new GraphSAGE({ inputDim: 8, outputDim: 4, numLayers: 2, aggregator, sampleSizes, residual: true, seed: 11 })
      const whole = await sage.forward(x, graph)
      const rows = await sage.forwardMinibatch(x, graph, batch)
      const syncRows = sage.forwardMinibatchSync(x, graph, new Uint32Array(batch))
      assert.deepEqual(syncRows.data, rows.data)
      assert.equal(rows.rows, batch.length)
      batch.forEach((node, r) => {
        const a = row(rows, r)
        const b = row(whole, node)
        for (let c = 0; c < 4; c++) {
          assert.ok(Math.abs(a[c] - b[c]) < 1e-4, `${aggregator} ${sampleSizes} node ${node}: ${a[c]} vs ${b[c]}`)
        }
      })
    }
  }
  // Sampling changes the result and is reproducible.
  const full = new GraphSAGE({ inputDim: 8, outputDim: 4, seed: 1 })
  const sampled = new GraphSAGE({ inputDim: 8, outputDim: 4, seed: 1, sampleSizes: [2, 2] })
  assert.notDeepEqual(full.forwardSync(x, graph).data, sampled.forwardSync(x, graph).data)
  assert.deepEqual(sampled.forwardSync(x, graph).data, sampled.forwardSync(x, graph).data)
})

test('layer.forward(features, graph) runs on a snapshot of the HNSW level-0 graph', async () => {
  const { vectors } = clusteredData({ n: 600, dim: 16, clusters: 6, seed: 7 })
  const db = new VectorDB({ dimensions: 16, metric: 'euclidean', m: 8 })
  await db.insertBatch(vectors.map((vector, i) => ({ id: `item-${i}`, vector })))
  await db.delete('item-5')
  const pending = db.snapshot()
  assert.ok(pending instanceof Promise, 'taken off the JS thread')
  const { graph, features, ids } = await pending
  assert.ok(graph instanceof Graph)
  assert.equal(graph.numNodes, 599)
  assert.equal(features.rows, 599)
  assert.equal(features.cols, 16)
  assert.equal(ids.length, 599)
  assert.ok(!ids.includes('item-5'))
  for (const r of [0, 100, 598]) {
    assert.deepEqual(row(features, r), db.getSync(ids[r]).vector, `row ${r} is ${ids[r]}'s vector`)
  }
  const { offsets, targets } = graph.csr()
  let maxDegree = 0
  for (let i = 0; i < graph.numNodes; i++) maxDegree = Math.max(maxDegree, offsets[i + 1] - offsets[i])
  assert.ok(maxDegree > 0 && maxDegree <= 16, `level-0 degree ≤ 2M, got ${maxDegree}`)
  assert.ok(targets.every((t) => t < 599))
  // Level-0 neighbours are near: closer on average than random pairs.
  const dist = (a, b) => Math.hypot(...row(features, a).map((v, c) => v - row(features, b)[c]))
  let linked = 0
  let random = 0
  const rng = makeRng(1)
  for (let i = 0; i < 599; i++) {
    linked += dist(i, targets[offsets[i]])
    random += dist(i, rng.int(599))
  }
  assert.ok(linked < random / 2, `linked ${linked} vs random ${random}`)
  // The row order holds until the next write.
  const again = await db.snapshot()
  assert.deepEqual(again.ids, ids)
  assert.deepEqual(again.graph.csr(), graph.csr())
  await db.delete('item-6')
  const after = await db.snapshot()
  assert.equal(after.ids.length, 598)
  assert.ok(!after.ids.includes('item-6'))
  for (const layer of [
    new GCNLayer({ inputDim: 16, outputDim: 8, seed: 1 }),
    new GATLayer({ inputDim: 16, outputDim: 8, numHeads: 2, seed: 1 }),
    new GraphSAGE({ inputDim: 16, outputDim: 8, sampleSizes: [10, 5], seed: 1 }),
  ]) {
    const out = await layer.forward(features, graph)
    assert.equal(out.rows, 599)
    assert.equal(out.cols, 8)
    assert.ok(out.data.every(Number.isFinite))
  }
})

test('weights save and load: f32 mapped and bit-identical, f16 and int8 close, wrong files refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hnsw-gnn-weights-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const rng = makeRng(6)
  const n = 80
  const lists = randomGraph(rng, n, 6)
  const x = randomFeatures(rng, n, 12)
  const layers = {
    gcn: (seed = 1) => new GCNLayer({ inputDim: 12, outputDim: 6, layerNorm: true, seed }),
    gat: (seed = 2) => new GATLayer({ inputDim: 12, outputDim: 6, numHeads: 3, seed }),
    sage: (seed = 3) => new GraphSAGE({ inputDim: 12, outputDim: 6, aggregator: 'lstm', sampleSizes: [3, 3], seed }),
  }
  for (const [name, make] of Object.entries(layers)) {
    const trained = make()
    const expected = trained.forwardSync(x, lists)
    const path = join(dir, `${name}.weights`)
    await trained.saveWeights(path)
    const fresh = make(98)
    // A different seed gives different weights until they are loaded.
    const other = make(99)
    assert.notDeepEqual(other.forwardSync(x, lists).data, expected.data)
    await other.loadWeights(path)
    assert.ok(other.weightsMapped, `${name}: f32 weights are mapped`)
    assert.deepEqual(other.forwardSync(x, lists).data, expected.data, `${name}: bit-identical after loading`)
    assert.deepEqual(other.config, trained.config)
    const scale = Math.max(...expected.data.map(Math.abs))
    for (const [weightType, bound] of [['f16', 0.01], ['int8', 0.05]]) {
      const quantized = join(dir, `${name}.${weightType}`)
      trained.saveWeightsSync(quantized, { weightType })
      fresh.loadWeightsSync(quantized)
      assert.ok(!fresh.weightsMapped)
      const out = fresh.forwardSync(x, lists).data
      const error = Math.max(...out.map((v, i) => Math.abs(v - expected.data[i]))) / scale
      assert.ok(error > 0 && error < bound, `${name} ${weightType}: error ${error}`)
    }
  }
  const gcnPath = join(dir, 'gcn.weights')
  assertCode((await failureOf(() => layers.gat().loadWeights(gcnPath))).error, 'ERR_INVALID_ARGUMENT', 'another kind')
  assertCode(thrownBy(() => new GCNLayer({ inputDim: 12, outputDim: 7 }).loadWeightsSync(gcnPath)), 'ERR_DIMENSION_MISMATCH')
  assertCode((await failureOf(() => layers.gcn().loadWeights(join(dir, 'missing')))).error, 'ERR_IO')
  const bytes = readFileSync(gcnPath)
  bytes[bytes.length - 3] ^= 0x40
  const damaged = join(dir, 'damaged.weights')
  writeFileSync(damaged, bytes)
  assertCode(thrownBy(() => layers.gcn().loadWeightsSync(damaged)), 'ERR_CORRUPT_FILE')
  writeFileSync(damaged, 'not a weight file at all, just text long enough to have a header........')
  assertCode(thrownBy(() => layers.gcn().loadWeightsSync(damaged)), 'ERR_UNSUPPORTED_FORMAT')
  assertCode(thrownBy(() => layers.gcn().saveWeightsSync(join(dir, 'x'), { weightType: 'f8' })), 'ERR_INVALID_ARGUMENT')
  assertCode((await failureOf(() => layers.gcn().saveWeights(join(dir, 'no', 'such', 'dir')))).error, 'ERR_IO')
})

test('bad options, shapes, graphs and batches are errors with codes, sync and async', async () => {
  const x = new Float32Array(12)
  const lists = [[1], [0, 2], [1]]
  const gcn = new GCNLayer({ inputDim: 4, outputDim: 2, seed: 1 })
  const sage = new GraphSAGE({ inputDim: 4, outputDim: 2, seed: 1 })
  const badOptions = [
    [() => new GCNLayer({ inputDim: 4 }), 'outputDim missing'],
    [() => new GCNLayer({ inputDim: 0, outputDim: 2 }), 'zero width'],
    [() => new GCNLayer({ inputDim: 4, outputDim: 2, activation: 'swish' }), 'unknown activation'],
    [() => new GCNLayer({ inputDim: 4, outputDim: 2, ouputDim: 3 }), 'misspelt option'],
    [() => new GCNLayer({ inputDim: 4, outputDim: 2, dropout: 1 }), 'dropout 1'],
    [() => new GATLayer({ inputDim: 4, outputDim: 6, numHeads: 4 }), 'heads do not divide'],
    [() => new GATLayer({ inputDim: 4, outputDim: 4, numHeads: 0 }), 'zero heads'],
    [() => new GraphSAGE({ inputDim: 4, outputDim: 2, aggregator: 'median' }), 'unknown aggregator'],
    [() => new GraphSAGE({ inputDim: 4, outputDim: 2, sampleSizes: [3] }), 'one size for two layers'],
    [() => new GraphSAGE({ inputDim: 4, outputDim: 2, sampleSizes: [3, 0] }), 'zero sample size'],
    [() => new GCNLayer(null), 'no options'],
    [() => new GCNLayer({ inputDim: 1 << 20, outputDim: 1 << 20 }), 'a layer too large to allocate'],
    [() => new GraphSAGE({ inputDim: 4, outputDim: 2, numLayers: 1000 }), 'too many layers'],
    [() => new GATLayer({ inputDim: 4, outputDim: 4096, numHeads: 4096 }), 'too many heads'],
  ]
  for (const [make, what] of badOptions) assertCode(thrownBy(make, what), 'ERR_INVALID_ARGUMENT', what)
  assertCode(thrownBy(() => new GCNLayer({ inputDim: 4, outputDim: 2, residual: true })), 'ERR_DIMENSION_MISMATCH', 'residual across widths')

  const shape = [
    [(s) => (s ? gcn.forwardSync(new Float32Array(10), lists) : gcn.forward(new Float32Array(10), lists)), 'values not a multiple of inputDim'],
    [(s) => (s ? gcn.forwardSync(new Float32Array(16), lists) : gcn.forward(new Float32Array(16), lists)), 'rows ≠ nodes'],
    [(s) => (s ? gcn.forwardSync({ data: x, rows: 2, cols: 6 }, lists) : gcn.forward({ data: x, rows: 2, cols: 6 }, lists)), 'wrong cols'],
    [(s) => (s ? gcn.forwardSync({ data: x, rows: 4, cols: 4 }, lists) : gcn.forward({ data: x, rows: 4, cols: 4 }, lists)), 'rows × cols ≠ length'],
  ]
  const graphs = [
    [[[1], [0, 3], [1]], 'neighbour out of range'],
    [[[1], [-1], [1]], 'negative id'],
    [[[1.5], [0], [1]], 'fractional id'],
    [{ offsets: new Uint32Array([0, 1, 1]), targets: new Uint32Array([1, 0]) }, 'offsets end before the targets'],
    [{ offsets: new Uint32Array([0, 2, 1, 3]), targets: new Uint32Array([1, 0, 2]) }, 'decreasing offsets'],
    [{ offsets: new Uint32Array([]), targets: new Uint32Array([]) }, 'no offsets'],
  ]
  for (const sync of [true, false]) {
    for (const [call, what] of shape) {
      const error = sync ? thrownBy(() => call(true), what) : (await failureOf(() => call(false), what)).error
      assertCode(error, 'ERR_DIMENSION_MISMATCH', `${what} (${sync ? 'sync' : 'async'})`)
    }
    for (const [graph, what] of graphs) {
      const error = sync ? thrownBy(() => gcn.forwardSync(x, graph), what) : (await failureOf(() => gcn.forward(x, graph), what)).error
      assertCode(error, 'ERR_INVALID_GRAPH', `${what} (${sync ? 'sync' : 'async'})`)
    }
    for (const batch of [[3], [0, -1], [0.5]]) {
      const error = sync
        ? thrownBy(() => sage.forwardMinibatchSync(x, lists, batch))
        : (await failureOf(() => sage.forwardMinibatch(x, lists, batch))).error
      assertCode(error, 'ERR_INVALID_GRAPH', `batch ${batch}`)
    }
  }
  assertCode(thrownBy(() => new Graph([[0], [7]])), 'ERR_INVALID_GRAPH')
  const withNaN = new Float32Array(12)
  withNaN[6] = NaN
  const nanError = thrownBy(() => gcn.forwardSync(withNaN, lists))
  assertCode(nanError, 'ERR_INVALID_VECTOR', 'NaN feature')
  assert.match(nanError.message, /row 1, column 2/)
  const withInfinity = new Float32Array(12)
  withInfinity[11] = Infinity
  assertCode((await failureOf(() => sage.forward(withInfinity, lists))).error, 'ERR_INVALID_VECTOR', 'infinite feature')
  assertCode(thrownBy(() => gcn.forwardSync('features', lists)), 'ERR_INVALID_ARGUMENT', 'features not an array')
  assertCode((await failureOf(() => gcn.forward(x, 'graph'))).error, 'ERR_INVALID_ARGUMENT', 'graph not a graph')
  // Methods of another class are not there at all.
  const gcnAsAny = gcn
  assert.equal(gcnAsAny.forwardWithAttentionSync, undefined)
  assert.equal(gcnAsAny.forwardMinibatchSync, undefined)
  // An empty graph is fine.
  assert.equal(gcn.forwardSync(new Float32Array(0), []).rows, 0)
})

test('the training benchmark probe times one step per run for each model and maps its errors to codes', async () => {
  const { trainSteps } = (await import('../internal.js')).default
  const rng = makeRng(31)
  const n = 40
  const d = 8
  const lists = randomGraph(rng, n, 5)
  const { offsets, targets } = new Graph(lists).csr()
  const x = randomFeatures(rng, n, d)
  for (const kind of ['gcn', 'gat', 'sage']) {
    const times = trainSteps(kind, x, n, d, offsets, targets, 64, 3, 1)
    assert.deepEqual(Object.keys(times), ['total', 'forward', 'loss', 'backward', 'optimizer'], kind)
    for (const [phase, ms] of Object.entries(times)) {
      assert.ok(ms instanceof Float64Array, `${kind} ${phase}`)
      assert.equal(ms.length, 3, `${kind} ${phase}`)
      assert.ok(ms.every((t) => Number.isFinite(t) && t >= 0), `${kind} ${phase}: ${ms}`)
    }
    // The phases run one after another inside the step.
    for (let s = 0; s < 3; s++) {
      const phases = times.forward[s] + times.loss[s] + times.backward[s] + times.optimizer[s]
      assert.ok(phases <= times.total[s] + 1e-6 && times.total[s] > 0, `${kind} step ${s}: phases ${phases} of ${times.total[s]}`)
    }
  }
  assertCode(thrownBy(() => trainSteps('gin', x, n, d, offsets, targets, 64, 1, 1)), 'ERR_INVALID_ARGUMENT', 'unknown model')
  assertCode(thrownBy(() => trainSteps('gcn', x, n, d, offsets, targets, 65, 1, 1)), 'ERR_INVALID_ARGUMENT', 'more classes than outputs')
  assertCode(thrownBy(() => trainSteps('gcn', x, n + 1, d, offsets, targets, 64, 1, 1)), 'ERR_DIMENSION_MISMATCH', 'more rows than features')
})
