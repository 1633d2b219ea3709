//! Per-search scratch state — visited marks and the two heaps — pooled so a
//! query allocates nothing once the pool is warm.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

/// A node and its distance to the query, ordered by distance (ties by slot,
/// so results are deterministic).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    pub distance: f32,
    pub slot: u32,
}

impl Eq for Candidate {}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then(self.slot.cmp(&other.slot))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Visited marks as epochs: starting a search bumps the epoch instead of
/// clearing the array, which only happens when the 16-bit epoch wraps.
pub(crate) struct VisitedSet {
    epoch: u16,
    marks: Vec<u16>,
}

impl VisitedSet {
    fn new() -> VisitedSet {
        VisitedSet {
            epoch: 0,
            marks: Vec::new(),
        }
    }

    /// Starts a new search over `nodes` nodes.
    pub fn reset(&mut self, nodes: usize) {
        if self.marks.len() < nodes {
            // Grow with headroom so a growing index does not resize per query.
            self.marks.resize(nodes + nodes / 4 + 64, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.marks.fill(0);
            self.epoch = 1;
        }
    }

    /// Marks `slot`; true when it was not visited before in this search.
    #[inline(always)]
    pub fn insert(&mut self, slot: u32) -> bool {
        let mark = &mut self.marks[slot as usize];
        let fresh = *mark != self.epoch;
        *mark = self.epoch;
        fresh
    }

    #[cfg(test)]
    fn contains(&self, slot: u32) -> bool {
        self.marks[slot as usize] == self.epoch
    }

    #[inline(always)]
    pub fn prefetch(&self, slot: u32) {
        if let Some(mark) = self.marks.get(slot as usize) {
            crate::distance::prefetch_bytes(mark as *const u16 as *const u8);
        }
    }
}

/// Everything one beam search needs besides the graph.
pub(crate) struct SearchScratch {
    pub visited: VisitedSet,
    /// Frontier, closest first.
    pub candidates: BinaryHeap<Reverse<Candidate>>,
    /// Best `ef` found so far, farthest first so it can be evicted.
    pub results: BinaryHeap<Candidate>,
    /// Unvisited neighbours of the node being expanded.
    pub batch: Vec<u32>,
}

impl SearchScratch {
    fn new() -> SearchScratch {
        SearchScratch {
            visited: VisitedSet::new(),
            candidates: BinaryHeap::new(),
            results: BinaryHeap::new(),
            batch: Vec::new(),
        }
    }

    pub fn reset(&mut self, nodes: usize) {
        self.visited.reset(nodes);
        self.candidates.clear();
        self.results.clear();
        self.batch.clear();
    }
}

/// A pool of scratch states shared by all threads.
pub(crate) struct ScratchPool {
    free: Mutex<Vec<SearchScratch>>,
}

impl ScratchPool {
    pub fn new() -> ScratchPool {
        ScratchPool {
            free: Mutex::new(Vec::new()),
        }
    }

    /// A scratch ready for a search over `nodes` nodes; it returns to the pool
    /// when dropped.
    pub fn take(&self, nodes: usize) -> PooledScratch<'_> {
        let popped = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut scratch = popped.unwrap_or_else(SearchScratch::new);
        scratch.reset(nodes);
        PooledScratch {
            pool: self,
            scratch: Some(scratch),
        }
    }
}

pub(crate) struct PooledScratch<'a> {
    pool: &'a ScratchPool,
    scratch: Option<SearchScratch>,
}

impl Deref for PooledScratch<'_> {
    type Target = SearchScratch;
    fn deref(&self) -> &SearchScratch {
        self.scratch.as_ref().expect("present until drop")
    }
}

impl DerefMut for PooledScratch<'_> {
    fn deref_mut(&mut self) -> &mut SearchScratch {
        self.scratch.as_mut().expect("present until drop")
    }
}

impl Drop for PooledScratch<'_> {
    fn drop(&mut self) {
        if let Some(scratch) = self.scratch.take() {
            self.pool
                .free
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(scratch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visited_set_forgets_between_searches_even_across_epoch_wrap() {
        let mut visited = VisitedSet::new();
        for _ in 0..70_000 {
            visited.reset(10);
            assert!(!visited.contains(3));
            assert!(visited.insert(3));
            assert!(!visited.insert(3));
        }
    }

    #[test]
    fn pool_reuses_scratch() {
        let pool = ScratchPool::new();
        {
            let mut s = pool.take(100);
            s.batch.reserve(1000);
        }
        let s = pool.take(100);
        assert!(s.batch.capacity() >= 1000);
    }
}
