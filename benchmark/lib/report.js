'use strict'
// Turns worker results into the stdout tables, the operating-point verdict
// against the acceptance criteria, and the Markdown report.

const fs = require('node:fs')
const os = require('node:os')

const RECALL_TARGET = 0.95

// Acceptance criteria (hnsw-gnn vs peers), printed next to every verdict.
const CRITERIA = {
  vsHnswlib: 1.3, // sync QPS at the operating point, >= 1.3x hnswlib
  vsUsearch: 1.0, // >= 1.0x usearch
  buildVsHnswlib: 0.8, // build time <= 0.8x hnswlib
  asyncOverheadUs: 15, // p50 of await search() - p50 of searchSync() per call, <= 15 us
  buildPeakVsHnswlib: 1.2, // peak RSS of the build process <= 1.2x hnswlib's
  steadyVsHnswlib: 1.15, // RSS after the build <= 1.15x hnswlib's + the id strings' bytes
}

// Bytes of the decimal id strings "0" .. String(n - 1) that hnsw-gnn keeps
// (hnswlib's labels are integers inside its own allocation).
function decimalIdBytes(n) {
  let bytes = 0
  for (let i = 0; i < n; i++) bytes += String(i).length
  return bytes
}

// The mode whose QPS counts as "single-query QPS" for each library.
const PRIMARY_MODE = { hnswlib: 'sync', usearch: 'sync', 'hnsw-gnn': 'sync', ruvector: 'async' }

// ------------------------------------------------------------ formatting
const fmtInt = (x) => (x == null ? '-' : Math.round(x).toLocaleString('en-US'))
const fmt = (x, d = 1) => (x == null || Number.isNaN(x) ? '-' : x.toFixed(d))
const fmtRatio = (x) => (x == null ? 'n/a' : `${x.toFixed(2)}x`)

function loadAverage() {
  return os.loadavg().map((x) => x.toFixed(2)).join(' / ')
}

// "ruvector not installed, skipped" reads better than "ruvector: ruvector ...".
const skipLine = (s) => (s.reason.startsWith(s.lib) ? s.reason : `${s.lib}: ${s.reason}`)

// The SIMD flags that decide which kernels run (the CPUs of these machines
// differ: some EPYCs have AVX2+FMA only, others AVX-512).
function simdFlags() {
  try {
    const m = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:\s*(.+)$/m)
    if (!m) return 'unknown'
    const wanted = m[1].split(/\s+/).filter((f) => /^(avx2|fma|avx512\w*|asimd|neon)$/.test(f))
    return wanted.length ? wanted.join(' ') : 'none of AVX2/FMA/AVX-512/NEON'
  } catch {
    return 'unknown'
  }
}

function envInfo() {
  let cpu = os.cpus()[0]?.model || 'unknown'
  try {
    const m = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m)
    if (m) cpu = m[1].trim()
  } catch {}
  return {
    cpu,
    simd: simdFlags(),
    cores: os.availableParallelism ? os.availableParallelism() : os.cpus().length,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString(),
    memGB: os.totalmem() / 2 ** 30,
    loadStart: loadAverage(),
    loadEnd: null,
  }
}

// Renders rows as an aligned plain-text table (first column left-aligned).
function textTable(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ')
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

// Numbers right-aligned, text left-aligned.
const isNumeric = (c) => /^(-|n\/a|[\d.,]+( ?µs|x)?)$/.test(String(c))

function mdTable(header, rows) {
  const esc = (c) => String(c).replace(/\|/g, '\\|')
  const right = header.map((_, i) => i > 0 && rows.every((r) => isNumeric(r[i])))
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `| ${right.map((r) => (r ? '---:' : '---')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n')
}

// ------------------------------------------------------------ analysis
const QUERY_HEADER = ['efSearch', 'mode', 'recall@10', 'QPS', 'mean µs', 'p50 µs', 'p99 µs']

function queryRows(res) {
  const rows = []
  for (const { ef, points } of res.perEf) {
    for (const p of points) rows.push([ef, p.mode, fmt(p.recall, 4), fmtInt(p.qps), fmt(p.meanUs), fmt(p.p50Us), fmt(p.p99Us)])
  }
  return rows
}

function point(res, ef, mode) {
  const e = res.perEf.find((x) => x.ef === ef)
  return e && e.points.find((p) => p.mode === mode)
}

// Smallest efSearch whose recall@10 reaches the target, in the library's
// primary (single-query) mode.
function operatingPoint(res) {
  const mode = PRIMARY_MODE[res.lib]
  for (const { ef } of [...res.perEf].sort((a, b) => a.ef - b.ef)) {
    const p = point(res, ef, mode)
    if (p && p.recall >= RECALL_TARGET) return { ef, mode, ...p }
  }
  return null
}

function verdict(value, target, higherIsBetter) {
  if (value == null) return 'n/a'
  return (higherIsBetter ? value >= target : value <= target) ? 'PASS' : 'MISS'
}

function criteria(results) {
  const by = Object.fromEntries(results.map((r) => [r.lib, r]))
  const op = Object.fromEntries(results.map((r) => [r.lib, operatingPoint(r)]))
  const ours = op['hnsw-gnn']
  const qpsRatio = (peer) => (ours && op[peer] ? ours.qps / op[peer].qps : null)
  const rows = []
  // hnsw-gnn never reaching the recall target is a miss, not "n/a".
  const noOp = by['hnsw-gnn'] && !ours
  const add = (name, value, shown, target, result) =>
    rows.push({ name, value, shown, target, result: noOp && name.startsWith('QPS') ? `MISS (hnsw-gnn < ${RECALL_TARGET} recall)` : result })

  let r = qpsRatio('hnswlib')
  add('QPS hnsw-gnn sync / hnswlib (each at its operating point)', r, fmtRatio(r), `≥ ${CRITERIA.vsHnswlib}× hnswlib`, verdict(r, CRITERIA.vsHnswlib, true))
  r = qpsRatio('usearch')
  add('QPS hnsw-gnn sync / usearch (each at its operating point)', r, fmtRatio(r), `≥ ${CRITERIA.vsUsearch.toFixed(1)}× usearch`, verdict(r, CRITERIA.vsUsearch, true))
  if (by.ruvector) {
    r = qpsRatio('ruvector')
    add('QPS hnsw-gnn sync / ruvector (each at its operating point)', r, fmtRatio(r), '(informational)', r == null ? 'n/a' : 'info')
  }
  r = by['hnsw-gnn'] && by.hnswlib ? by['hnsw-gnn'].buildSec / by.hnswlib.buildSec : null
  add('build time hnsw-gnn / hnswlib', r, fmtRatio(r), `≤ ${CRITERIA.buildVsHnswlib}× hnswlib`, verdict(r, CRITERIA.buildVsHnswlib, false))
  const mem = by['hnsw-gnn'] && by.hnswlib ? [by['hnsw-gnn'].rss, by.hnswlib.rss] : null
  r = mem ? mem[0].buildPeakMB / mem[1].buildPeakMB : null
  add('peak RSS of the build, hnsw-gnn / hnswlib', r, fmtRatio(r), `≤ ${CRITERIA.buildPeakVsHnswlib}× hnswlib`, verdict(r, CRITERIA.buildPeakVsHnswlib, false))
  const idMB = mem ? decimalIdBytes(by['hnsw-gnn'].n) / 2 ** 20 : 0
  r = mem ? mem[0].steadyMB / (CRITERIA.steadyVsHnswlib * mem[1].steadyMB + idMB) : null
  add(`RSS after build, hnsw-gnn / (${CRITERIA.steadyVsHnswlib}× hnswlib + ${fmt(idMB)} MB of id strings)`, r, fmtRatio(r), '≤ 1.00×', verdict(r, 1, false))
  // Async overhead is judged at our operating point (64 if none reached).
  const oursRes = by['hnsw-gnn']
  const ovEf = ours ? ours.ef : 64
  const ovEntry = oursRes && oursRes.perEf.find((e) => e.ef === ovEf)
  const ov = ovEntry && ovEntry.asyncOverheadUs ? ovEntry.asyncOverheadUs.p50 : null
  add(`async overhead, p50 await search() − p50 searchSync(), at ef=${ovEf}`, ov, ov == null ? 'n/a' : `${fmt(ov)} µs`, `≤ ${CRITERIA.asyncOverheadUs} µs`, verdict(ov, CRITERIA.asyncOverheadUs, false))
  return { op, rows }
}

// ------------------------------------------------------------ rendering
function buildRows(results) {
  return results.map((r) => [
    `${r.label} ${r.version}`,
    fmt(r.buildSec, 2),
    fmt(r.rss.baselineMB, 0),
    fmt(r.rss.buildPeakMB, 0),
    fmt(r.rss.steadyMB, 0),
    fmt(r.rss.endPeakMB, 0),
    r.buildNote + (r.extraBuilds.length ? `; extra builds: ${r.extraBuilds.map((b) => `ef ${b.ef} ${fmt(b.sec, 1)} s`).join(', ')}` : ''),
  ])
}
const BUILD_HEADER = ['library', 'build s', 'RSS before build MB', 'peak RSS after build MB', 'RSS after build MB', 'peak RSS end MB', 'how']

function opRows(results, op) {
  return results.map((r) => {
    const o = op[r.lib]
    return o
      ? [r.label, o.mode, o.ef, fmt(o.recall, 4), fmtInt(o.qps), fmt(o.p50Us), fmt(o.p99Us)]
      : [r.label, PRIMARY_MODE[r.lib], `none ≤ ${Math.max(...r.perEf.map((e) => e.ef))}`, '-', '-', '-', '-']
  })
}
const OP_HEADER = ['library', 'mode', 'efSearch', 'recall@10', 'QPS', 'p50 µs', 'p99 µs']

const OVERHEAD_HEADER = ['efSearch', 'Δ p50 µs (criterion)', 'Δ mean µs']

function overheadRows(res) {
  return res.perEf.filter((e) => e.asyncOverheadUs != null).map((e) => [e.ef, fmt(e.asyncOverheadUs.p50, 2), fmt(e.asyncOverheadUs.mean, 2)])
}

function printLibrary(res, log) {
  log(`\n${res.label} ${res.version}: build ${fmt(res.buildSec, 2)} s — ${res.buildNote}`)
  log(`  RSS: ${fmt(res.rss.baselineMB, 0)} MB before build (data loaded), peak ${fmt(res.rss.buildPeakMB, 0)} MB after build, ${fmt(res.rss.steadyMB, 0)} MB after build (current, after a GC), peak ${fmt(res.rss.endPeakMB, 0)} MB at end`)
  if (res.extraBuilds.length) log(`  extra builds (one index per efSearch): ${res.extraBuilds.map((b) => `ef ${b.ef}: ${fmt(b.sec, 1)} s`).join(', ')}`)
  log(textTable(QUERY_HEADER, queryRows(res)))
  const ov = overheadRows(res)
  if (ov.length) {
    log(`  async overhead, await search() − searchSync() per call (median over runs):`)
    log(textTable(OVERHEAD_HEADER, ov))
  }
  if (res.hopFloorUs != null) log(`  reference: thread-pool round trip alone (await get() − getSync()): ${fmt(res.hopFloorUs, 2)} µs/call`)
}

function printSummary({ results, skipped, crit }, log) {
  log(`\n=== Build ===`)
  log(textTable(BUILD_HEADER.slice(0, 6), buildRows(results).map((r) => r.slice(0, 6))))
  for (const s of skipped) log(skipLine(s))
  log(`\n=== Operating point: smallest efSearch with recall@10 ≥ ${RECALL_TARGET} ===`)
  log(textTable(OP_HEADER, opRows(results, crit.op)))
  log(`\n=== Acceptance criteria ===`)
  log(textTable(['criterion', 'value', 'target', 'result'], crit.rows.map((c) => [c.name, c.shown, c.target, c.result])))
}

function markdown({ env, command, dataset, opts, results, skipped, crit, notes }) {
  const out = []
  out.push(`# ANN benchmark: hnsw-gnn vs peers`, '')
  out.push(`Reproduce with:`, '', '```sh', command, '```', '')
  out.push(`- Date: ${env.date}`)
  out.push(`- CPU: ${env.cpu}, ${env.cores} cores, ${fmt(env.memGB, 0)} GiB RAM; ${env.platform}`)
  out.push(`- CPU flags: ${env.simd}`)
  out.push(`- Node ${env.node}`)
  out.push(`- Load average (1/5/15 min) at start: ${env.loadStart}; at end: ${env.loadEnd} (the machine may be shared; timings are medians to damp that)`)
  out.push(`- Dataset: ${dataset.desc}`)
  const rv = opts.ruvectorMetric === 'cosine'
    ? 'ruvector: cosine on unit-normalised copies with their own exact ground truth; that copy is much easier than the raw data, so its recall is not comparable with the others'
    : 'ruvector: euclidean (plain L2, same ranking), same data and ground truth'
  out.push(`- All indexes: M=16, efConstruction=200, squared L2 (${rv}); k=10`)
  out.push(`- Query timings: recall@10 from an untimed pass over all ${dataset.nq} queries (which doubles as warm-up); then QPS and latency are the median of ${opts.runs} timed pass(es) over all queries, each call timed with process.hrtime.bigint(), results discarded as an application would. Each library runs in its own child process (peak RSS = that process's maxRSS); libraries are built one after another, then their timed passes are interleaved (run 1 of every library, then run 2, ...) so drifting background load hits all of them alike.`)
  out.push(`- Modes: \`sync\` = one query per call on the JS thread; \`async\` = one awaited Promise per query, issued sequentially; \`batch\` = all queries in one call, parallel on all cores (throughput only).`)
  for (const n of notes) out.push(`- ${n}`)
  out.push('')
  out.push(`## Build`, '', mdTable(BUILD_HEADER, buildRows(results)), '')
  for (const s of skipped) out.push(`- ${skipLine(s)}`)
  if (skipped.length) out.push('')
  out.push(`## Queries`, '')
  for (const r of results) {
    out.push(`### ${r.label} ${r.version}`, '', mdTable(QUERY_HEADER, queryRows(r)), '')
    const ov = overheadRows(r)
    if (ov.length) out.push(`Async overhead, \`await search()\` − \`searchSync()\` per call (median over runs):`, '', mdTable(OVERHEAD_HEADER, ov), '')
    if (r.hopFloorUs != null) out.push(`Reference: the thread-pool round trip alone (\`await get()\` − \`getSync()\` on one id) costs ${fmt(r.hopFloorUs, 2)} µs/call on this machine.`, '')
  }
  out.push(`## Operating point (smallest efSearch with recall@10 ≥ ${RECALL_TARGET})`, '', mdTable(OP_HEADER, opRows(results, crit.op)), '')
  out.push(`## Acceptance criteria`, '', mdTable(['criterion', 'value', 'target', 'result'], crit.rows.map((c) => [c.name, c.shown, c.target, c.result])), '')
  return out.join('\n')
}

module.exports = { simdFlags, envInfo, loadAverage, skipLine, printLibrary, printSummary, markdown, criteria, point, RECALL_TARGET, mdTable, textTable }
