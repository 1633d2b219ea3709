//! Persistence of a [`VectorDb`]: create a database file, open one
//! (replaying its write-ahead log), save it atomically, close it.
//!
//! # Consistency
//!
//! Every write holds `gate` for reading from start to acknowledgement; save
//! and close take it for writing, so a save sees no half-linked node and no
//! half-logged batch. Searches never take the gate: they run during saves.
//!
//! # What a newer version wrote
//!
//! Sections and log records of kinds this version does not know follow
//! their flags (`store::format`, `store::wal`): a *must understand* one
//! refuses a writable open with `ERR_UNSUPPORTED_FORMAT` and is skipped by
//! a read-only one; a *safe to copy* one is carried through every save
//! (sections rewritten byte for byte, records appended to the emptied log);
//! any other is skipped, and dropped by the next save.

use super::checkpoint::Checkpointer;
use super::items::{check_items, read_items, write_items, NewItems};
use super::online_save::decode_tail;
use super::options::{DbOptions, OpenOptions};
use super::recent::RecentSearches;
use super::vector_db::VectorDb;
use super::wal_record::{decode_op, WalOp};
use crate::cancel::{Cancel, CancelWrite};
use crate::error::{Error, Result};
use crate::file::SectionSource;
use crate::file::{ByteReader, ByteWriter, FileHandle, FileLock, FileMapping, FILE_MAPPING};
use crate::hnsw::Index;
use crate::learn::LearningSettings;
use crate::rng::SplitMix64;
use crate::store::wal::{self, Durability, Wal, WalContents};
use crate::store::{section, write_db_file, CarriedSections, DbFile, SectionKind};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The file side of a database opened with a path.
pub(super) struct Persistence {
    pub(super) path: PathBuf,
    /// `None` when read-only.
    pub(super) wal: Option<Wal>,
    file: Mutex<FileState>,
    /// A read-only database's: how it was opened and how long the writer's
    /// log was then, so [`VectorDb::refreshed`] can tell whether the writer
    /// has saved or logged since.
    reader: Option<ReaderView>,
}

struct ReaderView {
    options: OpenOptions,
    log_bytes: u64,
}

pub(super) struct FileState {
    pub(super) file_id: u64,
    pub(super) generation: u64,
    pub(super) file_bytes: u64,
    /// Sections of unknown kinds that every save writes back.
    pub(super) carried_sections: Option<CarriedSections>,
    /// Log records of unknown kinds that every save appends to the
    /// emptied log.
    pub(super) carried_records: Vec<Vec<u8>>,
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
    /// Heap bytes of the id catalogue and the metadata.
    pub catalog_heap_bytes: u64,
    /// Heap bytes of the recent-search table (what feedback can name).
    pub recent_searches_heap_bytes: u64,
    /// Heap bytes of the feedback log and the serving model.
    pub learning_heap_bytes: u64,
    /// All of the above: every heap byte the database holds, as requested
    /// from the allocator (its rounding and per-block headers aside).
    pub heap_bytes: u64,
    /// How this build reads database files: mapped, or read into the heap
    /// where it cannot map (WASI).
    pub file_mapping: FileMapping,
    /// What keeps a second writer out of the file; `None` without a
    /// writable file. [`FileLock::None`] on WASI, which cannot lock.
    pub file_lock: Option<FileLock>,
    /// Whether the log stays open, or is reopened for each write (WASI,
    /// whose descriptors belong to one thread); `None` without a log.
    pub wal_handle: Option<FileHandle>,
    pub durability: Option<Durability>,
    pub read_only: bool,
    /// Number of saves since the file was created.
    pub generation: u64,
    /// Automatic checkpoints done since the database was opened.
    pub checkpoints: u64,
    /// Why the last automatic checkpoint failed (`ERR_IO: ...`), until one
    /// succeeds.
    pub last_checkpoint_error: Option<String>,
}

/// A database built from a file image and its log (see
/// [`VectorDb::from_image`]).
pub struct OpenedImage {
    pub db: VectorDb,
    /// Whether the log was replayed (rather than absent, or already folded
    /// into the file by a save that crashed before emptying it).
    pub replayed: bool,
    /// Records of unknown kinds flagged safe to copy.
    carried_records: Vec<Vec<u8>>,
}

impl Persistence {
    pub(super) fn wal(&self) -> Option<&Wal> {
        self.wal.as_ref()
    }

    pub(super) fn lock_file(&self) -> std::sync::MutexGuard<'_, FileState> {
        self.file.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl VectorDb {
    /// Creates a database file at `path` with `options`. An existing file
    /// is refused with `ERR_ALREADY_EXISTS`: opening one replays its log
    /// and reads its graph, which is [`VectorDb::open`]'s job (the bindings
    /// run it off the JS thread). A stray log without a file is discarded.
    pub fn create(path: &Path, options: DbOptions) -> Result<VectorDb> {
        let (wal, _) = lock_and_read_log(path, options.durability)?;
        if path.exists() {
            return Err(Error::AlreadyExists(format!(
                "{} already exists; open it with VectorDB.open()",
                path.display()
            )));
        }
        let mut db = VectorDb::in_memory(&options)?;
        db.checkpoints = Checkpointer::new(options.checkpoint.clone());
        db.persistence = Some(Persistence {
            path: path.to_path_buf(),
            wal: Some(wal),
            file: Mutex::new(FileState {
                file_id: SplitMix64::from_entropy().next_u64(),
                generation: 0,
                file_bytes: 0,
                carried_sections: None,
                carried_records: Vec::new(),
            }),
            reader: None,
        });
        // An empty file now, so the log always has a file to continue.
        db.write_snapshot(0, &Cancel::never())?;
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
                let file = DbFile::open(path, false)?;
                // Measured before reading: a record appended in between
                // makes the next refresh read again, never miss it.
                let log_bytes = log_len(path);
                let contents = wal::read(&wal::wal_path(path));
                let unchanged = DbFile::open(path, false).is_ok_and(|now| {
                    now.header.file_id == file.header.file_id
                        && now.header.generation == file.header.generation
                });
                attempts += 1;
                if unchanged || attempts == 5 {
                    let mut db = VectorDb::open_with(path, file, None, contents?, options)?;
                    if let Some(persistence) = db.persistence.as_mut() {
                        persistence.reader = Some(ReaderView {
                            options: options.clone(),
                            log_bytes,
                        });
                    }
                    return Ok(db);
                }
            }
        }
        let (wal, contents) = lock_and_read_log(path, options.durability)?;
        let file = DbFile::open(path, false)?;
        VectorDb::open_with(path, file, Some(wal), contents, options)
    }

    fn open_with(
        path: &Path,
        file: DbFile,
        wal: Option<Wal>,
        contents: Option<WalContents>,
        options: &OpenOptions,
    ) -> Result<VectorDb> {
        // The checksums are checked beside the decode (see `DbFile::verify`).
        let (verified, opened) = rayon::join(
            || file.verify(),
            || VectorDb::from_image(&file, contents.as_ref(), options),
        );
        verified?;
        let opened = opened?;
        let mut db = opened.db;
        let header = &file.header;
        if let Some(wal) = wal.as_ref().filter(|_| !opened.replayed) {
            // Nothing to continue: start the log over for this file.
            wal.reset(header.file_id, header.generation)?;
            for record in &opened.carried_records {
                wal.append(record)?;
            }
        }
        if wal.is_some() {
            db.checkpoints = Checkpointer::new(options.checkpoint.clone());
        }
        db.persistence = Some(Persistence {
            path: path.to_path_buf(),
            wal,
            file: Mutex::new(FileState {
                file_id: header.file_id,
                generation: header.generation,
                file_bytes: file.len(),
                carried_sections: Some(file.carried_sections()),
                carried_records: opened.carried_records,
            }),
            reader: None,
        });
        Ok(db)
    }

    /// Builds a database from a validated file and the log beside it. Every
    /// byte of both is untrusted: this is what the mutation tests and the
    /// fuzz target drive. `options.read_only` decides how sections and
    /// records of unknown kinds are treated (see the module doc).
    #[doc(hidden)]
    pub fn from_image(
        file: &DbFile,
        log: Option<&WalContents>,
        options: &OpenOptions,
    ) -> Result<OpenedImage> {
        if !options.read_only {
            file.check_writable()?;
        }
        let header = &file.header;
        // The graph (level 0 checked in place) and the id catalogue are
        // read side by side, then checked against each other.
        let items = file.section(SectionKind::Items, 0)?;
        let slots = usize::try_from(header.slot_count).unwrap_or(usize::MAX);
        let (index, catalog) = rayon::join(|| Index::from_file(file), || read_items(items, slots));
        let index = index?;
        let catalog = catalog?;
        check_items(&catalog, &index)?;
        let saved = file
            .optional_section(SectionKind::Feedback, 0)
            .map(|bytes| SavedFeedback::decode(bytes, options.recent_searches, index.dimensions()))
            .transpose()?;
        let learning = LearningSettings::from_options(
            options.learning.as_ref(),
            saved
                .as_ref()
                .map_or(&LearningSettings::default(), |s| &s.settings),
        )?;
        let mut db = VectorDb::with_index(index, catalog, options.recent_searches, learning)?;
        if let Some(saved) = saved {
            // A reader keeps its own table, under a fresh nonce: the saved
            // one names the writer's searches, and readers that restored
            // it would all hand out the writer's next search ids, which
            // merge as one session when their feedback reaches the writer.
            if !options.read_only {
                db.recent = Arc::new(Mutex::new(saved.recent));
            }
            // Restored with learning off too, and saved back as it was.
            let model = file.optional_section(SectionKind::Model, 0);
            db.learner
                .restore(Some(saved.log), model, &db.index, &|ids| db.slots_of(ids))?;
        }
        // What writers did while a checkpoint wrote the sections.
        let mut carried_records = match file.optional_section(SectionKind::LogTail, 0) {
            Some(tail) => db.replay(&decode_tail(tail)?, options.read_only, true)?,
            None => Vec::new(),
        };
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
                carried_records.extend(db.replay(&log.records, options.read_only, false)?);
                true
            }
        };
        db.lock_recent().start_new_run(crate::learn::now_ms());
        Ok(OpenedImage {
            db,
            replayed,
            carried_records,
        })
    }

    /// Applies logged changes; returns the records of unknown kinds that
    /// are safe to copy. `tail`: the records are a checkpoint's log tail,
    /// replayed over sections that may already hold some of their effects
    /// (see `online_save.rs`).
    fn replay(&self, records: &[Vec<u8>], read_only: bool, tail: bool) -> Result<Vec<Vec<u8>>> {
        let mut carried = Vec::new();
        for (i, record) in records.iter().enumerate() {
            let log = if tail { "log tail" } else { "write-ahead log" };
            let section = format!("{log} record {}", i + 1);
            let applied = match decode_op(record, self.dimensions(), &section)? {
                WalOp::Insert(items) => NewItems::from_items(items, self.dimensions())
                    .and_then(|items| {
                        self.insert_batch_logged(items, &|_, _| {}, false, &Cancel::never())
                    })
                    .map(|_| ()),
                WalOp::Update {
                    id,
                    vector,
                    metadata,
                } => {
                    let create = tail && vector.is_some();
                    match self.replace_logged(&id, vector, Some(metadata), create, false) {
                        Err(Error::NotFound(_)) if tail => Ok(()),
                        other => other.map(|_| ()),
                    }
                }
                WalOp::Delete(id) => self.delete_logged(&id, false).map(|_| ()),
                WalOp::Feedback(session) => {
                    self.replay_feedback(session);
                    Ok(())
                }
                WalOp::PurgeFeedback(before_ms) => {
                    self.apply_purge(before_ms);
                    Ok(())
                }
                WalOp::ResetLearning => {
                    self.learner.reset();
                    Ok(())
                }
                WalOp::Unknown { code, flags } => {
                    if flags.must_understand && !read_only {
                        return Err(Error::UnsupportedFormat(format!(
                            "{section} is of kind {code}, which this hnsw-gnn does not know and must not skip; open the database with readOnly: true, or upgrade hnsw-gnn"
                        )));
                    }
                    if flags.safe_to_copy {
                        carried.push(record.clone());
                    }
                    Ok(())
                }
            };
            applied.map_err(|e| Error::corrupt(section, format!("does not apply: {e}")))?;
        }
        Ok(carried)
    }

    /// Writes the whole database to its file atomically (temp file, fsync,
    /// rename, fsync of the directory) and empties the write-ahead log,
    /// reclaiming the slots of deleted and replaced items first (see
    /// `compact.rs`).
    /// Writes wait while it runs; searches do not. On failure (`ERR_IO`) the
    /// previous file and the log are intact.
    pub fn save(&self) -> Result<()> {
        self.save_with(&Cancel::never())
    }

    /// [`VectorDb::save`] that stops with `ERR_ABORTED` once `cancel` is
    /// set, leaving the previous file and the log as they were (the temp
    /// file is removed).
    pub fn save_with(&self, cancel: &Cancel) -> Result<()> {
        cancel.check("save")?;
        let _saving = self.lock_saving();
        let _gate = self.gate.write().unwrap_or_else(|e| e.into_inner());
        self.check_open()?;
        let persistence = self.persistence.as_ref().ok_or_else(|| {
            Error::invalid_argument("this database has no file: create it with a path to save it")
        })?;
        if persistence.wal.is_none() {
            return Err(Error::ReadOnly);
        }
        // A saved file holds no tombstones (and the copies compaction
        // makes of the vectors are replaced by the new file's mapping).
        self.compact_exclusive()?;
        cancel.check("save")?;
        let generation = persistence.lock_file().generation + 1;
        self.write_snapshot(generation, cancel)
    }

    /// Writes generation `generation` of the file, resets the log to
    /// continue it, and serves vectors from the new file. Callers hold the
    /// gate for writing (or own the database exclusively).
    fn write_snapshot(&self, generation: u64, cancel: &Cancel) -> Result<()> {
        let persistence = self
            .persistence
            .as_ref()
            .ok_or_else(|| Error::Internal("a save of a database without a file".into()))?;
        let mut state = persistence.lock_file();
        let size = {
            let catalog = self.read_catalog();
            let snapshot = self.index.snapshot();
            let header = snapshot.header(self.index.params(), state.file_id, generation);
            let mut sections = snapshot.sections();
            let catalog = &*catalog;
            sections.push(section(
                SectionKind::Items,
                0,
                move |out: &mut dyn Write| write_items(out, catalog),
            ));
            let feedback = self.saved_feedback();
            sections.push(section(
                SectionKind::Feedback,
                0,
                move |out: &mut dyn Write| out.write_all(&feedback),
            ));
            if let Some(model) = self.learner.encode_model() {
                sections.push(section(
                    SectionKind::Model,
                    0,
                    move |out: &mut dyn Write| out.write_all(&model),
                ));
            }
            if let Some(carried) = &state.carried_sections {
                sections.extend(carried.sources());
            }
            // Every section writes through a writer that fails once
            // cancelled; the failed write removes its temp file.
            let sections = sections
                .into_iter()
                .map(|source| SectionSource {
                    write: Box::new(move |out: &mut dyn Write| {
                        (source.write)(&mut CancelWrite { out, cancel })
                    }),
                    ..source
                })
                .collect();
            match write_db_file(&persistence.path, &header, sections) {
                Err(_) if cancel.is_cancelled() => return cancel.check("save"),
                written => written?,
            }
        };
        self.file_written(persistence, &mut state, generation, size)
    }

    /// After a save or checkpoint renamed generation `generation` into
    /// place: the log starts over for it (with the records of unknown kinds
    /// it carries), and the rows just written replace the heap copies and
    /// carried sections are read from the new file. If mapping fails the
    /// heap copies simply stay. Callers hold the gate.
    pub(super) fn file_written(
        &self,
        persistence: &Persistence,
        state: &mut FileState,
        generation: u64,
        size: u64,
    ) -> Result<()> {
        state.generation = generation;
        state.file_bytes = size;
        self.checkpoints.saved(size);
        if let Some(wal) = &persistence.wal {
            wal.reset(state.file_id, generation)?;
            for record in &state.carried_records {
                wal.append(record)?;
            }
        }
        if let Ok(file) = DbFile::open(&persistence.path, false) {
            if let Ok(vectors) = file.vectors() {
                self.index.adopt_mapped_prefix(vectors);
            }
            state.carried_sections = Some(file.carried_sections());
        }
        Ok(())
    }

    /// For a database opened read-only: a fresh open of its file and log
    /// (with the same options) if the writer has saved or logged since this
    /// one was opened, or `None` if it has not. Cheap when nothing changed:
    /// one header read and the log's length. `ERR_INVALID_ARGUMENT` for a
    /// writable or in-memory database, which sees its own changes.
    pub fn refreshed(&self) -> Result<Option<VectorDb>> {
        self.check_open()?;
        let (persistence, reader) = self
            .persistence
            .as_ref()
            .and_then(|p| Some((p, p.reader.as_ref()?)))
            .ok_or_else(|| {
                Error::invalid_argument(
                    "refresh() is for databases opened with readOnly: true; a writer sees its own changes",
                )
            })?;
        let (file_id, generation) = {
            let state = persistence.lock_file();
            (state.file_id, state.generation)
        };
        let now = DbFile::open(&persistence.path, false)?;
        let unchanged = now.header.file_id == file_id
            && now.header.generation == generation
            && log_len(&persistence.path) == reader.log_bytes;
        if unchanged {
            return Ok(None);
        }
        let mut fresh = VectorDb::open(&persistence.path, &reader.options)?;
        // Searches served before the refresh still take feedback, and
        // feedback not exported yet (or given while the bindings swap the
        // two) is not lost: both opens hold the same tables.
        fresh.recent = Arc::clone(&self.recent);
        fresh.outbox = Arc::clone(&self.outbox);
        Ok(Some(fresh))
    }

    /// Flushes and fsyncs the log and releases the file; later calls fail
    /// with `ERR_CLOSED`. Waits for writes in progress. Unsaved changes are
    /// safe in the log and replayed by the next open. Closing twice is a
    /// no-op.
    pub fn close(&self) -> Result<()> {
        {
            let _gate = self.gate.write().unwrap_or_else(|e| e.into_inner());
            if self.closed.swap(true, std::sync::atomic::Ordering::AcqRel) {
                return Ok(());
            }
        }
        // Not under the gate: a training pass in progress (at the lowest
        // CPU priority) finishes first, and nothing should queue behind it;
        // writes from here on fail with ERR_CLOSED.
        self.stop_background_training();
        self.checkpoints.shut_down();
        let _gate = self.gate.write().unwrap_or_else(|e| e.into_inner());
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
        let index_heap_bytes = self.index.memory_bytes() as u64;
        let catalog_heap_bytes = self.read_catalog().heap_bytes() as u64;
        let recent_searches_heap_bytes = self.lock_recent().heap_bytes() as u64;
        let learning_heap_bytes = self.learner.stats().heap_bytes as u64;
        let (checkpoints, last_checkpoint_error) = self.checkpoints.report();
        DbStats {
            items: self.len(),
            slots: self.index.slot_count(),
            path: persistence.map(|p| p.path.display().to_string()),
            file_bytes: state.map_or(0, |s| s.0),
            wal_bytes: wal.map_or(0, |w| w.len()),
            mapped_bytes: self.index.mapped_bytes() as u64,
            index_heap_bytes,
            catalog_heap_bytes,
            recent_searches_heap_bytes,
            learning_heap_bytes,
            heap_bytes: index_heap_bytes
                + catalog_heap_bytes
                + recent_searches_heap_bytes
                + learning_heap_bytes,
            file_mapping: FILE_MAPPING,
            file_lock: wal.map(Wal::lock),
            wal_handle: wal.map(Wal::handle),
            durability: wal.map(Wal::durability),
            read_only: persistence.is_some_and(|p| p.wal.is_none()),
            generation: state.map_or(0, |s| s.1),
            checkpoints,
            last_checkpoint_error,
        }
    }
}

/// Bytes in the log beside the database at `path` now; 0 without one.
fn log_len(path: &Path) -> u64 {
    std::fs::metadata(wal::wal_path(path)).map_or(0, |m| m.len())
}

/// The feedback section: the learning settings, the recent searches that
/// feedback may still name, and the feedback log.
struct SavedFeedback<'a> {
    settings: LearningSettings,
    recent: RecentSearches,
    log: &'a [u8],
}

const FEEDBACK_SECTION_VERSION: u32 = 1;

impl VectorDb {
    pub(super) fn saved_feedback(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.put_u32(FEEDBACK_SECTION_VERSION);
        let settings = serde_json::to_vec(&self.learner.settings().to_options())
            .expect("JSON values always serialise");
        out.put_optional_bytes(Some(&settings));
        self.lock_recent().encode(&mut out);
        let log = self.learner.encode_log();
        out.put_optional_bytes(Some(&log));
        out
    }
}

impl<'a> SavedFeedback<'a> {
    fn decode(bytes: &'a [u8], recent_searches: usize, dimensions: usize) -> Result<Self> {
        let mut r = ByteReader::new(bytes, "feedback section");
        let version = r.u32("version")?;
        if version != FEEDBACK_SECTION_VERSION {
            return Err(r.corrupt(format!("version {version}")));
        }
        let settings = r
            .optional_bytes("learning settings")?
            .ok_or_else(|| r.corrupt("learning settings missing"))?;
        let settings: serde_json::Value = serde_json::from_slice(settings)
            .map_err(|e| r.corrupt(format!("learning settings: {e}")))?;
        let settings =
            LearningSettings::from_options(Some(&settings), &LearningSettings::default())
                .map_err(|e| r.corrupt(format!("learning settings: {e}")))?;
        let recent = RecentSearches::decode(&mut r, recent_searches, dimensions)?;
        let log = r
            .optional_bytes("feedback log")?
            .ok_or_else(|| r.corrupt("feedback log missing"))?;
        r.finish()?;
        Ok(SavedFeedback {
            settings,
            recent,
            log,
        })
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
