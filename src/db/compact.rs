//! Compaction: deleted and replaced items give their slots back.
//!
//! A delete (and an update that moves an item to a new slot) leaves a
//! tombstone — the vector and links stay, so searches route through it —
//! until a compaction renumbers the live slots (see `hnsw/compact.rs`).
//! Everything keyed by slot follows under one exclusion: the index, the
//! catalogue and the serving model's slot bindings. The feedback log, the
//! model's tables and the write-ahead log are keyed by id, so they need no
//! change. `save()` compacts before writing, so a saved file holds no
//! tombstones; `compact()` does it for a database without a file.

use super::vector_db::VectorDb;
use crate::error::Result;
use crate::hnsw::Compacted;
use std::sync::atomic::Ordering;

impl VectorDb {
    /// Slots of deleted and replaced items not yet reclaimed.
    pub fn deleted_slots(&self) -> usize {
        self.index.deleted_count()
    }

    /// Reclaims the slots of deleted and replaced items now. Writes wait
    /// while it runs; searches wait only for the final swap. Returns
    /// whether anything was reclaimed (nothing to reclaim, or a training
    /// pass in progress, which reads slots throughout: it is left to the
    /// next compaction).
    pub fn compact(&self) -> Result<bool> {
        let _saving = self.lock_saving();
        let _gate = self.gate.write().unwrap_or_else(|e| e.into_inner());
        self.check_open()?;
        self.compact_exclusive()
    }

    /// [`VectorDb::compact`] for a caller that holds the gate exclusively.
    pub(super) fn compact_exclusive(&self) -> Result<bool> {
        if self.index.deleted_count() == 0 {
            return Ok(false);
        }
        let Some(_paused) = self.learner.pause_training() else {
            return Ok(false);
        };
        // Built beside the live state (searches go on), then swapped in.
        let Compacted { index, new_slot } = self.index.compacted()?;
        let catalog = self.read_catalog().renumbered(&new_slot);
        let model = self.learner.renumbered_model(&index, &|ids| {
            let slots = ids.iter().map(|id| catalog.slot_of.get(id)).collect();
            (slots, catalog.ids.len())
        })?;
        {
            // Searches hold the catalogue's read lock from their first slot
            // to their last, so none sees a mix of numberings.
            let mut current = self.write_catalog();
            self.index.replace_with(index);
            *current = catalog;
            self.learner.serve_renumbered(model);
            self.seen.renumber(&new_slot);
        }
        // Invalidates the snapshot row order cached for the old slots.
        self.write_epoch.fetch_add(1, Ordering::AcqRel);
        Ok(true)
    }
}
