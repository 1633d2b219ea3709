import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Graph, GraphSAGE } from '../index.js' // in your project: from 'hnsw-gnn'

// A ring of 1,000 nodes, each linked to its 4 nearest neighbours on the ring.
const n = 1000
const graph = new Graph(Array.from({ length: n }, (_, i) => [1, 2, n - 1, n - 2].map((k) => (i + k) % n)))
const features = new Float32Array(n * 16).map((_, k) => Math.cos(k))

const sage = new GraphSAGE({ inputDim: 16, outputDim: 8, numLayers: 2, aggregator: 'mean', sampleSizes: [3, 2], seed: 3 })
// Only the rows of the batch, computed from their sampled 2-hop neighbourhood.
const batch = await sage.forwardMinibatch(features, graph, [0, 500])
const whole = await sage.forward(features, graph)
console.log('minibatch row 0 equals the full pass:', batch.data.slice(0, 8).every((v, c) => Math.abs(v - whole.data[c]) < 1e-5))

// Weights round-trip; f32 files are memory-mapped on load.
const file = join(mkdtempSync(join(tmpdir(), 'sage-')), 'sage.weights')
await sage.saveWeights(file)
const restored = new GraphSAGE({ inputDim: 16, outputDim: 8, numLayers: 2, sampleSizes: [3, 2] })
await restored.loadWeights(file)
console.log('restored output identical:', (await restored.forward(features, graph)).data.every((v, i) => v === whole.data[i]))
