import { VectorDB, GCNLayer } from '../index.js' // in your project: from 'hnsw-gnn'

// A small catalogue: 200 items whose vectors form two groups.
const db = new VectorDB({ dimensions: 8 })
await db.insertBatch(
  Array.from({ length: 200 }, (_, i) => ({
    id: `item-${i}`,
    vector: Array.from({ length: 8 }, (_, d) => Math.sin(i * (d + 1)) + (i % 2 ? 2 : -2) * (d === 0)),
  })),
)

// Smooth each item's vector over its HNSW neighbours: one graph convolution.
const gcn = new GCNLayer({ inputDim: 8, outputDim: 4, activation: 'relu', seed: 1 })
const { graph, features, ids } = await db.snapshot() // level-0 links; row i is item ids[i]
const out = await gcn.forward(features, graph)
const row = ids.indexOf('item-0')
console.log(`GCN: ${out.rows} × ${out.cols}; item-0 →`, Array.from(out.data.subarray(row * 4, row * 4 + 4), (v) => +v.toFixed(3)))
