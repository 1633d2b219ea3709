//! `GraphSnapshot`: the live items, their vectors and their level-0 links
//! in one consistent read, rows in locality order: what the GNN layers
//! take. The row order (a projection tree over the vectors, the costly
//! part) is cached until the next write.

use super::vector_db::VectorDb;
use crate::cancel::Cancel;
use crate::error::{Error, Result};
use crate::hnsw::Csr;
use crate::locality::locality_order;
use ndarray::{Array2, ArrayView1};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Seeds the locality order, so a snapshot's rows do not change between
/// calls on an unchanged database.
const ORDER_SEED: u64 = 0x006E_0DE5;

/// The live items, their vectors and their level-0 links, row-aligned.
#[derive(Clone, Debug)]
pub struct GraphSnapshot {
    /// The item of each row.
    pub ids: Vec<Arc<str>>,
    /// Row `i` is item `ids[i]`'s stored vector (unit length under cosine).
    pub features: Array2<f32>,
    /// Row `i` lists the rows item `i` links to at level 0 (links to
    /// deleted items dropped).
    pub links: Csr,
}

/// Rows between checks for cancellation.
const ROWS_PER_CHECK: usize = 4096;

/// The cached row order: the slot of each row, as of a write epoch.
pub(super) struct RowOrder {
    epoch: u64,
    slots: Arc<Vec<u32>>,
}

impl VectorDb {
    /// The live items as a graph, in one consistent read: no write is in
    /// progress while it is taken. Rows follow a locality order of the
    /// vectors ([`locality_order`]), so linked items sit in nearby rows and
    /// message passing over them reads mostly from cache; the order is
    /// cached until the next write, so repeated snapshots agree row for row.
    pub fn snapshot(&self) -> Result<GraphSnapshot> {
        self.snapshot_with(&Cancel::never())
    }

    /// [`VectorDb::snapshot`] that stops with `ERR_ABORTED` once `cancel` is
    /// set (checked every [`ROWS_PER_CHECK`] rows of each pass).
    pub fn snapshot_with(&self, cancel: &Cancel) -> Result<GraphSnapshot> {
        cancel.check("snapshot")?;
        // Excludes writes, including a batch still linking after it let go
        // of the catalog.
        let _gate = self.gate.write().unwrap_or_else(|e| e.into_inner());
        self.check_open()?;
        let catalog = self.read_catalog();
        let slots = self.row_order(
            |live| {
                let mut by_slot = Array2::<f32>::zeros((live.len(), self.dimensions()));
                for (row, &slot) in live.iter().enumerate() {
                    if row % ROWS_PER_CHECK == 0 {
                        cancel.check("snapshot")?;
                    }
                    by_slot
                        .row_mut(row)
                        .assign(&ArrayView1::from(&self.live_vector(slot)?));
                }
                let order = locality_order(by_slot.view(), ORDER_SEED);
                cancel.check("snapshot")?;
                Ok(order
                    .iter()
                    .map(|&position| live[position as usize])
                    .collect())
            },
            &catalog.ids,
        )?;
        let mut features = Array2::<f32>::zeros((slots.len(), self.dimensions()));
        for (row, &slot) in slots.iter().enumerate() {
            if row % ROWS_PER_CHECK == 0 {
                cancel.check("snapshot")?;
            }
            features
                .row_mut(row)
                .assign(&ArrayView1::from(&self.live_vector(slot)?));
        }
        let mut row_of = vec![u32::MAX; catalog.ids.len()];
        for (row, &slot) in slots.iter().enumerate() {
            row_of[slot as usize] = row as u32;
        }
        let level0 = self.index.level0_csr();
        let mut ids = Vec::with_capacity(slots.len());
        let mut links = Csr {
            offsets: Vec::with_capacity(slots.len() + 1),
            targets: Vec::with_capacity(level0.targets.len()),
        };
        links.offsets.push(0);
        for &slot in slots.iter() {
            let slot = slot as usize;
            let id = catalog.ids[slot].clone().ok_or_else(|| {
                Error::Internal(format!("slot {slot} in the row order has no id"))
            })?;
            ids.push(id);
            let range = level0.offsets[slot] as usize..level0.offsets[slot + 1] as usize;
            links.targets.extend(
                level0.targets[range]
                    .iter()
                    .map(|&n| row_of[n as usize])
                    .filter(|&r| r != u32::MAX),
            );
            links.offsets.push(links.targets.len() as u32);
        }
        Ok(GraphSnapshot {
            ids,
            features,
            links,
        })
    }

    /// The slot of each row: the cached order if no write came since it
    /// was computed, otherwise `compute(live slots)`.
    fn row_order(
        &self,
        compute: impl FnOnce(&[u32]) -> Result<Vec<u32>>,
        ids: &[Option<Arc<str>>],
    ) -> Result<Arc<Vec<u32>>> {
        let epoch = self.write_epoch.load(Ordering::Acquire);
        let mut cached = self.row_order.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(order) = cached.as_ref().filter(|o| o.epoch == epoch) {
            return Ok(order.slots.clone());
        }
        let live: Vec<u32> = (0..ids.len() as u32)
            .filter(|&slot| ids[slot as usize].is_some())
            .collect();
        let slots = Arc::new(compute(&live)?);
        *cached = Some(RowOrder {
            epoch,
            slots: slots.clone(),
        });
        Ok(slots)
    }

    fn live_vector(&self, slot: u32) -> Result<Vec<f32>> {
        self.index
            .vector(slot)
            .ok_or_else(|| Error::Internal(format!("live slot {slot} has no vector")))
    }
}
