//! A Hierarchical Navigable Small World graph (Malkov & Yashunin, 2016)
//! over internal `u32` slots.
//!
//! | file | holds |
//! |---|---|
//! | `params.rs` | `HnswParams`, their defaults and limits (`MAX_K`, …) |
//! | `index.rs` | `Index`: the locks and the public operations |
//! | `storage.rs` | `Storage`: vectors (owned or mapped), levels, adjacency lists as atomics, tombstones |
//! | `scratch.rs` | `Candidate` and the pooled per-search scratch (visited epochs, heaps) |
//! | `insert.rs` | linking new nodes; repairing around deleted ones |
//! | `repair.rs` | anchors: a level-0 way into every node that no prune removes, so all stay reachable |
//! | `search.rs` | greedy descent, beam search, the exact scan for selective filters |
//! | `select.rs` | the neighbour-selection heuristic |
//! | `persist.rs` | the index's sections of the database file |
//!
//! # Locking scheme
//!
//! * `storage: RwLock<Storage>` — the **write** lock is held only to append
//!   rows (vectors, levels, empty adjacency), which is a copy and, when the
//!   arrays grow, a reallocation. Everything else holds the **read** lock:
//!   searches, linking of appended nodes, deletion and repair. So searches
//!   run while a batch is being linked, and stall only for appends.
//! * Adjacency lists are atomics (see `graph`): readers never lock them.
//!   Writers of one node's list hold that node's striped mutex
//!   (`link_locks`); a thread holds at most one such mutex at a time, so
//!   they cannot deadlock.
//! * The entry point is one atomic word; a node whose level exceeds the
//!   current top holds `entry_lock` for its whole insert (as in hnswlib).
//!
//! # Invariants
//!
//! * A slot appears in an adjacency list only after its vector is stored.
//! * Deleted nodes are tombstones: never returned, never chosen as new
//!   neighbours, but kept (vector and lists) so traversal passes through.
//!   Their live neighbours are re-linked around them at deletion time.
//! * For cosine, stored vectors are unit length (normalised on append).

mod compact;
mod index;
mod insert;
mod params;
mod persist;
mod repair;
mod scratch;
mod search;
mod select;
mod storage;

pub use compact::{Compacted, DROPPED};
pub use index::{CheckedRows, Csr, Index, Neighbor, SlotView};
pub(crate) use params::validate_k;
pub use params::{HnswParams, MAX_EF_CONSTRUCTION, MAX_K, MAX_LEVEL, MAX_M, MIN_M};
pub use persist::IndexSnapshot;
pub use scratch::Candidate;
pub use search::{SlotFilter, EXACT_SCAN_MAX_MATCHES};

#[cfg(test)]
mod tests;
