'use strict'
// The learning evaluation with candidates from another engine (issue 19):
// Postgres + pgvector or LanceDB holds the dataset, and three learners
// search it:
//
//   pgvector / lancedb                   the engine's own ranking: its top
//                                        k of the same 100 candidates the
//                                        reranker gets (static)
//   hnsw-gnn-pgvector / hnsw-gnn-lancedb LearnedSearch over the engine with
//                                        a Reranker, trained every 200
//                                        sessions as ours.js trains
//
// beside the embedded VectorDB learner (ours.js, method 'hnsw-gnn').
//
// The main process loads each dataset into the engine once (`prepare`) and
// hands workers a JSON description through the environment
// (HNSW_GNN_BENCH_ENGINE); workers open their own connection. `latency`
// times Reranker.rerank, the engine's search and LearnedSearch.search on
// the main thread after the learning jobs.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { PROJECT_ROOT } = require('./base')

const ENV_KEY = 'HNSW_GNN_BENCH_ENGINE'
const ENGINES = ['pgvector', 'lancedb']
// Candidates per search: what LearnedSearch fetches and static ranks.
const DEPTH = 100
const TRAIN_EVERY_SESSIONS = 200
const PG_M = 16
const PG_EF_CONSTRUCTION = 200
const INSERT_BATCH = 500

const tableName = (dataset) => `learning_${dataset.name.replace(/[^a-z0-9]/gi, '_')}`
const vectorLiteral = (row) => `[${Array.prototype.join.call(row, ',')}]`

// ------------------------------------------------------------ loading (main)

async function loadPg(pool, dataset) {
  const table = tableName(dataset)
  const started = Date.now()
  await pool.query('CREATE EXTENSION IF NOT EXISTS vector')
  await pool.query(`DROP TABLE IF EXISTS "${table}"`)
  await pool.query(`CREATE TABLE "${table}" (id text PRIMARY KEY, embedding vector(${dataset.dim}))`)
  const { dim, vectors, count } = dataset
  for (let from = 0; from < count; from += INSERT_BATCH) {
    const to = Math.min(count, from + INSERT_BATCH)
    const values = []
    const slots = []
    for (let i = from; i < to; i++) {
      slots.push(`($${values.length + 1}, $${values.length + 2}::vector)`)
      values.push(String(i), vectorLiteral(vectors.subarray(i * dim, (i + 1) * dim)))
    }
    await pool.query({ text: `INSERT INTO "${table}" (id, embedding) VALUES ${slots.join(',')}`, values })
  }
  const loaded = (Date.now() - started) / 1000
  const client = await pool.connect()
  try {
    await client.query("SET maintenance_work_mem = '1GB'")
    await client.query(
      `CREATE INDEX ON "${table}" USING hnsw (embedding vector_cosine_ops) WITH (m = ${PG_M}, ef_construction = ${PG_EF_CONSTRUCTION})`,
    )
    await client.query(`ANALYZE "${table}"`)
  } finally {
    client.release()
  }
  return { table, loadSeconds: loaded, indexSeconds: (Date.now() - started) / 1000 - loaded }
}

async function loadLance(db, dataset) {
  const table = tableName(dataset)
  const started = Date.now()
  const { dim, vectors, count } = dataset
  const rows = Array.from({ length: count }, (_, i) => ({ id: String(i), vector: Array.from(vectors.subarray(i * dim, (i + 1) * dim)) }))
  await db.createTable(table, rows, { mode: 'overwrite' })
  // Flat (exact) search: LanceDB's IVF indexes want far more rows than
  // these datasets hold (and are approximate); at 25k rows a scan is what
  // a LanceDB user of this size runs.
  return { table, loadSeconds: (Date.now() - started) / 1000, indexSeconds: 0, index: 'none (flat, exact search)' }
}

/**
 * Loads `datasets` (loaded dataset objects) into `engine`; sets the
 * environment workers read and returns `{ config, tables, stop }`.
 */
async function prepare(engine, datasets) {
  if (engine === 'pgvector') {
    const { postgres, whyNoPostgres } = require('../../scripts/postgres')
    const server = await postgres()
    if (!server) throw new Error(`--engine pgvector: ${whyNoPostgres()} (run bash scripts/pg-venv.sh)`)
    const { Pool } = require('pg')
    const pool = new Pool({ connectionString: server.uri, max: 2 })
    const tables = {}
    try {
      for (const dataset of datasets) {
        tables[dataset.name] = { ...(await loadPg(pool, dataset)), index: `HNSW vector_cosine_ops, m ${PG_M}, ef_construction ${PG_EF_CONSTRUCTION}` }
        console.error(`  pgvector: ${dataset.name} loaded in ${tables[dataset.name].loadSeconds.toFixed(1)} s, indexed in ${tables[dataset.name].indexSeconds.toFixed(1)} s`)
      }
      const version = (await pool.query("SELECT extversion FROM pg_extension WHERE extname = 'vector'")).rows[0].extversion
      const pgVersion = (await pool.query('SHOW server_version')).rows[0].server_version
      const config = { engine, uri: server.uri, tables, version: `PostgreSQL ${pgVersion}, pgvector ${version}` }
      process.env[ENV_KEY] = JSON.stringify(config)
      const stop = async () => {
        await closeConnections()
        await pool.end()
        await server.stop()
      }
      return { config, stop }
    } catch (error) {
      await pool.end()
      await server.stop()
      throw error
    }
  }
  if (engine === 'lancedb') {
    const lancedb = require('@lancedb/lancedb')
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hnsw-gnn-learning-lance-'))
    const db = await lancedb.connect(dir)
    const tables = {}
    for (const dataset of datasets) {
      tables[dataset.name] = await loadLance(db, dataset)
      console.error(`  lancedb: ${dataset.name} loaded in ${tables[dataset.name].loadSeconds.toFixed(1)} s`)
    }
    // The package's exports hide its package.json: read it from its folder.
    const main = require.resolve('@lancedb/lancedb')
    const root = main.slice(0, main.lastIndexOf(`${path.sep}node_modules${path.sep}@lancedb${path.sep}lancedb`))
    const manifest = path.join(root, 'node_modules', '@lancedb', 'lancedb', 'package.json')
    const version = JSON.parse(fs.readFileSync(manifest, 'utf8')).version
    const config = { engine, dir, tables, version: `@lancedb/lancedb ${version}` }
    process.env[ENV_KEY] = JSON.stringify(config)
    return { config, stop: async () => fs.rmSync(dir, { recursive: true, force: true }) }
  }
  throw new Error(`unknown engine ${JSON.stringify(engine)}; known: ${ENGINES.join(', ')}`)
}

// ------------------------------------------------------------ sources

const connections = new Map()

// The engine's connection (one per thread and engine).
function connection(config) {
  if (!connections.has(config.engine)) {
    if (config.engine === 'pgvector') {
      const { Pool } = require('pg')
      connections.set(config.engine, Promise.resolve(new Pool({ connectionString: config.uri, max: 2 })))
    } else {
      connections.set(config.engine, require('@lancedb/lancedb').connect(config.dir))
    }
  }
  return connections.get(config.engine)
}

// Ends this thread's connections (before the server they talk to stops).
async function closeConnections() {
  for (const [engine, opened] of connections) {
    const conn = await opened
    if (engine === 'pgvector') await conn.end()
    else conn.close()
  }
  connections.clear()
}

/** A candidate source over `datasetName`'s table in the engine `config` describes. */
async function openSource(config, datasetName) {
  const entry = config.tables[datasetName]
  if (!entry) throw new Error(`${config.engine}: dataset ${datasetName} was not loaded`)
  const conn = await connection(config)
  if (config.engine === 'pgvector') {
    const { PgVectorSource } = require(path.join(PROJECT_ROOT, 'pgvector.js'))
    return new PgVectorSource({ pool: conn, table: entry.table, id: 'id', vector: 'embedding', metric: 'cosine' })
  }
  const { LanceDbSource } = require(path.join(PROJECT_ROOT, 'lancedb.js'))
  return new LanceDbSource({ table: await conn.openTable(entry.table), id: 'id', vector: 'vector', metric: 'cosine' })
}

function workerConfig(engine) {
  const text = process.env[ENV_KEY]
  const config = text ? JSON.parse(text) : null
  if (!config || config.engine !== engine) throw new Error(`method needs ${engine} prepared: run node benchmark/learning.js --engine ${engine}`)
  return config
}

// ------------------------------------------------------------ learners

// The engine's own ranking: its top k of DEPTH candidates (the list the
// reranker is given), cached per query vector object.
function staticFactory(engine) {
  return async function createEngineStatic(env) {
    const source = await openSource(workerConfig(engine), env.dataset.name)
    const cache = new WeakMap()
    return {
      name: engine,
      async search(query, k) {
        let ids = cache.get(query)
        if (!ids) {
          ids = (await source.search(query, { k: DEPTH })).map((hit) => Number(hit.id))
          cache.set(query, ids)
        }
        return ids.slice(0, k)
      },
      feedback() {},
      train() {},
    }
  }
}

// A session as the reranker's feedback: by searchId when the list shown is
// the last result, else spelled out.
function asFeedback(last, session) {
  const clicked = session.clicked.map(String)
  const converted = session.converted.map(String)
  const shown = session.shown
  if (last && last.hits.length === shown.length && last.hits.every((hit, i) => Number(hit.id) === shown[i])) {
    return { searchId: last.searchId, clicked, converted }
  }
  return { query: session.query, shown: shown.map(String), clicked, converted }
}

// LearnedSearch over the engine with a Reranker, as a user runs it.
function learnedFactory(engine) {
  return async function createEngineLearned(env, params = {}) {
    const { Reranker, LearnedSearch } = require(PROJECT_ROOT)
    const source = await openSource(workerConfig(engine), env.dataset.name)
    const reranker = new Reranker({ dimensions: env.dataset.dim, metric: 'cosine', learning: { background: false, ...params.learning } })
    const search = new LearnedSearch(source, reranker, { depth: DEPTH })
    const trainEvery = params.trainEvery ?? TRAIN_EVERY_SESSIONS
    let last = null
    let sinceTraining = 0
    return {
      name: `hnsw-gnn-${engine}`,
      async search(query, k) {
        last = await search.search(query, { k })
        return last.hits.map((hit) => Number(hit.id))
      },
      async feedback(session) {
        await search.feedback(asFeedback(last, session))
        if (++sinceTraining >= trainEvery) {
          sinceTraining = 0
          await reranker.train()
        }
      },
      train() {},
      stats: () => reranker.learningStats(),
      close: () => reranker.close(),
    }
  }
}

function describe(engine) {
  return () => {
    const text = process.env[ENV_KEY]
    const config = text ? JSON.parse(text) : null
    const tables = config ? Object.entries(config.tables).map(([name, t]) => `${name}: ${t.index}`).join('; ') : 'not prepared'
    return (
      `${config ? config.version : engine}. Tables: ${tables}. \`${engine}\` is the engine's own ranking: its top 10 of the ${DEPTH} candidates ` +
      `it returns for the query (the same list the reranker gets). \`hnsw-gnn-${engine}\` is \`LearnedSearch(source, new Reranker(...), { depth: ${DEPTH} })\` ` +
      `with shipped learning defaults (background training off; \`train()\` every ${TRAIN_EVERY_SESSIONS} sessions, as the embedded \`hnsw-gnn\` learner does).`
    )
  }
}

/** METHODS entries for experiment.js. */
function methods() {
  const out = {}
  for (const engine of ENGINES) {
    out[engine] = { create: staticFactory(engine), grid: [{}] }
    out[`hnsw-gnn-${engine}`] = { create: learnedFactory(engine), grid: [{}], describe: describe(engine) }
  }
  return out
}

module.exports = { ENGINES, ENV_KEY, DEPTH, prepare, openSource, methods }
