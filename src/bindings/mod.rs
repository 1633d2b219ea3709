//! Node bindings: argument conversion, error mapping and async plumbing
//! only. Anything that decides behaviour belongs in the core modules.

mod convert;
mod db;
mod error;
mod gnn;
mod task;

use napi_derive::napi;

/// Which SIMD kernels this process uses, and which the CPU supports.
#[napi(object)]
pub struct SimdInfo {
    /// The active path: `"avx512"`, `"avx2"`, `"neon"` or `"scalar"`
    /// (`HNSW_GNN_SIMD` can force one).
    pub active: String,
    /// Every path this CPU can run.
    pub available: Vec<String>,
}

/// Reports the distance kernels in use.
#[napi]
pub fn simd_info() -> SimdInfo {
    SimdInfo {
        active: crate::Kernels::active().path.name().to_string(),
        available: crate::Kernels::available()
            .iter()
            .map(|k| k.path.name().to_string())
            .collect(),
    }
}
