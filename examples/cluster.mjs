// Many processes, one model: with node:cluster, two workers serve learned
// search from read-only opens of one file, and the primary trains. Workers
// send their feedback to the primary in batches (exportFeedback →
// importFeedback); the primary trains, saves, and tells the workers to
// refresh(), so a model trained in one process ranks in the others.
//
// The "engine" here is exact search over synthetic products (a stand-in
// for Postgres/pgvector or LanceDB: see hnsw-gnn/pgvector). Users click
// the products of the intent they meant, which raw similarity confuses.
import cluster from 'node:cluster'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import hnsw from '../index.js' // in your project: import hnsw from 'hnsw-gnn'
import { intents, userClicks, ndcg } from '../__test__/fixtures/intents.mjs'
import { makeRng, bruteForce } from '../__test__/helpers.mjs'

const { Reranker, LearnedSearch } = hnsw
const WORKERS = 2
const ROUNDS = 6
const SESSIONS_PER_ROUND = 200 // per worker
const data = intents({ seed: 5 })
const items = data.items.map((vector, i) => ({ id: String(i), vector }))
const engine = {
  metric: 'cosine',
  search: async (query, { k }) => bruteForce('cosine', items, query, k).map(({ id, score }) => ({ id, score })),
  vectors: async (ids) => new Map(ids.map((id) => [id, data.items[Number(id)]])),
}

if (cluster.isPrimary) {
  const dir = mkdtempSync(join(tmpdir(), 'hnsw-gnn-cluster-'))
  const path = join(dir, 'learned.hgnn')
  const trainer = new Reranker({ dimensions: data.dim, path, learning: { background: false, explore: 0 } })
  await trainer.save() // the file the workers open
  // 'advanced' serialization carries the batches as bytes, not JSON.
  cluster.setupPrimary({ serialization: 'advanced' })
  const workers = Array.from({ length: WORKERS }, () => cluster.fork({ HNSW_GNN_CLUSTER_FILE: path }))
  const results = []
  let batches = 0
  for (const worker of workers) {
    worker.on('message', async (message) => {
      if (message.type === 'feedback') {
        await trainer.importFeedback(message.batch)
        if (++batches % WORKERS === 0) {
          // Every worker's batch of the round is in: train, save, and let
          // the readers pick it up.
          await trainer.train()
          await trainer.save()
          for (const w of workers) w.send({ type: 'refresh' })
        }
      } else if (message.type === 'result') {
        results.push(message)
        if (results.length === WORKERS) {
          const stats = trainer.learningStats()
          console.log(`primary: ${stats.sessions} sessions from ${WORKERS} workers, ${trainer.size} items learned, model v${stats.modelVersion} (serving: ${stats.active})`)
          for (const r of results) console.log(`worker ${r.worker}: held-out nDCG@10 ${r.before.toFixed(3)} before, ${r.after.toFixed(3)} with the primary's model`)
          console.log(JSON.stringify({ cluster: { sessions: stats.sessions, active: stats.active, workers: results } }))
          for (const w of workers) w.send({ type: 'stop' })
          await trainer.close()
          rmSync(dir, { recursive: true, force: true })
        }
      }
    })
  }
} else {
  const reader = await Reranker.open(process.env.HNSW_GNN_CLUSTER_FILE, { readOnly: true })
  const search = new LearnedSearch(engine, reader, { depth: 50 })
  const heldOut = async () => {
    const hits = new Map()
    for (const q of data.test) hits.set(q, (await search.search(data.queries[q], { k: 10 })).hits)
    return ndcg(data, data.test, (q) => hits.get(q))
  }
  const before = await heldOut()
  const rng = makeRng(100 + cluster.worker.id)
  let round = 0
  const serveRound = async () => {
    for (let s = 0; s < SESSIONS_PER_ROUND; s++) {
      const q = data.train[rng.int(data.train.length)]
      const { searchId, hits } = await search.search(data.queries[q], { k: 10 })
      await search.feedback({ searchId, ...userClicks(data, q, hits, rng) })
    }
    process.send({ type: 'feedback', batch: reader.exportFeedback() })
  }
  process.on('message', async (message) => {
    if (message.type === 'refresh') {
      await reader.refresh()
      if (++round < ROUNDS) await serveRound()
      else process.send({ type: 'result', worker: cluster.worker.id, before, after: await heldOut() })
    } else if (message.type === 'stop') {
      await reader.close()
      process.exit(0)
    }
  })
  await serveRound()
}
