//! A save that writers barely wait for: what automatic checkpoints run.
//!
//! `save()` holds the write gate from start to end, so at 1M items every
//! write waits the seconds it takes to write and sync the file. A
//! checkpoint instead holds the gate twice, briefly:
//!
//! 1. **The mark**: the slot count `N`, the entry point, the learner's
//!    state (feedback log, recent searches, model) as of now, and from now
//!    on the log keeps a copy of every record appended
//!    ([`crate::store::wal::Wal::start_capture`]).
//! 2. *(no gate)* The long sections are written while writes go on:
//!    vectors of slots `0..N` (they never change once stored), ids and
//!    metadata of those slots read a block at a time (an id deleted or
//!    moved meanwhile may or may not be in the file), levels with deletion
//!    marks that agree with the ids written, and the graph's lists as they
//!    are when read (see `hnsw/persist.rs`). The file is then synced.
//! 3. **The tail**: the records captured since the mark go into the file as
//!    its last section, then the header; a small sync, the rename, and the
//!    log starts over — all before a write is admitted again.
//!
//! An open replays the tail over the sections. Every change the sections
//! might lack is in the tail, and replaying one the sections already hold
//! is harmless — with two allowances (see `replay`): an update that
//! carries a vector re-creates an item the sections lack (its delete or
//! move happened before its ids were read, and the update's own record
//! follows), and an update of metadata alone for an item the sections
//! lack is skipped (a later delete or move in the tail removed it). Inserts
//! after the mark land in slots past `N`, which the file does not hold.
//!
//! A crash before the rename leaves the old file and the whole log; after
//! it, the new file holds everything the old log's tail held, and a log of
//! the older generation is discarded as after any save.
//!
//! Checkpoints do not compact (renumbering slots needs writers out); the
//! checkpoint thread falls back to a full `save()` when many slots are
//! tombstones (see `checkpoint.rs`).

use super::items::write_items_at;
use super::vector_db::VectorDb;
use crate::error::{Error, Result};
use crate::file::{write_atomically, ByteReader, ByteWriter, ContainerWriter};
use crate::store::format::DB_FILE;
use crate::store::{section, FileHeader, SectionKind};
use std::cell::RefCell;
use std::io::Write;

impl VectorDb {
    /// Writes the database to its file while writes go on (see the module
    /// doc); what the checkpoint thread runs. Errors as `save()`.
    pub fn checkpoint(&self) -> Result<()> {
        let _saving = self.lock_saving();
        let persistence = self.persistence.as_ref().ok_or_else(|| {
            Error::invalid_argument("this database has no file: create it with a path to save it")
        })?;
        let wal = persistence.wal.as_ref().ok_or(Error::ReadOnly)?;

        // 1. The mark.
        let (mark, feedback, model, file_id, generation, carried) = {
            let _gate = self.gate.write().unwrap_or_else(|e| e.into_inner());
            self.check_open()?;
            wal.start_capture();
            let state = persistence.lock_file();
            (
                self.index.mark(),
                self.saved_feedback(),
                self.learner.encode_model(),
                state.file_id,
                state.generation + 1,
                state.carried_sections.clone(),
            )
        };
        // Stops the capture however this ends.
        let _capture = CaptureStop(wal);

        // 2. The long sections, writers going on.
        let live = RefCell::new(Vec::new());
        let (vectors, index_sections) = self.index.sections_at(&mark, &live);
        let catalog = &self.catalog;
        let slots = mark.slots as usize;
        let mut sections = vec![
            vectors,
            section(SectionKind::Items, 0, |out: &mut dyn Write| {
                write_items_at(out, catalog, slots, &mut live.borrow_mut())
            }),
        ];
        sections.extend(index_sections);
        sections.push(section(SectionKind::Feedback, 0, |out: &mut dyn Write| {
            out.write_all(&feedback)
        }));
        if let Some(model) = model.as_deref() {
            sections.push(section(
                SectionKind::Model,
                0,
                move |out: &mut dyn Write| out.write_all(model),
            ));
        }
        if let Some(carried) = &carried {
            sections.extend(carried.sources());
        }
        let mut gate = None;
        let size = write_atomically(&persistence.path, |file, temp| {
            let io = |e| Error::io("cannot write", temp, e);
            let mut writer =
                ContainerWriter::new(file, &DB_FILE, sections.len() + 1).map_err(io)?;
            for source in sections {
                writer.section(source).map_err(io)?;
            }
            // Synced now, so the sync under the gate has only the tail.
            writer
                .flushed()
                .and_then(|file| file.sync_data())
                .map_err(|e| Error::io("cannot sync", temp, e))?;

            // 3. The tail, writers held until the log starts over.
            gate = Some(self.gate.write().unwrap_or_else(|e| e.into_inner()));
            self.check_open()?;
            let tail = wal.take_capture();
            writer
                .section(section(SectionKind::LogTail, 0, |out: &mut dyn Write| {
                    out.write_all(&encode_tail(&tail))
                }))
                .map_err(io)?;
            let live_count = live.borrow().iter().filter(|&&l| l).count() as u64;
            let header = FileHeader {
                dimensions: self.dimensions(),
                metric: self.metric(),
                m: self.params().m as u32,
                ef_construction: self.params().ef_construction as u32,
                ef_search: self.params().ef_search as u32,
                level_seed: self.params().seed,
                slot_count: mark.slots as u64,
                live_count,
                entry: mark.entry,
                file_id,
                generation,
                level_rng_state: mark.level_rng_state,
            };
            writer.finish(&header.encode()).map_err(io)
        })?;
        let mut state = persistence.lock_file();
        self.file_written(persistence, &mut state, generation, size)?;
        drop(gate);
        Ok(())
    }
}

/// Ends a log capture when a checkpoint stops, whichever way.
struct CaptureStop<'a>(&'a crate::store::wal::Wal);

impl Drop for CaptureStop<'_> {
    fn drop(&mut self) {
        self.0.take_capture();
    }
}

/// The log tail section: a record count, then each record length-prefixed.
fn encode_tail(records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + records.iter().map(|r| 4 + r.len()).sum::<usize>());
    out.put_u32(records.len() as u32);
    for record in records {
        out.put_optional_bytes(Some(record));
    }
    out
}

/// The records of a log tail section.
pub(super) fn decode_tail(bytes: &[u8]) -> Result<Vec<Vec<u8>>> {
    let what = SectionKind::LogTail.describe(0);
    let mut reader = ByteReader::new(bytes, &what);
    // Each record takes at least its 4-byte length.
    let count = reader.u32("record count")?;
    let count = reader.check_fits(count as u64, 4, "record count")?;
    let mut records = Vec::with_capacity(count);
    for _ in 0..count {
        let record = reader.optional_bytes("record")?;
        records.push(
            record
                .ok_or_else(|| reader.corrupt("a record is absent"))?
                .to_vec(),
        );
    }
    reader.finish()?;
    Ok(records)
}
