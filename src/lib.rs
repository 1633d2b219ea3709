//! hnsw-gnn: an embedded vector database whose search learns from feedback.
//!
//! The Rust core is usable on its own; the Node bindings (feature `napi`, on
//! by default) are a thin layer over it.

pub mod db;
pub mod distance;
pub mod error;
pub mod filter;
pub mod gnn;
pub mod hnsw;
pub mod rng;
pub mod store;

pub use db::{DbOptions, Hit, Item, Metadata, NewItem, SearchOptions, SearchResults, VectorDb};
pub use distance::{Kernels, Metric, SimdPath};
pub use error::{Error, Result};
pub use filter::Filter;
pub use hnsw::{HnswParams, Index};

#[cfg(test)]
pub(crate) mod testdata;

#[cfg(feature = "napi")]
mod bindings;
