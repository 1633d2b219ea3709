//! Search: greedy descent through the upper layers, beam search at level 0,
//! and the exact scan used when a filter is too selective for the graph.

use super::scratch::{Candidate, SearchScratch};
use super::storage::Storage;
use super::Index;
use crate::distance;
use std::cmp::Reverse;

/// Below this many estimated matching items a filtered query scans them
/// exactly: a beam search must expand about `ef / selectivity` nodes, which
/// costs more than checking every item once fewer than ~2k of them match.
pub const EXACT_SCAN_MAX_MATCHES: usize = 2_048;

/// Items sampled to estimate a filter's selectivity.
const SELECTIVITY_SAMPLE: usize = 256;

/// What one beam search looks for: how wide, on which level, and which
/// nodes may be results.
pub(super) struct Beam<'a> {
    pub ef: usize,
    pub level: usize,
    pub admit: &'a dyn Fn(u32) -> bool,
}

/// A predicate over internal slots (e.g. a metadata filter).
pub type SlotFilter<'a> = &'a (dyn Fn(u32) -> bool + Sync);

impl Index {
    /// Follows the closest neighbour at `level` until none is closer.
    pub(super) fn greedy_closest(
        &self,
        storage: &Storage,
        query: &[f32],
        mut best: Candidate,
        level: usize,
    ) -> Candidate {
        loop {
            let mut improved = false;
            storage.neighbors(best.slot, level).for_each(|slot| {
                let d = self.distance.distance(query, storage.vector(slot));
                if d < best.distance {
                    best = Candidate { distance: d, slot };
                    improved = true;
                }
            });
            if !improved {
                return best;
            }
        }
    }

    /// Beam search from `entry_points` as `beam` says: up to `beam.ef` of
    /// the closest nodes that `beam.admit` accepts, closest first. Rejected
    /// nodes are still traversed, so a filter or a tombstone never cuts the
    /// graph.
    pub(super) fn search_layer(
        &self,
        storage: &Storage,
        query: &[f32],
        entry_points: &[Candidate],
        beam: Beam<'_>,
        scratch: &mut SearchScratch,
    ) -> Vec<Candidate> {
        let Beam { ef, level, admit } = beam;
        let SearchScratch {
            visited,
            candidates,
            results,
            batch,
        } = scratch;
        for &entry in entry_points {
            if !visited.insert(entry.slot) {
                continue;
            }
            candidates.push(Reverse(entry));
            if admit(entry.slot) {
                results.push(entry);
                if results.len() > ef {
                    results.pop();
                }
            }
        }
        while let Some(Reverse(current)) = candidates.pop() {
            if results.len() >= ef
                && results
                    .peek()
                    .is_some_and(|worst| current.distance > worst.distance)
            {
                break;
            }
            // The next candidate's list, fetched while this one's
            // neighbours are scored (pushes below re-aim it at a new top).
            if let Some(Reverse(next)) = candidates.peek() {
                storage.prefetch_neighbors(next.slot, level);
            }
            let neighbors = storage.neighbors(current.slot, level);
            batch.clear();
            neighbors.for_each(|slot| visited.prefetch(slot));
            neighbors.for_each(|slot| {
                if visited.insert(slot) {
                    batch.push(slot);
                }
            });
            // Request the next row while the current distance is computed:
            // rows are random accesses and memory latency dominates.
            if let Some(&first) = batch.first() {
                distance::prefetch(storage.vector(first));
            }
            for (i, &slot) in batch.iter().enumerate() {
                if let Some(&next) = batch.get(i + 1) {
                    distance::prefetch(storage.vector(next));
                }
                let d = self.distance.distance(query, storage.vector(slot));
                let worst = results.peek().map_or(f32::INFINITY, |w| w.distance);
                if results.len() < ef || d < worst {
                    let found = Candidate { distance: d, slot };
                    candidates.push(Reverse(found));
                    if candidates.peek().is_some_and(|top| top.0.slot == slot) {
                        storage.prefetch_neighbors(slot, level);
                    }
                    if admit(slot) {
                        results.push(found);
                        if results.len() > ef {
                            results.pop();
                        }
                    }
                }
            }
        }
        let mut found: Vec<Candidate> = results.drain().collect();
        found.sort_unstable();
        found
    }

    /// Exact top-`k` over every live slot that passes `filter`.
    pub(super) fn exact_scan(
        &self,
        storage: &Storage,
        query: &[f32],
        k: usize,
        filter: Option<SlotFilter<'_>>,
    ) -> Vec<Candidate> {
        let mut best = std::collections::BinaryHeap::with_capacity(k + 1);
        for slot in 0..storage.len() as u32 {
            if storage.is_deleted(slot) || filter.is_some_and(|f| !f(slot)) {
                continue;
            }
            let d = self.distance.distance(query, storage.vector(slot));
            if best.len() < k {
                best.push(Candidate { distance: d, slot });
            } else if best.peek().is_some_and(|w: &Candidate| d < w.distance) {
                best.pop();
                best.push(Candidate { distance: d, slot });
            }
        }
        best.into_sorted_vec()
    }

    /// Estimated number of live items passing `filter`, from an evenly
    /// spaced sample of slots.
    pub(super) fn estimate_matches(&self, storage: &Storage, filter: SlotFilter<'_>) -> usize {
        let slots = storage.len();
        if slots <= SELECTIVITY_SAMPLE {
            return (0..slots as u32)
                .filter(|&s| !storage.is_deleted(s) && filter(s))
                .count();
        }
        let step = slots as f64 / SELECTIVITY_SAMPLE as f64;
        let hits = (0..SELECTIVITY_SAMPLE)
            .map(|i| (i as f64 * step) as u32)
            .filter(|&s| !storage.is_deleted(s) && filter(s))
            .count();
        (hits as f64 * step).round() as usize
    }

    /// The full query path on already prepared (validated, normalised) input.
    pub(super) fn search_prepared(
        &self,
        storage: &Storage,
        query: &[f32],
        k: usize,
        ef: usize,
        filter: Option<SlotFilter<'_>>,
    ) -> Vec<Candidate> {
        let live = self.len();
        if live == 0 {
            return Vec::new();
        }
        if let Some(filter) = filter {
            if self.estimate_matches(storage, filter) <= EXACT_SCAN_MAX_MATCHES {
                return self.exact_scan(storage, query, k, Some(filter));
            }
        }
        let Some((entry_slot, top_level)) = self.entry_point() else {
            return Vec::new();
        };
        let mut entry = Candidate {
            distance: self.distance.distance(query, storage.vector(entry_slot)),
            slot: entry_slot,
        };
        for level in (1..=top_level).rev() {
            entry = self.greedy_closest(storage, query, entry, level);
        }
        let mut scratch = self.scratch_pool.take(storage.len());
        let admit = |slot: u32| !storage.is_deleted(slot) && filter.is_none_or(|f| f(slot));
        let beam = Beam {
            ef: ef.max(k),
            level: 0,
            admit: &admit,
        };
        let mut found = self.search_layer(storage, query, &[entry], beam, &mut scratch);
        found.truncate(k);
        // A graph cut off from some nodes, or a filter whose matches are
        // unreachable from the entry point, must not return fewer than `k`
        // hits while more exist.
        if found.len() < k.min(live) {
            let exact = self.exact_scan(storage, query, k, filter);
            if exact.len() > found.len() {
                found = exact;
            }
        }
        found
    }
}
