'use strict'
// OPEN BUG (issue 17), found by benchmark/soak.js; this reproducer stays
// until the fix lands, then becomes a regression test.
// Deadlock: JS train() (MetricPart::for_index, which takes the index's
// storage read lock once per slot inside a Rayon job on the global pool)
// racing insertBatch (Index::link_batch holds the storage read lock while it
// waits for its own job on the same global pool) and single writes
// (append_checked queues for the storage write lock, so std's RwLock
// blocks new readers). Every call then stops settling; CPU goes to 0.
//
//   node benchmark/repro/deadlock-train-insert.js [variant=all|no-batch|no-singles|no-train] [keep]
//
// Prints DEADLOCK and exits 2 when no call settles for 15 s ("keep": stays
// hung for a debugger instead); exits 0 after 60 s without one.
const { VectorDB } = require(process.env.HNSW_GNN_MODULE || '../../index.js')

const variant = process.argv[2] || 'all'
const keep = process.argv[3] === 'keep'
const DIM = 32
let seed = 1
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296)
const vec = () => Float32Array.from({ length: DIM }, () => rand() * 2 - 1)

async function main() {
  const db = new VectorDB({ dimensions: DIM, metric: 'euclidean', learning: { background: false } })
  const n = 20000
  await db.insertBatch({ ids: Array.from({ length: n }, (_, i) => `base-${i}`), vectors: new Float32Array(n * DIM).map(() => rand() * 2 - 1) })
  // Repeated queries with two co-clicked items each: enough co-click
  // communities (>= 200 samples) for train() to fit a learned metric and
  // build its MetricPart over every slot.
  const queries = Array.from({ length: 150 }, vec)
  for (let round = 0; round < 4; round++) {
    for (const q of queries) {
      const { searchId, hits } = await db.search(q, { k: 10, rerank: false })
      await db.feedback({ searchId, clicked: [hits[0].id, hits[1].id] })
    }
  }
  console.log(`${db.size} items, ${db.learningStats().sessions} feedback sessions; variant ${variant}`)
  const counts = { train: 0, insertBatch: 0, insert: 0 }
  let last = Date.now()
  const settled = (kind) => {
    counts[kind]++
    last = Date.now()
  }
  let next = 0
  const forever = async (kind, call) => {
    for (;;) {
      await call()
      settled(kind)
    }
  }
  if (variant !== 'no-train') forever('train', () => db.train())
  if (variant !== 'no-batch') {
    forever('insertBatch', () => db.insertBatch({ ids: Array.from({ length: 400 }, () => `b-${next++}`), vectors: new Float32Array(400 * DIM).map(() => rand() * 2 - 1) }))
  }
  if (variant !== 'no-singles') for (let i = 0; i < 4; i++) forever('insert', () => db.insert({ id: `s-${next++}`, vector: vec() }))
  const started = Date.now()
  setInterval(() => {
    const idle = (Date.now() - last) / 1000
    console.log(`  ${((Date.now() - started) / 1000).toFixed(0)} s: ${JSON.stringify(counts)}, last call settled ${idle.toFixed(1)} s ago`)
    if (idle > 15) {
      console.log(`DEADLOCK: no call settled for ${idle.toFixed(0)} s (pid ${process.pid})`)
      if (!keep) process.exit(2)
    } else if (Date.now() - started > 60000) {
      console.log(`no deadlock in 60 s: ${JSON.stringify(counts)}`)
      process.exit(0)
    }
  }, 5000)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
