//! Writes: insert (single and batch), upsert, update and delete. Each is
//! applied in memory (visible to searches at once), logged under the
//! catalog lock so the log's order is the order of application, and
//! acknowledged once its record is durable (see `vector_db.rs`).

use super::items::{validate_id, validate_metadata, Catalog, Metadata, NewItem, NewItems};
use super::vector_db::{Applied, VectorDb};
use super::wal_record;
use crate::cancel::Cancel;
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::sync::Arc;

impl VectorDb {
    /// Inserts one item; `DuplicateId` if its id exists. Returns the id.
    pub fn insert(&self, item: NewItem) -> Result<String> {
        self.durable(self.insert_applied(item)?)
    }

    /// [`VectorDb::insert`] without waiting for durability.
    pub fn insert_applied(&self, item: NewItem) -> Result<Applied<String>> {
        let items = NewItems::from_items(vec![item], self.dimensions())?;
        self.insert_items_applied(items, &|_, _| {}, &Cancel::never())
            .map(|applied| applied.map(|mut ids| ids.remove(0)))
    }

    /// Inserts many items, linking them in parallel on all cores. All or
    /// nothing: a bad vector or a duplicate id (in the batch or the
    /// database) rejects the whole batch before anything is stored.
    pub fn insert_batch(
        &self,
        items: Vec<NewItem>,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<Vec<String>> {
        let items = NewItems::from_items(items, self.dimensions())?;
        self.durable(self.insert_items_applied(items, progress, &Cancel::never())?)
    }

    /// [`VectorDb::insert_batch`] of items laid out end to end, which
    /// stores their vectors without copying them, and without waiting for
    /// durability. Cancelled while linking, the batch is taken out again
    /// (its deletes logged and durable) and the call fails with
    /// `ERR_ABORTED`: the items are not there, before or after a restart.
    pub fn insert_items_applied(
        &self,
        items: NewItems,
        progress: &(dyn Fn(usize, usize) + Sync),
        cancel: &Cancel,
    ) -> Result<Applied<Vec<String>>> {
        cancel.check("insertBatch")?;
        let gate = self.begin_write()?;
        let (value, sequence) = self.insert_batch_logged(items, progress, true, cancel)?;
        if cancel.is_cancelled() {
            let undone = self.take_back(&value)?;
            drop(gate);
            self.durable(undone)?;
            return Err(Error::Aborted("insertBatch was aborted".into()));
        }
        Ok(Applied { value, sequence })
    }

    /// Deletes the items of a batch that was cancelled while linking
    /// (tombstones, without repairing around them: many were never linked).
    fn take_back(&self, ids: &[String]) -> Result<Applied<()>> {
        let mut catalog = self.write_catalog();
        let sequence = self.log(true, || {
            ids.iter().map(|id| wal_record::encode_delete(id)).collect()
        });
        for id in ids {
            if let Some(slot) = catalog.slot_of.remove(id.as_str()) {
                catalog.vacate(slot);
                self.index.tombstone(slot);
            }
        }
        Ok(Applied {
            value: (),
            sequence: sequence?,
        })
    }

    pub(super) fn insert_batch_logged(
        &self,
        items: NewItems,
        progress: &(dyn Fn(usize, usize) + Sync),
        log: bool,
        cancel: &Cancel,
    ) -> Result<(Vec<String>, Option<u64>)> {
        if items.is_empty() {
            return Ok((Vec::new(), None));
        }
        if items.vectors.len() != items.len() * self.dimensions()
            || !(items.metadata.is_empty() || items.metadata.len() == items.len())
        {
            return Err(Error::Internal(format!(
                "a batch of {} ids has {} values and {} metadata",
                items.len(),
                items.vectors.len(),
                items.metadata.len()
            )));
        }
        for metadata in items.metadata.iter().flatten() {
            validate_metadata(metadata)?;
        }
        let NewItems {
            ids: requested,
            vectors,
            metadata,
        } = items;
        let (range, ids, sequence) = {
            let mut catalog = self.write_catalog();
            crate::fault::trip(crate::fault::Site::Insert);
            let ids = self.assign_ids(&catalog, &requested)?;
            drop(requested);
            // Logged as given (replay brings the vectors to stored form as
            // this call does) once the index has checked them, and before
            // they move into the index without a copy. A failed log append
            // still applies the change, as before (the record may have
            // reached the file); the caller gets the error.
            let vectors = self.index.check_rows(vectors)?;
            let sequence = self.log(log, || {
                wal_record::encode_insert(&ids, vectors.as_slice(), self.dimensions(), &metadata)
            });
            let slots = self.index.append_checked(vectors)?;
            let mut metadata = metadata.into_iter();
            for id in &ids {
                catalog.push(id.clone(), metadata.next().flatten().map(Arc::new));
            }
            debug_assert_eq!(catalog.ids.len(), slots.end as usize);
            (slots, ids, sequence)
        };
        if range.len() == 1 {
            // One item: link on this thread, skipping the Rayon hand-off.
            self.index.link_one(range.start);
            progress(1, 1);
        } else {
            self.index
                .link_batch(range, progress, &|| cancel.is_cancelled());
        }
        Ok((ids.iter().map(|id| id.to_string()).collect(), sequence?))
    }

    /// Inserts the item, or replaces the vector and metadata of an existing
    /// one with that id. Returns the id.
    pub fn upsert(&self, item: NewItem) -> Result<String> {
        self.durable(self.upsert_applied(item)?)
    }

    /// [`VectorDb::upsert`] without waiting for durability.
    pub fn upsert_applied(&self, item: NewItem) -> Result<Applied<String>> {
        let Some(id) = item.id.clone() else {
            return self.insert_applied(item);
        };
        let _gate = self.begin_write()?;
        let sequence =
            self.replace_logged(&id, Some(item.vector), Some(item.metadata), true, true)?;
        Ok(Applied {
            value: id,
            sequence,
        })
    }

    /// Changes an existing item: a new vector, new metadata (`Some(None)`
    /// clears it), or both. `NotFound` if the id is unknown.
    pub fn update(
        &self,
        id: &str,
        vector: Option<Vec<f32>>,
        metadata: Option<Option<Metadata>>,
    ) -> Result<()> {
        self.durable(self.update_applied(id, vector, metadata)?)
    }

    /// [`VectorDb::update`] without waiting for durability.
    pub fn update_applied(
        &self,
        id: &str,
        vector: Option<Vec<f32>>,
        metadata: Option<Option<Metadata>>,
    ) -> Result<Applied<()>> {
        let _gate = self.begin_write()?;
        let sequence = self.replace_logged(id, vector, metadata, false, true)?;
        Ok(Applied {
            value: (),
            sequence,
        })
    }

    /// Returns the log sequence number of the change.
    pub(super) fn replace_logged(
        &self,
        id: &str,
        vector: Option<Vec<f32>>,
        metadata: Option<Option<Metadata>>,
        create: bool,
        log: bool,
    ) -> Result<Option<u64>> {
        validate_id(id)?;
        if let Some(Some(metadata)) = &metadata {
            validate_metadata(metadata)?;
        }
        let (new_slot, old_slot, sequence) = {
            let mut catalog = self.write_catalog();
            let old_slot = catalog.slot_of.get(id);
            let Some(old) = old_slot else {
                if !create {
                    return Err(Error::NotFound(id.to_string()));
                }
                drop(catalog);
                let new_vector = vector
                    .clone()
                    .ok_or_else(|| Error::invalid_argument("a new item needs a vector"))?;
                let item = NewItem {
                    id: Some(id.to_string()),
                    vector: new_vector,
                    metadata: metadata.clone().flatten(),
                };
                let items = NewItems::from_items(vec![item], self.dimensions())?;
                return match self.insert_batch_logged(items, &|_, _| {}, log, &Cancel::never()) {
                    // Another writer created it between our check and insert.
                    Err(Error::DuplicateId(_)) => {
                        self.replace_logged(id, vector, metadata, create, log)
                    }
                    other => other.map(|(_, sequence)| sequence),
                };
            };
            let metadata = match metadata {
                Some(new) => new.map(Arc::new),
                None => catalog.metadata[old as usize].clone(),
            };
            match vector {
                None => {
                    let sequence = self.log(log, || {
                        vec![wal_record::encode_update(id, None, metadata.as_deref())]
                    });
                    catalog.set_metadata(old, metadata);
                    return sequence;
                }
                Some(vector) => {
                    let slot = self.index.append_batch(&[&vector])?.start;
                    let sequence = self.log(log, || {
                        vec![wal_record::encode_update(
                            id,
                            Some(&vector),
                            metadata.as_deref(),
                        )]
                    });
                    let id = catalog.vacate(old).expect("live slot has an id");
                    debug_assert_eq!(catalog.ids.len(), slot as usize);
                    catalog.push(id, metadata);
                    self.index.tombstone(old);
                    self.seen.carry(old, slot);
                    (slot, old, sequence)
                }
            }
        };
        self.index.link_one(new_slot);
        self.index.repair(old_slot);
        sequence
    }

    /// Deletes an item; false if the id is unknown.
    pub fn delete(&self, id: &str) -> Result<bool> {
        self.durable(self.delete_applied(id)?)
    }

    /// [`VectorDb::delete`] without waiting for durability.
    pub fn delete_applied(&self, id: &str) -> Result<Applied<bool>> {
        let _gate = self.begin_write()?;
        let (value, sequence) = self.delete_logged(id, true)?;
        Ok(Applied { value, sequence })
    }

    pub(super) fn delete_logged(&self, id: &str, log: bool) -> Result<(bool, Option<u64>)> {
        let (slot, sequence) = {
            let mut catalog = self.write_catalog();
            let Some(slot) = catalog.slot_of.get(id) else {
                return Ok((false, None));
            };
            let sequence = self.log(log, || vec![wal_record::encode_delete(id)]);
            catalog.slot_of.remove(id);
            catalog.vacate(slot);
            self.index.tombstone(slot);
            (slot, sequence)
        };
        // Deleted items never come back through learning.
        self.learner.forget_item(id);
        self.index.repair(slot);
        Ok((true, sequence?))
    }

    pub(super) fn assign_ids(
        &self,
        catalog: &Catalog,
        requested: &[Option<String>],
    ) -> Result<Vec<Arc<str>>> {
        let mut fresh: HashMap<&str, ()> = HashMap::with_capacity(requested.len());
        let mut ids = Vec::with_capacity(requested.len());
        for id in requested {
            let id: Arc<str> = match id {
                Some(id) => {
                    validate_id(id)?;
                    if catalog.slot_of.contains(id.as_str()) || fresh.insert(id, ()).is_some() {
                        return Err(Error::DuplicateId(id.clone()));
                    }
                    Arc::from(id.as_str())
                }
                None => Arc::from(self.generate_id()),
            };
            ids.push(id);
        }
        Ok(ids)
    }

    pub(super) fn generate_id(&self) -> String {
        let mut rng = self.id_rng.lock().unwrap_or_else(|e| e.into_inner());
        let (hi, lo) = (rng.next_u64(), rng.next_u64());
        // UUID v4: version nibble 4, variant bits 10.
        let hi = (hi & !0xF000) | 0x4000;
        let lo = (lo & !(0b11 << 62)) | (0b10 << 62);
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xFFFF,
            hi & 0xFFFF,
            lo >> 48,
            lo & 0xFFFF_FFFF_FFFF
        )
    }
}
