'use strict'
// hnsw-gnn's own learner, as a user runs it: a VectorDB over the dataset
// with learning on, searched with `search`, told about clicks with
// `feedback({ searchId, clicked, converted })`, trained on the shipped
// cadence (every `trainEverySessions` sessions; the benchmark calls
// `train()` itself instead of the background thread so that runs are
// reproducible). Every shipped default holds except what a tuning
// configuration sets under `learning.model`.
//
// Building a 25k-item index per run would dominate the benchmark, so each
// worker builds one database file per dataset and every learner opens a
// copy of it.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { rowViews } = require('../lib/adapters')
const { PROJECT_ROOT, BASE_EF_SEARCH } = require('./base')
const { grid } = require('./baselines')

const templates = new Map()
let copies = 0

// A saved database of `dataset`'s items (built once per worker and dataset).
function template(dataset) {
  if (!templates.has(dataset.name)) {
    templates.set(
      dataset.name,
      (async () => {
        const { VectorDB } = require(PROJECT_ROOT)
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hnsw-gnn-learning-'))
        process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }))
        const file = path.join(dir, 'template.hgnn')
        const db = new VectorDB({
          dimensions: dataset.dim,
          metric: 'cosine',
          m: 16,
          efConstruction: 200,
          efSearch: BASE_EF_SEARCH,
          path: file,
          learning: false,
        })
        await db.insertBatch(rowViews(dataset.vectors, dataset.dim).map((vector, i) => ({ id: String(i), vector })))
        await db.save()
        await db.close()
        return { dir, file }
      })(),
    )
  }
  return templates.get(dataset.name)
}

async function createOurs(env, params = {}) {
  const { VectorDB } = require(PROJECT_ROOT)
  const { dir, file } = await template(env.dataset)
  const copy = path.join(dir, `run-${process.pid}-${copies++}.hgnn`)
  fs.copyFileSync(file, copy)
  const learning = { background: false, ...params.learning }
  const db = await VectorDB.open(copy, { learning })
  const trainEvery = db.learningStats().enabled ? (params.trainEvery ?? 200) : Infinity
  let last = null
  let sinceTraining = 0
  return {
    name: 'hnsw-gnn',
    async search(query, k) {
      const result = db.searchSync(query, { k })
      last = result
      return result.hits.map((hit) => Number(hit.id))
    },
    async feedback(session) {
      const ids = (items) => items.map(String)
      const served = last && last.hits.length === session.shown.length && last.hits.every((h, i) => Number(h.id) === session.shown[i])
      await db.feedback(
        served
          ? { searchId: last.searchId, clicked: ids(session.clicked), converted: ids(session.converted) }
          : { query: session.query, shown: session.shown.map(String), clicked: ids(session.clicked), converted: ids(session.converted) },
      )
      if (++sinceTraining >= trainEvery) {
        sinceTraining = 0
        await db.train()
      }
    },
    train() {},
    stats: () => db.learningStats(),
    async close() {
      await db.close()
      fs.rmSync(copy, { force: true })
      fs.rmSync(`${copy}-wal`, { force: true })
    },
  }
}

// The ablation's tuning grid (12 points, the budget every baseline gets):
// the caps on the blend and the memory's sharpness, with message passing
// off (`messageWeight: 0` for the metric encoder, `hops: 0` for the trained
// encodings): an identity encoder. Its first point is the shipped defaults
// with message passing off; ours runs the shipped defaults untuned.
const axes = { metricWeight: [1, 2, 0.5], encodingWeight: [1, 4], similarityPower: [8, 16] }
createOurs.identityGrid = grid(axes).map((model) => ({ learning: { model: { ...model, messageWeight: 0, hops: 0 } } }))

module.exports = { createOurs }
