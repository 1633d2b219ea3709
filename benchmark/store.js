#!/usr/bin/env node
'use strict'
// Persistence benchmark: how long hnsw-gnn takes to save and to open a
// database file, what opening costs in memory, and how that compares with
// rebuilding the index from the raw vectors, with hnswlib-node and usearch
// measured in the same run for context.
//
//   node benchmark/store.js --help
//
// Per size n (default 100k and 1M x 128):
//   1. data: the ann benchmark's seeded clustered generator and cache
//      (lib/dataset.js), generated outside every timing;
//   2. each library builds once in a child process with a file, records
//      its top-10 for the check queries, then saves --runs times;
//   3. hnsw-gnn rebuilds in memory (no file) in fresh child processes:
//      the "rebuild the index" baseline;
//   4. every library opens its saved file --runs times, each in a fresh
//      child process reading /proc/self/status around the open, with the
//      page cache warm (file read through first), runs interleaved across
//      libraries; then the same with the page cache dropped (cold), if the
//      kernel lets us;
//   5. tables to stdout, Markdown to benchmark/results/store.md.
// Child processes: lib/store-worker.js.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { UsageError, eachArgument } = require('./lib/args')
const { ensureSynthetic } = require('./lib/dataset')
const { median } = require('./lib/measure')
const { envInfo, loadAverage } = require('./lib/report')
const { M, EF_CONSTRUCTION } = require('./lib/adapters')
const { DRIVERS, runChild, childMain, dropCaches, residentBytes, warmPageCache } = require('./lib/store-worker')

const log = (...a) => console.log(...a)
const info = (...a) => console.error(...a) // progress goes to stderr, tables to stdout

const ALL_LIBS = Object.keys(DRIVERS)
const MB = 1024 * 1024
const TARGET_SPEEDUP = 10 // open of a saved 1M file >= 10x faster than rebuilding
const TARGET_SIZE = 1000000
// "Maps rather than copies": the private memory an open adds must be less
// than the vectors alone: a copy needs all of them on top of the graph links
// and the id catalogue, which any open must build.

const USAGE = `Usage: node benchmark/store.js [options]

Persistence benchmark: save and open times of hnsw-gnn database files and
the memory an open costs (RssAnon / RssFile from /proc/self/status),
against rebuilding the index from the raw vectors (insertBatch), with
hnswlib-node (writeIndex/readIndex) and usearch (save/load/view) for
context. All indexes: M=${M}, efConstruction=${EF_CONSTRUCTION}, squared L2.

Every timed phase runs in a fresh child process; reported times are
medians over --runs runs (the run counts are printed with them).
Data: the seeded clustered dataset of the ann benchmark, cached under
benchmark/data/. Index files go to a temp directory (${os.tmpdir()}),
deleted at the end.

Options:
  --sizes LIST          base sizes                   (default 100000,1000000)
  --quick               --sizes 20000 (unless --sizes is given): a quick check
  --dim N               dimensions                            (default 128)
  --runs N              save, open and rebuild runs per size; medians are
                        reported                                (default 3)
  --rebuild-runs N      in-memory rebuilds of hnsw-gnn per size
                                                     (default: same as --runs)
  --nq N                queries for the search check after open (default 1000)
  --ef N                efSearch of the search check            (default 64)
  --seed N              generator seed                          (default 42)
  --libs LIST           subset of ${ALL_LIBS.join(',')}
  --no-cold             skip the opens with a dropped page cache
  --timeout SEC         kill a child (build, save or open) after SEC seconds
                        and report it as failed                (default 3600)
  --gt-threads N        threads for brute-force ground truth     (default 2)
  --out FILE            Markdown report (default benchmark/results/store.md)
  --no-md               do not write the Markdown report
  -h, --help            show this help

Environment: HNSW_GNN_MODULE=DIR loads hnsw-gnn from DIR instead of the
project root.

Examples:
  node benchmark/store.js --quick                 # 20k vectors, a minute or two
  node benchmark/store.js                         # 100k and 1M: 30+ minutes
  node benchmark/store.js --sizes 1000000 --libs hnsw-gnn --runs 2
`

// ------------------------------------------------------------ command line

const DEFAULTS = {
  sizes: [100000, 1000000],
  quick: false,
  dim: 128,
  runs: 3,
  rebuildRuns: null, // null: same as runs
  nq: 1000,
  ef: 64,
  k: 10,
  seed: 42,
  libs: ALL_LIBS.slice(),
  cold: true,
  timeout: 3600,
  gtThreads: 2,
  out: null,
  md: true,
  help: false,
  child: null, // internal: run one job in this (child) process
}

const INT_FLAGS = { dim: 'dim', runs: 'runs', 'rebuild-runs': 'rebuildRuns', nq: 'nq', ef: 'ef', seed: 'seed', timeout: 'timeout', 'gt-threads': 'gtThreads' }

function parseIntStrict(flag, v) {
  const x = Number(v)
  if (!Number.isInteger(x) || x < 0) throw new UsageError(`--${flag} expects a non-negative integer, got "${v}"`)
  return x
}

function parseArgs(argv) {
  const o = { ...DEFAULTS, libs: DEFAULTS.libs.slice() }
  let sizesGiven = false
  eachArgument(argv, (a, flag, next) => {
    if (a === '-h' || a === '--help') o.help = true
    else if (a === '--quick') o.quick = true
    else if (a === '--no-cold') o.cold = false
    else if (a === '--no-md') o.md = false
    else if (flag in INT_FLAGS) o[INT_FLAGS[flag]] = parseIntStrict(flag, next())
    else if (a === '--sizes') {
      o.sizes = next().split(',').filter(Boolean).map((v) => parseIntStrict('sizes', v))
      sizesGiven = true
    } else if (a === '--libs') o.libs = next().split(',').filter(Boolean)
    else if (a === '--out') o.out = next()
    else if (a === '--child') o.child = JSON.parse(next())
    else throw new UsageError(`unknown option ${a} (see --help)`)
  })
  if (o.quick && !sizesGiven) o.sizes = [20000]
  if (o.rebuildRuns === null) o.rebuildRuns = o.runs
  for (const lib of o.libs) if (!ALL_LIBS.includes(lib)) throw new UsageError(`unknown library "${lib}"; choose from ${ALL_LIBS.join(', ')}`)
  if (o.runs < 1) throw new UsageError('--runs must be at least 1')
  if (!o.sizes.length || o.sizes.some((n) => n < o.k)) throw new UsageError(`every size must be >= ${o.k}`)
  if (o.nq < 1) throw new UsageError('--nq must be at least 1')
  if (o.ef < o.k) throw new UsageError(`--ef must be >= k (${o.k})`)
  if (o.timeout < 1) throw new UsageError('--timeout must be at least 1')
  return o
}

function commandLine() {
  const q = (a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)
  return `node benchmark/store.js ${process.argv.slice(2).map(q).join(' ')}`.trim()
}

// ------------------------------------------------------------ one size

const rotate = (arr, by) => arr.map((_, i) => arr[(i + by) % arr.length])
const firstLine = (e) => String(e).split('\n')[0]
const FILE_EXT = { 'hnsw-gnn': 'hgnn', hnswlib: 'hnswlib', usearch: 'usearch' }

// Runs every phase for one base size; returns the raw per-run results.
// Failures are collected, not thrown: one library failing (e.g. out of
// memory at 1M) must not hide the others' numbers.
async function benchSize(n, opts) {
  const dir = await ensureSynthetic({ n, nq: opts.nq, dim: opts.dim, seed: opts.seed, gtThreads: opts.gtThreads }, info)
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `store-bench-n${n}-`))
  const common = { dir, nq: opts.nq, k: opts.k, ef: opts.ef }
  const size = { n, dim: opts.dim, nq: opts.nq, dir, libs: [], rebuilds: [], failures: [], coldError: null }
  const fail = (lib, phase, error) => {
    info(`  [${lib}] ${phase} FAILED: ${error}`)
    size.failures.push({ lib, phase, error: firstLine(error) })
  }
  try {
    // 1. Build once with a file, record the reference results, save --runs times.
    for (const lib of opts.libs) {
      const file = path.join(tmp, `${lib}.${FILE_EXT[lib]}`)
      const refFile = path.join(tmp, `${lib}.ref`)
      info(`\n[n=${n}] ${lib}: build with a file, then ${opts.runs} save(s), in a child process ...`)
      const r = await runChild({ job: 'build', lib, file, refFile, saveRuns: opts.runs, ...common }, opts.timeout)
      if (!r.ok) {
        fail(lib, 'build + save', r.error)
        continue
      }
      size.libs.push({ lib, file, refFile, build: r.result, opens: {} })
    }

    // 2. The baseline: hnsw-gnn rebuilt from the raw vectors, in memory.
    if (opts.libs.includes('hnsw-gnn')) {
      for (let r = 0; r < opts.rebuildRuns; r++) {
        info(`\n[n=${n}] hnsw-gnn: in-memory rebuild ${r + 1}/${opts.rebuildRuns} in a fresh child process ...`)
        const x = await runChild({ job: 'build', lib: 'hnsw-gnn', file: null, ...common }, opts.timeout)
        if (x.ok) size.rebuilds.push(x.result)
        else fail('hnsw-gnn', `rebuild ${r + 1}`, x.error)
      }
    }

    // 3. Opens: warm runs, then cold runs; run r of every library/mode,
    // then run r+1 (rotating who goes first), so drifting background load
    // hits all of them alike.
    const targets = size.libs.flatMap((L) => DRIVERS[L.lib].modes.map((mode) => ({ L, mode })))
    for (const t of targets) t.L.opens[t.mode] = { warm: [], cold: [] }
    const openOnce = async (t, temp, r) => {
      const resident = residentBytes(t.L.file)
      const x = await runChild({ job: 'open', lib: t.L.lib, mode: t.mode, file: t.L.file, refFile: t.L.refFile, ...common }, opts.timeout)
      if (!x.ok) return fail(t.L.lib, `${t.mode} (${temp} run ${r + 1})`, x.error)
      const res = { ...x.result, resident, fileBytes: t.L.build.fileBytes }
      t.L.opens[t.mode][temp].push(res)
      info(`  [${t.L.lib} ${t.mode}, ${temp} ${r + 1}/${opts.runs}] ${res.openSec.toFixed(3)} s, RssAnon +${fmtMB(res.afterOpen.rssAnon - res.before.rssAnon)} MB, RssFile +${fmtMB(res.afterOpen.rssFile - res.before.rssFile)} MB, ${res.mismatches} mismatching queries`)
    }
    info(`\n[n=${n}] warm opens (file read through first), ${opts.runs} run(s) each ...`)
    for (let r = 0; r < opts.runs; r++) {
      for (const t of rotate(targets, r)) {
        warmPageCache(t.L.file)
        await openOnce(t, 'warm', r)
      }
    }
    if (opts.cold && targets.length) {
      info(`\n[n=${n}] cold opens (page cache dropped before each), ${opts.runs} run(s) each ...`)
      size.coldError = dropCaches()
      if (size.coldError) info(`  cannot drop the page cache (${size.coldError}); cold opens not measured`)
      for (let r = 0; r < opts.runs && !size.coldError; r++) {
        for (const t of rotate(targets, r)) {
          const why = dropCaches()
          if (why) {
            size.coldError = why
            break
          }
          await openOnce(t, 'cold', r)
        }
      }
    } else if (!opts.cold) size.coldError = 'skipped (--no-cold)'
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  return size
}

// ------------------------------------------------------------ summaries

const fmt = (x, d = 1) => (x == null || Number.isNaN(x) ? '-' : x.toFixed(d))
const fmtMB = (bytes, d = 1) => (bytes == null ? '-' : (bytes / MB).toFixed(d))
const fmtInt = (x) => (x == null ? '-' : Math.round(x).toLocaleString('en-US'))
const medianOf = (xs) => (xs.length ? median(xs) : null)
const maxOf = (xs) => (xs.length ? Math.max(...xs) : null)
const list = (xs, d = 3) => (xs.length ? `[${xs.map((x) => x.toFixed(d)).join(', ')}]` : '[]')

const anonDelta = (o) => o.afterOpen.rssAnon - o.before.rssAnon
const fileDelta = (o) => o.afterOpen.rssFile - o.before.rssFile
const fileDeltaSearch = (o) => o.afterSearch.rssFile - o.before.rssFile

// One row per (library, way of opening) with the medians, and the run counts.
function summarize(size) {
  const vectorBytes = size.n * size.dim * 4
  const rebuildSecs = size.rebuilds.map((b) => b.buildSec)
  const rows = []
  for (const L of size.libs) {
    const ours = L.lib === 'hnsw-gnn'
    // hnsw-gnn's baseline is the median in-memory rebuild; the peers build once.
    const buildSecs = ours ? rebuildSecs : [L.build.buildSec]
    const build = medianOf(buildSecs)
    const saves = L.build.saves
    for (const [mode, o] of Object.entries(L.opens)) {
      const all = [...o.warm, ...o.cold]
      const warm = medianOf(o.warm.map((x) => x.openSec))
      const cold = medianOf(o.cold.map((x) => x.openSec))
      const last = all[all.length - 1]
      const worstMismatch = maxOf(all.map((x) => x.mismatches))
      const opens = all.length
      rows.push({
        lib: L.lib,
        label: `${L.build.label} ${L.build.version}`,
        mode,
        note: DRIVERS[L.lib].modeNote[mode],
        buildSecs,
        build,
        buildWithFile: L.build.buildSec,
        peakBuildRss: ours && size.rebuilds.length ? medianOf(size.rebuilds.map((b) => b.peakRss)) : L.build.peakRss,
        saveSecs: saves.map((s) => s.saveSec),
        save: medianOf(saves.map((s) => s.saveSec)),
        saveFsync: medianOf(saves.map((s) => s.saveSec + s.fsyncSec)),
        fileBytes: L.build.fileBytes,
        warmSecs: o.warm.map((x) => x.openSec),
        coldSecs: o.cold.map((x) => x.openSec),
        warm,
        cold,
        speedup: build != null && warm ? build / warm : null,
        coldSpeedup: build != null && cold ? build / cold : null,
        anon: medianOf(o.warm.map(anonDelta)),
        anonCold: medianOf(o.cold.map(anonDelta)),
        anonMax: maxOf(all.map(anonDelta)),
        file: medianOf(o.warm.map(fileDelta)),
        fileCold: medianOf(o.cold.map(fileDelta)),
        fileSearch: medianOf(o.warm.map(fileDeltaSearch)),
        fileSearchCold: medianOf(o.cold.map(fileDeltaSearch)),
        searchMs: medianOf(o.warm.map((x) => x.searchSec * 1000)),
        searchMsCold: medianOf(o.cold.map((x) => x.searchSec * 1000)),
        residentWarm: medianOf(o.warm.map((x) => x.resident).filter((x) => x != null)),
        residentCold: maxOf(o.cold.map((x) => x.resident).filter((x) => x != null)),
        mapped: last && last.stats ? last.stats.mappedVectorBytes : null,
        vectorsMapped: last && last.stats ? last.stats.vectorsMapped : null,
        indexHeap: last && last.stats ? last.stats.indexHeapBytes : null,
        recallBuilt: L.build.recall,
        recallOpened: last ? last.recall : null,
        worstMismatch,
        opens,
        check: !opens ? 'not opened' : worstMismatch === 0 ? `identical (${size.nq}/${size.nq} queries, ${opens} opens)` : `${worstMismatch}/${size.nq} queries differ (worst of ${opens} opens)`,
        files: L.build.files,
        statsAfterSave: L.build.statsAfterSave,
        statsBeforeSave: L.build.statsBeforeSave,
      })
    }
  }
  return { vectorBytes, rebuildSecs, rows }
}

// Verdicts on the two targets for hnsw-gnn at one size.
function targets(size, sum) {
  const r = sum.rows.find((x) => x.lib === 'hnsw-gnn')
  if (!r) return []
  const out = []
  const speedOk = r.speedup != null && r.speedup >= TARGET_SPEEDUP
  out.push({
    name: `open of a saved ${fmtInt(size.n)} file ≥ ${TARGET_SPEEDUP}× faster than rebuilding`,
    value: r.speedup == null ? 'n/a' : `${fmt(r.build, 2)} s / ${fmt(r.warm, 3)} s = ${fmt(r.speedup, 1)}× (warm cache)` + (r.coldSpeedup != null ? `; cold: ${fmt(r.coldSpeedup, 1)}×` : ''),
    result: r.speedup == null ? 'n/a' : speedOk ? 'PASS' : 'MISS',
  })
  const anonOk = r.anonMax != null && r.anonMax < sum.vectorBytes
  const mapOk = r.mapped === sum.vectorBytes && r.vectorsMapped === true
  const links = r.indexHeap == null ? '' : ` (graph links per stats().indexHeapBytes ${fmtMB(r.indexHeap)} MB, the rest ids and catalogue)`
  out.push({
    name: `maps rather than copies the vectors (n=${fmtInt(size.n)})`,
    value:
      `largest RssAnon Δ over ${r.opens} opens ${fmtMB(r.anonMax)} MB${links} < ${fmtMB(sum.vectorBytes)} MB of vectors; ` +
      `mappedVectorBytes ${fmtInt(r.mapped)} vs n·dim·4 = ${fmtInt(sum.vectorBytes)}; vectorsMapped ${r.vectorsMapped}`,
    result: r.anonMax == null ? 'n/a' : anonOk && mapOk ? 'PASS' : `MISS (${[!anonOk && 'RssAnon', !mapOk && 'mapped bytes'].filter(Boolean).join(', ')})`,
  })
  return out
}

// ------------------------------------------------------------ tables

function textTable(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  const line = (cells) => cells.map((c, i) => (i < 2 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ')
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

const isNumeric = (c) => /^(-|n\/a|[\d.,]+ ?[x×]?)$/.test(String(c))

function mdTable(header, rows) {
  const esc = (c) => String(c).replace(/\|/g, '\\|')
  const right = header.map((_, i) => i > 1 && rows.every((r) => isNumeric(r[i])))
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `| ${right.map((r) => (r ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n')
}

const MAIN_HEADER = [
  'library',
  'open with',
  'build s',
  'save s (median)',
  'file MB',
  'open/load s (median, warm)',
  'speed-up vs rebuild',
  'RssAnon Δ after open MB',
  'RssFile Δ after open MB',
  'vectors mapped (bytes)',
  'search check',
  'runs build/save/open',
]

function mainRows(sum) {
  return sum.rows.map((r) => [
    r.label,
    r.mode,
    fmt(r.build, 2),
    fmt(r.save, 3),
    fmtMB(r.fileBytes),
    fmt(r.warm, 3),
    r.speedup == null ? '-' : `${fmt(r.speedup, 1)}×`,
    fmtMB(r.anon),
    fmtMB(r.file),
    r.lib === 'hnsw-gnn' ? (r.mapped == null ? '-' : fmtInt(r.mapped)) : 'n/a',
    r.check,
    `${r.buildSecs.length}/${r.saveSecs.length}/${r.warmSecs.length}`,
  ])
}

const detailHeader = (nq) => [
  'library',
  'open with',
  'save + fsync s',
  'build with file s',
  'cold open s (median)',
  'cold speed-up',
  'RssAnon Δ cold MB',
  'RssFile Δ cold MB',
  'page cache before open MB (warm / cold)',
  `${nq} searches after open ms (warm / cold)`,
  'RssFile Δ after searches MB (warm / cold)',
  'index heap MB (stats)',
  'recall@10 built / opened',
  'peak RSS build MB',
]

function detailRows(sum) {
  return sum.rows.map((r) => [
    r.label,
    r.mode,
    fmt(r.saveFsync, 3),
    fmt(r.buildWithFile, 2),
    fmt(r.cold, 3),
    r.coldSpeedup == null ? '-' : `${fmt(r.coldSpeedup, 1)}×`,
    fmtMB(r.anonCold),
    fmtMB(r.fileCold),
    `${fmtMB(r.residentWarm)} / ${fmtMB(r.residentCold)}`,
    `${fmt(r.searchMs, 1)} / ${fmt(r.searchMsCold, 1)}`,
    `${fmtMB(r.fileSearch)} / ${fmtMB(r.fileSearchCold)}`,
    r.indexHeap == null ? 'n/a' : fmtMB(r.indexHeap),
    `${fmt(r.recallBuilt, 4)} / ${fmt(r.recallOpened, 4)}`,
    fmtMB(r.peakBuildRss, 0),
  ])
}

// Every individual measurement, so medians can be checked.
function rawLines(size, sum) {
  const lines = []
  if (sum.rebuildSecs.length) lines.push(`hnsw-gnn in-memory rebuilds (s): ${list(sum.rebuildSecs, 2)}`)
  const seen = new Set()
  for (const r of sum.rows) {
    if (!seen.has(r.lib)) {
      seen.add(r.lib)
      const wal = r.statsBeforeSave ? `; write-ahead log before the first save ${fmtInt(r.statsBeforeSave.walBytes)} bytes` : ''
      const files = r.files ? ` (files after close: ${r.files.map((f) => `${f.name.replace(/^.*?\./, '*.')} ${fmtInt(f.bytes)} B`).join(', ')})` : ''
      lines.push(`${r.label}: build with file ${fmt(r.buildWithFile, 2)} s${wal}; saves (s) ${list(r.saveSecs)}; file ${fmtInt(r.fileBytes)} bytes${files}`)
    }
    lines.push(`${r.label} ${r.mode}: warm (s) ${list(r.warmSecs)}; cold (s) ${list(r.coldSecs)}`)
  }
  for (const f of size.failures) lines.push(`FAILED ${f.lib} ${f.phase}: ${f.error}`)
  return lines
}

function printSize(size, sum, crit) {
  log(`\n=== n = ${fmtInt(size.n)} × ${size.dim} (vectors ${fmtMB(sum.vectorBytes)} MB) ===`)
  log(textTable(MAIN_HEADER, mainRows(sum)))
  log('')
  log(textTable(detailHeader(size.nq), detailRows(sum)))
  if (size.coldError) log(`cold opens: not measured (${size.coldError})`)
  for (const line of rawLines(size, sum)) log(`  ${line}`)
  if (crit.length) {
    log('')
    log(textTable(['target', 'value', 'result'], crit.map((c) => [c.name, c.value, c.result])))
  }
}

// ------------------------------------------------------------ Markdown

function markdown({ env, opts, sizes }) {
  const out = []
  out.push('# Persistence benchmark: save and open', '')
  out.push('Reproduce with:', '', '```sh', commandLine(), '```', '')
  out.push(`- Date: ${env.date}`)
  out.push(`- Machine: ${env.cpu}, ${env.cores} cores, ${fmt(env.memGB, 0)} GiB RAM; ${env.platform}; Node ${env.node}`)
  out.push(`- CPU flags: ${env.simd}`)
  out.push(`- Load average (1/5/15 min) at start: ${env.loadStart}; at end: ${env.loadEnd} (the machine is shared; other work ran alongside, so timings are medians)`)
  out.push(`- Data: the ann benchmark's seeded synthetic set (seed ${opts.seed}): clustered, ${opts.dim}-d float32; ${opts.nq} queries with exact ground truth for the check. Generated and cached outside all timings.`)
  out.push(`- All indexes: M=${M}, efConstruction=${EF_CONSTRUCTION}, squared L2; search check at k=${opts.k}, efSearch=${opts.ef}. MB = 2^20 bytes.`)
  out.push(`- **build s**: hnsw-gnn = median of ${opts.rebuildRuns} in-memory rebuilds (\`insertBatch({ ids, vectors })\` of all items into a db without a path, parallel on all cores), each in a fresh child process: the "rebuild the index" baseline. Peers: their single build (hnswlib-node: \`addPoint\` per vector, 1 thread, as it has no parallel insert; usearch: \`add\` with all cores).`)
  out.push(`- **save s**: median of ${opts.runs} saves of the same built index, each rewriting the whole file. hnsw-gnn's \`save()\` writes a temp file, fsyncs it and renames it (its first save also folds the write-ahead log, which holds every item after a bulk load with \`durability: 'none'\`); the peers' save does not fsync, so **save + fsync s** adds a timed fsync of the file for all libraries (for hnsw-gnn it finds nothing left to write).`)
  out.push(`- **open/load s**: median of ${opts.runs} opens, each in a fresh child process that has already loaded the library, the queries and the reference results; \`/proc/self/status\` is read just before and just after the open. **RssAnon Δ** = private memory the open added (heaps); **RssFile Δ** = file-backed pages it mapped and touched. **Warm**: the file was read through just before (so it sits in the page cache; shown in the details as "page cache before open"): the common case of reopening a file that was just written or recently used. **Cold**: \`sync; echo 1 > /proc/sys/vm/drop_caches\` before each open; this is a VM (virtio disk), so the host may still cache the disk image: cold here means not in the guest's page cache.`)
  out.push(`- **speed-up vs rebuild** = build s / open s (warm; the cold ratio is in the details).`)
  out.push(`- **search check**: the build process records the top-${opts.k} ids of the first ${opts.nq} queries before saving; every open runs the same queries (timed as "searches after open", cold-ish: first touches of the graph and vectors) and counts queries whose ordered id list differs.`)
  out.push(`- **vectors mapped**: hnsw-gnn's \`stats().mappedVectorBytes\` after open (n·dim·4 if every vector is served from the mapped file). The peers do not report it: hnswlib-node and usearch \`load\` copy the file into memory; usearch \`view\` memory-maps it.`)
  out.push('')

  for (const { size, sum, crit } of sizes) {
    out.push(`## n = ${fmtInt(size.n)} × ${size.dim} (vectors: ${fmtInt(sum.vectorBytes)} bytes = ${fmtMB(sum.vectorBytes)} MB)`, '')
    if (sum.rows.length) out.push(mdTable(MAIN_HEADER, mainRows(sum)), '')
    if (sum.rows.length) out.push('Details (medians over the same runs):', '', mdTable(detailHeader(size.nq), detailRows(sum)), '')
    out.push(`Cold opens: ${size.coldError ? `not measured (${size.coldError})` : `measured, page cache dropped before each of ${opts.runs} run(s) per library`}.`, '')
    for (const f of size.failures) out.push(`- **FAILED** ${f.lib}, ${f.phase}: ${f.error}`)
    if (size.failures.length) out.push('')
    out.push('Raw values:', '', ...rawLines(size, sum).map((l) => `- ${l}`), '')
    if (crit.length) out.push('Targets (hnsw-gnn):', '', mdTable(['target', 'value', 'result'], crit.map((c) => [c.name, c.value, c.result])), '')
  }

  // The headline targets are about the 1M file.
  const big = sizes.find((s) => s.size.n === TARGET_SIZE)
  out.push('## Targets', '')
  if (!big) out.push(`Not evaluated: the targets are about n = ${fmtInt(TARGET_SIZE)}, which this run did not include.`, '')
  else out.push(mdTable(['target', 'value', 'result'], big.crit.map((c) => [c.name, c.value, c.result])), '')
  return out.join('\n')
}

// ------------------------------------------------------------ main

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  if (opts.help) return log(USAGE)
  if (opts.child) return childMain(opts.child)

  const env = envInfo()
  log(`Persistence benchmark — ${env.date}`)
  log(`CPU: ${env.cpu} (${env.cores} cores; flags: ${env.simd}), Node ${env.node}, ${env.platform}, load average ${env.loadStart}`)
  log(`sizes ${opts.sizes.join(', ')} × ${opts.dim}; libraries ${opts.libs.join(', ')}; ${opts.runs} save/open run(s), ${opts.rebuildRuns} rebuild(s) per size (medians)`)

  const sizes = []
  for (const n of opts.sizes) {
    const t0 = performance.now()
    const size = await benchSize(n, opts)
    const sum = summarize(size)
    const crit = targets(size, sum)
    sizes.push({ size, sum, crit })
    info(`\n[n=${n}] done in ${((performance.now() - t0) / 60000).toFixed(1)} min`)
    printSize(size, sum, crit)
  }

  env.loadEnd = loadAverage()
  log(`\nload average (1/5/15 min) at start: ${env.loadStart}; at end: ${env.loadEnd}`)
  const big = sizes.find((s) => s.size.n === TARGET_SIZE)
  if (!big) log(`targets not evaluated: they are about n = ${fmtInt(TARGET_SIZE)}, not in this run`)

  if (opts.md) {
    const out = path.resolve(opts.out || path.join(__dirname, 'results', 'store.md'))
    fs.mkdirSync(path.dirname(out), { recursive: true })
    fs.writeFileSync(out, markdown({ env, opts, sizes }))
    log(`\nMarkdown report written to ${path.relative(process.cwd(), out)}`)
  }
}

main().catch((e) => {
  console.error(e instanceof UsageError ? `error: ${e.message}` : e && e.stack ? e.stack : e)
  process.exit(1)
})

