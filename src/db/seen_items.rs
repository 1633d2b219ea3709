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

    /// The clock of a compacted index: each kept slot's tick moves to its
    /// new number (`new_slot`, see `Index::compacted`).
    pub fn renumber(&self, new_slot: &[u32]) {
        let mut ticks = self.ticks();
        let mut renumbered = Vec::new();
        for (slot, &tick) in ticks.iter().enumerate() {
            let Some(&to) = new_slot.get(slot) else { break };
            if to == crate::hnsw::DROPPED {
                continue;
            }
            let to = to as usize;
            if to >= renumbered.len() {
                renumbered.resize(to + 1, 0);
            }
            renumbered[to] = tick;
        }
        *ticks = renumbered;
    }

    /// An item moved from slot `from` to `to` (an update with a new vector)
    /// keeps when it was last seen.
    pub fn carry(&self, from: u32, to: u32) {
        let mut ticks = self.ticks();
        let tick = ticks.get(from as usize).copied().unwrap_or(0);
        let to = to as usize;
        if to >= ticks.len() {
            ticks.resize(to + 1, 0);
        }
        ticks[to] = tick;
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
        self.store_as_seen(unseen)
    }

    /// Inserts `items` (all with ids) and marks them seen now, so that a
    /// reranker over its `maxItems` does not forget them first. An ordinary
    /// insert may store one of the ids between the caller's look-up and
    /// this insert (the `remembering` lock orders only remembering calls):
    /// the batch, refused whole, is then filtered again and retried, rather
    /// than failing an import whose sessions would be lost with it.
    fn store_as_seen(&self, mut items: Vec<NewItem>) -> Result<usize> {
        const ATTEMPTS: usize = 8;
        for attempt in 1..=ATTEMPTS {
            if items.is_empty() {
                return Ok(0);
            }
            let ids: Vec<String> = items.iter().filter_map(|c| c.id.clone()).collect();
            let batch = if attempt == ATTEMPTS {
                std::mem::take(&mut items)
            } else {
                items.clone()
            };
            match self.insert_batch(batch, &|_, _| {}) {
                Err(crate::error::Error::DuplicateId(_)) if attempt < ATTEMPTS => {
                    let catalog = self.read_catalog();
                    items.retain(|c| {
                        c.id.as_deref()
                            .is_some_and(|id| !catalog.slot_of.contains(id))
                    });
                    continue;
                }
                Err(e) => return Err(e),
                Ok(_) => {}
            }
            let catalog = self.read_catalog();
            let slots: Vec<u32> = ids
                .iter()
                .filter_map(|id| catalog.slot_of.get(id))
                .collect();
            drop(catalog);
            self.seen.touch(&slots);
            return Ok(ids.len());
        }
        Ok(0)
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
        let updated = changed.len();
        let inserted = self.store_as_seen(fresh)?;
        for (id, vector, metadata) in changed {
            self.update(&id, Some(vector), metadata.map(Some))?;
        }
        Ok((inserted, updated))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{DbOptions, GivenCandidate};
    use super::*;
    use crate::distance::Metric;

    fn seen_in_order(db: &VectorDb, order: &[&str]) {
        for id in order {
            let given = [GivenCandidate {
                id,
                score: None,
                vector: None,
            }];
            db.rank_candidates(&[1.0, 0.5, 0.25], &given, 1, false)
                .unwrap();
        }
    }

    #[test]
    fn when_items_were_last_seen_survives_compaction_and_updates() {
        let db = VectorDb::new(DbOptions::new(3, Metric::Cosine)).unwrap();
        for i in 0..6 {
            db.insert(NewItem {
                id: Some(format!("i{i}")),
                vector: vec![1.0 + i as f32, 1.0, 0.5],
                metadata: None,
            })
            .unwrap();
        }
        seen_in_order(&db, &["i0", "i2", "i3", "i4", "i5", "i1"]);
        let oldest_first = ["i0", "i2", "i3", "i4", "i5", "i1"];
        assert_eq!(db.least_recently_seen(6, &[]).unwrap(), oldest_first);
        // Deleting i0 and compacting renumbers every slot after it.
        assert!(db.delete("i0").unwrap());
        assert!(db.compact().unwrap());
        assert_eq!(db.least_recently_seen(5, &[]).unwrap(), oldest_first[1..]);
        // A new vector moves i2 to a new slot; it is still the oldest seen.
        db.update("i2", Some(vec![0.5, 2.0, 1.0]), None).unwrap();
        assert_eq!(db.least_recently_seen(2, &["i3"]).unwrap(), ["i2", "i4"]);
    }

    #[test]
    fn an_id_an_ordinary_insert_stored_meanwhile_does_not_fail_the_rest() {
        let db = VectorDb::new(DbOptions::new(3, Metric::Cosine)).unwrap();
        let item = |id: &str, x: f32| NewItem {
            id: Some(id.to_string()),
            vector: vec![x, 1.0, 0.5],
            metadata: None,
        };
        // As if inserted between a remembering call's look-up and its insert.
        db.insert(item("a", 1.0)).unwrap();
        assert_eq!(
            db.store_as_seen(vec![item("a", 9.0), item("b", 2.0)])
                .unwrap(),
            1
        );
        assert_eq!(
            db.get("a").unwrap().unwrap().vector[0],
            1.0 / (1.0f32 + 1.0 + 0.25).sqrt()
        );
        assert!(db.get("b").unwrap().is_some());
        assert_eq!(
            db.least_recently_seen(2, &[]).unwrap(),
            ["a", "b"],
            "b was just seen"
        );
    }
}
