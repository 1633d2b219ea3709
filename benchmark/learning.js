#!/usr/bin/env node
'use strict'
// The learning benchmark: does search get better from clicks, for queries
// nobody asked before, without getting worse under random clicks, and does
// it follow when relevance drifts? (DESIGN.md §5–6)
//
//   node benchmark/learning.js                    # every method: baselines, ours, the ablation
//   node benchmark/learning.js --baselines        # the baselines' committed numbers
//   node benchmark/learning.js --help
//
// Every method is a learner (benchmark/learning/interface.md) run through
// the same protocol (learning/protocol.js) on the same datasets
// (learning/datasets.js), tuned with the same budget on a validation slice
// (learning/experiment.js). Jobs run in worker threads, two by default
// (this machine has two cores). Results go to benchmark/results/
// learning-baselines.{md,svg,json}.

const fs = require('node:fs')
const path = require('node:path')
const { parseArgs } = require('node:util')
const { Worker } = require('node:worker_threads')
const { METHODS, BASELINES, TUNING, tuningObjective } = require('./learning/experiment')
const { CHECKPOINTS, DRIFT_AT, TRAIN_EVERY, SCENARIOS } = require('./learning/protocol')
const { TUNING_BUDGET } = require('./learning/baselines')
const { DATASETS, loadDataset } = require('./learning/datasets')
const { markdown, chart, protocolLines } = require('./learning/report')
const { envInfo, loadAverage } = require('./lib/report')
const engines = require('./learning/engines')
const { latency } = require('./learning/engine-latency')
const { ENGINES } = engines
// The 384-dimensional dataset latency is timed on (issue 19 asks for 384).
const LATENCY_DATASET = 'npm-scopes'

// How far static search may differ from a stored run's (see addStoredMethods).
const STATIC_TOLERANCE = 0.005

const USAGE = `usage: node benchmark/learning.js [--baselines | --methods a,b] [options]

  (no method flag)     every method: the baselines, hnsw-gnn and its ablation
  --baselines          run every baseline (${BASELINES.join(', ')})
  --methods LIST       comma-separated methods (known: ${Object.keys(METHODS).join(', ')})
  --datasets LIST      comma-separated (default: ${Object.keys(DATASETS).join(',')})
  --scenarios LIST     comma-separated (default: ${Object.keys(SCENARIOS).join(',')})
  --seeds N            evaluation seeds (default 5)
  --workers N          worker threads (default 2)
  --engine NAME        candidates from another engine (${ENGINES.join(', ')}): runs
                       NAME, hnsw-gnn-NAME and hnsw-gnn on the clicks scenario to
                       5,000 sessions (single-point grids: no tuning runs), then
                       times rerank and end-to-end latency; results go to
                       benchmark/results/learning-NAME
  --quick              a smoke run: 2 seeds, 2,000 sessions, tuning on 1,000
  --out PREFIX         results path prefix (default benchmark/results/learning-baselines;
                       --quick defaults to none: nothing written)
  --with RUN.json      add the methods of a stored run of the same protocol
                       that this one does not run (e.g. the committed
                       baselines: they are seeded, so rerunning them repeats
                       their numbers; static reruns and must match within
                       ${STATIC_TOLERANCE} nDCG@10)
  --report RUN.json    only re-render the .md and .svg of a stored run
  --help`

function options() {
  const { values } = parseArgs({
    options: {
      baselines: { type: 'boolean' },
      methods: { type: 'string' },
      engine: { type: 'string' },
      datasets: { type: 'string' },
      scenarios: { type: 'string' },
      seeds: { type: 'string', default: '5' },
      workers: { type: 'string', default: '2' },
      quick: { type: 'boolean' },
      out: { type: 'string' },
      report: { type: 'string' },
      with: { type: 'string' },
      help: { type: 'boolean' },
    },
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  if (values.report) return { report: values.report }
  const list = (s, fallback) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : fallback)
  const engine = values.engine ?? null
  if (engine && !ENGINES.includes(engine)) throw new Error(`unknown --engine ${engine}; known: ${ENGINES.join(', ')}`)
  const defaults = engine
    ? [engine, `hnsw-gnn-${engine}`, 'hnsw-gnn']
    : values.baselines
      ? BASELINES.slice()
      : BASELINES.concat(['hnsw-gnn', 'hnsw-gnn-identity'])
  const methods = list(values.methods, defaults)
  for (const m of methods) if (!METHODS[m]) throw new Error(`unknown method ${m}; known: ${Object.keys(METHODS).join(', ')}`)
  if (!methods.includes('static')) methods.unshift('static') // every gain is measured against it
  const datasets = list(values.datasets, Object.keys(DATASETS))
  const scenarios = list(values.scenarios, engine ? ['clicks'] : Object.keys(SCENARIOS))
  const quick = Boolean(values.quick)
  const positive = (name) => {
    const n = Number(values[name])
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${JSON.stringify(values[name])}`)
    return n
  }
  const seeds = quick ? 2 : positive('seeds')
  const out =
    values.out ??
    (quick ? null : path.join(__dirname, 'results', engine ? `learning-${engine}` : values.baselines && !values.methods ? 'learning-baselines' : 'learning'))
  // Beside an engine the question is the level after 5,000 sessions.
  const checkpoints = quick ? [0, 500, 1000, 2000] : engine ? CHECKPOINTS.filter((c) => c <= 5000) : CHECKPOINTS
  return {
    command: process.argv.slice(2).join(' '),
    engine,
    methods,
    datasets,
    scenarios,
    seeds,
    workers: positive('workers'),
    out,
    sessions: checkpoints[checkpoints.length - 1],
    checkpoints,
    driftAt: quick ? 1000 : DRIFT_AT,
    tuning: quick ? { ...TUNING, sessions: 1000, checkpoints: [500, 1000] } : TUNING,
    with: values.with ?? null,
  }
}

// Adds to a fresh run the methods of a stored run (`--with`) that it did
// not run itself. Only a run of the same protocol qualifies, and static,
// which every run includes, must come out the same per seed and
// checkpoint (same data, splits and query streams; the HNSW base index is
// built in parallel, so it may differ in a few neighbours: up to
// STATIC_TOLERANCE of nDCG@10, and the report gives the largest difference).
function addStoredMethods(o, tuned, results) {
  const stored = JSON.parse(fs.readFileSync(o.with, 'utf8'))
  for (const key of ['seeds', 'sessions', 'checkpoints', 'driftAt', 'tuning']) {
    if (JSON.stringify(stored.options[key]) !== JSON.stringify(o[key])) {
      throw new Error(`--with ${o.with}: that run used another protocol (${key} ${JSON.stringify(stored.options[key])}, this one ${JSON.stringify(o[key])})`)
    }
  }
  const key = (r) => `${r.dataset}/${r.scenario}/${r.seed}`
  const storedStatic = new Map(stored.results.filter((r) => r.method === 'static').map((r) => [key(r), r]))
  let staticDiff = 0
  for (const r of results.filter((r) => r.method === 'static')) {
    const s = storedStatic.get(key(r))
    const diff = s && s.points.length === r.points.length ? Math.max(...r.points.map((p, i) => Math.abs(p.ndcg - s.points[i].ndcg))) : Infinity
    if (!(diff <= STATIC_TOLERANCE)) {
      throw new Error(`--with ${o.with}: static search came out differently for ${key(r)} (nDCG@10 off by ${diff}): not the same data or protocol`)
    }
    staticDiff = Math.max(staticDiff, diff)
  }
  const added = stored.options.methods.filter((m) => !o.methods.includes(m))
  const wanted = (r) => added.includes(r.method) && o.datasets.includes(r.dataset)
  tuned.push(...stored.tuned.filter(wanted))
  results.push(...stored.results.filter((r) => wanted(r) && o.scenarios.includes(r.scenario)))
  // Baselines first (in their stored order), then the methods run now.
  const order = ['static', ...added, ...o.methods.filter((m) => m !== 'static')]
  o.methods = order
  o.stored = { from: path.basename(o.with), methods: added, date: stored.env.date, minutes: stored.minutes, staticDiff }
}

// A fixed set of worker threads that run jobs (learning/experiment.js) in
// the order given, printing progress to stderr.
class JobPool {
  constructor(size) {
    this.workers = Array.from({ length: size }, () => new Worker(path.join(__dirname, 'learning', 'experiment.js')))
    this.pending = new Map()
    this.nextId = 0
    for (const w of this.workers) {
      w.on('message', ({ id, result, error }) => {
        const { resolve, reject } = this.pending.get(id)
        this.pending.delete(id)
        if (error) reject(new Error(error))
        else resolve(result)
      })
      w.on('error', (err) => {
        for (const { reject } of this.pending.values()) reject(err)
      })
    }
  }

  async runAll(jobs, title) {
    const started = Date.now()
    let done = 0
    const queue = jobs.map((job, index) => ({ job, index }))
    const results = new Array(jobs.length)
    const drain = async (worker) => {
      while (queue.length) {
        const { job, index } = queue.shift()
        const id = this.nextId++
        results[index] = await new Promise((resolve, reject) => {
          this.pending.set(id, { resolve, reject })
          worker.postMessage({ id, job })
        })
        done++
        const elapsed = (Date.now() - started) / 1000
        const eta = (elapsed / done) * (jobs.length - done)
        process.stderr.write(
          `  ${title} [${done}/${jobs.length}] ${job.dataset} ${job.method} ${job.scenario} seed ${job.seed}: ` +
            `${results[index].seconds.toFixed(1)} s (elapsed ${elapsed.toFixed(0)} s, eta ${eta.toFixed(0)} s)\n`,
        )
      }
    }
    await Promise.all(this.workers.map(drain))
    return results
  }

  close() {
    return Promise.all(this.workers.map((w) => w.terminate()))
  }
}

// Tunes every method, then runs every (dataset, scenario, seed, method).
async function measure(o) {
  const env = envInfo()
  const started = Date.now()
  const pool = new JobPool(o.workers)
  try {
    // 1. Tuning: every configuration of every method's grid, per dataset.
    const tuningJobs = []
    for (const dataset of o.datasets) {
      for (const method of o.methods) {
        if (o.engine && METHODS[method].grid.length === 1) continue // nothing to choose
        for (const params of METHODS[method].grid) {
          tuningJobs.push({ role: 'tune', dataset, method, params, ...o.tuning, driftAt: o.driftAt })
        }
      }
    }
    console.error(`tuning: ${tuningJobs.length} runs`)
    const tuningResults = tuningJobs.length ? await pool.runAll(tuningJobs, 'tune') : []
    const tuned = []
    for (const dataset of o.datasets) {
      for (const method of o.methods) {
        const runs = tuningResults.filter((r) => r.dataset === dataset && r.method === method)
        if (runs.length === 0) {
          const params = METHODS[method].grid[0]
          tuned.push({ dataset, method, gridSize: 1, params, objective: NaN, min: NaN, max: NaN, grid: [] })
          continue
        }
        const scored = runs.map((r) => ({ params: r.params, objective: tuningObjective(r) }))
        const best = scored.reduce((a, b) => (b.objective > a.objective ? b : a))
        tuned.push({
          dataset,
          method,
          gridSize: runs.length,
          params: best.params,
          objective: best.objective,
          min: Math.min(...scored.map((s) => s.objective)),
          max: best.objective,
          grid: scored,
        })
      }
    }

    // 2. Evaluation: every method with its tuned parameters, every scenario
    //    and seed (seeds 1..N; the tuning seed is apart).
    const evalJobs = []
    for (const dataset of o.datasets) {
      for (const scenario of o.scenarios) {
        for (let seed = 1; seed <= o.seeds; seed++) {
          for (const method of o.methods) {
            const { params } = tuned.find((t) => t.dataset === dataset && t.method === method)
            evalJobs.push({ role: 'eval', dataset, method, params, scenario, seed, sessions: o.sessions, checkpoints: o.checkpoints, driftAt: o.driftAt })
          }
        }
      }
    }
    console.error(`evaluation: ${evalJobs.length} runs`)
    const results = await pool.runAll(evalJobs, 'eval')
    const minutes = (Date.now() - started) / 60000
    if (o.with) addStoredMethods(o, tuned, results)
    return { env, options: o, tuned, results, minutes }
  } finally {
    await pool.close()
  }
}

// Tables and chart of a run (fresh, or as stored in its .json).
async function report({ env, options: o, tuned, results, minutes, engine }) {
  const datasets = o.datasets.map(loadDataset)
  const notes = []
  for (const m of o.methods) if (METHODS[m].describe) notes.push(`### About ${m}\n\n${await METHODS[m].describe()}`)
  const relOut = o.out ? path.relative(path.join(__dirname, '..'), o.out) : null
  const header = [
    `# Learning from feedback: ${o.methods.join(', ')}`,
    '',
    `Reproduce: \`node benchmark/learning.js ${o.command}\`` +
      `${relOut ? ` (writes \`${relOut}.{md,svg,json}\`)` : ''}.`,
    '',
    `Measured ${env.date.slice(0, 10)} on ${env.cpu} (${env.cores} cores; SIMD ${env.simd}), Node ${env.node}; ${o.workers} worker threads; the whole run took ${minutes.toFixed(1)} min.` +
      (relOut ? ` Chart: [${path.basename(o.out)}.svg](${path.basename(o.out)}.svg).` : '') +
      (o.stored
        ? ` ${o.stored.methods.join(', ')}: from the stored run ${o.stored.from} (measured ${o.stored.date.slice(0, 10)} on the same protocol, ${o.stored.minutes.toFixed(1)} min; static search, rerun here, matched it within ${o.stored.staticDiff.toFixed(4)} nDCG@10 at every seed and checkpoint), so their "search p50 µs" is from that run.`
        : ''),
  ].join('\n')
  let md = markdown({
    header,
    datasets,
    tuned,
    results,
    methods: o.methods,
    driftAt: o.driftAt,
    summaryAt: o.checkpoints.includes(5000) ? 5000 : o.sessions,
    protocol: protocolLines({ ...o, budget: TUNING_BUDGET, trainEvery: TRAIN_EVERY }),
    notes,
  })
  if (engine) md = engineSection(engine, o, results, env) + '\n' + md
  console.log(md)
  if (o.out) {
    fs.mkdirSync(path.dirname(o.out), { recursive: true })
    fs.writeFileSync(`${o.out}.md`, md)
    fs.writeFileSync(`${o.out}.svg`, chart(results, o.methods, o.driftAt))
    fs.writeFileSync(`${o.out}.json`, JSON.stringify({ env, options: o, tuned, results, minutes }) + '\n')
    console.error(`wrote ${o.out}.{md,svg,json}`)
  }
}

// Issue 19's table: the engine's ranking, ours reranking it and the
// embedded VectorDB, held-out nDCG@10 after 5,000 sessions (or the run's
// last checkpoint), then latency, with the targets checked.
function engineSection(engine, o, results, env) {
  const name = o.engine
  const at = o.checkpoints.includes(5000) ? 5000 : o.sessions
  const f3 = (x) => (Number.isFinite(x) ? x.toFixed(3) : '—')
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length
  const sd = (xs) => (xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1)) : 0)
  const at5k = (dataset, method) =>
    results
      .filter((r) => r.dataset === dataset && r.method === method && r.scenario === 'clicks')
      .sort((a, b) => a.seed - b.seed)
      .map((r) => r.points.find((p) => p.sessions === at && !p.label.includes('drift')).ndcg)
  const us = (x) => `${x.toFixed(0)} µs`
  const out = [`## ${name}: the engine's ranking, ours reranking it, and the embedded VectorDB`, '']
  out.push(
    `${engine.version}; ${Object.entries(engine.tables).map(([d, t]) => `${d}: ${t.index}`).join('; ')}. ` +
      `CPU: ${env.cpu} (${env.cores} cores; SIMD ${env.simd}); Node ${env.node}; load average ${env.loadStart} at the start, ${env.loadEnd ?? '?'} at the end.`,
    '',
    `Held-out nDCG@10 after ${at.toLocaleString('en')} sessions (clicks scenario; mean ± sd over ${o.seeds} seed${o.seeds === 1 ? '' : 's'}; ratio and gap paired per seed):`,
    '',
  )
  const rows = []
  const verdicts = []
  for (const dataset of o.datasets) {
    const base = at5k(dataset, name)
    const ours = at5k(dataset, `hnsw-gnn-${name}`)
    const embedded = at5k(dataset, 'hnsw-gnn')
    if (!base.length || !ours.length) continue
    const ratio = mean(ours.map((x, i) => x / base[i]))
    const gap = embedded.length ? mean(embedded.map((x, i) => x - ours[i])) : NaN
    const pass = ratio >= 1.15 && embedded.length && Math.abs(gap) <= 0.03
    rows.push(
      `| ${dataset} | ${f3(mean(base))} ± ${f3(sd(base))} | ${f3(mean(ours))} ± ${f3(sd(ours))} | ${embedded.length ? `${f3(mean(embedded))} ± ${f3(sd(embedded))}` : '—'} | ` +
        `${ratio.toFixed(2)}× | ${Number.isFinite(gap) ? (gap >= 0 ? '+' : '') + gap.toFixed(3) : '—'} | ${pass ? 'yes' : 'no'} |`,
    )
    verdicts.push(pass)
  }
  out.push(
    `| dataset | ${name} (static) | hnsw-gnn-${name} (reranked) | hnsw-gnn (embedded VectorDB) | reranked ÷ ${name} (≥ 1.15×) | embedded − reranked (≤ 0.03) | both met |`,
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
  )
  const l = engine.latency
  if (l) {
    const rerankPass = l.rerank.p50 <= 200
    out.push(
      `Latency on ${l.dataset} (${l.dim} dimensions, ${l.queries} queries cycled, ${l.candidates} candidates per query; the main thread, after the learning jobs). ` +
        `The reranker held every candidate's vector: ${l.held ? 'yes' : 'NO'}; a trained model served during timing: ${l.modelServing ? `yes (model version ${l.modelVersion})` : 'no'}.`,
      '',
      '| what is timed | p50 | p99 | calls |',
      '|---|---|---|---|',
      `| \`reranker.rerank(query, ${l.candidates} × { id }, { k: 10 })\` (no SQL; median of ${l.rerank.runs} runs, run p50s ${l.rerank.runP50s.map((x) => x.toFixed(0)).join(', ')} µs) | ${us(l.rerank.p50)} | ${us(l.rerank.p99)} | ${l.rerank.calls} × ${l.rerank.runs} |`,
      `| \`source.search(query, { k: ${l.candidates} })\`: ${name} alone | ${us(l.engine.p50)} | ${us(l.engine.p99)} | ${l.engine.calls} |`,
      `| \`LearnedSearch.search(query, { k: 10 })\`: ${name} + rerank, end to end | ${us(l.endToEnd.p50)} | ${us(l.endToEnd.p99)} | ${l.endToEnd.calls} |`,
      '',
      `Targets (issue 19): nDCG@10 ≥ 1.15× ${name} and within 0.03 of the embedded VectorDB: ${verdicts.length && verdicts.every(Boolean) ? 'met' : 'not met'} (${verdicts.filter(Boolean).length} of ${verdicts.length} datasets); ` +
        `rerank p50 ≤ 200 µs: ${rerankPass ? 'met' : 'not met'} (${us(l.rerank.p50)}); end-to-end p50 reported beside ${name} alone: ${us(l.endToEnd.p50)} vs ${us(l.engine.p50)}.`,
      '',
    )
  }
  return out.join('\n')
}

async function main() {
  const o = options()
  if (o.report) {
    // Re-renders a stored run (e.g. after a change to the report's layout).
    const run = JSON.parse(fs.readFileSync(o.report, 'utf8'))
    return report({ ...run, options: { ...run.options, out: o.report.replace(/\.json$/, '') } })
  }
  if (!o.engine) return report(await measure(o))
  // Another engine: load it once here, run the jobs (workers connect to
  // it), then time latency on this thread.
  const datasets = o.datasets.map(loadDataset)
  const needed = datasets.some((d) => d.name === LATENCY_DATASET) ? datasets : datasets.concat([loadDataset(LATENCY_DATASET)])
  const prepared = await engines.prepare(o.engine, needed)
  try {
    const run = await measure(o)
    console.error(`latency: ${o.engine}, ${LATENCY_DATASET}`)
    const timing = await latency(prepared.config, needed.find((d) => d.name === LATENCY_DATASET))
    const { uri, dir, ...described } = prepared.config
    run.engine = { ...described, latency: timing }
    run.env.loadEnd = loadAverage()
    return report(run)
  } finally {
    await prepared.stop()
  }
}

main().catch((err) => {
  console.error(err.stack || String(err))
  process.exit(1)
})
