'use strict'
// hnsw-gnn/internal: probes for hnsw-gnn's own benchmarks. UNSTABLE: not
// part of the public API, not typed, and free to change or vanish in any
// release. Do not use it in applications.

const native = require('./binding.js')

/**
 * `a · b` for row-major `m × k` and `k × n` Float32Arrays, with the dense
 * kernel the GNN layers use (the GNN benchmark's reference).
 */
function sgemm(a, b, m, k, n) {
  return native.internalSgemm(a, b, m, k, n)
}

module.exports.sgemm = sgemm

/**
 * This machine's roofline: `{ fmaPath, fmaThreads, fmaGflops,
 * gatherGbytesPerSecond }` — the measured FMA peak on `threads` threads and
 * the random-row gather bandwidth over 256 MB (on the Rayon pool,
 * RAYON_NUM_THREADS). Takes about two seconds.
 */
function roofline(threads) {
  return native.internalRoofline(threads)
}

module.exports.roofline = roofline

/** The phases `trainSteps` times, the whole step first. */
const STEP_PHASES = ['total', 'forward', 'loss', 'backward', 'optimizer']

/**
 * Wall times in ms of `steps` full-batch training steps (forward,
 * cross-entropy over the model's 64 outputs, backward, AdamW with lr 0.01
 * and weight decay 5e-4) after 2 untimed warm-up steps: an object with one
 * Float64Array of `steps` times per phase (`total`, `forward`, `loss`,
 * `backward`, `optimizer`).
 * `kind` picks the model: 'gcn' (GCN cols→128 ReLU →64), 'gat' (GAT, 8
 * heads × 8 concatenated) or 'sage' (GraphSAGE mean cols→128 ReLU →64).
 * `features` is a row-major `rows × cols` Float32Array, the graph CSR
 * `offsets`/`targets` Uint32Arrays (row i lists the nodes i aggregates), and
 * the labels are seeded random classes in `0..classes` (at most 64).
 */
function trainSteps(kind, features, rows, cols, offsets, targets, classes, steps, seed) {
  const flat = native.internalTrainSteps(kind, features, rows, cols, offsets, targets, classes, steps, seed)
  const stride = STEP_PHASES.length
  return Object.fromEntries(STEP_PHASES.map((phase, p) => [phase, Float64Array.from({ length: flat.length / stride }, (_, s) => flat[s * stride + p])]))
}

module.exports.trainSteps = trainSteps
