//! `VectorDb` itself: what it owns, its locks, and how a write is admitted,
//! logged and acknowledged once durable.

use super::checkpoint::{CheckpointPolicy, Checkpointer};
use super::items::Catalog;
use super::options::{validate_recent_searches, DbOptions};
use super::persist::Persistence;
use super::recent::RecentSearches;
use super::snapshot::RowOrder;
use crate::distance::Metric;
use crate::error::{Error, Result};
use crate::hnsw::{HnswParams, Index};
use crate::learn::{Learner, LearningSettings};
use crate::rng::SplitMix64;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A change applied in memory — already visible to searches — whose log
/// record may not be durable yet. [`VectorDb::durable`] waits for it;
/// [`VectorDb::when_durable`] calls back.
#[must_use = "a write is acknowledged only once durable"]
pub struct Applied<T> {
    pub(super) value: T,
    /// The change's last log record; `None` without a log.
    pub(super) sequence: Option<u64>,
}

impl<T> Applied<T> {
    pub(super) fn map<U>(self, f: impl FnOnce(T) -> U) -> Applied<U> {
        Applied {
            value: f(self.value),
            sequence: self.sequence,
        }
    }
}

pub struct VectorDb {
    pub(super) index: Index,
    pub(super) catalog: RwLock<Catalog>,
    /// Shared with the opens a refresh replaces this one with (searches
    /// served before a refresh take feedback after it).
    pub(super) recent: Arc<Mutex<RecentSearches>>,
    pub(super) id_rng: Mutex<SplitMix64>,
    /// Writes hold it shared until acknowledged; save and close hold it
    /// exclusively (see `persist`).
    pub(super) gate: RwLock<()>,
    pub(super) closed: AtomicBool,
    /// Counts admitted writes; a cached snapshot row order is valid while
    /// it has not moved (see `snapshot.rs`).
    pub(super) write_epoch: AtomicU64,
    pub(super) row_order: Mutex<Option<RowOrder>>,
    pub(super) persistence: Option<Persistence>,
    /// The feedback log, the serving model and the trainer's bookkeeping.
    pub(super) learner: Arc<Learner>,
    /// The background trainer, once started (see `learning.rs`).
    pub(super) trainer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Automatic checkpoints (see `checkpoint.rs`); off without a log.
    pub(super) checkpoints: Arc<Checkpointer>,
    /// Held by a save, a checkpoint or a compaction for its whole length,
    /// so that one runs at a time (a checkpoint leaves the gate open for
    /// most of its length). Taken before the gate.
    pub(super) saving: Mutex<()>,
    /// Feedback given to a read-only open, waiting for `export_feedback`.
    /// Shared with the opens a refresh replaces this one with, so feedback
    /// given while a refresh swaps them is not lost.
    pub(super) outbox: Arc<super::feedback_outbox::FeedbackOutbox>,
    /// When a reranker last saw each item (see `seen_items.rs`).
    pub(super) seen: super::seen_items::SeenClock,
    /// Held while items from candidate lists or feedback batches are
    /// looked up and stored (see `seen_items.rs`).
    pub(super) remembering: Mutex<()>,
}

impl VectorDb {
    /// A database as `options` say: in memory, or created at
    /// `options.path` (an existing file is refused; see
    /// [`VectorDb::open`]).
    pub fn new(options: DbOptions) -> Result<VectorDb> {
        options.validate()?;
        match options.path.clone() {
            Some(path) => VectorDb::create(&path, options),
            None => VectorDb::in_memory(&options),
        }
    }

    pub(super) fn in_memory(options: &DbOptions) -> Result<VectorDb> {
        let index = Index::new(options.dimensions, options.metric, options.hnsw)?;
        VectorDb::with_index(
            index,
            Catalog::default(),
            options.recent_searches,
            options.learning.clone(),
        )
    }

    pub(super) fn with_index(
        index: Index,
        catalog: Catalog,
        recent_searches: usize,
        learning: LearningSettings,
    ) -> Result<VectorDb> {
        validate_recent_searches(recent_searches)?;
        let learner = Arc::new(Learner::new(learning, index.metric(), index.dimensions()));
        let mut id_rng = SplitMix64::from_entropy();
        let nonce = id_rng.next_u64() as u32;
        Ok(VectorDb {
            index,
            catalog: RwLock::new(catalog),
            recent: Arc::new(Mutex::new(RecentSearches::new(recent_searches, nonce))),
            id_rng: Mutex::new(id_rng),
            gate: RwLock::new(()),
            closed: AtomicBool::new(false),
            write_epoch: AtomicU64::new(0),
            row_order: Mutex::new(None),
            persistence: None,
            learner,
            trainer_thread: Mutex::new(None),
            checkpoints: Checkpointer::new(CheckpointPolicy::off()),
            saving: Mutex::new(()),
            outbox: Default::default(),
            seen: Default::default(),
            remembering: Mutex::new(()),
        })
    }

    pub fn dimensions(&self) -> usize {
        self.index.dimensions()
    }

    pub fn metric(&self) -> Metric {
        self.index.metric()
    }

    pub fn params(&self) -> HnswParams {
        self.index.params()
    }

    /// Number of live items.
    pub fn len(&self) -> usize {
        self.read_catalog().slot_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The underlying graph (for the GNN layers and for tests).
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Waits until `applied` is as durable as the database's mode promises
    /// (at once without a file) and returns its value.
    pub fn durable<T>(&self, applied: Applied<T>) -> Result<T> {
        match (applied.sequence, self.wal()) {
            (Some(sequence), Some(wal)) => wal.commit(sequence).map(|()| applied.value),
            _ => Ok(applied.value),
        }
    }

    /// Calls `done` with `applied`'s value once it is durable, from the
    /// log's committer thread (or this one, if nothing needs waiting for).
    /// Never blocks on I/O: the async bindings use it so that no thread
    /// sits waiting for an fsync.
    pub fn when_durable<T: Send + 'static>(
        &self,
        applied: Applied<T>,
        done: impl FnOnce(Result<T>) + Send + 'static,
    ) {
        match (applied.sequence, self.wal()) {
            (Some(sequence), Some(wal)) => {
                let value = applied.value;
                wal.when_durable(
                    sequence,
                    Box::new(move |result| done(result.map(|()| value))),
                );
            }
            _ => done(Ok(applied.value)),
        }
    }

    pub(super) fn wal(&self) -> Option<&crate::store::wal::Wal> {
        self.persistence.as_ref().and_then(|p| p.wal())
    }

    /// Errors once the database is closed.
    pub fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// Admits one write: shared hold of the gate, open, not read-only.
    pub(super) fn begin_write(&self) -> Result<RwLockReadGuard<'_, ()>> {
        let gate = self.gate.read().unwrap_or_else(|e| e.into_inner());
        self.admit_write(gate)
    }

    /// [`VectorDb::begin_write`] without waiting: `None` while a save or
    /// close holds the gate.
    pub(super) fn try_begin_write(&self) -> Option<Result<RwLockReadGuard<'_, ()>>> {
        let gate = match self.gate.try_read() {
            Ok(gate) => gate,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        Some(self.admit_write(gate))
    }

    /// Whether this is a read-only open of a file (a reader following a
    /// writer).
    pub fn is_read_only(&self) -> bool {
        self.persistence.as_ref().is_some_and(|p| p.wal().is_none())
    }

    fn admit_write<'a>(&self, gate: RwLockReadGuard<'a, ()>) -> Result<RwLockReadGuard<'a, ()>> {
        self.check_open()?;
        if self.is_read_only() {
            return Err(Error::ReadOnly);
        }
        self.write_epoch.fetch_add(1, Ordering::AcqRel);
        Ok(gate)
    }

    /// Appends records to the log (if there is one and `log` is set);
    /// returns the sequence number to commit.
    pub(super) fn log(
        &self,
        log: bool,
        records: impl FnOnce() -> Vec<Vec<u8>>,
    ) -> Result<Option<u64>> {
        let Some(wal) = self.wal().filter(|_| log) else {
            return Ok(None);
        };
        let mut sequence = None;
        for record in records() {
            sequence = Some(wal.append(&record)?);
        }
        self.checkpoints.logged(wal.len());
        Ok(sequence)
    }

    pub(super) fn lock_saving(&self) -> std::sync::MutexGuard<'_, ()> {
        self.saving.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn read_catalog(&self) -> RwLockReadGuard<'_, Catalog> {
        self.catalog.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn write_catalog(&self) -> RwLockWriteGuard<'_, Catalog> {
        self.catalog.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn lock_recent(&self) -> std::sync::MutexGuard<'_, RecentSearches> {
        self.recent.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for VectorDb {
    fn drop(&mut self) {
        // The trainer and checkpoint threads wait on their own state, not
        // the database: tell them to go.
        self.learner.shut_down();
        self.checkpoints.shut_down();
    }
}
