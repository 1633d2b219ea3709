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

// 7. Learning from clicks. Shoppers look for an intent (trail runners,
// office shirts, ...), but the embedding also encodes a style that cuts
// across intents, so plain similarity mixes them up. Simulated shoppers
// click what matches their intent (more often near the top: position
// bias); the database learns from that feedback in the background, and
// queries nobody asked before get better results.
const INTENTS = 50
const STYLES = 50
const LATENT_DIM = 16
const LEARN_DIM = 64
const unit = (length) => {
  const v = Float32Array.from({ length }, gaussian)
  const n = Math.hypot(...v)
  return v.map((x) => x / n)
}
// What a shopper means lives in a small latent space; the embedding sees a
// projection of it, plus a style shared across intents, plus noise.
const intentCentres = Array.from({ length: INTENTS }, () => unit(LATENT_DIM))
const styleCentres = Array.from({ length: STYLES }, () => unit(LEARN_DIM))
const projection = Array.from({ length: LEARN_DIM }, () => Float32Array.from({ length: LATENT_DIM }, () => gaussian() / Math.sqrt(LEARN_DIM)))
const drawIntent = () => {
  const intent = Math.floor(random() * INTENTS)
  const latent = intentCentres[intent].map((x) => x + (0.9 / Math.sqrt(LATENT_DIM)) * gaussian())
  const style = styleCentres[Math.floor(random() * STYLES)]
  const vector = projection.map((row, d) => row.reduce((s, w, j) => s + w * latent[j], 0) + 0.8 * style[d] + (0.55 / Math.sqrt(LEARN_DIM)) * gaussian())
  return { intent, vector: Float32Array.from(vector) }
}
const catalogue = Array.from({ length: 5000 }, (_, i) => ({ id: `item-${i}`, ...drawIntent() }))
const intentOf = new Map(catalogue.map((item) => [item.id, item.intent]))
const shopperQueries = Array.from({ length: 1500 }, drawIntent)
const heldOut = shopperQueries.filter((_, i) => i % 3 === 0) // never give feedback
const asked = shopperQueries.filter((_, i) => i % 3 !== 0)

// nDCG@10 of the held-out queries: relevant = same intent.
const relevantCount = new Map()
for (const item of catalogue) relevantCount.set(item.intent, (relevantCount.get(item.intent) ?? 0) + 1)
function heldOutNdcg(db) {
  let total = 0
  for (const q of heldOut) {
    const { hits } = db.searchSync(q.vector, { k: 10 })
    let dcg = 0
    let ideal = 0
    hits.forEach((hit, r) => (dcg += intentOf.get(hit.id) === q.intent ? 1 / Math.log2(r + 2) : 0))
    for (let r = 0; r < Math.min(10, relevantCount.get(q.intent)); r++) ideal += 1 / Math.log2(r + 2)
    total += dcg / ideal
  }
  return total / heldOut.length
}

// explore: 0 so every measured search shows the learned ranking; the
// trainer runs on its own thread every 200 sessions (the default).
const shop = new VectorDB({ dimensions: LEARN_DIM, learning: { explore: 0 } })
await shop.insertBatch(catalogue.map(({ id, vector }) => ({ id, vector })))
console.log(`\nLearning from clicks: ${catalogue.length} items, ${asked.length} queries shoppers ask, ${heldOut.length} held-out queries`)
const curve = [[0, heldOutNdcg(shop)]]
console.log(`  before any feedback: held-out nDCG@10 ${curve[0][1].toFixed(3)}`)
start = performance.now()
const SESSIONS = 5000
for (let s = 1; s <= SESSIONS; s++) {
  const q = asked[Math.floor(random() * asked.length)]
  const { searchId, hits } = await shop.search(q.vector, { k: 10 })
  const clicked = hits.filter((hit, rank) => random() < 1 / (rank + 1) ** 0.8 && random() < (intentOf.get(hit.id) === q.intent ? 0.9 : 0.1)).map((hit) => hit.id)
  await shop.feedback({ searchId, clicked })
  if (s % 1000 === 0) {
    // Wait for the background trainer to catch up before measuring.
    while (shop.learningStats().sessionsSinceTraining >= 200) await new Promise((resolve) => setTimeout(resolve, 5))
    curve.push([s, heldOutNdcg(shop)])
    console.log(`  after ${String(s).padStart(4)} sessions:   held-out nDCG@10 ${curve.at(-1)[1].toFixed(3)}`)
  }
}
const learned = shop.learningStats()
console.log(
  `  ${SESSIONS} sessions in ${ms(start)}: model v${learned.modelVersion} serving (${learned.trainings} training passes, ` +
    `last ${learned.lastTrainingMs.toFixed(0)} ms); held-out nDCG@10 ${curve[0][1].toFixed(3)} -> ${curve.at(-1)[1].toFixed(3)} ` +
    `(${((curve.at(-1)[1] / curve[0][1] - 1) * 100).toFixed(0)}% better)`,
)
const svgFile = path.join(os.tmpdir(), 'hnsw-gnn-demo-learning.svg')
fs.writeFileSync(svgFile, learningCurveSvg(curve))
console.log(`  learning curve: ${svgFile}`)
await shop.close()

/** A small SVG line chart of [sessions, nDCG] points. */
function learningCurveSvg(points) {
  const [w, h, pad] = [480, 260, 40]
  const maxX = points.at(-1)[0]
  const ys = points.map((p) => p[1])
  const [lo, hi] = [Math.min(...ys) - 0.02, Math.max(...ys) + 0.02]
  const x = (v) => pad + ((w - 2 * pad) * v) / maxX
  const y = (v) => h - pad - ((h - 2 * pad) * (v - lo)) / (hi - lo)
  const line = points.map(([s, v]) => `${x(s).toFixed(1)},${y(v).toFixed(1)}`).join(' ')
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${pad}" y="20">held-out nDCG@10 vs feedback sessions (hnsw-gnn demo)</text>`,
    `<line x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}" stroke="#888"/>`,
    `<line x1="${pad}" y1="${pad}" x2="${pad}" y2="${h - pad}" stroke="#888"/>`,
    `<text x="${pad}" y="${h - pad + 16}">0</text><text x="${w - pad - 24}" y="${h - pad + 16}">${maxX}</text>`,
    `<text x="4" y="${y(hi) + 4}">${hi.toFixed(2)}</text><text x="4" y="${y(lo) + 4}">${lo.toFixed(2)}</text>`,
    `<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="${line}"/>`,
    ...points.map(([s, v]) => `<circle cx="${x(s).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="#1f77b4"/>`),
    '</svg>',
  ].join('\n')
}

// 8. Which SIMD kernels ran.
const simd = simdInfo()
console.log(`SIMD: ${simd.active} (available: ${simd.available.join(', ')})`)
