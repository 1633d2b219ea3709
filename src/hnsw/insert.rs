//! Linking new nodes into the graph and repairing it around deleted ones.

use super::scratch::{Candidate, SearchScratch};
use super::search::Beam;
use super::select::select_neighbors;
use super::storage::{Storage, ROOT};
use super::Index;

impl Index {
    /// Connects an appended node: greedy descent to its level, then at each
    /// level down to 0 a beam search with `ef_construction` and the
    /// heuristic's choice of `m` neighbours; then, from level 0 up, the node
    /// writes its own list and each neighbour links back. Finally the node
    /// is anchored (see `repair.rs`).
    ///
    /// Choosing top-down but publishing bottom-up means a node is reachable
    /// at a level only once its lists at that level and every level below
    /// are written. Publishing each level as it was chosen let a concurrent
    /// insert descend onto a node whose level-0 list was still empty: its
    /// beam search dead-ended there, and it was linked to that one node
    /// only, far from its real neighbours.
    pub(super) fn link(&self, storage: &Storage, slot: u32, scratch: &mut SearchScratch) {
        let level = storage.level(slot);
        let query = storage.vector(slot);

        // A node that raises the top level holds the entry lock for its whole
        // insert, so two such nodes cannot race to become the entry point.
        let mut entry_guard = None;
        let mut entry = self.entry_point();
        if entry.is_none_or(|(_, top)| level > top) {
            entry_guard = Some(self.entry_lock.lock().unwrap_or_else(|e| e.into_inner()));
            entry = self.entry_point();
            if entry.is_none() {
                storage.set_anchor(slot, ROOT);
                self.set_entry_point(slot, level);
                return;
            }
        }
        let Some((entry_slot, top_level)) = entry else {
            return;
        };

        let mut best = Candidate {
            distance: self.distance.distance(query, storage.vector(entry_slot)),
            slot: entry_slot,
        };
        for lc in (level + 1..=top_level).rev() {
            best = self.greedy_closest(storage, query, best, lc);
        }

        // Choose, top-down; nothing is written yet.
        let top = level.min(top_level);
        let mut chosen: Vec<Vec<u32>> = vec![Vec::new(); top + 1];
        let mut entry_points = vec![best];
        let mut selected = Vec::with_capacity(self.params.m);
        for lc in (0..=top).rev() {
            scratch.reset(storage.len());
            let admit = |n: u32| n != slot && !storage.is_deleted(n);
            let beam = Beam {
                ef: self.params.ef_construction,
                level: lc,
                admit: &admit,
            };
            let mut found = self.search_layer(storage, query, &entry_points, beam, scratch);
            if found.is_empty() {
                // Everything near is deleted: link to the way we came rather
                // than leave the node unreachable.
                found = entry_points
                    .iter()
                    .copied()
                    .filter(|c| c.slot != slot)
                    .collect();
            }
            select_neighbors(
                storage,
                &self.distance,
                &found,
                self.params.m,
                &mut selected,
            );
            chosen[lc].extend(selected.iter().map(|c| c.slot));
            entry_points = found;
        }
        // `entry_points` now holds the level-0 candidates, closest first.

        // Publish, bottom-up.
        for (lc, neighbors) in chosen.iter().enumerate() {
            self.set_own_links(storage, slot, lc, neighbors);
            for &neighbor in neighbors {
                self.add_link(storage, neighbor, slot, lc);
            }
            if lc == 0 {
                self.anchor_new(storage, slot, &entry_points, scratch);
            } else {
                self.ensure_reachable(storage, slot, lc, neighbors);
            }
        }

        if entry_guard.is_some() && level > top_level {
            self.take_root(storage, slot, entry_slot);
            self.set_entry_point(slot, level);
            storage.set_anchor(slot, ROOT);
        }
    }

    /// Writes the list a new node chose for itself at `level`. Other inserts
    /// cannot reach the node at `level` before this (see [`Index::link`]),
    /// but any links they did add are kept rather than overwritten.
    fn set_own_links(&self, storage: &Storage, slot: u32, level: usize, chosen: &[u32]) {
        let _node = self.lock_node(slot);
        let already = storage.neighbors(slot, level);
        if already.len() == 0 {
            storage.set_neighbors(slot, level, chosen);
            return;
        }
        let mut merged = chosen.to_vec();
        merged.extend(already.iter().filter(|n| !chosen.contains(n)));
        if merged.len() <= storage.max_links(level) {
            storage.set_neighbors(slot, level, &merged);
        } else {
            self.reselect(storage, slot, level, merged.into_iter());
        }
    }

    /// Above level 0 (where anchors keep every node reachable), a best
    /// effort: if every neighbour's heuristic pruned `slot` away again, give
    /// its nearest neighbour a link to it in place of that list's last
    /// entry, so the node is not lost to the upper layers at once.
    fn ensure_reachable(&self, storage: &Storage, slot: u32, level: usize, neighbors: &[u32]) {
        let linked_back = |n: u32| storage.neighbors(n, level).iter().any(|m| m == slot);
        let Some(&nearest) = neighbors.first() else {
            return;
        };
        if neighbors.iter().any(|&n| linked_back(n)) {
            return;
        }
        let _node = self.lock_node(nearest);
        let mut list = storage.neighbors(nearest, level).to_vec();
        if list.contains(&slot) {
            return;
        }
        if list.len() >= storage.max_links(level) {
            list.pop();
        }
        list.push(slot);
        storage.set_neighbors(nearest, level, &list);
    }

    /// Adds `new` to the list of `node` at `level`, re-running the heuristic
    /// over the old list plus `new` when the list is full.
    fn add_link(&self, storage: &Storage, node: u32, new: u32, level: usize) {
        let _node = self.lock_node(node);
        let current = storage.neighbors(node, level);
        if current.iter().any(|n| n == new) || storage.try_push_neighbor(node, level, new) {
            return;
        }
        self.reselect(
            storage,
            node,
            level,
            current.iter().chain(std::iter::once(new)),
        );
    }

    /// Reconnects the neighbours of a deleted node: each live neighbour that
    /// linked to it gets a fresh list chosen from its remaining neighbours
    /// plus the deleted node's, so its degree does not shrink by one per
    /// deletion. The deleted node keeps its own lists (and its vector), so
    /// searches that still reach it pass through instead of dead-ending.
    pub(super) fn repair_around(&self, storage: &Storage, deleted: u32) {
        for level in 0..=storage.level(deleted) {
            let orphaned_from = storage.neighbors(deleted, level).to_vec();
            for &node in &orphaned_from {
                if node == deleted || storage.is_deleted(node) {
                    continue;
                }
                let _node = self.lock_node(node);
                let current = storage.neighbors(node, level);
                if !current.iter().any(|n| n == deleted) {
                    continue;
                }
                let live = current
                    .iter()
                    .chain(orphaned_from.iter().copied())
                    .filter(|&n| n != node && !storage.is_deleted(n));
                self.reselect(storage, node, level, live);
            }
        }
    }

    /// Replaces the list of `node` at `level` with the heuristic's choice
    /// among `candidates` (duplicates allowed), keeping at level 0 every
    /// entry anchored to `node` (whether or not it is a candidate). The
    /// caller holds the node's link lock. An empty candidate set leaves the
    /// list as it is.
    fn reselect(
        &self,
        storage: &Storage,
        node: u32,
        level: usize,
        candidates: impl Iterator<Item = u32>,
    ) {
        let base = storage.vector(node);
        let mut pool: Vec<Candidate> = candidates
            .map(|n| Candidate {
                distance: self.distance.distance(base, storage.vector(n)),
                slot: n,
            })
            .collect();
        if pool.is_empty() {
            return;
        }
        // Sorted by (distance, slot), so duplicates are adjacent.
        pool.sort_unstable();
        pool.dedup_by_key(|c| c.slot);
        let max = storage.max_links(level);
        let mut selected = Vec::with_capacity(pool.len());
        select_neighbors(storage, &self.distance, &pool, max, &mut selected);
        let mut slots: Vec<u32> = selected.iter().map(|c| c.slot).collect();
        if level == 0 {
            self.keep_anchored(storage, node, max, &mut slots);
        }
        storage.set_neighbors(node, level, &slots);
    }
}
