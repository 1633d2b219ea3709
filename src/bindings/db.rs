//! The `VectorDB` class: each method converts its arguments, calls one
//! `VectorDb` method and maps the error (index.js wraps this class and
//! assembles search hits from the packed results).

use super::cancel::{cancel_of, CancelToken};
use super::convert::{self, ItemInput, Matrix, PackedText, StoredItem, VectorArg};
use super::error::guard;
use super::error::{call, ErrorCode};
use super::graph::JsGraph;
use super::reports::{DatabaseStats, JsLearningStats, TrainingReport};
use super::shared::{handles, SharedDb};
use super::task::{spawn_search, spawn_write, write_applied_here, Job};
use crate::cancel::Cancel;
use crate::db::{
    check_insert_batch_keys, DbOptions, Feedback, GraphSnapshot, NewItems, OpenOptions,
    SearchOptions, VectorDb,
};
use crate::gnn::{Adjacency, Graph};
use crate::learn::TrainReport;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, Weak};

/// `db.snapshot()`: the graph, its features and the item of each row.
#[napi(object, object_from_js = false)]
pub struct Snapshot {
    pub graph: JsGraph,
    pub features: Matrix,
    pub ids: Vec<String>,
}

fn snapshot_to_js(snapshot: (Graph, GraphSnapshot)) -> Snapshot {
    let (graph, snapshot) = snapshot;
    Snapshot {
        graph: JsGraph::from_graph(graph),
        features: Matrix::from_array(snapshot.features),
        ids: snapshot.ids.iter().map(|id| id.to_string()).collect(),
    }
}

/// Changes for `update`.
#[napi(object, object_to_js = false)]
pub struct ItemUpdate<'a> {
    pub vector: Option<VectorArg<'a>>,
    /// JSON text (see `convert::json_from_js`).
    pub metadata: Option<String>,
}

type ProgressCallback =
    ThreadsafeFunction<FnArgs<(u32, u32)>, (), FnArgs<(u32, u32)>, Status, false, true>;

/// A JS `Float64Array` that a sync call fills in place. (Spelled as an alias:
/// napi-rs converts `&mut [f64]` through `FromNapiValue` only when it does
/// not see the reference in the parameter list.)
pub(super) type NumbersOut<'a> = &'a mut [f64];

/// The native database; index.js's `VectorDB` keeps one in a private field.
#[napi(js_name = "VectorDB")]
pub struct JsVectorDb {
    shared: Arc<SharedDb>,
    /// Whether this holder has let go: `close()`, or garbage collection.
    released: AtomicBool,
}

impl JsVectorDb {
    fn wrap(core: Arc<VectorDb>) -> JsVectorDb {
        JsVectorDb {
            shared: Arc::new(SharedDb {
                slot: RwLock::new(core),
                holders: AtomicUsize::new(1),
            }),
            released: AtomicBool::new(false),
        }
    }

    /// The database this call works on.
    pub(super) fn core(&self) -> Arc<VectorDb> {
        self.shared.core()
    }

    /// `insertBatch`: checks the options, lays the items out on the JS
    /// thread (`items(dimensions)`), and inserts them off it, reporting
    /// progress to the callback.
    fn spawn_insert_items<'env>(
        &self,
        env: &'env Env,
        other_keys: Option<Vec<String>>,
        on_progress: Option<ProgressCallback>,
        cancel: Cancel,
        items: impl FnOnce(usize) -> crate::Result<NewItems>,
    ) -> Result<Object<'env>, ErrorCode> {
        let items = call(|| {
            check_insert_batch_keys(&other_keys.unwrap_or_default())?;
            items(self.core().dimensions())
        })?;
        spawn_write(
            env,
            self.core(),
            move |core| {
                let report = |done: usize, total: usize| {
                    if let Some(callback) = &on_progress {
                        callback.call(
                            (done as u32, total as u32).into(),
                            ThreadsafeFunctionCallMode::NonBlocking,
                        );
                    }
                };
                core.insert_items_applied(items, &report, &cancel)
            },
            |ids| ids,
        )
    }

    /// Lets go of the database once; true if this was its last holder.
    fn release(&self) -> bool {
        !self.released.swap(true, Ordering::AcqRel)
            && self.shared.holders.fetch_sub(1, Ordering::AcqRel) == 1
    }
}

impl Drop for JsVectorDb {
    /// A holder collected without `close()` (a worker that exited) lets go
    /// too, so that the close of the last one still closes the database.
    /// If the collected one was the last, nothing is closed here (which
    /// would block the JS thread on writes in flight): the database is
    /// dropped, its log handed to the OS, once those writes finish.
    fn drop(&mut self) {
        self.release();
    }
}

#[napi]
impl JsVectorDb {
    #[napi(constructor)]
    pub fn new(options: Option<Value>) -> Result<Self, ErrorCode> {
        call(|| {
            let options = DbOptions::from_options(&options.unwrap_or(Value::Null))?;
            let core = Arc::new(VectorDb::new(options)?);
            core.start_background_work();
            Ok(JsVectorDb::wrap(core))
        })
    }

    #[napi]
    pub fn open(
        path: String,
        options: Option<Value>,
    ) -> Result<AsyncTask<Job<Arc<VectorDb>, JsVectorDb>>, ErrorCode> {
        let options = call(|| OpenOptions::from_options(options.as_ref()))?;
        let open = move || {
            let core = Arc::new(VectorDb::open(&PathBuf::from(path), &options)?);
            core.start_background_work();
            Ok(core)
        };
        // Opening starts the log's committer and the trainer. Under Node's
        // WASI every thread is a worker, and one started from a worker
        // thread waits for the JS thread's event loop to create it while
        // wasi-libc holds its thread-list lock, so it can deadlock against a
        // thread started on the JS thread meanwhile: there the open runs
        // here, on the JS thread, and the task only hands its result back.
        #[cfg(target_os = "wasi")]
        let open = {
            let opened = guard(open);
            move || opened
        };
        Ok(Job::spawn(open, JsVectorDb::wrap))
    }

    /// Picks up what the writer saved and logged since this read-only
    /// database was opened (or last refreshed); resolves to whether
    /// anything changed.
    #[napi]
    pub fn refresh(&self) -> AsyncTask<Job<bool, bool>> {
        let shared = self.shared.clone();
        Job::spawn(
            move || {
                let current = shared.core();
                let Some(fresh) = current.refreshed()? else {
                    return Ok(false);
                };
                let fresh = Arc::new(fresh);
                fresh.start_background_work();
                let mut held = shared.slot.write().unwrap_or_else(|e| e.into_inner());
                // A close() or another refresh that got here first wins:
                // this open is dropped, and a closed database stays closed.
                if !Arc::ptr_eq(&held, &current) {
                    return Ok(false);
                }
                current.check_open()?;
                *held = fresh;
                Ok(true)
            },
            |changed| changed,
        )
    }

    /// A token that `VectorDB.attach` takes, in a worker thread of this
    /// process, to use this same database.
    #[napi]
    pub fn handle(&self) -> Result<String, ErrorCode> {
        call(|| {
            self.core().check_open()?;
            let mut rng = crate::rng::SplitMix64::from_entropy();
            let handle = format!("hnsw-gnn:{:016x}{:016x}", rng.next_u64(), rng.next_u64());
            let mut handles = handles();
            handles.retain(|_, shared| shared.strong_count() > 0);
            handles.insert(handle.clone(), Arc::downgrade(&self.shared));
            Ok(handle)
        })
    }

    /// Another holder of the database `handle` names.
    #[napi(factory)]
    pub fn attach(handle: String) -> Result<JsVectorDb, ErrorCode> {
        call(|| {
            let shared = handles()
                .get(&handle)
                .and_then(Weak::upgrade)
                .ok_or_else(|| crate::Error::UnknownHandle(handle.clone()))?;
            if shared.holders.fetch_add(1, Ordering::AcqRel) == 0 {
                // Its last holder let go: it is closing or closed, and the
                // handle names nothing open any more.
                shared.holders.fetch_sub(1, Ordering::AcqRel);
                return Err(crate::Error::UnknownHandle(handle));
            }
            Ok(JsVectorDb {
                shared,
                released: AtomicBool::new(false),
            })
        })
    }

    #[napi]
    pub fn save(&self, cancel: Option<&CancelToken>) -> AsyncTask<Job<(), ()>> {
        let core = self.core();
        let cancel = cancel_of(cancel);
        Job::spawn(move || core.save_with(&cancel), |()| ())
    }

    #[napi]
    pub fn compact(&self) -> AsyncTask<Job<bool, bool>> {
        let core = self.core();
        Job::spawn(move || core.compact(), |compacted| compacted)
    }

    #[napi]
    pub fn close(&self) -> AsyncTask<Job<(), ()>> {
        let shared = self.shared.clone();
        let last = self.release();
        Job::spawn(move || if last { shared.close() } else { Ok(()) }, |()| ())
    }

    #[napi]
    pub fn stats(&self) -> Result<DatabaseStats, ErrorCode> {
        call(|| Ok(self.core().stats().into()))
    }

    #[napi]
    pub fn snapshot(
        &self,
        cancel: Option<&CancelToken>,
    ) -> AsyncTask<Job<(Graph, GraphSnapshot), Snapshot>> {
        let core = self.core();
        let cancel = cancel_of(cancel);
        Job::spawn(
            move || {
                let snapshot = core.snapshot_with(&cancel)?;
                let (offsets, targets) = (&snapshot.links.offsets, &snapshot.links.targets);
                let adjacency = Adjacency::from_csr(
                    snapshot.ids.len(),
                    offsets.iter().map(|&o| o as usize).collect(),
                    targets.clone(),
                )?;
                Ok((Graph::new(adjacency), snapshot))
            },
            snapshot_to_js,
        )
    }

    #[napi(getter)]
    pub fn size(&self) -> u32 {
        self.core().len() as u32
    }

    #[napi(getter)]
    pub fn dimensions(&self) -> u32 {
        self.core().dimensions() as u32
    }

    #[napi(getter)]
    pub fn metric(&self) -> &'static str {
        self.core().metric().name()
    }

    #[napi]
    pub fn insert<'env>(
        &self,
        env: &'env Env,
        item: ItemInput<'_>,
    ) -> Result<Object<'env>, ErrorCode> {
        let item = call(|| item.into_core())?;
        spawn_write(
            env,
            self.core(),
            move |core| core.insert_applied(item),
            |id| id,
        )
    }

    /// `on_progress` and `other_keys` come from the options object (see
    /// index.js).
    #[napi]
    pub fn insert_batch<'env>(
        &self,
        env: &'env Env,
        items: Vec<ItemInput<'_>>,
        on_progress: Option<ProgressCallback>,
        other_keys: Option<Vec<String>>,
        cancel: Option<&CancelToken>,
    ) -> Result<Object<'env>, ErrorCode> {
        let cancel = cancel_of(cancel);
        self.spawn_insert_items(env, other_keys, on_progress, cancel, |dimensions| {
            convert::items_to_core(items, dimensions)
        })
    }

    /// `insertBatch({ ids, vectors, metadata })`: all vectors in one
    /// `Float32Array`, copied once into the allocation the index keeps.
    /// (The items' and the options' fields arrive one by one, hence the
    /// arity.)
    #[allow(clippy::too_many_arguments)]
    #[napi]
    pub fn insert_flat<'env>(
        &self,
        env: &'env Env,
        ids: Option<Vec<String>>,
        vectors: Float32ArraySlice<'_>,
        metadata: Option<Vec<Option<String>>>,
        on_progress: Option<ProgressCallback>,
        other_keys: Option<Vec<String>>,
        cancel: Option<&CancelToken>,
    ) -> Result<Object<'env>, ErrorCode> {
        let cancel = cancel_of(cancel);
        self.spawn_insert_items(env, other_keys, on_progress, cancel, |dimensions| {
            convert::flat_items_to_core(ids, &vectors, metadata, dimensions)
        })
    }

    #[napi]
    pub fn upsert<'env>(
        &self,
        env: &'env Env,
        item: ItemInput<'_>,
    ) -> Result<Object<'env>, ErrorCode> {
        let item = call(|| item.into_core())?;
        spawn_write(
            env,
            self.core(),
            move |core| core.upsert_applied(item),
            |id| id,
        )
    }

    #[napi]
    pub fn update<'env>(
        &self,
        env: &'env Env,
        id: String,
        changes: ItemUpdate<'_>,
    ) -> Result<Object<'env>, ErrorCode> {
        let vector = changes.vector.as_ref().map(convert::vector_owned);
        // Omitted keeps the metadata, `null` clears it.
        let metadata = match changes.metadata {
            None => None,
            Some(text) => Some(call(|| convert::metadata_from_js(Some(&text)))?),
        };
        spawn_write(
            env,
            self.core(),
            move |core| core.update_applied(&id, vector, metadata),
            |()| (),
        )
    }

    #[napi]
    pub fn get(&self, id: String) -> AsyncTask<Job<Option<crate::db::Item>, Option<StoredItem>>> {
        let core = self.core();
        Job::spawn(move || core.get(&id), convert::stored_item)
    }

    #[napi]
    pub fn get_sync(&self, id: String) -> Result<Option<StoredItem>, ErrorCode> {
        call(|| Ok(convert::stored_item(self.core().get(&id)?)))
    }

    #[napi(js_name = "delete")]
    pub fn delete_item<'env>(&self, env: &'env Env, id: String) -> Result<Object<'env>, ErrorCode> {
        spawn_write(
            env,
            self.core(),
            move |core| core.delete_applied(&id),
            |deleted| deleted,
        )
    }

    // The three searches take their options field by field and return
    // packed results (see `SearchOptions::from_parts` and `convert::pack`);
    // index.js turns them into `{ searchId, hits }`.

    // The options arrive field by field (see above), hence the arity.
    #[allow(clippy::too_many_arguments)]
    #[napi]
    pub fn search<'env>(
        &self,
        env: &'env Env,
        query: VectorArg<'_>,
        k: Option<f64>,
        ef_search: Option<f64>,
        filter: Option<String>,
        rerank: Option<bool>,
        other_keys: Option<Vec<String>>,
    ) -> Result<Object<'env>, ErrorCode> {
        let options = call(|| search_options(k, ef_search, filter, rerank, other_keys))?;
        let query = convert::vector_owned(&query);
        let core = self.core();
        spawn_search(
            env,
            move || {
                let k = options.k;
                convert::pack_all(vec![core.search(&query, &options)?], k)
            },
            packed_to_js,
        )
    }

    // The options arrive field by field (see above), hence the arity.
    #[allow(clippy::too_many_arguments)]
    #[napi]
    pub fn search_sync(
        &self,
        query: VectorArg,
        k: Option<f64>,
        ef_search: Option<f64>,
        filter: Option<String>,
        rerank: Option<bool>,
        other_keys: Option<Vec<String>>,
        numbers: NumbersOut,
    ) -> Result<PackedText, ErrorCode> {
        call(|| {
            let options = search_options(k, ef_search, filter, rerank, other_keys)?;
            let mut owned = Vec::new();
            let query = convert::vector_slice(&query, &mut owned);
            let results = self.core().search(query, &options)?;
            convert::pack(results, options.k, numbers)
        })
    }

    // The options arrive field by field (see above), hence the arity.
    #[allow(clippy::too_many_arguments)]
    #[napi]
    pub fn search_batch<'env>(
        &self,
        env: &'env Env,
        queries: Either<Float32ArraySlice<'_>, Vec<VectorArg<'_>>>,
        k: Option<f64>,
        ef_search: Option<f64>,
        filter: Option<String>,
        rerank: Option<bool>,
        other_keys: Option<Vec<String>>,
    ) -> Result<Object<'env>, ErrorCode> {
        let options = call(|| search_options(k, ef_search, filter, rerank, other_keys))?;
        let queries: Vec<Vec<f32>> = match &queries {
            Either::A(flat) => call(|| self.core().query_rows(flat))?
                .into_iter()
                .map(<[f32]>::to_vec)
                .collect(),
            Either::B(list) => list.iter().map(convert::vector_owned).collect(),
        };
        let core = self.core();
        spawn_search(
            env,
            move || {
                let refs: Vec<&[f32]> = queries.iter().map(Vec::as_slice).collect();
                let k = options.k;
                convert::pack_all(core.search_batch(&refs, &options)?, k)
            },
            packed_to_js,
        )
    }
}

#[napi]
impl JsVectorDb {
    /// `feedback(...)`: the fields of the feedback object (index.js reads
    /// them; `other_keys` names any others, which are refused).
    #[allow(clippy::too_many_arguments)]
    #[napi]
    pub fn feedback<'env>(
        &self,
        env: &'env Env,
        search_id: Option<String>,
        query: Option<VectorArg<'_>>,
        shown: Option<Vec<String>>,
        clicked: Option<Vec<String>>,
        converted: Option<Vec<String>>,
        other_keys: Option<Vec<String>>,
    ) -> Result<Either<Object<'env>, ()>, ErrorCode> {
        let query = query.as_ref().map(convert::vector_owned);
        let feedback = call(|| {
            Feedback::from_parts(
                search_id,
                query,
                shown,
                clicked,
                converted,
                &other_keys.unwrap_or_default(),
            )
        })?;
        // Applied here when nothing holds the write gate: waking a write
        // thread would cost more than the work.
        match guard(|| Ok(self.core().try_feedback_applied(feedback))) {
            Err(panicked) => write_applied_here(env, &self.core(), Err(panicked), |()| ()),
            Ok(Ok(applied)) => write_applied_here(env, &self.core(), applied, |()| ()),
            Ok(Err(feedback)) => spawn_write(
                env,
                self.core(),
                move |core| core.feedback_applied(feedback),
                |()| (),
            )
            .map(Either::A),
        }
    }

    #[napi]
    pub fn train(
        &self,
        cancel: Option<&CancelToken>,
    ) -> AsyncTask<Job<TrainReport, TrainingReport>> {
        let core = self.core();
        let cancel = cancel_of(cancel);
        Job::spawn(move || core.train_with(&cancel), TrainingReport::from)
    }

    #[napi]
    pub fn learning_stats(&self) -> Result<JsLearningStats, ErrorCode> {
        call(|| {
            self.core().check_open()?;
            Ok(self.core().learning_stats().into())
        })
    }

    #[napi]
    pub fn reset_learning(&self) -> AsyncTask<Job<(), ()>> {
        let core = self.core();
        Job::spawn(move || core.reset_learning(), |()| ())
    }

    /// `before`: milliseconds since the epoch; absent purges everything.
    #[napi]
    pub fn purge_feedback(
        &self,
        before: Option<f64>,
    ) -> Result<AsyncTask<Job<usize, u32>>, ErrorCode> {
        let before = call(|| {
            before
                .map(|ms| {
                    if ms.is_finite() && ms >= 0.0 {
                        Ok(ms as u64)
                    } else {
                        Err(crate::Error::invalid_argument(format!(
                            "purgeFeedback: before must be a time in milliseconds since the epoch (a Date or a number), got {ms}"
                        )))
                    }
                })
                .transpose()
        })?;
        let core = self.core();
        Ok(Job::spawn(
            move || core.purge_feedback(before),
            |n| n as u32,
        ))
    }
}

fn search_options(
    k: Option<f64>,
    ef_search: Option<f64>,
    filter: Option<String>,
    rerank: Option<bool>,
    other_keys: Option<Vec<String>>,
) -> crate::Result<SearchOptions> {
    let filter = filter
        .map(|text| convert::json_from_js(&text, "filter", crate::Error::InvalidFilter))
        .transpose()?;
    SearchOptions::from_parts(
        k,
        ef_search,
        filter.as_ref(),
        rerank,
        &other_keys.unwrap_or_default(),
    )
}

type PackedJs = Vec<Either<Vec<PackedText>, Float64Array>>;

fn packed_to_js((texts, numbers): (Vec<PackedText>, Vec<f64>)) -> PackedJs {
    vec![Either::A(texts), Either::B(Float64Array::new(numbers))]
}
