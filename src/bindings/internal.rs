//! Probes the benchmarks use, exported through `hnsw-gnn/internal`
//! (`internal.js`): unstable, untyped, not part of the public API.

use super::convert::{adjacency_from_csr, Matrix};
use super::error::{call, ErrorCode};
use crate::error::Error;
use crate::gnn::training::{time_training_steps, BenchmarkModel};
use crate::gnn::Graph;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use ndarray::ArrayView2;

/// `a · b` for row-major `m × k` and `k × n` matrices, with the kernel the
/// layers use: the GNN benchmark's dense reference.
#[napi(js_name = "internalSgemm")]
pub fn sgemm(
    a: Float32Array,
    b: Float32Array,
    m: u32,
    k: u32,
    n: u32,
) -> Result<Float32Array, ErrorCode> {
    call(|| {
        let (m, k, n) = (m as usize, k as usize, n as usize);
        let a = ArrayView2::from_shape((m, k), &a[..])
            .map_err(|e| Error::ShapeMismatch(e.to_string()))?;
        let b = ArrayView2::from_shape((k, n), &b[..])
            .map_err(|e| Error::ShapeMismatch(e.to_string()))?;
        Ok(Matrix::from_array(crate::gnn::dense::matmul(a, b)).data)
    })
}

/// This machine's roofline for the GNN benchmark: the measured FMA peak
/// (`threads` threads of independent multiply-add chains on the widest
/// vector unit) and the random-row gather bandwidth over a working set
/// larger than L3 (256 MB of 512-byte rows, on the current thread pool).
#[napi(object)]
pub struct Roofline {
    /// `"avx512"`, `"avx2"`, or `"none"` (no FMA unit measured).
    pub fma_path: String,
    pub fma_threads: u32,
    pub fma_gflops: f64,
    pub gather_gbytes_per_second: f64,
}

#[napi(js_name = "internalRoofline")]
pub fn roofline(threads: u32) -> Result<Roofline, ErrorCode> {
    call(|| {
        let peak = crate::gnn::dense::fma_peak(0.5, threads as usize);
        Ok(Roofline {
            fma_path: peak.map_or("none", |p| p.path.name()).to_string(),
            fma_threads: threads,
            fma_gflops: peak.map_or(0.0, |p| p.gflops),
            gather_gbytes_per_second: crate::gnn::gather::gather_bandwidth(
                1 << 19,
                128,
                1 << 22,
                3,
            ),
        })
    })
}

/// Wall times in ms of `steps` full-batch training steps (forward,
/// cross-entropy, backward, AdamW) of the benchmark model `kind` (`'gcn'`:
/// GCN-2, `'gat'`: GAT-8, `'sage'`: SAGE-2; see
/// `crate::gnn::training::BenchmarkModel`), after 2 untimed warm-up steps,
/// on `rows × cols` row-major features over a CSR graph, against seeded
/// random labels in `0..classes`: five per step, the whole step, then its
/// forward, loss, backward and optimizer phases.
#[napi(js_name = "internalTrainSteps")]
// Flat arguments: the typed arrays and sizes the benchmark already holds.
#[allow(clippy::too_many_arguments)]
pub fn train_steps(
    kind: String,
    features: Float32Array,
    rows: u32,
    cols: u32,
    offsets: Uint32Array,
    targets: Uint32Array,
    classes: u32,
    steps: u32,
    seed: u32,
) -> Result<Float64Array, ErrorCode> {
    call(|| {
        let model = BenchmarkModel::parse(&kind)?;
        let features = ArrayView2::from_shape((rows as usize, cols as usize), &features[..])
            .map_err(|e| Error::ShapeMismatch(e.to_string()))?;
        let graph = Graph::new(adjacency_from_csr(&offsets, &targets)?);
        let outcomes = time_training_steps(
            model,
            &graph,
            features,
            classes as usize,
            steps as usize,
            seed as u64,
        )?;
        Ok(Float64Array::new(
            outcomes
                .iter()
                .flat_map(|o| {
                    let t = o.timings;
                    [t.total, t.forward, t.loss, t.backward, t.optimizer]
                })
                .map(|phase| phase.as_secs_f64() * 1e3)
                .collect(),
        ))
    })
}

/// Arms a panic-injection site of the core (`'search'`, `'insert'`; see
/// `crate::fault`): the next call through it panics. For the panic-boundary
/// tests only: exported by the raw binding, which neither `hnsw-gnn` nor
/// `hnsw-gnn/internal` re-exports.
#[napi(js_name = "internalArmPanic")]
pub fn arm_panic(site: String) -> Result<(), ErrorCode> {
    call(|| {
        let site = crate::fault::Site::parse(&site)
            .ok_or_else(|| Error::invalid_argument(format!("no panic site {site:?}")))?;
        crate::fault::arm(site);
        Ok(())
    })
}
