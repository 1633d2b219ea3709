'use strict'
// Parent side: one child process per library (worker.js), builds one after
// another, then timed query passes INTERLEAVED across libraries.
//
// Why interleave: on a shared 2-core machine the background load drifts
// over minutes. Timing library A for five minutes and then library B
// compares them under different loads (we saw hnswlib swing 1.8x between two
// back-to-back full runs). Cycling run 1 of every library, then run 2, ...
// (rotating who goes first) exposes all of them to the same drift, and the
// per-library median over runs then damps it.

const path = require('node:path')
const { fork } = require('node:child_process')
const { median } = require('./measure')

const ENTRY = path.join(__dirname, '..', 'ann.js')

// A child process plus a request/response helper over its IPC channel.
class Worker {
  constructor(lib, cfg) {
    this.lib = lib
    this.queue = [] // messages not yet consumed
    this.waiter = null
    this.child = fork(ENTRY, ['--worker', lib, '--worker-config', JSON.stringify(cfg)], {
      execArgv: ['--expose-gc'], // lets the worker collect garbage between timed passes
      // Child stdout goes to our stderr: native libraries print debug lines
      // (ruvector does), and stdout is reserved for the result tables.
      stdio: ['ignore', process.stderr, 'inherit', 'ipc'],
    })
    this.child.on('message', (m) => this.deliver(m))
    this.child.on('exit', (code, signal) => this.deliver({ type: 'error', error: `worker exited (code ${code}, signal ${signal})`, exited: true }))
  }

  deliver(m) {
    if (this.waiter) {
      const w = this.waiter
      this.waiter = null
      w(m)
    } else this.queue.push(m)
  }

  next() {
    if (this.queue.length) return Promise.resolve(this.queue.shift())
    return new Promise((resolve) => (this.waiter = resolve))
  }

  // Sends a command and resolves with the reply; rejects on an error reply.
  async request(msg, expect) {
    this.child.send(msg)
    const m = await this.next()
    if (m.type !== expect) throw new Error(`${this.lib}: ${m.error || m.reason || JSON.stringify(m)}`)
    return m
  }

  kill() {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill()
  }
}

// Builds every library, each in its own process, one at a time (builds use
// all cores). Returns live sessions plus the libraries that were skipped.
async function buildAll(libs, cfgFor, info) {
  const sessions = []
  const skipped = []
  for (const lib of libs) {
    const cfg = await cfgFor(lib)
    if (!cfg.ok) {
      skipped.push({ lib, reason: cfg.reason })
      continue
    }
    info(`\n[${lib}] building in a child process ...`)
    const w = new Worker(lib, cfg.cfg)
    const m = await w.next()
    if (m.type === 'built') sessions.push({ lib, worker: w, info: m.info, efs: cfg.efs, recall: {}, runs: {} })
    else {
      const reason = m.type === 'skipped' ? m.reason : `failed: ${String(m.error).split('\n')[0]}`
      if (m.type === 'error') info(String(m.error))
      info(`${lib}: ${reason}`)
      skipped.push({ lib, reason })
      w.kill()
    }
  }
  return { sessions, skipped }
}

const rotate = (arr, by) => arr.map((_, i) => arr[(i + by) % arr.length])

// For each efSearch: every library switches to it and does its untimed
// recall pass, then `runs` rounds of one timed pass per library.
// A library that fails mid-way is dropped (and reported), not fatal.
async function measureAll(sessions, runs, k, info) {
  const allEfs = [...new Set(sessions.flatMap((s) => s.efs))].sort((a, b) => a - b)
  const guarded = async (s, fn) => {
    try {
      await fn()
    } catch (e) {
      s.failed = e.message
      info(`  [${s.lib}] FAILED: ${e.message}`)
      s.worker.kill()
    }
  }
  for (const ef of allEfs) {
    const active = () => sessions.filter((s) => !s.failed && s.efs.includes(ef))
    for (const s of active()) {
      await guarded(s, async () => {
        const t0 = performance.now()
        s.recall[ef] = (await s.worker.request({ cmd: 'prepare', ef }, 'prepared')).recall
        const modes = Object.entries(s.recall[ef]).map(([m, r]) => `${m} ${r.toFixed(4)}`).join(', ')
        info(`  [${s.lib}] ef=${ef}: recall@${k} ${modes} (${((performance.now() - t0) / 1000).toFixed(1)} s)`)
        s.runs[ef] = []
      })
    }
    for (let r = 0; r < runs; r++) {
      for (const s of rotate(active(), r)) {
        await guarded(s, async () => s.runs[ef].push((await s.worker.request({ cmd: 'run' }, 'ran')).timing))
      }
    }
    info(`  ef=${ef}: ${runs} interleaved timed run(s) done`)
  }
}

// Medians over runs per mode, and the async overhead per run (sync and
// async passes of one run are adjacent in time), also as a median.
function summarizeEf(recall, runs) {
  const points = []
  for (const mode of ['sync', 'async', 'batch']) {
    const s = runs.map((t) => t[mode]).filter(Boolean)
    if (!s.length) continue
    const med = (key) => (s[0][key] === undefined ? null : median(s.map((x) => x[key])))
    points.push({ mode, recall: recall[mode], qps: med('qps'), meanUs: med('meanUs'), p50Us: med('p50Us'), p99Us: med('p99Us') })
  }
  const paired = runs.filter((t) => t.sync && t.async)
  const asyncOverheadUs = paired.length
    ? { p50: median(paired.map((t) => t.async.p50Us - t.sync.p50Us)), mean: median(paired.map((t) => t.async.meanUs - t.sync.meanUs)) }
    : null
  return { points, asyncOverheadUs }
}

async function finishAll(sessions, skipped) {
  const results = []
  for (const s of sessions) {
    let fin
    try {
      if (s.failed) throw new Error(s.failed)
      fin = (await s.worker.request({ cmd: 'finish' }, 'finished')).info
    } catch (e) {
      skipped.push({ lib: s.lib, reason: `failed: ${e.message.split('\n')[0]}` })
      continue
    }
    const perEf = s.efs.map((ef) => ({ ef, ...summarizeEf(s.recall[ef], s.runs[ef]) }))
    results.push({
      ...s.info,
      rss: { ...s.info.rss, endPeakMB: fin.endPeakMB },
      hopFloorUs: fin.hopFloorUs,
      extraBuilds: fin.extraBuilds,
      perEf,
    })
  }
  return results
}

// Runs the whole benchmark; `cfgFor(lib)` resolves to { ok, cfg, efs } or
// { ok: false, reason } for a library to skip.
async function runBenchmark(libs, cfgFor, { runs, k }, info) {
  const { sessions, skipped } = await buildAll(libs, cfgFor, info)
  try {
    info(`\nquery passes: untimed recall pass, then ${runs} interleaved timed run(s) per efSearch`)
    await measureAll(sessions, runs, k, info)
    return { results: await finishAll(sessions, skipped), skipped }
  } finally {
    for (const s of sessions) s.worker.kill()
  }
}

module.exports = { runBenchmark }
