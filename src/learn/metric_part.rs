//! The learned metric's part of a model: the metric `T` and every item's
//! unit encoding `h` by slot (one round of message passing over the HNSW
//! neighbourhood), read per candidate at query time.

use super::metric::LearnedMetric;
use super::model::ItemGraph;
use crate::distance::Kernels;
use crate::hnsw::Index;
use rayon::prelude::*;

/// The learned metric and every item's projection `T v`, by slot; an
/// item's metric encoding is `h_i = (1 − α)·T v_i + α·mean_{N(i)} T v_j`
/// over its first `neighbours` HNSW neighbours (message passing at query
/// time, so items added after training are encoded like the rest).
pub struct MetricPart {
    pub metric: LearnedMetric,
    /// `slots × rank` unit encodings `h`, as of training; later slots are
    /// encoded on use.
    pub encodings: Vec<f32>,
    /// α: weight of the neighbours' mean.
    pub message_weight: f32,
    /// Neighbours averaged per item.
    pub neighbours: usize,
}

impl MetricPart {
    /// The part for `metric` over `index`: every slot's projection, then
    /// every slot's unit-length encoding `h` by one round of message
    /// passing (both in parallel on the current Rayon pool), so a search
    /// reads one short row per candidate.
    pub fn for_index(
        metric: LearnedMetric,
        index: &Index,
        message_weight: f32,
        neighbours: usize,
    ) -> MetricPart {
        let slots = index.slot_count();
        let r = metric.rank;
        let mut projections = vec![0.0f32; slots * r];
        index.map_vectors(0..slots as u32, r, &mut projections, &|v, out| {
            metric.project(v, out)
        });
        let mut part = MetricPart {
            metric,
            encodings: Vec::new(),
            message_weight,
            neighbours,
        };
        let mut encodings = vec![0.0f32; slots * r];
        encodings
            .par_chunks_mut(r.max(1))
            .enumerate()
            .for_each(|(slot, out)| {
                let own = &projections[slot * r..(slot + 1) * r];
                let neighbours = index.level0_neighbours(slot as u32);
                let rows = neighbours
                    .iter()
                    .take(part.neighbours)
                    .filter(|&&n| (n as usize) < slots)
                    .map(|&n| &projections[n as usize * r..(n as usize + 1) * r]);
                part.combine(own, rows, out);
            });
        part.encodings = encodings;
        part
    }

    /// `out = unit((1 − α)·own + α·mean(rows))` (just `unit(own)` without
    /// rows or message passing).
    fn combine<'a>(&self, own: &[f32], rows: impl Iterator<Item = &'a [f32]>, out: &mut [f32]) {
        out.copy_from_slice(own);
        if self.message_weight > 0.0 && self.neighbours > 0 {
            let mut mean = vec![0.0f32; own.len()];
            let mut count = 0usize;
            for row in rows {
                mean.iter_mut().zip(row).for_each(|(m, x)| *m += x);
                count += 1;
            }
            if count > 0 {
                let a = self.message_weight;
                for (o, m) in out.iter_mut().zip(&mean) {
                    *o = (1.0 - a) * *o + a * m / count as f32;
                }
            }
        }
        let norm = (Kernels::active().dot)(out, out).sqrt();
        if norm > 0.0 {
            out.iter_mut().for_each(|x| *x /= norm);
        }
    }

    /// Hints the cache lines of `slot`'s encoding in the table.
    pub(super) fn prefetch(&self, slot: u32) {
        let r = self.metric.rank;
        let start = slot as usize * r;
        if let Some(row) = self.encodings.get(start..start + r) {
            crate::distance::prefetch(row);
        }
    }

    /// The unit encoding `h` of the item at `slot`: from the table, or, for
    /// an item added after training, projected and combined now.
    pub(super) fn encoding<'a>(
        &'a self,
        slot: u32,
        items: &dyn ItemGraph,
        scratch: &'a mut Vec<f32>,
    ) -> Option<&'a [f32]> {
        let r = self.metric.rank;
        let start = slot as usize * r;
        if start + r <= self.encodings.len() {
            return Some(&self.encodings[start..start + r]);
        }
        let project = |slot: u32| {
            items.vector(slot).map(|v| {
                let mut p = vec![0.0f32; r];
                self.metric.project(&v, &mut p);
                p
            })
        };
        let own = project(slot)?;
        let rows: Vec<Vec<f32>> = items
            .neighbours(slot)
            .into_iter()
            .take(self.neighbours)
            .filter_map(project)
            .collect();
        scratch.resize(r, 0.0);
        self.combine(&own, rows.iter().map(Vec::as_slice), scratch);
        Some(scratch)
    }
}
