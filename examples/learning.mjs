// Search that learns from clicks, in a few lines: shoppers search, click
// what they meant, and the ranking of a query nobody asked before moves
// toward what similar shoppers chose.
import hnsw from '../index.js' // in your project: import hnsw from 'hnsw-gnn'

const { VectorDB } = hnsw
const db = new VectorDB({ dimensions: 3, learning: { explore: 0, minSessions: 20 } })
await db.insertBatch([
  { id: 'running-shoe', vector: [1, 0.45, 0] },
  { id: 'trail-shoe', vector: [1, 0.35, 0.1] },
  { id: 'dress-shoe', vector: [1, 0.55, 0] },
  { id: 'shoe-polish', vector: [1, 0.5, -0.1] },
])
const asked = [1, 0.5, 0]
const before = await db.search(asked, { k: 3 })
// 200 shoppers asking this: they skip the top hits and take the trail shoe.
for (let i = 0; i < 200; i++) {
  const { searchId, hits } = await db.search([1, 0.5, 0.01 * (i % 7)], { k: 4 })
  if (hits.some((hit) => hit.id === 'trail-shoe')) await db.feedback({ searchId, clicked: ['trail-shoe'] })
  // The background trainer would do this on its own (every 200 sessions).
  if ((i + 1) % 50 === 0) await db.train()
}
const unseen = [1, 0.52, 0.02] // a query nobody asked
const after = await db.search(unseen, { k: 3 })
console.log('before:', before.hits.map((h) => h.id).join(', '))
console.log('after: ', after.hits.map((h) => `${h.id} (score ${h.score.toFixed(3)}, base ${h.baseScore.toFixed(3)})`).join(', '))
console.log('model version', db.learningStats().modelVersion)
await db.close()
