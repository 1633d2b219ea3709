'use strict'
// Ranking metrics with binary relevance, as the learning benchmark reports
// them. `ranked` is a list of item indices, best first; `isRelevant(item)`
// says whether an item is relevant to the query; `relevantCount` is how many
// relevant items the collection holds for it.

// Normalised discounted cumulative gain over the first `k` ranks: gain 1 for
// a relevant item at rank r, discounted by log2(r + 1), divided by the DCG of
// the best possible list (min(k, relevantCount) relevant items on top).
function ndcgAt(ranked, isRelevant, relevantCount, k = 10) {
  const depth = Math.min(k, ranked.length)
  let dcg = 0
  for (let i = 0; i < depth; i++) if (isRelevant(ranked[i])) dcg += 1 / Math.log2(i + 2)
  let ideal = 0
  for (let i = 0; i < Math.min(k, relevantCount); i++) ideal += 1 / Math.log2(i + 2)
  return ideal === 0 ? 0 : dcg / ideal
}

// Recall over the first `k` ranks, capped: relevant items found divided by
// min(k, relevantCount). Plain recall (divided by relevantCount) could never
// exceed 10/300 for a group of 300 items, so it could not tell methods apart;
// the cap makes 1.0 mean "the top k is as full of relevant items as it can be".
function recallAt(ranked, isRelevant, relevantCount, k = 10) {
  const depth = Math.min(k, ranked.length)
  let found = 0
  for (let i = 0; i < depth; i++) if (isRelevant(ranked[i])) found++
  const possible = Math.min(k, relevantCount)
  return possible === 0 ? 0 : found / possible
}

// Reciprocal rank of the first relevant item within the first `k` ranks
// (0 when none is there); its mean over queries is MRR@k.
function reciprocalRankAt(ranked, isRelevant, k = 10) {
  const depth = Math.min(k, ranked.length)
  for (let i = 0; i < depth; i++) if (isRelevant(ranked[i])) return 1 / (i + 1)
  return 0
}

// Mean and sample standard deviation of a list of numbers.
function meanAndSpread(values) {
  const n = values.length
  if (n === 0) return { mean: NaN, sd: NaN, min: NaN, max: NaN }
  const mean = values.reduce((s, v) => s + v, 0) / n
  const sd = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : 0
  return { mean, sd, min: Math.min(...values), max: Math.max(...values) }
}

module.exports = { ndcgAt, recallAt, reciprocalRankAt, meanAndSpread }
