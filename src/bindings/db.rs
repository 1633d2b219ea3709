//! The `VectorDB` class.

use super::convert::{self, ItemInput, PackedText, StoredItem, VectorArg};
use super::error::{call, ErrorCode};
use super::gnn::{JsGraph, Matrix};
use super::task::{spawn_search, spawn_write, Job};
use crate::db::{DbOptions, DbStats, Durability, OpenOptions, VectorDb};
use crate::distance::Metric;
use crate::hnsw::HnswParams;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Options of `new VectorDB(...)`.
#[napi(object)]
pub struct VectorDbOptions {
    /// Length of every vector (1 to 65536).
    pub dimensions: f64,
    /// `'cosine'` (default), `'euclidean'` (squared L2) or `'dot'`. Cosine
    /// vectors are normalised to unit length on insert, so cosine search runs
    /// as a dot product.
    #[napi(ts_type = "'cosine' | 'euclidean' | 'dot'")]
    pub metric: Option<String>,
    /// Links per node (default 16; level 0 keeps up to `2 * m`). More links:
    /// better recall, more memory, slower inserts.
    pub m: Option<f64>,
    /// Beam width while inserting (default 200).
    pub ef_construction: Option<f64>,
    /// Default beam width while searching (default 64); per query via
    /// `search(q, { efSearch })`.
    pub ef_search: Option<f64>,
    /// How many recent searches are remembered so feedback can refer to
    /// them by `searchId` (default 10000).
    pub recent_searches: Option<f64>,
    /// A database file: opened if it exists (its dimensions and metric must
    /// match; its HNSW parameters are kept), created otherwise. Every
    /// change is then logged to `<path>-wal` before it is acknowledged, and
    /// `save()` folds the log into the file. Without a path the database
    /// lives in memory only.
    pub path: Option<String>,
    /// When a write's Promise resolves (with a `path`):
    /// - `'batch'` (default): once its log record is fsynced; fsyncs are
    ///   shared by concurrent writes and happen at most every 10 ms.
    /// - `'fsync'`: once its record is fsynced, without waiting to batch.
    /// - `'none'`: at once, with no fsync: for bulk loads. A crash (of the
    ///   process or the machine) can lose every write since the last
    ///   `save()`; `close()` keeps them.
    #[napi(ts_type = "'batch' | 'fsync' | 'none'")]
    pub durability: Option<String>,
}

/// Options of `VectorDB.open`.
#[napi(object)]
pub struct OpenDbOptions {
    /// As in the constructor (default `'batch'`).
    #[napi(ts_type = "'batch' | 'fsync' | 'none'")]
    pub durability: Option<String>,
    /// Open without taking the writer's lock, so another process may be
    /// writing: searches and reads only (writes reject with
    /// `ERR_READ_ONLY`). Sees the file as last saved plus the writer's log
    /// at the moment of opening.
    pub read_only: Option<bool>,
    /// As in the constructor (default 10000).
    pub recent_searches: Option<f64>,
}

/// What `stats()` reports.
#[napi(object)]
pub struct DatabaseStats {
    /// Live items.
    pub items: u32,
    /// Stored slots: live items plus deleted ones kept as graph tombstones.
    pub slots: u32,
    /// The database file, or `null` for an in-memory database.
    pub path: Option<String>,
    /// Size of the file as last saved.
    pub file_bytes: f64,
    /// Size of the write-ahead log (changes since the last save).
    pub wal_bytes: f64,
    /// Vector bytes read in place from the memory-mapped file (not copied
    /// to the heap).
    pub mapped_vector_bytes: f64,
    /// Vector bytes held in memory (inserted since the last save) plus the
    /// graph's links.
    pub index_heap_bytes: f64,
    /// Whether vectors are served from the mapped file.
    pub vectors_mapped: bool,
    #[napi(ts_type = "'batch' | 'fsync' | 'none' | null")]
    pub durability: Option<String>,
    pub read_only: bool,
    /// Number of saves since the file was created.
    pub generation: f64,
}

impl From<DbStats> for DatabaseStats {
    fn from(stats: DbStats) -> Self {
        DatabaseStats {
            items: stats.items as u32,
            slots: stats.slots as u32,
            path: stats.path,
            file_bytes: stats.file_bytes as f64,
            wal_bytes: stats.wal_bytes as f64,
            mapped_vector_bytes: stats.mapped_bytes as f64,
            index_heap_bytes: stats.index_heap_bytes as f64,
            vectors_mapped: stats.mapped_bytes > 0,
            durability: stats.durability.map(|d| d.name().to_string()),
            read_only: stats.read_only,
            generation: stats.generation as f64,
        }
    }
}

/// A database opened off the JS thread by `VectorDB.open`, waiting to be
/// wrapped by the `VectorDB` constructor. Not part of the public API.
#[napi]
pub struct OpenedDatabase {
    core: Mutex<Option<Arc<VectorDb>>>,
}

/// Options of `insertBatch`.
#[napi(object, object_to_js = false)]
pub struct InsertBatchOptions {
    /// Called with the number of items linked so far, every 1% of the batch
    /// (at least every 256 items) and once at the end with
    /// `done === total`. Counts only increase. Calls come from worker
    /// threads through the event loop, so the last one may arrive just
    /// after the promise resolves.
    #[napi(ts_type = "(done: number, total: number) => void")]
    pub on_progress:
        Option<ThreadsafeFunction<FnArgs<(u32, u32)>, (), FnArgs<(u32, u32)>, Status, false, true>>,
}

/// Changes for `update`.
#[napi(object)]
pub struct ItemUpdate {
    /// A new vector.
    pub vector: Option<Either<Float32Array, Vec<f64>>>,
    /// New metadata; `null` clears it, omitted keeps it.
    #[napi(ts_type = "Record<string, unknown> | null")]
    pub metadata: Option<serde_json::Value>,
}

/// A JS `Float64Array` that a sync call fills in place. (Spelled as an alias:
/// napi-rs converts `&mut [f64]` through `FromNapiValue` only when it does
/// not see the reference in the parameter list.)
type NumbersOut<'a> = &'a mut [f64];

/// An embedded vector database: an HNSW index with string ids, metadata and
/// filters. Methods returning a Promise run on the libuv thread pool (batch
/// work spreads over all cores); the `Sync` variants run on the calling
/// thread.
#[napi(js_name = "VectorDB")]
pub struct JsVectorDb {
    core: Arc<VectorDb>,
}

#[napi]
impl JsVectorDb {
    #[napi(constructor, ts_args_type = "options: VectorDbOptions")]
    pub fn new(
        options: Option<VectorDbOptions>,
        opened: Option<&OpenedDatabase>,
    ) -> Result<Self, ErrorCode> {
        call(|| {
            if let Some(opened) = opened {
                let core = opened.core.lock().unwrap_or_else(|e| e.into_inner()).take();
                let core = core.ok_or_else(|| {
                    crate::Error::invalid_argument("this opened database was already used")
                })?;
                return Ok(JsVectorDb { core });
            }
            let options =
                options.ok_or_else(|| crate::Error::invalid_argument("options are required"))?;
            let defaults = HnswParams::default();
            let dimensions = convert::count("dimensions", Some(options.dimensions), 0)?;
            let metric = Metric::parse(options.metric.as_deref().unwrap_or("cosine"))?;
            let mut db_options = DbOptions::new(dimensions, metric);
            db_options.hnsw = HnswParams {
                m: convert::count("m", options.m, defaults.m)?,
                ef_construction: convert::count(
                    "efConstruction",
                    options.ef_construction,
                    defaults.ef_construction,
                )?,
                ef_search: convert::count("efSearch", options.ef_search, defaults.ef_search)?,
                seed: defaults.seed,
            };
            db_options.recent_searches = convert::count(
                "recentSearches",
                options.recent_searches,
                db_options.recent_searches,
            )?;
            let core = match options.path {
                None => {
                    if options.durability.is_some() {
                        return Err(crate::Error::invalid_argument("durability needs a path"));
                    }
                    VectorDb::new(db_options)?
                }
                Some(path) => VectorDb::create_or_open(
                    &PathBuf::from(path),
                    db_options,
                    durability(options.durability.as_deref())?,
                )?,
            };
            Ok(JsVectorDb {
                core: Arc::new(core),
            })
        })
    }

    /// Opens an existing database file off the JS thread, replaying its
    /// write-ahead log. Vectors are memory-mapped, not read into the heap.
    /// Rejects with `ERR_IO` (missing, unreadable), `ERR_CORRUPT_FILE`,
    /// `ERR_UNSUPPORTED_FORMAT` (written by a newer version) or
    /// `ERR_LOCKED` (another writer has it open).
    #[napi(js_name = "_open", skip_typescript)]
    pub fn open(
        path: String,
        options: Option<OpenDbOptions>,
    ) -> Result<AsyncTask<Job<Arc<VectorDb>, OpenedDatabase>>, ErrorCode> {
        let options = call(|| {
            let options = options.unwrap_or(OpenDbOptions {
                durability: None,
                read_only: None,
                recent_searches: None,
            });
            let defaults = OpenOptions::default();
            Ok(OpenOptions {
                durability: durability(options.durability.as_deref())?,
                read_only: options.read_only.unwrap_or(false),
                recent_searches: convert::count(
                    "recentSearches",
                    options.recent_searches,
                    defaults.recent_searches,
                )?,
            })
        })?;
        Ok(Job::spawn(
            move || VectorDb::open(&PathBuf::from(path), &options).map(Arc::new),
            |core| OpenedDatabase {
                core: Mutex::new(Some(core)),
            },
        ))
    }

    /// Writes the whole database to its file atomically (a temp file,
    /// fsynced, renamed over the old one) and empties the write-ahead log.
    /// Writes wait while it runs; searches do not. Rejects with `ERR_IO`
    /// (disk full, permission denied), leaving the previous file intact.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn save(&self) -> AsyncTask<Job<(), ()>> {
        let core = self.core.clone();
        Job::spawn(move || core.save(), |()| ())
    }

    /// Waits for writes in progress, flushes the write-ahead log and
    /// releases the file and its lock. Unsaved changes stay safe in the log
    /// and are replayed by the next open. Later calls reject with
    /// `ERR_CLOSED`; closing twice is harmless.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close(&self) -> AsyncTask<Job<(), ()>> {
        let core = self.core.clone();
        Job::spawn(move || core.close(), |()| ())
    }

    /// Counts, file and log sizes, and how much of the index is mapped.
    #[napi]
    pub fn stats(&self) -> Result<DatabaseStats, ErrorCode> {
        call(|| Ok(self.core.stats().into()))
    }

    /// The HNSW level-0 graph over the live items, for the GNN layers:
    /// node `i` is item `graph.ids[i]`, the same row as in `vectors()`
    /// (while no write lands between the two calls), and its neighbours are
    /// its level-0 links.
    #[napi]
    pub fn graph(&self) -> Result<JsGraph, ErrorCode> {
        call(|| {
            let snapshot = self.core.graph_snapshot()?;
            Ok(JsGraph::from_snapshot(snapshot.adjacency, snapshot.ids))
        })
    }

    /// The live items' vectors as a feature matrix, one row per node of
    /// `graph()` (unit length under the cosine metric).
    #[napi]
    pub fn vectors(&self) -> Result<Matrix, ErrorCode> {
        call(|| Ok(Matrix::from_array(self.core.graph_snapshot()?.features)))
    }

    /// Number of live items.
    #[napi(getter)]
    pub fn size(&self) -> u32 {
        self.core.len() as u32
    }

    #[napi(getter)]
    pub fn dimensions(&self) -> u32 {
        self.core.dimensions() as u32
    }

    #[napi(getter, ts_return_type = "'cosine' | 'euclidean' | 'dot'")]
    pub fn metric(&self) -> &'static str {
        self.core.metric().name()
    }

    /// Inserts one item and resolves to its id. Rejects with
    /// `ERR_DUPLICATE_ID` if the id exists (use `upsert` to replace).
    #[napi(ts_return_type = "Promise<string>")]
    pub fn insert<'env>(&self, env: &'env Env, item: ItemInput) -> Result<Object<'env>, ErrorCode> {
        let item = call(|| item.into_core())?;
        spawn_write(
            env,
            self.core.clone(),
            move |core| core.insert_applied(item),
            |id| id,
        )
    }

    /// Inserts many items, linking them in parallel on all cores; resolves to
    /// their ids in order. All or nothing: one bad vector or duplicate id
    /// rejects the batch before anything is stored.
    #[napi(ts_return_type = "Promise<string[]>")]
    pub fn insert_batch<'env>(
        &self,
        env: &'env Env,
        items: Vec<ItemInput>,
        options: Option<InsertBatchOptions>,
    ) -> Result<Object<'env>, ErrorCode> {
        let items = call(|| {
            items
                .into_iter()
                .map(ItemInput::into_core)
                .collect::<crate::Result<Vec<_>>>()
        })?;
        let on_progress = options.and_then(|o| o.on_progress);
        spawn_write(
            env,
            self.core.clone(),
            move |core| {
                let report = |done: usize, total: usize| {
                    if let Some(callback) = &on_progress {
                        callback.call(
                            (done as u32, total as u32).into(),
                            ThreadsafeFunctionCallMode::NonBlocking,
                        );
                    }
                };
                core.insert_batch_applied(items, &report)
            },
            |ids| ids,
        )
    }

    /// Inserts the item or replaces the vector and metadata of the existing
    /// item with that id; resolves to the id.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn upsert<'env>(&self, env: &'env Env, item: ItemInput) -> Result<Object<'env>, ErrorCode> {
        let item = call(|| item.into_core())?;
        spawn_write(
            env,
            self.core.clone(),
            move |core| core.upsert_applied(item),
            |id| id,
        )
    }

    /// Changes an existing item's vector and/or metadata. Rejects with
    /// `ERR_NOT_FOUND` if there is no item with this id.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn update<'env>(
        &self,
        env: &'env Env,
        id: String,
        changes: ItemUpdate,
    ) -> Result<Object<'env>, ErrorCode> {
        let vector = changes.vector.as_ref().map(convert::vector_owned);
        // Omitted keeps the metadata, `null` clears it.
        let metadata = match changes.metadata {
            None => None,
            Some(value) => Some(call(|| convert::metadata(Some(value)))?),
        };
        spawn_write(
            env,
            self.core.clone(),
            move |core| core.update_applied(&id, vector, metadata),
            |()| (),
        )
    }

    /// Resolves to the stored item, or `null` if there is none.
    #[napi(ts_return_type = "Promise<StoredItem | null>")]
    pub fn get(&self, id: String) -> AsyncTask<Job<Option<crate::db::Item>, Option<StoredItem>>> {
        let core = self.core.clone();
        Job::spawn(move || core.get(&id), convert::stored_item)
    }

    /// The stored item, or `null` if there is none.
    #[napi]
    pub fn get_sync(&self, id: String) -> Result<Option<StoredItem>, ErrorCode> {
        call(|| Ok(convert::stored_item(self.core.get(&id)?)))
    }

    /// Deletes an item; resolves to `false` if the id was unknown. A deleted
    /// item is never returned by a search.
    #[napi(js_name = "delete", ts_return_type = "Promise<boolean>")]
    pub fn delete_item<'env>(&self, env: &'env Env, id: String) -> Result<Object<'env>, ErrorCode> {
        spawn_write(
            env,
            self.core.clone(),
            move |core| core.delete_applied(&id),
            |deleted| deleted,
        )
    }

    // The three searches return packed results (the async two on a pool of
    // their own, see `task::spawn_search`) (see `convert::pack`);
    // index.js turns them into `{ searchId, hits }` and declares the public
    // `search`, `searchSync` and `searchBatch`.

    #[napi(js_name = "_search", skip_typescript)]
    pub fn search<'env>(
        &self,
        env: &'env Env,
        query: Either<Float32Array, Vec<f64>>,
        k: Option<f64>,
        ef_search: Option<f64>,
        filter: Option<serde_json::Value>,
    ) -> Result<Object<'env>, ErrorCode> {
        let options = call(|| convert::search_options(k, ef_search, filter))?;
        let query = convert::vector_owned(&query);
        let core = self.core.clone();
        spawn_search(
            env,
            move || {
                let k = options.k;
                convert::pack_all(vec![core.search(&query, &options)?], k)
            },
            packed_to_js,
        )
    }

    #[napi(js_name = "_searchSync", skip_typescript)]
    pub fn search_sync(
        &self,
        query: VectorArg,
        k: Option<f64>,
        ef_search: Option<f64>,
        filter: Option<serde_json::Value>,
        numbers: NumbersOut,
    ) -> Result<PackedText, ErrorCode> {
        call(|| {
            let options = convert::search_options(k, ef_search, filter)?;
            let mut owned = Vec::new();
            let query = convert::vector_slice(&query, &mut owned);
            let results = self.core.search(query, &options)?;
            convert::pack(results, options.k, numbers)
        })
    }

    #[napi(js_name = "_searchBatch", skip_typescript)]
    pub fn search_batch<'env>(
        &self,
        env: &'env Env,
        queries: Either<Float32Array, Vec<Either<Float32Array, Vec<f64>>>>,
        k: Option<f64>,
        ef_search: Option<f64>,
        filter: Option<serde_json::Value>,
    ) -> Result<Object<'env>, ErrorCode> {
        let options = call(|| convert::search_options(k, ef_search, filter))?;
        let dimensions = self.core.dimensions();
        let queries: Vec<Vec<f32>> = match &queries {
            Either::A(flat) => {
                if flat.len() % dimensions != 0 {
                    return Err(super::error::to_js_error(crate::Error::BatchShape {
                        dimensions,
                        len: flat.len(),
                    }));
                }
                flat.chunks(dimensions).map(<[f32]>::to_vec).collect()
            }
            Either::B(list) => list.iter().map(convert::vector_owned).collect(),
        };
        let core = self.core.clone();
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

type PackedJs = Vec<Either<Vec<PackedText>, Float64Array>>;

fn packed_to_js((texts, numbers): (Vec<PackedText>, Vec<f64>)) -> PackedJs {
    vec![Either::A(texts), Either::B(Float64Array::new(numbers))]
}

fn durability(name: Option<&str>) -> crate::Result<Durability> {
    name.map_or(Ok(Durability::Batch), Durability::parse)
}
