//! Anchors: a way into every node that no prune removes.
//!
//! The neighbour heuristic may drop a node from every list that held it:
//! later inserts crowd it out of its neighbours' full lists one by one
//! (outliers, kept last, go first), and the node is unreachable for good.
//! Sequential builds are not immune (with `m = 4`, about one node in 2,000
//! of the test data), and concurrent inserts, which change lists between a
//! node's search and its links, make it likelier.
//!
//! So each node gets an *anchor* at level 0: one node whose list must keep
//! it. Every rewrite of a level-0 list keeps the entries anchored to its
//! owner ([`Index::keep_anchored`]); anchors are set under the anchor's link
//! lock, like every write of its list, so no concurrent prune can undo one.
//!
//! * A node is only ever anchored to an already anchored node, and the
//!   entry point is the root (anchor [`ROOT`]). So following anchors from
//!   any node leads to the entry point without a cycle, and every node is
//!   reachable from the entry point along anchored level-0 links.
//! * A node raising the top level becomes the new root: before it is
//!   published as the entry point it anchors the old one in its own list.
//! * A node anchors to its nearest neighbour (the closest candidate of its
//!   level-0 search that is anchored and has room). If that neighbour's
//!   heuristic left it out, it goes into the list in place of the farthest
//!   entry not anchored there. So a search for a node's vector that reaches
//!   the node's nearest neighbour (as of its insert) also finds the node —
//!   even an outlier, which a full list near it would otherwise drop first.
//! * At most half of a list may be anchored entries, so the heuristic still
//!   chooses most of it. Some anchored node always has room (there are
//!   fewer anchored entries than anchored nodes), and all of them are
//!   reachable from the entry point, so a walk from there finds one.
//! * Deleted nodes keep their anchors and anchored entries: traversal
//!   passes through them, and their lists are not rewritten.
//!
//! Anchors are not saved. After a load they are rebuilt, once, before the
//! first write: a breadth-first walk from the entry point anchors every node
//! it reaches, and any live node it cannot reach is anchored by a search.

use super::scratch::{Candidate, SearchScratch};
use super::search::Beam;
use super::storage::{Storage, ROOT, UNANCHORED};
use super::Index;

impl Index {
    /// At most this many entries of a level-0 list are anchored to its owner.
    fn anchor_cap(storage: &Storage) -> usize {
        storage.max_links(0) / 2
    }

    /// Anchors a node just linked at level 0 to the nearest of its
    /// `candidates` (closest first) that is anchored and has room, putting
    /// it into that node's list if the heuristic left it out; failing that,
    /// anywhere.
    pub(super) fn anchor_new(
        &self,
        storage: &Storage,
        slot: u32,
        candidates: &[Candidate],
        scratch: &mut SearchScratch,
    ) {
        if storage.is_anchored(slot) {
            return;
        }
        let cap = Index::anchor_cap(storage);
        if candidates
            .iter()
            .any(|c| self.try_anchor(storage, c.slot, slot, cap))
        {
            return;
        }
        self.anchor_anywhere(storage, slot, candidates, scratch);
    }

    /// Makes `parent` the anchor of `child` if `parent` is anchored itself
    /// (see [`Index::put_anchor`]).
    fn try_anchor(&self, storage: &Storage, parent: u32, child: u32, cap: usize) -> bool {
        parent != child
            && storage.is_anchored(parent)
            && self.put_anchor(storage, parent, child, cap)
    }

    /// Makes `parent` the anchor of `child` if `parent` has fewer than `cap`
    /// anchored entries. If its list lacks `child`, `child` is added, in
    /// place of the farthest entry not anchored there when the list is full.
    /// `child` has no anchor yet, or is the root (see
    /// [`Index::take_root`]): an anchor is never moved, which is what keeps
    /// anchor chains free of cycles.
    fn put_anchor(&self, storage: &Storage, parent: u32, child: u32, cap: usize) -> bool {
        debug_assert!(matches!(storage.anchor(child), UNANCHORED | ROOT));
        let _parent = self.lock_node(parent);
        let list = storage.neighbors(parent, 0);
        let mut held = 0;
        let mut present = false;
        for n in list.iter() {
            present |= n == child;
            held += usize::from(storage.anchor(n) == parent);
        }
        if held >= cap {
            return false;
        }
        if !present && !storage.try_push_neighbor(parent, 0, child) {
            let base = storage.vector(parent);
            let mut entries = list.to_vec();
            let farthest = entries
                .iter()
                .enumerate()
                .filter(|&(_, &n)| storage.anchor(n) != parent)
                .map(|(i, &n)| (self.distance.distance(base, storage.vector(n)), i))
                .max_by(|a, b| a.0.total_cmp(&b.0));
            let Some((_, i)) = farthest else {
                return false;
            };
            entries[i] = child;
            storage.set_neighbors(parent, 0, &entries);
        }
        storage.set_anchor(child, parent);
        true
    }

    /// Keeps in `slots`, the new level-0 list of `node` (closest first, at
    /// most `max`), every entry of its current list anchored to `node`,
    /// each in place of the farthest entry that is not. The caller holds the
    /// node's link lock.
    pub(super) fn keep_anchored(
        &self,
        storage: &Storage,
        node: u32,
        max: usize,
        slots: &mut Vec<u32>,
    ) {
        for n in storage.neighbors(node, 0).iter() {
            if slots.contains(&n) || storage.anchor(n) != node {
                continue;
            }
            if slots.len() < max {
                slots.push(n);
            } else if let Some(i) = slots.iter().rposition(|&s| storage.anchor(s) != node) {
                slots[i] = n;
            }
        }
    }

    /// Makes `new_root`, about to become the entry point, the anchor of the
    /// current root. `new_root` is anchored itself (into the old root's
    /// tree), so until it is published both are reachable from either; the
    /// caller then publishes it and marks it [`ROOT`].
    pub(super) fn take_root(&self, storage: &Storage, new_root: u32, old_root: u32) {
        // No cap: a list all of whose entries are anchored to its owner still
        // keeps them all (see `keep_anchored`).
        let anchored = self.put_anchor(storage, new_root, old_root, usize::MAX);
        debug_assert!(anchored);
    }

    /// Anchors `slot` to the first anchored node with room on a
    /// breadth-first walk of level 0 from its `candidates` and the entry
    /// point: nodes near it come first, and every anchored node is reachable
    /// from the entry point, so the walk always finds one. Only reached when
    /// no candidate qualifies (e.g. a tiny `ef_construction` whose few
    /// candidates are full or still being linked).
    fn anchor_anywhere(
        &self,
        storage: &Storage,
        slot: u32,
        candidates: &[Candidate],
        scratch: &mut SearchScratch,
    ) {
        let Some((entry, _)) = self.entry_point() else {
            return;
        };
        let cap = Index::anchor_cap(storage);
        scratch.reset(storage.len());
        let SearchScratch { visited, batch, .. } = scratch;
        let queue = batch;
        for node in candidates.iter().map(|c| c.slot).chain([entry]) {
            if visited.insert(node) {
                queue.push(node);
            }
        }
        let mut next = 0;
        while let Some(&node) = queue.get(next) {
            next += 1;
            if self.try_anchor(storage, node, slot, cap) {
                return;
            }
            for n in storage.neighbors(node, 0).iter() {
                if visited.insert(n) {
                    queue.push(n);
                }
            }
        }
    }

    /// Rebuilds the anchors of an index loaded from a file, once, before
    /// anything writes to its lists. Every list writer calls this first.
    pub(super) fn ensure_anchors(&self, storage: &Storage) {
        storage
            .anchors_ready()
            .get_or_init(|| self.rebuild_anchors(storage));
    }

    /// A breadth-first walk of level 0 from the entry point anchors each
    /// node to the first node it is reached from that still has room; then
    /// each live loaded node left over (cut off in the saved graph, or
    /// reached only through full nodes), in slot order, is anchored near
    /// itself. Slots appended since the load are not linked yet; linking
    /// anchors them.
    fn rebuild_anchors(&self, storage: &Storage) {
        let Some((entry, _)) = self.entry_point() else {
            return;
        };
        let cap = Index::anchor_cap(storage);
        storage.set_anchor(entry, ROOT);
        let mut queue = vec![entry];
        let mut next = 0;
        while let Some(&node) = queue.get(next) {
            next += 1;
            let mut held = 0;
            for n in storage.neighbors(node, 0).iter() {
                if held < cap && storage.anchor(n) == UNANCHORED {
                    storage.set_anchor(n, node);
                    held += 1;
                    queue.push(n);
                }
            }
        }
        let mut scratch = self.scratch_pool.take(storage.len());
        for slot in 0..storage.loaded_slots() as u32 {
            if storage.is_anchored(slot) || storage.is_deleted(slot) {
                continue;
            }
            let candidates = self.anchor_candidates(storage, slot, &mut scratch);
            self.anchor_new(storage, slot, &candidates, &mut scratch);
        }
    }

    /// Nodes near `slot` other than itself, closest first: the search an
    /// insert of its vector would do at level 0.
    fn anchor_candidates(
        &self,
        storage: &Storage,
        slot: u32,
        scratch: &mut SearchScratch,
    ) -> Vec<Candidate> {
        let Some((entry, top_level)) = self.entry_point() else {
            return Vec::new();
        };
        let query = storage.vector(slot);
        let mut best = Candidate {
            distance: self.distance.distance(query, storage.vector(entry)),
            slot: entry,
        };
        for level in (1..=top_level).rev() {
            best = self.greedy_closest(storage, query, best, level);
        }
        scratch.reset(storage.len());
        let admit = |n: u32| n != slot && !storage.is_deleted(n);
        let beam = Beam {
            ef: self.params.ef_construction,
            level: 0,
            admit: &admit,
        };
        self.search_layer(storage, query, &[best], beam, scratch)
    }
}
