'use strict'
// One crash cycle, and the loop of them (benchmark/crash.js, the tests'
// crash.test.mjs and persistence.test.mjs via __test__/fixtures/kill.mjs):
// start crash-worker.js on the database file, SIGKILL it at a chosen moment,
// keep a copy of the files as the kill left them, reopen the database and
// check it against the model (crash-model.js), which then carries on to the
// next cycle. The same file lives through every cycle.

const fs = require('node:fs')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { VectorDB } = require('../..')
const { mulberry32 } = require('./rng')
const { CrashModel, parseWorkerLines, advance, checkDatabase } = require('./crash-model')

const WORKER = path.join(__dirname, 'crash-worker.js')

/** Everything: writes, feedback, training, saves and compaction. */
const FULL_MIX = { insert: 16, batch: 6, upsertNew: 4, upsertExisting: 8, update: 14, delete: 12, feedback: 30, train: 1.5, save: 1.5, compact: 2 }
/** Writes and saves only (persistence.test.mjs's crash rounds). */
const WRITES_MIX = { insert: 50, batch: 20, upsertNew: 10, update: 10, delete: 7, save: 3 }

/** The worker's settings when a cycle gives none. */
const WORKER_DEFAULTS = {
  dimensions: 16,
  durability: 'batch',
  concurrency: 4,
  // Low thresholds, so checkpoints run several times a second.
  checkpoint: { bytes: 24 << 10, ageMs: 300 },
  // Saved at creation. A ring far larger than the run makes the session
  // count exact; a low minimum makes train() train from the first cycles.
  learning: { bufferSessions: 1_000_000, minSessions: 20, trainEverySessions: 100, trainEveryMs: 2000 },
  mix: FULL_MIX,
  // Deletes win over inserts above this many items, so the file stops growing.
  targetItems: 3000,
}

// The kinds a kill can be aimed at: right after that kind of operation
// begins (a checkpoint: its temp file appears), after a short random delay.
const AIMED = ['save', 'checkpoint', 'compact', 'train']

/**
 * How cycle `cycle` of a loop seeded `seed` runs: the worker's durability
 * and concurrency, and when the kill comes:
 * - `random`: `delayMs` after the worker is ready;
 * - `startup`: `delayMs` after it is started, often before it is ready
 *   (during open and log replay);
 * - one of `AIMED`: `delayMs` after such an operation begins (if none
 *   begins within `fallbackMs` of ready, the kill comes then).
 */
function planCycle(seed, cycle) {
  const random = mulberry32((seed * 7919 + cycle * 104729) >>> 0)
  const roll = random()
  let kill
  if (roll < 0.4 || cycle === 0) kill = { mode: 'random', delayMs: Math.floor(random() * 1000) }
  else if (roll < 0.48) kill = { mode: 'startup', delayMs: Math.floor(random() * 400) }
  else {
    const mode = AIMED[Math.floor(random() * AIMED.length)]
    const span = mode === 'train' ? 40 : 8
    kill = { mode, delayMs: Math.floor(random() * span), fallbackMs: 3000 }
  }
  const worker = {
    durability: random() < 0.25 ? 'fsync' : 'batch',
    concurrency: 2 + Math.floor(random() * 5),
  }
  return { kill, worker }
}

function tempStat(file) {
  try {
    const s = fs.statSync(`${file}.tmp`)
    return `${s.ino}:${s.size}:${s.mtimeNs ?? s.mtimeMs}`
  } catch {
    return null
  }
}

/** Copies the database files as the kill left them (for a reproducer). */
function keepCopy(file, into) {
  fs.rmSync(into, { recursive: true, force: true })
  fs.mkdirSync(into, { recursive: true })
  for (const suffix of ['', '-wal', '.tmp']) {
    if (fs.existsSync(file + suffix)) fs.copyFileSync(file + suffix, path.join(into, path.basename(file) + suffix))
  }
}

/**
 * Runs the worker until the kill; resolves to `{ lines, msBeforeKill,
 * triggered, fileWriteInFlight, workerError }`.
 */
function runWorker({ file, config, kill, readyTimeoutMs }) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER], { stdio: ['pipe', 'pipe', 'pipe'] })
    const tempBefore = tempStat(file)
    const started = Date.now()
    let readyAt = null
    let out = ''
    let err = ''
    let parsedUpTo = 0
    const inFlight = new Map() // op → kind, from the lines read so far
    const timers = []
    let watcher = null
    let killedAt = null
    let triggered = false
    let fileWriteInFlight = false

    const killNow = () => {
      if (killedAt !== null) return
      // Before the signal, so a temp file a checkpoint is writing is seen.
      fileWriteInFlight = tempStat(file) !== null && tempStat(file) !== tempBefore
      killedAt = Date.now()
      child.kill('SIGKILL')
    }
    const killAfter = (ms) => timers.push(setTimeout(killNow, ms))
    const aim = () => {
      if (triggered || killedAt !== null) return
      triggered = true
      killAfter(kill.delayMs)
    }

    timers.push(setTimeout(killNow, readyTimeoutMs)) // the hang guard
    if (kill.mode === 'startup') killAfter(kill.delayMs)

    const onReady = () => {
      readyAt = Date.now()
      if (kill.mode === 'random') killAfter(kill.delayMs)
      if (AIMED.includes(kill.mode)) killAfter(kill.fallbackMs)
      if (kill.mode === 'checkpoint') {
        const temp = `${path.basename(file)}.tmp`
        watcher = fs.watch(path.dirname(file), (event, name) => {
          if (name !== temp) return
          // A temp file with no save or compaction in flight: a checkpoint.
          const kinds = new Set(inFlight.values())
          if (!kinds.has('save') && !kinds.has('compact')) aim()
        })
      }
    }

    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk) => {
      out += chunk
      for (let end = out.indexOf('\n', parsedUpTo); end >= 0; end = out.indexOf('\n', parsedUpTo)) {
        const line = out.slice(parsedUpTo, end)
        parsedUpTo = end + 1
        const [tag, op, kind] = line.split(' ', 3)
        if (tag === 'ready') onReady()
        else if (tag === 'b') {
          inFlight.set(op, kind)
          if (kind === kill.mode) aim()
        } else if (tag === 'a' || tag === 'x') inFlight.delete(op)
      }
    })
    child.stderr.on('data', (chunk) => (err += chunk))
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      for (const timer of timers) clearTimeout(timer)
      if (watcher) watcher.close()
      // A line cut off by the kill was never acknowledged to us.
      const lines = out.slice(0, out.lastIndexOf('\n') + 1).split('\n').filter((line) => line.length > 0)
      let workerError = null
      if (signal !== 'SIGKILL') workerError = `the worker exited (code ${code}, signal ${signal}) before it was killed:\n${err}`
      else if (readyAt === null && kill.mode !== 'startup') workerError = `the worker was not ready within ${readyTimeoutMs} ms:\n${err}`
      else if (err.length > 0) workerError = `the worker wrote to stderr:\n${err}`
      const from = kill.mode === 'startup' ? started : readyAt
      resolve({ lines, msBeforeKill: from === null || killedAt === null ? null : killedAt - from, ready: readyAt !== null, triggered, fileWriteInFlight, workerError })
    })
    child.stdin.on('error', () => {}) // a worker killed before reading its input
    child.stdin.write(`${JSON.stringify(config)}\n`)
    // stdin stays open: the worker ends itself when it closes.
  })
}

/**
 * One cycle. `model` (a CrashModel) carries what earlier cycles
 * established and is moved forward. Returns the cycle's record (see the
 * fields below); `failures` lists what went wrong, empty when all held.
 */
async function runCycle({ file, cycle, seed, model, kill, worker = {}, readyTimeoutMs = 60000, keepDir = `${file}.last-kill` }) {
  const settings = { ...WORKER_DEFAULTS, ...worker }
  const config = { ...settings, path: file, cycle, seed: (seed * 31 + cycle) >>> 0, live: model.presentIds() }
  const run = await runWorker({ file, config, kill, readyTimeoutMs })
  keepCopy(file, keepDir)
  const parsed = parseWorkerLines(run.lines)
  const advanced = advance(model, parsed)
  const inFlight = new Set(advanced.inFlight)
  // A temp file written with no save in flight is a checkpoint's (which
  // compacts like a save when many items are deleted).
  if (run.fileWriteInFlight && !inFlight.has('save')) inFlight.add('checkpoint')
  if (!run.ready) inFlight.add('open')
  const record = {
    cycle,
    mode: kill.mode,
    triggered: run.triggered,
    msBeforeKill: run.msBeforeKill,
    durability: settings.durability,
    concurrency: settings.concurrency,
    inFlight: Array.from(inFlight).sort(),
    opsAcked: parsed.acked.length,
    writesAcked: advanced.writesAcked,
    feedbackAcked: advanced.feedbackAcked,
    checkpoints: parsed.checkpoints,
    repeatedSearchIds: advanced.repeatedSearchIds,
    openError: null,
    check: null,
    size: null,
    workerFailures: [],
    failures: [],
  }
  // What went wrong in the worker (the check's findings follow).
  if (run.workerError) record.workerFailures.push(run.workerError)
  record.abortedBatches = 0
  for (const { kind, code, message } of advanced.rejected) {
    // An aborted batch is an outcome, not a failure: the check then finds
    // none of its items (they are not in the model).
    if (kind === 'batch' && code === 'ERR_ABORTED') record.abortedBatches++
    else record.workerFailures.push(`${kind} rejected with ${code}: ${message}`)
  }
  for (const id of advanced.deleteMisses) record.workerFailures.push(`delete("${id}") resolved false for an item the model holds present`)
  record.failures.push(...record.workerFailures)

  // No file yet only if the very first worker was killed before creating it.
  if (!fs.existsSync(file) && model.items.size === 0 && model.sessions === 0) return record
  let db
  try {
    db = await VectorDB.open(file, { checkpoint: false, learning: { background: false } })
  } catch (error) {
    record.openError = `${error.code ?? 'no code'}: ${error.message}`
    record.failures.push(`open failed: ${record.openError} (the files as the kill left them: ${keepDir})`)
    return record
  }
  try {
    const check = await checkDatabase(db, model, advanced)
    record.check = check
    record.size = db.size
    const list = (ids) => ids.slice(0, 5).join(', ') + (ids.length > 5 ? ` and ${ids.length - 5} more` : '')
    if (check.missing.length) record.failures.push(`acknowledged writes missing: ${list(check.missing)}`)
    if (check.stale.length) record.failures.push(`items not in their acknowledged state: ${list(check.stale)}`)
    if (check.resurrected.length) record.failures.push(`acknowledged deletes undone: ${list(check.resurrected)}`)
    if (check.torn.length) record.failures.push(`items in flight neither old nor new: ${list(check.torn)}`)
    if (check.phantom.length) record.failures.push(`items nobody wrote: ${list(check.phantom)}`)
    if (check.notInGraph.length) record.failures.push(`items get() finds but the snapshot lacks: ${list(check.notInGraph)}`)
    if (check.sizeMismatch) record.failures.push(`size ${check.sizeMismatch}`)
    if (check.badHits.length) record.failures.push(`searches returned items that are not live: ${list(check.badHits)}`)
    if (check.lostFeedback) {
      const why = advanced.repeatedSearchIds ? ` (${advanced.repeatedSearchIds} acknowledged feedback reused the search id of earlier feedback)` : ''
      record.failures.push(`${check.lostFeedback} acknowledged feedback sessions missing${why}`)
    }
    if (check.extraSessions) record.failures.push(`${check.extraSessions} more sessions than feedback given`)
  } finally {
    await db.close()
  }
  return record
}

/**
 * `cycles` cycles on one fresh file in `dir`; calls `onCycle(record)` after
 * each. Stops early when a database cannot be opened (nothing after it
 * would mean anything). Resolves to the records.
 */
async function runLoop({ dir, cycles, seed = 1, onCycle = () => {}, worker = {} }) {
  const file = path.join(dir, 'crash.hgnn')
  const model = new CrashModel()
  const records = []
  for (let cycle = 0; cycle < cycles; cycle++) {
    const plan = planCycle(seed, cycle)
    const record = await runCycle({ file, cycle, seed, model, kill: plan.kill, worker: { ...plan.worker, ...worker } })
    records.push(record)
    onCycle(record)
    if (record.openError) break
  }
  return records
}

/** Totals over a loop's records. */
function summarize(records) {
  const sum = (f) => records.reduce((total, r) => total + f(r), 0)
  const killsDuring = {}
  for (const r of records) for (const kind of r.inFlight.length ? r.inFlight : ['nothing']) killsDuring[kind] = (killsDuring[kind] ?? 0) + 1
  const length = (key) => sum((r) => (r.check ? r.check[key].length : 0))
  return {
    cycles: records.length,
    killsDuring,
    modes: records.reduce((m, r) => ((m[r.mode] = (m[r.mode] ?? 0) + 1), m), {}),
    opsAcked: sum((r) => r.opsAcked),
    writesAcked: sum((r) => r.writesAcked),
    feedbackAcked: sum((r) => r.feedbackAcked),
    itemsChecked: sum((r) => (r.check ? r.check.checkedItems : 0)),
    checkpoints: sum((r) => r.checkpoints),
    lostWrites: length('missing') + length('stale'),
    undoneDeletes: length('resurrected'),
    lostFeedback: sum((r) => (r.check ? r.check.lostFeedback : 0)),
    torn: length('torn'),
    phantom: length('phantom'),
    partialBatches: sum((r) => (r.check ? r.check.partialBatches : 0)),
    abortedBatches: sum((r) => r.abortedBatches ?? 0),
    repeatedSearchIds: sum((r) => r.repeatedSearchIds),
    openFailures: records.filter((r) => r.openError).length,
    failedCycles: records.filter((r) => r.failures.length > 0).length,
    finalItems: records.at(-1)?.size ?? null,
    finalSessions: records.at(-1)?.check?.sessions ?? null,
  }
}

module.exports = { runCycle, runLoop, planCycle, summarize, CrashModel, FULL_MIX, WRITES_MIX, WORKER_DEFAULTS }
