//! `VectorDb`: string ids, metadata and search ids over an `hnsw::Index`,
//! persisted through `store`.
//!
//! | file | holds |
//! |---|---|
//! | `options.rs` | `DbOptions` and `OpenOptions`: defaults, limits, parsing of JS-shaped options |
//! | `vector_db.rs` | `VectorDb`: its locks, the write gate, `Applied` writes and their durability |
//! | `items.rs` | `NewItem`, `Item`, the `Catalog` (ids ↔ slots, metadata) and its file section |
//! | `id_map.rs` | `IdMap`: id → slot, sharded so an open builds it in parallel |
//! | `writes.rs` | insert, upsert, update, delete |
//! | `queries.rs` | get, search, search batches, and their `SearchOptions` and `Hit`s |
//! | `recent.rs` | the ring of recent searches that feedback refers to (saved with the file) |
//! | `rerank.rs` | search with a serving model: candidates, learned order, interleaving |
//! | `learning.rs` | feedback, train, learning stats, reset, purge, the background trainer |
//! | `snapshot.rs` | `GraphSnapshot`: live items, features and level-0 links in one consistent read |
//! | `wal_record.rs` | the log records a change is written as, and their decoder |
//! | `persist.rs` | create, open, replay, save, close, stats |
//! | `online_save.rs` | the checkpoint: a save that holds writers only at its start and end |
//! | `checkpoint.rs` | when automatic checkpoints run, and their thread |
//!
//! # Locking
//!
//! `catalog` (ids ↔ slots, metadata) is taken **before** the index's own
//! lock, always: searches hold `catalog.read()` for the whole query (filters
//! read metadata, hits read ids); writers hold `catalog.write()` only to
//! check ids, append vectors and tombstone replaced slots. Linking appended
//! slots and repairing around deleted ones happen after the catalog lock is
//! released, so a batch insert does not block searches while it links.
//!
//! The catalog is the source of truth for liveness: an id resolves to
//! exactly one slot, and a slot without an id is never returned.
//!
//! A database created or opened with a path logs every change to its
//! write-ahead log and acknowledges it once durable; see `persist.rs`.
mod checkpoint;
mod compact;
mod feedback_outbox;
mod id_map;
mod items;
mod learning;
mod online_save;
mod options;
mod persist;
mod queries;
mod recent;
mod rerank;
mod seen_items;
mod snapshot;
mod vector_db;
mod wal_record;
mod writes;

pub use crate::store::wal::Durability;
pub use checkpoint::{CheckpointPolicy, DEFAULT_CHECKPOINT_AGE_MS, DEFAULT_CHECKPOINT_BYTES};
pub use feedback_outbox::{decode_batch, ExportedSession, FeedbackBatch};
pub use items::{
    metadata_from_value, Item, Metadata, NewItem, NewItems, MAX_ID_BYTES, MAX_METADATA_DEPTH,
};
pub use learning::{Feedback, ImportedFeedback, FEEDBACK_KEYS};
pub use options::{
    check_insert_batch_keys, DbOptions, OpenOptions, INSERT_BATCH_OPTION_KEYS, MAX_RECENT_SEARCHES,
};
pub use persist::DbStats;
pub use queries::{Hit, SearchOptions, SearchResults, DEFAULT_K, SEARCH_OPTION_KEYS};
pub use recent::RecentSearch;
pub use rerank::GivenCandidate;
pub use snapshot::GraphSnapshot;
pub use vector_db::{Applied, VectorDb};

#[cfg(test)]
mod compact_tests;
#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod learning_tests;
#[cfg(test)]
mod online_save_tests;
#[cfg(test)]
mod persist_tests;
#[cfg(test)]
mod reader_feedback_tests;
#[cfg(test)]
mod tests;
