import { GATLayer } from '../index.js' // in your project: from 'hnsw-gnn'

// Four nodes; node i aggregates the nodes listed at position i.
const adjacency = [[1, 2], [0], [0, 3], [2]]
const features = new Float32Array([1, 0, 0, 1, 1, 1, 0.5, 0.5]) // 4 nodes × 2 features

const gat = new GATLayer({ inputDim: 2, outputDim: 4, numHeads: 2, seed: 7 })
const { output, attention, heads, graph } = await gat.forwardWithAttention(features, adjacency)
// How much node 0 attends to each of its sources (itself included), per head.
for (let e = graph.offsets[0]; e < graph.offsets[1]; e++) {
  console.log(`0 ← ${graph.targets[e]}:`, Array.from(attention.subarray(e * heads, (e + 1) * heads), (a) => +a.toFixed(3)))
}
console.log(`GAT output: ${output.rows} × ${output.cols}`)
