//! `VectorDb`: string ids, metadata and search ids over an [`Index`].
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
//! write-ahead log and acknowledges it once durable; see `persist`.

use crate::distance::Metric;
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::hnsw::{HnswParams, Index};
use crate::rng::SplitMix64;
use persist::Persistence;
use rayon::prelude::*;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

mod persist;
pub use crate::store::wal::Durability;
pub use persist::{DbStats, OpenOptions};

/// An item's metadata: a plain JSON object.
pub type Metadata = Map<String, Value>;

/// Longest accepted id, in bytes.
pub const MAX_ID_BYTES: usize = 4_096;

#[derive(Clone, Debug)]
pub struct DbOptions {
    pub dimensions: usize,
    pub metric: Metric,
    pub hnsw: HnswParams,
    /// How many recent searches are remembered for feedback.
    pub recent_searches: usize,
}

impl DbOptions {
    pub fn new(dimensions: usize, metric: Metric) -> DbOptions {
        DbOptions {
            dimensions,
            metric,
            hnsw: HnswParams::default(),
            recent_searches: 10_000,
        }
    }
}

/// A change applied in memory — already visible to searches — whose log
/// record may not be durable yet. [`VectorDb::durable`] waits for it;
/// [`VectorDb::when_durable`] calls back.
#[must_use = "a write is acknowledged only once durable"]
pub struct Applied<T> {
    value: T,
    /// The change's last log record; `None` without a log.
    sequence: Option<u64>,
}

impl<T> Applied<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Applied<U> {
        Applied {
            value: f(self.value),
            sequence: self.sequence,
        }
    }
}

/// The live items, their vectors and their level-0 links, row-aligned:
/// what the GNN layers take (see [`VectorDb::graph_snapshot`]).
#[derive(Clone, Debug)]
pub struct GraphSnapshot {
    pub ids: Vec<Arc<str>>,
    pub features: ndarray::Array2<f32>,
    pub adjacency: crate::gnn::Adjacency,
}

/// An item to insert; `id: None` generates a UUID v4.
#[derive(Clone, Debug, PartialEq)]
pub struct NewItem {
    pub id: Option<String>,
    pub vector: Vec<f32>,
    pub metadata: Option<Metadata>,
}

/// A stored item. `vector` is in stored form: unit length under cosine.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub id: Arc<str>,
    pub vector: Vec<f32>,
    pub metadata: Option<Arc<Metadata>>,
}

#[derive(Clone, Debug, Default)]
pub struct SearchOptions {
    pub k: usize,
    /// Beam width; `None` uses the database default.
    pub ef_search: Option<usize>,
    pub filter: Option<Filter>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub id: Arc<str>,
    /// Higher is closer (cosine similarity, dot product, or −squared L2).
    pub score: f32,
    /// Lower is closer (see `distance` module for each metric).
    pub distance: f32,
    pub metadata: Option<Arc<Metadata>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SearchResults {
    pub search_id: String,
    pub hits: Vec<Hit>,
}

/// What a search showed, kept so later feedback can refer to it.
#[derive(Clone, Debug, PartialEq)]
pub struct RecentSearch {
    pub search_id: String,
    pub query: Vec<f32>,
    pub shown: Vec<Arc<str>>,
}

pub struct VectorDb {
    index: Index,
    catalog: RwLock<Catalog>,
    recent: Mutex<RecentSearches>,
    id_rng: Mutex<SplitMix64>,
    /// Writes hold it shared until acknowledged; save and close hold it
    /// exclusively (see `persist`).
    gate: RwLock<()>,
    closed: AtomicBool,
    persistence: Option<Persistence>,
}

#[derive(Default)]
struct Catalog {
    slot_of: HashMap<Arc<str>, u32>,
    /// Per slot: its id while live, `None` once deleted or replaced.
    ids: Vec<Option<Arc<str>>>,
    metadata: Vec<Option<Arc<Metadata>>>,
}

impl VectorDb {
    /// A database in memory only; see [`VectorDb::create_or_open`] and
    /// [`VectorDb::open`] for one backed by a file.
    pub fn new(options: DbOptions) -> Result<VectorDb> {
        let index = Index::new(options.dimensions, options.metric, options.hnsw)?;
        VectorDb::with_index(index, Catalog::default(), options.recent_searches)
    }

    fn with_index(index: Index, catalog: Catalog, recent_searches: usize) -> Result<VectorDb> {
        if !(1..=10_000_000).contains(&recent_searches) {
            return Err(Error::invalid_argument(format!(
                "recentSearches must be between 1 and 10000000, got {recent_searches}"
            )));
        }
        let mut id_rng = SplitMix64::from_entropy();
        let nonce = id_rng.next_u64() as u32;
        Ok(VectorDb {
            index,
            catalog: RwLock::new(catalog),
            recent: Mutex::new(RecentSearches::new(recent_searches, nonce)),
            id_rng: Mutex::new(id_rng),
            gate: RwLock::new(()),
            closed: AtomicBool::new(false),
            persistence: None,
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

    /// Inserts one item; `DuplicateId` if its id exists. Returns the id.
    pub fn insert(&self, item: NewItem) -> Result<String> {
        self.durable(self.insert_applied(item)?)
    }

    /// [`VectorDb::insert`] without waiting for durability.
    pub fn insert_applied(&self, item: NewItem) -> Result<Applied<String>> {
        self.insert_batch_applied(vec![item], &|_, _| {})
            .map(|applied| applied.map(|mut ids| ids.remove(0)))
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

    fn wal(&self) -> Option<&crate::store::wal::Wal> {
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
    fn begin_write(&self) -> Result<RwLockReadGuard<'_, ()>> {
        let gate = self.gate.read().unwrap_or_else(|e| e.into_inner());
        self.check_open()?;
        if self.persistence.as_ref().is_some_and(|p| p.wal().is_none()) {
            return Err(Error::ReadOnly);
        }
        Ok(gate)
    }

    /// Appends records to the log (if there is one and `log` is set);
    /// returns the sequence number to commit.
    fn log(&self, log: bool, records: impl FnOnce() -> Vec<Vec<u8>>) -> Result<Option<u64>> {
        let Some(wal) = self.wal().filter(|_| log) else {
            return Ok(None);
        };
        let mut sequence = None;
        for record in records() {
            sequence = Some(wal.append(&record)?);
        }
        Ok(sequence)
    }

    /// Inserts many items, linking them in parallel on all cores. All or
    /// nothing: a bad vector or a duplicate id (in the batch or the
    /// database) rejects the whole batch before anything is stored.
    pub fn insert_batch(
        &self,
        items: Vec<NewItem>,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<Vec<String>> {
        self.durable(self.insert_batch_applied(items, progress)?)
    }

    /// [`VectorDb::insert_batch`] without waiting for durability.
    pub fn insert_batch_applied(
        &self,
        items: Vec<NewItem>,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<Applied<Vec<String>>> {
        let _gate = self.begin_write()?;
        let (value, sequence) = self.insert_batch_logged(items, progress, true)?;
        Ok(Applied { value, sequence })
    }

    fn insert_batch_logged(
        &self,
        items: Vec<NewItem>,
        progress: &(dyn Fn(usize, usize) + Sync),
        log: bool,
    ) -> Result<(Vec<String>, Option<u64>)> {
        if items.is_empty() {
            return Ok((Vec::new(), None));
        }
        let (range, ids, sequence) = {
            let mut catalog = self.write_catalog();
            let ids = self.assign_ids(&catalog, &items)?;
            let vectors: Vec<&[f32]> = items.iter().map(|item| item.vector.as_slice()).collect();
            let slots = self.index.append_batch(&vectors)?;
            // A failed log append still leaves the change applied (slots and
            // catalog must line up); the caller gets the error.
            let sequence = self.log(log, || persist::encode_insert(&ids, &items));
            for (id, item) in ids.iter().zip(items) {
                catalog.push(id.clone(), item.metadata.map(Arc::new));
            }
            debug_assert_eq!(catalog.ids.len(), slots.end as usize);
            (slots, ids, sequence)
        };
        if range.len() == 1 {
            // One item: link on this thread, skipping the Rayon hand-off.
            self.index.link_one(range.start);
            progress(1, 1);
        } else {
            self.index.link_batch(range, progress);
        }
        Ok((ids.iter().map(|id| id.to_string()).collect(), sequence?))
    }

    /// Inserts the item, or replaces the vector and metadata of an existing
    /// one with that id. Returns the id.
    pub fn upsert(&self, item: NewItem) -> Result<String> {
        self.durable(self.upsert_applied(item)?)
    }

    /// [`VectorDb::upsert`] without waiting for durability.
    pub fn upsert_applied(&self, item: NewItem) -> Result<Applied<String>> {
        let Some(id) = item.id.clone() else {
            return self.insert_applied(item);
        };
        let _gate = self.begin_write()?;
        let sequence =
            self.replace_logged(&id, Some(item.vector), Some(item.metadata), true, true)?;
        Ok(Applied {
            value: id,
            sequence,
        })
    }

    /// Changes an existing item: a new vector, new metadata (`Some(None)`
    /// clears it), or both. `NotFound` if the id is unknown.
    pub fn update(
        &self,
        id: &str,
        vector: Option<Vec<f32>>,
        metadata: Option<Option<Metadata>>,
    ) -> Result<()> {
        self.durable(self.update_applied(id, vector, metadata)?)
    }

    /// [`VectorDb::update`] without waiting for durability.
    pub fn update_applied(
        &self,
        id: &str,
        vector: Option<Vec<f32>>,
        metadata: Option<Option<Metadata>>,
    ) -> Result<Applied<()>> {
        let _gate = self.begin_write()?;
        let sequence = self.replace_logged(id, vector, metadata, false, true)?;
        Ok(Applied {
            value: (),
            sequence,
        })
    }

    /// Returns the log sequence number of the change.
    fn replace_logged(
        &self,
        id: &str,
        vector: Option<Vec<f32>>,
        metadata: Option<Option<Metadata>>,
        create: bool,
        log: bool,
    ) -> Result<Option<u64>> {
        validate_id(id)?;
        let (new_slot, old_slot, sequence) = {
            let mut catalog = self.write_catalog();
            let old_slot = catalog.slot_of.get(id).copied();
            let Some(old) = old_slot else {
                if !create {
                    return Err(Error::NotFound(id.to_string()));
                }
                drop(catalog);
                let new_vector = vector
                    .clone()
                    .ok_or_else(|| Error::invalid_argument("a new item needs a vector"))?;
                let item = NewItem {
                    id: Some(id.to_string()),
                    vector: new_vector,
                    metadata: metadata.clone().flatten(),
                };
                return match self.insert_batch_logged(vec![item], &|_, _| {}, log) {
                    // Another writer created it between our check and insert.
                    Err(Error::DuplicateId(_)) => {
                        self.replace_logged(id, vector, metadata, create, log)
                    }
                    other => other.map(|(_, sequence)| sequence),
                };
            };
            let metadata = match metadata {
                Some(new) => new.map(Arc::new),
                None => catalog.metadata[old as usize].clone(),
            };
            match vector {
                None => {
                    let sequence = self.log(log, || {
                        vec![persist::encode_update(id, None, metadata.as_deref())]
                    });
                    catalog.metadata[old as usize] = metadata;
                    return sequence;
                }
                Some(vector) => {
                    let slot = self.index.append_batch(&[&vector])?.start;
                    let sequence = self.log(log, || {
                        vec![persist::encode_update(
                            id,
                            Some(&vector),
                            metadata.as_deref(),
                        )]
                    });
                    let id = catalog.ids[old as usize]
                        .take()
                        .expect("live slot has an id");
                    catalog.metadata[old as usize] = None;
                    catalog.slot_of.insert(id.clone(), slot);
                    catalog.ids.push(Some(id));
                    catalog.metadata.push(metadata);
                    self.index.tombstone(old);
                    (slot, old, sequence)
                }
            }
        };
        self.index.link_one(new_slot);
        self.index.repair(old_slot);
        sequence
    }

    /// Deletes an item; false if the id is unknown.
    pub fn delete(&self, id: &str) -> Result<bool> {
        self.durable(self.delete_applied(id)?)
    }

    /// [`VectorDb::delete`] without waiting for durability.
    pub fn delete_applied(&self, id: &str) -> Result<Applied<bool>> {
        let _gate = self.begin_write()?;
        let (value, sequence) = self.delete_logged(id, true)?;
        Ok(Applied { value, sequence })
    }

    fn delete_logged(&self, id: &str, log: bool) -> Result<(bool, Option<u64>)> {
        let (slot, sequence) = {
            let mut catalog = self.write_catalog();
            let Some(&slot) = catalog.slot_of.get(id) else {
                return Ok((false, None));
            };
            let sequence = self.log(log, || vec![persist::encode_delete(id)]);
            catalog.slot_of.remove(id);
            catalog.ids[slot as usize] = None;
            catalog.metadata[slot as usize] = None;
            self.index.tombstone(slot);
            (slot, sequence)
        };
        self.index.repair(slot);
        Ok((true, sequence?))
    }

    pub fn get(&self, id: &str) -> Result<Option<Item>> {
        self.check_open()?;
        let catalog = self.read_catalog();
        Ok(catalog.slot_of.get(id).and_then(|&slot| {
            Some(Item {
                id: catalog.ids[slot as usize].clone()?,
                vector: self.index.vector(slot)?,
                metadata: catalog.metadata[slot as usize].clone(),
            })
        }))
    }

    /// The `k` nearest items to `query`, recorded under a fresh search id.
    pub fn search(&self, query: &[f32], options: &SearchOptions) -> Result<SearchResults> {
        self.check_open()?;
        let hits = {
            let catalog = self.read_catalog();
            let metadata = &catalog.metadata;
            let filter = options
                .filter
                .as_ref()
                .map(|filter| move |slot: u32| filter.matches(metadata[slot as usize].as_deref()));
            let slot_filter = filter.as_ref().map(|f| f as &(dyn Fn(u32) -> bool + Sync));
            let found = self
                .index
                .search(query, options.k, options.ef_search, slot_filter)?;
            let metric = self.index.metric();
            found
                .into_iter()
                .filter_map(|n| {
                    let id = catalog.ids[n.slot as usize].clone()?;
                    let metadata = catalog.metadata[n.slot as usize].clone();
                    Some(Hit {
                        id,
                        score: metric.score(n.distance),
                        distance: n.distance,
                        metadata,
                    })
                })
                .collect::<Vec<_>>()
        };
        let shown = hits.iter().map(|h| h.id.clone()).collect();
        let search_id = self.lock_recent().record(query, shown);
        Ok(SearchResults { search_id, hits })
    }

    /// Many searches in parallel on all cores; fails on the first bad query.
    pub fn search_batch(
        &self,
        queries: &[&[f32]],
        options: &SearchOptions,
    ) -> Result<Vec<SearchResults>> {
        queries
            .par_iter()
            .map(|q| self.search(q, options))
            .collect()
    }

    /// The live items as a graph for the GNN layers, in one consistent
    /// snapshot: their ids (row order), their stored vectors as a feature
    /// matrix (unit length under cosine), and the HNSW level-0 links among
    /// them (links to deleted items dropped). Rows follow
    /// [`crate::gnn::order::locality_order`] of the vectors, so linked items
    /// sit in nearby rows and message passing reads mostly from cache.
    pub fn graph_snapshot(&self) -> Result<GraphSnapshot> {
        self.check_open()?;
        let catalog = self.read_catalog();
        let csr = self.index.level0_csr();
        let live: Vec<u32> = (0..catalog.ids.len() as u32)
            .filter(|&slot| catalog.ids[slot as usize].is_some())
            .collect();
        let dimensions = self.dimensions();
        let mut by_slot = ndarray::Array2::<f32>::zeros((live.len(), dimensions));
        for (row, &slot) in live.iter().enumerate() {
            let vector = self
                .index
                .vector(slot)
                .ok_or_else(|| Error::Internal(format!("live slot {slot} has no vector")))?;
            by_slot
                .row_mut(row)
                .assign(&ndarray::ArrayView1::from(&vector));
        }
        let order = crate::gnn::order::locality_order(by_slot.view(), 0x6E0D_E5);
        let features = by_slot.select(
            ndarray::Axis(0),
            &order.iter().map(|&r| r as usize).collect::<Vec<_>>(),
        );
        drop(by_slot);
        let mut row_of = vec![u32::MAX; catalog.ids.len()];
        for (row, &position) in order.iter().enumerate() {
            row_of[live[position as usize] as usize] = row as u32;
        }
        let mut ids = Vec::with_capacity(order.len());
        let mut offsets = Vec::with_capacity(order.len() + 1);
        let mut sources = Vec::with_capacity(csr.targets.len());
        offsets.push(0);
        for &position in &order {
            let slot = live[position as usize] as usize;
            ids.push(catalog.ids[slot].clone().expect("a live slot has an id"));
            let links = &csr.targets[csr.offsets[slot] as usize..csr.offsets[slot + 1] as usize];
            sources.extend(
                links
                    .iter()
                    .map(|&n| row_of[n as usize])
                    .filter(|&r| r != u32::MAX),
            );
            offsets.push(sources.len());
        }
        let adjacency = crate::gnn::Adjacency::from_csr(ids.len(), offsets, sources)?;
        Ok(GraphSnapshot {
            ids,
            features,
            adjacency,
        })
    }

    /// A search recorded by [`VectorDb::search`], while it is among the most
    /// recent `recent_searches`.
    pub fn recent_search(&self, search_id: &str) -> Option<RecentSearch> {
        self.lock_recent().get(search_id)
    }

    fn assign_ids(&self, catalog: &Catalog, items: &[NewItem]) -> Result<Vec<Arc<str>>> {
        let mut fresh: HashMap<&str, ()> = HashMap::with_capacity(items.len());
        let mut ids = Vec::with_capacity(items.len());
        for item in items {
            let id: Arc<str> = match &item.id {
                Some(id) => {
                    validate_id(id)?;
                    if catalog.slot_of.contains_key(id.as_str()) || fresh.insert(id, ()).is_some() {
                        return Err(Error::DuplicateId(id.clone()));
                    }
                    Arc::from(id.as_str())
                }
                None => Arc::from(self.generate_id()),
            };
            ids.push(id);
        }
        Ok(ids)
    }

    fn generate_id(&self) -> String {
        let mut rng = self.id_rng.lock().unwrap_or_else(|e| e.into_inner());
        let (hi, lo) = (rng.next_u64(), rng.next_u64());
        // UUID v4: version nibble 4, variant bits 10.
        let hi = (hi & !0xF000) | 0x4000;
        let lo = (lo & !(0b11 << 62)) | (0b10 << 62);
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xFFFF,
            hi & 0xFFFF,
            lo >> 48,
            lo & 0xFFFF_FFFF_FFFF
        )
    }

    fn read_catalog(&self) -> RwLockReadGuard<'_, Catalog> {
        self.catalog.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_catalog(&self) -> RwLockWriteGuard<'_, Catalog> {
        self.catalog.write().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_recent(&self) -> std::sync::MutexGuard<'_, RecentSearches> {
        self.recent.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Catalog {
    fn push(&mut self, id: Arc<str>, metadata: Option<Arc<Metadata>>) {
        let slot = self.ids.len() as u32;
        self.slot_of.insert(id.clone(), slot);
        self.ids.push(Some(id));
        self.metadata.push(metadata);
    }
}

fn validate_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid_argument("id must be a non-empty string"));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(Error::invalid_argument(format!(
            "id is {} bytes long; the limit is {MAX_ID_BYTES}",
            id.len()
        )));
    }
    Ok(())
}

/// A ring of the last `capacity` searches. A search id encodes its sequence
/// number, so lookup is an index into the ring, not a hash of strings.
struct RecentSearches {
    nonce: u32,
    next: u64,
    ring: Vec<Option<(u64, RecentSearch)>>,
}

impl RecentSearches {
    fn new(capacity: usize, nonce: u32) -> RecentSearches {
        RecentSearches {
            nonce,
            next: 0,
            ring: (0..capacity).map(|_| None).collect(),
        }
    }

    fn record(&mut self, query: &[f32], shown: Vec<Arc<str>>) -> String {
        let sequence = self.next;
        self.next += 1;
        // The nonce differs per database instance, so ids from two databases
        // (or two runs) do not collide.
        let search_id = format!("{:08x}-{sequence:x}", self.nonce);
        let slot = (sequence % self.ring.len() as u64) as usize;
        let entry = RecentSearch {
            search_id: search_id.clone(),
            query: query.to_vec(),
            shown,
        };
        self.ring[slot] = Some((sequence, entry));
        search_id
    }

    fn get(&self, search_id: &str) -> Option<RecentSearch> {
        let (nonce, sequence) = search_id.split_once('-')?;
        if u32::from_str_radix(nonce, 16).ok()? != self.nonce {
            return None;
        }
        let sequence = u64::from_str_radix(sequence, 16).ok()?;
        match &self.ring[(sequence % self.ring.len() as u64) as usize] {
            Some((stored, entry)) if *stored == sequence => Some(entry.clone()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
