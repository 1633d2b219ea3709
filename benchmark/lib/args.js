'use strict'
// Command-line parsing for ann.js (no dependencies, so no yargs).

const ALL_LIBS = ['hnswlib', 'usearch', 'hnsw-gnn', 'ruvector']

// A bad command line: reported as one line, without a stack trace.
class UsageError extends Error {}

const USAGE = `Usage: node benchmark/ann.js [DATASET_DIR] [options]

Approximate-nearest-neighbour benchmark: hnsw-gnn vs hnswlib-node and usearch
(and ruvector when installed), all with M=16, efConstruction=200, squared L2.

DATASET_DIR (optional) holds base.f32, queries.f32 (little-endian float32,
row-major), gt.i32 (int32 neighbour ids, >= 10 per query, nearest first) and
meta.json {"n", "nq", "dim"}. Without it, a seeded clustered dataset is
generated and cached, with exact ground truth, under benchmark/data/.

Options:
  --n N                 base vectors to generate              (default 100000)
  --nq N                queries to generate                   (default 2000)
  --dim N               dimensions to generate                (default 128)
  --seed N              generator seed                        (default 42)
  --runs N              timed query passes per point; medians are reported
                                                              (default 5)
  --efs LIST            efSearch values              (default 16,32,64,128,256)
  --libs LIST           subset of ${ALL_LIBS.join(',')}
  --no-ruvector         skip the optional ruvector peer
  --ruvector-efs LIST   efSearch values for ruvector; it builds one index
                        per value, so keep it short       (default 64,128)
  --ruvector-metric M   cosine: unit-normalised copies with their own exact
                        ground truth (default); euclidean: same data and
                        ground truth as the others (its score is plain L2)
  --gt-threads N        threads for brute-force ground truth   (default 2)
  --out FILE            Markdown report  (default benchmark/results/ann.md)
  --no-md               do not write the Markdown report
  -h, --help            show this help

Environment: HNSW_GNN_MODULE=DIR loads hnsw-gnn from DIR instead of the
project root; NODE_PATH can point at a ruvector install outside the project.

Examples:
  node benchmark/ann.js                                  # full default run
  node benchmark/ann.js --n 20000 --nq 500 --runs 2      # quick iteration
  node benchmark/ann.js ~/data/sift --libs hnswlib,hnsw-gnn
`

const DEFAULTS = {
  dataset: null,
  n: 100000,
  nq: 2000,
  dim: 128,
  seed: 42,
  runs: 5,
  efs: [16, 32, 64, 128, 256],
  libs: ALL_LIBS.slice(),
  ruvector: true,
  ruvectorEfs: [64, 128],
  ruvectorMetric: 'cosine',
  gtThreads: 2,
  out: null, // resolved by ann.js
  md: true,
  k: 10,
  help: false,
  worker: null, // internal: run one library in this (child) process
  workerConfig: null, // internal: JSON config for the worker
}

const INT_FLAGS = { n: 'n', nq: 'nq', dim: 'dim', seed: 'seed', runs: 'runs', 'gt-threads': 'gtThreads' }
const LIST_FLAGS = { efs: 'efs', 'ruvector-efs': 'ruvectorEfs' }

function parseIntStrict(flag, v) {
  const x = Number(v)
  if (!Number.isInteger(x) || x < 0) throw new UsageError(`--${flag} expects a non-negative integer, got "${v}"`)
  return x
}

// Walks `argv`, calling `handle(arg, flag, next)` for each argument: `flag`
// is `arg` without its leading dashes, and `next()` returns the option's
// value (`--name=value` or the following argument). Shared by the
// benchmarks' parsers.
function eachArgument(argv, handle) {
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]
    let value
    const eq = a.indexOf('=')
    if (a.startsWith('--') && eq > 0) {
      value = a.slice(eq + 1)
      a = a.slice(0, eq)
    }
    const next = () => {
      if (value !== undefined) return value
      if (i + 1 >= argv.length) throw new UsageError(`${a} expects a value`)
      return argv[++i]
    }
    handle(a, a.replace(/^--/, ''), next)
  }
}

function parseArgs(argv) {
  const o = { ...DEFAULTS, efs: DEFAULTS.efs.slice(), libs: DEFAULTS.libs.slice() }
  eachArgument(argv, (a, flag, next) => {
    if (a === '-h' || a === '--help') o.help = true
    else if (a === '--no-ruvector') o.ruvector = false
    else if (a === '--no-md') o.md = false
    else if (flag in INT_FLAGS) o[INT_FLAGS[flag]] = parseIntStrict(flag, next())
    else if (flag in LIST_FLAGS) o[LIST_FLAGS[flag]] = next().split(',').filter(Boolean).map((v) => parseIntStrict(flag, v))
    else if (a === '--libs') o.libs = next().split(',').filter(Boolean)
    else if (a === '--out') o.out = next()
    else if (a === '--ruvector-metric') o.ruvectorMetric = next()
    else if (a === '--worker') o.worker = next()
    else if (a === '--worker-config') o.workerConfig = JSON.parse(next())
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a} (see --help)`)
    else if (o.dataset === null) o.dataset = a
    else throw new UsageError(`unexpected argument ${a}`)
  })
  for (const lib of o.libs) if (!ALL_LIBS.includes(lib)) throw new UsageError(`unknown library "${lib}"; choose from ${ALL_LIBS.join(', ')}`)
  if (!o.ruvector) o.libs = o.libs.filter((l) => l !== 'ruvector')
  if (!['cosine', 'euclidean'].includes(o.ruvectorMetric)) throw new UsageError('--ruvector-metric must be cosine or euclidean')
  if (o.runs < 1) throw new UsageError('--runs must be at least 1')
  if (o.efs.some((ef) => ef < o.k)) throw new UsageError(`every efSearch must be >= k (${o.k})`)
  if (o.n < o.k) throw new UsageError(`--n must be >= ${o.k}`)
  return o
}

module.exports = { parseArgs, eachArgument, USAGE, ALL_LIBS, UsageError }
