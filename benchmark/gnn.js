'use strict'
// GNN benchmark: hnsw-gnn's layers on an HNSW level-0 graph built from
// seeded data and on a random graph of the same size and degree (no
// locality), each op beside this machine's roofline (measured FMA peak and
// random-row gather bandwidth) and (with --pyg) PyTorch Geometric's fastest
// path for the same op on the same graph (benchmark/gnn_pyg.py reads the
// graphs this script exports). With --train, also one full training step of
// three models, beside PyG's same step.
//
//   node benchmark/gnn.js [--nodes 100000] [--dim 128] [--runs 10] [--train] [--pyg]

process.env.RAYON_NUM_THREADS = process.env.RAYON_NUM_THREADS || '2'

const fs = require('fs')
const path = require('path')
const { spawnSync } = require('child_process')
const { eachArgument, UsageError } = require('./lib/args')
const { generate } = require('./lib/synth')
const { median } = require('./lib/measure')
const { simdFlags } = require('./lib/report')
const { Rng, deriveSeed } = require('./lib/rng')

const ROOT = path.join(__dirname, '..')
const MODULE = process.env.HNSW_GNN_MODULE || ROOT
const { VectorDB, Graph, GCNLayer, GATLayer, GraphSAGE, HalfFeatures, aggregateSync } = require(MODULE)
// The dense reference: the layers' own SGEMM, through the unstable probe entry.
const { sgemm: denseProduct, trainSteps, roofline } = require(path.join(MODULE, 'internal.js'))

// The training step's models, by the probe's kinds; classes are one per
// output feature of the models (all 64 wide).
const TRAIN_MODELS = [
  ['GCN-2', 'gcn'],
  ['GAT-8', 'gat'],
  ['SAGE-2', 'sage'],
]
const TRAIN_CLASSES = 64
// Done when PyG's step takes at least this many times ours, in the same run.
const TRAIN_TARGET_SPEEDUP = 3
// Dense SGEMM is done at this fraction of the measured FMA peak.
const SGEMM_TARGET_OF_PEAK = 0.8
// Width of the narrow mean aggregation: the first columns of the features.
const NARROW = 64

const USAGE = `Usage: node benchmark/gnn.js [options]

Times GCN 128→64, GAT (8 heads), GraphSAGE 128→128→64 and mean aggregation
(64-d and 128-d, f32 and f16 rows) over the level-0 graph of an HNSW index
(M=16, each node keeping its 16 nearest links) built from seeded clustered
data, and over a seeded random graph with 16 sources per node, with ${process.env.RAYON_NUM_THREADS}
threads (RAYON_NUM_THREADS); each op beside this machine's measured FMA peak
and gather bandwidth (the roofline).

Options:
  --nodes N     nodes (default 100000)
  --dim N       feature width (default 128)
  --runs N      timed runs per op; medians are reported (default 10)
  --seed N      data seed (default 42)
  --export DIR  where the HNSW graph is exported for gnn_pyg.py
                (default benchmark/data/gnn-<nodes>); the random graph goes
                to DIR-random
  --train       also time one full-batch training step (forward, softmax
                cross-entropy against seeded random labels over 64 classes,
                backward, AdamW lr 0.01, weight decay 5e-4) of GCN-2
                (GCN 128→128 ReLU → GCN 128→64), GAT-8 (8 heads × 8,
                concatenated) and SAGE-2 (GraphSAGE mean 128→128→64); with
                --pyg, beside PyTorch Geometric's same step (target: ours
                ≥ ${TRAIN_TARGET_SPEEDUP}× faster)
  --pyg         also run benchmark/gnn_pyg.py on both exported graphs, and
                put PyG's fastest path per op beside ours
  --out FILE    Markdown report (default benchmark/results/gnn.md); gnn_pyg.py
                writes its numbers beside it, to <FILE without .md>_pyg.json
                and <FILE without .md>_pyg-random.json
  -h, --help    show this help`

function parse(argv) {
  const o = { nodes: 100000, dim: 128, runs: 10, seed: 42, exportDir: null, pyg: false, train: false, out: path.join(__dirname, 'results', 'gnn.md'), memoryChild: null }
  const int = (flag, v) => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} expects a positive integer, got ${v}`)
    return n
  }
  eachArgument(argv, (a, name, next) => {
    if (a === '--nodes' || a === '--dim' || a === '--runs' || a === '--seed') o[name] = int(a, next())
    else if (a === '--export') o.exportDir = next()
    else if (a === '--pyg') o.pyg = true
    else if (a === '--train') o.train = true
    else if (a === '--out') o.out = next()
    else if (a === '--memory-child') o.memoryChild = next()
    else if (a === '--precision') o.precision = next()
    else if (a === '-h' || a === '--help') {
      console.log(USAGE)
      process.exit(0)
    } else throw new UsageError(`unknown option ${a}`)
  })
  if (o.runs < 10) console.warn(`note: --runs ${o.runs} is below the 10 runs the targets are defined on`)
  o.exportDir = o.exportDir || path.join(__dirname, 'data', `gnn-${o.nodes}`)
  return o
}

// ----------------------------------------------------------------- graph --

function exportGraph(dir, features, graph, meta) {
  fs.mkdirSync(dir, { recursive: true })
  const { offsets, targets } = graph.csr()
  const write = (name, typed) => fs.writeFileSync(path.join(dir, name), Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength))
  write('features.f32', features.data)
  write('offsets.u32', offsets)
  write('sources.u32', targets)
  fs.writeFileSync(path.join(dir, 'graph.json'), JSON.stringify({ ...meta, nodes: features.rows, dims: features.cols, edges: targets.length }, null, 2))
}

function loadExport(dir) {
  const read = (name, Ctor) => {
    const b = fs.readFileSync(path.join(dir, name))
    return new Ctor(b.buffer, b.byteOffset, b.byteLength / Ctor.BYTES_PER_ELEMENT)
  }
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'graph.json'), 'utf8'))
  return {
    meta,
    features: { data: read('features.f32', Float32Array), rows: meta.nodes, cols: meta.dims },
    csr: { offsets: read('offsets.u32', Uint32Array), targets: read('sources.u32', Uint32Array) },
  }
}

const DEGREE = 16

// The same degree with perfect locality: node i aggregates i+1 .. i+degree.
// Timing the same kernel on it separates memory latency from compute.
function bandedGraph(n, degree) {
  const offsets = new Uint32Array(n + 1)
  const targets = new Uint32Array(n * degree)
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < degree; k++) targets[i * degree + k] = (i + 1 + k) % n
    offsets[i + 1] = (i + 1) * degree
  }
  return new Graph({ offsets, targets })
}

// DEGREE distinct uniformly random sources per node (never the node itself),
// seeded: the same size and degree as the HNSW graph with no locality.
function randomGraph(n, degree, seed) {
  const rng = new Rng(deriveSeed(seed, 7))
  const offsets = new Uint32Array(n + 1)
  const targets = new Uint32Array(n * degree)
  const chosen = new Set()
  for (let i = 0; i < n; i++) {
    chosen.clear()
    while (chosen.size < Math.min(degree, n - 1)) {
      const source = Math.floor(rng.uniform() * n)
      if (source !== i) chosen.add(source)
    }
    targets.set([...chosen], i * degree)
    offsets[i + 1] = i * degree + chosen.size
  }
  return { offsets, targets: targets.subarray(0, offsets[n]) }
}

// The first `cols` columns of a row-major matrix, copied into their own.
function firstColumns(features, cols) {
  const data = new Float32Array(features.rows * cols)
  for (let i = 0; i < features.rows; i++) data.set(features.data.subarray(i * features.cols, i * features.cols + cols), i * cols)
  return { data, rows: features.rows, cols }
}

async function buildGraph(o) {
  const t0 = performance.now()
  const { base } = generate({ n: o.nodes, nq: 0, dim: o.dim, seed: o.seed })
  const db = new VectorDB({ dimensions: o.dim, metric: 'euclidean', m: DEGREE, efConstruction: 100 })
  const items = []
  for (let i = 0; i < o.nodes; i++) items.push({ id: String(i), vector: base.subarray(i * o.dim, (i + 1) * o.dim) })
  await db.insertBatch(items)
  const snapshot = await db.snapshot()
  const features = snapshot.features
  // Level-0 lists hold up to 2M links, nearest first: keep DEGREE of them.
  const { offsets, targets } = snapshot.graph.csr()
  const kept = []
  const keptOffsets = new Uint32Array(offsets.length)
  for (let i = 0; i + 1 < offsets.length; i++) {
    const end = Math.min(offsets[i + 1], offsets[i] + DEGREE)
    for (let e = offsets[i]; e < end; e++) kept.push(targets[e])
    keptOffsets[i + 1] = kept.length
  }
  const graph = new Graph({ offsets: keptOffsets, targets: Uint32Array.from(kept) })
  console.log(`built the HNSW index (M=${DEGREE}, efConstruction=100) on ${o.nodes} × ${o.dim} in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  return { graph, features }
}

// ------------------------------------------------------------------ timing --

// Each run starts on a fresh turn of the event loop, as calls in a service
// do: outputs the previous runs dropped are collected and their finalizers
// run there (Node defers them to the loop), so their buffers go back to
// hnsw-gnn's output pool instead of every call faulting in fresh pages.
async function time(fn, runs) {
  const turn = () => new Promise(setImmediate)
  fn()
  await turn()
  fn() // warm-up: caches derived graphs and faults in the output buffers
  const ms = []
  for (let r = 0; r < runs; r++) {
    await turn()
    const t0 = process.hrtime.bigint()
    fn()
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6)
  }
  return { median: median(ms), min: Math.min(...ms), runs: ms.length }
}

// One full training step of each model, timed inside the core (2 warm-up
// steps, then one timing per run), so no JS work sits between its phases.
function timeTraining(graph, features, o) {
  const { offsets, targets } = graph.csr()
  return TRAIN_MODELS.map(([model, kind]) => {
    const times = trainSteps(kind, features.data, features.rows, features.cols, offsets, targets, TRAIN_CLASSES, o.runs, o.seed)
    const ms = Array.from(times.total)
    const phases = Object.fromEntries(['forward', 'loss', 'backward', 'optimizer'].map((p) => [p, median(Array.from(times[p]))]))
    return { model, median: median(ms), min: Math.min(...ms), runs: ms.length, phases }
  })
}

// FLOPs per op kind, counting a multiply-add as 2 (gnn_pyg.py counts the
// same); d is the width of the features the op reads.
function flops(kind, n, e, d) {
  const projection = (i, o) => 2 * n * i * o
  switch (kind) {
    case 'mean':
      return e * d
    case 'gcn':
      return projection(d, 64) + 2 * (e + n) * 64
    case 'gat':
      // projection, scores per node and head, softmax and the weighted sum per edge and head
      return projection(d, 64) + 2 * 2 * n * 64 + (e + n) * 8 * (5 + 2 * 8)
    case 'sage':
      return e * d + 2 * projection(d, d) + e * d + 2 * projection(d, 64)
    case 'sgemm':
      return projection(d, 64)
  }
  throw new Error(`no FLOP count for ${kind}`)
}

// Bytes of source rows the aggregations read: one row of the aggregated
// width per edge (plus the self loop for GCN and GAT), at 4 bytes a value,
// or 2 where the rows are half precision.
function gatheredBytes(kind, n, e, d, bytesPerValue = 4) {
  switch (kind) {
    case 'mean':
      return e * d * bytesPerValue
    case 'gcn':
    case 'gat':
      return (e + n) * 64 * bytesPerValue
    case 'sage':
      return (e * d + e * 64) * bytesPerValue
  }
  return 0
}

// ---------------------------------------------------------------- roofline --

function cpuinfoField(name) {
  const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith(name))
  return line ? line.split(':')[1].trim() : null
}

// The theoretical FMA peak from /proc/cpuinfo: threads × the first
// processor's reported clock × single-precision FLOPs per cycle per core of
// the widest FMA ISA, assuming two FMA pipes per core. AVX2: 2 × 8 lanes ×
// 2 = 32. AVX-512: 64, except AMD family 25 (Zen 4), whose 512-bit FMAs are
// double-pumped through its two 256-bit pipes, so 32.
function theoreticalPeak(threads) {
  const flags = (cpuinfoField('flags') || '').split(/\s+/)
  const amdFamily25 = cpuinfoField('vendor_id') === 'AuthenticAMD' && cpuinfoField('cpu family') === '25'
  const isa = flags.includes('avx512f') ? 'AVX-512' : flags.includes('avx2') && flags.includes('fma') ? 'AVX2+FMA' : 'SSE'
  const perCycle = isa === 'AVX-512' ? (amdFamily25 ? 32 : 64) : isa === 'AVX2+FMA' ? 32 : 8
  const mhz = Number(cpuinfoField('cpu MHz')) || 0
  const basis =
    isa === 'AVX-512' && amdFamily25
      ? 'AVX-512 on AMD family 25 (Zen 4: 512-bit FMAs double-pumped through 2 × 256-bit pipes) = 32'
      : isa === 'AVX-512'
        ? 'AVX-512 with 2 × 512-bit FMA pipes = 64'
        : isa === 'AVX2+FMA'
          ? 'AVX2 with 2 × 256-bit FMA pipes = 32'
          : 'SSE, separate add and multiply = 8'
  return { gflops: (threads * mhz * perCycle) / 1000, mhz, perCycle, basis }
}

// The shortest time an op could take on this machine: its FLOPs at the
// measured FMA peak or its gathered bytes at the measured random-row gather
// bandwidth, whichever is longer.
function boundMs(kind, n, e, d, bytesPerValue, limits) {
  const computeMs = flops(kind, n, e, d) / (limits.fmaGflops * 1e6)
  const gatherMs = gatheredBytes(kind, n, e, d, bytesPerValue) / (limits.gatherGbytesPerSecond * 1e6)
  return Math.max(computeMs, gatherMs)
}

function loadAverage() {
  return fs.readFileSync('/proc/loadavg', 'utf8').split(/\s+/).slice(0, 3).join(' ')
}

// ------------------------------------------------------------------ memory --

function status(field) {
  const line = fs.readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith(field + ':'))
  return Number(line.split(/\s+/)[1]) * 1024
}

// Runs in a fresh process: loads the exported graph, then measures how far
// one GCN forward pass raises the peak RSS above features + graph.
function memoryChild(dir, precision) {
  const { features, csr } = loadExport(dir)
  const graph = new Graph(csr, { precision })
  const layer = new GCNLayer({ inputDim: features.cols, outputDim: 64, seed: 1 })
  // Peak RSS above the current one for a forward pass; the output is
  // dropped before the next measurement.
  const peakOf = () => {
    global.gc()
    fs.writeFileSync('/proc/self/clear_refs', '5') // reset VmHWM to the current RSS
    const before = status('VmHWM')
    const out = layer.forwardSync(features, graph)
    return { extra: status('VmHWM') - before, outputBytes: out.data.byteLength }
  }
  const first = peakOf() // also builds and caches the normalised graph
  const steady = peakOf()
  process.stdout.write(JSON.stringify({ first: first.extra, steady: steady.extra, outputBytes: steady.outputBytes, featureBytes: features.data.byteLength }))
}

function measureMemory(dir, precision) {
  const child = spawnSync(process.execPath, ['--expose-gc', __filename, '--memory-child', dir, '--precision', precision], { encoding: 'utf8', env: process.env })
  if (child.status !== 0) throw new Error(`memory child failed: ${child.stderr}`)
  return JSON.parse(child.stdout)
}

// ------------------------------------------------------------------- main --

// benchmark/gnn_pyg.py on one exported graph: its markdown, and the numbers
// it writes beside the report (its "fastest" path per op kind is what the op
// tables compare, its "train" rows what --train compares).
function runPyg(o, dir, suffix, train) {
  const json = o.out ? o.out.replace(/\.md$/, '') + `_pyg${suffix}.json` : path.join(require('os').tmpdir(), `gnn_pyg${suffix}-${process.pid}.json`)
  const args = [path.join(__dirname, 'gnn_pyg.py'), dir, '--runs', String(o.runs), '--json', json]
  if (train) args.push('--train')
  const pyg = spawnSync('python3', args, { encoding: 'utf8', maxBuffer: 64 << 20 })
  if (pyg.status !== 0) {
    return { failure: `PyTorch Geometric did not run (exit ${pyg.status}): ${(pyg.stderr || pyg.stdout || '').trim().split('\n').pop()}` }
  }
  return { markdown: pyg.stdout.trim(), result: JSON.parse(fs.readFileSync(json, 'utf8')) }
}

function cpuModel() {
  const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'))
  return line ? line.split(':')[1].trim() : 'unknown CPU'
}

// The ops timed on one graph: [label, kind, width, bytes per gathered value,
// target ms, run]. `half` is the f16 copy of the same graph (GCN gathers
// half-precision projected rows on it); `banded` is omitted on the random
// graph, as is SGEMM, which does not read the graph.
function graphOps(g, withTargets) {
  const { d, features, narrow, half, halfNarrow, graph, graphF16, banded, layers, weight } = g
  const t = (ms) => (withTargets ? ms : null)
  const ops = [
    [`mean aggregation ${NARROW}-d, f32`, 'mean', NARROW, 4, t(5), () => aggregateSync(narrow, graph, 'mean')],
    [`mean aggregation ${NARROW}-d, f16 rows`, 'mean', NARROW, 2, t(5), () => aggregateSync(halfNarrow, graph, 'mean')],
    [`mean aggregation ${d}-d, f32`, 'mean', d, 4, t(12), () => aggregateSync(features, graph, 'mean')],
    [`mean aggregation ${d}-d, f16 rows`, 'mean', d, 2, t(12), () => aggregateSync(half, graph, 'mean')],
  ]
  if (banded) ops.push([`mean aggregation ${d}-d, f32, banded graph`, 'mean', d, 4, null, () => aggregateSync(features, banded, 'mean')])
  ops.push(
    [`GCN ${d}→64, f32 graph`, 'gcn', d, 4, t(15), () => layers.gcn.forwardSync(features, graph)],
    [`GCN ${d}→64, f16 graph`, 'gcn', d, 2, t(15), () => layers.gcn.forwardSync(features, graphF16)],
    ['GAT 8 heads (8 × 8)', 'gat', d, 4, t(45), () => layers.gat.forwardSync(features, graph)],
    [`SAGE ${d}→${d}→64`, 'sage', d, 4, t(25), () => layers.sage.forwardSync(features, graph)],
  )
  if (withTargets) ops.push(['dense SGEMM', 'sgemm', d, 4, null, () => denseProduct(features.data, weight, features.rows, d, 64)])
  return ops
}

async function timeOps(ops, runs) {
  const rows = []
  for (const [op, kind, width, bytesPerValue, target, fn] of ops) rows.push({ op, kind, width, bytesPerValue, target, ...(await time(fn, runs)) })
  return rows
}

// PyG's op kind for one of our rows (gnn_pyg.py's "fastest" keys).
function pygKind(r) {
  if (r.op.includes('banded')) return null
  if (r.kind === 'mean') return r.width === NARROW ? 'mean64' : 'mean'
  return r.kind
}

// One graph's op table: ours, the roofline bound, PyG's fastest path.
function opTable(say, rows, { n, e, limits, pyg }) {
  const fastest = pyg && pyg.result ? pyg.result.fastest : null
  say('| op | median ms | min ms | GFLOPS | gathered GB/s | bound ms | % of bound | PyG best ms | PyG path | ours vs PyG | ahead of PyG | target | |')
  say('|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---:|---|')
  for (const r of rows) {
    const gflops = flops(r.kind, n, e, r.width) / (r.median * 1e6)
    const gathered = gatheredBytes(r.kind, n, e, r.width, r.bytesPerValue)
    const bound = boundMs(r.kind, n, e, r.width, r.bytesPerValue, limits)
    const theirs = fastest && pygKind(r) ? fastest[pygKind(r)] : null
    const speedup = theirs ? theirs.median_ms / r.median : null
    let target = r.target == null ? '' : `≤ ${r.target} ms`
    let verdict = r.target == null ? '' : r.median <= r.target ? 'PASS' : `MISS by ${((r.median / r.target - 1) * 100).toFixed(0)}%`
    if (r.kind === 'sgemm') {
      const ofPeak = gflops / limits.fmaGflops
      target = `≥ ${SGEMM_TARGET_OF_PEAK * 100}% of FMA peak`
      verdict = `${ofPeak >= SGEMM_TARGET_OF_PEAK ? 'PASS' : 'MISS'} (${(ofPeak * 100).toFixed(0)}% of peak)`
    }
    const cells = [
      r.op,
      r.median.toFixed(2),
      r.min.toFixed(2),
      gflops.toFixed(1),
      gathered ? (gathered / (r.median * 1e6)).toFixed(1) : '',
      bound.toFixed(2),
      `${((bound / r.median) * 100).toFixed(0)}%`,
      theirs ? theirs.median_ms.toFixed(2) : '',
      theirs ? theirs.variant : '',
      speedup ? `${speedup.toFixed(2)}×` : '',
      speedup ? (speedup > 1 ? 'yes' : 'NO') : '',
      target,
      verdict,
    ]
    say(`| ${cells.join(' | ')} |`)
  }
  say()
  say(
    'median/min ms: wall time of one call over all nodes. GFLOPS: FLOPs (a multiply-add counts 2) over the median. Gathered GB/s: bytes of source rows read per edge (rows of the aggregated width; 2 bytes a value on the f16 rows, where GCN gathers its projected rows in f16) over the median. ' +
      'bound ms: the shortest time the roofline allows, max(FLOPs / measured FMA peak, gathered bytes / measured gather bandwidth); % of bound: bound / median, how close the op is to this machine\'s limit (a banded or otherwise cache-friendly op can exceed 100%, since the gather bandwidth is measured on random rows over a working set larger than L3). ' +
      (fastest ? "PyG best ms: PyTorch Geometric's fastest path for the same op on the same graph in this run (PyG path names it; f16 rows compare against PyG's f32 mean of the same width, which has no f16 path); ours vs PyG: PyG's median / ours; ahead of PyG: ours is faster. " : '') +
      'target: the goal for this op; each aggregation target is met if either its f32 or its f16 row passes, GCN\'s by either graph precision.',
  )
}

// Which rows met each target (an aggregation width or GCN counts as met if
// any of its rows did).
function targetSummary(say, rows) {
  const groups = new Map()
  for (const r of rows.filter((x) => x.target != null)) {
    const key = r.kind === 'mean' ? `mean aggregation ${r.width}-d ≤ ${r.target} ms` : `${r.op.split(',')[0]} ≤ ${r.target} ms`
    if (!groups.has(key)) groups.set(key, [])
    if (r.median <= r.target) groups.get(key).push(`${r.op} (${r.median.toFixed(2)} ms)`)
  }
  say(`Targets: ${[...groups].map(([key, met]) => `${key}: ${met.length ? `PASS by ${met.join(', ')}` : 'MISS'}`).join('; ')}.`)
}

async function main() {
  const o = parse(process.argv.slice(2))
  if (o.memoryChild) return memoryChild(o.memoryChild, o.precision || 'f32')
  const loadStart = loadAverage()
  const threads = Number(process.env.RAYON_NUM_THREADS)
  const { graph, features } = await buildGraph(o)
  const n = graph.numNodes
  const e = graph.numEdges
  console.log(`graph: ${n} nodes, ${e} edges (mean degree ${(e / n).toFixed(2)}), features ${features.rows} × ${features.cols}`)
  exportGraph(o.exportDir, features, graph, { seed: o.seed, source: `hnsw-gnn level 0, M=${DEGREE}, efConstruction=100, euclidean, ${DEGREE} nearest links kept` })
  const randomCsr = randomGraph(n, DEGREE, o.seed)
  const random = new Graph(randomCsr)
  const randomDir = `${o.exportDir}-random`
  exportGraph(randomDir, features, random, { seed: o.seed, source: `${DEGREE} distinct uniformly random sources per node, seeded` })
  console.log(`exported to ${path.relative(process.cwd(), o.exportDir)} and ${path.relative(process.cwd(), randomDir)} for gnn_pyg.py`)

  const t0 = performance.now()
  const limits = roofline(threads)
  const peak = theoreticalPeak(threads)
  console.log(`roofline measured in ${((performance.now() - t0) / 1000).toFixed(1)} s`)

  const d = o.dim
  const layers = {
    gcn: new GCNLayer({ inputDim: d, outputDim: 64, activation: 'relu', seed: 1 }),
    gat: new GATLayer({ inputDim: d, outputDim: 64, numHeads: 8, seed: 2 }),
    sage: new GraphSAGE({ inputDim: d, hiddenDim: d, outputDim: 64, numLayers: 2, aggregator: 'mean', seed: 3 }),
  }
  const { gcn, gat } = layers
  const narrow = firstColumns(features, NARROW)
  const shared = { d, features, narrow, half: new HalfFeatures(features), halfNarrow: new HalfFeatures(narrow), layers }
  const hnswOps = graphOps(
    {
      ...shared,
      graph,
      graphF16: new Graph(graph.csr(), { precision: 'f16' }),
      banded: bandedGraph(n, Math.round(e / n)),
      weight: new Float32Array(d * 64).map((_, i) => Math.sin(i)),
    },
    true,
  )
  const randomOps = graphOps({ ...shared, graph: random, graphF16: new Graph(randomCsr, { precision: 'f16' }) }, false)
  const rows = await timeOps(hnswOps, o.runs)
  const randomRows = await timeOps(randomOps, o.runs)
  const train = o.train ? timeTraining(graph, features, o) : null
  const memory = { f32: measureMemory(o.exportDir, 'f32'), f16: measureMemory(o.exportDir, 'f16') }
  // PyG runs after every timing of ours, so neither loads the other's runs.
  const pyg = o.pyg ? runPyg(o, o.exportDir, '', o.train) : null
  const pygRandom = o.pyg ? runPyg(o, randomDir, '-random', false) : null
  const loadEnd = loadAverage()

  const lines = []
  const say = (s = '') => {
    lines.push(s)
    console.log(s)
  }
  const reproduce = `node benchmark/gnn.js --nodes ${o.nodes} --dim ${d} --runs ${o.runs} --seed ${o.seed}${o.train ? ' --train' : ''}${o.pyg ? ' --pyg' : ''}`
  say(`# GNN benchmark: ${n} nodes, ${e} edges, ${d}-d features`)
  say()
  say(`${cpuModel()}; SIMD flags: ${simdFlags()}; ${threads} threads (RAYON_NUM_THREADS); hnsw-gnn ${require(path.join(ROOT, 'package.json')).version}, Node ${process.version}; median of ${o.runs} runs after 2 warm-ups. Load average (1/5/15 min) ${loadStart} at start, ${loadEnd} at end.`)
  say()
  say(`Reproduce: \`RAYON_NUM_THREADS=${threads} ${reproduce}\``)
  say()
  say(
    `Roofline: measured FMA peak ${limits.fmaGflops.toFixed(1)} GFLOPS (${limits.fmaPath}, ${limits.fmaThreads} threads, 12 independent accumulator chains per thread), beside a theoretical ${peak.gflops.toFixed(1)} GFLOPS = ${threads} cores × ${peak.mhz.toFixed(0)} MHz × ${peak.perCycle} FLOPs/cycle/core (${peak.basis}; assumes 2 FMA pipes per core; /proc/cpuinfo reports the base clock, so the measured peak can exceed this when the core boosts). ` +
      `Gather bandwidth: ${limits.gatherGbytesPerSecond.toFixed(1)} GB/s of random 512-byte rows over a 256 MB working set (larger than L3), on the same ${threads} threads.`,
  )
  say()
  say(`## HNSW level-0 graph (${DEGREE} nearest links per node, locality-ordered features)`)
  say()
  opTable(say, rows, { n, e, limits, pyg })
  say()
  targetSummary(say, rows)
  say()
  say(`## Random graph (${DEGREE} distinct uniformly random sources per node, seeded; no locality)`)
  say()
  say(`The same ${n} nodes and features, ${random.numEdges} edges; the same layers and weights.`)
  say()
  opTable(say, randomRows, { n, e: random.numEdges, limits, pyg: pygRandom })
  if (pyg && pyg.result && pygRandom && pygRandom.result) {
    const behind = []
    for (const [graphName, graphRows, run] of [
      ['HNSW', rows, pyg],
      ['random', randomRows, pygRandom],
    ]) {
      for (const r of graphRows) {
        const theirs = pygKind(r) && run.result.fastest[pygKind(r)]
        if (theirs && theirs.median_ms <= r.median) behind.push(`${r.op} (${graphName})`)
      }
    }
    say()
    say(`Ahead of PyG's fastest path on every op, both graphs: ${behind.length ? `NO, behind on ${behind.join(', ')}` : 'yes'}.`)
  }
  say()
  const graphBytes = (e + n) * 8 + (n + 1) * 8 // normalised edges (source + weight) and offsets
  const mb = (bytes) => (bytes / 1e6).toFixed(1)
  const memoryTargetMet = Math.min(memory.f32.first, memory.f16.first) / 1e6 <= 50
  say(`Peak memory of one GCN ${d}→64 forward pass above features and graph (HNSW graph, fresh process, VmHWM), first call / next call: f32 graph ${mb(memory.f32.first)} / ${mb(memory.f32.steady)} MB, f16 graph ${mb(memory.f16.first)} / ${mb(memory.f16.steady)} MB (target ≤ 50 MB on the first call: ${memoryTargetMet ? 'PASS' : 'MISS'}${memory.f32.first / 1e6 > 50 && memoryTargetMet ? ', with the f16 graph' : ''}). The first call also builds the ${mb(graphBytes)} MB normalised graph kept for later calls; later calls reuse freed memory. The output alone is ${mb(memory.f32.outputBytes)} MB, the f32 projection ${mb(memory.f32.outputBytes)} MB and the f16 one half that; the features are ${mb(memory.f32.featureBytes)} MB.`)

  // Quantised weights: the same GCN and GAT saved as f16 and int8, reloaded,
  // against their f32 outputs on the whole graph.
  say()
  say('| quantised weights | max abs error / max abs output | mean abs error / mean abs output |')
  say('|---|---:|---:|')
  const weightsDir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'gnn-weights-'))
  for (const [name, layer, make] of [
    ['GCN 128→64', gcn, () => new GCNLayer({ inputDim: d, outputDim: 64 })],
    ['GAT 8 heads', gat, () => new GATLayer({ inputDim: d, outputDim: 64, numHeads: 8 })],
  ]) {
    const reference = layer.forwardSync(features, graph).data
    let maxRef = 0
    let sumRef = 0
    for (const v of reference) {
      maxRef = Math.max(maxRef, Math.abs(v))
      sumRef += Math.abs(v)
    }
    for (const weightType of ['f16', 'int8']) {
      const file = path.join(weightsDir, `${weightType}.weights`)
      layer.saveWeightsSync(file, { weightType })
      const restored = make()
      restored.loadWeightsSync(file)
      const out = restored.forwardSync(features, graph).data
      let maxErr = 0
      let sumErr = 0
      for (let i = 0; i < out.length; i++) {
        const err = Math.abs(out[i] - reference[i])
        maxErr = Math.max(maxErr, err)
        sumErr += err
      }
      say(`| ${name}, ${weightType} | ${(maxErr / maxRef).toExponential(2)} | ${(sumErr / sumRef).toExponential(2)} |`)
    }
  }
  fs.rmSync(weightsDir, { recursive: true, force: true })

  if (train) {
    say()
    say(`## Training step (forward, cross-entropy over ${TRAIN_CLASSES} classes, backward, AdamW), medians of ${o.runs} runs`)
    say()
    say(`Full batch over all ${n} nodes against seeded random labels; AdamW with lr 0.01, weight decay 5e-4; 2 warm-up steps. GCN-2: GCN ${d}→128 (ReLU) → GCN 128→64; GAT-8: GAT ${d} → 8 heads × 8, concatenated; SAGE-2: GraphSAGE mean ${d}→128 (ReLU) → 128→64, every neighbour.${pyg ? ' PyG: the same models, the faster of its edge_index and torch.sparse CSR layouts; its features need no gradient.' : ''}`)
    say()
    const peer = pyg && pyg.result && pyg.result.train ? new Map(pyg.result.train.map((r) => [r.model, r])) : null
    if (peer) {
      say('| model | median ms | min ms | PyG median ms | PyG layout | PyG / ours | target | |')
      say('|---|---:|---:|---:|---|---:|---:|---|')
    } else {
      say('| model | median ms | min ms |')
      say('|---|---:|---:|')
    }
    for (const r of train) {
      const theirs = peer && peer.get(r.model)
      if (!peer) {
        say(`| ${r.model} | ${r.median.toFixed(2)} | ${r.min.toFixed(2)} |`)
      } else if (!theirs) {
        say(`| ${r.model} | ${r.median.toFixed(2)} | ${r.min.toFixed(2)} | | | | ≥ ${TRAIN_TARGET_SPEEDUP}× | no PyG figure |`)
      } else {
        const ratio = theirs.median_ms / r.median
        const verdict = ratio >= TRAIN_TARGET_SPEEDUP ? 'PASS' : `MISS by ${((TRAIN_TARGET_SPEEDUP / ratio - 1) * 100).toFixed(0)}%`
        say(`| ${r.model} | ${r.median.toFixed(2)} | ${r.min.toFixed(2)} | ${theirs.median_ms.toFixed(2)} | ${theirs.variant} | ${ratio.toFixed(2)}× | ≥ ${TRAIN_TARGET_SPEEDUP}× | ${verdict} |`)
      }
    }
    if (peer && train.some((r) => peer.has(r.model) && peer.get(r.model).median_ms / r.median < TRAIN_TARGET_SPEEDUP)) {
      say()
      say(`MISS by x%: our step takes x% longer than PyG's divided by ${TRAIN_TARGET_SPEEDUP}.`)
    }
    say()
    say(`Where our step's time goes (median ms per phase): ${train.map((r) => `${r.model}: ${Object.entries(r.phases).map(([p, ms]) => `${p} ${ms.toFixed(1)}`).join(', ')}`).join('; ')}.`)
  }

  for (const [name, run] of [
    ['HNSW level-0 graph', pyg],
    ['random graph', pygRandom],
  ]) {
    if (!run) continue
    say()
    say(`## PyTorch Geometric, ${name}, same run`)
    say()
    say(run.failure || run.markdown)
  }
  if (o.out) {
    fs.mkdirSync(path.dirname(o.out), { recursive: true })
    fs.writeFileSync(o.out, lines.join('\n') + '\n')
    console.log(`\nwrote ${path.relative(process.cwd(), o.out)}`)
  }
}

main().catch((error) => {
  if (error instanceof UsageError) {
    console.error(`${error.message}\n\n${USAGE}`)
    process.exit(2)
  }
  console.error(error)
  process.exit(1)
})
