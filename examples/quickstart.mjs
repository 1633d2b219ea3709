import { VectorDB } from '../index.js' // in your project: from 'hnsw-gnn'

const db = new VectorDB({ dimensions: 3, metric: 'cosine' })
await db.insertBatch([
  { id: 'red-shoe', vector: [0.9, 0.1, 0.0], metadata: { category: 'shoes', price: 40 } },
  { id: 'blue-shoe', vector: [0.8, 0.3, 0.1], metadata: { category: 'shoes', price: 90 } },
  { id: 'red-hat', vector: [0.7, 0.0, 0.6], metadata: { category: 'hats', price: 15 } },
])
const { searchId, hits } = await db.search([1, 0, 0], {
  k: 2,
  filter: { category: 'shoes', price: { $lt: 50 } },
})
console.log(searchId, hits)
// hits: [{ id: 'red-shoe', score: 0.99…, distance: 0.006…, metadata: { category: 'shoes', price: 40 } }]
