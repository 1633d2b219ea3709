// hnsw-gnn demo: a small product catalogue searched by embedding.
//
//   npm run demo        (builds the addon, then runs this file)
//   node examples/demo.mjs
//
// The "embeddings" are synthetic and seeded, so every run prints the same
// results: each category has its own region of a 64-d space, and every
// product is a point near its category's centre.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import hnsw from '../index.js' // in your project: import hnsw from 'hnsw-gnn'

const { VectorDB, simdInfo } = hnsw

const DIMENSIONS = 64
const PRODUCTS = 20_000
const CATEGORIES = ['shoes', 'shirts', 'jackets', 'bags', 'hats', 'watches', 'socks', 'sunglasses']

// ---------------------------------------------------------------- data --

/** mulberry32: a tiny seeded PRNG, so the demo is reproducible. */
function seededRandom(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) >>> 0
    let t = Math.imul(seed ^ (seed >>> 15), seed | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const random = seededRandom(42)
const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())

function vectorNear(centre, spread) {
  return Float32Array.from(centre, (x) => x + gaussian() * spread)
}

const centres = CATEGORIES.map(() => Float32Array.from({ length: DIMENSIONS }, gaussian))

const products = Array.from({ length: PRODUCTS }, (_, i) => {
  const c = i % CATEGORIES.length
  return {
    id: `sku-${String(i).padStart(5, '0')}`,
    vector: vectorNear(centres[c], 0.6),
    metadata: {
      category: CATEGORIES[c],
      price: Math.round(5 + random() * random() * 295), // many cheap items, a few pricey ones
      inStock: random() < 0.8,
    },
  }
})

// -------------------------------------------------------------- helpers --

const ms = (start) => `${(performance.now() - start).toFixed(0)} ms`

function printHits(title, hits) {
  console.log(title)
  for (const { id, score, metadata } of hits) {
    const { category, price, inStock } = metadata
    console.log(`  ${id}  score ${score.toFixed(3)}  ${category.padEnd(10)} $${String(price).padStart(3)}  ${inStock ? 'in stock' : 'sold out'}`)
  }
}

function progressBar(done, total, width = 30) {
  const filled = Math.round((done / total) * width)
  const percent = String(Math.floor((done / total) * 100)).padStart(3)
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${percent}% ${done}/${total}`
}

// ----------------------------------------------------------------- demo --

const db = new VectorDB({ dimensions: DIMENSIONS, metric: 'cosine' })
console.log(`hnsw-gnn demo: ${PRODUCTS.toLocaleString('en-US')} products, ${DIMENSIONS}-d, ${db.metric}`)

// 1. Bulk load with a progress bar (one line, redrawn with \r).
let start = performance.now()
let finished = false
const draw = (done, total) => {
  if (!finished) process.stdout.write(`\rIndexing ${progressBar(done, total)}`)
}
await db.insertBatch(products, { onProgress: draw })
finished = true // progress calls may still arrive after the promise resolves
process.stdout.write(`\rIndexing ${progressBar(PRODUCTS, PRODUCTS)}\n`)
console.log(`Inserted ${db.size} products in ${ms(start)}`)

// 2. Plain nearest-neighbour search: "more like this shoe".
const query = vectorNear(centres[0], 0.6)
const similar = await db.search(query, { k: 5 })
printHits('\nTop 5 similar products:', similar.hits)

// 3. Filtered search: cheap shoes only.
const cheapShoes = await db.search(query, { k: 5, filter: { category: 'shoes', price: { $lt: 50 } } })
printHits('\nTop 5 shoes under $50:', cheapShoes.hits)

// 4. Writes: upsert (insert or replace), update (partial), delete.
const [first, second] = cheapShoes.hits.filter((hit) => hit.metadata.inStock)
await db.upsert({ id: 'sku-new-01', vector: vectorNear(query, 0.1), metadata: { category: 'shoes', price: 29, inStock: true } })
await db.update(first.id, { metadata: { ...first.metadata, inStock: false } })
const removed = await db.delete(second.id)
console.log(`\nUpserted sku-new-01, marked ${first.id} sold out, deleted ${second.id} (${removed}); size is now ${db.size}`)

const inStockShoes = db.searchSync(query, { k: 3, filter: { category: 'shoes', price: { $lt: 50 }, inStock: true } })
printHits('Top 3 cheap shoes in stock now:', inStockShoes.hits)

// 5. Throughput: 1,000 queries in one searchBatch call, spread over all cores.
const QUERIES = 1000
const flat = new Float32Array(QUERIES * DIMENSIONS)
for (let q = 0; q < QUERIES; q++) flat.set(vectorNear(centres[q % CATEGORIES.length], 0.6), q * DIMENSIONS)
start = performance.now()
const batch = await db.searchBatch(flat, { k: 10 })
const seconds = (performance.now() - start) / 1000
console.log(`\nsearchBatch: ${batch.length} queries x k=10 in ${(seconds * 1000).toFixed(0)} ms = ${Math.round(QUERIES / seconds).toLocaleString('en-US')} QPS`)

// 6. Persistence: save to one file, reopen (vectors memory-mapped, not copied).
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hnsw-gnn-demo-'))
const file = path.join(dir, 'catalogue.hgnn')
const stored = new VectorDB({ dimensions: DIMENSIONS, metric: 'cosine', path: file, durability: 'none' })
await stored.insertBatch(products)
const beforeSave = stored.searchSync(query, { k: 5 }).hits.map((h) => h.id).join()
start = performance.now()
await stored.save()
const saveMs = performance.now() - start
await stored.close()
start = performance.now()
const reopened = await VectorDB.open(file)
const openMs = performance.now() - start
const stats = reopened.stats()
const same = reopened.searchSync(query, { k: 5 }).hits.map((h) => h.id).join() === beforeSave
console.log(
  `\nSaved ${stats.items.toLocaleString('en-US')} items to ${(stats.fileBytes / 1e6).toFixed(1)} MB in ${saveMs.toFixed(0)} ms; ` +
    `reopened in ${openMs.toFixed(0)} ms with ${(stats.mappedVectorBytes / 1e6).toFixed(1)} MB of vectors mapped; same top 5: ${same}`,
)
await reopened.close()
fs.rmSync(dir, { recursive: true, force: true })

// 7. Which SIMD kernels ran.
const simd = simdInfo()
console.log(`SIMD: ${simd.active} (available: ${simd.available.join(', ')})`)
