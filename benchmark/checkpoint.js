'use strict'
// How long writes wait while the log is folded into the file: single-item
// upserts, one awaited at a time, into a database of --base items, while
// (a) automatic checkpoints run every --every bytes of log, (b) the same
// writer runs with checkpoints off and an explicit save() started at the
// same cadence (what a checkpoint was before it let writes go on), and
// (c) nothing is folded (the machine's own noise). Reports per mode the
// writes, checkpoints or saves completed, and write latency p50 / p99 /
// p99.9 / max — medians over --runs passes. None of the peers has a
// per-write durable path, so there is no peer column (see wal.js).
//
//   node benchmark/checkpoint.js [--base 100000] [--dim 128] [--seconds 10]
//                                [--every 262144] [--runs 3]
//                                [--out FILE | --no-md]
//
// Durability 'none', so that a write's latency is the wait for the gate,
// not the group commit's 10 ms. The base database (ann.js's clustered
// synthetic vectors; uniform 128-d data builds several times slower and
// is unlike embeddings) is built once per size and cached under
// benchmark/data/.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { VectorDB } = require('..')
const { mulberry32 } = require('./lib/rng')
const { generate } = require('./lib/synth')

// Seeds of the base vectors and of the passes' writes (separate streams, so
// a cached base leaves the passes' writes unchanged).
const BASE_SEED = 42
const PASS_SEED = 43

function parseArgs(argv) {
  const args = { base: 100000, dim: 128, seconds: 10, every: 256 << 10, runs: 3, out: path.join(__dirname, 'results', 'checkpoint.md') }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]
    const number = () => {
      const value = Number(argv[++i])
      if (!Number.isFinite(value) || value <= 0) throw new Error(`${flag} needs a positive number`)
      return value
    }
    if (flag === '--base') args.base = number()
    else if (flag === '--dim') args.dim = number()
    else if (flag === '--seconds') args.seconds = number()
    else if (flag === '--every') args.every = number()
    else if (flag === '--runs') args.runs = number()
    else if (flag === '--out') args.out = argv[++i]
    else if (flag === '--no-md') args.out = null
    else if (flag === '-h' || flag === '--help') {
      console.log(fs.readFileSync(__filename, 'utf8').split('\n').slice(1, 21).join('\n').replace(/^\/\/ ?/gm, ''))
      process.exit(0)
    } else throw new Error(`unknown option ${flag} (see --help)`)
  }
  return args
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

// The base database, built once per size and kept under benchmark/data/
// (a 1M × 128 build of uniform data takes tens of minutes on 2 cores):
// built under a temporary name and renamed, so an interrupted build leaves
// no cache behind.
async function baseFile(args) {
  const dataDir = path.join(__dirname, 'data')
  const file = path.join(dataDir, `checkpoint-base-v2-n${args.base}-d${args.dim}-s${BASE_SEED}.hgnn`)
  if (fs.existsSync(file)) {
    console.log(`using cached base ${path.relative(process.cwd(), file)}`)
    return file
  }
  fs.mkdirSync(dataDir, { recursive: true })
  const partial = `${file}.partial`
  fs.rmSync(partial, { force: true })
  fs.rmSync(`${partial}-wal`, { force: true })
  const vectors = generate({ n: args.base, nq: 0, dim: args.dim, seed: BASE_SEED }).base
  const ids = Array.from({ length: args.base }, (_, i) => String(i))
  const db = new VectorDB({ dimensions: args.dim, metric: 'euclidean', path: partial, checkpoint: false })
  const started = performance.now()
  let reported = 0
  await db.insertBatch({ ids, vectors }, {
    onProgress: (done, total) => {
      if (done === total || performance.now() - reported > 30000) {
        reported = performance.now()
        console.log(`  building base: ${done} / ${total} (${((reported - started) / 1000).toFixed(0)} s)`)
      }
    },
  })
  await db.save()
  db.close()
  fs.rmSync(`${partial}-wal`, { force: true })
  fs.renameSync(partial, file)
  return file
}

// One pass of one mode over a copy of the built file.
async function pass(mode, source, args, random) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hnsw-gnn-checkpoint-'))
  const file = path.join(dir, 'db.hgnn')
  fs.copyFileSync(source, file)
  const automatic = mode === 'checkpoint'
  const db = await VectorDB.open(file, {
    durability: 'none',
    checkpoint: automatic ? { bytes: args.every } : false,
  })
  const latencies = []
  let saves = 0
  let saving = null
  let logged = 0
  const vector = new Float32Array(args.dim)
  const upsert = async () => {
    for (let d = 0; d < args.dim; d++) vector[d] = random() * 2 - 1
    const started = performance.now()
    await db.upsert({ id: String(Math.floor(random() * args.base)), vector })
    return performance.now() - started
  }
  // The first write after an open rebuilds the graph's anchors (what keeps
  // every node reachable, kept in memory only): reported on its own, not
  // mixed into the waits for checkpoints.
  const firstWrite = await upsert()
  const end = performance.now() + args.seconds * 1000
  while (performance.now() < end) {
    latencies.push(await upsert())
    logged += args.dim * 4 + 64
    if (mode === 'save' && logged >= args.every && !saving) {
      logged = 0
      saving = db.save().then(() => { saves++; saving = null })
    }
  }
  if (saving) await saving
  const checkpoints = db.stats().checkpoints
  db.close()
  fs.rmSync(dir, { recursive: true, force: true })
  latencies.sort((a, b) => a - b)
  return {
    writes: latencies.length,
    folds: automatic ? checkpoints : saves,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    p999: quantile(latencies, 0.999),
    max: latencies[latencies.length - 1],
    firstWrite,
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const random = mulberry32(PASS_SEED)
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
  const flags = (fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '')
    .match(/^flags\s*:(.*)$/m)?.[1].split(' ').filter((f) => /^(avx|fma)/.test(f)).join(' ') ?? ''
  console.log(`Checkpoint write wait — ${new Date().toISOString()}`)
  console.log(`CPU: ${cpu} (${os.cpus().length} cores; flags: ${flags}), Node ${process.version}`)
  console.log(`${args.base} × ${args.dim}, a fold every ${args.every} bytes of log, ${args.seconds} s per pass, ${args.runs} pass(es)`)
  const source = await baseFile(args)
  const modes = ['checkpoint', 'save', 'none']
  const results = Object.fromEntries(modes.map((m) => [m, []]))
  for (let run = 0; run < args.runs; run++) {
    for (const mode of run % 2 ? [...modes].reverse() : modes) {
      const result = await pass(mode, source, args, random)
      results[mode].push(result)
      console.log(`  pass ${run + 1} ${mode}: ${result.writes} writes, ${result.folds} folds, p50 ${result.p50.toFixed(3)} ms, p99 ${result.p99.toFixed(3)} ms, p99.9 ${result.p999.toFixed(1)} ms, max ${result.max.toFixed(1)} ms; first write after open ${result.firstWrite.toFixed(1)} ms`)
    }
  }
  const rows = modes.map((mode) => {
    const r = results[mode]
    const m = (key) => median(r.map((x) => x[key]))
    return { mode, writes: m('writes'), folds: m('folds'), p50: m('p50'), p99: m('p99'), p999: m('p999'), max: m('max'), firstWrite: m('firstWrite') }
  })
  const label = { checkpoint: 'automatic checkpoint (writes go on)', save: 'explicit save() at the same cadence', none: 'no folding (noise floor)' }
  const lines = [
    `# Checkpoint write wait`,
    '',
    `\`${['node benchmark/checkpoint.js', ...process.argv.slice(2)].join(' ')}\` — ${new Date().toISOString().slice(0, 10)}; ${cpu}, ${os.cpus().length} cores, flags \`${flags}\`, Node ${process.version}.`,
    '',
    `${args.base} × ${args.dim} items (ann.js's clustered synthetic set, seed ${BASE_SEED}), upserts one at a time (durability 'none'), a fold of the log every ${args.every} bytes, ${args.seconds} s per pass; medians of ${args.runs} passes.`,
    '',
    '| mode | writes | folds | p50 ms | p99 ms | p99.9 ms | max ms | first write after open ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${label[r.mode]} | ${r.writes} | ${r.folds} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.p999.toFixed(1)} | ${r.max.toFixed(1)} | ${r.firstWrite.toFixed(1)} |`),
    '',
    'Latencies are of the writes after the first: the first write after an open rebuilds the graph\'s anchors (kept in memory only, so every node stays reachable) and is shown on its own.',
    '',
  ]
  console.log('\n' + lines.join('\n'))
  if (args.out) {
    fs.writeFileSync(args.out, lines.join('\n'))
    console.log(`wrote ${args.out}`)
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
