'use strict'
// A worker_threads writer of the concurrency soak (benchmark/soak.js): holds
// the main thread's database through `VectorDB.attach`, fills its lanes'
// id pools, then runs its lanes until told to stop. The state of an id
// after each settled call on it goes to the main thread (`acks`, in order,
// a batch every 50 ms) so the main thread's model covers every writer.
//
// Messages to the main thread: { type: 'ready', items }, { type: 'acks',
// acks }, { type: 'heap', bytes } every second, { type: 'collected' }
// after each 'collect', { type: 'done', tally, live, liveJs }. From it:
// 'go', 'stop', 'collect' (a full collection now). Each step of a lane bumps `counters[0]`
// (shared memory) for the hang detector.

const { workerData, parentPort } = require('node:worker_threads')
const { Lane, Model, Tally, ackOf, exposeGc, liveJsBytes } = require('./soak-workload')

const { VectorDB } = require(workerData.module)

async function main() {
  const { handle, owner, lanes: laneCount, pool, seed, counters } = workerData
  const db = VectorDB.attach(handle)
  const model = new Model(owner)
  const tally = new Tally()
  const stop = { stopped: false }
  let acks = []
  const flush = () => {
    if (acks.length > 0) parentPort.postMessage({ type: 'acks', acks })
    acks = []
  }
  const onAck = (e) => acks.push(ackOf(e))
  const onSettle = () => Atomics.add(counters, 0, 1)
  const lanes = Array.from({ length: laneCount }, (_, lane) => new Lane({ db, model, tally, owner, lane, pool, seed, stop, onAck, onSettle }))

  let items = 0
  for (const lane of lanes) items += await lane.populate()
  flush()
  const gc = exposeGc()
  const go = new Promise((resolve) =>
    parentPort.on('message', (message) => {
      if (message === 'go') resolve()
      else if (message === 'stop') stop.stopped = true
      else if (message === 'collect') {
        // For the main thread's settled-memory sample: a full collection
        // here, then word that it is done.
        if (gc) gc()
        parentPort.postMessage({ type: 'collected' })
      }
    }),
  )
  parentPort.postMessage({ type: 'ready', items })
  await go
  const liveAtStart = liveJsBytes(gc)
  const flusher = setInterval(flush, 50)
  // This thread's JS heap, so the main thread can tell its memory from
  // the database's: its size every second, and what stays alive after a
  // full collection at the start and at the end of the run.
  const heap = setInterval(() => {
    const { heapTotal, external } = process.memoryUsage()
    parentPort.postMessage({ type: 'heap', bytes: heapTotal + external })
  }, 1000)
  await Promise.all(lanes.map((lane) => lane.run()))
  clearInterval(flusher)
  clearInterval(heap)
  flush()
  const liveAtEnd = liveJsBytes(gc)
  await db.close()
  parentPort.postMessage({ type: 'done', tally: tally.toJSON(), live: model.live(), liveJs: [liveAtStart, liveAtEnd] })
  parentPort.close()
}

main().catch((error) => {
  parentPort.postMessage({ type: 'failed', error: { code: error?.code, message: String(error?.stack ?? error) } })
  parentPort.close()
})
