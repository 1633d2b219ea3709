// Keep your vectors in Postgres/pgvector and add results that learn from
// clicks: pgvector finds 100 candidates, a Reranker (the learner, without
// hnsw-gnn's index) reorders them, and feedback trains it. Queries nobody
// asked before are ranked better too (held-out nDCG@10 below).
//
// Needs a PostgreSQL with pgvector: HNSW_GNN_PG_URI=postgres://... node
// examples/pgvector.mjs (or, in this repository, `bash scripts/pg-venv.sh`
// once and it starts a throwaway server).
import pg from 'pg'
import { createRequire } from 'node:module'
import hnsw from '../index.js' // in your project: import hnsw from 'hnsw-gnn'
import { intents, userClicks, ndcg } from '../__test__/fixtures/intents.mjs'
import { makeRng } from '../__test__/helpers.mjs'

const require = createRequire(import.meta.url)
const { PgVectorSource } = require('../pgvector.js') // in your project: require('hnsw-gnn/pgvector')
const { postgres, whyNoPostgres } = require('../scripts/postgres.js')
const { Reranker, LearnedSearch } = hnsw

const server = await postgres()
if (server === null) {
  console.log(`skipped: ${whyNoPostgres()}`)
  process.exit(process.env.HNSW_GNN_REQUIRE_PG === '1' ? 1 : 0)
}
const pool = new pg.Pool({ connectionString: server.uri, max: 4 })
try {
  // Your table, as it already is: ids, embeddings, an HNSW index.
  const data = intents({ seed: 31 })
  await pool.query('CREATE EXTENSION IF NOT EXISTS vector')
  await pool.query('DROP TABLE IF EXISTS example_products')
  await pool.query(`CREATE TABLE example_products (id text PRIMARY KEY, embedding vector(${data.dim}))`)
  for (let i = 0; i < data.items.length; i += 500) {
    const rows = data.items.slice(i, i + 500)
    const values = rows.map((_, j) => `($${2 * j + 1}, $${2 * j + 2}::vector)`).join(', ')
    await pool.query(`INSERT INTO example_products (id, embedding) VALUES ${values}`, rows.flatMap((v, j) => [String(i + j), `[${v.join(',')}]`]))
  }
  await pool.query('CREATE INDEX ON example_products USING hnsw (embedding vector_cosine_ops)')

  const source = new PgVectorSource({ pool, table: 'example_products', id: 'id', vector: 'embedding', metric: 'cosine' })
  const reranker = new Reranker({ dimensions: data.dim, metric: 'cosine', learning: { background: false, explore: 0 } })
  const search = new LearnedSearch(source, reranker, { depth: 100 })
  const heldOut = async (ranked) => {
    const hits = new Map()
    for (const q of data.test) hits.set(q, await ranked(data.queries[q]))
    return ndcg(data, data.test, (q) => hits.get(q))
  }
  const pgOnly = await heldOut(async (query) => (await source.search(query, { k: 10 })).slice(0, 10))

  // Users search and click; the reranker trains every 200 sessions (in a
  // service, its background trainer does this by itself).
  const rng = makeRng(32)
  for (let s = 0; s < 2000; s++) {
    const q = data.train[rng.int(data.train.length)]
    const { searchId, hits } = await search.search(data.queries[q], { k: 10 })
    await search.feedback({ searchId, ...userClicks(data, q, hits, rng) })
    if ((s + 1) % 200 === 0) await reranker.train()
  }
  const learned = await heldOut(async (query) => (await search.search(query, { k: 10 })).hits)
  console.log(`held-out nDCG@10: pgvector ${pgOnly.toFixed(3)}, pgvector + learned reranker ${learned.toFixed(3)}`)
  console.log(`the reranker holds ${reranker.size} items; model v${reranker.learningStats().modelVersion}`)
  await pool.query('DROP TABLE example_products')
  await reranker.close()
} finally {
  await pool.end()
  await server.stop()
}
