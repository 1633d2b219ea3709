#!/usr/bin/env node
'use strict'
// ANN benchmark: hnsw-gnn against hnswlib-node and usearch (and ruvector if
// installed) on the same data, with the same graph parameters, in one run.
//
//   node benchmark/ann.js --help
//
// The parent process prepares the data (generated + cached, or read from a
// dataset directory), then runs each library in its own child process
// (this same file with --worker) so peak RSS and timings are per library.
// It prints tables per library, the operating point (smallest efSearch with
// recall@10 >= 0.95) with PASS/MISS against the acceptance criteria, and
// writes the same as Markdown to benchmark/results/ann.md.

const fs = require('node:fs')
const path = require('node:path')
const { fork } = require('node:child_process')
const { parseArgs, USAGE } = require('./lib/args')
const { ensureSynthetic, ensureUnitGroundTruth, readMeta } = require('./lib/dataset')
const { envInfo, printLibrary, printSummary, markdown, criteria, point } = require('./lib/report')

const log = (...a) => console.log(...a)
const info = (...a) => console.error(...a) // progress goes to stderr, tables to stdout

// Runs one library in a child process and resolves with its message:
// { ok, result } | { skipped } | { error }.
function runChild(lib, cfg) {
  return new Promise((resolve) => {
    const child = fork(__filename, ['--worker', lib, '--worker-config', JSON.stringify(cfg)], {
      execArgv: ['--expose-gc'], // lets the worker collect garbage between timed passes
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    let msg = null
    child.on('message', (m) => (msg = m))
    child.on('exit', (code, signal) => resolve(msg || { error: `worker exited (code ${code}, signal ${signal}) without a result` }))
  })
}

function isInstalled(name) {
  try {
    require.resolve(name)
    return true
  } catch {
    return false
  }
}

async function prepareDataset(opts) {
  if (opts.dataset) {
    const dir = path.resolve(opts.dataset)
    const meta = readMeta(dir)
    return { dir, synthetic: false, nq: meta.nq, desc: `${dir} (n=${meta.n}, nq=${meta.nq}, dim=${meta.dim})` }
  }
  const dir = await ensureSynthetic(opts, info)
  const meta = readMeta(dir)
  const p = meta.params
  return {
    dir,
    synthetic: true,
    nq: opts.nq,
    desc:
      `synthetic, seed ${opts.seed}: ${opts.n} base + ${opts.nq} queries × ${opts.dim}-d, ` +
      `${p.clusters} gaussian clusters in random ${p.intrinsic}-d subspaces (log-normal sizes and spreads) + isotropic noise σ=${p.noise}; ` +
      `exact brute-force ground truth (cached in ${path.relative(process.cwd(), dir)})`,
  }
}

// The generator is tuned so that this is below 0.9: a benchmark where every
// library is at 0.99 recall at efSearch 16 cannot tell them apart.
function checkDifficulty(results, dataset, notes) {
  const h = results.find((r) => r.lib === 'hnswlib')
  const p = h && point(h, 16, 'sync')
  if (!p) return
  const line = `hnswlib recall@10 at efSearch 16: ${p.recall.toFixed(4)}`
  log(`\n${line}`)
  notes.push(line + (p.recall >= 0.9 ? ' (WARNING: ≥ 0.9, dataset too easy)' : ' (< 0.9: dataset is not trivially easy)'))
  if (p.recall >= 0.9) log(`WARNING: recall@10 ≥ 0.9 at efSearch 16 — ${dataset.synthetic ? 'the synthetic data is too easy; retune lib/synth.js' : 'this dataset is easy'}`)
}

function commandLine() {
  const q = (a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)
  const envPrefix = process.env.NODE_PATH ? `NODE_PATH=${q(process.env.NODE_PATH)} ` : ''
  return `${envPrefix}node benchmark/ann.js ${process.argv.slice(2).map(q).join(' ')}`.trim()
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  if (opts.help) return log(USAGE)
  if (opts.worker) return require('./lib/worker').workerMain(opts.worker, opts.workerConfig)

  const env = envInfo()
  log(`ANN benchmark — ${env.date}`)
  log(`CPU: ${env.cpu} (${env.cores} cores), Node ${env.node}, ${env.platform}`)

  const dataset = await prepareDataset(opts)
  log(`Dataset: ${dataset.desc}`)
  log(`M=16, efConstruction=200, k=${opts.k}, efSearch ${opts.efs.join('/')}, untimed recall/warm-up pass + ${opts.runs} timed runs (median)`)

  const cfg = { dir: dataset.dir, gtFile: 'gt.i32', efs: opts.efs, ruvectorEfs: opts.ruvectorEfs, runs: opts.runs, k: opts.k }
  const results = []
  const skipped = []
  const notes = []
  for (const lib of opts.libs) {
    let libCfg = cfg
    if (lib === 'ruvector') {
      // Check before computing its extra ground truth, which is not free.
      if (!isInstalled('ruvector')) {
        log('\nruvector not installed, skipped')
        skipped.push({ lib, reason: 'not installed, skipped' })
        continue
      }
      libCfg = { ...cfg, gtFile: await ensureUnitGroundTruth(dataset.dir, opts.gtThreads, info) }
    }
    info(`\n[${lib}] running in a child process ...`)
    const msg = await runChild(lib, libCfg)
    if (msg.ok) {
      results.push(msg.result)
      printLibrary(msg.result, log)
    } else if (msg.skipped) {
      log(`\n${lib}: ${msg.skipped}`)
      skipped.push({ lib, reason: msg.skipped })
    } else {
      log(`\n${lib}: FAILED\n${msg.error}`)
      skipped.push({ lib, reason: `failed: ${String(msg.error).split('\n')[0]}` })
    }
  }

  checkDifficulty(results, dataset, notes)
  const crit = criteria(results)
  printSummary({ results, skipped, crit }, log)

  if (opts.md) {
    const out = path.resolve(opts.out || path.join(__dirname, 'results', 'ann.md'))
    fs.mkdirSync(path.dirname(out), { recursive: true })
    fs.writeFileSync(out, markdown({ env, command: commandLine(), dataset, opts, results, skipped, crit, notes }))
    log(`\nMarkdown report written to ${path.relative(process.cwd(), out)}`)
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e)
  process.exit(1)
})
