//! One database held by several JS objects: a `VectorDB` and those that
//! `VectorDB.attach` makes from its `handle()` in `worker_threads` of the
//! same process (which share the addon's memory, and so these statics).

use crate::db::VectorDb;
use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};

/// One database as JS holds it: by one `VectorDB` object, or by several
/// through `handle()` and `VectorDB.attach()` (in `worker_threads` of this
/// process, which share the addon's memory).
pub(super) struct SharedDb {
    /// The database. `refresh()` of a read-only one swaps in a fresh open;
    /// calls already running keep the one they started with.
    pub(super) slot: RwLock<Arc<VectorDb>>,
    /// Holders that have not let go; the last one to let go closes it.
    pub(super) holders: AtomicUsize,
}

impl SharedDb {
    pub(super) fn core(&self) -> Arc<VectorDb> {
        self.slot.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Closes the database. A refresh may swap in a fresh open meanwhile
    /// (it swaps only an open database): close until the one held is the
    /// one closed.
    pub(super) fn close(&self) -> crate::Result<()> {
        loop {
            let current = self.core();
            current.close()?;
            if Arc::ptr_eq(&self.core(), &current) {
                return Ok(());
            }
        }
    }
}

/// Handles given out by `handle()`, to the databases they name. Weak: a
/// handle does not keep a database open.
pub(super) fn handles() -> std::sync::MutexGuard<'static, HashMap<String, Weak<SharedDb>>> {
    static HANDLES: OnceLock<Mutex<HashMap<String, Weak<SharedDb>>>> = OnceLock::new();
    HANDLES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}
