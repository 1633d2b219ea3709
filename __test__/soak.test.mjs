// The concurrency soak (benchmark/soak.js) for 20 s: main-thread Promises,
// two worker_threads attached to the same database and a read-only reader
// process that refreshes, with checkpoints, saves and training throughout;
// then the database, the reader and the reopened file must hold exactly
// the writers' model, with no unexpected error. Memory and file-size
// slopes are reported but not judged over so short a run.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

// A guard against a hang, not a speed check: the run takes 20 s plus about
// 10 s of filling and checking on a quiet 2-core machine, and several times
// that on a shared one.
const HANG_GUARD_MS = 180_000

test('a 20 s concurrency soak ends with the database, the reader and the reopened file equal to the model', async (t) => {
  const { code, stdout, stderr } = await new Promise((resolve) => {
    execFile(process.execPath, ['benchmark/soak.js', '--duration', '20', '--seed', '17'], { cwd: root, timeout: HANG_GUARD_MS, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code ?? error.signal) : 0, stdout, stderr })
    })
  })
  const line = stdout.split('\n').find((l) => l.startsWith('SOAK_SUMMARY '))
  assert.ok(line, `no summary line; exit ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`)
  const summary = JSON.parse(line.slice('SOAK_SUMMARY '.length))
  t.diagnostic(`${summary.checkpoints} checkpoints, ${summary.saves} saves; slopes (MB/min, not judged): ${JSON.stringify(summary.slopes)}`)
  assert.equal(summary.finalState, true, `final-state check failed\n${stdout}`)
  assert.equal(summary.unexpected, 0, `unexpected errors\n${stdout}`)
  assert.ok(summary.checkpoints > 0, 'automatic checkpoints ran')
  assert.equal(code, 0, `exit ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`)
})
