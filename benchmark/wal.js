'use strict'
// What durability costs: acknowledged single-item writes per second and
// their latency, for each `durability` mode against the same database kept
// in memory only, with one writer awaiting each write and with many writes
// in flight. None of the peers (hnswlib-node, usearch, RuVector) has a
// durable per-write path — they persist by saving the whole index — so the
// reference here is hnsw-gnn without a file.
//
//   node benchmark/wal.js [--runs 3] [--base 10000] [--dim 128] [--out FILE | --no-md]
//
// Medians over `--runs` passes, the modes interleaved within each pass.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { VectorDB } = require('..')
const { mulberry32 } = require('./lib/rng')

function parseArgs(argv) {
  const args = { runs: 3, base: 10000, dim: 128, out: path.join(__dirname, 'results', 'wal.md') }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]
    if (flag === '--runs') args.runs = Number(argv[++i])
    else if (flag === '--base') args.base = Number(argv[++i])
    else if (flag === '--dim') args.dim = Number(argv[++i])
    else if (flag === '--out') args.out = argv[++i]
    else if (flag === '--no-md') args.out = null
    else if (flag === '-h' || flag === '--help') {
      console.log(fs.readFileSync(__filename, 'utf8').split('\n').slice(1, 12).join('\n').replace(/^\/\/ ?/gm, ''))
      process.exit(0)
    } else throw new Error(`unknown option ${flag}`)
  }
  return args
}

const MODES = ['memory', 'none', 'batch', 'fsync']
// One writer awaiting each write, and 32 writes kept in flight.
const PATTERNS = [
  { name: 'sequential', inFlight: 1 },
  { name: '32 in flight', inFlight: 32 },
]
// Enough writes for a stable rate, few enough that 'batch' with one writer
// (at most one fsync per 10 ms) finishes in a few seconds.
function writesFor(mode, inFlight) {
  return inFlight === 1 && (mode === 'batch' || mode === 'fsync') ? 300 : 3000
}

function randomVectors(count, dim, seed) {
  const random = mulberry32(seed)
  return Array.from({ length: count }, () => Float32Array.from({ length: dim }, () => random() * 2 - 1))
}

async function onePass({ mode, pattern, base, dim, pass }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hnsw-gnn-wal-bench-'))
  const options = { dimensions: dim, metric: 'euclidean' }
  if (mode !== 'memory') Object.assign(options, { path: path.join(dir, 'db.hgnn'), durability: 'none' })
  const loader = new VectorDB(options)
  await loader.insertBatch(base.map((vector, i) => ({ id: `base-${i}`, vector })))
  let db = loader
  if (mode !== 'memory') {
    // Reopen in the mode under test, with the base saved (an empty log).
    await loader.save()
    await loader.close()
    db = await VectorDB.open(options.path, { durability: mode })
  }
  const writes = writesFor(mode, pattern.inFlight)
  const vectors = randomVectors(writes, dim, 1000 + pass)
  const latencies = new Float64Array(writes)
  let next = 0
  const started = process.hrtime.bigint()
  async function writer() {
    while (next < writes) {
      const i = next++
      const t0 = process.hrtime.bigint()
      await db.insert({ id: `w-${i}`, vector: vectors[i] })
      latencies[i] = Number(process.hrtime.bigint() - t0) / 1e3
    }
  }
  await Promise.all(Array.from({ length: pattern.inFlight }, writer))
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  if (mode !== 'memory') await db.close()
  fs.rmSync(dir, { recursive: true, force: true })
  latencies.sort()
  return {
    opsPerSecond: writes / seconds,
    p50: latencies[Math.floor(writes * 0.5)],
    p99: latencies[Math.min(writes - 1, Math.floor(writes * 0.99))],
    writes,
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const base = randomVectors(args.base, args.dim, 7)
  const results = new Map()
  for (let pass = 0; pass < args.runs; pass++) {
    for (const pattern of PATTERNS) {
      for (const mode of MODES) {
        const r = await onePass({ mode, pattern, base, dim: args.dim, pass })
        const key = `${pattern.name}|${mode}`
        if (!results.has(key)) results.set(key, [])
        results.get(key).push(r)
        console.error(`pass ${pass + 1}/${args.runs} ${pattern.name.padEnd(12)} ${mode.padEnd(6)} ${Math.round(r.opsPerSecond)} writes/s, p50 ${r.p50.toFixed(0)} µs, p99 ${r.p99.toFixed(0)} µs`)
      }
    }
  }
  const cpu = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) || [])[1] || os.cpus()[0].model
  const lines = [
    '# Durable writes: cost of each durability mode',
    '',
    `${new Date().toISOString().slice(0, 10)} · ${cpu} · ${os.cpus().length} cores · Node ${process.version} · ${os.tmpdir()} on this VM's disk`,
    '',
    `Single-item \`insert\`s of ${args.dim}-d vectors into a database holding ${args.base.toLocaleString('en-US')} items; medians of ${args.runs} passes (modes interleaved). \`memory\` is the same database without a file. Peers have no durable per-write path, so none appear here.`,
    '',
    '| writers | durability | writes/s | vs memory | p50 ack µs | p99 ack µs | writes per pass |',
    '|---|---|---:|---:|---:|---:|---:|',
  ]
  for (const pattern of PATTERNS) {
    const memory = median(results.get(`${pattern.name}|memory`).map((r) => r.opsPerSecond))
    for (const mode of MODES) {
      const rs = results.get(`${pattern.name}|${mode}`)
      const ops = median(rs.map((r) => r.opsPerSecond))
      lines.push(
        `| ${pattern.name} | ${mode} | ${Math.round(ops).toLocaleString('en-US')} | ${(ops / memory).toFixed(2)}× | ${median(rs.map((r) => r.p50)).toFixed(0)} | ${median(rs.map((r) => r.p99)).toFixed(0)} | ${rs[0].writes} |`,
      )
    }
  }
  const report = lines.join('\n') + '\n'
  console.log(report)
  if (args.out) {
    fs.mkdirSync(path.dirname(args.out), { recursive: true })
    fs.writeFileSync(args.out, report)
    console.error(`wrote ${path.relative(process.cwd(), args.out)}`)
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
