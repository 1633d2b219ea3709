'use strict'
// The concurrency soak's hang detector (benchmark/soak.js), a worker thread
// of its own so that it keeps running when the main thread is stuck in a
// native call. It watches two counters in shared memory: `settled`, which
// every thread bumps when one of its calls settles, and `alive`, which the
// main thread bumps from a timer. When either stands still for `timeoutS`
// it writes which one to stderr and kills the process (SIGKILL: a hang
// cannot be left to clean up after itself), so a soak that deadlocks fails
// with a reason instead of running into the test's hang guard.
//
// workerData: { counters: Int32Array over a SharedArrayBuffer [settled,
// alive], timeoutS }.

const fs = require('node:fs')
const { workerData } = require('node:worker_threads')

const { counters, timeoutS } = workerData
const last = [Atomics.load(counters, 0), Atomics.load(counters, 1)]
const since = [Date.now(), Date.now()]
const what = ['no call has settled on any thread', 'the main thread has not run its timers']

setInterval(() => {
  const now = Date.now()
  for (let i = 0; i < 2; i++) {
    const value = Atomics.load(counters, i)
    if (value !== last[i]) {
      last[i] = value
      since[i] = now
    } else if (now - since[i] > timeoutS * 1000) {
      fs.writeSync(2, `\nsoak: HANG: ${what[i]} for ${((now - since[i]) / 1000).toFixed(0)} s (pid ${process.pid}); killing the process\n`)
      process.kill(process.pid, 'SIGKILL')
    }
  }
}, 1000)
