//! hnsw-gnn: an embedded vector database whose search learns from feedback.
//!
//! The Rust core is usable on its own; the Node bindings (feature `napi`, on
//! by default) are a thin layer over it.
//!
//! # Layers
//!
//! Each module uses only the modules its row names, all of them in rows
//! above it, so dependencies point one way: down. `tests/layers.rs` reads
//! this table and checks every `crate::` and `super::` path in `src/`
//! against it.
//!
//! | layer | module | what it owns | may use |
//! |---|---|---|---|
//! | 0 | `error` | the one `Error` enum and its stable JS codes | |
//! | 0 | `rng` | the seeded generator | |
//! | 0 | `fault` | panic injection for the panic-boundary tests | |
//! | 0 | `cancel` | cancelling long operations: the flag an `AbortSignal` sets | `error` |
//! | 0 | `options` | strict reading of JS-shaped options objects | `error` |
//! | 0 | `distance` | metrics, SIMD kernels and their dispatch | `error`, `rng` |
//! | 0 | `filter` | metadata filters: parse once, evaluate per candidate | `error` |
//! | 0 | `locality` | row orders that keep near vectors near in memory | `distance`, `rng` |
//! | 0 | `testdata` | seeded data and brute-force references (tests only) | `distance`, `rng` |
//! | 1 | `file` | mmap, atomic write, lock, byte codecs, the section container; no format | `error` |
//! | 2 | `store` | the database file's format and write-ahead log; no HNSW types | `error`, `distance`, `file` |
//! | 3 | `hnsw` | the graph: insert, search, delete, its sections of the file | `error`, `rng`, `distance`, `file`, `store` |
//! | 3 | `gnn` | message passing, layers, training, model files | `error`, `rng`, `options`, `distance`, `file` |
//! | 4 | `learn` | learning from feedback: the log, the trainer, the model, interleaving | `error`, `rng`, `options`, `distance`, `file`, `hnsw`, `gnn` |
//! | 5 | `db` | `VectorDb`: ids, metadata, search ids, persistence | `error`, `rng`, `fault`, `cancel`, `options`, `distance`, `filter`, `locality`, `file`, `store`, `hnsw`, `learn` |
//! | 6 | `fuzzing` | the fuzz targets' bodies and seeds, run by `cargo fuzz` and the mutation tests | `error`, `rng`, `distance`, `filter`, `file`, `store`, `learn`, `gnn`, `db` |
//! | 6 | `bindings` | the Node classes: argument conversion and error mapping only | `error`, `rng`, `fault`, `cancel`, `options`, `distance`, `filter`, `file`, `store`, `hnsw`, `gnn`, `learn`, `db` |
//!
//! `db` reaches `gnn` only through `learn`.

pub mod cancel;
pub mod db;
pub mod distance;
pub mod error;
#[doc(hidden)]
pub mod fault;
pub mod file;
pub mod filter;
#[doc(hidden)]
pub mod fuzzing;
pub mod gnn;
pub mod hnsw;
pub mod learn;
pub mod locality;
pub mod options;
pub mod rng;
pub mod store;

pub use db::{DbOptions, Hit, Item, Metadata, NewItem, SearchOptions, SearchResults, VectorDb};
pub use distance::{Kernels, Metric, SimdPath};
pub use error::{Error, Result};
pub use filter::Filter;
pub use hnsw::{HnswParams, Index};

#[cfg(test)]
pub(crate) mod testdata;

// Not in test builds: the Rust tests drive the core; the JS tests drive the
// bindings, which do nothing outside a Node process.
#[cfg(all(feature = "napi", not(test)))]
mod bindings;
