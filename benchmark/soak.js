'use strict'
// Concurrency soak: one file-backed database written and searched from
// every side at once for a set time, then checked against an exact model.
//
//   node benchmark/soak.js [--duration 600] [--seed 1] [--out FILE]
//                          [--lanes 8] [--workers 2] [--worker-lanes 4]
//                          [--pool 400] [--hang-timeout 120] [--note TEXT]
//
// - The main thread runs --lanes writers ("lanes": many Promises in flight
//   at once), each a loop of random inserts, upserts, updates, deletes,
//   batch inserts (some given an AbortSignal that fires mid-way), gets,
//   searches with and without filters, searchSync, searchBatch and
//   feedback on the ids its searches returned; plus, on timers, save()
//   every 6 s, train() every 4 s (every third one abortable) and compact()
//   every 10 s. Automatic checkpoints fire every 256 KiB of log or 3 s; the
//   background trainer runs every 200 sessions or 5 s.
// - --workers worker_threads hold the same database (handle() /
//   VectorDB.attach) and run --worker-lanes lanes each, posting every
//   acknowledged write to the main thread.
// - One other process opens the file read-only, refresh()es every
//   100-400 ms and searches throughout (lib/soak-reader.js).
//
// Each lane owns --pool ids and awaits each of its calls before the next,
// so the model (lib/soak-workload.js) is exact. When the time is up every
// writer stops and the checks run: the database holds exactly the model's
// items (get returns each live id's Float32 vector and metadata, null for
// every other id; size agrees), searches return only live ids that pass
// their filter, the reader (refreshed after the writers stopped, and again
// after a final save) agrees, and so does the file reopened after close.
// Any rejection whose code is not expected for its call
// (EXPECTED_CODES) fails the run, as does any result contradicting the
// model during the run. RSS and the file plus its log are sampled every
// second, and RSS again every 10 s right after a full garbage collection
// on every thread ("settled": V8 grows a busy heap's capacity long before
// it collects, so raw RSS climbs with garbage); their least-squares slopes
// after warm-up (the first 25% of the run, at least 2 minutes for runs of
// 8 minutes or more) are reported, and for runs of 5 minutes or more the
// settled RSS and the file's must each be under 1 MB (2^20 bytes) per
// minute. The exit code is non-zero when any check fails. A hang (no call
// settling on any thread, or the main thread stuck, for --hang-timeout
// seconds) kills the process with a message saying which
// (lib/soak-watchdog.js).
//
// --out writes a Markdown report (e.g. benchmark/results/soak.md).

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { fork } = require('node:child_process')
const { Worker } = require('node:worker_threads')
const { eachArgument, UsageError } = require('./lib/args')
const { loadAverage, mdTable, textTable } = require('./lib/report')
const { mulberry32 } = require('./lib/rng')
const { DIMENSIONS, EXPECTED_CODES, FILTERS, Lane, Model, Tally, attempt, checkHits, checkItem, exposeGc, liveJsBytes, sleep, vectorFor } = require('./lib/soak-workload')

// Same convention as lib/adapters.js: hnsw-gnn from the project root, or
// from HNSW_GNN_MODULE (e.g. an installed package).
const MODULE = process.env.HNSW_GNN_MODULE ? path.resolve(process.env.HNSW_GNN_MODULE) : path.join(__dirname, '..')
const { VectorDB, limits } = require(MODULE)

const SAVE_EVERY_MS = 6000
const TRAIN_EVERY_MS = 4000
const COMPACT_EVERY_MS = 10000
const SLOPE_LIMIT_MB_PER_MIN = 1
const SLOPE_ASSERTED_FROM_S = 300
const COLLECT_EVERY_MS = 10000
const MB = 2 ** 20

const DB_OPTIONS = {
  dimensions: DIMENSIONS,
  metric: 'euclidean',
  recentSearches: 5000,
  checkpoint: { bytes: 256 << 10, ageMs: 3000 },
  // A feedback log of 2,000 sessions fills within the warm-up, so the
  // memory slope after it measures leaks, not the log's designed growth.
  learning: { bufferSessions: 2000, trainEverySessions: 200, trainEveryMs: 5000, minSessions: 50 },
}

function parseArgs(argv) {
  const args = { duration: 600, seed: 1, out: null, lanes: 8, workers: 2, workerLanes: 4, pool: 400, hangTimeout: 120, note: null }
  const positive = (flag, text) => {
    const value = Number(text)
    if (!Number.isInteger(value) || value <= 0) throw new UsageError(`--${flag} expects a positive integer, got "${text}"`)
    return value
  }
  eachArgument(argv, (arg, flag, next) => {
    if (arg === '-h' || arg === '--help') {
      const lines = fs.readFileSync(__filename, 'utf8').split('\n')
      console.log(lines.slice(1, lines.findIndex((l, i) => i > 0 && !l.startsWith('//'))).join('\n').replace(/^\/\/ ?/gm, ''))
      process.exit(0)
    } else if (flag === 'duration') args.duration = positive(flag, next())
    else if (flag === 'seed') args.seed = positive(flag, next())
    else if (flag === 'lanes') args.lanes = positive(flag, next())
    else if (flag === 'workers') args.workers = positive(flag, next())
    else if (flag === 'worker-lanes') args.workerLanes = positive(flag, next())
    else if (flag === 'pool') args.pool = positive(flag, next())
    else if (flag === 'hang-timeout') args.hangTimeout = positive(flag, next())
    else if (flag === 'out') args.out = next()
    else if (flag === 'note') args.note = next()
    else throw new UsageError(`unknown option ${arg} (see --help)`)
  })
  return args
}

// ------------------------------------------------------------ environment

function environment() {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : ''
  const flags = (cpuinfo.match(/^flags\s*:(.*)$/m)?.[1] ?? '').split(/\s+/).filter((f) => /^(fma|avx|avx2|avx512\w*)$/.test(f))
  return {
    cpu: cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1].trim() ?? os.cpus()[0]?.model ?? 'unknown CPU',
    cores: os.availableParallelism ? os.availableParallelism() : os.cpus().length,
    flags: flags.length ? flags.join(' ') : 'none of fma/avx/avx2/avx512',
    node: process.version,
    date: new Date().toISOString(),
    loadStart: loadAverage(),
    loadEnd: null,
  }
}

// ------------------------------------------------------------ the writers

// Every id of every lane of every writer, with the model's entry (or an
// absent one for ids never written).
function* allIds(args) {
  const owners = [['main', args.lanes], ...Array.from({ length: args.workers }, (_, w) => [`w${w}`, args.workerLanes])]
  for (const [owner, lanes] of owners) for (let lane = 0; lane < lanes; lane++) for (let i = 0; i < args.pool; i++) yield `${owner}.${lane}.${i}`
}

function startWorker(args, handle, w, counters, onAcks) {
  const worker = new Worker(path.join(__dirname, 'lib', 'soak-worker.js'), {
    workerData: { module: MODULE, handle, owner: `w${w}`, lanes: args.workerLanes, pool: args.pool, seed: args.seed, counters },
  })
  const state = { worker, items: 0, heapBytes: 0, result: null, failure: null }
  state.ready = new Promise((resolve) => {
    worker.on('message', (message) => {
      if (message.type === 'acks') onAcks(message.acks)
      else if (message.type === 'heap') state.heapBytes = message.bytes
      else if (message.type === 'collected') state.collected?.()
      else if (message.type === 'ready') {
        state.items = message.items
        resolve()
      } else if (message.type === 'done') state.result = message
      else if (message.type === 'failed') {
        state.failure = message.error.message
        resolve()
      }
    })
  })
  state.exited = new Promise((resolve) => {
    worker.on('error', (error) => (state.failure = String(error?.stack ?? error)))
    worker.on('exit', (code) => {
      if (code !== 0 && !state.failure) state.failure = `exited with code ${code}`
      if (!state.result && !state.failure) state.failure = 'exited without reporting'
      resolve()
    })
  })
  return state
}

function startReader(file, args, settle) {
  const child = fork(path.join(__dirname, 'lib', 'soak-reader.js'), [file, String(args.seed + 1000), MODULE], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const state = { child, ready: null, result: null, failure: null, rss: [], last: null, replies: new Map() }
  state.ready = new Promise((resolve) => {
    child.on('message', (message) => {
      if (message.type === 'ready') resolve()
      else if (message.type === 'status') {
        state.last = message
        state.rss.push({ t: performance.now(), bytes: message.rss })
      } else if (message.type === 'verified') {
        settle()
        state.replies.get(message.label)?.(message)
      } else if (message.type === 'done') state.result = message
      else if (message.type === 'failed') {
        state.failure = message.error.message
        resolve()
      }
    })
  })
  state.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      if (code !== 0 && !state.failure) state.failure = `exited with ${signal ?? `code ${code}`}`
      resolve()
    })
  })
  state.verify = (message) =>
    new Promise((resolve) => {
      state.replies.set(message.label, resolve)
      child.send({ type: 'verify', ...message })
    })
  return state
}

// A task on a timer until `stop.stopped`: waits `everyMs`, runs, repeats.
async function periodic(stop, everyMs, settle, task) {
  while (!stop.stopped) {
    const until = performance.now() + everyMs
    while (!stop.stopped && performance.now() < until) await sleep(Math.min(250, until - performance.now()))
    if (!stop.stopped) {
      await task()
      settle()
    }
  }
}

// The hang detector: a worker thread watching `counters` (see
// lib/soak-watchdog.js); `settle()` bumps the first, a timer on this
// thread the second. Neither keeps the process alive.
function startWatchdog(timeoutS) {
  const counters = new Int32Array(new SharedArrayBuffer(8))
  new Worker(path.join(__dirname, 'lib', 'soak-watchdog.js'), { workerData: { counters, timeoutS } }).unref()
  setInterval(() => Atomics.add(counters, 1, 1), 500).unref()
  return { counters, settle: () => Atomics.add(counters, 0, 1) }
}

// ------------------------------------------------------------ the checks

// The union of every writer's model, once they have all stopped.
function finalModel(args, mainModel, workerEntries) {
  const model = new Map()
  for (const id of allIds(args)) model.set(id, mainModel.entries.get(id) ?? workerEntries.get(id) ?? { id, live: false, issued: 0 })
  return model
}

// `db` against the model: every id's get, size, and searches of every
// kind (filtered and not, at random points and at deleted items' vectors)
// returning only live ids with the model's metadata. Also measures how
// many items an exhaustive search reaches and how often a live item is
// its own nearest neighbour (reported, not asserted: HNSW is approximate).
async function checkState(db, model, label, seed, settle) {
  const problems = new Tally()
  const live = [...model.values()].filter((e) => e.live)
  const dead = [...model.values()].filter((e) => !e.live && e.issued > 0)
  if (db.size !== live.length) problems.violation(`${label}: size ${db.size}, model ${live.length}`)
  const stats = db.stats()
  if (stats.items !== live.length) problems.violation(`${label}: stats().items ${stats.items}, model ${live.length}`)
  const entries = [...model.values()]
  for (let i = 0; i < entries.length; i += 256) {
    const chunk = entries.slice(i, i + 256)
    const items = await Promise.all(chunk.map((e) => db.get(e.id)))
    settle()
    chunk.forEach((e, j) => checkItem(problems, `${label} get`, items[j], e))
  }
  const random = mulberry32(seed)
  const int = (n) => Math.floor(random() * n)
  const searchAndCheck = async (query, options, accepts) => {
    const { hits } = await db.search(query, options)
    settle()
    checkHits(problems, `${label} search`, hits, { query, k: options.k, accepts })
    for (const hit of hits) {
      const e = model.get(hit.id)
      if (!e?.live) problems.violation(`${label}: search returned ${hit.id}, ${e ? 'deleted' : 'never inserted'}`)
    }
    return hits
  }
  for (let n = 0; n < 100; n++) await searchAndCheck(vectorFor(`q.${n}`, seed), { k: 50, efSearch: 128 })
  for (let n = 0; n < 120; n++) {
    const spec = FILTERS[n % FILTERS.length]
    await searchAndCheck(vectorFor(`fq.${n}`, seed), { k: 20, filter: spec.filter }, spec.accepts)
  }
  for (let n = 0; n < Math.min(100, dead.length); n++) {
    const e = dead[int(dead.length)]
    await searchAndCheck(vectorFor(e.id, e.vv || 1), { k: 10 })
  }
  const k = Math.min(live.length, limits.maxK)
  const everything = k > 0 ? await searchAndCheck(vectorFor('everything', seed), { k, efSearch: Math.min(limits.maxEfSearch, Math.max(k, 64)), rerank: false }) : []
  let self = 0
  const probes = Math.min(300, live.length)
  for (let n = 0; n < probes; n++) {
    const e = live[int(live.length)]
    const { hits } = await db.search(vectorFor(e.id, e.vv), { k: 1, rerank: false })
    settle()
    if (hits[0]?.id === e.id) self++
  }
  return {
    label,
    passed: problems.violations.count === 0,
    violations: problems.violations,
    live: live.length,
    deletedOrAbsent: model.size - live.length,
    exhaustiveCoverage: live.length ? everything.length / live.length : 1,
    selfRecall: probes ? self / probes : 1,
  }
}

// Least-squares slope of `bytes` over time after `fromMs`, in MB per minute.
function slope(samples, fromMs) {
  const points = samples.filter((s) => s.t >= fromMs)
  if (points.length < 3) return null
  const n = points.length
  const mt = points.reduce((a, p) => a + p.t, 0) / n
  const my = points.reduce((a, p) => a + p.bytes, 0) / n
  let cov = 0
  let varT = 0
  for (const p of points) {
    cov += (p.t - mt) * (p.bytes - my)
    varT += (p.t - mt) ** 2
  }
  return varT > 0 ? ((cov / varT) * 60000) / MB : null
}

// Growth of what stays alive in the JS heaps (main thread and workers)
// between the full collections at the start and the end of the run, in
// MB per minute; null where `gc` was not available.
function liveJsSlope(liveJs, workers, elapsedS) {
  const ends = [liveJs, ...workers.map((w) => ({ start: w.result?.liveJs?.[0] ?? null, end: w.result?.liveJs?.[1] ?? null }))]
  if (ends.some((e) => e.start === null || e.end === null)) return null
  const delta = ends.reduce((a, e) => a + e.end - e.start, 0)
  return delta / MB / (elapsedS / 60)
}

function fileBytes(file) {
  let total = 0
  for (const f of [file, `${file}-wal`]) {
    try {
      total += fs.statSync(f).size
    } catch (error) {
      if (error.code !== 'ENOENT') throw error
    }
  }
  return total
}

// ------------------------------------------------------------ the run

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const env = environment()
  const command = ['node benchmark/soak.js', ...process.argv.slice(2)].join(' ')
  console.log(`Concurrency soak — ${env.date}`)
  console.log(`CPU: ${env.cpu} (${env.cores} cores; flags: ${env.flags}), Node ${env.node}, load average ${env.loadStart}`)
  console.log(`${args.duration} s: ${args.lanes} lanes on the main thread, ${args.workers} workers × ${args.workerLanes} lanes, 1 read-only reader process; ${args.pool} ids per lane, ${DIMENSIONS} dimensions, seed ${args.seed}`)

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hnsw-gnn-soak-'))
  const file = path.join(dir, 'soak.hgnn')
  const unhandled = new Tally()
  process.on('unhandledRejection', (error) => unhandled.error('unhandledRejection', error))

  const db = new VectorDB({ ...DB_OPTIONS, path: file })
  const mainModel = new Model('main')
  const mainTally = new Tally()
  const tasksTally = new Tally()
  const stop = { stopped: false }
  const workerEntries = new Map()
  let acks = 0
  const onAcks = (list) => {
    acks += list.length
    for (const a of list) workerEntries.set(a.id, a)
  }

  // Fill every pool (not timed), save, then start the reader on the file.
  const { counters: hangCounters, settle } = startWatchdog(args.hangTimeout)
  const lanes = Array.from({ length: args.lanes }, (_, lane) => new Lane({ db, model: mainModel, tally: mainTally, owner: 'main', lane, pool: args.pool, seed: args.seed, stop, onSettle: settle }))
  let populated = 0
  for (const lane of lanes) populated += await lane.populate()
  const workers = Array.from({ length: args.workers }, (_, w) => startWorker(args, db.handle(), w, hangCounters, onAcks))
  await Promise.all(workers.map((w) => w.ready))
  for (const w of workers) if (w.failure) throw new Error(`worker failed to start: ${w.failure}`)
  populated += workers.reduce((a, w) => a + w.items, 0)
  await db.save()
  const reader = startReader(file, args, settle)
  await reader.ready
  if (reader.failure) throw new Error(`reader failed to start: ${reader.failure}`)
  console.log(`filled ${populated} items (${db.size} live); running for ${args.duration} s`)
  acks = 0

  // Run.
  const started = performance.now()
  const samples = { rss: [], settledRss: [], file: [], heap: [], js: [], native: [] }
  // What stays alive in this thread's JS heap, at the start and the end.
  const gc = exposeGc()
  const liveJs = { start: liveJsBytes(gc), end: null }
  const checkpointErrors = new Set()
  const counters = { saves: 0, trains: 0, published: 0, compactions: 0, reclaimed: 0 }
  const sampler = setInterval(() => {
    const t = performance.now()
    const { rss, heapTotal, external } = process.memoryUsage()
    const js = heapTotal + external + workers.reduce((a, w) => a + w.heapBytes, 0)
    samples.rss.push({ t, bytes: rss })
    samples.js.push({ t, bytes: js })
    samples.native.push({ t, bytes: rss - js })
    samples.file.push({ t, bytes: fileBytes(file) })
    const stats = db.stats()
    samples.heap.push({ t, bytes: stats.heapBytes })
    if (stats.lastCheckpointError) checkpointErrors.add(stats.lastCheckpointError)
  }, 1000)
  // Settled RSS: every COLLECT_EVERY_MS a full collection on every thread
  // (the workers first, then this one), then RSS. V8 collects lazily and
  // grows a busy heap's capacity long before it collects, so raw RSS
  // climbs with garbage not yet collected; what a full collection leaves
  // is what the process holds.
  let collecting = false
  const collector = setInterval(async () => {
    if (collecting || !gc) return
    collecting = true
    await Promise.all(
      workers.map(
        (w) =>
          new Promise((resolve) => {
            const timeout = setTimeout(resolve, 5000)
            w.collected = () => {
              clearTimeout(timeout)
              w.collected = null
              resolve()
            }
            w.worker.postMessage('collect')
          }),
      ),
    )
    gc()
    samples.settledRss.push({ t: performance.now(), bytes: process.memoryUsage.rss() })
    collecting = false
  }, COLLECT_EVERY_MS)
  const progressEveryMs = Math.max(5000, (args.duration * 1000) / 10)
  const progress = setInterval(() => {
    const s = db.stats()
    const calls = Object.values(mainTally.calls).reduce((a, b) => a + b, 0)
    console.log(`  ${((performance.now() - started) / 1000).toFixed(0)} s: ${calls} main-thread calls, ${acks} worker writes settled, ${s.items} items, ${s.checkpoints} checkpoints, ${counters.saves} saves, RSS ${(process.memoryUsage.rss() / MB).toFixed(0)} MB, file+log ${(fileBytes(file) / MB).toFixed(1)} MB, reader at generation ${reader.last?.generation ?? '?'} (${reader.last?.size ?? '?'} items)`)
  }, progressEveryMs)
  for (const w of workers) w.worker.postMessage('go')
  let trainRound = 0
  const tasks = [
    ...lanes.map((lane) => lane.run()),
    periodic(stop, SAVE_EVERY_MS, settle, async () => {
      if ((await attempt(tasksTally, 'save', () => db.save())).ok) counters.saves++
    }),
    periodic(stop, TRAIN_EVERY_MS, settle, async () => {
      const abortable = ++trainRound % 3 === 0
      const { ok, value } = await attempt(tasksTally, abortable ? 'trainAbortable' : 'train', () => (abortable ? db.train({ signal: AbortSignal.timeout(5) }) : db.train()))
      if (ok) {
        counters.trains++
        if (value.published) counters.published++
      }
    }),
    periodic(stop, COMPACT_EVERY_MS, settle, async () => {
      const { ok, value } = await attempt(tasksTally, 'compact', () => db.compact())
      if (ok) {
        counters.compactions++
        if (value) counters.reclaimed++
      }
    }),
  ]
  await sleep(args.duration * 1000)

  // Stop every writer, then check.
  stop.stopped = true
  for (const w of workers) w.worker.postMessage('stop')
  await Promise.all(tasks)
  await Promise.all(workers.map((w) => w.exited))
  const elapsedS = (performance.now() - started) / 1000
  liveJs.end = liveJsBytes(gc)
  clearInterval(sampler)
  clearInterval(collector)
  clearInterval(progress)
  const endStats = db.stats()
  const learning = db.learningStats()
  console.log(`stopped after ${elapsedS.toFixed(1)} s; checking`)

  const checks = []
  const check = (name, ok, detail = '') => checks.push({ name, ok, detail })
  for (const [w, state] of workers.entries()) check(`worker w${w} ran and closed its handle`, !state.failure && state.result !== null, state.failure ?? '')

  const model = finalModel(args, mainModel, workerEntries)
  const states = [await checkState(db, model, 'after the writers stopped', args.seed, settle)]
  const modelMessage = (label) => ({
    label,
    live: [...model.values()].filter((e) => e.live).map((e) => [e.id, e.vv, e.meta]),
    absent: [...model.values()].filter((e) => !e.live).map((e) => e.id),
  })
  const readerChecks = []
  readerChecks.push(await reader.verify(modelMessage('reader refreshed after the writers stopped')))
  await db.save()
  counters.saves++
  readerChecks.push(await reader.verify(modelMessage('reader refreshed after the final save')))
  reader.child.send({ type: 'stop' })
  await reader.exited
  await db.close()
  const reopened = await VectorDB.open(file)
  states.push(await checkState(reopened, model, 'reopened after close', args.seed + 1, settle))
  await reopened.close()
  fs.rmSync(dir, { recursive: true, force: true })

  // Tallies by role.
  const workersTally = new Tally()
  for (const w of workers) if (w.result) workersTally.merge(w.result.tally)
  const readerTally = reader.result ? Tally.from(reader.result.tally) : new Tally()
  const roles = [['main thread', mainTally.merge(tasksTally)], ['workers', workersTally], ['reader process', readerTally], ['process', unhandled]]

  const unexpected = roles.reduce((a, [, t]) => a + t.unexpectedErrors(), 0)
  check('no unexpected error', unexpected === 0, `${unexpected} unexpected`)
  for (const [role, tally] of roles) {
    if (tally.violations.count > 0 || role !== 'process') check(`${role}: every result agreed with the model during the run`, tally.violations.count === 0, tally.violations.samples.join('; '))
  }
  check('reader process ran to the end', !reader.failure && reader.result !== null, reader.failure ?? '')
  if (reader.result) {
    let ahead = 0
    const sample = []
    for (const [id, v] of reader.result.maxVersions) {
      if (!(v <= (model.get(id)?.issued ?? 0))) {
        ahead++
        if (sample.length < 5) sample.push(`${id} v${v}`)
      }
    }
    check('reader never saw a version no writer issued', ahead === 0, sample.join(', '))
  }
  for (const s of states) check(`final state, ${s.label}`, s.passed, s.violations.samples.join('; '))
  for (const r of readerChecks) check(`final state, ${r.label}`, r.violations.count === 0, r.violations.samples.join('; '))
  check('automatic checkpoints ran, none failed', endStats.checkpoints > 0 && checkpointErrors.size === 0, `${endStats.checkpoints} checkpoints; errors: ${[...checkpointErrors].join('; ') || 'none'}`)

  // Slopes after warm-up.
  const warmupS = args.duration >= 480 ? Math.max(0.25 * args.duration, 120) : 0.25 * args.duration
  const from = started + warmupS * 1000
  const slopes = {
    rss: slope(samples.rss, from),
    settledRss: slope(samples.settledRss, from),
    file: slope(samples.file, from),
    heap: slope(samples.heap, from),
    js: slope(samples.js, from),
    live: liveJsSlope(liveJs, workers, elapsedS),
    native: slope(samples.native, from),
    readerRss: slope(reader.rss, from),
  }
  const asserted = args.duration >= SLOPE_ASSERTED_FROM_S
  if (asserted) {
    check(`settled RSS slope after warm-up < ${SLOPE_LIMIT_MB_PER_MIN} MB/min`, slopes.settledRss !== null && slopes.settledRss < SLOPE_LIMIT_MB_PER_MIN, `${slopes.settledRss?.toFixed(3)} MB/min`)
    check(`file + log slope after warm-up < ${SLOPE_LIMIT_MB_PER_MIN} MB/min`, slopes.file !== null && slopes.file < SLOPE_LIMIT_MB_PER_MIN, `${slopes.file?.toFixed(3)} MB/min`)
  }
  env.loadEnd = loadAverage()

  const report = { args, env, command, elapsedS, roles, checks, states, readerChecks, slopes, warmupS, asserted, counters, endStats, learning, reader: reader.result, samples }
  const text = render(report)
  console.log('\n' + text.join('\n'))
  const passed = checks.every((c) => c.ok)
  const finalState = [...states, ...readerChecks.map((r) => ({ passed: r.violations.count === 0 }))].every((s) => s.passed)
  console.log(`\nfinal state: ${finalState ? 'PASS' : 'FAIL'}`)
  console.log(`soak: ${passed ? 'PASS' : 'FAIL'}`)
  console.log(`SOAK_SUMMARY ${JSON.stringify({ passed, finalState, unexpected, elapsedS, checkpoints: endStats.checkpoints, saves: counters.saves, slopes })}`)
  if (args.out) {
    fs.writeFileSync(args.out, markdown(report).join('\n'))
    console.log(`wrote ${args.out}`)
  }
  process.exitCode = passed ? 0 : 1
}

// ------------------------------------------------------------ reporting

// Calls per kind and role (acknowledged plus rejected), and per second.
function opRows(roles, elapsedS) {
  const kinds = new Set()
  for (const [, t] of roles) {
    Object.keys(t.calls).forEach((k) => kinds.add(k))
    Object.keys(t.errors).forEach((k) => kinds.add(k))
  }
  const calls = (t, kind) => (t.calls[kind] ?? 0) + Object.values(t.errors[kind] ?? {}).reduce((a, e) => a + e.count, 0)
  const shown = roles.filter(([role]) => role !== 'process')
  const rows = [...kinds].sort().map((kind) => {
    const per = shown.map(([, t]) => calls(t, kind))
    const total = per.reduce((a, b) => a + b, 0)
    return [kind, ...per.map((n) => n.toLocaleString('en-US')), total.toLocaleString('en-US'), (total / elapsedS).toFixed(1)]
  })
  const totals = shown.map(([, t]) => [...kinds].reduce((a, k) => a + calls(t, k), 0))
  const total = totals.reduce((a, b) => a + b, 0)
  rows.push(['total', ...totals.map((n) => n.toLocaleString('en-US')), total.toLocaleString('en-US'), (total / elapsedS).toFixed(1)])
  return { header: ['call', ...shown.map(([role]) => role), 'all', 'calls/s'], rows }
}

function errorRows(roles) {
  const rows = []
  for (const [role, t] of roles) {
    for (const [kind, byCode] of Object.entries(t.errors)) {
      for (const [code, e] of Object.entries(byCode)) rows.push([role, kind, code, e.count.toLocaleString('en-US'), e.expected ? 'expected' : 'UNEXPECTED', e.message.replace(/\s+/g, ' ').slice(0, 120)])
    }
  }
  return { header: ['who', 'call', 'code', 'count', 'verdict', 'first message'], rows }
}

const fmtSlope = (x) => (x === null ? 'n/a' : `${x >= 0 ? '+' : ''}${x.toFixed(3)}`)

function summaryLines(r) {
  const { counters, endStats, learning } = r
  return [
    `checkpoints ${endStats.checkpoints}, saves ${counters.saves} (the last after the writers stopped), train() ${counters.trains} (${counters.published} published), training passes in all ${learning.trainings} (models published ${learning.published}, rolled back ${learning.rollbacks}), compact() ${counters.compactions} (${counters.reclaimed} reclaimed something)`,
    `reader: ${r.reader ? `${r.reader.refreshes} refreshes (${r.reader.changed} saw changes), generations ${r.reader.generations.join(' → ')}` : 'no report'}`,
    `end of run: ${endStats.items} items in ${endStats.slots} slots, file ${(endStats.fileBytes / MB).toFixed(2)} MB + log ${(endStats.walBytes / MB).toFixed(2)} MB, database heap ${(endStats.heapBytes / MB).toFixed(1)} MB; feedback sessions ${learning.sessions}`,
  ]
}

function stateRows(r) {
  return {
    header: ['final check', 'result', 'live items', 'exhaustive search reached', 'self-recall@1'],
    rows: [
      ...r.states.map((s) => [s.label, s.passed ? 'PASS' : 'FAIL', s.live, `${(100 * s.exhaustiveCoverage).toFixed(1)}%`, s.selfRecall.toFixed(3)]),
      ...r.readerChecks.map((c) => [c.label, c.violations.count === 0 ? 'PASS' : 'FAIL', c.size ?? '-', '-', '-']),
    ],
  }
}

function slopeRows(r) {
  const verdict = (x) => (!r.asserted ? 'not asserted' : x !== null && x < SLOPE_LIMIT_MB_PER_MIN ? 'PASS' : 'FAIL')
  return {
    header: ['series (sampled every second)', 'slope MB/min', `limit < ${SLOPE_LIMIT_MB_PER_MIN}`],
    rows: [
      [`RSS of the writer process (main thread + workers) after a full GC on every thread, every ${COLLECT_EVERY_MS / 1000} s`, fmtSlope(r.slopes.settledRss), verdict(r.slopes.settledRss)],
      ['RSS of the writer process, raw (includes garbage V8 has not collected yet)', fmtSlope(r.slopes.rss), 'info'],
      ['file + write-ahead log', fmtSlope(r.slopes.file), verdict(r.slopes.file)],
      ['… of which JS heaps (heapTotal + external of the main thread and the workers)', fmtSlope(r.slopes.js), 'info'],
      ['… and the rest (RSS − JS heaps: native allocations, mapped files, code)', fmtSlope(r.slopes.native), 'info'],
      ['JS objects alive after a full GC, main thread + workers (start to end of the run)', fmtSlope(r.slopes.live), 'info'],
      ['database heap (stats().heapBytes)', fmtSlope(r.slopes.heap), 'info'],
      ['RSS of the reader process', fmtSlope(r.slopes.readerRss), 'info'],
    ],
  }
}

function slopeNote(r) {
  return r.asserted
    ? `Slopes are least-squares fits over the samples after a ${r.warmupS.toFixed(0)} s warm-up; MB = 2^20 bytes.`
    : `Slopes are least-squares fits over the samples after a ${r.warmupS.toFixed(0)} s warm-up; MB = 2^20 bytes. Not asserted: over a run shorter than ${SLOPE_ASSERTED_FROM_S} s they measure warm-up and noise, not leaks.`
}

function render(r) {
  const ops = opRows(r.roles, r.elapsedS)
  const errors = errorRows(r.roles)
  const states = stateRows(r)
  const slopes = slopeRows(r)
  return [
    `calls in ${r.elapsedS.toFixed(1)} s (acknowledged and rejected):`,
    textTable(ops.header, ops.rows),
    '',
    errors.rows.length ? textTable(errors.header, errors.rows) : 'no rejections',
    `expected codes: ${Object.entries(EXPECTED_CODES).map(([k, v]) => `${k}: ${v.join('/')}`).join('; ')}; every other call may not reject`,
    '',
    ...summaryLines(r),
    '',
    textTable(states.header, states.rows),
    '',
    textTable(slopes.header, slopes.rows),
    slopeNote(r),
    '',
    ...r.checks.map((c) => `${c.ok ? 'PASS' : 'FAIL'}  ${c.name}${c.detail && !c.ok ? `: ${c.detail}` : ''}`),
    `load average (1/5/15 min) at start: ${r.env.loadStart}; at end: ${r.env.loadEnd}`,
  ]
}

function markdown(r) {
  const ops = opRows(r.roles, r.elapsedS)
  const errors = errorRows(r.roles)
  const states = stateRows(r)
  const slopes = slopeRows(r)
  const { args, env } = r
  return [
    '# Concurrency soak',
    '',
    `\`${r.command}\` — ${env.date.slice(0, 10)}; ${env.cpu}, ${env.cores} cores, flags \`${env.flags}\`, Node ${env.node}. Load average (1/5/15 min) ${env.loadStart} at the start, ${env.loadEnd} at the end.`,
    ...(args.note ? ['', args.note] : []),
    '',
    `One database file (${DIMENSIONS} dimensions, euclidean; automatic checkpoints every ${DB_OPTIONS.checkpoint.bytes >> 10} KiB of log or ${DB_OPTIONS.checkpoint.ageMs / 1000} s; background trainer every ${DB_OPTIONS.learning.trainEverySessions} sessions or ${DB_OPTIONS.learning.trainEveryMs / 1000} s) for ${r.elapsedS.toFixed(0)} s: ${args.lanes} lanes of Promises on the main thread, ${args.workers} worker_threads × ${args.workerLanes} lanes attached to the same database, each lane owning ${args.pool} ids; save() every ${SAVE_EVERY_MS / 1000} s, train() every ${TRAIN_EVERY_MS / 1000} s, compact() every ${COMPACT_EVERY_MS / 1000} s; and a read-only reader in another process that refresh()es every 100–400 ms and searches throughout. Seed ${args.seed}.`,
    '',
    '## Calls',
    '',
    mdTable(ops.header, ops.rows),
    '',
    '## Rejections',
    '',
    errors.rows.length ? mdTable(errors.header, errors.rows) : 'None.',
    '',
    `Expected codes per call: ${Object.entries(EXPECTED_CODES).map(([k, v]) => `\`${k}\` ${v.join('/')}`).join(', ')}; \`insertDuplicate\`, \`updateMissing\` and \`writeReadOnly\` are calls made to fail and must reject with theirs. Every other call may not reject.`,
    '',
    '## Work done',
    '',
    ...summaryLines(r).map((l) => `- ${l}`),
    '',
    '## Final state',
    '',
    mdTable(states.header, states.rows),
    '',
    'Every id of every pool: `get` returns a live id\'s exact Float32 vector and metadata and `null` for any other; `size` and `stats().items` equal the model\'s; searches (unfiltered, filtered with every filter, and at deleted items\' vectors) return only live ids with the model\'s metadata that pass the filter. Exhaustive reach and self-recall are reported, not asserted.',
    '',
    '## Memory and file size',
    '',
    mdTable(slopes.header, slopes.rows),
    '',
    slopeNote(r),
    '',
    '## Checks',
    '',
    ...r.checks.map((c) => `- ${c.ok ? 'PASS' : '**FAIL**'} ${c.name}${c.detail && !c.ok ? `: ${c.detail}` : ''}`),
    '',
  ]
}

main().catch((error) => {
  console.error(error instanceof UsageError ? `soak: ${error.message}` : error)
  process.exit(1)
})
