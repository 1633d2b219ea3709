//! `Learner`: the feedback log, the serving model and the bookkeeping
//! around them — when to train, what to publish, when to roll back.
//!
//! # Concurrency
//!
//! Searches read the serving model through `serving` (a read lock held for
//! an `Arc` clone, never across a search). Training runs on a snapshot of
//! the log, holding only `training` (which serialises passes) and, briefly,
//! the log to copy it; publishing swaps the `Arc`. So a query never waits
//! for training. The background thread lives in `db`, which owns the items;
//! it calls [`Learner::wait_for_work`] and then trains.

use super::feedback_log::{FeedbackLog, Session};
use super::interleave::{Outcome, Tally};
use super::model::Model;
use super::settings::LearningSettings;
use super::stats::LearningStats;
use super::trainer::{self, ItemSource, TrainParams, TrainReport};
use crate::distance::Metric;
use crate::error::{Error, Result};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

/// Where items are stored now, by id (`None` for ids no longer live), and
/// how many slots the index has.
pub type SlotsOf<'a> = dyn Fn(&[Arc<str>]) -> (Vec<Option<u32>>, usize) + 'a;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[derive(Default)]
struct Bookkeeping {
    sessions_since_training: usize,
    last_training_started: Option<Instant>,
    trainings: u64,
    published: u64,
    rollbacks: u64,
    next_version: u64,
    last_trained_at_ms: Option<u64>,
    last_training_ms: Option<f64>,
    last_report: Option<TrainReport>,
    /// Interleaving results of the serving line of models: kept while each
    /// passing pass replaces the model (about 20 interleaved searches per
    /// model at the defaults, too few to judge one alone), reset when none
    /// serves.
    tally: Tally,
    /// The first version of that line; credits for older ones are stale.
    line_since: u64,
    /// Set when the owner shuts down: the trainer thread exits.
    shutdown: bool,
    /// Whether the last pass passed the guardrail.
    last_passed: bool,
}

/// How long a pass waits, after publishing, for the searches in flight to
/// let go of the model it replaced, so it is freed on the training thread.
const RETIRED_PATIENCE: Duration = Duration::from_millis(100);

pub struct Learner {
    settings: LearningSettings,
    params: TrainParams,
    metric: Metric,
    dimensions: usize,
    log: Mutex<FeedbackLog>,
    serving: RwLock<Option<Arc<Model>>>,
    /// Models replaced or withdrawn, waiting to be freed on a training
    /// thread (see [`Learner::set_serving`]).
    retired: Mutex<Vec<Arc<Model>>>,
    books: Mutex<Bookkeeping>,
    wake: Condvar,
    training: Mutex<()>,
    /// With learning off, the saved model's bytes, written back unchanged
    /// at the next save (turning learning off for one open must not lose
    /// what was learned).
    dormant_model: Mutex<Option<Vec<u8>>>,
}

impl Learner {
    pub fn new(settings: LearningSettings, metric: Metric, dimensions: usize) -> Learner {
        Learner {
            log: Mutex::new(FeedbackLog::new(settings.feedback.clone())),
            params: TrainParams {
                candidates: settings.rerank_depth,
                ..settings.model
            },
            settings,
            metric,
            dimensions,
            serving: RwLock::new(None),
            retired: Mutex::new(Vec::new()),
            // The period counts from the open, as if a pass had just run:
            // the first feedback after opening waits its turn like any other.
            books: Mutex::new(Bookkeeping {
                next_version: 1,
                last_training_started: Some(Instant::now()),
                ..Bookkeeping::default()
            }),
            wake: Condvar::new(),
            training: Mutex::new(()),
            dormant_model: Mutex::new(None),
        }
    }

    pub fn settings(&self) -> &LearningSettings {
        &self.settings
    }

    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    fn lock_log(&self) -> MutexGuard<'_, FeedbackLog> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_books(&self) -> MutexGuard<'_, Bookkeeping> {
        self.books.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Errors unless learning is on.
    pub fn check_enabled(&self) -> Result<()> {
        if !self.settings.enabled {
            return Err(Error::invalid_argument(
                "learning is off for this database (it was created with learning: false)",
            ));
        }
        Ok(())
    }

    /// Logs a session (already validated by the caller) and wakes the
    /// trainer when enough new sessions came in.
    pub fn record(&self, session: Session) {
        {
            let mut log = self.lock_log();
            log.record(session);
            if let Some(retention) = self.settings.retention_ms {
                log.purge_before(now_ms().saturating_sub(retention));
            }
        }
        let mut books = self.lock_books();
        books.sessions_since_training += 1;
        // The first new session starts the `train_every_ms` clock: the
        // trainer, asleep until there is any, must set its timeout.
        if books.sessions_since_training == 1
            || books.sessions_since_training >= self.settings.train_every_sessions
        {
            self.wake.notify_all();
        }
    }

    /// Whether feedback for `search_id` is already logged.
    pub fn has_search(&self, search_id: &str) -> bool {
        self.lock_log().has_search(search_id)
    }

    /// The model serving searches, if any.
    pub fn serving(&self) -> Option<Arc<Model>> {
        if !self.settings.enabled {
            return None;
        }
        self.serving
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts `model` in the place of the serving one. The model it replaces
    /// is not freed here, under the lock every search reads the model
    /// through, nor by whichever search lets go of it last: freeing a
    /// model's tables takes milliseconds, which a search must not wait for.
    /// It waits in `retired` for [`Learner::free_retired`] on a training
    /// thread.
    fn set_serving(&self, model: Option<Arc<Model>>) {
        let replaced = std::mem::replace(
            &mut *self.serving.write().unwrap_or_else(|e| e.into_inner()),
            model,
        );
        if let Some(replaced) = replaced {
            self.retired
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(replaced);
        }
    }

    /// Frees the retired models no search holds any more, on this thread,
    /// after waiting up to `patience` for searches in flight to let go;
    /// any still held wait for the next call.
    fn free_retired(&self, patience: Duration) {
        let deadline = Instant::now() + patience;
        loop {
            let (freed, waiting) = {
                let mut retired = self.retired.lock().unwrap_or_else(|e| e.into_inner());
                let (free, held): (Vec<_>, Vec<_>) =
                    retired.drain(..).partition(|m| Arc::strong_count(m) == 1);
                *retired = held;
                (free, !retired.is_empty())
            };
            drop(freed);
            if !waiting || Instant::now() >= deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Credits an interleaved session of model `version`; withdraws the
    /// model once it is losing beyond chance.
    pub fn credit(&self, version: u64, outcome: Outcome) {
        if self.serving().is_none() {
            return;
        }
        let mut books = self.lock_books();
        if version < books.line_since {
            return;
        }
        books.tally.add(outcome);
        if books.tally.losing() {
            books.rollbacks += 1;
            books.tally = Tally::default();
            // The next model must again pass twice in a row.
            books.last_passed = false;
            self.set_serving(None);
        }
    }

    /// Runs one training pass now on a snapshot of the log; publishes the
    /// model if it passes the guardrail. Returns the pass's report.
    pub fn train(&self, source: &dyn ItemSource) -> Result<TrainReport> {
        self.check_enabled()?;
        let _one_at_a_time = self.training.lock().unwrap_or_else(|e| e.into_inner());
        self.free_retired(Duration::ZERO);
        let started = Instant::now();
        let (snapshot, conversion_weight) = {
            let mut log = self.lock_log();
            if let Some(retention) = self.settings.retention_ms {
                log.purge_before(now_ms().saturating_sub(retention));
            }
            let now = now_ms();
            let snapshot: Vec<(f64, Arc<Session>)> =
                log.weighted(now).map(|(w, s)| (w, Arc::clone(s))).collect();
            (snapshot, log.settings().conversion_weight)
        };
        let (sessions_before, started_before) = {
            let mut books = self.lock_books();
            let before = (books.sessions_since_training, books.last_training_started);
            books.sessions_since_training = 0;
            books.last_training_started = Some(started);
            before
        };
        // A cancelled pass leaves everything as before it: no model, and
        // the background trainer still owes the sessions a pass.
        let aborted = |error: Error| {
            let mut books = self.lock_books();
            books.sessions_since_training += sessions_before;
            books.last_training_started = started_before;
            Err(error)
        };
        // Read before training: a guard taken inside the call's arguments
        // would live until the end of the statement, holding the books (and
        // so every `record`, i.e. every feedback) for the whole pass.
        let pass = self.lock_books().trainings;
        let trained = if snapshot.len() < self.settings.min_sessions {
            None
        } else {
            Some(trainer::train(
                &snapshot,
                source,
                self.metric,
                self.dimensions,
                conversion_weight,
                &self.params,
                pass,
            ))
        };
        // A failed pass still counts, so the next one holds back other
        // sessions instead of failing on the same ones.
        if trained.as_ref().is_some_and(|t| t.is_ok()) && source.aborted() {
            return aborted(Error::Aborted("train was aborted".into()));
        }
        let trained = match trained {
            Some(Err(error @ Error::Aborted(_))) => return aborted(error),
            Some(Err(error)) => {
                self.lock_books().trainings += 1;
                return Err(error);
            }
            Some(Ok(trained)) => Some(trained),
            None => None,
        };
        let report = match &trained {
            Some(t) => t.report.clone(),
            None => TrainReport {
                sessions: snapshot.len(),
                held_back: 0,
                pairs: 0,
                loss: 0.0,
                validation_gain: 0.0,
                validation_z: 0.0,
                blend: super::model::Blend::NONE,
                accepted: false,
                published: false,
            },
        };
        let mut books = self.lock_books();
        books.trainings += 1;
        books.last_trained_at_ms = Some(now_ms());
        books.last_training_ms = Some(started.elapsed().as_secs_f64() * 1e3);
        books.last_report = Some(report.clone());
        // A model first serves after two passes in a row pass the
        // guardrail (on different held-back sessions), so one lucky test
        // cannot put a model trained on noise in front of users; once one
        // serves, each passing pass replaces it and a failing one
        // withdraws it.
        let passed = report.accepted;
        let serving_now = self.serving().is_some();
        let may_serve = passed && (books.last_passed || serving_now);
        books.last_passed = passed;
        let published = trained
            .and_then(|t| t.model)
            .filter(|_| may_serve)
            .map(|mut model| {
                model.version = books.next_version;
                books.next_version += 1;
                books.published += 1;
                Arc::new(model)
            });
        // A pass that fails the guardrail also withdraws the serving model:
        // the newest feedback no longer shows learned ranking beating base
        // (this is what keeps a model that passed by chance from serving
        // for long). A model replacing a serving one continues its line.
        match &published {
            Some(model) if !serving_now => {
                books.tally = Tally::default();
                books.line_since = model.version;
            }
            Some(_) => {}
            None => books.tally = Tally::default(),
        }
        let mut report = report;
        report.published = published.is_some();
        self.set_serving(published);
        drop(books);
        // Searches hold the model they started with for about a
        // millisecond: the one just replaced is usually freed here.
        self.free_retired(RETIRED_PATIENCE);
        Ok(report)
    }

    /// Blocks the trainer thread until a pass is due (enough new sessions,
    /// or `train_every_ms` passed with at least one) and returns true, or
    /// returns false once shut down.
    pub fn wait_for_work(&self) -> bool {
        let mut books = self.lock_books();
        loop {
            if books.shutdown {
                return false;
            }
            let due_by_count = books.sessions_since_training >= self.settings.train_every_sessions;
            let elapsed = books
                .last_training_started
                .map_or(Duration::MAX, |t| t.elapsed());
            let period = Duration::from_millis(self.settings.train_every_ms);
            let due_by_time = books.sessions_since_training > 0 && elapsed >= period;
            if due_by_count || due_by_time {
                return true;
            }
            let wait = if books.sessions_since_training > 0 {
                period
                    .saturating_sub(elapsed)
                    .max(Duration::from_millis(10))
            } else {
                Duration::from_secs(3600)
            };
            books = self
                .wake
                .wait_timeout(books, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Stops the trainer thread (after its current pass).
    pub fn shut_down(&self) {
        self.lock_books().shutdown = true;
        self.wake.notify_all();
    }

    /// Holds off training passes while held; `None` if one is running.
    /// (A compaction renumbers the slots a pass reads throughout.)
    pub fn pause_training(&self) -> Option<std::sync::MutexGuard<'_, ()>> {
        self.training.try_lock().ok()
    }

    /// The serving model renumbered for `index`, a compaction of the index
    /// it serves (see [`Model::renumbered`]), to publish with
    /// [`Learner::serve_renumbered`] once the compaction is swapped in.
    pub fn renumbered_model(
        &self,
        index: &crate::hnsw::Index,
        slots: &SlotsOf<'_>,
    ) -> Result<Option<Arc<Model>>> {
        let Some(model) = self.serving() else {
            return Ok(None);
        };
        let (bound, _) = slots(model.ids());
        Ok(Some(Arc::new(model.renumbered(index, &bound)?)))
    }

    /// Publishes a model from [`Learner::renumbered_model`].
    pub fn serve_renumbered(&self, model: Option<Arc<Model>>) {
        if model.is_some() {
            self.set_serving(model);
        }
    }

    /// Forgets a deleted item in the log and in the serving model (an item
    /// inserted again under its id starts afresh); the next model is
    /// trained without it.
    pub fn forget_item(&self, id: &str) {
        self.lock_log().forget_item(id);
        if let Some(model) = self.serving() {
            model.forget_item(id);
        }
    }

    /// Drops feedback that arrived before `before_ms`; returns how many
    /// sessions went.
    pub fn purge_before(&self, before_ms: u64) -> usize {
        let purged = self.lock_log().purge_before(before_ms);
        *self.dormant_model.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let mut books = self.lock_books();
        books.tally = Tally::default();
        books.last_passed = false;
        self.set_serving(None);
        drop(books);
        // The withdrawn model's memory holds the purged queries: free it
        // now, not at a next pass that may never come.
        self.free_retired(RETIRED_PATIENCE);
        purged
    }

    /// Forgets every session and the model.
    pub fn reset(&self) {
        let _one_at_a_time = self.training.lock().unwrap_or_else(|e| e.into_inner());
        *self.lock_log() = FeedbackLog::new(self.settings.feedback.clone());
        self.set_serving(None);
        *self.dormant_model.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let mut books = self.lock_books();
        let next_version = books.next_version;
        let shutdown = books.shutdown;
        *books = Bookkeeping {
            next_version,
            shutdown,
            last_training_started: Some(Instant::now()),
            ..Bookkeeping::default()
        };
        drop(books);
        self.free_retired(RETIRED_PATIENCE);
    }

    pub fn stats(&self) -> LearningStats {
        let model = self.serving();
        let (sessions, log_bytes) = {
            let log = self.lock_log();
            (log.len(), log.heap_bytes())
        };
        let books = self.lock_books();
        let report = books.last_report.as_ref();
        LearningStats {
            enabled: self.settings.enabled,
            sessions,
            sessions_since_training: books.sessions_since_training,
            model_version: model.as_ref().map_or(0, |m| m.version),
            active: model.is_some(),
            blend_encoding: model.as_ref().map_or(0.0, |m| m.blend.encoding),
            blend_memory: model.as_ref().map_or(0.0, |m| m.blend.memory),
            blend_metric: model.as_ref().map_or(0.0, |m| m.blend.metric),
            metric_rank: model.as_ref().map_or(0, |m| m.metric_rank()),
            model_items: model.as_ref().map_or(0, |m| m.item_count()),
            model_queries: model.as_ref().map_or(0, |m| m.memory_len()),
            trainings: books.trainings,
            published: books.published,
            rollbacks: books.rollbacks,
            last_trained_at_ms: books.last_trained_at_ms,
            last_training_ms: books.last_training_ms,
            loss: report.map(|r| r.loss),
            validation_gain: report.map(|r| r.validation_gain),
            validation_z: report.map(|r| r.validation_z),
            interleaving: books.tally,
            heap_bytes: log_bytes + model.as_ref().map_or(0, |m| m.heap_bytes()),
        }
    }

    /// The log as bytes for the file's feedback section.
    pub fn encode_log(&self) -> Vec<u8> {
        self.lock_log().encode()
    }

    /// The serving model as bytes for the file's model section.
    pub fn encode_model(&self) -> Option<Vec<u8>> {
        if !self.settings.enabled {
            return self
                .dormant_model
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
        }
        self.serving().map(|m| m.encode())
    }

    /// Restores what a file held.
    pub fn restore(
        &self,
        log: Option<&[u8]>,
        model: Option<&[u8]>,
        index: &crate::hnsw::Index,
        slots: &SlotsOf<'_>,
    ) -> Result<()> {
        if let Some(bytes) = log {
            *self.lock_log() = FeedbackLog::decode(bytes, self.settings.feedback.clone())?;
        }
        if let Some(bytes) = model.filter(|_| !self.settings.enabled) {
            *self.dormant_model.lock().unwrap_or_else(|e| e.into_inner()) = Some(bytes.to_vec());
        } else if let Some(bytes) = model {
            let mut model = Model::decode(bytes, self.dimensions, index)?;
            let (bound, slot_count) = slots(model.ids());
            model.bind_slots(&bound, slot_count);
            let mut books = self.lock_books();
            books.next_version = books.next_version.max(model.version + 1);
            self.set_serving(Some(Arc::new(model)));
        }
        Ok(())
    }
}
