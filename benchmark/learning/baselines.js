'use strict'
// The methods our learner must beat, each a learner (interface.md) with a
// tuning grid of at most TUNING_BUDGET configurations. Every feedback
// baseline keeps its evidence with the product's defaults: half-life 5,000
// sessions, conversions weighted 3.

const { similarity } = require('./base')
const { DecayClock, QueryMemory, FEEDBACK_DEFAULTS, clickWeights } = require('./memory')

// Every method gets the same tuning budget: this many configurations, scored
// on the validation slice (protocol.js).
const TUNING_BUDGET = 12

const grid = (axes) =>
  Object.entries(axes).reduce((configs, [key, values]) => configs.flatMap((c) => values.map((v) => ({ ...c, [key]: v }))), [{}])

// Top `k` of candidates by score; `scores` is a Map item -> score.
function topK(scores, k) {
  return [...scores.entries()]
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, k)
    .map(([item]) => item)
}

// Base candidates as a Map item -> cosine similarity.
function baseScores(env, query) {
  const { ids, scores } = env.base.search(query)
  const out = new Map()
  for (let i = 0; i < ids.length; i++) out.set(ids[i], scores[i])
  return out
}

// ---------------------------------------------------------------- static
function createStatic(env) {
  return {
    name: 'static',
    search: (query, k) => Array.from(env.base.search(query, k).ids),
    feedback() {},
    train() {},
  }
}

// ---------------------------------------------------------- click boosting
// Reranks the base candidates by similarity + beta * popularity, where
// popularity is either log(1 + decayed click weight) of the item over all
// queries, or its smoothed click-through rate (clicks / (impressions + 5)).
function createClickBoost(env, { beta, popularity }) {
  const { count } = env.dataset
  const clock = new DecayClock(FEEDBACK_DEFAULTS.halfLifeSessions)
  const clicks = new Float64Array(count)
  const impressions = new Float64Array(count)
  const boost =
    popularity === 'log-clicks'
      ? (item) => Math.log1p(clock.read(clicks[item]))
      : (item) => clock.read(clicks[item]) / (clock.read(impressions[item]) + 5)
  return {
    name: 'click-boost',
    search(query, k) {
      const scores = baseScores(env, query)
      for (const [item, s] of scores) scores.set(item, s + beta * boost(item))
      return topK(scores, k)
    },
    feedback(session) {
      clock.tick()
      for (const item of session.shown) impressions[item] += clock.stamp()
      for (const [item, w] of clickWeights(session, FEEDBACK_DEFAULTS.conversionWeight)) clicks[item] += clock.stamp(w)
    },
    train() {},
  }
}
createClickBoost.grid = grid({ popularity: ['log-clicks', 'ctr'], beta: [0.003, 0.01, 0.03, 0.1, 0.3, 1] })

// ------------------------------------------------ similar-past-query memory
// Finds the logged queries most similar to this one and adds their clicked
// items to the candidates, scored similarity + beta * (their similarity-
// weighted click rate on the item). Needs no training: the memory is the model.
function createPastQueries(env, { beta, similarityPower, neighbours = 50 }) {
  const memory = new QueryMemory(env.dataset.dim)
  return {
    name: 'past-queries',
    search(query, k) {
      const scores = baseScores(env, query)
      const { clicks } = memory.evidence(query, { neighbours, similarityPower })
      for (const [item, rate] of clicks) {
        const base = scores.has(item) ? scores.get(item) : similarity(env.dataset, query, item)
        scores.set(item, base + beta * rate)
      }
      return topK(scores, k)
    },
    feedback: (session) => memory.record(session),
    train() {},
    close: () => memory.close(),
  }
}
createPastQueries.grid = grid({ similarityPower: [1, 4, 16], beta: [0.1, 0.3, 1, 3] })

// ------------------------------------------------------------------ Rocchio
// Query expansion: moves the query toward the items that similar past
// queries clicked and away from those they skipped (q' = q + beta * P/|P| -
// beta/4 * N/|N|, P and N the evidence-weighted centroids), then searches
// the index again with q'.
function createRocchio(env, { beta, similarityPower, neighbours = 50 }) {
  const { dim } = env.dataset
  const memory = new QueryMemory(dim)
  const centroid = (weights) => {
    const c = new Float64Array(dim)
    for (const [item, w] of weights) {
      for (let d = 0, o = item * dim; d < dim; d++) c[d] += w * env.dataset.vectors[o + d]
    }
    return c
  }
  const length = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1
  return {
    name: 'rocchio',
    search(query, k) {
      const { clicks, skips } = memory.evidence(query, { neighbours, similarityPower, withSkips: true })
      if (clicks.size === 0) return Array.from(env.base.search(query, k).ids)
      const positive = centroid(clicks)
      const negative = centroid(skips)
      const pLen = length(positive)
      const nLen = length(negative)
      const expanded = new Float32Array(dim)
      for (let d = 0; d < dim; d++) expanded[d] = query[d] + (beta * positive[d]) / pLen - (beta / 4) * (negative[d] / nLen)
      return Array.from(env.base.searchOnce(expanded, k).ids)
    },
    feedback: (session) => memory.record(session),
    train() {},
    close: () => memory.close(),
  }
}
createRocchio.grid = grid({ similarityPower: [1, 4, 16], beta: [0.25, 0.5, 1, 2] })

for (const create of [createClickBoost, createPastQueries, createRocchio]) {
  if (create.grid.length > TUNING_BUDGET) throw new Error(`${create.name}: grid exceeds the tuning budget`)
}

module.exports = { createStatic, createClickBoost, createPastQueries, createRocchio, TUNING_BUDGET, grid, topK }
