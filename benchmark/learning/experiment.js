'use strict'
// The jobs of a learning benchmark run and the code that runs one: a job
// names a dataset, a method with its parameters, a scenario and a seed, and
// whether it tunes (feedback from the feedback slice, scored on validation)
// or evaluates (feedback from all train queries, scored on held-out test).
// Jobs run in worker threads (learning.js), each keeping the datasets and
// base indexes it has loaded.

const { parentPort } = require('node:worker_threads')
const { loadDataset } = require('./datasets')
const { createBase } = require('./base')
const { rowViews } = require('../lib/adapters')
const { splitQueries } = require('./split')
const { runScenario, streams } = require('./protocol')
const { createStatic, createClickBoost, createPastQueries, createRocchio } = require('./baselines')
const ruvector = require('./ruvector')
const { createOurs } = require('./ours')
const engines = require('./engines')
const { isInstalled } = require('../lib/adapters')

// Every method: how to make it, and the grid it is tuned over. A learner
// module added later (our own) registers here the same way.
const METHODS = {
  static: { create: createStatic, grid: [{}] },
  'click-boost': { create: createClickBoost, grid: createClickBoost.grid },
  'past-queries': { create: createPastQueries, grid: createPastQueries.grid },
  rocchio: { create: createRocchio, grid: createRocchio.grid },
  // RuVector's own learner (SONA) on its own index; see ruvector.js.
  ruvector: { create: ruvector.createRuvectorLearner, grid: ruvector.grid, describe: ruvector.describe },
  // Ours, and the ablation: the same model with an identity encoder (no
  // message passing). Ours runs its shipped defaults only, as users get it; the ablation is
  // tuned over the 12-point grid (whose first point is the defaults), so an
  // edge of ours over it does not come from tuning.
  'hnsw-gnn': { create: createOurs, grid: [{}] },
  'hnsw-gnn-identity': { create: createOurs, grid: createOurs.identityGrid },
  // Ours with half-precision message passing (learning.model.messagePrecision).
  'hnsw-gnn-f16': { create: createOurs, grid: [{ learning: { model: { messagePrecision: 'f16' } } }] },
  // Another engine's ranking, and ours reranking its candidates (issue 19;
  // run with --engine pgvector|lancedb, which loads the engine first).
  ...engines.methods(),
}
const BASELINES = ['static', 'click-boost', 'past-queries', 'rocchio'].concat(isInstalled('ruvector') ? ['ruvector'] : [])

// The tuning run: one seed of its own, the clicks scenario, checkpoints at
// 2,000 and 5,000 sessions; the objective is the mean validation nDCG@10 of
// the two (rewarding methods that learn early as well as far).
const TUNING = Object.freeze({ seed: 1000, scenario: 'clicks', sessions: 5000, checkpoints: [2000, 5000] })
const tuningObjective = (result) => result.points.reduce((s, p) => s + p.ndcg, 0) / result.points.length

const contexts = new Map()

async function context(datasetName) {
  if (!contexts.has(datasetName)) {
    contexts.set(
      datasetName,
      (async () => {
        const dataset = loadDataset(datasetName)
        const base = await createBase(dataset)
        const queryRows = rowViews(dataset.queries.vectors, dataset.dim)
        await base.warm(queryRows)
        return { dataset, base, queryRows }
      })(),
    )
  }
  return contexts.get(datasetName)
}

// Runs one job; returns the protocol's result plus the job's identity.
async function runJob(job) {
  const { dataset, base, queryRows } = await context(job.dataset)
  const method = METHODS[job.method]
  if (!method) throw new Error(`unknown method ${JSON.stringify(job.method)}; known: ${Object.keys(METHODS).join(', ')}`)
  const random = streams(job.seed)
  const split = splitQueries(dataset.queries.group, random.split)
  const tuning = job.role === 'tune'
  const env = { dataset, base, rng: { next: random.learner } }
  const learner = await method.create(env, job.params)
  const started = Date.now()
  try {
    const result = await runScenario({
      learner,
      dataset,
      queryRows,
      feedbackQueries: tuning ? split.feedback : split.train,
      evalQueries: tuning ? split.validation : split.test,
      scenario: job.scenario,
      seed: job.seed,
      sessions: job.sessions,
      checkpoints: job.checkpoints,
      driftAt: job.driftAt,
    })
    return { ...job, ...result, seconds: (Date.now() - started) / 1000 }
  } finally {
    if (learner.close) await learner.close()
  }
}

// Worker side: answers { id, job } messages with { id, result } or { id, error }.
if (parentPort) {
  parentPort.on('message', async ({ id, job }) => {
    try {
      parentPort.postMessage({ id, result: await runJob(job) })
    } catch (err) {
      parentPort.postMessage({ id, error: err.stack || String(err) })
    }
  })
}

module.exports = { METHODS, BASELINES, TUNING, tuningObjective, runJob, context }
