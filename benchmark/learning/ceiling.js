#!/usr/bin/env node
'use strict'
// How much the clicks could give a similar-past-query memory if it always
// picked the right past queries: the memory's neighbour search replaced by an
// oracle that pools exactly the logged sessions of the query's own group
// (the memory's scoring: similarity + beta * the group's click rate per
// session; no decay, as 5,000 sessions is one half-life). It reads relevance labels, so it is an analysis of a dataset,
// never a method; it explains the gap between the memory baseline and what
// the data holds (see results/learning-baselines.md).
//
//   node benchmark/learning/ceiling.js [dataset] [sessions]

const { context } = require('./experiment')
const { splitQueries } = require('./split')
const { runScenario, streams } = require('./protocol')
const { clickWeights, FEEDBACK_DEFAULTS } = require('./memory')
const { topK } = require('./baselines')
const { similarity } = require('./base')

const SEEDS = [1, 2, 3]
const BETAS = [0.1, 0.3, 1]

function oracleMemory({ dataset, base, groupOf }, beta) {
  const clicks = new Map() // group -> Map(item -> click weight)
  const sessions = new Map() // group -> sessions
  return {
    search(query, k) {
      const group = groupOf.get(query)
      const { ids, scores } = base.search(query)
      const scored = new Map()
      ids.forEach((id, i) => scored.set(id, scores[i]))
      const evidence = clicks.get(group)
      if (evidence) {
        const n = sessions.get(group)
        for (const [item, w] of evidence) {
          scored.set(item, (scored.has(item) ? scored.get(item) : similarity(dataset, query, item)) + (beta * w) / n)
        }
      }
      return topK(scored, k)
    },
    feedback(session) {
      const group = groupOf.get(session.query)
      sessions.set(group, (sessions.get(group) || 0) + 1)
      if (!clicks.has(group)) clicks.set(group, new Map())
      const evidence = clicks.get(group)
      for (const [item, w] of clickWeights(session, FEEDBACK_DEFAULTS.conversionWeight)) evidence.set(item, (evidence.get(item) || 0) + w)
    },
    train() {},
  }
}

async function main() {
  const name = process.argv[2] || 'npm-scopes'
  const sessions = Number(process.argv[3] || 5000)
  const { dataset, base, queryRows } = await context(name)
  const groupOf = new Map(queryRows.map((row, q) => [row, dataset.queries.group[q]]))
  for (const beta of BETAS) {
    let before = 0
    let after = 0
    for (const seed of SEEDS) {
      const split = splitQueries(dataset.queries.group, streams(seed).split)
      const learner = oracleMemory({ dataset, base, groupOf }, beta)
      const result = await runScenario({ learner, dataset, queryRows, feedbackQueries: split.train, evalQueries: split.test, scenario: 'clicks', seed, sessions, checkpoints: [0, sessions] })
      before += result.points[0].ndcg / SEEDS.length
      after += result.points[1].ndcg / SEEDS.length
    }
    console.log(`${name}: oracle-group memory, beta ${beta}: held-out nDCG@10 ${before.toFixed(3)} -> ${after.toFixed(3)} after ${sessions} sessions (${(100 * (after / before - 1)).toFixed(1)}%, ${SEEDS.length} seeds)`)
  }
  await base.close()
}

main().catch((err) => {
  console.error(err.stack || String(err))
  process.exit(1)
})
