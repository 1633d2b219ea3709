//! Storage of the graph: vectors, node levels, adjacency lists, tombstones.
//!
//! Rows are appended only under the index's write lock; everything else
//! (linking, repair, tombstoning, search) works through `&Storage` under the
//! read lock. Adjacency lists are arrays of `AtomicU32` — `[len, n0, n1, ...]`
//! — so a reader never blocks on a writer: a writer stores the entries first
//! and the length last (release), a reader loads the length (acquire) then the
//! entries. A reader racing a rewrite may see a mix of old and new entries;
//! every one of them is a node whose vector is already stored, which is all a
//! beam search needs.
//!
//! Each node also has an *anchor* (see `repair.rs`): the node whose level-0
//! list must keep it, so that every node stays reachable from the entry
//! point. Anchors live in memory only; after a load they are rebuilt before
//! the first write (`anchors_ready`).

use crate::file::MappedF32;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::OnceLock;

/// Anchor of a node that has none yet (being linked, or loaded from a file
/// and not reached by the rebuild yet).
pub(crate) const UNANCHORED: u32 = u32::MAX;
/// Anchor of the entry point: the root every anchor chain ends at. Slots
/// stop below `u32::MAX - 1`, so this is never a slot.
pub(crate) const ROOT: u32 = u32::MAX - 1;

pub(crate) struct Storage {
    dimensions: usize,
    /// Max neighbours per node above level 0 (`m`) and at level 0 (`2m`).
    max_links: usize,
    max_links0: usize,
    /// Rows `0..mapped.len() / dimensions` live in a mapped database file;
    /// the rest, appended since, in `owned`.
    mapped: MappedF32,
    owned: Vec<f32>,
    levels: Vec<u8>,
    deleted: Vec<AtomicBool>,
    /// Level 0 lists, one row of `1 + max_links0` per node.
    links0: Vec<AtomicU32>,
    /// Levels 1..=level, `1 + max_links` each; empty for level-0-only nodes
    /// (most of them), so the upper layers cost almost nothing.
    upper_links: Vec<Box<[AtomicU32]>>,
    /// Per node: the node whose level-0 list must keep it, [`ROOT`] or
    /// [`UNANCHORED`]. Set under the anchor's link lock.
    anchors: Vec<AtomicU32>,
    /// Set once the anchors describe the graph: at once for a new index,
    /// after the rebuild for one loaded from a file.
    anchors_ready: OnceLock<()>,
    /// Slots `0..loaded` came from a file (so were linked when it was saved).
    loaded: usize,
}

impl Storage {
    pub fn new(dimensions: usize, max_links: usize) -> Storage {
        Storage {
            dimensions,
            max_links,
            max_links0: 2 * max_links,
            mapped: MappedF32::empty(),
            owned: Vec::new(),
            levels: Vec::new(),
            deleted: Vec::new(),
            links0: Vec::new(),
            upper_links: Vec::new(),
            anchors: Vec::new(),
            anchors_ready: OnceLock::from(()),
            loaded: 0,
        }
    }

    /// Nodes with the given levels and deletion marks, vectors from a mapped
    /// file, and empty adjacency (filled with [`Storage::set_neighbors`]).
    /// The anchors are left to be rebuilt from the graph.
    pub fn from_parts(
        dimensions: usize,
        max_links: usize,
        mapped: MappedF32,
        levels: Vec<u8>,
        deleted: Vec<bool>,
    ) -> Storage {
        debug_assert_eq!(mapped.as_slice().len(), levels.len() * dimensions);
        let max_links0 = 2 * max_links;
        let upper_links = levels
            .iter()
            .map(|&level| {
                (0..level as usize * (1 + max_links))
                    .map(|_| AtomicU32::new(0))
                    .collect()
            })
            .collect();
        Storage {
            dimensions,
            max_links,
            max_links0,
            mapped,
            owned: Vec::new(),
            links0: (0..levels.len() * (1 + max_links0))
                .map(|_| AtomicU32::new(0))
                .collect(),
            anchors: (0..levels.len())
                .map(|_| AtomicU32::new(UNANCHORED))
                .collect(),
            anchors_ready: OnceLock::new(),
            loaded: levels.len(),
            levels,
            deleted: deleted.into_iter().map(AtomicBool::new).collect(),
            upper_links,
        }
    }

    /// Heap bytes the adjacency of `levels` will take: what
    /// [`Storage::from_parts`] allocates besides the levels themselves
    /// (lists and anchors).
    pub fn link_bytes(max_links: usize, levels: &[u8]) -> u128 {
        let upper: u128 = levels.iter().map(|&l| l as u128).sum();
        (levels.len() as u128 * (2 + 2 * max_links as u128) + upper * (1 + max_links as u128)) * 4
    }

    /// All vectors in slot order, as the mapped rows then the owned ones.
    pub fn vector_blocks(&self) -> [&[f32]; 2] {
        [self.mapped.as_slice(), &self.owned]
    }

    /// Swaps the vectors for `mapped`, which must hold the same rows (a file
    /// just saved from this storage), freeing the owned copies.
    pub fn adopt_mapping(&mut self, mapped: MappedF32) {
        assert_eq!(mapped.as_slice().len(), self.len() * self.dimensions);
        self.mapped = mapped;
        self.owned = Vec::new();
    }

    pub fn mapped_bytes(&self) -> usize {
        self.mapped.mapped_bytes()
    }

    /// Number of stored nodes, deleted ones included.
    #[inline]
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    /// Treats every node as loaded from a file: linked, anchors to be
    /// rebuilt before the first write (see `Index::ensure_anchors`).
    pub fn mark_loaded(&mut self) {
        self.loaded = self.len();
        self.anchors_ready = OnceLock::new();
    }

    pub fn reserve(&mut self, additional: usize) {
        self.levels.reserve(additional);
        self.deleted.reserve(additional);
        self.links0.reserve(additional * (1 + self.max_links0));
        self.upper_links.reserve(additional);
        self.anchors.reserve(additional);
    }

    /// Appends nodes with empty adjacency, one per level in `levels`, whose
    /// vectors `rows` holds end to end; the caller links them afterwards.
    /// With no owned rows yet (a new index, or one just saved to a mapping)
    /// `rows` itself becomes the owned block: a bulk load is not copied
    /// again, so its peak memory is the vectors once, not twice.
    pub fn push_rows(&mut self, rows: Vec<f32>, levels: &[u8]) {
        debug_assert_eq!(rows.len(), levels.len() * self.dimensions);
        if self.owned.is_empty() {
            self.owned = rows;
        } else {
            self.owned.extend_from_slice(&rows);
        }
        for &level in levels {
            self.levels.push(level);
            self.deleted.push(AtomicBool::new(false));
            self.links0
                .extend((0..=self.max_links0).map(|_| AtomicU32::new(0)));
            let upper = (0..level as usize * (1 + self.max_links))
                .map(|_| AtomicU32::new(0))
                .collect();
            self.upper_links.push(upper);
            self.anchors.push(AtomicU32::new(UNANCHORED));
        }
    }

    #[inline(always)]
    pub fn vector(&self, slot: u32) -> &[f32] {
        let start = slot as usize * self.dimensions;
        let mapped = self.mapped.as_slice();
        if start < mapped.len() {
            &mapped[start..start + self.dimensions]
        } else {
            let start = start - mapped.len();
            &self.owned[start..start + self.dimensions]
        }
    }

    #[inline]
    pub fn level(&self, slot: u32) -> usize {
        self.levels[slot as usize] as usize
    }

    #[inline(always)]
    pub fn is_deleted(&self, slot: u32) -> bool {
        self.deleted[slot as usize].load(Ordering::Relaxed)
    }

    /// Marks `slot` deleted; returns false if it already was.
    pub fn mark_deleted(&self, slot: u32) -> bool {
        !self.deleted[slot as usize].swap(true, Ordering::AcqRel)
    }

    /// The node whose level-0 list keeps `slot`, or [`ROOT`] / [`UNANCHORED`].
    #[inline(always)]
    pub fn anchor(&self, slot: u32) -> u32 {
        self.anchors[slot as usize].load(Ordering::Acquire)
    }

    /// Callers hold the link lock of `anchor` (when it is a slot), and its
    /// level-0 list already holds `slot`.
    pub fn set_anchor(&self, slot: u32, anchor: u32) {
        self.anchors[slot as usize].store(anchor, Ordering::Release);
    }

    /// Whether `slot` has a way in that no prune removes: an anchor, or it is
    /// the root.
    #[inline]
    pub fn is_anchored(&self, slot: u32) -> bool {
        self.anchor(slot) != UNANCHORED
    }

    pub fn anchors_ready(&self) -> &OnceLock<()> {
        &self.anchors_ready
    }

    /// Slots loaded from a file: `0..loaded_slots()`. Later ones were
    /// appended since.
    pub fn loaded_slots(&self) -> usize {
        self.loaded
    }

    pub fn max_links(&self, level: usize) -> usize {
        if level == 0 {
            self.max_links0
        } else {
            self.max_links
        }
    }

    /// The raw `[len, entries...]` row of `slot` at `level`.
    #[inline(always)]
    fn row(&self, slot: u32, level: usize) -> &[AtomicU32] {
        if level == 0 {
            let stride = 1 + self.max_links0;
            let start = slot as usize * stride;
            &self.links0[start..start + stride]
        } else {
            let stride = 1 + self.max_links;
            let start = (level - 1) * stride;
            &self.upper_links[slot as usize][start..start + stride]
        }
    }

    /// The neighbours of `slot` at `level` as seen right now.
    #[inline(always)]
    pub fn neighbors(&self, slot: u32, level: usize) -> Neighbors<'_> {
        let row = self.row(slot, level);
        let len = (row[0].load(Ordering::Acquire) as usize).min(row.len() - 1);
        Neighbors {
            entries: &row[1..1 + len],
        }
    }

    /// Replaces the list of `slot` at `level`. Callers hold the node's link
    /// lock so two writers never interleave on one row.
    pub fn set_neighbors(&self, slot: u32, level: usize, neighbors: &[u32]) {
        let row = self.row(slot, level);
        let len = neighbors.len().min(row.len() - 1);
        for (cell, &n) in row[1..].iter().zip(&neighbors[..len]) {
            cell.store(n, Ordering::Relaxed);
        }
        row[0].store(len as u32, Ordering::Release);
    }

    /// Appends one neighbour if there is room; returns false when full.
    pub fn try_push_neighbor(&self, slot: u32, level: usize, neighbor: u32) -> bool {
        let row = self.row(slot, level);
        let len = row[0].load(Ordering::Relaxed) as usize;
        if len + 1 >= row.len() {
            return false;
        }
        row[1 + len].store(neighbor, Ordering::Relaxed);
        row[0].store(len as u32 + 1, Ordering::Release);
        true
    }

    pub fn memory_bytes(&self) -> usize {
        let upper: usize = self.upper_links.iter().map(|r| r.len() * 4).sum();
        self.mapped.heap_bytes()
            + self.owned.capacity() * 4
            + self.levels.capacity()
            + self.deleted.capacity()
            + self.links0.capacity() * 4
            + self.upper_links.capacity() * std::mem::size_of::<Box<[AtomicU32]>>()
            + upper
            + self.anchors.capacity() * 4
    }
}

/// A snapshot view of one adjacency list.
#[derive(Clone, Copy)]
pub(crate) struct Neighbors<'a> {
    entries: &'a [AtomicU32],
}

impl<'a> Neighbors<'a> {
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[inline(always)]
    pub fn get(&self, i: usize) -> u32 {
        self.entries[i].load(Ordering::Relaxed)
    }

    pub fn iter(self) -> impl Iterator<Item = u32> + 'a {
        self.entries.iter().map(|e| e.load(Ordering::Relaxed))
    }

    pub fn to_vec(self) -> Vec<u32> {
        self.iter().collect()
    }
}
