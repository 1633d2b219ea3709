//! Items as callers see them (`NewItem`, `Item`), the `Catalog` that maps
//! ids to slots and holds metadata, and the catalogue's section of the
//! database file.

use super::id_map::{IdMap, ShardRun, SLOTS_PER_RUN};
use crate::error::{Error, Result};
use crate::file::{ByteReader, ByteWriter};
use crate::hnsw::Index;
use rayon::prelude::*;
use serde_json::{Map, Value};
use std::io::Write;
use std::sync::Arc;

/// An item's metadata: a plain JSON object.
pub type Metadata = Map<String, Value>;

/// Longest accepted id, in bytes.
pub const MAX_ID_BYTES: usize = 4_096;

/// Deepest accepted metadata, counting the metadata object as level 1 and
/// each object or array inside it as one more. The file and the log keep
/// metadata as JSON text, which serde_json reads back only up to 128
/// levels: a limit well inside that keeps every accepted item readable
/// after a reopen.
pub const MAX_METADATA_DEPTH: usize = 64;

/// Refuses metadata that could not be stored and read back as given.
pub(super) fn validate_metadata(metadata: &Metadata) -> Result<()> {
    // Iterative, so that no input can overflow the stack.
    let mut pending: Vec<(&Value, usize)> = metadata.values().map(|value| (value, 1)).collect();
    while let Some((value, depth)) = pending.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(fields) => Box::new(fields.values()),
            _ => continue,
        };
        if depth + 1 > MAX_METADATA_DEPTH {
            return Err(Error::invalid_argument(format!(
                "metadata is nested deeper than {MAX_METADATA_DEPTH} levels"
            )));
        }
        pending.extend(children.map(|child| (child, depth + 1)));
    }
    Ok(())
}

/// Metadata as JS gives it: a plain object, or `null`/absent for none.
pub fn metadata_from_value(value: Option<Value>) -> Result<Option<Metadata>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(other) => Err(Error::invalid_argument(format!(
            "metadata must be a plain object, got {}",
            crate::error::short_json(&other)
        ))),
    }
}

/// An item to insert; `id: None` generates a UUID v4.
#[derive(Clone, Debug, PartialEq)]
pub struct NewItem {
    pub id: Option<String>,
    pub vector: Vec<f32>,
    pub metadata: Option<Metadata>,
}

/// Items to insert, their vectors laid end to end in one allocation. The
/// index keeps that allocation as its storage when it can (see
/// `Index::append_rows`), so a bulk load holds each vector once.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewItems {
    /// Per item: its id, or `None` to generate a UUID v4.
    pub ids: Vec<Option<String>>,
    /// `ids.len() × dimensions` values.
    pub vectors: Vec<f32>,
    /// Per item (or empty: none has metadata).
    pub metadata: Vec<Option<Metadata>>,
}

impl NewItems {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

impl NewItems {
    /// Lays out `items` end to end; a vector of another length than
    /// `dimensions` is refused as the index would refuse it.
    pub fn from_items(items: Vec<NewItem>, dimensions: usize) -> Result<NewItems> {
        let mut batch = NewItems {
            ids: Vec::with_capacity(items.len()),
            vectors: Vec::with_capacity(items.len() * dimensions),
            metadata: Vec::with_capacity(items.len()),
        };
        for (i, item) in items.into_iter().enumerate() {
            batch.push_vector(&item.vector, dimensions, i)?;
            batch.ids.push(item.id);
            batch.metadata.push(item.metadata);
        }
        Ok(batch)
    }

    /// Appends item `i`'s vector, refusing one of the wrong length.
    pub fn push_vector(&mut self, vector: &[f32], dimensions: usize, i: usize) -> Result<()> {
        if vector.len() != dimensions {
            crate::distance::validate(vector, dimensions, &format!("vector {i}"))?;
        }
        self.vectors.extend_from_slice(vector);
        Ok(())
    }
}

/// A stored item. `vector` is in stored form: unit length under cosine.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub id: Arc<str>,
    pub vector: Vec<f32>,
    pub metadata: Option<Arc<Metadata>>,
}

#[derive(Default)]
pub(super) struct Catalog {
    pub(super) slot_of: IdMap,
    /// Per slot: its id while live, `None` once deleted or replaced.
    pub(super) ids: Vec<Option<Arc<str>>>,
    pub(super) metadata: Vec<Option<Arc<Metadata>>>,
    /// Heap bytes of the live slots' id strings and metadata, kept as they
    /// change ([`Catalog::push`], [`Catalog::vacate`]) so that `stats()`
    /// need not walk a million of them on the JS thread.
    content_bytes: usize,
}

impl Catalog {
    /// Heap bytes held, as requested from the allocator (its own rounding
    /// and headers aside): each id string once (`ids` and `slot_of` share
    /// it), both tables, and the metadata.
    pub(super) fn heap_bytes(&self) -> usize {
        let table = self.slot_of.heap_bytes();
        let slots = self.ids.capacity() * std::mem::size_of::<Option<Arc<str>>>()
            + self.metadata.capacity() * std::mem::size_of::<Option<Arc<Metadata>>>();
        self.content_bytes + table + slots
    }

    /// Appends a live slot for `id` and maps the id to it. Returns whether
    /// the id was new (a replace remaps its id this way).
    pub(super) fn push(&mut self, id: Arc<str>, metadata: Option<Arc<Metadata>>) -> bool {
        self.content_bytes += slot_content_bytes(&id, metadata.as_deref());
        let slot = self.ids.len() as u32;
        let fresh = self.slot_of.insert(id.clone(), slot).is_none();
        self.ids.push(Some(id));
        self.metadata.push(metadata);
        fresh
    }

    /// The catalogue of a compacted index: the live slots only, in their
    /// new numbering (`new_slot`, see `Index::compacted`).
    pub(super) fn renumbered(&self, new_slot: &[u32]) -> Catalog {
        let live = self.slot_of.len();
        let mut renumbered = Catalog {
            slot_of: IdMap::default(),
            ids: Vec::with_capacity(live),
            metadata: Vec::with_capacity(live),
            content_bytes: self.content_bytes,
        };
        for (slot, id) in self.ids.iter().enumerate() {
            if let Some(id) = id {
                debug_assert_eq!(new_slot[slot] as usize, renumbered.ids.len());
                renumbered.ids.push(Some(id.clone()));
                renumbered.metadata.push(self.metadata[slot].clone());
            }
        }
        renumbered.slot_of = IdMap::build(&renumbered.ids).expect("a catalogue maps each id once");
        renumbered
    }

    /// Replaces the metadata of live `slot`.
    pub(super) fn set_metadata(&mut self, slot: u32, metadata: Option<Arc<Metadata>>) {
        self.content_bytes -= metadata_bytes(self.metadata[slot as usize].as_deref());
        self.content_bytes += metadata_bytes(metadata.as_deref());
        self.metadata[slot as usize] = metadata;
    }

    /// Empties `slot` (deleted or replaced); returns the id it had. The id
    /// stays mapped: the caller removes or remaps it.
    pub(super) fn vacate(&mut self, slot: u32) -> Option<Arc<str>> {
        let id = self.ids[slot as usize].take()?;
        let metadata = self.metadata[slot as usize].take();
        self.content_bytes -= slot_content_bytes(&id, metadata.as_deref());
        Some(id)
    }
}

/// Heap bytes of one live slot's id string and metadata.
fn slot_content_bytes(id: &str, metadata: Option<&Metadata>) -> usize {
    arc_str_bytes(id) + metadata_bytes(metadata)
}

/// Heap bytes of a slot's metadata: the `Arc` and the object's B-tree.
fn metadata_bytes(metadata: Option<&Metadata>) -> usize {
    metadata.map_or(0, |m| {
        16 + std::mem::size_of::<Metadata>() + map_heap_bytes(m)
    })
}

/// Heap bytes of an `Arc<str>`: two counts and the text.
pub(super) fn arc_str_bytes(text: &str) -> usize {
    16 + text.len()
}

/// Heap bytes below a JSON value (not the value itself).
fn json_heap_bytes(value: &Value) -> usize {
    match value {
        Value::String(text) => text.capacity(),
        Value::Array(values) => {
            values.capacity() * std::mem::size_of::<Value>()
                + values.iter().map(json_heap_bytes).sum::<usize>()
        }
        Value::Object(map) => map_heap_bytes(map),
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
    }
}

/// Heap bytes of a JSON object's B-tree: its nodes, keys and values. A node
/// has room for 11 entries (a lone small object still takes a whole one);
/// larger maps fill nodes about 2/3 on average, and every node is counted
/// at the size of a leaf (internal nodes add 12 child pointers).
fn map_heap_bytes(map: &Map<String, Value>) -> usize {
    const NODE: usize = 16 + 11 * (std::mem::size_of::<String>() + std::mem::size_of::<Value>());
    if map.is_empty() {
        return 0;
    }
    let nodes = if map.len() <= 11 {
        1
    } else {
        map.len().div_ceil(7)
    };
    nodes * NODE
        + map
            .iter()
            .map(|(key, value)| key.capacity() + json_heap_bytes(value))
            .sum::<usize>()
}

pub(super) fn validate_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid_argument("id must be a non-empty string"));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(Error::invalid_argument(format!(
            "id is {} bytes long; the limit is {MAX_ID_BYTES}",
            id.len()
        )));
    }
    Ok(())
}

pub(super) fn put_metadata(out: &mut Vec<u8>, metadata: Option<&Metadata>) {
    let json = metadata.map(|m| serde_json::to_vec(m).expect("JSON values always serialise"));
    out.put_optional_bytes(json.as_deref());
}

pub(super) fn read_metadata(reader: &mut ByteReader<'_>, what: &str) -> Result<Option<Metadata>> {
    match reader.optional_bytes(what)? {
        None => Ok(None),
        Some(json) => serde_json::from_slice(json)
            .map(Some)
            .map_err(|e| reader.corrupt(format!("{what}: {e}"))),
    }
}

/// The items section: per slot, its id (absent once deleted) and metadata.
pub(super) fn write_items(out: &mut dyn Write, catalog: &Catalog) -> std::io::Result<()> {
    let mut buffer = Vec::with_capacity(1 << 16);
    for (id, metadata) in catalog.ids.iter().zip(&catalog.metadata) {
        put_item(&mut buffer, id.as_deref(), metadata.as_deref());
        if buffer.len() >= 1 << 16 {
            out.write_all(&buffer)?;
            buffer.clear();
        }
    }
    out.write_all(&buffer)
}

/// Slots per hold of the catalogue's read lock in [`write_items_at`].
const ITEMS_PER_LOCK: usize = 4096;

/// The items section of slots `0..slots` while writers go on (a
/// checkpoint): the catalogue's read lock is taken per block, so a write
/// waits at most one block. `live` gets, per slot, whether the id was
/// written: the deletion marks must agree with it.
pub(super) fn write_items_at(
    out: &mut dyn Write,
    catalog: &std::sync::RwLock<Catalog>,
    slots: usize,
    live: &mut Vec<bool>,
) -> std::io::Result<()> {
    live.clear();
    live.reserve(slots);
    let mut buffer = Vec::with_capacity(1 << 16);
    for start in (0..slots).step_by(ITEMS_PER_LOCK) {
        {
            let catalog = catalog.read().unwrap_or_else(|e| e.into_inner());
            for slot in start..slots.min(start + ITEMS_PER_LOCK) {
                let id = catalog.ids[slot].as_deref();
                put_item(&mut buffer, id, catalog.metadata[slot].as_deref());
                live.push(id.is_some());
            }
        }
        out.write_all(&buffer)?;
        buffer.clear();
    }
    Ok(())
}

fn put_item(buffer: &mut Vec<u8>, id: Option<&str>, metadata: Option<&Metadata>) {
    buffer.put_optional_bytes(id.map(str::as_bytes));
    put_metadata(buffer, metadata);
}

/// The items section of a file with `slots` slots, read without the index
/// (so that it can run beside the graph's check, see `persist.rs`);
/// [`check_items`] then holds it to the index's deletion marks.
///
/// Records have variable length, so one sequential walk over their length
/// tags finds where each task's run of slots starts; the tasks then parse
/// their ids and metadata in parallel, in place, and sort the ids for the
/// id map's parallel build (see `id_map.rs`).
pub(super) fn read_items(bytes: &[u8], slots: usize) -> Result<Catalog> {
    let mut reader = ByteReader::new(bytes, ITEMS_SECTION);
    // Each slot takes at least its two 4-byte tags.
    let slots = reader.check_fits(slots as u64, 8, "slot count")?;
    let mut task_starts = Vec::with_capacity(slots.div_ceil(SLOTS_PER_RUN) + 1);
    for slot in 0..slots {
        if slot % SLOTS_PER_RUN == 0 {
            task_starts.push(reader.position());
        }
        reader.optional_bytes("id")?;
        reader.optional_bytes("metadata")?;
    }
    reader.finish()?;
    task_starts.push(bytes.len());
    let mut catalog = Catalog {
        slot_of: IdMap::default(),
        ids: vec![None; slots],
        metadata: vec![None; slots],
        content_bytes: 0,
    };
    let slot_of = &catalog.slot_of;
    let parsed: Vec<(ShardRun, usize)> = catalog
        .ids
        .par_chunks_mut(SLOTS_PER_RUN)
        .zip(catalog.metadata.par_chunks_mut(SLOTS_PER_RUN))
        .zip(task_starts.par_windows(2))
        .enumerate()
        .map(|(task, ((ids, metadata), span))| {
            let first = task * SLOTS_PER_RUN;
            let content_bytes = parse_slots(&bytes[span[0]..span[1]], first, ids, metadata)?;
            Ok((slot_of.sort_run(ids, first), content_bytes))
        })
        .collect::<Result<_>>()?;
    let (runs, content_bytes): (Vec<ShardRun>, Vec<usize>) = parsed.into_iter().unzip();
    catalog.content_bytes = content_bytes.iter().sum();
    catalog
        .slot_of
        .fill(runs)
        .map_err(|id| Error::corrupt(ITEMS_SECTION, format!("id {id:?} appears twice")))?;
    Ok(catalog)
}

/// Parses the records of slots `first..first + ids.len()` (exactly what
/// `bytes` holds) into `ids` and `metadata`; returns their content bytes.
fn parse_slots(
    bytes: &[u8],
    first: usize,
    ids: &mut [Option<Arc<str>>],
    metadata: &mut [Option<Arc<Metadata>>],
) -> Result<usize> {
    let mut reader = ByteReader::new(bytes, ITEMS_SECTION);
    let mut content_bytes = 0;
    for (i, (id_out, metadata_out)) in ids.iter_mut().zip(metadata.iter_mut()).enumerate() {
        let slot = first + i;
        let id = reader.optional_str("id")?;
        let fields = read_metadata(&mut reader, "metadata")?;
        match id {
            Some(id) => {
                if id.is_empty() || id.len() > MAX_ID_BYTES {
                    return Err(
                        reader.corrupt(format!("slot {slot} has an id of {} bytes", id.len()))
                    );
                }
                content_bytes += slot_content_bytes(id, fields.as_ref());
                *id_out = Some(Arc::from(id));
                *metadata_out = fields.map(Arc::new);
            }
            None if fields.is_some() => {
                return Err(reader.corrupt(format!("deleted slot {slot} has metadata")));
            }
            None => {}
        }
    }
    reader.finish()?;
    Ok(content_bytes)
}

/// Checks a catalogue from [`read_items`] against the index read from the
/// same file: one slot each, an id exactly where the slot is live.
pub(super) fn check_items(catalog: &Catalog, index: &Index) -> Result<()> {
    if catalog.ids.len() != index.slot_count() {
        return Err(Error::corrupt(
            ITEMS_SECTION,
            format!(
                "{} slots, the index has {}",
                catalog.ids.len(),
                index.slot_count()
            ),
        ));
    }
    for (slot, id) in catalog.ids.iter().enumerate() {
        match (id, index.is_deleted(slot as u32)) {
            (Some(id), true) => {
                return Err(Error::corrupt(
                    ITEMS_SECTION,
                    format!("deleted slot {slot} has id {id:?}"),
                ))
            }
            (None, false) => {
                return Err(Error::corrupt(
                    ITEMS_SECTION,
                    format!("live slot {slot} has no id"),
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// How errors name the items section.
const ITEMS_SECTION: &str = "ids and metadata section";
