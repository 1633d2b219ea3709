//! Items a database learns as another engine shows them: a reranker beside
//! Postgres/pgvector or LanceDB stores each candidate's vector the first
//! time it appears (and again when the engine's vector changed), so its
//! graph, feedback and model cover exactly what users were shown.

use super::items::{Metadata, NewItem};
use super::vector_db::VectorDb;
use crate::error::Result;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// When each slot's item was last named in a candidate list (a counter of
/// rankings, not wall time), for a reranker's least-recently-seen
/// eviction. Not persisted: after an open every item counts as never seen
/// until named again. Kept here rather than in JS because a rerank names
/// about 100 ids and a JS `Map` of a million ids reordered on every call
/// cost more than the ranking.
#[derive(Default)]
pub(super) struct SeenClock {
    // u64: a u32 counter of rankings wraps after about 50 days at 1,000
    // reranks a second, and the freshest items would then look oldest.
    ticks: Mutex<Vec<u64>>,
    now: AtomicU64,
}

impl SeenClock {
    /// Marks `slots` as seen now.
    pub fn touch(&self, slots: &[u32]) {
        let now = self.now.fetch_add(1, Ordering::Relaxed) + 1;
        let mut ticks = self.ticks.lock().unwrap_or_else(|e| e.into_inner());
        for &slot in slots {
            let slot = slot as usize;
            if slot >= ticks.len() {
                ticks.resize(slot + 1, 0);
            }
            ticks[slot] = now;
        }
    }

    fn ticks(&self) -> std::sync::MutexGuard<'_, Vec<u64>> {
        self.ticks.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl VectorDb {
    /// Stores those of `items` not held yet (by id; held ones are left as
    /// they are); returns how many it stored. What a writer does with the
    /// items a reader's feedback batch carries.
    pub(super) fn remember_unseen(&self, items: Vec<NewItem>) -> Result<usize> {
        let _remembering = self.lock_remembering();
        let unseen: Vec<NewItem> = {
            let catalog = self.read_catalog();
            let mut named = std::collections::HashSet::new();
            items
                .into_iter()
                .filter(|item| {
                    item.id.as_deref().is_some_and(|id| {
                        !catalog.slot_of.contains(id) && named.insert(id.to_string())
                    })
                })
                .collect()
        };
        let stored = unseen.len();
        self.store_as_seen(unseen)?;
        Ok(stored)
    }

    /// Inserts `items` (all with ids) and marks them seen now, so that a
    /// reranker over its `maxItems` does not forget them first.
    fn store_as_seen(&self, items: Vec<NewItem>) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = items.iter().filter_map(|c| c.id.clone()).collect();
        self.insert_batch(items, &|_, _| {})?;
        let catalog = self.read_catalog();
        let slots: Vec<u32> = ids
            .iter()
            .filter_map(|id| catalog.slot_of.get(id))
            .collect();
        drop(catalog);
        self.seen.touch(&slots);
        Ok(())
    }

    fn lock_remembering(&self) -> std::sync::MutexGuard<'_, ()> {
        self.remembering.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The ids of the `count` items least recently named in a candidate
    /// list (see [`SeenClock`]), none of `keep`, oldest first: what a
    /// reranker over its `maxItems` forgets.
    pub fn least_recently_seen(&self, count: usize, keep: &[&str]) -> Result<Vec<String>> {
        self.check_open()?;
        let catalog = self.read_catalog();
        let keep: std::collections::HashSet<&str> = keep.iter().copied().collect();
        let ticks = self.seen.ticks();
        let tick = |slot: usize| ticks.get(slot).copied().unwrap_or(0);
        let mut live: Vec<(u64, u32)> = catalog
            .ids
            .iter()
            .enumerate()
            .filter_map(|(slot, id)| {
                let id = id.as_deref()?;
                (!keep.contains(id)).then(|| (tick(slot), slot as u32))
            })
            .collect();
        let count = count.min(live.len());
        if count < live.len() {
            live.select_nth_unstable(count);
            live.truncate(count);
        }
        live.sort_unstable();
        drop(ticks);
        Ok(live
            .into_iter()
            .filter_map(|(_, slot)| catalog.ids[slot as usize].as_deref().map(str::to_string))
            .collect())
    }

    /// Positions in `ids` of those this database does not hold.
    pub fn unheld<'a>(&self, ids: impl Iterator<Item = &'a str>) -> Result<Vec<u32>> {
        self.check_open()?;
        let catalog = self.read_catalog();
        Ok(ids
            .enumerate()
            .filter(|(_, id)| !catalog.slot_of.contains(id))
            .map(|(i, _)| i as u32)
            .collect())
    }

    /// Stores the candidates not held yet and updates those whose vector
    /// changed (metadata follows the candidate when it has any); returns how
    /// many were inserted and how many updated. Vectors are checked like
    /// any insert's before anything is written.
    pub fn remember_candidates(&self, candidates: Vec<NewItem>) -> Result<(usize, usize)> {
        self.check_open()?;
        // Between the look-up and the insert nothing else may store the
        // same id (two readers' batches name the same new item).
        let _remembering = self.lock_remembering();
        let dimensions = self.dimensions();
        for c in &candidates {
            crate::distance::validate(&c.vector, dimensions, "a candidate's vector")?;
        }
        let mut fresh: Vec<NewItem> = Vec::new();
        let mut changed: Vec<(String, Vec<f32>, Option<Metadata>)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for c in candidates {
            let Some(id) = c.id.clone() else {
                return Err(crate::error::Error::invalid_argument(
                    "a candidate needs an id".to_string(),
                ));
            };
            if !seen.insert(id.clone()) {
                continue;
            }
            match self.get(&id)? {
                None => fresh.push(c),
                Some(stored) => {
                    let prepared = self.index.prepare(&c.vector, "a candidate's vector")?;
                    if stored.vector[..] != prepared[..] {
                        changed.push((id, c.vector, c.metadata));
                    }
                }
            }
        }
        let (inserted, updated) = (fresh.len(), changed.len());
        self.store_as_seen(fresh)?;
        for (id, vector, metadata) in changed {
            self.update(&id, Some(vector), metadata.map(Some))?;
        }
        Ok((inserted, updated))
    }
}
