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
