//! The database side of learning: `feedback` (for a search this database
//! served, or one served elsewhere), `train`, `learningStats`,
//! `resetLearning`, `purgeFeedback`, the items the trainer reads, and the
//! background trainer thread.
//!
//! Feedback is a write: validated, applied to the log, logged in the
//! write-ahead log and acknowledged once durable, like an insert. The
//! trainer thread holds only a `Weak` reference, so it never keeps a
//! database alive; `close` stops it.

use super::vector_db::{Applied, VectorDb};
use super::wal_record;
use crate::cancel::Cancel;
use crate::error::{Error, Result};
use crate::hnsw::MAX_K;
use crate::learn::interleave::credit;
use crate::learn::{now_ms, ItemRecord, ItemSource, LearningStats, Outcome, Session, TrainReport};
use std::collections::HashMap;
use std::sync::{Arc, Weak};

/// Feedback as a caller gives it.
#[derive(Clone, Debug, PartialEq)]
pub enum Feedback {
    /// For a search this database served: the query and what was shown come
    /// from the recent-search table.
    ForSearch {
        search_id: String,
        clicked: Vec<String>,
        converted: Vec<String>,
    },
    /// For a search served elsewhere.
    Served {
        query: Vec<f32>,
        shown: Vec<String>,
        clicked: Vec<String>,
        converted: Vec<String>,
    },
}

/// What [`VectorDb::import_feedback`] took in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportedFeedback {
    pub sessions: usize,
    /// Items the batch carried that were not held here, now stored.
    pub items: usize,
}

/// The keys of a feedback object.
pub const FEEDBACK_KEYS: [&str; 5] = ["searchId", "query", "shown", "clicked", "converted"];

impl Feedback {
    /// Feedback from the fields of a JS object; exactly one of `searchId`
    /// and `query` (with `shown`).
    pub fn from_parts(
        search_id: Option<String>,
        query: Option<Vec<f32>>,
        shown: Option<Vec<String>>,
        clicked: Option<Vec<String>>,
        converted: Option<Vec<String>>,
        other_keys: &[String],
    ) -> Result<Feedback> {
        crate::options::check_keys(
            "feedback objects",
            other_keys.iter().map(String::as_str),
            &FEEDBACK_KEYS,
        )?;
        let clicked = clicked.unwrap_or_default();
        let converted = converted.unwrap_or_default();
        match (search_id, query, shown) {
            (Some(search_id), None, None) => Ok(Feedback::ForSearch {
                search_id,
                clicked,
                converted,
            }),
            (None, Some(query), Some(shown)) => Ok(Feedback::Served {
                query,
                shown,
                clicked,
                converted,
            }),
            (Some(_), _, _) => Err(Error::invalid_argument(
                "feedback takes either searchId, or query and shown, not both",
            )),
            _ => Err(Error::invalid_argument(
                "feedback needs a searchId (from search), or a query and the shown ids",
            )),
        }
    }
}

/// The teams of an interleaved search and the model version they served.
type Interleaved = (u64, Vec<crate::learn::Team>);

/// Positions in `shown` of `ids`, ascending; an id not shown is an error.
fn positions(ids: &[String], shown: &[Arc<str>], what: &str) -> Result<Vec<u32>> {
    let at: HashMap<&str, u32> = shown
        .iter()
        .enumerate()
        .map(|(i, id)| (&**id, i as u32))
        .collect();
    let mut positions = ids
        .iter()
        .map(|id| {
            at.get(id.as_str()).copied().ok_or_else(|| {
                Error::invalid_argument(format!("{what} id {id:?} was not shown in this search"))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    positions.sort_unstable();
    positions.dedup();
    Ok(positions)
}

impl VectorDb {
    /// Logs feedback; waits until it is durable.
    pub fn feedback(&self, feedback: Feedback) -> Result<()> {
        self.durable(self.feedback_applied(feedback)?)
    }

    /// [`VectorDb::feedback`] without waiting for durability.
    pub fn feedback_applied(&self, feedback: Feedback) -> Result<Applied<()>> {
        self.learner.check_enabled()?;
        if self.is_read_only() {
            return self.feedback_to_outbox(feedback);
        }
        let gate = self.begin_write()?;
        self.feedback_admitted(feedback, gate, self.read_catalog())
    }

    /// [`VectorDb::feedback_applied`] if it can start without waiting, or
    /// the feedback back when a save or close holds the write gate or a
    /// write holds the catalogue. Logging feedback is a lookup, a few vector
    /// copies and a log append (a few microseconds), so the bindings run it
    /// on the caller's thread rather than pay for waking a write thread; but
    /// never wait there: a batch insert holds the catalogue while it waits
    /// for the storage behind a running batch, and the caller's thread is
    /// the JS event loop.
    pub fn try_feedback_applied(
        &self,
        feedback: Feedback,
    ) -> std::result::Result<Result<Applied<()>>, Feedback> {
        if let Err(error) = self.learner.check_enabled() {
            return Ok(Err(error));
        }
        if self.is_read_only() {
            return Ok(self.feedback_to_outbox(feedback));
        }
        let gate = match self.try_begin_write() {
            None => return Err(feedback),
            Some(Err(error)) => return Ok(Err(error)),
            Some(Ok(gate)) => gate,
        };
        let catalog = match self.catalog.try_read() {
            Ok(catalog) => catalog,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Err(feedback),
        };
        Ok(self.feedback_admitted(feedback, gate, catalog))
    }

    /// Logs and records `feedback`. The catalogue's read lock is held from
    /// the start: items deleted since the search was served become holes,
    /// and a delete (which takes the write lock, then forgets the id in the
    /// log) comes wholly before or after, so a deleted item never comes back
    /// through learning.
    fn feedback_admitted(
        &self,
        feedback: Feedback,
        _gate: std::sync::RwLockReadGuard<'_, ()>,
        catalog: std::sync::RwLockReadGuard<'_, super::items::Catalog>,
    ) -> Result<Applied<()>> {
        let (session, teams) = self.session_of(feedback)?;
        let outcome = teams.and_then(|(version, teams)| {
            credit(&teams, &session.clicked).map(|outcome| (version, outcome))
        });
        self.record_session(session, outcome, catalog)
    }

    /// Credits an interleaved search's `outcome` (once, on the search's
    /// first feedback), then logs and records `session` without the items
    /// deleted since it was shown. The caller holds the write gate.
    fn record_session(
        &self,
        mut session: Session,
        outcome: Option<(u64, Outcome)>,
        catalog: std::sync::RwLockReadGuard<'_, super::items::Catalog>,
    ) -> Result<Applied<()>> {
        if let (Some((version, outcome)), Some(search_id)) = (outcome, &session.search_id) {
            if !self.learner.has_search(search_id) {
                self.learner.credit(version, outcome);
            }
        }
        session.forget(|id| !catalog.slot_of.contains(id));
        let sequence = self.log(true, || vec![wal_record::encode_feedback(&session)])?;
        self.learner.record(session);
        drop(catalog);
        Ok(Applied {
            value: (),
            sequence,
        })
    }

    /// A read-only open's feedback: resolved against its recent searches
    /// like any feedback, then queued for [`VectorDb::export_feedback`].
    fn feedback_to_outbox(&self, feedback: Feedback) -> Result<Applied<()>> {
        self.check_open()?;
        let (session, teams) = self.session_of(feedback)?;
        let interleaved = teams.map(|(version, teams)| (version, credit(&teams, &session.clicked)));
        self.outbox.push(session, interleaved);
        Ok(Applied {
            value: (),
            sequence: None,
        })
    }

    /// Takes the feedback a read-only open was given since the last
    /// export, as one batch for the writer's [`VectorDb::import_feedback`].
    pub fn export_feedback(&self) -> Result<Vec<u8>> {
        self.check_open()?;
        Ok(self.outbox.export(self.dimensions()))
    }

    /// Feedback waiting for export, and feedback dropped because the outbox
    /// was full.
    pub fn pending_feedback(&self) -> (usize, u64) {
        self.outbox.pending()
    }

    /// Logs the feedback of a batch from a reader's `export_feedback` as
    /// this database's own (durable when this returns), crediting the
    /// reader's interleaving outcomes, after storing the items it carries
    /// that are not held here. Items deleted here since stay forgotten.
    pub fn import_feedback(&self, batch: &[u8]) -> Result<ImportedFeedback> {
        self.check_open()?;
        if self.is_read_only() {
            return Err(Error::ReadOnly);
        }
        self.learner.check_enabled()?;
        let mut batch = super::feedback_outbox::decode_batch(batch, self.dimensions())?;
        // Checked whole before anything is stored, as live feedback is
        // checked (session_of): a refused batch leaves no trace.
        let mut shown_anywhere = std::collections::HashSet::new();
        for exported in &batch.sessions {
            let session = &exported.session;
            let shown = session.shown.iter().flatten();
            self.check_served(
                &session.query,
                session.shown.len(),
                shown.clone().map(|id| &**id),
            )?;
            shown_anywhere.extend(shown.cloned());
        }
        // Only items some session shows are worth storing.
        batch.items.retain(|item| {
            item.id
                .as_deref()
                .is_some_and(|id| shown_anywhere.contains(id))
        });
        let items = self.remember_unseen(batch.items)?;
        let mut last = None;
        let sessions = batch.sessions.len();
        for exported in batch.sessions {
            let gate = self.begin_write()?;
            let applied =
                self.record_session(exported.session, exported.credit, self.read_catalog())?;
            drop(gate);
            last = applied.sequence.or(last);
        }
        self.durable(Applied {
            value: (),
            sequence: last,
        })?;
        Ok(ImportedFeedback { sessions, items })
    }

    /// Applies a replayed feedback record (kept with learning off too, so
    /// the next save does not drop it).
    pub(super) fn replay_feedback(&self, session: Session) {
        if let Some(search_id) = &session.search_id {
            self.lock_recent().note_given_out(search_id);
        }
        self.learner.record(session);
    }

    /// What feedback for a search served elsewhere must be: a query this
    /// database's metric takes, and 1 to `MAX_K` valid ids shown, none twice
    /// (`count` of them, `None` slots of a logged session included).
    fn check_served<'a>(
        &self,
        query: &[f32],
        count: usize,
        shown: impl Iterator<Item = &'a str>,
    ) -> Result<()> {
        self.index.prepare(query, "feedback query")?;
        if count == 0 || count > MAX_K {
            return Err(Error::invalid_argument(format!(
                "feedback shown must list 1 to {MAX_K} ids, got {count}"
            )));
        }
        let mut unique = std::collections::HashSet::new();
        for id in shown {
            super::items::validate_id(id)?;
            if !unique.insert(id) {
                return Err(Error::invalid_argument(format!(
                    "feedback shown lists {id:?} twice"
                )));
            }
        }
        Ok(())
    }

    fn session_of(&self, feedback: Feedback) -> Result<(Session, Option<Interleaved>)> {
        let (search_id, query, shown, clicked, converted, teams) = match feedback {
            Feedback::ForSearch {
                search_id,
                clicked,
                converted,
            } => {
                let recent = self
                    .recent_search(&search_id)
                    .ok_or_else(|| Error::UnknownSearch(search_id.clone()))?;
                (
                    Some(search_id),
                    recent.query,
                    recent.shown,
                    clicked,
                    converted,
                    recent.teams,
                )
            }
            Feedback::Served {
                query,
                shown,
                clicked,
                converted,
            } => {
                self.check_served(&query, shown.len(), shown.iter().map(String::as_str))?;
                let shown = shown.into_iter().map(Arc::from).collect();
                (None, query, shown, clicked, converted, None)
            }
        };
        let converted = positions(&converted, &shown, "converted")?;
        let mut clicked = positions(&clicked, &shown, "clicked")?;
        // A conversion is a click too.
        clicked.extend(&converted);
        clicked.sort_unstable();
        clicked.dedup();
        let session = Session {
            search_id,
            query,
            shown: shown.into_iter().map(Some).collect(),
            clicked,
            converted,
            at_ms: now_ms(),
        };
        Ok((session, teams))
    }

    /// Runs a training pass now; resolves once its model is published or
    /// rejected by the guardrail.
    pub fn train(&self) -> Result<TrainReport> {
        self.train_with(&Cancel::never())
    }

    /// [`VectorDb::train`] that stops with `ERR_ABORTED` once `cancel` is
    /// set, publishing nothing.
    pub fn train_with(&self, cancel: &Cancel) -> Result<TrainReport> {
        self.check_open()?;
        cancel.check("train")?;
        self.learner.train(&DbItems(self, cancel))
    }

    pub fn learning_stats(&self) -> LearningStats {
        self.learner.stats()
    }

    /// Forgets the feedback log and the model (saved at the next save).
    pub fn reset_learning(&self) -> Result<()> {
        let gate = self.begin_write()?;
        self.learner.reset();
        let sequence = self.log(true, || vec![wal_record::encode_reset_learning()])?;
        drop(gate);
        self.durable(Applied {
            value: (),
            sequence,
        })
    }

    /// Drops feedback that arrived before `before_ms` (all of it when
    /// `None`) and withdraws the serving model, whose memory holds past
    /// queries (the next pass retrains on what is left); purging all also
    /// forgets the recent-search table's queries. Returns how many sessions
    /// went. Logged like a write, so it holds after a crash.
    pub fn purge_feedback(&self, before_ms: Option<u64>) -> Result<usize> {
        let gate = self.begin_write()?;
        let before_ms = before_ms.unwrap_or(u64::MAX);
        let purged = self.apply_purge(before_ms);
        let sequence = self.log(true, || vec![wal_record::encode_purge_feedback(before_ms)])?;
        drop(gate);
        self.durable(Applied {
            value: purged,
            sequence,
        })
    }

    pub(super) fn apply_purge(&self, before_ms: u64) -> usize {
        if before_ms == u64::MAX {
            self.lock_recent().clear();
        }
        self.learner.purge_before(before_ms)
    }

    /// Starts the background trainer (when the settings ask for one). It
    /// holds a `Weak` reference, so it stops when the database is dropped
    /// or closed.
    pub fn start_background_training(self: &Arc<Self>) {
        let settings = self.learner.settings();
        if !settings.enabled || !settings.background || self.check_open().is_err() {
            return;
        }
        let mut thread = self
            .trainer_thread
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if thread.is_some() {
            return;
        }
        let db: Weak<VectorDb> = Arc::downgrade(self);
        let learner = Arc::clone(&self.learner);
        let learner_threads = settings.threads.max(1);
        let spawned = std::thread::Builder::new()
            .name("hnsw-gnn-trainer".into())
            .spawn(move || {
                crate::learn::priority::lower_current_thread();
                // The trainer's own pool runs passes at the lowest priority
                // on at most `learning.threads` threads. Not on WASI: it has
                // no priorities, and under Node a thread started from a
                // worker thread (as this one is) waits for the JS thread's
                // event loop while wasi-libc holds its thread-list lock, and
                // so deadlocks against a thread started on the JS thread at
                // the same moment (the first batch insert starts the write
                // pool there). There a pass runs on this thread, its
                // parallel parts on the global pool.
                let pool = (!cfg!(target_os = "wasi"))
                    .then(|| {
                        rayon::ThreadPoolBuilder::new()
                            .num_threads(learner_threads)
                            .thread_name(|i| format!("hnsw-gnn-trainer-{i}"))
                            .start_handler(|_| {
                                crate::learn::priority::lower_current_thread();
                            })
                            .build()
                            .ok()
                    })
                    .flatten();
                // Waits on the learner alone, so an idle trainer never keeps
                // the database alive; holds the database only for a pass.
                while learner.wait_for_work() {
                    let Some(db) = db.upgrade() else { return };
                    if db.check_open().is_err() {
                        return;
                    }
                    // A panic in a pass must not end background training:
                    // it is caught like any failed pass.
                    let pass = || crate::error::catch_panics(|| db.train());
                    // A failed pass leaves the serving model as it was; the
                    // next pass tries again.
                    let _ = match &pool {
                        Some(pool) => pool.install(pass),
                        None => pass(),
                    };
                }
            });
        if let Ok(handle) = spawned {
            *thread = Some(handle);
        }
    }

    /// Stops the background trainer and waits for it.
    pub(super) fn stop_background_training(&self) {
        self.learner.shut_down();
        let handle = self
            .trainer_thread
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle {
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
    }
}

impl VectorDb {
    /// Where `ids` are stored now and how many slots the index has, under
    /// one read of the catalogue (which writes hold while they add slots).
    pub(super) fn slots_of(&self, ids: &[Arc<str>]) -> (Vec<Option<u32>>, usize) {
        let catalog = self.read_catalog();
        let slots = ids.iter().map(|id| catalog.slot_of.get(id)).collect();
        (slots, self.index.slot_count())
    }
}

/// Ids the trainer looks up per hold of the catalogue's read lock.
const ITEMS_PER_READ: usize = 512;

/// The database's items as the trainer reads them, in short reads of the
/// catalogue and the graph.
struct DbItems<'a>(&'a VectorDb, &'a Cancel);

impl ItemSource for DbItems<'_> {
    fn items(&self, ids: &[Arc<str>]) -> Vec<Option<ItemRecord>> {
        let db = self.0;
        // The catalogue's read lock per block of ids, not for them all: the
        // trainer runs at low priority, and a writer waiting behind a long
        // read would hold up every search behind it.
        ids.chunks(ITEMS_PER_READ)
            .flat_map(|block| {
                let catalog = db.read_catalog();
                block
                    .iter()
                    .map(|id| {
                        let slot = catalog.slot_of.get(id)?;
                        let vector = db.index.vector(slot)?;
                        let neighbours = db
                            .index
                            .level0_neighbours(slot)
                            .into_iter()
                            .filter_map(|n| catalog.ids.get(n as usize).cloned().flatten())
                            .collect();
                        Some(ItemRecord {
                            slot,
                            vector,
                            neighbours,
                        })
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn index(&self) -> &crate::hnsw::Index {
        &self.0.index
    }

    fn slots(&self, ids: &[Arc<str>]) -> (Vec<Option<u32>>, usize) {
        self.0.slots_of(ids)
    }

    fn aborted(&self) -> bool {
        self.1.is_cancelled()
    }
}
