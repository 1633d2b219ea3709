//! Automatic checkpoints: a background thread folds the write-ahead log
//! into the database file (a `save()`) once the log passes a size or its
//! oldest record an age, so the log of a long-running service stays
//! bounded without anyone calling `save()`.
//!
//! The size defaults to the larger of 64 MiB and a quarter of the file:
//! a bulk load that logs gigabytes checkpoints a handful of times, each
//! rewriting a file at most a few times the log it folds, rather than
//! rewriting a growing file over and over. A checkpoint is a `save()`, so
//! it is as safe as one — the new file is renamed into place before the
//! log is reset, and a crash in between replays a log the file already
//! holds as nothing (see `persist.rs`) — and searches never wait for it.
//! Writes wait while it writes the file. The thread holds only a `Weak`
//! reference between checkpoints, so it never keeps a database alive.

use super::vector_db::VectorDb;
use crate::error::{Error, Result};
use crate::options::OptionsReader;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

/// The smallest log size that triggers a checkpoint by default.
pub const DEFAULT_CHECKPOINT_BYTES: u64 = 64 << 20;
/// By default a log whose oldest record is this old is folded in.
pub const DEFAULT_CHECKPOINT_AGE_MS: u64 = 10 * 60 * 1000;
/// After a failed checkpoint (disk full, say) the next waits this long.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// When the log is folded into the file.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointPolicy {
    pub enabled: bool,
    /// Log bytes that trigger a checkpoint; `None` for the default (see
    /// the module doc).
    pub bytes: Option<u64>,
    /// Age of the oldest logged record that triggers one.
    pub age_ms: u64,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        CheckpointPolicy {
            enabled: true,
            bytes: None,
            age_ms: DEFAULT_CHECKPOINT_AGE_MS,
        }
    }
}

impl CheckpointPolicy {
    /// No automatic checkpoints (in memory, read-only).
    pub fn off() -> Self {
        CheckpointPolicy {
            enabled: false,
            ..CheckpointPolicy::default()
        }
    }

    /// The `checkpoint` option: `false` (none), `true`/absent (defaults), or
    /// `{ bytes?, ageMs? }`.
    pub fn from_option(value: Option<&Value>) -> Result<Self> {
        match value {
            None | Some(Value::Null) | Some(Value::Bool(true)) => Ok(CheckpointPolicy::default()),
            Some(Value::Bool(false)) => Ok(CheckpointPolicy::off()),
            Some(object @ Value::Object(_)) => {
                let o =
                    OptionsReader::new(Some(object), "checkpoint options", &["bytes", "ageMs"])?;
                let defaults = CheckpointPolicy::default();
                Ok(CheckpointPolicy {
                    enabled: true,
                    bytes: o.count("bytes")?.map(|bytes| bytes as u64),
                    age_ms: o.count("ageMs")?.map_or(defaults.age_ms, |ms| ms as u64),
                })
            }
            Some(other) => Err(Error::invalid_argument(format!(
                "checkpoint must be true, false or {{ bytes, ageMs }}, got {}",
                crate::error::short_json(other)
            ))),
        }
    }

    /// The log size that triggers a checkpoint of a `file_bytes` file.
    pub fn threshold(&self, file_bytes: u64) -> u64 {
        self.bytes
            .unwrap_or_else(|| DEFAULT_CHECKPOINT_BYTES.max(file_bytes / 4))
    }
}

#[derive(Default)]
struct State {
    /// The log passed the size threshold.
    full: bool,
    /// When the first record after the last save was logged.
    first_record: Option<Instant>,
    /// No checkpoint before this (after a failure).
    not_before: Option<Instant>,
    shut_down: bool,
    done: u64,
    last_error: Option<String>,
}

/// A database's checkpoint policy, what its writes tell it, and its thread.
pub(super) struct Checkpointer {
    policy: CheckpointPolicy,
    threshold: AtomicU64,
    state: Mutex<State>,
    wake: Condvar,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Checkpointer {
    pub(super) fn new(policy: CheckpointPolicy) -> Arc<Checkpointer> {
        Arc::new(Checkpointer {
            threshold: AtomicU64::new(policy.threshold(0)),
            policy,
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            thread: Mutex::new(None),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A record was logged; the log is now `log_bytes` long. Cheap unless
    /// it makes a checkpoint due.
    pub(super) fn logged(&self, log_bytes: u64) {
        if !self.policy.enabled {
            return;
        }
        let full = log_bytes >= self.threshold.load(Ordering::Relaxed);
        let mut state = self.lock();
        if state.first_record.is_none() || (full && !state.full) {
            state.first_record.get_or_insert_with(Instant::now);
            state.full |= full;
            self.wake.notify_all();
        }
    }

    /// The log was folded into a file of `file_bytes` (by any save).
    pub(super) fn saved(&self, file_bytes: u64) {
        self.threshold
            .store(self.policy.threshold(file_bytes), Ordering::Relaxed);
        let mut state = self.lock();
        state.full = false;
        state.first_record = None;
    }

    /// Blocks until a checkpoint is due; false once shut down.
    fn wait_until_due(&self) -> bool {
        let age = Duration::from_millis(self.policy.age_ms);
        let mut state = self.lock();
        loop {
            if state.shut_down {
                return false;
            }
            let now = Instant::now();
            let aged = state.first_record.map(|first| first + age);
            let due_at = match (state.full, aged) {
                (true, _) => Some(now),
                (false, aged) => aged,
            };
            let due_at = due_at.map(|at| state.not_before.map_or(at, |nb| at.max(nb)));
            state = match due_at {
                Some(at) if at <= now => return true,
                Some(at) => {
                    self.wake
                        .wait_timeout(state, at - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => self.wake.wait(state).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }

    fn finished(&self, outcome: Result<()>) {
        let mut state = self.lock();
        match outcome {
            Ok(()) => {
                state.done += 1;
                state.last_error = None;
                state.not_before = None;
            }
            Err(error) => {
                state.last_error = Some(format!("{}: {error}", error.code()));
                state.not_before = Some(Instant::now() + RETRY_AFTER);
            }
        }
    }

    /// Automatic checkpoints done, and the last one's error if it failed.
    pub(super) fn report(&self) -> (u64, Option<String>) {
        let state = self.lock();
        (state.done, state.last_error.clone())
    }

    /// Stops the thread and waits for it (a checkpoint in progress
    /// finishes first). Callers must not hold the save gate.
    pub(super) fn shut_down(&self) {
        self.lock().shut_down = true;
        self.wake.notify_all();
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(handle) = handle {
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
    }
}

/// Tombstones (as a fraction of slots) past which an automatic checkpoint
/// is a full, compacting `save()`, which holds writers for its length,
/// rather than [`VectorDb::checkpoint`], which does not compact.
const COMPACT_ABOVE_DELETED_FRACTION: f64 = 0.1;

impl VectorDb {
    /// What the checkpoint thread runs (see [`COMPACT_ABOVE_DELETED_FRACTION`]).
    pub fn automatic_checkpoint(&self) -> Result<()> {
        let slots = self.index.slot_count();
        if self.deleted_slots() as f64 > COMPACT_ABOVE_DELETED_FRACTION * slots as f64 {
            self.save()
        } else {
            self.checkpoint()
        }
    }

    /// Starts the background trainer and checkpoint threads, as the
    /// settings ask.
    pub fn start_background_work(self: &Arc<Self>) {
        self.start_background_training();
        self.start_background_checkpoints();
    }

    /// Starts the checkpoint thread of a writable database with a file
    /// (not on WASI, where a thread started off the JS thread can deadlock
    /// against one the JS thread starts; there the log grows until
    /// `save()`).
    pub fn start_background_checkpoints(self: &Arc<Self>) {
        let checkpoints = Arc::clone(&self.checkpoints);
        if !checkpoints.policy.enabled || cfg!(target_os = "wasi") || self.check_open().is_err() {
            return;
        }
        let mut thread = checkpoints.thread.lock().unwrap_or_else(|e| e.into_inner());
        if thread.is_some() {
            return;
        }
        let db: Weak<VectorDb> = Arc::downgrade(self);
        let runner = Arc::clone(&checkpoints);
        let spawned = std::thread::Builder::new()
            .name("hnsw-gnn-checkpoint".into())
            .spawn(move || {
                while runner.wait_until_due() {
                    let Some(db) = db.upgrade() else { return };
                    if db.check_open().is_err() {
                        return;
                    }
                    runner.finished(crate::error::catch_panics(|| db.automatic_checkpoint()));
                }
            });
        if let Ok(handle) = spawned {
            *thread = Some(handle);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_default_threshold_is_the_larger_of_64_mib_and_a_quarter_of_the_file() {
        let policy = CheckpointPolicy::default();
        assert_eq!(policy.threshold(0), 64 << 20);
        assert_eq!(policy.threshold(100 << 20), 64 << 20);
        assert_eq!(policy.threshold(1 << 30), 256 << 20);
        let fixed = CheckpointPolicy::from_option(Some(&json!({ "bytes": 4096 }))).unwrap();
        assert_eq!(fixed.threshold(1 << 30), 4096);
        assert_eq!(fixed.age_ms, DEFAULT_CHECKPOINT_AGE_MS);
        assert!(
            !CheckpointPolicy::from_option(Some(&json!(false)))
                .unwrap()
                .enabled
        );
        assert_eq!(CheckpointPolicy::from_option(None).unwrap(), policy);
    }

    #[test]
    fn a_checkpoint_is_due_once_the_log_passes_the_size_or_the_age() {
        let by_size = Checkpointer::new(CheckpointPolicy {
            bytes: Some(100),
            ..CheckpointPolicy::default()
        });
        by_size.logged(50);
        by_size.logged(120);
        assert!(by_size.wait_until_due(), "over the size");
        by_size.saved(1000);
        by_size.lock().shut_down = true;
        assert!(!by_size.wait_until_due(), "shut down");

        let by_age = Checkpointer::new(CheckpointPolicy {
            age_ms: 30,
            ..CheckpointPolicy::default()
        });
        by_age.logged(10);
        let started = Instant::now();
        assert!(by_age.wait_until_due());
        assert!(started.elapsed() >= Duration::from_millis(20));
    }
}
