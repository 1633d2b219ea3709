//! The `VectorDB` class.

use super::convert::{self, ItemInput, PackedText, StoredItem, VectorArg};
use super::error::{call, ErrorCode};
use super::task::{spawn_search, Job};
use crate::db::{DbOptions, VectorDb};
use crate::distance::Metric;
use crate::hnsw::HnswParams;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use std::sync::Arc;

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
    #[napi(constructor)]
    pub fn new(options: VectorDbOptions) -> Result<Self, ErrorCode> {
        call(|| {
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
            Ok(JsVectorDb {
                core: Arc::new(VectorDb::new(db_options)?),
            })
        })
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
    pub fn insert(&self, item: ItemInput) -> Result<AsyncTask<Job<String, String>>, ErrorCode> {
        let item = call(|| item.into_core())?;
        let core = self.core.clone();
        Ok(Job::spawn(move || core.insert(item), |id| id))
    }

    /// Inserts many items, linking them in parallel on all cores; resolves to
    /// their ids in order. All or nothing: one bad vector or duplicate id
    /// rejects the batch before anything is stored.
    #[napi(ts_return_type = "Promise<string[]>")]
    pub fn insert_batch(
        &self,
        items: Vec<ItemInput>,
        options: Option<InsertBatchOptions>,
    ) -> Result<AsyncTask<Job<Vec<String>, Vec<String>>>, ErrorCode> {
        let items = call(|| {
            items
                .into_iter()
                .map(ItemInput::into_core)
                .collect::<crate::Result<Vec<_>>>()
        })?;
        let on_progress = options.and_then(|o| o.on_progress);
        let core = self.core.clone();
        Ok(Job::spawn(
            move || {
                let report = |done: usize, total: usize| {
                    if let Some(callback) = &on_progress {
                        callback.call(
                            (done as u32, total as u32).into(),
                            ThreadsafeFunctionCallMode::NonBlocking,
                        );
                    }
                };
                core.insert_batch(items, &report)
            },
            |ids| ids,
        ))
    }

    /// Inserts the item or replaces the vector and metadata of the existing
    /// item with that id; resolves to the id.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn upsert(&self, item: ItemInput) -> Result<AsyncTask<Job<String, String>>, ErrorCode> {
        let item = call(|| item.into_core())?;
        let core = self.core.clone();
        Ok(Job::spawn(move || core.upsert(item), |id| id))
    }

    /// Changes an existing item's vector and/or metadata. Rejects with
    /// `ERR_NOT_FOUND` if there is no item with this id.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn update(
        &self,
        id: String,
        changes: ItemUpdate,
    ) -> Result<AsyncTask<Job<(), ()>>, ErrorCode> {
        let vector = changes.vector.as_ref().map(convert::vector_owned);
        // Omitted keeps the metadata, `null` clears it.
        let metadata = match changes.metadata {
            None => None,
            Some(value) => Some(call(|| convert::metadata(Some(value)))?),
        };
        let core = self.core.clone();
        Ok(Job::spawn(
            move || core.update(&id, vector, metadata),
            |()| (),
        ))
    }

    /// Resolves to the stored item, or `null` if there is none.
    #[napi(ts_return_type = "Promise<StoredItem | null>")]
    pub fn get(&self, id: String) -> AsyncTask<Job<Option<crate::db::Item>, Option<StoredItem>>> {
        let core = self.core.clone();
        Job::spawn(move || Ok(core.get(&id)), convert::stored_item)
    }

    /// The stored item, or `null` if there is none.
    #[napi]
    pub fn get_sync(&self, id: String) -> Result<Option<StoredItem>, ErrorCode> {
        call(|| Ok(convert::stored_item(self.core.get(&id))))
    }

    /// Deletes an item; resolves to `false` if the id was unknown. A deleted
    /// item is never returned by a search.
    #[napi(js_name = "delete", ts_return_type = "Promise<boolean>")]
    pub fn delete_item(&self, id: String) -> AsyncTask<Job<bool, bool>> {
        let core = self.core.clone();
        Job::spawn(move || Ok(core.delete(&id)), |deleted| deleted)
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
