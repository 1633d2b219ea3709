//! The learned metric's part of a model: the metric `T` and every item's
//! unit encoding `h` by slot (one round of message passing over the HNSW
//! neighbourhood), read per candidate at query time.

use super::metric::LearnedMetric;
use super::model::ItemGraph;
use crate::distance::Kernels;
use crate::hnsw::Index;

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
        index.map_slots(0..slots as u32, r, &mut projections, &|item, out| {
            metric.project(item.vector(), out)
        });
        let mut part = MetricPart {
            metric,
            encodings: Vec::new(),
            message_weight,
            neighbours,
        };
        // Slots appended since `slots` was read have no projection here:
        // their encodings are computed on use, and their rows in this
        // sweep's neighbour lists are skipped.
        let mut encodings = vec![0.0f32; slots * r];
        index.map_slots(0..slots as u32, r, &mut encodings, &|item, out| {
            let slot = item.slot() as usize;
            let own = &projections[slot * r..(slot + 1) * r];
            let rows = item
                .level0_neighbours()
                .take(part.neighbours)
                .filter(|&n| (n as usize) < slots)
                .map(|n| &projections[n as usize * r..(n as usize + 1) * r]);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance::Metric;
    use crate::hnsw::HnswParams;
    use crate::testdata::clustered;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    fn index_of(vectors: &[Vec<f32>]) -> Index {
        let index = Index::new(vectors[0].len(), Metric::Euclidean, HnswParams::default()).unwrap();
        let rows: Vec<&[f32]> = vectors.iter().map(|v| v.as_slice()).collect();
        index.insert_batch(&rows, &|_, _| {}).unwrap();
        index
    }

    fn metric(rank: usize, dimensions: usize) -> LearnedMetric {
        LearnedMetric {
            rank,
            dimensions,
            transform: (0..rank * dimensions)
                .map(|i| ((i * 7919) % 13) as f32 / 13.0 - 0.5)
                .collect(),
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "builds a 5,000-item graph")]
    fn encodings_are_own_projection_blended_with_the_neighbours_mean() {
        let vectors = clustered(5_000, 24, 8, 3);
        let index = index_of(&vectors);
        let (alpha, neighbours) = (0.3f32, 4);
        let part = MetricPart::for_index(metric(6, 24), &index, alpha, neighbours);
        let project = |v: &[f32]| {
            let mut p = vec![0.0f32; 6];
            part.metric.project(v, &mut p);
            p
        };
        // Spans several of map_slots' blocks.
        for slot in [0u32, 1, 4095, 4096, 4999] {
            let own = project(&vectors[slot as usize]);
            let rows: Vec<Vec<f32>> = index
                .level0_neighbours(slot)
                .into_iter()
                .take(neighbours)
                .map(|n| project(&vectors[n as usize]))
                .collect();
            assert!(!rows.is_empty());
            let mut expected: Vec<f32> = (0..6)
                .map(|a| {
                    let mean = rows.iter().map(|r| r[a]).sum::<f32>() / rows.len() as f32;
                    (1.0 - alpha) * own[a] + alpha * mean
                })
                .collect();
            let norm = expected.iter().map(|x| x * x).sum::<f32>().sqrt();
            expected.iter_mut().for_each(|x| *x /= norm);
            let got = &part.encodings[slot as usize * 6..(slot as usize + 1) * 6];
            for (g, e) in got.iter().zip(&expected) {
                assert!((g - e).abs() < 1e-5, "slot {slot}: {got:?} vs {expected:?}");
            }
        }
    }

    /// Regression: building the part took the storage's read lock inside
    /// jobs on the global Rayon pool. A batch insert holding that lock
    /// while it waited for its own jobs on the same pool, and a single
    /// insert queued for the write lock (std's `RwLock` then turns new
    /// readers away), deadlocked all three within seconds.
    #[test]
    #[cfg_attr(miri, ignore = "threads racing for seconds")]
    fn building_parts_while_batches_and_single_inserts_run_never_deadlocks() {
        let dimensions = 16;
        let index = Arc::new(index_of(&clustered(12_000, dimensions, 16, 5)));
        let stop = Arc::new(AtomicBool::new(false));
        let done: Arc<[AtomicUsize; 3]> = Arc::new(Default::default());
        let worker = |kind: usize| {
            let (index, stop, done) = (index.clone(), stop.clone(), done.clone());
            std::thread::spawn(move || {
                let mut round = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    round += 1;
                    match kind {
                        0 => {
                            let part = MetricPart::for_index(metric(4, dimensions), &index, 0.5, 8);
                            assert!(part.encodings.len() >= 12_000 * 4);
                        }
                        1 => {
                            let batch = clustered(300, dimensions, 4, round);
                            let rows: Vec<&[f32]> = batch.iter().map(|v| v.as_slice()).collect();
                            index.insert_batch(&rows, &|_, _| {}).unwrap();
                        }
                        _ => {
                            index
                                .insert(&clustered(1, dimensions, 1, round)[0])
                                .unwrap();
                        }
                    }
                    done[kind].fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        let threads: Vec<_> = [0, 1, 2, 2].into_iter().map(worker).collect();
        let started = Instant::now();
        let mut last = [0usize; 3];
        let mut last_progress = Instant::now();
        while started.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(50));
            let now: Vec<usize> = done.iter().map(|d| d.load(Ordering::Relaxed)).collect();
            if now.iter().zip(&last).any(|(n, l)| n > l) {
                last_progress = Instant::now();
                last.copy_from_slice(&now);
            }
            // Far above any single call here (a part over 12k slots takes
            // milliseconds), so only a hang trips it.
            assert!(
                last_progress.elapsed() < Duration::from_secs(20),
                "no call finished for 20 s: deadlock (counts {now:?})"
            );
        }
        stop.store(true, Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(30);
        for thread in threads {
            while !thread.is_finished() {
                assert!(
                    Instant::now() < deadline,
                    "a worker never finished: deadlock"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            thread.join().unwrap();
        }
        let counts: Vec<usize> = done.iter().map(|d| d.load(Ordering::Relaxed)).collect();
        assert!(
            counts.iter().all(|&c| c > 0),
            "every kind of call ran: {counts:?}"
        );
    }
}
