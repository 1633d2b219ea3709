//! `Index`: the graph over internal `u32` slots, its locks and its public
//! operations (the algorithms live in `insert.rs` and `search.rs`).

use super::params::{validate_ef, validate_k, HnswParams, MAX_LEVEL};
use super::scratch::{Candidate, ScratchPool};
use super::search::SlotFilter;
use super::storage::Storage;
use crate::distance::{self, DistanceFn, Kernels, Metric, MAX_DIMENSIONS};
use crate::error::{Error, Result};
use crate::rng::SplitMix64;
use rayon::prelude::*;
use std::borrow::Cow;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Slots per hold of the storage lock in [`Index::map_slots`].
const MAP_BLOCK: usize = 4096;

const LINK_LOCK_STRIPES: usize = 4_096;

/// A search hit: an internal slot and its distance to the query.
pub type Neighbor = Candidate;

/// One slot as [`Index::map_slots`] hands it out, read under the
/// caller's hold of the storage.
#[derive(Clone, Copy)]
pub struct SlotView<'a> {
    storage: &'a Storage,
    slot: u32,
}

impl<'a> SlotView<'a> {
    pub fn slot(&self) -> u32 {
        self.slot
    }

    /// The stored vector (unit length for cosine).
    pub fn vector(&self) -> &'a [f32] {
        self.storage.vector(self.slot)
    }

    /// The level-0 neighbours, in the graph's order.
    pub fn level0_neighbours(&self) -> impl Iterator<Item = u32> + 'a {
        self.storage.neighbors(self.slot, 0).iter()
    }
}

/// Level-0 adjacency in compressed sparse row form: the neighbours of slot
/// `i` are `targets[offsets[i]..offsets[i + 1]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Csr {
    pub offsets: Vec<u32>,
    pub targets: Vec<u32>,
}

/// Vectors laid end to end that [`Index::check_rows`] has passed, as given
/// (not yet in stored form).
pub struct CheckedRows(Vec<f32>);

impl CheckedRows {
    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }
}

pub struct Index {
    pub(super) dimensions: usize,
    pub(super) metric: Metric,
    pub(super) params: HnswParams,
    pub(super) distance: DistanceFn,
    pub(super) storage: RwLock<Storage>,
    /// Writers queued for `storage` (see [`Index::write`]).
    pub(super) writers_waiting: AtomicUsize,
    /// `(level << 32) | slot`, or `u64::MAX` while empty.
    pub(super) entry: AtomicU64,
    pub(super) entry_lock: Mutex<()>,
    pub(super) link_locks: Box<[Mutex<()>]>,
    pub(super) scratch_pool: ScratchPool,
    pub(super) level_rng: Mutex<SplitMix64>,
    pub(super) live: AtomicUsize,
}

impl Index {
    pub fn new(dimensions: usize, metric: Metric, params: HnswParams) -> Result<Index> {
        if !(1..=MAX_DIMENSIONS).contains(&dimensions) {
            return Err(Error::invalid_argument(format!(
                "dimensions must be between 1 and {MAX_DIMENSIONS}, got {dimensions}"
            )));
        }
        params.validate()?;
        Ok(Index {
            dimensions,
            metric,
            params,
            distance: DistanceFn::new(metric, Kernels::active()),
            storage: RwLock::new(Storage::new(dimensions, params.m)),
            writers_waiting: AtomicUsize::new(0),
            entry: AtomicU64::new(u64::MAX),
            entry_lock: Mutex::new(()),
            link_locks: (0..LINK_LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            scratch_pool: ScratchPool::new(),
            level_rng: Mutex::new(SplitMix64::new(params.seed)),
            live: AtomicUsize::new(0),
        })
    }

    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    pub fn metric(&self) -> Metric {
        self.metric
    }

    pub fn params(&self) -> HnswParams {
        self.params
    }

    /// Live (not deleted) nodes.
    pub fn len(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stored slots, deleted ones included; slots are `0..slot_count()`.
    pub fn slot_count(&self) -> usize {
        self.read().len()
    }

    /// Bytes held by vectors, levels and links.
    pub fn memory_bytes(&self) -> usize {
        self.read().memory_bytes()
    }

    /// Checks `vector` and brings it to stored form (unit length for
    /// cosine). `what` names it in errors.
    pub fn prepare<'a>(&self, vector: &'a [f32], what: &str) -> Result<Cow<'a, [f32]>> {
        distance::validate(vector, self.dimensions, what)?;
        if self.metric.normalizes() {
            let mut owned = vector.to_vec();
            distance::normalize(&mut owned, what)?;
            Ok(Cow::Owned(owned))
        } else {
            Ok(Cow::Borrowed(vector))
        }
    }

    /// Stores vectors without linking them (see [`Index::link_batch`]). All
    /// are validated first, so on error nothing is stored.
    pub fn append_batch(&self, vectors: &[&[f32]]) -> Result<Range<u32>> {
        for (i, vector) in vectors.iter().enumerate() {
            if vector.len() != self.dimensions {
                distance::validate(vector, self.dimensions, &format!("vector {i}"))?;
            }
        }
        self.append_rows(vectors.concat())
    }

    /// Checks vectors laid end to end in `rows` without changing them, so a
    /// caller can log a batch before storing it with
    /// [`Index::append_checked`], which will not refuse it.
    pub fn check_rows(&self, rows: Vec<f32>) -> Result<CheckedRows> {
        let dimensions = self.dimensions;
        if !rows.len().is_multiple_of(dimensions) {
            return Err(Error::BatchShape {
                dimensions,
                len: rows.len(),
            });
        }
        for (i, row) in rows.chunks_exact(dimensions).enumerate() {
            // Messages are formatted only for a row that fails.
            if !row.iter().all(|x| x.is_finite()) {
                distance::validate(row, dimensions, &format!("vector {i}"))?;
            }
            if self.metric.normalizes() && row.iter().all(|&x| x == 0.0) {
                distance::normalize(&mut row.to_vec(), &format!("vector {i}"))?;
            }
        }
        if self.slot_count() + rows.len() / dimensions > u32::MAX as usize - 1 {
            return Err(Error::invalid_argument("index is full (2^32 - 1 slots)"));
        }
        Ok(CheckedRows(rows))
    }

    /// [`Index::append_batch`] of vectors laid end to end in `rows`, which
    /// are brought to stored form in place and then kept as they are (see
    /// `Storage::push_rows`): the flat batch path copies no vector.
    pub fn append_rows(&self, rows: Vec<f32>) -> Result<Range<u32>> {
        self.append_checked(self.check_rows(rows)?)
    }

    /// [`Index::append_rows`] of rows [`Index::check_rows`] has passed.
    pub fn append_checked(&self, rows: CheckedRows) -> Result<Range<u32>> {
        let CheckedRows(mut rows) = rows;
        let dimensions = self.dimensions;
        if self.metric.normalizes() {
            // Cannot fail: `check_rows` refused zero rows.
            for row in rows.chunks_exact_mut(dimensions) {
                distance::normalize(row, "a checked vector")?;
            }
        }
        let count = rows.len() / dimensions;
        let mut storage = self.write();
        if storage.len() + count > u32::MAX as usize - 1 {
            return Err(Error::invalid_argument("index is full (2^32 - 1 slots)"));
        }
        storage.reserve(count);
        let levels: Vec<u8> = {
            let mut rng = self.level_rng.lock().unwrap_or_else(|e| e.into_inner());
            // mL = 1 / ln(m): each level holds about 1/m of the one below.
            let level_mult = 1.0 / (self.params.m as f64).ln();
            (0..count)
                .map(|_| {
                    let uniform = 1.0 - rng.next_f64(); // (0, 1]
                    ((-uniform.ln() * level_mult) as usize).min(MAX_LEVEL) as u8
                })
                .collect()
        };
        let start = storage.len() as u32;
        storage.push_rows(rows, &levels);
        self.live.fetch_add(count, Ordering::AcqRel);
        Ok(start..storage.len() as u32)
    }

    /// Links appended slots into the graph, in parallel on the Rayon pool.
    /// `progress(done, total)` is called every 1% of the batch (at least
    /// every 256 items) with increasing `done`, ending with `(total, total)`.
    /// Once `stop()` returns true the slots not yet linked are skipped (and
    /// no final report is made): the caller tombstones the batch.
    pub fn link_batch(
        &self,
        slots: Range<u32>,
        progress: &(dyn Fn(usize, usize) + Sync),
        stop: &(dyn Fn() -> bool + Sync),
    ) {
        let storage = self.read();
        self.ensure_anchors(&storage);
        let total = slots.len();
        let done = AtomicUsize::new(0);
        let report_every = (total / 100).max(256);
        // Workers finish out of order; reporting under a lock that remembers
        // the last value keeps the reported counts increasing.
        let last_reported = Mutex::new(0);
        let report = |finished: usize| {
            let mut last = last_reported.lock().unwrap_or_else(|e| e.into_inner());
            if finished > *last {
                *last = finished;
                progress(finished, total);
            }
        };
        slots.into_par_iter().for_each_init(
            || self.scratch_pool.take(storage.len()),
            |scratch, slot| {
                if stop() {
                    return;
                }
                self.link(&storage, slot, scratch);
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                if finished.is_multiple_of(report_every) && finished < total {
                    report(finished);
                }
            },
        );
        if !stop() {
            report(total);
        }
    }

    /// Appends and links one vector; returns its slot.
    pub fn insert(&self, vector: &[f32]) -> Result<u32> {
        let slot = self.append_batch(&[vector])?.start;
        self.link_one(slot);
        Ok(slot)
    }

    /// Appends and links many vectors in parallel; returns their slots.
    pub fn insert_batch(
        &self,
        vectors: &[&[f32]],
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<Range<u32>> {
        let slots = self.append_batch(vectors)?;
        self.link_batch(slots.clone(), progress, &|| false);
        Ok(slots)
    }

    /// Links one appended slot on the calling thread.
    pub fn link_one(&self, slot: u32) {
        let storage = self.read();
        self.ensure_anchors(&storage);
        let mut scratch = self.scratch_pool.take(storage.len());
        self.link(&storage, slot, &mut scratch);
    }

    /// Deletes `slot` and re-links its neighbours; false if it was already
    /// deleted or never existed.
    pub fn delete(&self, slot: u32) -> bool {
        let deleted = self.tombstone(slot);
        if deleted {
            self.repair(slot);
        }
        deleted
    }

    /// The first half of [`Index::delete`]: from now on `slot` is never
    /// returned. Cheap, so callers can do it under their own locks.
    pub fn tombstone(&self, slot: u32) -> bool {
        let storage = self.read();
        if slot as usize >= storage.len() || !storage.mark_deleted(slot) {
            return false;
        }
        self.live.fetch_sub(1, Ordering::AcqRel);
        true
    }

    /// The second half of [`Index::delete`]: re-links the live neighbours of
    /// a tombstoned slot around it.
    pub fn repair(&self, slot: u32) {
        let storage = self.read();
        if (slot as usize) < storage.len() && storage.is_deleted(slot) {
            self.ensure_anchors(&storage);
            self.repair_around(&storage, slot);
        }
    }

    pub fn is_deleted(&self, slot: u32) -> bool {
        let storage = self.read();
        (slot as usize) < storage.len() && storage.is_deleted(slot)
    }

    /// A copy of the stored vector of a live slot (unit length for cosine).
    pub fn vector(&self, slot: u32) -> Option<Vec<f32>> {
        let storage = self.read();
        ((slot as usize) < storage.len() && !storage.is_deleted(slot))
            .then(|| storage.vector(slot).to_vec())
    }

    /// The metric's distance between two prepared vectors (see
    /// [`Index::prepare`]), neither of them stored.
    pub fn distance_between(&self, a: &[f32], b: &[f32]) -> f32 {
        self.distance.distance(a, b)
    }

    /// Distances from a prepared query (see [`Index::prepare`]) to each of
    /// `slots`, under one read of the storage and without copying vectors;
    /// `None` for a deleted or unknown slot.
    pub fn distances_to(&self, prepared: &[f32], slots: &[u32]) -> Vec<Option<f32>> {
        let storage = self.read();
        let live = |slot: u32| (slot as usize) < storage.len() && !storage.is_deleted(slot);
        // The rows are scattered and usually cold: ask for all of them
        // before reading any, so the misses overlap.
        for &slot in slots.iter().filter(|&&s| live(s)) {
            crate::distance::prefetch(storage.vector(slot));
        }
        slots
            .iter()
            .map(|&slot| live(slot).then(|| self.distance.distance(prepared, storage.vector(slot))))
            .collect()
    }

    /// The `k` nearest live slots to `query` (raw; validated and normalised
    /// here), closest first, that pass `filter`. `ef` defaults to the
    /// index's `ef_search`.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: Option<usize>,
        filter: Option<SlotFilter<'_>>,
    ) -> Result<Vec<Neighbor>> {
        validate_k(k)?;
        let ef = ef.unwrap_or(self.params.ef_search);
        validate_ef(ef)?;
        let query = self.prepare(query, "query")?;
        let storage = self.read();
        Ok(self.search_prepared(&storage, &query, k, ef, filter))
    }

    /// Fills `out` (`width` values per slot of `slots`) with `f` of each
    /// slot (its stored vector and level-0 neighbours; deleted slots
    /// included), in parallel on the current Rayon pool.
    ///
    /// The storage lock is taken here, on the calling thread, once per block
    /// of slots, and never inside the parallel jobs: a job that queued for
    /// the read lock behind a waiting writer (std's `RwLock` then turns new
    /// readers away) while a batch insert held the read lock and waited for
    /// its own jobs on the same pool deadlocked train() against inserts. Per
    /// block, not for the whole sweep: the caller may be a low-priority
    /// thread, and a writer waiting behind a long read would hold up every
    /// search behind it; between blocks the queued writers go first.
    pub fn map_slots(
        &self,
        slots: Range<u32>,
        width: usize,
        out: &mut [f32],
        f: &(dyn Fn(SlotView<'_>, &mut [f32]) + Sync),
    ) {
        let width = width.max(1);
        let end = slots.end.min(self.read().len() as u32);
        for (block, rows) in out.chunks_mut(width * MAP_BLOCK).enumerate() {
            let first = slots.start + (block * MAP_BLOCK) as u32;
            if first >= end {
                break;
            }
            if block > 0 {
                self.let_writers_in();
            }
            let storage = self.read();
            let storage = &*storage;
            rows.par_chunks_mut(width)
                .zip(first..end.min(first + MAP_BLOCK as u32))
                .for_each(|(row, slot)| f(SlotView { storage, slot }, row));
        }
    }

    /// The level-0 neighbours of `slot` (empty for a slot out of range).
    pub fn level0_neighbours(&self, slot: u32) -> Vec<u32> {
        let storage = self.read();
        if slot as usize >= storage.len() {
            return Vec::new();
        }
        storage.neighbors(slot, 0).iter().collect()
    }

    /// Level-0 adjacency of every slot (deleted slots keep their rows so
    /// indices line up with slots; filter them with [`Index::is_deleted`]).
    pub fn level0_csr(&self) -> Csr {
        let storage = self.read();
        let mut offsets = Vec::with_capacity(storage.len() + 1);
        let mut targets = Vec::new();
        offsets.push(0);
        for slot in 0..storage.len() as u32 {
            targets.extend(storage.neighbors(slot, 0).iter());
            offsets.push(targets.len() as u32);
        }
        Csr { offsets, targets }
    }

    pub(super) fn read(&self) -> RwLockReadGuard<'_, Storage> {
        self.storage.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The storage for an append or a swap, counted in `writers_waiting`
    /// while queued, so that a long sweep of short read holds (a
    /// checkpoint) can step aside: std's `RwLock` clears its "writer
    /// waiting" mark when it wakes the writer, and a reader that takes the
    /// lock again at once wins that race every time (measured: appends
    /// waited 12–125 ms behind a 1M-slot checkpoint whose holds were each
    /// under 5 ms).
    pub(super) fn write(&self) -> RwLockWriteGuard<'_, Storage> {
        self.writers_waiting.fetch_add(1, Ordering::AcqRel);
        let storage = self.storage.write().unwrap_or_else(|e| e.into_inner());
        self.writers_waiting.fetch_sub(1, Ordering::AcqRel);
        storage
    }

    /// Called by a long sweep between its read holds: waits until every
    /// writer queued for the storage has had it.
    pub(super) fn let_writers_in(&self) {
        while self.writers_waiting.load(Ordering::Acquire) > 0 {
            std::thread::yield_now();
        }
    }

    pub(super) fn lock_node(&self, slot: u32) -> MutexGuard<'_, ()> {
        self.link_locks[slot as usize % LINK_LOCK_STRIPES]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn entry_point(&self) -> Option<(u32, usize)> {
        let word = self.entry.load(Ordering::Acquire);
        (word != u64::MAX).then_some((word as u32, (word >> 32) as usize))
    }

    pub(super) fn set_entry_point(&self, slot: u32, level: usize) {
        self.entry
            .store(((level as u64) << 32) | slot as u64, Ordering::Release);
    }
}
