'use strict'
// Crash loop: a child process writes, searches, gives feedback, trains,
// saves and compacts on one database file while automatic checkpoints run
// several times a second; it is killed with SIGKILL at a random moment (or
// aimed just after a save, checkpoint, compaction or training pass begins,
// or during startup and log replay); the database is reopened and checked:
// it opens, every acknowledged write is there with its exact vector and
// metadata, every acknowledged delete stays deleted, every item a write in
// flight touched is in its old or its new state, nothing else is there,
// and every acknowledged feedback session is in the log. The next cycle
// goes on from there, on the same file.
//
//   node benchmark/crash.js [--cycles 200] [--seed 1] [--dir DIR]
//                           [--out benchmark/results/crash.md | --no-md]
//
// Prints a line per cycle and a summary; exits 1 if anything was lost or
// any open failed. The files of a failing cycle, as the kill left them,
// are kept under --dir (a temporary directory by default, removed when all
// held). benchmark/lib/crash-{worker,model,cycle,content}.js do the work;
// __test__/crash.test.mjs runs 20 cycles of the same loop.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { runLoop, summarize } = require('./lib/crash-cycle')
const { envInfo, loadAverage, mdTable } = require('./lib/report')

function parseArgs(argv) {
  const args = { cycles: 200, seed: 1, dir: null, out: path.join(__dirname, 'results', 'crash.md') }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]
    const count = () => {
      const value = Number(argv[++i])
      if (!Number.isInteger(value) || value < 0) throw new Error(`${flag} needs a whole number, got ${argv[i]}`)
      return value
    }
    if (flag === '--cycles') args.cycles = count()
    else if (flag === '--seed') args.seed = count()
    else if (flag === '--dir') args.dir = argv[++i]
    else if (flag === '--out') args.out = argv[++i]
    else if (flag === '--no-md') args.out = null
    else if (flag === '-h' || flag === '--help') {
      console.log(fs.readFileSync(__filename, 'utf8').split('\n').slice(1, 21).join('\n').replace(/^\/\/ ?/gm, ''))
      process.exit(0)
    } else throw new Error(`unknown option ${flag} (see --help)`)
  }
  return args
}

const fmt = (n) => n.toLocaleString('en-US')
const killed = (r) => (r.msBeforeKill === null ? '-' : `${r.msBeforeKill} ms`)
const aim = (r) => (['random', 'startup'].includes(r.mode) ? r.mode : `${r.mode}${r.triggered ? '' : ' (not seen)'}`)

function cycleLine(r) {
  const inFlight = r.inFlight.length ? r.inFlight.join(',') : 'nothing'
  const checked = r.check ? `checked ${fmt(r.check.checkedItems)} items, ${fmt(r.check.sessions)} sessions` : 'not checked'
  const missing = r.check ? r.check.missing.length + r.check.stale.length + r.check.resurrected.length + r.check.lostFeedback : '-'
  return `cycle ${String(r.cycle).padStart(3)}  ${aim(r).padEnd(18)} ${killed(r).padStart(8)}  in flight: ${inFlight.padEnd(34)} acked ${String(r.opsAcked).padStart(4)} ops (${r.writesAcked} item writes, ${r.feedbackAcked} feedback)  ${checked}  missing ${missing}${r.failures.length ? '  FAILED' : ''}`
}

function summaryText(s, seconds) {
  const kinds = Object.entries(s.killsDuring).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ')
  return [
    `${s.cycles} cycles (SIGKILLs) in ${seconds.toFixed(0)} s`,
    `kills during: ${kinds}`,
    `acknowledged: ${fmt(s.opsAcked)} operations, ${fmt(s.writesAcked)} item writes, ${fmt(s.feedbackAcked)} feedback; ${fmt(s.checkpoints)} checkpoints completed`,
    `checked: ${fmt(s.itemsChecked)} item states, the session count after every cycle (${fmt(s.finalSessions ?? 0)} sessions, ${fmt(s.finalItems ?? 0)} items at the end)`,
    `lost: ${s.lostWrites} acknowledged writes, ${s.undoneDeletes} acknowledged deletes, ${s.lostFeedback} acknowledged feedback (${s.repeatedSearchIds} feedback reused the search id of earlier feedback)`,
    `torn items ${s.torn}, unknown items ${s.phantom}, open failures ${s.openFailures}; failing cycles ${s.failedCycles}`,
    `batches in flight at a kill that came back in part: ${s.partialBatches}; batches aborted by their AbortSignal: ${s.abortedBatches}`,
  ].join('\n')
}

function markdown(args, env, s, records, seconds) {
  const failing = records.filter((r) => r.failures.length > 0)
  const kindRows = Object.entries(s.killsDuring).sort((a, b) => b[1] - a[1]).map(([kind, n]) => [kind, n])
  const modeRows = Object.entries(s.modes).map(([mode, n]) => [mode, n, ['random', 'startup'].includes(mode) ? '-' : records.filter((r) => r.mode === mode && r.triggered).length])
  const failingLine = (r) => `- cycle ${r.cycle} (${aim(r)}, ${killed(r)}, in flight ${r.inFlight.join(',') || 'nothing'}): ${r.failures.join('; ').replace(/\n/g, ' ')}`
  const failingList = failing.slice(0, 20).map(failingLine).join('\n') + (failing.length > 20 ? `\n- ... and ${failing.length - 20} more (see the per-cycle table)` : '')
  return `# Crash loop: SIGKILL during writes, feedback, training, checkpoints, compaction and saves

${env.date.slice(0, 10)} · ${env.cpu} · ${env.cores} cores · Node ${env.node} · ${env.platform} · load ${env.loadStart} → ${env.loadEnd}

CPU flags: ${env.flags}

\`node benchmark/crash.js --cycles ${args.cycles} --seed ${args.seed}\` (${seconds.toFixed(0)} s). One database file lives through every cycle. Each cycle a child process opens it and runs 2-6 concurrent loops of seeded random operations — inserts, batches of 2-41 (object and flat form; a quarter with an AbortSignal firing within 0-3 ms), upserts, vector and metadata updates, deletes, searches with feedback, \`train()\`, \`save()\`, \`compact()\` — with durability \`batch\` (\`fsync\` in a quarter of the cycles), automatic checkpoints every 24 KiB or 300 ms of log, and background training. The parent SIGKILLs it at a random moment after it is ready, during its startup and log replay, or a few ms after a save, checkpoint (its temp file appears), compaction or \`train()\` begins; then reopens the file and checks every item ever written against the model: acknowledged writes present with their exact vector and metadata, acknowledged deletes absent, items of writes in flight in their old or new state, no other items (\`size\` and the snapshot's ids), searches return live items only, and the feedback log holds a session for every acknowledged feedback.

## Result

${mdTable(['', 'count'], [
  ['cycles (SIGKILLs)', s.cycles],
  ['acknowledged operations', fmt(s.opsAcked)],
  ['acknowledged item writes (ids written or deleted)', fmt(s.writesAcked)],
  ['acknowledged feedback', fmt(s.feedbackAcked)],
  ['item states checked', fmt(s.itemsChecked)],
  ['checkpoints completed', fmt(s.checkpoints)],
  ['**lost acknowledged writes**', s.lostWrites],
  ['**undone acknowledged deletes**', s.undoneDeletes],
  ['**lost acknowledged feedback**', s.lostFeedback],
  ['feedback reusing the search id of earlier feedback', s.repeatedSearchIds],
  ['**torn items** (neither old nor new)', s.torn],
  ['**items nobody wrote**', s.phantom],
  ['**open failures**', s.openFailures],
  ['failing cycles', s.failedCycles],
  ['batches in flight that came back in part (allowed)', s.partialBatches],
  ['batches aborted by their AbortSignal (none of their items may be there)', s.abortedBatches],
  ['items / sessions at the end', `${fmt(s.finalItems ?? 0)} / ${fmt(s.finalSessions ?? 0)}`],
])}

### What was in flight at the kills

A kill counts under every kind it interrupted (an operation begun and not acknowledged; \`checkpoint\`: a temp file being written with no \`save()\` in flight; \`open\`: killed before ready).

${mdTable(['in flight', 'kills'], kindRows)}

${mdTable(['kill aimed at', 'cycles', 'aim seen'], modeRows)}
${failing.length ? `\n## Failing cycles\n\n${failingList}\n` : ''}
## Per cycle

<details><summary>${records.length} cycles</summary>

${mdTable(['cycle', 'kill aimed at', 'ms before kill', 'in flight', 'durability', 'loops', 'ops acked', 'item writes', 'feedback', 'checkpoints', 'checked', 'items', 'sessions', 'failures'], records.map((r) => [
  r.cycle, aim(r), r.msBeforeKill ?? '-', r.inFlight.join(', ') || 'nothing', r.durability, r.concurrency, r.opsAcked, r.writesAcked, r.feedbackAcked, r.checkpoints,
  r.check ? r.check.checkedItems : '-', r.size ?? '-', r.check ? r.check.sessions : '-', r.failures.length ? r.failures.join('; ').replace(/\n/g, ' ').slice(0, 200) : 0,
]))}

</details>
`
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const env = envInfo()
  env.flags = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:\s*(.+)$/m)?.[1].trim() ?? 'unknown'
  const dir = args.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'hnsw-gnn-crash-'))
  fs.mkdirSync(dir, { recursive: true })
  console.log(`crash loop: ${args.cycles} cycles, seed ${args.seed}, in ${dir}`)
  const started = Date.now()
  let kept = 0
  const records = await runLoop({
    dir,
    cycles: args.cycles,
    seed: args.seed,
    onCycle: (r) => {
      console.log(cycleLine(r))
      for (const failure of r.failures) console.log(`    ${failure.replace(/\n/g, '\n    ')}`)
      // The files as the kill left them, for the first few failing cycles.
      if (r.failures.length && kept < 5) {
        kept++
        fs.cpSync(path.join(dir, 'crash.hgnn.last-kill'), path.join(dir, `cycle-${r.cycle}-as-killed`), { recursive: true })
      }
    },
  })
  const seconds = (Date.now() - started) / 1000
  env.loadEnd = loadAverage()
  const s = summarize(records)
  console.log(`\n${summaryText(s, seconds)}`)
  if (args.out) {
    fs.mkdirSync(path.dirname(args.out), { recursive: true })
    fs.writeFileSync(args.out, markdown(args, env, s, records, seconds))
    console.log(`wrote ${path.relative(process.cwd(), args.out)}`)
  }
  if (s.failedCycles === 0) {
    if (!args.dir) fs.rmSync(dir, { recursive: true, force: true })
    console.log('every acknowledged write and feedback survived every kill')
  } else {
    console.log(`FAILED: ${s.failedCycles} cycles; files kept in ${dir}`)
    process.exitCode = 1
  }
}

main().catch((error) => {
  console.error(error.stack ?? String(error))
  process.exit(2)
})
