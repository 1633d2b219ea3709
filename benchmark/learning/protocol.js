'use strict'
// One run of the protocol (DESIGN.md §6): a stream of sessions from the
// feedback queries, each shown the learner's top 10, clicked by a simulated
// user and fed back; at checkpoints the learner is scored on queries that
// never give feedback (held-out test, or the validation slice when tuning).

const { Rng, deriveSeed } = require('../lib/rng')
const { honestUser, randomUser } = require('./clicks')
const { ndcgAt, recallAt, reciprocalRankAt } = require('./metrics')
const { median } = require('../lib/measure')
const { Relevance } = require('./split')

const SHOWN = 10
const SCENARIOS = Object.freeze({
  // Honest users under fixed relevance.
  clicks: { user: honestUser, drift: false },
  // Users clicking at the honest rate but at random: no signal to learn.
  random: { user: randomUser, drift: false },
  // Honest users; at `driftAt` half of the groups change what they mean.
  drift: { user: honestUser, drift: true },
})
const CHECKPOINTS = Object.freeze([0, 500, 1000, 2000, 5000, 6000, 8000, 10000])
const DRIFT_AT = 5000
const TRAIN_EVERY = 500

// Streams for one seed, independent of each other, so e.g. the click draws
// of a run do not depend on how many random numbers a learner used.
function streams(seed) {
  const make = (stream) => {
    const rng = new Rng(deriveSeed(seed, stream))
    return rng.uniform
  }
  return { split: make(1), queries: make(2), clicks: make(3), drift: make(4), learner: make(5) }
}

// Runs `learner` (made by the caller from the same env for every method)
// through `sessions` sessions of `scenario`.
//   feedbackQueries: Int32Array of query indices the sessions draw from
//   evalQueries: Int32Array of query indices scored at the checkpoints
//   queryRows: one Float32Array view per query (the same objects every run)
async function runScenario({
  learner,
  dataset,
  queryRows,
  feedbackQueries,
  evalQueries,
  scenario,
  seed,
  sessions = CHECKPOINTS[CHECKPOINTS.length - 1],
  checkpoints = CHECKPOINTS,
  driftAt = DRIFT_AT,
  trainEvery = TRAIN_EVERY,
  onFeedback = () => {},
}) {
  const mode = SCENARIOS[scenario]
  if (!mode) throw new Error(`unknown scenario ${JSON.stringify(scenario)}; known: ${Object.keys(SCENARIOS).join(', ')}`)
  const random = streams(seed)
  const relevance = new Relevance(dataset.itemGroup, dataset.groupCount, dataset.queries.group)
  const queryGroup = dataset.queries.group
  const searchMicros = []
  const points = []
  let clicks = 0

  const evaluate = async (label, at) => {
    let ndcg = 0
    let recall = 0
    let rr = 0
    for (const q of evalQueries) {
      const relevant = relevance.forGroup(queryGroup[q])
      const started = process.hrtime.bigint()
      const ranked = await learner.search(queryRows[q], SHOWN)
      searchMicros.push(Number(process.hrtime.bigint() - started) / 1000)
      ndcg += ndcgAt(ranked, relevant.isRelevant, relevant.count, SHOWN)
      recall += recallAt(ranked, relevant.isRelevant, relevant.count, SHOWN)
      rr += reciprocalRankAt(ranked, relevant.isRelevant, SHOWN)
    }
    const n = evalQueries.length
    points.push({ label, sessions: at, ndcg: ndcg / n, recall: recall / n, mrr: rr / n })
  }

  const wanted = new Set(checkpoints)
  for (let s = 0; ; s++) {
    if (wanted.has(s)) await evaluate(String(s), s)
    if (mode.drift && s === driftAt) {
      relevance.drift(random.drift)
      await evaluate(`${s} (drift)`, s)
    }
    if (s === sessions) break
    const q = feedbackQueries[Math.floor(random.queries() * feedbackQueries.length)]
    const relevant = relevance.forGroup(queryGroup[q])
    const started = process.hrtime.bigint()
    const shown = Array.from(await learner.search(queryRows[q], SHOWN))
    searchMicros.push(Number(process.hrtime.bigint() - started) / 1000)
    const { clicked, converted } = mode.user(shown, relevant.isRelevant, random.clicks)
    clicks += clicked.length
    const session = { query: queryRows[q], shown, clicked, converted }
    onFeedback(q, session)
    await learner.feedback(session)
    if ((s + 1) % trainEvery === 0) await learner.train()
  }
  return { points, searchP50Micros: median(searchMicros), clicksPerSession: clicks / sessions }
}

module.exports = { runScenario, streams, SCENARIOS, CHECKPOINTS, DRIFT_AT, TRAIN_EVERY, SHOWN }
