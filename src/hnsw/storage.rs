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
//! A graph opened from a file uses its level-0 lists in place from the
//! mapping (the file's CSR section, see `persist.rs`) rather than copying a
//! million of them at open: a node's heap row starts zeroed (pages the OS
//! has not even handed out yet), and a zero header means "the mapped list".
//! Every write stores the length with [`WRITTEN`] set, so a written empty
//! list is not mistaken for the mapped one; a writer that extends a mapped
//! list copies it into the heap row first. Readers see the mapped list
//! until the header is published, then the new one.
//!
//! Each node also has an *anchor* (see `repair.rs`): the node whose level-0
//! list must keep it, so that every node stays reachable from the entry
//! point. Anchors live in memory only; after a load they are rebuilt before
//! the first write (`anchors_ready`).

use crate::distance::prefetch_bytes;
use crate::file::{Mapped, MappedF32};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::OnceLock;

/// Anchor of a node that has none yet (being linked, or loaded from a file
/// and not reached by the rebuild yet).
pub(crate) const UNANCHORED: u32 = u32::MAX;
/// Anchor of the entry point: the root every anchor chain ends at. Slots
/// stop below `u32::MAX - 1`, so this is never a slot.
pub(crate) const ROOT: u32 = u32::MAX - 1;
/// Set in every header a write stores (see the module doc); lists are far
/// shorter than 2^31.
const WRITTEN: u32 = 1 << 31;

/// Level-0 lists in compressed sparse row form, used in place from a mapped
/// file: the list of slot `i` is `targets[offsets[i]..offsets[i + 1]]`.
/// Checked before use (see `persist.rs`): offsets ascend from 0 to the
/// target count, every list fits a row, every target is a slot.
pub(crate) struct MappedLinks {
    offsets: Mapped<u64>,
    targets: Mapped<u32>,
}

impl MappedLinks {
    pub fn new(offsets: Mapped<u64>, targets: Mapped<u32>) -> MappedLinks {
        MappedLinks { offsets, targets }
    }

    /// Slots with a mapped list.
    fn nodes(&self) -> usize {
        self.offsets.as_slice().len().saturating_sub(1)
    }

    pub fn offsets(&self) -> &[u64] {
        self.offsets.as_slice()
    }

    pub fn targets(&self) -> &[u32] {
        self.targets.as_slice()
    }

    /// The mapped list of `slot`: plain `u32`s, read in place. Never
    /// written (a write gives the slot a heap row), so no atomics are
    /// needed, and none are made: an `&[AtomicU32]` over the mapping would
    /// claim a write permission that read-only memory lacks (Miri's Stacked
    /// Borrows reported exactly that).
    #[inline(always)]
    fn list(&self, slot: u32) -> &[u32] {
        let offsets = self.offsets.as_slice();
        let range = offsets[slot as usize] as usize..offsets[slot as usize + 1] as usize;
        &self.targets.as_slice()[range]
    }
}

/// `len` zeroed atomics, allocated zeroed: a large allocation comes
/// straight from the OS, whose pages cost nothing until written.
fn zeroed_atomics(len: usize) -> Vec<AtomicU32> {
    let mut zeros = std::mem::ManuallyDrop::new(vec![0u32; len]);
    // SAFETY: `AtomicU32` has the size, alignment and bit validity of
    // `u32`, so the allocation is a valid `Vec<AtomicU32>` of the same
    // length and capacity; `ManuallyDrop` keeps the `Vec<u32>` from
    // freeing it.
    unsafe { Vec::from_raw_parts(zeros.as_mut_ptr().cast(), zeros.len(), zeros.capacity()) }
}

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
    /// The level-0 lists of a file's slots, used until a write replaces
    /// them (see the module doc).
    mapped_links0: Option<MappedLinks>,
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
            mapped_links0: None,
            upper_links: Vec::new(),
            anchors: Vec::new(),
            anchors_ready: OnceLock::from(()),
            loaded: 0,
        }
    }

    /// Nodes with the given levels and deletion marks, vectors from a mapped
    /// file, level-0 lists from `mapped_links0` (checked by the caller) or
    /// empty, and empty upper levels (filled with
    /// [`Storage::set_neighbors`]). The anchors are left to be rebuilt from
    /// the graph.
    pub fn from_parts(
        dimensions: usize,
        max_links: usize,
        mapped: MappedF32,
        levels: Vec<u8>,
        deleted: Vec<bool>,
        mapped_links0: Option<MappedLinks>,
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
            links0: zeroed_atomics(levels.len() * (1 + max_links0)),
            mapped_links0,
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

    /// Serves the first rows from `mapped` (a file a checkpoint just wrote
    /// from this storage) and keeps only the rows after them owned. Returns
    /// false, changing nothing, unless `mapped` holds whole rows, at least
    /// as many as are mapped now and no more than there are.
    pub fn adopt_mapped_prefix(&mut self, mapped: MappedF32) -> bool {
        let values = mapped.as_slice().len();
        let now = self.mapped.as_slice().len();
        if !values.is_multiple_of(self.dimensions)
            || values < now
            || values > self.len() * self.dimensions
        {
            return false;
        }
        self.owned = self.owned[values - now..].to_vec();
        self.mapped = mapped;
        true
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

    /// The mapped list of `slot` at `level`, if it has one and no write
    /// has replaced it (`header` is its row's header).
    #[inline(always)]
    fn mapped_list(&self, slot: u32, level: usize, header: u32) -> Option<&[u32]> {
        if header != 0 || level != 0 {
            return None;
        }
        let mapped = self.mapped_links0.as_ref()?;
        ((slot as usize) < mapped.nodes()).then(|| mapped.list(slot))
    }

    /// The neighbours of `slot` at `level` as seen right now.
    #[inline(always)]
    pub fn neighbors(&self, slot: u32, level: usize) -> Neighbors<'_> {
        let row = self.row(slot, level);
        let header = row[0].load(Ordering::Acquire);
        if let Some(targets) = self.mapped_list(slot, level, header) {
            return Neighbors::Mapped(targets);
        }
        let len = ((header & !WRITTEN) as usize).min(row.len() - 1);
        Neighbors::Live(&row[1..1 + len])
    }

    /// Asks for the cache lines `neighbors(slot, level)` reads first: the
    /// row header and, for a file's slot, its mapped offsets. A beam search
    /// calls it for the next candidate while it scores the current one, so
    /// the list's latency hides behind distance work.
    #[inline(always)]
    pub fn prefetch_neighbors(&self, slot: u32, level: usize) {
        prefetch_bytes(self.row(slot, level).as_ptr().cast());
        if level == 0 {
            if let Some(offset) = self
                .mapped_links0
                .as_ref()
                .and_then(|mapped| mapped.offsets().get(slot as usize))
            {
                prefetch_bytes((offset as *const u64).cast());
            }
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
        row[0].store(len as u32 | WRITTEN, Ordering::Release);
    }

    /// Appends one neighbour if there is room; returns false when full.
    /// Callers hold the node's link lock.
    pub fn try_push_neighbor(&self, slot: u32, level: usize, neighbor: u32) -> bool {
        let row = self.row(slot, level);
        let header = row[0].load(Ordering::Relaxed);
        let len = match self.mapped_list(slot, level, header) {
            // Copied into the row; readers keep the mapped list until the
            // header below says otherwise.
            Some(mapped) => {
                for (cell, &entry) in row[1..].iter().zip(mapped) {
                    cell.store(entry, Ordering::Relaxed);
                }
                mapped.len()
            }
            None => (header & !WRITTEN) as usize,
        };
        if len + 1 >= row.len() {
            return false;
        }
        row[1 + len].store(neighbor, Ordering::Relaxed);
        row[0].store((len as u32 + 1) | WRITTEN, Ordering::Release);
        true
    }

    pub fn memory_bytes(&self) -> usize {
        let upper: usize = self.upper_links.iter().map(|r| r.len() * 4).sum();
        let mapped_links = self.mapped_links0.as_ref().map_or(0, |links| {
            links.offsets.heap_bytes() + links.targets.heap_bytes()
        });
        self.mapped.heap_bytes()
            + mapped_links
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
pub(crate) enum Neighbors<'a> {
    /// A heap row, which inserts may rewrite while it is read.
    Live(&'a [AtomicU32]),
    /// A list in the mapped file, never written.
    Mapped(&'a [u32]),
}

impl<'a> Neighbors<'a> {
    #[inline(always)]
    pub fn len(&self) -> usize {
        match self {
            Neighbors::Live(entries) => entries.len(),
            Neighbors::Mapped(targets) => targets.len(),
        }
    }

    #[inline(always)]
    pub fn get(&self, i: usize) -> u32 {
        match self {
            Neighbors::Live(entries) => entries[i].load(Ordering::Relaxed),
            Neighbors::Mapped(targets) => targets[i],
        }
    }

    /// Calls `f` with each entry in order: one loop per kind of list, so
    /// the search's inner loops do not test the kind per entry.
    #[inline(always)]
    pub fn for_each(self, mut f: impl FnMut(u32)) {
        match self {
            Neighbors::Live(entries) => entries.iter().for_each(|e| f(e.load(Ordering::Relaxed))),
            Neighbors::Mapped(targets) => targets.iter().for_each(|&n| f(n)),
        }
    }

    pub fn iter(self) -> impl Iterator<Item = u32> + 'a {
        let (live, mapped): (&[AtomicU32], &[u32]) = match self {
            Neighbors::Live(entries) => (entries, &[]),
            Neighbors::Mapped(targets) => (&[], targets),
        };
        live.iter()
            .map(|e| e.load(Ordering::Relaxed))
            .chain(mapped.iter().copied())
    }

    pub fn to_vec(self) -> Vec<u32> {
        self.iter().collect()
    }
}
