#!/usr/bin/env node
'use strict'
// What learning from clicks costs: the performance targets of the learning
// issue, measured through the public JS API on synthetic data with latent
// classes, one target per part:
//
//   rerank    searchSync/search with a serving model minus the same query
//             without reranking (rerank: false), per query, 100k x 384
//   p99       search p99 at 70% of the max single-thread QPS while the
//             background trainer runs back to back, vs the same load with
//             no trainer, 100k x 128
//   publish   time from the 200th new session to a published model, with
//             the background trainer on its default cadence, 100k x 128
//   feedback  JS-thread cost of feedback(): until it returns its Promise
//             (and, for comparison, until it resolves)
//   train     one training pass on the full 10,000-session log at
//             1M x 384: time, RSS, learningStats().heapBytes
//
//   node benchmark/learning-perf.js --help
//
// Tables go to stdout (progress to stderr) and, with the CPU flags, Node
// version, date and command, to benchmark/results/learning-perf.md
// (rewritten after every part, so a partial run leaves its numbers).

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { UsageError, eachArgument } = require('./lib/args')
const { median, percentile } = require('./lib/measure')
const { envInfo, loadAverage, mdTable, textTable } = require('./lib/report')
const { Rng, deriveSeed, mulberry32 } = require('./lib/rng')

const PROJECT_ROOT = process.env.HNSW_GNN_MODULE ? path.resolve(process.env.HNSW_GNN_MODULE) : path.join(__dirname, '..')
const { VectorDB } = require(PROJECT_ROOT)

const log = (...a) => console.log(...a)
const info = (...a) => console.error(...a) // progress goes to stderr, tables to stdout

// ------------------------------------------------------------ targets

const TARGETS = {
  rerankP50Us: 100, // p50 of (search with model - rerank:false search), per query
  p99Ratio: 1.25, // p99 while training / p99 idle
  feedbackP50Us: 20, // p50 of the time until feedback() returns its Promise
}
const ALL_PARTS = ['rerank', 'p99', 'publish', 'feedback', 'train']
const PART_TITLES = {
  rerank: '1. Rerank overhead',
  p99: '2. Search p99 while training',
  publish: '3. Time from feedback to a published model',
  feedback: '4. JS-thread cost of feedback()',
  train: '5. Training time and memory at scale',
}

// ------------------------------------------------------------ command line

const USAGE = `Usage: node benchmark/learning-perf.js [options]

Performance of learning from feedback, through the public JS API, on
seeded synthetic data with latent classes (see "Data" in the report):

  rerank    search with a serving model vs rerank: false, per query
  p99       search p99 at 70% of the max rate with vs without the background
            trainer running back to back
  publish   time from the 200th new session to a published model
  feedback  JS-thread cost of feedback() (until it returns its Promise)
  train     train() time, RSS and heapBytes at 1M x 384 with 10,000 sessions

Every index: cosine, M=16, efConstruction=200, efSearch=64, k=10,
learning { explore: 0 }. The machine may be shared: every timing is a
median of several runs.

Options:
  --only LIST            parts to run, of ${ALL_PARTS.join(',')}   (default: all)
  --quick                a small version of every part (20k-item indexes, a
                         100k x 384 training part, 5 s windows, fewer runs)
  --seed N               data seed                                 (default 1)
  --rerank-n N           items of the rerank index                 (default 100000)
  --rerank-dim N         its dimensions                            (default 384)
  --sessions N           honest sessions fed before training, parts 1-4
                                                                   (default 2000)
  --queries N            distinct queries timed in part 1          (default 2000)
  --rounds N             timed rounds over all queries, part 1     (default 5)
  --p99-n N              items of the 128-d index, parts 2-4       (default 100000)
  --p99-dim N            its dimensions                            (default 128)
  --window SEC           length of each paced window, part 2       (default 8)
  --load F               paced rate as a share of the max rate     (default 0.7)
  --reps N               reps of every arm, part 2                 (default 8)
  --feedback-every N     one feedback() per N paced searches       (default 16)
  --no-control           skip part 2's control arm (a busy-looping thread
                         instead of the trainer)
  --no-cadence           skip part 2's arm training at the shipped cadence
                         (trainEverySessions 200, trainEveryMs 30000)
  --trials N             feedback-to-publish trials, part 3        (default 7)
  --feedback-calls N     timed feedback() calls, part 4            (default 5000)
  --big-n N              items of the training index, part 5       (default 1000000)
  --big-dim N            its dimensions                            (default 384)
  --big-sessions N       sessions fed before training, part 5      (default 10000)
  --big-pool N           distinct queries those sessions draw from (default 1000)
  --build-budget MIN     part 5 builds in chunks; on reaching half of --big-n
                         it stops there if the projected time for all of
                         --big-n exceeds MIN minutes, and says so   (default 25)
  --train-runs N         timed train() calls, part 5               (default 3)
  --out FILE             Markdown report (default benchmark/results/learning-perf.md)
  --no-md                do not write the Markdown report
  -h, --help             show this help

Environment: HNSW_GNN_MODULE=DIR loads hnsw-gnn from DIR instead of the
project root.

Examples:
  node benchmark/learning-perf.js                        # everything, ~1 h
  node benchmark/learning-perf.js --quick                # a few minutes
  node benchmark/learning-perf.js --only rerank,p99 --reps 5
`

const DEFAULTS = {
  only: ALL_PARTS.slice(),
  quick: false,
  seed: 1,
  rerankN: 100000,
  rerankDim: 384,
  sessions: 2000,
  queries: 2000,
  rounds: 5,
  p99N: 100000,
  p99Dim: 128,
  window: 8,
  load: 0.7,
  reps: 8,
  feedbackEvery: 16,
  control: true,
  cadenceArm: true,
  trials: 7,
  feedbackCalls: 5000,
  bigN: 1000000,
  bigDim: 384,
  bigSessions: 10000,
  bigPool: 1000,
  buildBudget: 25,
  trainRuns: 3,
  out: null,
  md: true,
  help: false,
}
const QUICK = { rerankN: 20000, rounds: 3, p99N: 20000, window: 5, reps: 2, trials: 3, bigN: 100000 }

const INT_FLAGS = {
  seed: 'seed',
  'rerank-n': 'rerankN',
  'rerank-dim': 'rerankDim',
  sessions: 'sessions',
  queries: 'queries',
  rounds: 'rounds',
  'p99-n': 'p99N',
  'p99-dim': 'p99Dim',
  window: 'window',
  reps: 'reps',
  'feedback-every': 'feedbackEvery',
  trials: 'trials',
  'feedback-calls': 'feedbackCalls',
  'big-n': 'bigN',
  'big-dim': 'bigDim',
  'big-sessions': 'bigSessions',
  'big-pool': 'bigPool',
  'build-budget': 'buildBudget',
  'train-runs': 'trainRuns',
}

function parseArgs(argv) {
  const o = { ...DEFAULTS, only: DEFAULTS.only.slice() }
  const given = new Set()
  eachArgument(argv, (a, flag, next) => {
    if (a === '-h' || a === '--help') o.help = true
    else if (a === '--quick') o.quick = true
    else if (a === '--no-md') o.md = false
    else if (a === '--no-control') o.control = false
    else if (a === '--no-cadence') o.cadenceArm = false
    else if (a === '--out') o.out = next()
    else if (a === '--only') o.only = next().split(',').map((s) => s.trim()).filter(Boolean)
    else if (a === '--load') {
      const v = Number(next())
      if (!(v > 0 && v <= 1)) throw new UsageError(`--load expects a share in (0, 1], got ${v}`)
      o.load = v
    } else if (flag in INT_FLAGS && a.startsWith('--')) {
      const v = next()
      const x = Number(v)
      if (!Number.isInteger(x) || x < 1) throw new UsageError(`--${flag} expects a positive integer, got "${v}"`)
      o[INT_FLAGS[flag]] = x
      given.add(INT_FLAGS[flag])
    } else throw new UsageError(`unknown option ${a} (see --help)`)
  })
  if (o.quick) for (const [k, v] of Object.entries(QUICK)) if (!given.has(k)) o[k] = v
  for (const p of o.only) if (!ALL_PARTS.includes(p)) throw new UsageError(`unknown part "${p}"; choose from ${ALL_PARTS.join(', ')}`)
  if (o.sessions < 100) throw new UsageError('--sessions must be at least 100 (a model needs 50 training sessions and a held-back fifth)')
  return o
}

function commandLine() {
  const q = (a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)
  const envPrefix = process.env.HNSW_GNN_MODULE ? `HNSW_GNN_MODULE=${q(process.env.HNSW_GNN_MODULE)} ` : ''
  return `${envPrefix}node benchmark/learning-perf.js ${process.argv.slice(2).map(q).join(' ')}`.trim()
}

// ------------------------------------------------------------ what is measured

// The binary loaded and the repository it sits beside (read-only git
// queries: the repository is shared with other work in progress).
function buildInfo() {
  const crypto = require('node:crypto')
  const { execFileSync } = require('node:child_process')
  const out = { module: PROJECT_ROOT, binary: null }
  const file = fs.readdirSync(PROJECT_ROOT).find((f) => f.endsWith('.node'))
  if (file) {
    const full = path.join(PROJECT_ROOT, file)
    out.binary = {
      file: full,
      sha256: crypto.createHash('sha256').update(fs.readFileSync(full)).digest('hex').slice(0, 16),
      mtime: fs.statSync(full).mtime.toISOString(),
    }
  }
  const repo = path.join(__dirname, '..')
  const git = (...args) => {
    try {
      return execFileSync('git', ['--no-optional-locks', '-C', repo, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    } catch {
      return null
    }
  }
  // A copy of the package (HNSW_GNN_MODULE) may say where it came from in
  // SOURCE.txt: the commit line, then \`git status --porcelain\` lines.
  const source = path.join(PROJECT_ROOT, 'SOURCE.txt')
  let status
  if (PROJECT_ROOT !== repo && fs.existsSync(source)) {
    const [first, ...rest] = fs.readFileSync(source, 'utf8').split('\n')
    out.commit = first.trim()
    status = rest.join('\n')
  } else {
    out.commit = git('log', '-1', '--format=%h %s')
    status = git('status', '--porcelain', '--untracked-files=no')
  }
  out.dirty = status == null ? null : status.split('\n').filter((l) => /^.. (src\/|index\.js|native\.js)/.test(l)).length
  return out
}

function buildLine(b) {
  const bin = b.binary ? `${path.basename(b.binary.file)} sha256 ${b.binary.sha256}…, built ${b.binary.mtime}` : 'no .node file found'
  const from = b.module === path.join(__dirname, '..') ? 'the repository root' : `${b.module} (HNSW_GNN_MODULE)`
  const repo = b.commit ? `; repository at ${b.commit.length > 90 ? b.commit.slice(0, 90) + '…' : b.commit}${b.dirty ? ` with ${b.dirty} uncommitted file(s) in src/, index.js, native.js (work in progress)` : ''}` : ''
  return `hnsw-gnn loaded from ${from}: ${bin}${repo}`
}

// ------------------------------------------------------------ small helpers

const nowNs = () => Number(process.hrtime.bigint())
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const tick = () => new Promise((resolve) => setImmediate(resolve))
const fmt = (x, d = 1) => (x == null || Number.isNaN(x) ? '-' : x.toFixed(d))
const fmtInt = (x) => (x == null ? '-' : Math.round(x).toLocaleString('en-US'))
const fmtMB = (bytes) => (bytes == null ? '-' : (bytes / 2 ** 20).toFixed(0))
const fmtSec = (s) => (s < 120 ? `${s.toFixed(1)} s` : `${(s / 60).toFixed(1)} min`)
const pct = (x) => (x == null ? '-' : `${(x * 100).toFixed(0)}%`)
const verdict = (value, target) => (value == null ? 'n/a' : value <= target ? 'PASS' : 'MISS')
const list = (xs, d = 1) => `[${xs.map((x) => fmt(x, d)).join(', ')}]`

function pcts(values, ps = [0.5, 0.9, 0.99]) {
  const s = Float64Array.from(values).sort()
  return ps.map((p) => percentile(s, p))
}

// [cpu ns, runqueue-wait ns] of a thread, from /proc/<..>/schedstat (Linux).
function schedstat(file) {
  try {
    const [cpu, wait] = fs.readFileSync(file, 'utf8').trim().split(/\s+/).map(Number)
    return { cpu, wait }
  } catch {
    return null
  }
}
const mainThreadSched = () => schedstat('/proc/thread-self/schedstat')

// A full garbage collection, then one event-loop turn for the N-API
// finalizers it queues, then another collection. A closed VectorDB frees
// its native memory only when its JS object is collected, and that drop
// runs on the JS thread (tens of ms for a 100k index with a model): without
// this it would land inside whichever timed window came next.
const collect = typeof global.gc === 'function' ? global.gc : (() => {
  require('node:v8').setFlagsFromString('--expose-gc')
  return require('node:vm').runInNewContext('gc')
})()
async function gc() {
  collect()
  await tick()
  collect()
}

// RSS now and the process's peak so far, from /proc/self/status (bytes).
function memory() {
  const out = { rss: process.memoryUsage().rss, hwm: null }
  try {
    const m = fs.readFileSync('/proc/self/status', 'utf8').match(/^VmHWM:\s+(\d+) kB/m)
    if (m) out.hwm = Number(m[1]) * 1024
  } catch {}
  return out
}

// Runs `fn` over `ms`, sampling RSS every 20 ms; resolves to fn's value and the peak.
async function withRssPeak(fn) {
  let peak = process.memoryUsage().rss
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss)
  }, 20)
  try {
    const value = await fn()
    peak = Math.max(peak, process.memoryUsage().rss)
    return { value, peak }
  } finally {
    clearInterval(timer)
  }
}

// ------------------------------------------------------------ data
// Latent classes: `classes` random unit centres and `styles` random unit
// "style" directions shared across classes; a vector of class c is
// centre[c] + 0.7·style[s] + gaussian noise, s drawn uniformly. Relevance =
// same class. The noise is what makes base search imperfect (and so leaves
// a model something to learn): its total length is calibrated per
// dimension so that base precision@10 is roughly one half (noise length
// 2.5 at 128-d, 3.5 at 384-d), i.e. per-coordinate σ = length / √dim.

const CLASSES = 100
const STYLES = 12
const STYLE_WEIGHT = 0.7
const noiseLength = (dim) => 2.5 * (dim / 128) ** 0.3

function unitVector(rng, dim) {
  const v = new Float64Array(dim)
  let s = 0
  for (let i = 0; i < dim; i++) {
    v[i] = rng.gaussian()
    s += v[i] * v[i]
  }
  s = Math.sqrt(s)
  for (let i = 0; i < dim; i++) v[i] /= s
  return v
}

class World {
  constructor(dim, seed) {
    const rng = new Rng(deriveSeed(seed, dim))
    this.dim = dim
    this.seed = seed
    this.centres = Array.from({ length: CLASSES }, () => unitVector(rng, dim))
    this.styles = Array.from({ length: STYLES }, () => unitVector(rng, dim))
    this.noise = noiseLength(dim)
    this.sigma = this.noise / Math.sqrt(dim)
  }

  // `count` rows from `rng` into `out` (row-major), their classes into `cls`.
  draw(rng, count, out, cls, clsOffset = 0) {
    const { dim, sigma } = this
    for (let i = 0; i < count; i++) {
      const c = Math.floor(rng.uniform() * CLASSES)
      const style = this.styles[Math.floor(rng.uniform() * STYLES)]
      const centre = this.centres[c]
      cls[clsOffset + i] = c
      const row = i * dim
      for (let j = 0; j < dim; j++) out[row + j] = centre[j] + STYLE_WEIGHT * style[j] + sigma * rng.gaussian()
    }
  }

  describe() {
    return `${CLASSES} classes (random unit centres), ${STYLES} shared random unit styles; vector = centre + ${STYLE_WEIGHT}·style + gaussian noise of total length ${this.noise.toFixed(2)} (σ = ${this.sigma.toFixed(3)} per coordinate)`
  }
}

// A pool of query vectors of the world (own random stream).
function makeQueries(world, count) {
  const vectors = new Float32Array(count * world.dim)
  const cls = new Int32Array(count)
  world.draw(new Rng(deriveSeed(world.seed, 1000 + world.dim)), count, vectors, cls)
  const rows = []
  for (let i = 0; i < count; i++) rows.push(vectors.subarray(i * world.dim, (i + 1) * world.dim))
  return { rows, cls, count }
}

// Builds an index of n items of `world` (ids "0".."n-1"), inserting in
// chunks generated on the fly (so a 1M x 384 build never holds a second
// copy of the vectors in JS). With `budget` ({ minutes, floor }), stops at
// `floor` items if, once there, the projected time for n exceeds the budget.
async function buildIndex(world, n, options, { budget = null, label = '' } = {}) {
  const db = new VectorDB({ dimensions: world.dim, metric: 'cosine', m: 16, efConstruction: 200, efSearch: 64, ...options })
  const cls = new Int32Array(n)
  const rng = new Rng(deriveSeed(world.seed, 10 + world.dim))
  const chunk = Math.min(n, n >= 500000 ? 50000 : 100000)
  const buf = new Float32Array(chunk * world.dim)
  const t0 = performance.now()
  let genMs = 0
  let done = 0
  let stoppedAt = null
  let lastRate = null
  while (done < n) {
    const count = Math.min(chunk, n - done)
    const g0 = performance.now()
    world.draw(rng, count, buf, cls, done)
    const items = new Array(count)
    for (let i = 0; i < count; i++) items[i] = { id: String(done + i), vector: buf.subarray(i * world.dim, (i + 1) * world.dim) }
    genMs += performance.now() - g0
    const c0 = performance.now()
    await db.insertBatch(items)
    const chunkMs = performance.now() - c0
    done += count
    lastRate = chunkMs / count
    const elapsed = (performance.now() - t0 - genMs) / 1000
    if (n > chunk) info(`  ${label}inserted ${fmtInt(done)}/${fmtInt(n)} in ${fmtSec(elapsed)} (last chunk ${fmt(count / chunkMs * 1000, 0)} items/s)`)
    // Judged once, at the first chunk that reaches the floor: the result is n or about n/2 items.
    if (budget && done >= budget.floor && done - count < budget.floor && done < n) {
      // Insert cost grows slowly with n: the last chunk's rate, +10%, is a fair projection.
      const projected = elapsed + ((n - done) * lastRate * 1.1) / 1000
      if (projected > budget.minutes * 60) {
        stoppedAt = done
        info(`  ${label}projected build time for ${fmtInt(n)} is ${fmtSec(projected)} > ${budget.minutes} min budget: stopping at ${fmtInt(done)}`)
        break
      }
    }
  }
  const buildSec = (performance.now() - t0 - genMs) / 1000
  if (db.size !== done) throw new Error(`index holds ${db.size} items after inserting ${done}`)
  return { db, cls: stoppedAt ? cls.subarray(0, stoppedAt) : cls, n: done, buildSec, genSec: genMs / 1000, stoppedAt, projectedFullSec: stoppedAt ? (buildSec + ((n - done) * lastRate * 1.1) / 1000) : null }
}

// ------------------------------------------------------------ simulated users

// An honest user: examines rank r (0-based) with probability 1/(r+1)^0.8 and
// clicks an examined hit with probability 0.9 if relevant, 0.1 if not.
function honestClicks(hits, queryClass, itemCls, random) {
  const clicked = []
  for (let r = 0; r < hits.length; r++) {
    if (random() >= 1 / (r + 1) ** 0.8) continue
    const relevant = itemCls[Number(hits[r].id)] === queryClass
    if (random() < (relevant ? 0.9 : 0.1)) clicked.push(hits[r].id)
  }
  return clicked
}

// A workload: the index's item classes, a query pool, and sessions drawn
// uniformly from the pool's first `head` queries (repeated queries, as a
// real log has; the rest of the pool is never given feedback).
function workload(itemCls, queries, head, seed) {
  return { itemCls, queries, head: Math.min(head, queries.count), random: mulberry32(seed) }
}

// `count` honest sessions: searchSync + feedback, `inFlight` feedbacks at once.
async function feedSessions(db, w, count, inFlight = 4) {
  const pending = new Set()
  for (let i = 0; i < count; i++) {
    const q = Math.floor(w.random() * w.head)
    const { searchId, hits } = db.searchSync(w.queries.rows[q], { k: 10 })
    const clicked = honestClicks(hits, w.queries.cls[q], w.itemCls, w.random)
    const p = db.feedback({ searchId, clicked, converted: [] })
    pending.add(p)
    const done = () => pending.delete(p)
    p.then(done, done) // a rejection surfaces through the race or Promise.all below
    if (pending.size >= inFlight) await Promise.race(pending)
  }
  await Promise.all(pending)
}

// Trains until a model serves, feeding 500 more sessions after each pass
// that was not published; returns the reports.
// Feeds `sessions` honest sessions, trains until a model serves, and
// measures precision@10 with and without it.
async function learnOn(db, w, sessions) {
  const f0 = performance.now()
  await feedSessions(db, w, sessions)
  const feedSec = (performance.now() - f0) / 1000
  const reports = await trainUntilActive(db, w)
  return { feedSec, reports, stats: db.learningStats(), base: precision(db, w, false), learned: precision(db, w, true) }
}

async function trainUntilActive(db, w, maxPasses = 8) {
  const reports = []
  for (let pass = 0; pass < maxPasses; pass++) {
    const t0 = performance.now()
    const report = await db.train()
    reports.push({ ...report, ms: performance.now() - t0 })
    info(`  train(): ${report.sessions} sessions, ${report.pairs} pairs, z ${fmt(report.validationZ, 2)}, published ${report.published} (${fmt(performance.now() - t0, 0)} ms)`)
    if (db.learningStats().active) return reports
    await feedSessions(db, w, 500)
  }
  throw new Error(`no model was published after ${maxPasses} training passes (the clicks did not beat base search)`)
}

// Base and reranked precision@10 over the whole query pool (untimed).
function precision(db, w, rerank) {
  let relevant = 0
  for (let q = 0; q < w.queries.count; q++) {
    const { hits } = db.searchSync(w.queries.rows[q], { k: 10, rerank })
    for (const h of hits) if (w.itemCls[Number(h.id)] === w.queries.cls[q]) relevant++
  }
  return relevant / (10 * w.queries.count)
}

function modelLine(stats) {
  // metricWeight/metricRank: the learned metric, reported by newer builds only.
  const metric = stats.metricWeight === undefined ? '' : ` / λ_metric ${fmt(stats.metricWeight, 3)}${stats.metricRank === undefined ? '' : ` (rank ${stats.metricRank})`}`
  return `model v${stats.modelVersion}: ${fmtInt(stats.modelItems)} items, ${fmtInt(stats.modelQueries)} past queries, blend λ_enc ${fmt(stats.blendWeight, 3)} / λ_mem ${fmt(stats.memoryWeight, 3)}${metric}; log ${fmtInt(stats.sessions)} sessions, heapBytes ${fmtMB(stats.heapBytes)} MB`
}

// ------------------------------------------------------------ a saved template (parts 2-4)
// Parts 2-4 share one 128-d index with a trained model, saved once and
// opened from a fresh copy for every window/trial, so every arm starts from
// the same state and can use its own learning settings.

let template = null
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'learning-perf-'))
process.on('exit', () => fs.rmSync(tmpRoot, { recursive: true, force: true }))
let copies = 0

async function ensureTemplate(opts, world) {
  if (template) return template
  const file = path.join(tmpRoot, 'template.hgnn')
  info(`\n[template] building ${fmtInt(opts.p99N)} × ${opts.p99Dim} with a file ...`)
  const built = await buildIndex(world, opts.p99N, { path: file, durability: 'none', learning: { explore: 0, background: false } })
  const db = built.db
  info(`[template] built in ${fmtSec(built.buildSec)}; feeding ${fmtInt(opts.sessions)} honest sessions ...`)
  const queries = makeQueries(world, Math.max(opts.queries, 500))
  const w = workload(built.cls, queries, 500, deriveSeed(opts.seed, 2))
  const { feedSec, reports, stats, base, learned } = await learnOn(db, w, opts.sessions)
  await db.save()
  await db.close()
  template = { file, n: built.n, dim: world.dim, cls: built.cls, queries, buildSec: built.buildSec, feedSec, reports, stats, base, learned }
  info(`[template] ${modelLine(stats)}; precision@10 base ${fmt(base, 3)}, with model ${fmt(learned, 3)}`)
  return template
}

async function openCopy(learning, durability = 'none') {
  const copy = path.join(tmpRoot, `copy-${copies++}.hgnn`)
  fs.copyFileSync(template.file, copy)
  if (fs.existsSync(`${template.file}-wal`)) fs.copyFileSync(`${template.file}-wal`, `${copy}-wal`)
  const db = await VectorDB.open(copy, { durability, learning: { explore: 0, ...learning } })
  return {
    db,
    async dispose() {
      await db.close()
      for (const f of fs.readdirSync(tmpRoot)) if (f.startsWith(path.basename(copy))) fs.rmSync(path.join(tmpRoot, f), { force: true })
    },
  }
}

function templateNote(t) {
  return `Index: ${fmtInt(t.n)} × ${t.dim}, built in ${fmtSec(t.buildSec)}; ${fmtInt(t.stats.sessions)} honest sessions, then train() until a model serves (${t.reports.length} pass(es); ${modelLine(t.stats)}); precision@10 over the ${fmtInt(t.queries.count)}-query pool: base ${fmt(t.base, 3)}, with the model ${fmt(t.learned, 3)}. Saved once; every window/trial opens a fresh copy of that file (durability 'none', so no fsync in the way).`
}

// ------------------------------------------------------------ part 1: rerank overhead

// Times every fn on every query, the fns interleaved (their order rotating
// from step to step) so the machine's drift over a round reaches all of them
// alike; at step i, fn f runs query (i + f·n/fns) mod n, so every query is
// cold in every fn: since its last search, n other searches have evicted
// what it read. (Running each query through every fn back to back instead
// hands the first one the cold reads and the others a warm cache.) Returns
// per-fn latency arrays in µs, indexed by query.
function timeSync(fns, rows) {
  const n = rows.length
  const lat = fns.map(() => new Float64Array(n))
  const offset = Math.floor(n / fns.length)
  let sink = 0
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < fns.length; j++) {
      const f = (i + j) % fns.length
      const q = (i + f * offset) % n
      const s = nowNs()
      const r = fns[f](rows[q])
      lat[f][q] = (nowNs() - s) / 1e3
      sink += r.hits.length
    }
  }
  if (!sink) throw new Error('searches returned nothing')
  return lat
}

async function timeAsync(fns, rows) {
  const n = rows.length
  const lat = fns.map(() => new Float64Array(n))
  const offset = Math.floor(n / fns.length)
  let sink = 0
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < fns.length; j++) {
      const f = (i + j) % fns.length
      const q = (i + f * offset) % n
      const s = nowNs()
      const r = await fns[f](rows[q])
      lat[f][q] = (nowNs() - s) / 1e3
      sink += r.hits.length
    }
  }
  if (!sink) throw new Error('searches returned nothing')
  return lat
}

async function partRerank(opts, ctx) {
  const world = new World(opts.rerankDim, opts.seed)
  info(`\n[rerank] building ${fmtInt(opts.rerankN)} × ${opts.rerankDim} in memory ...`)
  const built = await buildIndex(world, opts.rerankN, { learning: { explore: 0, background: false } })
  const { db } = built
  const queries = makeQueries(world, opts.queries)
  const w = workload(built.cls, queries, 500, deriveSeed(opts.seed, 3))
  info(`[rerank] built in ${fmtSec(built.buildSec)}; feeding ${fmtInt(opts.sessions)} honest sessions ...`)
  const { feedSec, reports, stats, base, learned } = await learnOn(db, w, opts.sessions)
  info(`[rerank] ${modelLine(stats)}; precision@10 base ${fmt(base, 3)}, with model ${fmt(learned, 3)}`)

  // How often the model changes the top 10 (a sanity check that it reranks).
  let changed = 0
  for (const q of queries.rows) {
    const a = db.searchSync(q, { k: 10 }).hits.map((h) => h.id).join()
    const b = db.searchSync(q, { k: 10, rerank: false }).hits.map((h) => h.id).join()
    if (a !== b) changed++
  }

  const withModel = { k: 10 }
  const baseOpts = { k: 10, rerank: false }
  // The reranker searches rerankDepth (100) candidates, so its beam is
  // max(efSearch, 100): the base search with that beam splits the overhead.
  const wideOpts = { k: 10, rerank: false, efSearch: 100 }
  const syncFns = [(q) => db.searchSync(q, withModel), (q) => db.searchSync(q, baseOpts), (q) => db.searchSync(q, wideOpts)]
  const asyncFns = [(q) => db.search(q, withModel), (q) => db.search(q, baseOpts), (q) => db.search(q, wideOpts)]
  info(`[rerank] warm-up, then ${opts.rounds} timed round(s) × ${fmtInt(queries.count)} queries × 3 variants, sync then async ...`)
  timeSync(syncFns, queries.rows)
  await timeAsync(asyncFns, queries.rows)
  const rounds = { sync: [], async: [] }
  const m0 = performance.now()
  for (let r = 0; r < opts.rounds; r++) {
    for (const mode of ['sync', 'async']) {
      await gc()
      const [model, base0, wide] = mode === 'sync' ? timeSync(syncFns, queries.rows) : await timeAsync(asyncFns, queries.rows)
      const diff = model.map((x, i) => x - base0[i])
      const beam = wide.map((x, i) => x - base0[i])
      const score = model.map((x, i) => x - wide[i])
      const row = { model: pcts(model), base: pcts(base0), wide: pcts(wide), diff: pcts(diff), beam: pcts(beam), score: pcts(score) }
      rounds[mode].push(row)
      info(`  round ${r + 1} ${mode}: model p50 ${fmt(row.model[0])} µs, base p50 ${fmt(row.base[0])} µs, Δ p50 ${fmt(row.diff[0])} / p90 ${fmt(row.diff[1])} µs`)
    }
  }
  const measureSec = (performance.now() - m0) / 1000
  await db.close()

  const LABELS = [
    ['model', 'searchSync(q, { k: 10 }) — with the model'],
    ['base', 'searchSync(q, { k: 10, rerank: false }) — base'],
    ['diff', 'Δ with model − base, per query'],
    ['wide', '  base with efSearch 100 (the reranker’s beam)'],
    ['beam', '  Δ of that wider beam − base, per query'],
    ['score', '  Δ with model − wider-beam base, per query'],
  ]
  const medOf = (mode, key, i) => median(rounds[mode].map((r) => r[key][i]))
  const rows = []
  for (const mode of ['sync', 'async']) {
    for (const [key, label] of LABELS) {
      const l = mode === 'sync' ? label : label.replace('searchSync(', 'await search(')
      rows.push([mode, l, fmt(medOf(mode, key, 0)), fmt(medOf(mode, key, 1)), fmt(medOf(mode, key, 2)), list(rounds[mode].map((r) => r[key][0]))])
    }
  }
  // The target is the cost of reranking 100 candidates: against base
  // search with the same 100-wide beam. The Δ against the index's default
  // beam (64) adds the wider beam's own cost, reported beside it.
  const syncP50 = medOf('sync', 'score', 0)
  const asyncP50 = medOf('async', 'score', 0)
  const syncFullP50 = medOf('sync', 'diff', 0)
  const asyncFullP50 = medOf('async', 'diff', 0)
  const part = {
    key: 'rerank',
    seconds: 0,
    intro: [
      `Index: ${fmtInt(built.n)} × ${opts.rerankDim} in memory, built in ${fmtSec(built.buildSec)}; ${world.describe()}.`,
      `Learning: ${fmtInt(stats.sessions)} honest sessions (queries drawn from the first 500 of a ${fmtInt(queries.count)}-query pool; fed in ${fmtSec(feedSec)}), then train() until a model serves: ${reports.length} pass(es), last z ${fmt(reports[reports.length - 1].validationZ, 2)}. ${modelLine(stats)}. precision@10 over the pool: base ${fmt(base, 3)}, with the model ${fmt(learned, 3)}; the model changes the top 10 of ${fmtInt(changed)}/${fmtInt(queries.count)} queries.`,
      `Timing: every query of the pool (${fmtInt(queries.count)}; 500 of them had feedback) runs once per variant per round, the variants interleaved (order rotating) but each at a different point of the pool (variant f is ⅓·f of the pool ahead), so every search starts cold for its query, as in a service whose queries differ, and drift reaches every variant alike; one untimed warm-up round, then ${opts.rounds} timed rounds (sync, then async, per round). Each cell is the median over rounds of that round's percentile; the last column lists each round's p50. Δ rows are percentiles of the per-query difference, not differences of percentiles.`,
    ],
    tables: [{ header: ['mode', 'what', 'p50 µs', 'p90 µs', 'p99 µs', 'p50 per round'], rows }],
    targets: [
      { name: `rerank overhead, sync: p50 of Δ (searchSync with model − rerank: false at efSearch 100, the same beam), 100 candidates, ${fmtInt(built.n)} × ${opts.rerankDim}`, value: `${fmt(syncP50)} µs (p90 ${fmt(medOf('sync', 'score', 1))} µs)`, target: `≤ ${TARGETS.rerankP50Us} µs`, result: verdict(syncP50, TARGETS.rerankP50Us) },
      { name: `rerank overhead, async: the same with await search`, value: `${fmt(asyncP50)} µs (p90 ${fmt(medOf('async', 'score', 1))} µs)`, target: `≤ ${TARGETS.rerankP50Us} µs`, result: verdict(asyncP50, TARGETS.rerankP50Us) },
      { name: `  with the wider beam: p50 of Δ (with model − rerank: false at the index's efSearch 64), sync / async`, value: `${fmt(syncFullP50)} / ${fmt(asyncFullP50)} µs (the 64 → 100 beam alone: ${fmt(medOf('sync', 'beam', 0))} µs sync)`, target: '(reported)', result: 'info' },
    ],
    timing: { build: built.buildSec, feed: feedSec, measure: measureSec },
  }
  return part
}

// ------------------------------------------------------------ part 2: p99 while training

// The window's own work run closed-loop for ~`seconds` (searchSync over the
// pool, one feedback() per `every` searches, a yield to the event loop every
// 64): the rate a paced window could sustain at 100% load. Returns
// searches per second.
async function closedLoopRate(db, w, seconds, every) {
  const pending = new Set()
  const t0 = nowNs()
  const end = t0 + seconds * 1e9
  let n = 0
  let t = t0
  while (t < end) {
    if (n % 64 === 0) await tick()
    const q = n % w.queries.count
    const { searchId, hits } = db.searchSync(w.queries.rows[q], { k: 10 })
    if (n % every === 0) {
      const p = db.feedback({ searchId, clicked: honestClicks(hits, w.queries.cls[q], w.itemCls, w.random), converted: [] })
      pending.add(p)
      const done = () => pending.delete(p)
      p.then(done, done)
    }
    n++
    t = nowNs()
  }
  const rate = n / ((t - t0) / 1e9)
  await Promise.allSettled([...pending])
  return rate
}

// Open-loop paced searches on this thread: search i is scheduled at
// start + i/rate and its latency counts from that scheduled time, so a
// stall delays (and is charged to) every search queued behind it. Busy
// waits between searches; yields to the event loop when there is slack
// (or every 64 searches) so feedback promises settle. One feedback() per
// `every` searches, not awaited.
async function pacedWindow(db, w, rate, seconds, every) {
  const total = Math.floor(rate * seconds)
  const interval = 1e9 / rate
  const lat = new Float64Array(total)
  const svc = new Float64Array(total)
  const pending = new Set()
  let errors = 0
  let lastYield = 0
  let tickMax = 0
  let svcMax = 0
  let busy = 0
  const main0 = mainThreadSched()
  const cpu0 = process.cpuUsage()
  const start = nowNs() + 2e6
  for (let i = 0; i < total; i++) {
    const sched = start + i * interval
    let t = nowNs()
    if (sched - t > 50e3 || i - lastYield >= 64) {
      await tick()
      lastYield = i
      const after = nowNs()
      tickMax = Math.max(tickMax, after - t)
      t = after
    }
    while (t < sched) t = nowNs()
    const q = i % w.queries.count
    const { searchId, hits } = db.searchSync(w.queries.rows[q], { k: 10 })
    const end = nowNs()
    lat[i] = (end - sched) / 1e3
    svc[i] = (end - t) / 1e3
    busy += end - t
    if (svc[i] > svcMax) svcMax = svc[i]
    if (i % every === 0) {
      const p = db.feedback({ searchId, clicked: honestClicks(hits, w.queries.cls[q], w.itemCls, w.random), converted: [] })
      pending.add(p)
      p.then(
        () => pending.delete(p),
        () => {
          errors++
          pending.delete(p)
        },
      )
    }
  }
  const elapsed = (nowNs() - start) / 1e9
  const main1 = mainThreadSched()
  const cpu = process.cpuUsage(cpu0)
  await Promise.allSettled([...pending])
  const [p50, p90, p99, p999] = pcts(lat, [0.5, 0.9, 0.99, 0.999])
  const [s50, s99] = pcts(svc, [0.5, 0.99])
  let max = 0
  for (const x of lat) max = Math.max(max, x)
  const share = (a, b, key) => (a && b ? (b[key] - a[key]) / 1e9 / elapsed : null)
  return {
    count: total,
    achieved: total / elapsed,
    p50,
    p90,
    p99,
    p999,
    max,
    s50,
    s99,
    svcMax,
    // Share of the window the main thread spent inside searchSync: the load the window really put on it.
    searchBusy: busy / 1e9 / elapsed,
    tickMaxMs: tickMax / 1e6,
    errors,
    // Shares of the window: the main thread on a CPU / waiting for one; the trainer thread on a CPU; the whole process.
    mainCpu: share(main0, main1, 'cpu'),
    mainWait: share(main0, main1, 'wait'),
    processCpu: (cpu.user + cpu.system) / 1e6 / elapsed,
    // Every thread but the JS one: the trainer (in the training arm), the write and GC threads.
    otherCpu: main0 && main1 ? (cpu.user + cpu.system) / 1e6 / elapsed - (main1.cpu - main0.cpu) / 1e9 / elapsed : null,
  }
}

// Spins on this thread for `seconds` reading the clock; the gaps over 1 ms
// between two readings are time the thread did not run although it never
// blocked: the host took the VM's CPU away (or a long interrupt).
function stallProbe(seconds) {
  const gaps = []
  const end = nowNs() + seconds * 1e9
  let prev = nowNs()
  for (;;) {
    const t = nowNs()
    if (t > end) break
    if (t - prev > 1e6) gaps.push((t - prev) / 1e6)
    prev = t
  }
  return { seconds, count: gaps.length, totalMs: gaps.reduce((a, b) => a + b, 0), maxMs: gaps.reduce((a, b) => Math.max(a, b), 0) }
}

// The probe alone and beside a busy-looping worker thread, alternating,
// `rounds` × `seconds` each; sums per arm.
async function hostStalls(rounds = 2, seconds = 5) {
  const sum = (runs) => ({ seconds: runs.reduce((a, r) => a + r.seconds, 0), count: runs.reduce((a, r) => a + r.count, 0), totalMs: runs.reduce((a, r) => a + r.totalMs, 0), maxMs: Math.max(...runs.map((r) => r.maxMs)) })
  const alone = []
  const beside = []
  for (let r = 0; r < rounds; r++) {
    alone.push(stallProbe(seconds))
    const hog = await startHog()
    beside.push(stallProbe(seconds))
    await hog.terminate()
  }
  return { alone: sum(alone), beside: sum(beside) }
}

const stallLine = (s) => `${s.count} gaps > 1 ms in ${s.seconds} s (${fmt(s.totalMs, 1)} ms in all, longest ${fmt(s.maxMs, 1)} ms)`

// A worker thread spinning until terminated.
async function startHog() {
  const { Worker } = require('node:worker_threads')
  const worker = new Worker('require("node:worker_threads").parentPort.postMessage("spinning"); for (;;) {}', { eval: true })
  await new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  return worker
}

async function partP99(opts, ctx) {
  const world = new World(opts.p99Dim, opts.seed)
  const t = await ensureTemplate(opts, world)
  // Sessions for the windows come from the whole pool (as searches do).
  const w = workload(t.cls, t.queries, t.queries.count, deriveSeed(opts.seed, 4))
  const IDLE = { background: false }
  const TRAINING = { background: true, trainEverySessions: 50, trainEveryMs: 100 }

  // The machine's speed drifts (other tenants share the host), and at 70%
  // load a 20% slower stretch is 90% load: so the rate is calibrated again
  // before every rep, on an idle copy, with the window's own work.
  const calibrate = async () => {
    const probe = await openCopy(IDLE)
    await closedLoopRate(probe.db, w, 0.5, opts.feedbackEvery)
    await gc()
    const r = await closedLoopRate(probe.db, w, 3, opts.feedbackEvery)
    await probe.dispose()
    return r
  }
  info('\n[p99] host stalls: a clock-reading loop on this thread, alone and beside one busy-looping thread (2 × 5 s each) ...')
  const stalls = await hostStalls()
  info(`  alone: ${stallLine(stalls.alone)}; beside a busy thread: ${stallLine(stalls.beside)}`)
  info(`\n[p99] ${opts.reps} rep(s): each calibrates the closed-loop rate (3 s), then paces every arm at ${opts.load * 100}% of it for ${opts.window} s ...`)
  const m0 = performance.now()
  const qpsRuns = []

  // The control arm: no trainer, but one thread of this process spinning
  // (a worker thread in a busy loop), i.e. the CPU demand of a trainer that
  // runs back to back without anything else it does. If it hurts as much as
  // training, the cost is the core budget, not the learner.
  const ARM_NAMES = ['idle', 'training', ...(opts.control ? ['hog'] : []), ...(opts.cadenceArm ? ['cadence'] : [])]
  const learningOf = { idle: IDLE, training: TRAINING, hog: IDLE, cadence: { background: true } }
  const trains = (arm) => arm === 'training' || arm === 'cadence'
  const arms = Object.fromEntries(ARM_NAMES.map((a) => [a, []]))
  for (let rep = 0; rep < opts.reps; rep++) {
    const maxRate = await calibrate()
    qpsRuns.push(maxRate)
    const rate = opts.load * maxRate
    const order = ARM_NAMES.map((_, i) => ARM_NAMES[(i + rep) % ARM_NAMES.length])
    for (const arm of order) {
      const c = await openCopy(learningOf[arm])
      // Warm-up: every query once (page cache and caches), untimed.
      for (const q of t.queries.rows) c.db.searchSync(q, { k: 10 })
      const hog = arm === 'hog' ? await startHog() : null
      await gc()
      const before = c.db.learningStats()
      const res = await pacedWindow(c.db, w, rate, opts.window, opts.feedbackEvery)
      if (hog) await hog.terminate()
      const after = c.db.learningStats()
      res.trainings = after.trainings - before.trainings
      res.published = after.published - before.published
      res.activeAtEnd = after.active
      res.sessionsAtEnd = after.sessions
      res.lastTrainingMs = after.lastTrainingMs
      res.load = loadAverage()
      res.rate = rate
      await c.dispose()
      arms[arm].push(res)
      info(`  rep ${rep + 1} ${arm.padEnd(8)}: p50 ${fmt(res.p50)} µs, p99 ${fmt(res.p99)} µs, p99.9 ${fmt(res.p999)} µs, max ${fmt(res.max / 1000, 1)} ms (search itself p50 ${fmt(res.s50)} / p99 ${fmt(res.s99)} µs, busy ${pct(res.searchBusy)}), ${fmtInt(res.achieved)}/s of ${fmtInt(rate)}; main thread on CPU ${pct(res.mainCpu)}, waiting for one ${pct(res.mainWait)}; other threads on CPU ${pct(res.otherCpu)}; training passes ${res.trainings} (${res.published} published), last pass ${fmt(res.lastTrainingMs, 0)} ms; load ${res.load}`)
    }
  }
  const measureSec = (performance.now() - m0) / 1000

  const med = (arm, key) => median(arms[arm].map((r) => r[key]))
  const ratios = arms.training.map((r, i) => r.p99 / arms.idle[i].p99)
  const ratio = med('training', 'p99') / med('idle', 'p99')
  const ARM_LABELS = {
    idle: 'idle (background: false)',
    training: 'training back to back (background: true, trainEverySessions 50, trainEveryMs 100)',
    hog: 'control: idle + one busy-looping worker thread (no trainer)',
    cadence: 'training at the shipped cadence (background: true, trainEverySessions 200, trainEveryMs 30000)',
  }
  const rows = ARM_NAMES.map((arm) => [
    ARM_LABELS[arm],
    fmt(med(arm, 'p50')),
    fmt(med(arm, 'p90')),
    fmt(med(arm, 'p99')),
    fmt(med(arm, 'p999')),
    fmt(med(arm, 'max') / 1000, 2),
    fmt(med(arm, 's50')),
    fmt(med(arm, 's99')),
    fmtInt(med(arm, 'achieved')),
    pct(med(arm, 'searchBusy')),
    pct(med(arm, 'mainWait')),
    pct(med(arm, 'otherCpu')),
    !trains(arm) ? '0' : `${list(arms[arm].map((r) => r.trainings), 0)} (${list(arms[arm].map((r) => r.published), 0)} published)`,
    !trains(arm) ? '-' : list(arms[arm].map((r) => r.lastTrainingMs), 0),
    list(arms[arm].map((r) => r.p99)),
  ])
  const rawRows = []
  for (let rep = 0; rep < opts.reps; rep++) {
    for (const arm of ARM_NAMES) {
      const r = arms[arm][rep]
      rawRows.push([rep + 1, arm, fmt(r.p50), fmt(r.p99), fmt(r.p999), fmt(r.max / 1000, 2), fmt(r.s99), fmt(r.svcMax / 1000, 2), fmt(r.tickMaxMs, 2), fmtInt(r.count), fmtInt(r.rate), pct(r.searchBusy), `${pct(r.mainCpu)} / ${pct(r.mainWait)}`, pct(r.otherCpu), pct(r.processCpu), r.trainings, r.published, fmtInt(r.sessionsAtEnd), r.errors, r.load])
    }
  }
  return {
    key: 'p99',
    intro: [
      templateNote(t),
      `Rate: before every rep, one idle copy runs the window's own work closed-loop for 3 s (\`searchSync(q, { k: 10 })\` with the model serving, over the pool, one \`feedback()\` per ${opts.feedbackEvery} searches, a yield to the event loop every 64): ${list(qpsRuns, 0)} searches/s per rep (median ${fmtInt(median(qpsRuns))}). Every arm of that rep paces searches at ${Math.round(opts.load * 100)}% of it for ${opts.window} s on the main thread (busy-wait scheduler, yielding to the event loop when there is slack or every 64 searches); latency is open-loop, from each search's scheduled time to its return. The same \`feedback()\` (honest clicks, not awaited) per ${opts.feedbackEvery} searches in every arm, so the JS-thread work is the same; only the trainer differs. Calibrating per rep matters on a shared host: the machine's speed drifts by ±20% over minutes, and at 70% load a slower stretch is 85–90% load, where queueing dominates p99. Windows are short and many for the same reason: the host stalls this VM for tens of milliseconds now and then, in idle windows as much as in the others, and a median over many short windows sees past the few it lands in.`,
      `Arms: **idle** opens the copy with \`background: false\` (feedback is logged, nothing trains); **training** with \`background: true, trainEverySessions: 50, trainEveryMs: 100\`, so a pass starts as soon as the previous one ends (the passes column counts \`learningStats().trainings\` during each window). ${opts.control ? '**control** opens it like idle and runs a worker thread in a busy loop for the window: the CPU demand of a trainer running back to back, without the learner. ' : ''}${opts.cadenceArm ? `**cadence** trains at the shipped defaults (a pass per 200 new sessions or 30 s): at one feedback per ${opts.feedbackEvery} searches, a pass every couple of seconds. ` : ''}${opts.reps} rep(s), the order of the arms rotating from rep to rep; cells are medians over reps.`,
      `Diagnostics: "search itself" is the duration of each \`searchSync\` call alone (no queueing behind earlier searches); "longest event-loop turn" the longest yield to the event loop (feedback resolutions, finalizers). "main thread waiting for a CPU" is the share of the window the JS thread spent runnable but not running (\`/proc/thread-self/schedstat\`); "other threads on a CPU" is the CPU time of every other thread of the process (the trainer's pass, write and GC threads) as a share of the window (100% = one core), "process CPU" all threads: on ${os.cpus().length} cores shared with other work, a trainer that takes a whole core can push the JS thread off its own, and at ${Math.round(opts.load * 100)}% load every such delay queues the searches behind it. The host-stall probe spins on the JS thread reading the clock, alone and then beside one busy-looping worker thread: a gap over 1 ms between two readings is time the thread was runnable but not running, and on a VM whose CPUs the host shares, a second busy CPU makes such gaps many and long (the guest's scheduler does not see them: the thread counts as running).`,
    ],
    tables: [
      { header: ['arm', 'p50 µs', 'p90 µs', 'p99 µs', 'p99.9 µs', 'max ms', 'search itself p50 µs', 'search itself p99 µs', 'searches/s', 'main thread in searchSync', 'main thread waiting for a CPU', 'other threads on a CPU', 'training passes per window', 'last pass ms', 'p99 per rep µs'], rows },
      { title: 'Every window', header: ['rep', 'arm', 'p50 µs', 'p99 µs', 'p99.9 µs', 'max ms', 'search itself p99 µs', 'longest search ms', 'longest event-loop turn ms', 'searches', 'paced at /s', 'main thread in searchSync', 'main thread on / waiting for a CPU', 'other threads on a CPU', 'process CPU', 'passes', 'published', 'log sessions at end', 'feedback errors', 'load avg after'], rows: rawRows },
    ],
    targets: [
      { name: `search p99 while training / idle, ${fmtInt(t.n)} × ${t.dim}, ${Math.round(opts.load * 100)}% of the max rate`, value: `${fmt(med('training', 'p99'))} / ${fmt(med('idle', 'p99'))} µs = ${fmt(ratio, 2)}× (per rep ${list(ratios, 2)})`, target: `≤ ${TARGETS.p99Ratio}×`, result: verdict(ratio, TARGETS.p99Ratio) },
      ...(opts.control
        ? [{ name: '  control: p99 with a busy-looping thread instead of the trainer / idle', value: `${fmt(med('hog', 'p99'))} / ${fmt(med('idle', 'p99'))} µs = ${fmt(med('hog', 'p99') / med('idle', 'p99'), 2)}× (JS thread waiting for a CPU ${pct(med('hog', 'mainWait'))} of the window)`, target: '(diagnostic)', result: 'info' }]
        : []),
      ...(opts.cadenceArm
        ? [{ name: '  p99 while training at the shipped cadence / idle', value: `${fmt(med('cadence', 'p99'))} / ${fmt(med('idle', 'p99'))} µs = ${fmt(med('cadence', 'p99') / med('idle', 'p99'), 2)}× (${list(arms.cadence.map((r) => r.trainings), 0)} passes per window)`, target: '(reported)', result: 'info' }]
        : []),
      { name: '  diagnostic: the JS thread not running although runnable (a clock-reading loop), alone / beside one busy thread', value: `${stallLine(stalls.alone)} / ${stallLine(stalls.beside)}`, target: '(diagnostic)', result: 'info' },
      { name: '  diagnostic: p99 of the search call alone (no queueing), training / idle; JS thread waiting for a CPU', value: `${fmt(med('training', 's99'))} / ${fmt(med('idle', 's99'))} µs = ${fmt(med('training', 's99') / med('idle', 's99'), 2)}×; waiting ${pct(med('training', 'mainWait'))} vs ${pct(med('idle', 'mainWait'))} of the window`, target: '(diagnostic)', result: 'info' },
    ],
    timing: { measure: measureSec },
  }
}

// ------------------------------------------------------------ part 3: feedback to published model

async function partPublish(opts, ctx) {
  const world = new World(opts.p99Dim, opts.seed)
  const t = await ensureTemplate(opts, world)
  const w = workload(t.cls, t.queries, 500, deriveSeed(opts.seed, 5))
  const m0 = performance.now()
  const c = await openCopy({ background: true })
  const { db } = c
  const cadence = 200 // the default trainEverySessions
  info(`\n[publish] ${opts.trials} trial(s): ${cadence} new sessions each, background trainer on its default cadence ...`)
  const trials = []
  for (let trial = 0; trial < opts.trials; trial++) {
    const before = db.learningStats()
    if (before.sessionsSinceTraining !== 0) throw new Error(`${before.sessionsSinceTraining} sessions pending before a trial`)
    await feedSessions(db, w, cadence - 1, 1)
    // The 200th session, timed.
    const q = Math.floor(w.random() * w.head)
    const { searchId, hits } = db.searchSync(w.queries.rows[q], { k: 10 })
    const clicked = honestClicks(hits, w.queries.cls[q], w.itemCls, w.random)
    const t0 = performance.now()
    await db.feedback({ searchId, clicked, converted: [] })
    const acked = performance.now() - t0
    let stats
    let ms
    let published = false
    for (;;) {
      stats = db.learningStats()
      ms = performance.now() - t0
      if (stats.modelVersion > before.modelVersion) {
        published = true
        break
      }
      if (stats.trainings > before.trainings) {
        // The pass ended; a read after this one is certain to see its model.
        stats = db.learningStats()
        published = stats.modelVersion > before.modelVersion
        break
      }
      if (ms > 120000) throw new Error('no training pass within 120 s of the 200th session')
      await sleep(5)
    }
    const r = { ms, acked, passMs: stats.lastTrainingMs, published, version: stats.modelVersion, sessions: stats.sessions, z: stats.validationZ }
    trials.push(r)
    info(`  trial ${trial + 1}: ${published ? 'published' : 'NOT published'} v${r.version} ${fmt(ms, 0)} ms after the 200th feedback() call (acknowledged in ${fmt(acked, 2)} ms); pass ${fmt(r.passMs, 0)} ms on ${fmtInt(r.sessions)} sessions, z ${fmt(r.z, 2)}`)
  }
  await c.dispose()
  const measureSec = (performance.now() - m0) / 1000
  const ok = trials.filter((r) => r.published)
  const rows = trials.map((r, i) => [i + 1, fmtInt(r.sessions), fmt(r.ms, 0), fmt(r.passMs, 0), fmt(r.ms - r.passMs, 0), fmt(r.acked, 2), r.published ? `yes (v${r.version})` : 'no', fmt(r.z, 2)])
  rows.push(['median', '', fmt(median(trials.map((r) => r.ms)), 0), fmt(median(trials.map((r) => r.passMs)), 0), fmt(median(trials.map((r) => r.ms - r.passMs)), 0), fmt(median(trials.map((r) => r.acked)), 2), `${ok.length}/${trials.length}`, ''])
  return {
    key: 'publish',
    intro: [
      templateNote(t),
      `One copy opened with \`background: true\` and the default cadence (\`trainEverySessions: 200\`, \`trainEveryMs: 30000\`). Per trial: 199 honest sessions (searchSync + awaited feedback), then the 200th, timed from its \`feedback()\` call; \`learningStats()\` is polled every 5 ms until \`modelVersion\` increases (or the pass ends unpublished). "pass ms" is \`lastTrainingMs\`; "wake-up + poll" = time to published − pass (waking the trainer, the 200th write, up to 5 ms of polling). The log grows by 200 sessions per trial.`,
    ],
    tables: [{ header: ['trial', 'log sessions', 'time to published ms', 'pass ms (lastTrainingMs)', 'wake-up + poll ms', '200th feedback acked ms', 'published', 'z'], rows }],
    targets: [
      { name: `time from the 200th new session to a published model, ${fmtInt(t.n)} × ${t.dim}`, value: `${fmt(median(trials.map((r) => r.ms)), 0)} ms median (pass ${fmt(median(trials.map((r) => r.passMs)), 0)} ms); ${ok.length}/${trials.length} passes published`, target: '(reported)', result: 'info' },
    ],
    timing: { measure: measureSec },
  }
}

// ------------------------------------------------------------ part 4: feedback JS-thread cost

// `calls` feedback() calls (after `warmup` untimed ones), each after its
// own untimed searchSync; at most `inFlight` unresolved at once. Times each
// until it returns its Promise and until that Promise resolves (seen by a
// callback, so with several in flight it includes waiting for the JS thread).
async function timeFeedback(db, w, calls, warmup, inFlight = 1) {
  const ret = new Float64Array(calls)
  const res = new Float64Array(calls)
  const pending = new Set()
  for (let i = -warmup; i < calls; i++) {
    const q = Math.floor(w.random() * w.head)
    const { searchId, hits } = db.searchSync(w.queries.rows[q], { k: 10 })
    const clicked = honestClicks(hits, w.queries.cls[q], w.itemCls, w.random)
    const fb = { searchId, clicked, converted: [] }
    const s = nowNs()
    const p = db.feedback(fb)
    const returned = nowNs()
    const at = i
    const settled = p.then(() => {
      if (at >= 0) res[at] = (nowNs() - s) / 1e3
      pending.delete(settled)
    })
    pending.add(settled)
    if (i >= 0) ret[i] = (returned - s) / 1e3
    if (pending.size >= inFlight) await Promise.race(pending)
  }
  await Promise.all(pending)
  return { ret: pcts(ret, [0.5, 0.9, 0.99]), res: pcts(res, [0.5, 0.9, 0.99]) }
}

async function partFeedback(opts, ctx) {
  const world = new World(opts.p99Dim, opts.seed)
  const t = await ensureTemplate(opts, world)
  const w = workload(t.cls, t.queries, 500, deriveSeed(opts.seed, 6))
  const m0 = performance.now()
  const runs = 3
  const batchCalls = Math.min(opts.feedbackCalls, 1000)
  const VARIANTS = [
    { key: 'none1', durability: 'none', inFlight: 1, calls: opts.feedbackCalls },
    { key: 'none8', durability: 'none', inFlight: 8, calls: opts.feedbackCalls },
    { key: 'batch1', durability: 'batch', inFlight: 1, calls: batchCalls },
  ]
  const results = Object.fromEntries(VARIANTS.map((v) => [v.key, []]))
  info(`\n[feedback] ${runs} run(s) of: ${VARIANTS.map((v) => `${fmtInt(v.calls)} calls, durability '${v.durability}', ${v.inFlight} in flight`).join('; ')} ...`)
  for (let r = 0; r < runs; r++) {
    for (const v of VARIANTS) {
      const c = await openCopy({ background: false }, v.durability)
      await gc()
      const x = await timeFeedback(c.db, w, v.calls, 200, v.inFlight)
      await c.dispose()
      results[v.key].push(x)
      info(`  run ${r + 1} '${v.durability}', ${v.inFlight} in flight: returns p50 ${fmt(x.ret[0], 2)} / p90 ${fmt(x.ret[1], 2)} µs; resolves p50 ${fmt(x.res[0], 1)} / p90 ${fmt(x.res[1], 1)} µs`)
    }
  }
  const measureSec = (performance.now() - m0) / 1000
  const med = (k, key, i) => median(results[k].map((x) => x[key][i]))
  const rows = []
  for (const v of VARIANTS) {
    const how = `'${v.durability}', ${v.inFlight === 1 ? '1 in flight (each awaited)' : `${v.inFlight} in flight`}`
    rows.push([`until feedback() returns its Promise (JS thread)`, how, fmtInt(v.calls), fmt(med(v.key, 'ret', 0), 2), fmt(med(v.key, 'ret', 1), 2), fmt(med(v.key, 'ret', 2), 2), list(results[v.key].map((x) => x.ret[0]), 2)])
    rows.push([`until it resolves`, how, fmtInt(v.calls), fmt(med(v.key, 'res', 0), 1), fmt(med(v.key, 'res', 1), 1), fmt(med(v.key, 'res', 2), 1), list(results[v.key].map((x) => x.res[0]), 1)])
  }
  const p50 = med('none1', 'ret', 0)
  const p50many = med('none8', 'ret', 0)
  return {
    key: 'feedback',
    intro: [
      templateNote(t),
      `Each call: an untimed \`searchSync\` and simulated clicks, then \`db.feedback({ searchId, clicked, converted: [] })\` timed until it returns (the Promise) and until that Promise resolves; either each call awaited before the next (1 in flight) or up to 8 unresolved at once. ${runs} runs per variant, each on a fresh copy with \`background: false\`, after 200 untimed calls; cells are medians over runs. \`'none'\` resolves once the session is logged (no fsync, like an in-memory database); \`'batch'\` (the default for a file) once its write-ahead-log record is fsynced, batched every ≤ 10 ms.`,
    ],
    tables: [{ header: ['time', 'durability, calls in flight', 'calls per run', 'p50 µs', 'p90 µs', 'p99 µs', 'p50 per run'], rows }],
    targets: [
      { name: 'JS-thread cost of feedback(): p50 until it returns its Promise, each call awaited', value: `${fmt(p50, 2)} µs (p90 ${fmt(med('none1', 'ret', 1), 2)} µs)`, target: `≤ ${TARGETS.feedbackP50Us} µs`, result: verdict(p50, TARGETS.feedbackP50Us) },
      { name: 'the same with 8 calls in flight', value: `${fmt(p50many, 2)} µs (p90 ${fmt(med('none8', 'ret', 1), 2)} µs)`, target: `≤ ${TARGETS.feedbackP50Us} µs`, result: verdict(p50many, TARGETS.feedbackP50Us) },
    ],
    timing: { measure: measureSec },
  }
}

// ------------------------------------------------------------ part 5: training at scale

async function partTrain(opts, ctx) {
  const world = new World(opts.bigDim, opts.seed)
  const floor = Math.floor(opts.bigN / 2)
  info(`\n[train] building ${fmtInt(opts.bigN)} × ${opts.bigDim} in memory (budget ${opts.buildBudget} min, else ${fmtInt(floor)}) ...`)
  const rssEmpty = memory()
  const built = await buildIndex(world, opts.bigN, { learning: { explore: 0, background: false } }, { budget: { minutes: opts.buildBudget, floor }, label: '[train] ' })
  const { db } = built
  await gc()
  const rssBuilt = memory()
  // Sessions repeat queries (10 per query by default): with fewer repeats
  // the clicks of 10,000 sessions on this data do not reach the guardrail's
  // z at 100k-1M items, and the pass would end unpublished.
  const queries = makeQueries(world, opts.bigPool)
  const w = workload(built.cls, queries, queries.count, deriveSeed(opts.seed, 7))
  info(`[train] built ${fmtInt(built.n)} in ${fmtSec(built.buildSec)} (RSS ${fmtMB(rssBuilt.rss)} MB); feeding ${fmtInt(opts.bigSessions)} honest sessions ...`)
  const f0 = performance.now()
  await feedSessions(db, w, opts.bigSessions)
  const feedSec = (performance.now() - f0) / 1000
  await gc()
  const before = memory()
  const statsBefore = db.learningStats()
  info(`[train] fed in ${fmtSec(feedSec)}; log ${fmtInt(statsBefore.sessions)} sessions, heapBytes ${fmtMB(statsBefore.heapBytes)} MB, RSS ${fmtMB(before.rss)} MB; ${opts.trainRuns} × train() ...`)
  const runs = []
  for (let r = 0; r < opts.trainRuns; r++) {
    const rssBefore = process.memoryUsage().rss
    const t0 = performance.now()
    const { value: report, peak } = await withRssPeak(() => db.train())
    const ms = performance.now() - t0
    const stats = db.learningStats()
    const rssAfter = process.memoryUsage().rss
    runs.push({ ms, passMs: stats.lastTrainingMs, report, rssBefore, rssAfter, peak, heapBytes: stats.heapBytes, stats })
    info(`  train ${r + 1}: ${fmt(ms, 0)} ms (lastTrainingMs ${fmt(stats.lastTrainingMs, 0)}), ${report.pairs} pairs, z ${fmt(report.validationZ, 2)}, published ${report.published}; RSS ${fmtMB(rssBefore)} → peak ${fmtMB(peak)} → ${fmtMB(rssAfter)} MB; heapBytes ${fmtMB(stats.heapBytes)} MB`)
  }
  const after = memory()
  const base = precision(db, { ...w, queries: { ...queries, count: Math.min(queries.count, 1000) } }, false)
  const learned = precision(db, { ...w, queries: { ...queries, count: Math.min(queries.count, 1000) } }, true)
  await db.close()
  const last = runs[runs.length - 1]
  const rows = runs.map((r, i) => [
    i + 1,
    fmt(r.ms, 0),
    fmt(r.passMs, 0),
    fmtInt(r.report.sessions),
    fmtInt(r.report.pairs),
    fmt(r.report.validationZ, 2),
    r.report.published ? 'yes' : 'no',
    fmtMB(r.rssBefore),
    fmtMB(r.peak),
    fmtMB(r.rssAfter),
    fmtMB(r.heapBytes),
  ])
  rows.push(['median', fmt(median(runs.map((r) => r.ms)), 0), fmt(median(runs.map((r) => r.passMs)), 0), '', '', '', '', '', fmtMB(median(runs.map((r) => r.peak))), '', fmtMB(median(runs.map((r) => r.heapBytes)))])
  const sizeNote = built.stoppedAt
    ? `**Built ${fmtInt(built.n)} items, not ${fmtInt(opts.bigN)}**: at ${fmtInt(built.n)} the projected build time for ${fmtInt(opts.bigN)} was ${fmtSec(built.projectedFullSec)}, over the ${opts.buildBudget}-minute budget.`
    : `Built all ${fmtInt(built.n)} items.`
  return {
    key: 'train',
    intro: [
      `Index: ${fmtInt(built.n)} × ${opts.bigDim} in memory, \`insertBatch\` in chunks of ${fmtInt(Math.min(opts.bigN, opts.bigN >= 500000 ? 50000 : 100000))} (data generated between chunks, not timed): build ${fmtSec(built.buildSec)}. ${sizeNote} ${world.describe()}.`,
      `Then ${fmtInt(opts.bigSessions)} honest sessions (searchSync + feedback, 4 in flight; queries drawn uniformly from a ${fmtInt(queries.count)}-query pool, so each recurs about ${fmtInt(opts.bigSessions / queries.count)} times) in ${fmtSec(feedSec)}: the log holds ${fmtInt(statsBefore.sessions)} sessions (the default buffer is 10,000). Then ${opts.trainRuns} × \`await db.train()\` on that log, timed from the call to its resolution; RSS sampled every 20 ms while it runs (peak). precision@10 (first ${fmtInt(Math.min(queries.count, 1000))} pool queries): base ${fmt(base, 3)}, with the model ${fmt(learned, 3)}.`,
      `Memory: RSS ${fmtMB(rssEmpty.rss)} MB at the start of this part, ${fmtMB(rssBuilt.rss)} MB after the build, ${fmtMB(before.rss)} MB after feeding (before the first train()), ${fmtMB(after.rss)} MB after the last; process peak (VmHWM, includes the build) ${fmtMB(after.hwm)} MB. \`learningStats().heapBytes\` (log + serving model): ${fmtMB(statsBefore.heapBytes)} MB before training, ${fmtMB(last.heapBytes)} MB after. ${modelLine(last.stats)}.`,
    ],
    tables: [{ header: ['train()', 'wall ms', 'lastTrainingMs', 'sessions', 'pairs', 'z', 'published', 'RSS before MB', 'RSS peak MB', 'RSS after MB', 'heapBytes MB'], rows }],
    targets: [
      { name: `train() on ${fmtInt(statsBefore.sessions)} sessions, ${fmtInt(built.n)} × ${opts.bigDim}${built.stoppedAt ? ` (${fmtInt(opts.bigN)} over budget)` : ''}`, value: `${fmt(median(runs.map((r) => r.ms)) / 1000, 2)} s median; RSS +${fmtMB(median(runs.map((r) => r.peak - r.rssBefore)))} MB at peak; heapBytes ${fmtMB(last.heapBytes)} MB`, target: '(reported)', result: 'info' },
    ],
    timing: { build: built.buildSec, feed: feedSec },
  }
}

// ------------------------------------------------------------ output

function printPart(part, env) {
  log(`\n=== ${PART_TITLES[part.key]} ===`)
  log(`CPU: ${env.cpu}; flags: ${env.simd}`)
  for (const line of part.intro) log(`  ${line.replace(/\*\*|`/g, '')}`)
  for (const t of part.tables) {
    if (t.title) log(`\n${t.title}:`)
    log(textTable(t.header, t.rows))
  }
  log('')
  log(textTable(['target', 'measured', 'target', 'result'], part.targets.map((c) => [c.name, c.value, c.target, c.result])))
  log(`  (part took ${fmtSec(part.seconds)})`)
}

function markdown({ env, opts, parts, started }) {
  const out = []
  out.push('# Learning performance: rerank overhead, p99 under training, time to publish, feedback cost, training at scale', '')
  out.push('Reproduce with:', '', '```sh', commandLine(), '```', '')
  out.push(`- Date: ${env.date}`)
  out.push(`- Machine: ${env.cpu}, ${env.cores} cores, ${fmt(env.memGB, 0)} GiB RAM; ${env.platform}; Node ${env.node}`)
  out.push(`- CPU flags: ${env.simd}`)
  out.push(`- Load average (1/5/15 min) at start: ${env.loadStart}; at end: ${env.loadEnd || loadAverage()} (the machine is shared with other work: timings are medians of several runs)`)
  out.push(`- Build: ${buildLine(opts.build)}`)
  out.push(`- Every index: cosine, M=16, efConstruction=200, efSearch=64, k=10; \`learning: { explore: 0 }\` (no interleaved searches), default model settings (rerankDepth 100).`)
  out.push(`- Data (seed ${opts.seed}): latent classes. ${CLASSES} random unit class centres and ${STYLES} random unit "style" directions shared across classes; a vector of class c is centre[c] + ${STYLE_WEIGHT}·style[s] + gaussian noise (s uniform), the noise's total length calibrated per dimension (2.5·(dim/128)^0.3: 2.5 at 128-d, 3.5 at 384-d) so that base precision@10 is around one half, leaving the model something to learn. Relevant = same class. Queries are drawn the same way from their own random stream.`)
  out.push(`- Simulated users: examine rank r (0-based) with probability 1/(r+1)^0.8, click an examined hit with probability 0.9 if relevant, 0.1 if not; no conversions.`)
  out.push(`- Whole run: ${fmtSec((performance.now() - started) / 1000)}${parts.length < opts.only.length ? ' so far (report rewritten after each part)' : ''}.`)
  out.push('')
  const crit = parts.flatMap((p) => p.targets)
  out.push('## Summary', '', mdTable(['target', 'measured', 'target', 'result'], crit.map((c) => [c.name, c.value, c.target, c.result])), '')
  out.push(mdTable(['part', 'took', 'of which'], parts.map((p) => [PART_TITLES[p.key], fmtSec(p.seconds), Object.entries(p.timing || {}).map(([k, v]) => `${k} ${fmtSec(v)}`).join(', ')])), '')
  for (const part of parts) {
    out.push(`## ${PART_TITLES[part.key]}`, '')
    out.push(`CPU flags: ${env.simd}. Took ${fmtSec(part.seconds)}.`, '')
    for (const line of part.intro) out.push(`- ${line}`)
    out.push('')
    for (const t of part.tables) {
      if (t.title) out.push(`${t.title}:`, '')
      out.push(mdTable(t.header, t.rows), '')
    }
    out.push(mdTable(['target', 'measured', 'target', 'result'], part.targets.map((c) => [c.name, c.value, c.target, c.result])), '')
  }
  return out.join('\n')
}

// ------------------------------------------------------------ main

const RUNNERS = { rerank: partRerank, p99: partP99, publish: partPublish, feedback: partFeedback, train: partTrain }

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  if (opts.help) return log(USAGE)
  const started = performance.now()
  const env = envInfo()
  opts.build = buildInfo()
  log(`Learning performance benchmark — ${env.date}`)
  log(`CPU: ${env.cpu} (${env.cores} cores; flags: ${env.simd}), Node ${env.node}, ${env.platform}, load average ${env.loadStart}`)
  log(buildLine(opts.build))
  log(`parts: ${opts.only.join(', ')}${opts.quick ? ' (--quick)' : ''}; a full GC (and the finalizers it queues) runs before every timed pass`)
  const out = path.resolve(opts.out || path.join(__dirname, 'results', 'learning-perf.md'))
  const parts = []
  const ctx = {}
  for (const key of ALL_PARTS.filter((p) => opts.only.includes(p))) {
    const t0 = performance.now()
    const part = await RUNNERS[key](opts, ctx)
    part.seconds = (performance.now() - t0) / 1000
    parts.push(part)
    printPart(part, env)
    if (opts.md) {
      fs.mkdirSync(path.dirname(out), { recursive: true })
      fs.writeFileSync(out, markdown({ env, opts, parts, started }))
    }
  }
  env.loadEnd = loadAverage()
  log(`\n=== Summary ===`)
  log(textTable(['target', 'measured', 'target', 'result'], parts.flatMap((p) => p.targets).map((c) => [c.name, c.value, c.target, c.result])))
  log(`\nload average (1/5/15 min) at start: ${env.loadStart}; at end: ${env.loadEnd}; whole run ${fmtSec((performance.now() - started) / 1000)}`)
  if (opts.md) {
    fs.writeFileSync(out, markdown({ env, opts, parts, started }))
    log(`Markdown report written to ${path.relative(process.cwd(), out)}`)
  }
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof UsageError ? `error: ${e.message}` : e && e.stack ? e.stack : e)
    process.exit(1)
  })
}

// The data and the simulated users, for ad-hoc experiments and profiling.
module.exports = { World, makeQueries, buildIndex, honestClicks, workload, feedSessions, trainUntilActive, precision }
