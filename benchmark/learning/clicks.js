'use strict'
// Simulated users (DESIGN.md §6). A position-based click model: the user
// examines rank r (1-based) with probability 1 / r^0.8, and clicks an examined
// item with probability 0.9 if it is relevant and 0.1 if not; 30% of clicks on
// relevant items become conversions. The adversary clicks exactly as often
// but uniformly at random among the shown items, so it carries no signal: a
// method that learns from it must not get worse.

const { shuffle } = require('../lib/rng')

const CLICK_MODEL = Object.freeze({
  examinationExponent: 0.8,
  clickIfRelevant: 0.9,
  clickIfNotRelevant: 0.1,
  conversionIfRelevantClick: 0.3,
})

function examinationProbability(rank, model = CLICK_MODEL) {
  return 1 / rank ** model.examinationExponent
}

// One honest user's reaction to `shown` (item indices, best first). `random`
// is a () => [0, 1) source. Returns the clicked and converted items.
function honestUser(shown, isRelevant, random, model = CLICK_MODEL) {
  const clicked = []
  const converted = []
  for (let i = 0; i < shown.length; i++) {
    if (random() >= examinationProbability(i + 1, model)) continue
    const relevant = isRelevant(shown[i])
    if (random() >= (relevant ? model.clickIfRelevant : model.clickIfNotRelevant)) continue
    clicked.push(shown[i])
    if (relevant && random() < model.conversionIfRelevantClick) converted.push(shown[i])
  }
  return { clicked, converted }
}

// The adversary: draws how many clicks and conversions an honest user would
// make on this list, then spreads them uniformly at random over the shown
// items (conversions among its own clicks). Same rates, no information.
function randomUser(shown, isRelevant, random, model = CLICK_MODEL) {
  const honest = honestUser(shown, isRelevant, random, model)
  const order = shuffle(shown, random)
  const clickedSet = new Set(order.slice(0, honest.clicked.length))
  // Report clicks in shown order, as a real log would.
  const clicked = shown.filter((item) => clickedSet.has(item))
  const converted = order.slice(0, honest.converted.length).filter((item) => clickedSet.has(item))
  return { clicked: Array.from(clicked), converted }
}

module.exports = { CLICK_MODEL, examinationProbability, honestUser, randomUser }
