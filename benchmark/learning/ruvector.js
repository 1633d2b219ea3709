'use strict'
// RuVector (npm `ruvector`, the peer that calls itself a "self-learning
// vector database") as a learner for benchmark/learning (see interface.md).
//
//   createRuvectorLearner(env, params) its VectorDB plus SONA, the one
//                                      learning API of the package that takes
//                                      vectors and rewards (see describe())
//   grid                               the tuning grid for the learner
//   describe()                         what was used, what each part does,
//                                      what could not be used, and a probe
//                                      of whether SONA's transforms move
//
// Everything of ruvector runs in a child process of our own (this same
// file), one per learner:
// - `require('ruvector')` cannot be done in the benchmark's job threads: in
//   any worker thread it reads `workerData.workerId` (a TypeError when the
//   thread has no workerData) and answers every message on `parentPort`
//   itself (parallel-intelligence.js), which would talk over the job
//   protocol;
// - in a worker thread of its own it segfaulted now and then (a
//   ThreadSafeFunction callback of ruvector-core calling
//   napi_delete_reference on a bad pointer, seen in gdb when two such
//   threads ran in one process), which a process of its own avoids.
// The round trip costs tens of microseconds per call; it is part of the
// measured search time.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { fork } = require('node:child_process')
const { pkgVersion } = require('../lib/adapters')

// Same graph parameters as every other method; ruvector ignores a per-query
// efSearch (benchmark/lib/adapters.js), so it is fixed per index here.
const HNSW_CONFIG = { m: 16, efConstruction: 200, efSearch: 128 }
// Its `dot` metric is broken (benchmark/lib/adapters.js); the rows are unit
// length, so cosine ranks the same as dot would.
const DISTANCE_METRIC = 'Cosine'

// The child process is this file run with this flag.
const SERVER_FLAG = '--ruvector-learner-process'

// SONA's default micro-LoRA learning rate (README of @ruvector/sona).
const DEFAULT_PARAMS = { microLoraLr: 0.001 }

// The tuning grid: micro-LoRA learning rates, SONA's only knob that acts on
// a query. At the default rate the micro-LoRA moves a query by ~1e-5 of its
// length or less, so far larger rates are tried as well. Only SONA's own
// documented calls act on the query: its `findPatterns` is documented for
// routing decisions, and blending pattern centroids into the query would be
// our method (a Rocchio variant), not RuVector's.
const MICRO_LORA_LRS = [0.001, 0.1, 3, 30, 300, 3000]
const grid = MICRO_LORA_LRS.map((microLoraLr) => ({ microLoraLr }))


// ------------------------------------------------------ caller's side

// A child process running serve() below; call() sends one request and
// resolves with its answer (requests go one at a time).
class RuvectorProcess {
  constructor() {
    this.child = fork(__filename, [SERVER_FLAG], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.pending = null
    this.child.on('message', (reply) => {
      const { resolve, reject, op } = this.pending
      this.pending = null
      if (reply.error) reject(new Error(`ruvector ${op} failed: ${reply.error}`))
      else resolve(reply)
    })
    this.child.on('exit', (code, signal) => {
      if (this.pending) this.pending.reject(new Error(`ruvector process exited (${signal || code}) during '${this.pending.op}'`))
      this.pending = null
    })
  }

  call(message) {
    if (this.pending) return Promise.reject(new Error(`ruvector: '${message.op}' while '${this.pending.op}' is running`))
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, op: message.op }
      this.child.send(message)
    })
  }

  close() {
    this.child.kill()
  }
}

// Starts a process holding the dataset in ruvector's VectorDB and a SONA
// engine; resolves to the learner.
async function createRuvectorLearner(env, params = {}) {
  const { microLoraLr } = { ...DEFAULT_PARAMS, ...params }
  const { dataset } = env
  const ruvector = new RuvectorProcess()
  const storagePath = path.join(os.tmpdir(), `learning-ruvector-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.db`)
  const close = () => {
    ruvector.close()
    fs.rmSync(storagePath, { recursive: true, force: true }) // it persists to disk
  }
  try {
    await ruvector.call({ op: 'build', dim: dataset.dim, count: dataset.count, vectors: dataset.vectors, storagePath, microLoraLr })
  } catch (e) {
    close()
    throw e
  }
  return {
    name: `ruvector + SONA (lr ${microLoraLr})`,
    // Copies: sending a view (a query row of a larger array) would send its
    // whole underlying buffer.
    search: async (query, k) => (await ruvector.call({ op: 'search', query: Float32Array.from(query), k })).ids,
    async feedback(session) {
      const { shown, clicked, converted } = session
      await ruvector.call({ op: 'feedback', query: Float32Array.from(session.query), shown, clicked, converted })
    },
    async train() {
      await ruvector.call({ op: 'train' })
    },
    close,
  }
}

// ------------------------------------------------------ the child's side

// SONA, as its README shows it: one trajectory per session (the query
// embedding, one step per shown item with the item's vector as activations
// and reward 1 if it was clicked or converted, else 0; quality 1 if anything
// was), flush() and forceLearn() in train(), and at search time
// applyMicroLora then applyBaseLora on the query.
function recordSession(sona, query, stepVectors, rewarded) {
  const trajectory = sona.beginTrajectory(query)
  stepVectors.forEach((vector, i) => sona.addStep(trajectory, vector, [], rewarded[i] ? 1 : 0))
  sona.endTrajectory(trajectory, rewarded.some(Boolean) ? 1 : 0)
}

function adaptQuery(sona, query) {
  return Float32Array.from(sona.applyBaseLora(0, sona.applyMicroLora(query)))
}

// Deterministic unit vectors for the probe (no seeded RNG needed for it).
function probeVector(seed, dim) {
  const v = Array.from({ length: dim }, (_, j) => {
    const x = Math.sin((seed * dim + j + 1) * 12.9898) * 43758.5453
    return x - Math.floor(x) - 0.5
  })
  const norm = Math.hypot(...v)
  return v.map((x) => x / norm)
}

// What SONA's transforms do after learning from sessions whose clicks all
// point one way (a fixed "clicked" vector among random shown ones): per
// learning rate, how far applyMicroLora and applyBaseLora move a query
// (relative to its length), on how many probe queries the move points
// toward the clicked vector, and how many patterns were learned.
function probeSona(SonaEngine, { dim = 64, sessions = 300, probes = 20 } = {}) {
  const clickedVector = probeVector(0, dim)
  return MICRO_LORA_LRS.map((microLoraLr) => {
    try {
      const sona = SonaEngine.withConfig({ hiddenDim: dim, embeddingDim: dim, microLoraLr })
      for (let s = 0; s < sessions; s++) {
        const shown = Array.from({ length: 10 }, (_, i) => (i === s % 10 ? clickedVector : probeVector(1 + s * 10 + i, dim)))
        recordSession(sona, probeVector(-1 - s, dim), shown, shown.map((v) => v === clickedVector))
      }
      sona.flush()
      const learnStatus = sona.forceLearn()
      let microShift = 0
      let baseShift = 0
      let toward = 0
      for (let p = 0; p < probes; p++) {
        const query = probeVector(1e6 + p, dim)
        const delta = (out) => out.map((x, i) => x - query[i])
        const micro = delta(sona.applyMicroLora(query))
        microShift = Math.max(microShift, Math.hypot(...micro))
        baseShift = Math.max(baseShift, Math.hypot(...delta(sona.applyBaseLora(0, query))))
        if (micro.reduce((s, x, i) => s + x * clickedVector[i], 0) > 0) toward++
      }
      return { microLoraLr, microShift, baseShift, toward, probes, patterns: sona.getStats().patternsLearned, learnStatus }
    } catch (e) {
      return { microLoraLr, error: String(e && e.message ? e.message : e).split('\n')[0] }
    }
  })
}

function serve() {
  const { VectorDB, SonaEngine } = require('ruvector')
  let db = null
  let sona = null
  let row = null
  const handlers = {
    async build({ dim, count, vectors, storagePath, microLoraLr }) {
      db = new VectorDB({ dimensions: dim, distanceMetric: DISTANCE_METRIC, storagePath, hnswConfig: { ...HNSW_CONFIG, maxElements: count } })
      const entries = []
      for (let i = 0; i < count; i++) entries.push({ id: String(i), vector: vectors.subarray(i * dim, (i + 1) * dim) })
      await db.insertBatch(entries)
      sona = SonaEngine.withConfig({ hiddenDim: dim, embeddingDim: dim, microLoraLr })
      row = (item) => vectors.subarray(item * dim, (item + 1) * dim)
      return {}
    },
    async search({ query, k }) {
      const hits = await db.search({ vector: adaptQuery(sona, query), k })
      return { ids: Int32Array.from(hits, (hit) => Number(hit.id)) }
    },
    async feedback({ query, shown, clicked, converted }) {
      const rewarded = new Set([...clicked, ...converted])
      recordSession(sona, query, shown.map(row), shown.map((item) => rewarded.has(item)))
      return {}
    },
    async train() {
      sona.flush() // apply the micro-LoRA gradients now, not only every 100 trajectories
      sona.forceLearn()
      return {}
    },
    async probe() {
      return { results: probeSona(SonaEngine) }
    },
  }
  process.on('message', async (message) => {
    let reply
    try {
      reply = await handlers[message.op](message)
    } catch (e) {
      reply = { error: String(e && e.stack ? e.stack : e) }
    }
    process.send(reply)
  })
  process.on('disconnect', () => process.exit(0)) // the caller is gone
}

// ------------------------------------------------------------- describe

let probeResults = null

async function describeProbe() {
  if (!probeResults) {
    const ruvector = new RuvectorProcess()
    try {
      probeResults = (await ruvector.call({ op: 'probe' })).results
    } catch (e) {
      probeResults = [{ error: e.message.split('\n')[0] }]
    } finally {
      ruvector.close()
    }
  }
  const pct = (x) => `${Number((100 * x).toPrecision(2))} %`
  const ok = probeResults.filter((r) => !r.error)
  const failed = probeResults.filter((r) => r.error).map((r) => `at lr ${r.microLoraLr} SONA threw "${r.error}"`)
  const micro = ok.map((r) =>
    r.microShift < 1e-4
      ? `${pct(r.microShift)} at lr ${r.microLoraLr} (practically a no-op)`
      : `${pct(r.microShift)} at lr ${r.microLoraLr} (toward the clicked vector for ${r.toward} of ${r.probes} queries, away from it for the rest)`,
  )
  const baseShift = Math.max(...ok.map((r) => r.baseShift))
  const facts = []
  if (ok.length > 0) {
    facts.push(
      `relative to a query's length, \`applyMicroLora\` moved it by up to ${micro.join(', ')}; \`applyBaseLora\` by up to ${pct(baseShift)}${baseShift < 1e-6 ? ' (a no-op)' : ''}; ` +
        `the last \`forceLearn()\` said "${ok[ok.length - 1].learnStatus}"`,
    )
  }
  return `Probe (300 sessions in 64 dimensions whose clicks all went to one vector, then 20 new queries): ${facts.concat(failed).join('; ')}.`
}

async function describe() {
  const versions = `ruvector ${pkgVersion('ruvector')}, @ruvector/sona ${pkgVersion('@ruvector/sona')}, @ruvector/core ${pkgVersion('@ruvector/core')}`
  return [
    `**RuVector** (${versions}). *Static*: \`VectorDB\` (cosine on the unit vectors, HNSW m ${HNSW_CONFIG.m}, efConstruction ${HNSW_CONFIG.efConstruction}, efSearch ${HNSW_CONFIG.efSearch} fixed at construction because a per-query efSearch is ignored), \`insertBatch\` then \`search({ vector, k })\`. ` +
      '`VectorDB` has no feedback, reward or training method (it has insert, insertBatch, search, get, delete, len, isEmpty). ' +
      '*Learner*: the same plus `SonaEngine` (SONA, "runtime-adaptive learning with LoRA, EWC++ and ReasoningBank"), the only learning API in the package that takes vectors and rewards: ' +
      'per session `beginTrajectory(query)`, `addStep(trajectory, itemVector, [], reward)` per shown item (reward 1 if clicked or converted, else 0) and `endTrajectory(trajectory, quality)` (1 if anything was); ' +
      'per train() `flush()` and `forceLearn()`; per search `applyMicroLora` then `applyBaseLora(0, ·)` on the query before the VectorDB search. ' +
      `Tuned over microLoraLr {${MICRO_LORA_LRS.join(', ')}} (${DEFAULT_PARAMS.microLoraLr} is SONA's default). ` +
      'Not used: moving the query toward the centroid of the nearest learned pattern (`findPatterns`, documented for routing decisions): that blend would be our method, a Rocchio variant, not RuVector\'s. ' +
      'All ruvector calls run in a child process of ours, one per learner: `require("ruvector")` fails in (or takes over the messages of) any worker thread without `workerData.workerId`, and in a thread of its own ruvector-core segfaulted now and then (a ThreadSafeFunction callback calling `napi_delete_reference` on a bad pointer).',
    'By SONA\'s source (crates/sona in the ruvector repository; the behaviour checked on the installed binary) the micro-LoRA computes `output = input + scale·(input·down)·up` where only `up` is trained, from the normalised REINFORCE direction Σ(reward − mean reward)·activation, and `down` keeps its fixed initial values: ' +
      'it adds one learned direction to every query, with a sign and size set by that fixed projection, so it pushes some queries toward what was clicked and others away from it and cannot learn a different correction per query region. ' +
      await describeProbe(),
    'Not usable here: `AdaptiveEmbedder` and `IntelligenceEngine` embed and learn from text only (`embed(text)`, `learnFromOutcome(context, action, success)`), `LearningEngine` is tabular RL over string states, the GNN `RuvectorLayer` and `differentiableSearch` have no training call in JS, and @ruvector/ruvllm\'s `ContrastiveTrainer.train()` only computes losses ("without actual backprop").',
  ].join('\n\n')
}

if (require.main === module && process.argv.includes(SERVER_FLAG)) serve()

module.exports = { createRuvectorLearner, describe, grid }
