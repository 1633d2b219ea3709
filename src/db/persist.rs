//! Persistence of a [`VectorDb`]: create/open a database file, save it
//! atomically, log every change to the write-ahead log, replay the log on
//! open, close.
//!
//! # Consistency
//!
//! Every write holds `gate` for reading from start to acknowledgement; save
//! and close take it for writing, so a save sees no half-linked node and no
//! half-logged batch. Searches never take the gate: they run during saves.
//!
//! Changes are logged as their effect, under the catalog write lock so the
//! log's order is the order they were applied: `Insert` (a batch, with the
//! ids already assigned), `Update` (new vector and/or the item's full
//! metadata), `Delete`. Replay applies them through the same code paths
//! with logging off.

use super::{Catalog, Metadata, NewItem, VectorDb, MAX_ID_BYTES};
use crate::error::{Error, Result};
use crate::hnsw::Index;
use crate::rng::SplitMix64;
use crate::store::wal::{self, Durability, Wal, WalContents};
use crate::store::{
    self, ByteReader, ByteWriter, FileHeader, MappedFile, SectionKind, SectionSource,
};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A batch is logged in records of about this size, so replay memory stays
/// bounded and no record nears the format's limit.
const INSERT_RECORD_BYTES: usize = 64 << 20;

const OP_INSERT: u8 = 1;
const OP_UPDATE: u8 = 2;
const OP_DELETE: u8 = 3;

/// How to open an existing database file.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    pub durability: Durability,
    /// Open without the write lock: searches and reads only, alongside a
    /// writer in another process. Sees the file as last saved plus the
    /// writer's log as of opening.
    pub read_only: bool,
    pub recent_searches: usize,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            durability: Durability::Batch,
            read_only: false,
            recent_searches: 10_000,
        }
    }
}

/// The file side of a database opened with a path.
pub(super) struct Persistence {
    path: PathBuf,
    /// `None` when read-only.
    wal: Option<Wal>,
    file: Mutex<FileState>,
}

struct FileState {
    file_id: u64,
    generation: u64,
    file_bytes: u64,
}

/// What `VectorDb::stats` reports.
#[derive(Clone, Debug, PartialEq)]
pub struct DbStats {
    /// Live items.
    pub items: usize,
    /// Stored slots, including deleted items kept as graph tombstones.
    pub slots: usize,
    pub path: Option<String>,
    /// Size of the database file as last saved.
    pub file_bytes: u64,
    /// Size of the write-ahead log, buffered records included.
    pub wal_bytes: u64,
    /// Bytes of vectors used in place from the mapped file.
    pub mapped_bytes: u64,
    /// Heap bytes held by vectors (those not mapped) and graph links.
    pub index_heap_bytes: u64,
    pub durability: Option<Durability>,
    pub read_only: bool,
    /// Number of saves since the file was created.
    pub generation: u64,
}

/// One logged change.
#[derive(Debug, PartialEq)]
enum WalOp {
    Insert(Vec<NewItem>),
    Update {
        id: String,
        vector: Option<Vec<f32>>,
        metadata: Option<Metadata>,
    },
    Delete(String),
}

fn put_metadata(out: &mut Vec<u8>, metadata: Option<&Metadata>) {
    let json = metadata.map(|m| serde_json::to_vec(m).expect("JSON values always serialise"));
    out.put_optional_bytes(json.as_deref());
}

fn read_metadata(reader: &mut ByteReader<'_>, what: &str) -> Result<Option<Metadata>> {
    match reader.optional_bytes(what)? {
        None => Ok(None),
        Some(json) => serde_json::from_slice(json)
            .map(Some)
            .map_err(|e| reader.corrupt(format!("{what}: {e}"))),
    }
}

fn read_vector(reader: &mut ByteReader<'_>, dimensions: usize) -> Result<Vec<f32>> {
    reader.f32s(dimensions, "vector")
}

/// Encodes an insert of `items` under `ids` as records of bounded size.
pub(super) fn encode_insert(ids: &[Arc<str>], items: &[NewItem]) -> Vec<Vec<u8>> {
    let mut records = Vec::new();
    let mut start = 0;
    while start < items.len() {
        let mut body = Vec::new();
        let mut end = start;
        while end < items.len() && (end == start || body.len() < INSERT_RECORD_BYTES) {
            body.put_str(&ids[end]);
            body.put_f32s(&items[end].vector);
            put_metadata(&mut body, items[end].metadata.as_ref());
            end += 1;
        }
        let mut record = Vec::with_capacity(body.len() + 5);
        record.put_u8(OP_INSERT);
        record.put_u32((end - start) as u32);
        record.extend_from_slice(&body);
        records.push(record);
        start = end;
    }
    records
}

pub(super) fn encode_update(
    id: &str,
    vector: Option<&[f32]>,
    metadata: Option<&Metadata>,
) -> Vec<u8> {
    let mut record = vec![OP_UPDATE];
    record.put_str(id);
    record.put_u8(vector.is_some() as u8);
    if let Some(vector) = vector {
        record.put_f32s(vector);
    }
    put_metadata(&mut record, metadata);
    record
}

pub(super) fn encode_delete(id: &str) -> Vec<u8> {
    let mut record = vec![OP_DELETE];
    record.put_str(id);
    record
}

fn decode_op(payload: &[u8], dimensions: usize, section: &str) -> Result<WalOp> {
    let mut reader = ByteReader::new(payload, section);
    let op = match reader.u8("operation")? {
        OP_INSERT => {
            let count = reader.u32("item count")?;
            // Each item takes at least its id length, vector and metadata tag.
            let count = reader.check_fits(count as u64, 8 + dimensions * 4, "item count")?;
            let mut items = Vec::with_capacity(count);
            for _ in 0..count {
                let id = reader.str("id")?.to_string();
                let vector = read_vector(&mut reader, dimensions)?;
                let metadata = read_metadata(&mut reader, "metadata")?;
                items.push(NewItem {
                    id: Some(id),
                    vector,
                    metadata,
                });
            }
            WalOp::Insert(items)
        }
        OP_UPDATE => {
            let id = reader.str("id")?.to_string();
            let vector = match reader.u8("vector flag")? {
                0 => None,
                1 => Some(read_vector(&mut reader, dimensions)?),
                other => return Err(reader.corrupt(format!("vector flag {other}"))),
            };
            let metadata = read_metadata(&mut reader, "metadata")?;
            WalOp::Update {
                id,
                vector,
                metadata,
            }
        }
        OP_DELETE => WalOp::Delete(reader.str("id")?.to_string()),
        other => return Err(reader.corrupt(format!("unknown operation {other}"))),
    };
    reader.finish()?;
    Ok(op)
}

/// The items section: per slot, its id (absent once deleted) and metadata.
fn write_items(out: &mut dyn Write, catalog: &Catalog) -> std::io::Result<()> {
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

fn read_items(bytes: &[u8], index: &Index) -> Result<Catalog> {
    let mut reader = ByteReader::new(bytes, "ids and metadata section");
    let slots = index.slot_count();
    // Each slot takes at least its two 4-byte tags.
    reader.check_fits(slots as u64, 8, "slot count")?;
    let mut catalog = Catalog {
        slot_of: HashMap::with_capacity(index.len()),
        ids: Vec::with_capacity(slots),
        metadata: Vec::with_capacity(slots),
    };
    for slot in 0..slots as u32 {
        let id = reader.optional_str("id")?;
        let metadata = read_metadata(&mut reader, "metadata")?;
        match id {
            Some(id) => {
                if index.is_deleted(slot) {
                    return Err(reader.corrupt(format!("deleted slot {slot} has id {id:?}")));
                }
                if id.is_empty() || id.len() > MAX_ID_BYTES {
                    return Err(
                        reader.corrupt(format!("slot {slot} has an id of {} bytes", id.len()))
                    );
                }
                if catalog.slot_of.contains_key(id) {
                    return Err(reader.corrupt(format!("id {id:?} appears twice")));
                }
                catalog.push(Arc::from(id), metadata.map(Arc::new));
            }
            None => {
                if !index.is_deleted(slot) {
                    return Err(reader.corrupt(format!("live slot {slot} has no id")));
                }
                if metadata.is_some() {
                    return Err(reader.corrupt(format!("deleted slot {slot} has metadata")));
                }
                catalog.ids.push(None);
                catalog.metadata.push(None);
            }
        }
    }
    reader.finish()?;
    Ok(catalog)
}

impl Persistence {
    pub(super) fn wal(&self) -> Option<&Wal> {
        self.wal.as_ref()
    }
}

impl VectorDb {
    /// Opens the database at `path`, creating it with `options` if there is
    /// no file there. An existing file must have the same dimensions and
    /// metric; its HNSW parameters are the ones it was built with.
    pub fn create_or_open(
        path: &Path,
        options: super::DbOptions,
        durability: Durability,
    ) -> Result<VectorDb> {
        let (wal, contents) = lock_and_read_log(path, durability)?;
        if path.exists() {
            let open = OpenOptions {
                durability,
                read_only: false,
                recent_searches: options.recent_searches,
            };
            let file = MappedFile::open(path, true)?;
            let db = VectorDb::open_with(path, file, Some(wal), contents, &open)?;
            if db.dimensions() != options.dimensions || db.metric() != options.metric {
                return Err(Error::invalid_argument(format!(
                    "{} holds {}-dimensional {} vectors, not {}-dimensional {}",
                    path.display(),
                    db.dimensions(),
                    db.metric().name(),
                    options.dimensions,
                    options.metric.name()
                )));
            }
            return Ok(db);
        }
        let mut db = VectorDb::new(options)?;
        let file_id = SplitMix64::from_entropy().next_u64();
        db.persistence = Some(Persistence {
            path: path.to_path_buf(),
            wal: Some(wal),
            file: Mutex::new(FileState {
                file_id,
                generation: 0,
                file_bytes: 0,
            }),
        });
        // An empty file now, so the log always has a file to continue.
        db.write_snapshot(0)?;
        Ok(db)
    }

    /// Opens an existing database file, replaying its write-ahead log.
    pub fn open(path: &Path, options: &OpenOptions) -> Result<VectorDb> {
        // Before touching the log, so a mistyped path leaves no file behind.
        if let Err(e) = std::fs::metadata(path) {
            return Err(Error::io("cannot open", path, e));
        }
        if options.read_only {
            // The writer may save between our reads of the file and the log.
            // A save renames a new file into place before it resets the log,
            // so the pair we read is consistent exactly when the path still
            // names the file we mapped; otherwise read both again.
            let mut attempts = 0;
            loop {
                let file = MappedFile::open(path, true)?;
                let contents = wal::read(&wal::wal_path(path));
                let unchanged = MappedFile::open(path, false).is_ok_and(|now| {
                    now.header.file_id == file.header.file_id
                        && now.header.generation == file.header.generation
                });
                attempts += 1;
                if unchanged || attempts == 5 {
                    return VectorDb::open_with(path, file, None, contents?, options);
                }
            }
        }
        let (wal, contents) = lock_and_read_log(path, options.durability)?;
        let file = MappedFile::open(path, true)?;
        VectorDb::open_with(path, file, Some(wal), contents, options)
    }

    fn open_with(
        path: &Path,
        file: MappedFile,
        wal: Option<Wal>,
        contents: Option<WalContents>,
        options: &OpenOptions,
    ) -> Result<VectorDb> {
        let (mut db, replayed) =
            VectorDb::from_image(&file, contents.as_ref(), options.recent_searches)?;
        let header = &file.header;
        if let Some(wal) = wal.as_ref().filter(|_| !replayed) {
            // Nothing to continue: start the log over for this file.
            wal.reset(header.file_id, header.generation)?;
        }
        db.persistence = Some(Persistence {
            path: path.to_path_buf(),
            wal,
            file: Mutex::new(FileState {
                file_id: header.file_id,
                generation: header.generation,
                file_bytes: file.len(),
            }),
        });
        Ok(db)
    }

    /// Builds a database from a validated file and the log beside it;
    /// returns it and whether the log was replayed (rather than absent or
    /// already folded into the file). Every byte of both is untrusted: this
    /// is what the mutation tests and the fuzz target drive.
    #[doc(hidden)]
    pub fn from_image(
        file: &MappedFile,
        log: Option<&WalContents>,
        recent_searches: usize,
    ) -> Result<(VectorDb, bool)> {
        let header = &file.header;
        let index = Index::from_file(file)?;
        let catalog = read_items(file.section(SectionKind::Items, 0)?, &index)?;
        let db = VectorDb::with_index(index, catalog, recent_searches)?;
        let replayed = match log {
            None => false,
            Some(log) if log.file_id != header.file_id || log.generation > header.generation => {
                return Err(Error::corrupt(
                    "write-ahead log",
                    format!(
                        "it continues file {:016x} generation {}, but the file is {:016x} generation {}: it belongs to another copy of this database",
                        log.file_id, log.generation, header.file_id, header.generation
                    ),
                ));
            }
            // Older: a save folded it in and crashed before resetting it.
            Some(log) if log.generation < header.generation => false,
            Some(log) => {
                db.replay(&log.records)?;
                true
            }
        };
        Ok((db, replayed))
    }

    fn replay(&self, records: &[Vec<u8>]) -> Result<()> {
        for (i, record) in records.iter().enumerate() {
            let section = format!("write-ahead log record {}", i + 1);
            let op = decode_op(record, self.dimensions(), &section)?;
            let applied = match op {
                WalOp::Insert(items) => self
                    .insert_batch_logged(items, &|_, _| {}, false)
                    .map(|_| ()),
                WalOp::Update {
                    id,
                    vector,
                    metadata,
                } => self
                    .replace_logged(&id, vector, Some(metadata), false, false)
                    .map(|_| ()),
                WalOp::Delete(id) => self.delete_logged(&id, false).map(|_| ()),
            };
            applied.map_err(|e| Error::corrupt(section, format!("does not apply: {e}")))?;
        }
        Ok(())
    }

    /// Writes the whole database to its file atomically (temp file, fsync,
    /// rename, fsync of the directory) and empties the write-ahead log.
    /// Writes wait while it runs; searches do not. On failure (`ERR_IO`) the
    /// previous file and the log are intact.
    pub fn save(&self) -> Result<()> {
        let _gate = self.gate.write().unwrap_or_else(|e| e.into_inner());
        self.check_open()?;
        let persistence = self.persistence.as_ref().ok_or_else(|| {
            Error::invalid_argument("this database has no file: create it with a path to save it")
        })?;
        if persistence.wal.is_none() {
            return Err(Error::ReadOnly);
        }
        let generation = persistence.lock_file().generation + 1;
        self.write_snapshot(generation)
    }

    /// Writes generation `generation` of the file, resets the log to
    /// continue it, and serves vectors from the new file. Callers hold the
    /// gate for writing (or own the database exclusively).
    fn write_snapshot(&self, generation: u64) -> Result<()> {
        let persistence = self
            .persistence
            .as_ref()
            .expect("called on a database with a file");
        let mut state = persistence.lock_file();
        let size = {
            let catalog = self.read_catalog();
            let snapshot = self.index.snapshot();
            let params = self.index.params();
            let header = FileHeader {
                dimensions: self.dimensions(),
                metric: self.metric(),
                params,
                slot_count: snapshot.slot_count(),
                live_count: snapshot.live_count,
                entry: snapshot.entry,
                file_id: state.file_id,
                generation,
                level_rng_state: snapshot.level_rng_state,
            };
            let mut sections = snapshot.sections();
            let catalog = &*catalog;
            sections.push(SectionSource {
                kind: SectionKind::Items as u32,
                param: 0,
                write: Box::new(move |out: &mut dyn Write| write_items(out, catalog)),
            });
            store::write_file(&persistence.path, &header, sections)?
        };
        state.generation = generation;
        state.file_bytes = size;
        if let Some(wal) = &persistence.wal {
            wal.reset(state.file_id, generation)?;
        }
        // The rows just written replace the heap copies. If mapping fails
        // the heap copies simply stay.
        if let Ok(file) = MappedFile::open(&persistence.path, false) {
            if let Ok(vectors) = file.vectors() {
                self.index.adopt_mapping(vectors);
            }
        }
        Ok(())
    }

    /// Flushes and fsyncs the log and releases the file; later calls fail
    /// with `ERR_CLOSED`. Waits for writes in progress. Unsaved changes are
    /// safe in the log and replayed by the next open. Closing twice is a
    /// no-op.
    pub fn close(&self) -> Result<()> {
        let _gate = self.gate.write().unwrap_or_else(|e| e.into_inner());
        if self.closed.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return Ok(());
        }
        match self.persistence.as_ref().and_then(|p| p.wal.as_ref()) {
            Some(wal) => wal.close(),
            None => Ok(()),
        }
    }

    pub fn stats(&self) -> DbStats {
        let persistence = self.persistence.as_ref();
        let state = persistence.map(|p| {
            let state = p.lock_file();
            (state.file_bytes, state.generation)
        });
        let wal = persistence.and_then(|p| p.wal.as_ref());
        DbStats {
            items: self.len(),
            slots: self.index.slot_count(),
            path: persistence.map(|p| p.path.display().to_string()),
            file_bytes: state.map_or(0, |s| s.0),
            wal_bytes: wal.map_or(0, |w| w.len()),
            mapped_bytes: self.index.mapped_bytes() as u64,
            index_heap_bytes: self.index.memory_bytes() as u64,
            durability: wal.map(Wal::durability),
            read_only: persistence.is_some_and(|p| p.wal.is_none()),
            generation: state.map_or(0, |s| s.1),
        }
    }
}

/// Opens and locks the log of the database at `path`; a lock held by
/// another writer is reported against the database's own path.
fn lock_and_read_log(path: &Path, durability: Durability) -> Result<(Wal, Option<WalContents>)> {
    Wal::open(&wal::wal_path(path), durability).map_err(|e| match e {
        Error::Locked(_) => Error::Locked(path.display().to_string()),
        other => other,
    })
}

impl Persistence {
    fn lock_file(&self) -> std::sync::MutexGuard<'_, FileState> {
        self.file.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests;
