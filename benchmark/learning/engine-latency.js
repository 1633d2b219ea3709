'use strict'
// Latency beside another engine (issue 19), on the main thread after the
// learning jobs, over the 384-dimensional npm-scopes table the engine
// already holds (real MiniLM embeddings, 25k items):
//
// - `Reranker.rerank(query, top100, { k: 10 })` with candidates given as
//   `{ id }` only, every vector already held (no SQL, no vector transfer):
//   p50/p99 over CALLS calls, the median of RUNS runs;
// - the engine's `source.search(query, { k: 100 })` alone, and
//   `LearnedSearch.search(query, { k: 10 })` end to end (p50/p99 over
//   E2E_CALLS calls each).
//
// The reranker is warmed first: LearnedSearch.search once per query (which
// stores the candidates' vectors), feedback on each warm search (clicks on
// the shown items of the query's own npm scope) and train() after each
// round until a model serves during timing (reported).

const { PROJECT_ROOT } = require('./base')
const { rowViews } = require('../lib/adapters')
const { percentile } = require('../lib/measure')
const { openSource, DEPTH } = require('./engines')

const QUERIES = 500
const CALLS = 2000
const RUNS = 5
const E2E_CALLS = 500
const K = 10
const WARM_ROUNDS = 6

async function timeCalls(calls, fn) {
  const micros = new Float64Array(calls)
  for (let i = 0; i < calls; i++) {
    const started = process.hrtime.bigint()
    await fn(i)
    micros[i] = Number(process.hrtime.bigint() - started) / 1000
  }
  micros.sort()
  return { p50: percentile(micros, 0.5), p99: percentile(micros, 0.99) }
}

async function latency(config, dataset) {
  const { Reranker, LearnedSearch } = require(PROJECT_ROOT)
  const source = await openSource(config, dataset.name)
  const reranker = new Reranker({ dimensions: dataset.dim, metric: 'cosine', learning: { background: false } })
  const search = new LearnedSearch(source, reranker, { depth: DEPTH })
  try {
    const queries = rowViews(dataset.queries.vectors, dataset.dim).slice(0, QUERIES)
    const groups = dataset.queries.group
    // Warm: every candidate's vector stored, feedback given, and rounds of
    // feedback and training until a model serves (one is published after
    // passing the guardrail twice in a row), at most WARM_ROUNDS.
    const candidates = []
    for (let q = 0; q < queries.length; q++) {
      candidates.push((await source.search(queries[q], { k: DEPTH })).map((hit) => ({ id: hit.id })))
    }
    for (let round = 0; round < WARM_ROUNDS && !reranker.learningStats().active; round++) {
      for (let q = 0; q < queries.length; q++) {
        const result = await search.search(queries[q], { k: K })
        const clicked = result.hits.filter((h) => dataset.itemGroup[Number(h.id)] === groups[q]).map((h) => h.id)
        await search.feedback({ searchId: result.searchId, clicked, converted: clicked.slice(0, 1) })
      }
      await reranker.train()
    }
    const stats = reranker.learningStats()
    const held = candidates.every((list) => reranker.missing(list.map((c) => c.id)).length === 0)

    const runs = []
    for (let r = 0; r < RUNS; r++) {
      runs.push(await timeCalls(CALLS, (i) => reranker.rerank(queries[i % queries.length], candidates[i % queries.length], { k: K })))
    }
    const byP50 = runs.slice().sort((a, b) => a.p50 - b.p50)
    const rerank = byP50[Math.floor(RUNS / 2)]
    const engine = await timeCalls(E2E_CALLS, (i) => source.search(queries[i % queries.length], { k: DEPTH }))
    const endToEnd = await timeCalls(E2E_CALLS, (i) => search.search(queries[i % queries.length], { k: K }))
    return {
      dataset: dataset.name,
      dim: dataset.dim,
      queries: queries.length,
      candidates: DEPTH,
      held,
      modelServing: Boolean(stats.active),
      modelVersion: stats.modelVersion,
      rerank: { ...rerank, calls: CALLS, runs: RUNS, runP50s: runs.map((x) => x.p50) },
      engine: { ...engine, calls: E2E_CALLS },
      endToEnd: { ...endToEnd, calls: E2E_CALLS },
    }
  } finally {
    await reranker.close()
  }
}

module.exports = { latency, QUERIES, CALLS, RUNS, E2E_CALLS }
