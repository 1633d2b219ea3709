//! Probes the benchmarks use, exported through `hnsw-gnn/internal`
//! (`internal.js`): unstable, untyped, not part of the public API.

use super::convert::Matrix;
use super::error::{call, ErrorCode};
use crate::error::Error;
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
