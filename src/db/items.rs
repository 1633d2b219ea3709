//! Items as callers see them (`NewItem`, `Item`), the `Catalog` that maps
//! ids to slots and holds metadata, and the catalogue's section of the
//! database file.

use crate::error::{Error, Result};
use crate::file::{ByteReader, ByteWriter};
use crate::hnsw::Index;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

/// An item's metadata: a plain JSON object.
pub type Metadata = Map<String, Value>;

/// Longest accepted id, in bytes.
pub const MAX_ID_BYTES: usize = 4_096;

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
    pub(super) slot_of: HashMap<Arc<str>, u32>,
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
        // hashbrown: a power-of-two bucket count at most 7/8 full, one
        // (key, value) entry and one control byte per bucket, plus a group.
        let buckets = (self.slot_of.capacity() * 8 / 7).next_power_of_two();
        let table = buckets * (std::mem::size_of::<(Arc<str>, u32)>() + 1) + 16;
        let slots = self.ids.capacity() * std::mem::size_of::<Option<Arc<str>>>()
            + self.metadata.capacity() * std::mem::size_of::<Option<Arc<Metadata>>>();
        self.content_bytes + table + slots
    }

    /// Appends a live slot for `id` and maps the id to it. Returns whether
    /// the id was new: a replace remaps its id this way; reading a file
    /// treats it as corruption.
    pub(super) fn push(&mut self, id: Arc<str>, metadata: Option<Arc<Metadata>>) -> bool {
        self.content_bytes += slot_content_bytes(&id, metadata.as_deref());
        let slot = self.ids.len() as u32;
        let fresh = self.slot_of.insert(id.clone(), slot).is_none();
        self.ids.push(Some(id));
        self.metadata.push(metadata);
        fresh
    }

    /// Appends a slot that holds nothing (deleted before a save).
    pub(super) fn push_vacant(&mut self) {
        self.ids.push(None);
        self.metadata.push(None);
    }

    /// The catalogue of a compacted index: the live slots only, in their
    /// new numbering (`new_slot`, see `Index::compacted`).
    pub(super) fn renumbered(&self, new_slot: &[u32]) -> Catalog {
        let mut renumbered = Catalog {
            slot_of: HashMap::with_capacity(self.slot_of.len()),
            ids: Vec::with_capacity(self.slot_of.len()),
            metadata: Vec::with_capacity(self.slot_of.len()),
            content_bytes: 0,
        };
        for (slot, id) in self.ids.iter().enumerate() {
            if let Some(id) = id {
                debug_assert_eq!(new_slot[slot] as usize, renumbered.ids.len());
                renumbered.push(id.clone(), self.metadata[slot].clone());
            }
        }
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
        buffer.put_optional_bytes(id.as_deref().map(str::as_bytes));
        put_metadata(&mut buffer, metadata.as_deref());
        if buffer.len() >= 1 << 16 {
            out.write_all(&buffer)?;
            buffer.clear();
        }
    }
    out.write_all(&buffer)
}

/// The items section of a file with `slots` slots, read without the index
/// (so that it can run beside the graph's decode, see `persist.rs`);
/// [`check_items`] then holds it to the index's deletion marks.
pub(super) fn read_items(bytes: &[u8], slots: usize) -> Result<Catalog> {
    let mut reader = ByteReader::new(bytes, ITEMS_SECTION);
    // Each slot takes at least its two 4-byte tags.
    let slots = reader.check_fits(slots as u64, 8, "slot count")?;
    let mut catalog = Catalog {
        slot_of: HashMap::with_capacity(slots),
        ids: Vec::with_capacity(slots),
        metadata: Vec::with_capacity(slots),
        content_bytes: 0,
    };
    for slot in 0..slots {
        let id = reader.optional_str("id")?;
        let metadata = read_metadata(&mut reader, "metadata")?;
        match id {
            Some(id) => {
                if id.is_empty() || id.len() > MAX_ID_BYTES {
                    return Err(
                        reader.corrupt(format!("slot {slot} has an id of {} bytes", id.len()))
                    );
                }
                // One hash per id: a million of them is most of an open.
                if !catalog.push(Arc::from(id), metadata.map(Arc::new)) {
                    return Err(reader.corrupt(format!("id {id:?} appears twice")));
                }
            }
            None => {
                if metadata.is_some() {
                    return Err(reader.corrupt(format!("deleted slot {slot} has metadata")));
                }
                catalog.push_vacant();
            }
        }
    }
    reader.finish()?;
    Ok(catalog)
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
