// Stress version of the crash test in persistence.test.mjs: many rounds of
// "write, SIGKILL at a random moment, reopen, check every acknowledged write".
// Writes and saves only; benchmark/crash.js adds feedback, training and
// compaction, and aims kills at saves, checkpoints and training passes.
//
//   node __test__/stress/kill-writer.mjs [rounds=200] [durability=batch] [concurrency=4]
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { killRound } from '../fixtures/kill.mjs'
import { makeRng } from '../helpers.mjs'

const rounds = Number(process.argv[2] ?? 200)
const durability = process.argv[3] ?? 'batch'
const concurrency = Number(process.argv[4] ?? 4)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hnsw-gnn-kill-'))
const file = path.join(dir, 'stress.hgnn')
const rng = makeRng(7)
const expected = new Map()
let failures = 0
let written = 0
const started = Date.now()
for (let run = 0; run < rounds; run++) {
  const killAfterMs = rng.int(500)
  let round
  try {
    round = await killRound({ path: file, run, seed: 1000 + run, expected, durability, concurrency, killAfterMs })
  } catch (error) {
    // A failed open, a torn item or a failing writer: nothing after it means anything.
    failures++
    console.log(error.message)
    break
  }
  written += round.written
  if (round.missing.length > 0 || round.resurrected.length > 0) {
    failures++
    console.log(`round ${run}: kill after ${killAfterMs} ms: MISSING ${round.missing.slice(0, 5)} RESURRECTED ${round.resurrected.slice(0, 5)}`)
  }
  if ((run + 1) % 10 === 0) {
    console.log(`${run + 1}/${rounds} rounds, ${written} acknowledged writes checked, ${round.size} items, ${failures} failing rounds`)
  }
}
if (failures === 0) fs.rmSync(dir, { recursive: true, force: true })
else console.log(`files kept in ${dir}`)
console.log(`${rounds} rounds (${durability}, ${concurrency} writers) in ${((Date.now() - started) / 1000).toFixed(0)} s: ${failures === 0 ? 'every acknowledged write survived' : `${failures} rounds lost acknowledged writes`}`)
process.exitCode = failures === 0 ? 0 : 1
