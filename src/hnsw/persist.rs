//! The index's part of the database file: vectors (used in place from the
//! mapping), a level byte per slot, and one CSR section per graph level
//! (level 0, most of the graph, also used in place: see `storage.rs`).
//!
//! Levels: bits 0–4 hold the node's top level, bit 7 marks it deleted.
//! Graph level `l` lists the slots whose level is at least `l`, in slot
//! order: `node count u64 · edge count u64 · offsets u64 × (nodes + 1) ·
//! targets u32 × edges`.

use super::index::Index;
use super::params::{HnswParams, MAX_LEVEL};
use super::storage::{MappedLinks, Storage};
use crate::error::{Error, Result};
use crate::file::{ByteReader, MappedF32, SectionSource};
use crate::rng::SplitMix64;
use crate::store::{section, DbFile, FileHeader, SectionKind};
use rayon::prelude::*;
use std::io::{self, Write};
use std::sync::atomic::Ordering;
use std::sync::{Mutex, RwLock, RwLockReadGuard};

const DELETED_BIT: u8 = 0x80;
const LEVEL_MASK: u8 = 0x1F;
/// Adjacency is allocated at full width per node, so a file may ask for
/// more memory than its own size; beyond this multiple (and 64 MiB) the
/// file is refused as corrupt rather than trusted with a huge allocation.
const MAX_LINK_BYTES_PER_FILE_BYTE: u128 = 16;
const LINK_BYTES_ALWAYS_ALLOWED: u128 = 64 << 20;

/// A consistent view of the index for saving: holds the storage read lock,
/// so nothing is appended while it lives. (Callers also keep linkers and
/// repairs out, see `VectorDb::save`.)
pub struct IndexSnapshot<'a> {
    storage: RwLockReadGuard<'a, Storage>,
    dimensions: usize,
    metric: crate::distance::Metric,
    pub entry: Option<(u32, u32)>,
    pub level_rng_state: u64,
    pub live_count: u64,
}

impl Index {
    pub fn snapshot(&self) -> IndexSnapshot<'_> {
        let storage = self.read();
        IndexSnapshot {
            dimensions: self.dimensions,
            metric: self.metric,
            entry: self.entry_point().map(|(slot, level)| (slot, level as u32)),
            level_rng_state: self
                .level_rng
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .state(),
            live_count: self.len() as u64,
            storage,
        }
    }

    /// The graph parameters a file's header stores, validated.
    pub fn params_of(header: &FileHeader) -> Result<HnswParams> {
        let params = HnswParams {
            m: header.m as usize,
            ef_construction: header.ef_construction as usize,
            ef_search: header.ef_search as usize,
            seed: header.level_seed,
        };
        params
            .validate()
            .map_err(|e| Error::corrupt("header", e.to_string()))?;
        Ok(params)
    }

    /// Rebuilds an index from a validated, mapped file; vectors stay in the
    /// mapping.
    pub fn from_file(file: &DbFile) -> Result<Index> {
        let header = &file.header;
        let params = Index::params_of(header)?;
        let mut index = Index::new(header.dimensions, header.metric, params)
            .map_err(|e| Error::corrupt("header", e.to_string()))?;
        let slot_count = header.slot_count as usize;
        let (mut levels, deleted) =
            decode_levels(file.section(SectionKind::Levels, 0)?, slot_count)?;
        let top = check_entry(header, &mut levels, &deleted)?;
        let link_bytes = Storage::link_bytes(params.m, &levels);
        let budget =
            LINK_BYTES_ALWAYS_ALLOWED.max(file.len() as u128 * MAX_LINK_BYTES_PER_FILE_BYTE);
        if link_bytes > budget {
            return Err(Error::corrupt(
                "levels section",
                format!("the graph would need {link_bytes} bytes of memory, far more than a {}-byte file holds", file.len()),
            ));
        }
        let live = deleted.iter().filter(|&&d| !d).count();
        if live as u64 != header.live_count {
            return Err(Error::corrupt(
                "levels section",
                format!("{live} live slots, the header says {}", header.live_count),
            ));
        }
        let vectors = file.vectors()?;
        let links0 = map_level0(file, levels.len(), 2 * params.m)?;
        let storage = Storage::from_parts(
            header.dimensions,
            params.m,
            vectors,
            levels,
            deleted,
            Some(links0),
        );
        for level in 1..=top {
            let bytes = file.section(SectionKind::Graph, level as u32)?;
            decode_level(&storage, level, bytes)?;
        }
        if let Some((slot, level)) = header.entry {
            index.set_entry_point(slot, level as usize);
        }
        index.storage = RwLock::new(storage);
        index.live.store(live, Ordering::Release);
        index.level_rng = Mutex::new(SplitMix64::new(header.level_rng_state));
        Ok(index)
    }

    /// Bytes of vectors served from a mapped file.
    pub fn mapped_bytes(&self) -> usize {
        self.read().mapped_bytes()
    }
}

/// Checks the entry point against the levels and returns the top level.
///
/// Every live slot is at or below the entry point's level. A deleted slot
/// may be above it: a batch aborted while linking leaves slots that were
/// appended (with their drawn levels) and tombstoned but never linked, so
/// they never became the entry point and hold no lists; a checkpoint keeps
/// them. Their levels are lowered to the top here, which the graph
/// sections (written for levels up to the entry point's) agree with.
fn check_entry(header: &FileHeader, levels: &mut [u8], deleted: &[bool]) -> Result<usize> {
    let entry_level = match header.entry {
        None => None,
        Some((slot, level)) => match levels.get(slot as usize) {
            Some(&at) if u32::from(at) == level => Some(at),
            _ => {
                return Err(Error::corrupt(
                    "header",
                    format!(
                        "entry point {:?} does not match the levels section",
                        header.entry
                    ),
                ))
            }
        },
    };
    let live_top = levels
        .iter()
        .zip(deleted)
        .filter(|(_, &deleted)| !deleted)
        .map(|(&level, _)| level)
        .max();
    let consistent = match (entry_level, live_top) {
        (None, live_top) => live_top.is_none(),
        (Some(entry), live_top) => live_top.is_none_or(|top| top <= entry),
    };
    if !consistent {
        return Err(Error::corrupt(
            "header",
            format!(
                "entry point {:?} is below a live slot's level {}",
                header.entry,
                live_top.unwrap_or(0)
            ),
        ));
    }
    let top = entry_level.unwrap_or(0);
    for level in levels.iter_mut().filter(|level| **level > top) {
        *level = top;
    }
    Ok(top as usize)
}

fn decode_levels(bytes: &[u8], slot_count: usize) -> Result<(Vec<u8>, Vec<bool>)> {
    if bytes.len() != slot_count {
        return Err(Error::corrupt(
            "levels section",
            format!("{} bytes for {slot_count} slots", bytes.len()),
        ));
    }
    let mut levels = Vec::with_capacity(slot_count);
    let mut deleted = Vec::with_capacity(slot_count);
    for (slot, &byte) in bytes.iter().enumerate() {
        let level = byte & LEVEL_MASK;
        if byte & !(LEVEL_MASK | DELETED_BIT) != 0 || level as usize > MAX_LEVEL {
            return Err(Error::corrupt(
                "levels section",
                format!("slot {slot} has level byte {byte:#x}"),
            ));
        }
        levels.push(level);
        deleted.push(byte & DELETED_BIT != 0);
    }
    Ok((levels, deleted))
}

/// Nodes per task when [`map_level0`] checks the mapped lists.
const NODES_PER_CHECK: usize = 1 << 16;

/// The level-0 section as lists used in place (every slot reaches level
/// 0), checked in parallel so that no later read can go out of bounds:
/// offsets ascend from 0 to the edge count, no list is longer than a row
/// holds, every target is a slot.
fn map_level0(file: &DbFile, slots: usize, max_links: usize) -> Result<MappedLinks> {
    let section = SectionKind::Graph.describe(0);
    let bytes = file.section(SectionKind::Graph, 0)?;
    let mut reader = ByteReader::new(bytes, &section);
    let node_count = reader.u64("node count")?;
    if node_count != slots as u64 {
        return Err(reader.corrupt(format!(
            "{node_count} nodes, but {slots} slots reach this level"
        )));
    }
    let edge_count = reader.u64("edge count")?;
    reader.check_fits(slots as u64 + 1, 8, "offsets")?;
    let targets_at = 16 + 8 * (slots + 1);
    let edges_fit = edge_count
        .checked_mul(4)
        .is_some_and(|b| b == (bytes.len() - targets_at) as u64);
    if !edges_fit {
        return Err(reader.corrupt(format!(
            "{edge_count} edges in {} bytes",
            bytes.len() - targets_at
        )));
    }
    let offsets = file.section_values::<u64>(SectionKind::Graph, 0, 16, slots + 1)?;
    let targets =
        file.section_values::<u32>(SectionKind::Graph, 0, targets_at, edge_count as usize)?;
    let links = MappedLinks::new(offsets, targets);
    let offsets = links.offsets();
    if offsets[0] != 0 || offsets[slots] != edge_count {
        return Err(reader.corrupt("the offsets do not run from 0 to the edge count"));
    }
    let bad_list = offsets
        .par_windows(2)
        .with_min_len(NODES_PER_CHECK)
        .position_any(|pair| pair[1] < pair[0] || pair[1] - pair[0] > max_links as u64);
    if let Some(node) = bad_list {
        return Err(reader.corrupt(format!(
            "node {node} has offsets {}..{}",
            offsets[node],
            offsets[node + 1]
        )));
    }
    let stray = links
        .targets()
        .par_iter()
        .with_min_len(NODES_PER_CHECK * max_links)
        .find_any(|&&target| target as usize >= slots);
    if let Some(target) = stray {
        return Err(reader.corrupt(format!("a node links to {target}, which is not a slot")));
    }
    Ok(links)
}

fn decode_level(storage: &Storage, level: usize, bytes: &[u8]) -> Result<()> {
    let section = SectionKind::Graph.describe(level as u32);
    let mut reader = ByteReader::new(bytes, &section);
    let nodes: Vec<u32> = (0..storage.len() as u32)
        .filter(|&s| storage.level(s) >= level)
        .collect();
    let node_count = reader.u64("node count")?;
    if node_count != nodes.len() as u64 {
        return Err(reader.corrupt(format!(
            "{node_count} nodes, but {} slots reach this level",
            nodes.len()
        )));
    }
    let edge_count = reader.u64("edge count")?;
    let offsets = reader.take(8 * (nodes.len() + 1), "offsets")?;
    let edge_bytes = edge_count
        .checked_mul(4)
        .filter(|&b| b == reader.remaining() as u64)
        .ok_or_else(|| {
            reader.corrupt(format!(
                "{edge_count} edges in {} bytes",
                reader.remaining()
            ))
        })?;
    let targets = reader.take(edge_bytes as usize, "targets")?;
    let offset_at = |i: usize| u64::from_le_bytes(offsets[8 * i..8 * i + 8].try_into().expect("8"));
    let max_links = storage.max_links(level) as u64;
    let mut neighbors = Vec::with_capacity(max_links as usize);
    for (i, &slot) in nodes.iter().enumerate() {
        let (start, end) = (offset_at(i), offset_at(i + 1));
        if (i == 0 && start != 0) || end < start || end - start > max_links || end > edge_count {
            return Err(reader.corrupt(format!("node {slot} has offsets {start}..{end}")));
        }
        neighbors.clear();
        for j in start..end {
            let j = j as usize * 4;
            let target = u32::from_le_bytes(targets[j..j + 4].try_into().expect("4"));
            if target as usize >= storage.len() || storage.level(target) < level {
                return Err(reader.corrupt(format!(
                    "node {slot} links to {target}, which is not on this level"
                )));
            }
            neighbors.push(target);
        }
        storage.set_neighbors(slot, level, &neighbors);
    }
    if offset_at(nodes.len()) != edge_count {
        return Err(reader.corrupt("the last offset is not the edge count"));
    }
    Ok(())
}

impl IndexSnapshot<'_> {
    pub fn slot_count(&self) -> u64 {
        self.storage.len() as u64
    }

    /// The header fields that describe the graph; the caller fills in the
    /// file's own (id, generation).
    pub fn header(&self, params: HnswParams, file_id: u64, generation: u64) -> FileHeader {
        FileHeader {
            dimensions: self.dimensions,
            metric: self.metric,
            m: params.m as u32,
            ef_construction: params.ef_construction as u32,
            ef_search: params.ef_search as u32,
            level_seed: params.seed,
            slot_count: self.slot_count(),
            live_count: self.live_count,
            entry: self.entry,
            file_id,
            generation,
            level_rng_state: self.level_rng_state,
        }
    }

    /// Streams the vectors, levels and graph sections.
    pub fn sections(&self) -> Vec<SectionSource<'_>> {
        let access = StorageAccess::Held(&self.storage);
        let slots = self.storage.len() as u32;
        let mut sections = vec![
            section(SectionKind::Vectors, 0, move |out: &mut dyn Write| {
                write_vectors(out, access, slots)
            }),
            section(SectionKind::Levels, 0, move |out: &mut dyn Write| {
                write_levels(out, access, slots, None)
            }),
        ];
        let top = (0..slots).map(|s| self.storage.level(s)).max().unwrap_or(0);
        for level in 0..=top {
            sections.push(section(
                SectionKind::Graph,
                level as u32,
                move |out: &mut dyn Write| write_level(out, access, level, slots),
            ));
        }
        sections
    }
}

/// What a checkpoint needs of the index, read under the write gate: the
/// slots the file will hold (the rest are replayed from the log tail), the
/// entry point and the level generator, as of that moment.
pub struct IndexMark {
    pub slots: u32,
    pub top_level: usize,
    pub entry: Option<(u32, u32)>,
    pub level_rng_state: u64,
}

impl Index {
    /// The index as of now, for a checkpoint (see [`IndexMark`]).
    pub fn mark(&self) -> IndexMark {
        let storage = self.read();
        let entry = self.entry_point();
        IndexMark {
            slots: storage.len() as u32,
            top_level: entry.map_or(0, |(_, level)| level),
            entry: entry.map(|(slot, level)| (slot, level as u32)),
            level_rng_state: self
                .level_rng
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .state(),
        }
    }

    /// The vectors section, then the levels and graph sections, of slots
    /// `0..mark.slots`, read while writers go on: the storage lock is taken
    /// per block (an append waits at most one block), lists are read as
    /// they are at that moment (see [`write_level`]), and `live` decides the
    /// deletion marks — the caller writes the items section between the two
    /// and fills it in, so that marks and ids agree.
    pub fn sections_at<'a>(
        &'a self,
        mark: &IndexMark,
        live: &'a std::cell::RefCell<Vec<bool>>,
    ) -> (SectionSource<'a>, Vec<SectionSource<'a>>) {
        let access = StorageAccess::PerBlock(self);
        let slots = mark.slots;
        let vectors = section(SectionKind::Vectors, 0, move |out: &mut dyn Write| {
            write_vectors(out, access, slots)
        });
        let mut after_items = vec![section(
            SectionKind::Levels,
            0,
            move |out: &mut dyn Write| write_levels(out, access, slots, Some(&live.borrow())),
        )];
        for level in 0..=mark.top_level {
            after_items.push(section(
                SectionKind::Graph,
                level as u32,
                move |out: &mut dyn Write| write_level(out, access, level, slots),
            ));
        }
        (vectors, after_items)
    }

    /// Serves rows `0..n` from `mapped` (the rows of a file just saved or
    /// checkpointed: the same values, as vectors never change) and keeps
    /// only the later ones in memory. Returns false, changing nothing, if
    /// the mapping holds more rows than the index or fewer than it maps
    /// now.
    pub fn adopt_mapped_prefix(&self, mapped: MappedF32) -> bool {
        let mut storage = self.write();
        storage.adopt_mapped_prefix(mapped)
    }
}

/// How a section writer reaches the storage.
#[derive(Clone, Copy)]
enum StorageAccess<'a> {
    /// Held for the whole save (which keeps writers out).
    Held(&'a Storage),
    /// Taken per block of slots: a checkpoint, with writers going on.
    PerBlock(&'a Index),
}

/// Slots per hold of the storage lock while a checkpoint writes.
const WRITE_BLOCK: u32 = 4096;

impl StorageAccess<'_> {
    /// Calls `f` with the storage for each block of `slots` in order.
    fn blocks(
        self,
        slots: u32,
        mut f: impl FnMut(&Storage, std::ops::Range<u32>) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut start = 0;
        while start < slots {
            let end = slots.min(start + WRITE_BLOCK);
            match self {
                StorageAccess::Held(storage) => f(storage, start..end)?,
                StorageAccess::PerBlock(index) => {
                    f(&index.read(), start..end)?;
                    index.let_writers_in();
                }
            }
            start = end;
        }
        Ok(())
    }
}

/// Bytes the section writers gather before each write: many small values
/// per call, without holding a section's worth in memory.
const WRITE_BUFFER: usize = 64 * 1024;

/// Writes `buffer` out and empties it once it is nearly full.
fn flush_when_full(out: &mut dyn Write, buffer: &mut Vec<u8>) -> io::Result<()> {
    if buffer.len() >= WRITE_BUFFER - 4 * 1024 {
        out.write_all(buffer)?;
        buffer.clear();
    }
    Ok(())
}

fn write_vectors(out: &mut dyn Write, access: StorageAccess<'_>, slots: u32) -> io::Result<()> {
    let mut buffer = Vec::with_capacity(WRITE_BUFFER);
    access.blocks(slots, |storage, block| {
        for slot in block {
            for value in storage.vector(slot) {
                buffer.extend_from_slice(&value.to_le_bytes());
            }
            flush_when_full(out, &mut buffer)?;
        }
        Ok(())
    })?;
    out.write_all(&buffer)
}

/// A byte per slot: its level, and the deletion mark from `live` when
/// given (else from the storage).
fn write_levels(
    out: &mut dyn Write,
    access: StorageAccess<'_>,
    slots: u32,
    live: Option<&[bool]>,
) -> io::Result<()> {
    let mut bytes = Vec::with_capacity(slots as usize);
    access.blocks(slots, |storage, block| {
        for slot in block {
            let deleted =
                live.map_or_else(|| storage.is_deleted(slot), |live| !live[slot as usize]);
            bytes.push(storage.level(slot) as u8 | if deleted { DELETED_BIT } else { 0 });
        }
        Ok(())
    })?;
    out.write_all(&bytes)
}

/// The CSR section of `level` over slots `0..slots`. Offsets come before
/// targets, so degrees are read in a first pass and lists in a second; a
/// list that changed in between (a checkpoint's writers go on) is cut to
/// its first-pass degree or padded with the node itself (a self-link, which
/// a search skips as already visited), and a link to a slot past `slots`
/// (appended since the checkpoint's mark) becomes a self-link too. Under a
/// save's gate nothing changes and no padding happens.
fn write_level(
    out: &mut dyn Write,
    access: StorageAccess<'_>,
    level: usize,
    slots: u32,
) -> io::Result<()> {
    let mut nodes: Vec<u32> = Vec::new();
    let mut degrees: Vec<u32> = Vec::new();
    access.blocks(slots, |storage, block| {
        for slot in block.filter(|&s| storage.level(s) >= level) {
            nodes.push(slot);
            degrees.push(storage.neighbors(slot, level).len() as u32);
        }
        Ok(())
    })?;
    let edges: u64 = degrees.iter().map(|&d| d as u64).sum();
    out.write_all(&(nodes.len() as u64).to_le_bytes())?;
    out.write_all(&edges.to_le_bytes())?;
    let mut offsets = Vec::with_capacity((nodes.len() + 1) * 8);
    let mut offset = 0u64;
    offsets.extend_from_slice(&offset.to_le_bytes());
    for &degree in &degrees {
        offset += degree as u64;
        offsets.extend_from_slice(&offset.to_le_bytes());
    }
    out.write_all(&offsets)?;
    drop(offsets);
    let mut targets = Vec::with_capacity(WRITE_BUFFER);
    let mut next = 0;
    access.blocks(slots, |storage, block| {
        while next < nodes.len() && block.contains(&nodes[next]) {
            let slot = nodes[next];
            let neighbors = storage.neighbors(slot, level);
            for i in 0..degrees[next] as usize {
                let target = if i < neighbors.len() {
                    neighbors.get(i)
                } else {
                    slot
                };
                let target = if target < slots { target } else { slot };
                targets.extend_from_slice(&target.to_le_bytes());
            }
            next += 1;
            flush_when_full(out, &mut targets)?;
        }
        Ok(())
    })?;
    out.write_all(&targets)
}
