//! Node bindings: argument conversion, error mapping and async plumbing
//! only; anything that decides behaviour belongs in the core modules.
//! `index.js` wraps these classes (the native ones are never exported
//! themselves) and `index.d.ts` documents the public API.
//!
//! | file | holds |
//! |---|---|
//! | `db.rs` | the `VectorDB` class |
//! | `candidates.rs` | its methods behind `Reranker`: other engines' candidates, feedback batches |
//! | `shared.rs` | one database held by several `VectorDB` objects (`handle()`/`attach()`) |
//! | `graph.rs` | the `Graph` class and `aggregate` |
//! | `gnn_model.rs` | the `GnnModel` class behind `GCNLayer`, `GATLayer`, `GraphSAGE` |
//! | `internal.rs` | probes for the benchmarks (`hnsw-gnn/internal`, unstable) |
//! | `convert.rs` | JS values ↔ core types; packed search results |
//! | `task.rs` | Promises: worker tasks, the search pool, durable writes |
//! | `error.rs` | the one mapping from core errors to JS errors with a `code` |

mod cancel;
mod candidates;
mod convert;
mod db;
mod error;
mod gnn_model;
mod graph;
mod internal;
mod reports;
mod shared;
mod task;

use napi_derive::napi;

/// Which SIMD kernels this process uses, and which the CPU supports.
#[napi(object)]
pub struct SimdInfo {
    pub active: String,
    pub available: Vec<String>,
}

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

/// Hits a search returns without a `k`: index.js sizes its result buffer
/// with it (internal; not re-exported).
#[napi]
pub const DEFAULT_K: u32 = crate::db::DEFAULT_K as u32;

/// The limits the core holds every call to (documented in index.d.ts).
#[napi(object)]
pub struct Limits {
    pub max_k: u32,
    pub max_ef_search: u32,
    pub max_dimensions: u32,
    pub max_id_bytes: u32,
    pub max_metadata_depth: u32,
    pub max_recent_searches: u32,
    pub min_m: u32,
    pub max_m: u32,
    pub max_ef_construction: u32,
    pub max_gnn_layers: u32,
    pub max_gnn_heads: u32,
    pub max_gnn_width: u32,
}

#[napi]
pub fn limits() -> Limits {
    use crate::gnn::options::{MAX_HEADS, MAX_LAYERS, MAX_WIDTH};
    use crate::hnsw::{MAX_EF_CONSTRUCTION, MAX_K, MAX_M, MIN_M};
    Limits {
        max_k: MAX_K as u32,
        max_ef_search: MAX_K as u32,
        max_dimensions: crate::distance::MAX_DIMENSIONS as u32,
        max_id_bytes: crate::db::MAX_ID_BYTES as u32,
        max_metadata_depth: crate::db::MAX_METADATA_DEPTH as u32,
        max_recent_searches: crate::db::MAX_RECENT_SEARCHES as u32,
        min_m: MIN_M as u32,
        max_m: MAX_M as u32,
        max_ef_construction: MAX_EF_CONSTRUCTION as u32,
        max_gnn_layers: MAX_LAYERS as u32,
        max_gnn_heads: MAX_HEADS as u32,
        max_gnn_width: MAX_WIDTH as u32,
    }
}
