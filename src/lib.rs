//! hnsw-gnn: an embedded vector database whose search learns from feedback.
//!
//! The Rust core is usable on its own; the Node bindings (feature `napi`, on
//! by default) are a thin layer over it.

pub mod distance;
pub mod error;
pub mod filter;
pub mod hnsw;
pub mod rng;

pub use distance::{Kernels, Metric, SimdPath};
pub use error::{Error, Result};

#[cfg(test)]
pub(crate) mod testdata;
