// The crash loop (benchmark/crash.js) bounded to 20 cycles: a child process
// runs concurrent writes, feedback, train(), save() and compact() while
// automatic checkpoints run, and is SIGKILLed at random moments and just
// after saves, checkpoints, compactions and training passes begin; after
// every kill the database opens, holds every acknowledged write exactly
// (vector and metadata), no acknowledged delete, only old-or-new states of
// the writes in flight, nothing else, and a session for every
// acknowledged feedback. `node benchmark/crash.js` runs 200 cycles.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'

const { runLoop, summarize } = createRequire(import.meta.url)('../benchmark/lib/crash-cycle.js')

const CYCLES = 20
// A guard against a hung worker or open, not a speed check: 20 cycles take
// about 20 s on a quiet 2-core machine.
const HANG_GUARD_MS = 300_000

test(`every acknowledged write and feedback survives ${CYCLES} SIGKILLs during mixed writes, feedback, training, checkpoints, compaction and saves`, { timeout: HANG_GUARD_MS }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hnsw-gnn-crash-test-'))
  const records = await runLoop({ dir, cycles: CYCLES, seed: 17 })
  const s = summarize(records)
  const failures = records.flatMap((r) => r.failures.map((f) => `cycle ${r.cycle} (kill aimed at ${r.mode}, in flight ${r.inFlight.join(',') || 'nothing'}): ${f}`))
  assert.equal(s.openFailures, 0, `the database failed to open after a kill:\n${failures.join('\n')}`)
  assert.equal(s.cycles, CYCLES)
  assert.deepEqual(
    { lostWrites: s.lostWrites, undoneDeletes: s.undoneDeletes, lostFeedback: s.lostFeedback, torn: s.torn, unknownItems: s.phantom },
    { lostWrites: 0, undoneDeletes: 0, lostFeedback: 0, torn: 0, unknownItems: 0 },
    `files as the failing kills left them are kept in ${dir}:\n${failures.join('\n')}`,
  )
  assert.deepEqual(failures, [], `files kept in ${dir}`)
  // The loop did what it claims: enough acknowledged work to check.
  assert.ok(s.writesAcked > 500, `only ${s.writesAcked} acknowledged item writes`)
  assert.ok(s.feedbackAcked > 100, `only ${s.feedbackAcked} acknowledged feedback`)
  assert.ok(s.checkpoints > 0, 'no automatic checkpoint completed')
  const kinds = Object.entries(s.killsDuring).map(([kind, n]) => `${kind} ${n}`).join(', ')
  console.log(`# crash loop: ${s.cycles} SIGKILLs (in flight: ${kinds}); ${s.writesAcked} acknowledged item writes, ${s.feedbackAcked} feedback, ${s.itemsChecked} item states checked; none lost`)
  fs.rmSync(dir, { recursive: true, force: true })
})
