'use strict'
const { shuffle } = require('../lib/rng')

// Which queries may give feedback, which tune, which are held out; and what
// is relevant to a query at a given moment (relevance drift).

// Splits query indices by group (stratified, seeded): in every group with at
// least three queries, `testFraction` of them (at least one) are held out for
// testing and never give feedback; of the rest, `validationFraction` (at
// least one where two or more remain) form the validation slice that tuning
// measures on, while feedback comes from the others. The final runs take
// feedback from all of train = feedback ∪ validation. Groups with fewer than
// three queries give all of theirs to training.
function splitQueries(queryGroup, random, { testFraction = 0.3, validationFraction = 0.2 } = {}) {
  const byGroup = new Map()
  for (let q = 0; q < queryGroup.length; q++) {
    if (!byGroup.has(queryGroup[q])) byGroup.set(queryGroup[q], [])
    byGroup.get(queryGroup[q]).push(q)
  }
  const test = []
  const validation = []
  const feedback = []
  for (const group of [...byGroup.keys()].sort((a, b) => a - b)) {
    const members = shuffle(byGroup.get(group), random)
    if (members.length < 3) {
      feedback.push(...members)
      continue
    }
    const nTest = Math.max(1, Math.round(testFraction * members.length))
    const rest = members.length - nTest
    const nValidation = rest >= 2 ? Math.max(1, Math.round(validationFraction * rest)) : 0
    test.push(...members.slice(0, nTest))
    validation.push(...members.slice(nTest, nTest + nValidation))
    feedback.push(...members.slice(nTest + nValidation))
  }
  const sorted = (a) => Int32Array.from(a).sort()
  return {
    test: sorted(test),
    validation: sorted(validation),
    feedback: sorted(feedback),
    train: sorted([...feedback, ...validation]),
  }
}

// What a query of group g is looking for: at first its own group; after a
// drift, half of the query groups (seeded) look for another drifted group's
// items instead (a random cyclic shift among them, so no drifted group keeps
// its meaning). Query vectors do not change, only what users click.
class Relevance {
  // queryGroup: the group of every query; only groups with queries drift.
  constructor(itemGroup, groupCount, queryGroup) {
    this.itemGroup = itemGroup
    this.groupSize = new Int32Array(groupCount)
    for (const g of itemGroup) this.groupSize[g]++
    this.asked = new Uint8Array(groupCount)
    for (const g of queryGroup) this.asked[g] = 1
    this.meaning = Int32Array.from({ length: groupCount }, (_, g) => g)
  }

  // Changes the meaning of half of the groups with items and queries;
  // returns them.
  drift(random) {
    const eligible = []
    for (let g = 0; g < this.meaning.length; g++) if (this.groupSize[g] > 0 && this.asked[g]) eligible.push(g)
    const drifted = shuffle(eligible, random).slice(0, Math.floor(eligible.length / 2))
    const meanings = drifted.map((g) => this.meaning[g])
    drifted.forEach((g, i) => {
      this.meaning[g] = meanings[(i + 1) % meanings.length]
    })
    return drifted
  }

  // { isRelevant(item), count } for a query of group `group`, as now in force.
  forGroup(group) {
    const target = this.meaning[group]
    const itemGroup = this.itemGroup
    return { isRelevant: (item) => itemGroup[item] === target, count: this.groupSize[target] }
  }
}

module.exports = { splitQueries, Relevance }
