//! The learned model a reranker serves: what feedback taught, frozen. A
//! trainer builds one (`trainer.rs`); the learner publishes it behind an
//! `Arc` and searches read it without locks.
//!
//! A candidate item `i` for query `q` gets the learned score
//!
//! ```text
//! g(q, i) = λ_enc · ⟨q, h_i⟩ + λ_mem · m_i(q)
//! ```
//!
//! - `h_i` is the item's **encoding**: a vector trained from clicks
//!   (pairwise loss, see `trainer.rs`) and then spread over the item graph
//!   (HNSW neighbours plus co-click edges) by message passing, so items
//!   near clicked ones, and unseen queries near clicking ones, benefit.
//! - `m_i(q)` is the **memory** evidence: what the logged queries most
//!   similar to `q` clicked, weighted by similarity^p and the session's
//!   age weight (a small HNSW index over logged queries finds them). Its
//!   items are also offered as extra candidates, so reranking is not
//!   limited to what base search found.
//!
//! Items are kept by id: a model survives compaction, and an id the
//! database no longer has simply never becomes a hit.

use super::fast_hash::{FastMap, FastSet};
use super::metric::LearnedMetric;
pub use super::metric_part::MetricPart;
use crate::distance::{Kernels, Metric};
use crate::error::{Error, Result};
use crate::file::{ByteReader, ByteWriter};
use crate::hnsw::{HnswParams, Index};
use std::sync::Arc;

/// How strongly each part of the model moves a ranking.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Blend {
    /// λ_enc: weight of ⟨q, h_i⟩.
    pub encoding: f32,
    /// λ_mem: weight of the memory evidence.
    pub memory: f32,
    /// λ_T: weight of the learned metric's cos(T q, h_i).
    pub metric: f32,
}

impl Blend {
    pub const NONE: Blend = Blend {
        encoding: 0.0,
        memory: 0.0,
        metric: 0.0,
    };

    pub fn is_none(&self) -> bool {
        self.encoding == 0.0 && self.memory == 0.0 && self.metric == 0.0
    }
}

/// What the model reads about items at query time: their HNSW neighbours
/// and (for items added after training) their vectors.
pub trait ItemGraph {
    fn neighbours(&self, slot: u32) -> Vec<u32>;
    fn vector(&self, slot: u32) -> Option<Vec<f32>>;
}

impl ItemGraph for Index {
    fn neighbours(&self, slot: u32) -> Vec<u32> {
        self.level0_neighbours(slot)
    }

    fn vector(&self, slot: u32) -> Option<Vec<f32>> {
        Index::vector(self, slot)
    }
}

/// How the memory looks up similar past queries.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemoryParams {
    /// Past queries consulted per search.
    pub neighbours: usize,
    /// Similarity exponent: higher trusts only the closest past queries.
    pub similarity_power: f32,
}

impl Default for MemoryParams {
    fn default() -> Self {
        MemoryParams {
            neighbours: 30,
            similarity_power: 8.0,
        }
    }
}

/// Logged queries and the items each one clicked.
pub struct QueryMemory {
    params: MemoryParams,
    dimensions: usize,
    /// Unit-length query vectors, row-major (kept to save and rebuild).
    queries: Vec<f32>,
    /// Per query: (item row, click weight × age weight).
    clicked: Vec<Vec<(u32, f32)>>,
    index: Option<Index>,
}

impl QueryMemory {
    /// Builds the lookup index over `queries` (unit rows).
    pub fn new(
        dimensions: usize,
        params: MemoryParams,
        queries: Vec<f32>,
        clicked: Vec<Vec<(u32, f32)>>,
    ) -> Result<QueryMemory> {
        if queries.len() != clicked.len() * dimensions {
            return Err(Error::Internal("query memory rows do not line up".into()));
        }
        // A zero or non-finite query (euclidean and dot searches accept a
        // zero vector) has no direction to look it up by: leave it out
        // rather than fail every pass that sees it.
        let usable =
            |row: &[f32]| row.iter().all(|x| x.is_finite()) && row.iter().any(|&x| x != 0.0);
        let (queries, clicked) = if queries.chunks_exact(dimensions.max(1)).all(usable) {
            (queries, clicked)
        } else {
            let mut kept_queries = Vec::with_capacity(queries.len());
            let mut kept_clicked = Vec::with_capacity(clicked.len());
            for (row, clicks) in queries.chunks_exact(dimensions.max(1)).zip(clicked) {
                if usable(row) {
                    kept_queries.extend_from_slice(row);
                    kept_clicked.push(clicks);
                }
            }
            (kept_queries, kept_clicked)
        };
        let index = if clicked.is_empty() {
            None
        } else {
            let hnsw = HnswParams {
                m: 12,
                ef_construction: 64,
                ef_search: 48,
                ..HnswParams::default()
            };
            let index = Index::new(dimensions, Metric::Cosine, hnsw)?;
            let rows: Vec<&[f32]> = queries.chunks_exact(dimensions).collect();
            // One thread: the trainer's budget, not the searches'.
            let slots = index.append_batch(&rows)?;
            for slot in slots {
                index.link_one(slot);
            }
            Some(index)
        };
        Ok(QueryMemory {
            params,
            dimensions,
            queries,
            clicked,
            index,
        })
    }

    pub fn len(&self) -> usize {
        self.clicked.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clicked.is_empty()
    }

    /// Evidence per item row for a unit query: Σ sim^p · weight over the
    /// nearest past queries, divided by Σ sim^p.
    fn evidence(&self, unit_query: &[f32], into: &mut FastMap<u32, f32>) {
        let Some(index) = &self.index else { return };
        let k = self.params.neighbours.min(self.clicked.len());
        // A beam of k: the neighbours are weighted by similarity^power, so
        // the nearest dominate and a wider beam changes little but time.
        let Ok(found) = index.search(unit_query, k, Some(k.max(16)), None) else {
            return;
        };
        let mut total = 0.0f32;
        for n in &found {
            let similarity = (1.0 - n.distance).max(0.0);
            let w = similarity.powf(self.params.similarity_power);
            total += w;
            for &(row, weight) in &self.clicked[n.slot as usize] {
                *into.entry(row).or_insert(0.0) += w * weight;
            }
        }
        if total > 0.0 {
            for v in into.values_mut() {
                *v /= total;
            }
        }
    }
}

/// The largest `similarityPower` (the settings and a decoded model hold to it).
pub const MAX_SIMILARITY_POWER: f32 = 100.0;

/// `Model::slot_rows` of a slot whose item the model has no row for.
const NO_ROW: u32 = u32::MAX;

/// A trained model; immutable once built.
pub struct Model {
    /// Counts published models, from 1.
    pub version: u64,
    dimensions: usize,
    ids: Vec<Arc<str>>,
    rows: FastMap<Arc<str>, u32>,
    /// The table row of each index slot as of [`Model::bind_slots`]
    /// (`NO_ROW` where the model has none), so scoring a candidate reads an
    /// array instead of hashing its id. Slots added later (new items, and
    /// updated ones, which move to a new slot) resolve by id. Slots are
    /// never reused for another id while a model serves; a compaction that
    /// renumbers them must bind again.
    slot_rows: Vec<u32>,
    /// The inverse, row → slot, as of the same binding (`NO_ROW` where the
    /// item was gone), so a past-query candidate is found without hashing
    /// its id.
    row_slots: Vec<u32>,
    /// Ids deleted since the model was trained: an item inserted again
    /// under one of them is a new item, not the one the model learned
    /// about (resolving by id would bring the deleted item's history back).
    forgotten: std::sync::Mutex<FastSet<Arc<str>>>,
    /// `ids.len() × dimensions`, the encodings after message passing.
    encodings: Vec<f32>,
    memory: QueryMemory,
    metric: Option<MetricPart>,
    pub blend: Blend,
}

/// What a model knows about one search's query, computed once per search.
pub struct QueryContext<'m> {
    model: &'m Model,
    query: Vec<f32>,
    evidence: FastMap<u32, f32>,
    /// `T q / |T q|`, when the metric takes part.
    projected: Option<Vec<f32>>,
    items: &'m dyn ItemGraph,
}

impl Model {
    pub fn new(
        dimensions: usize,
        ids: Vec<Arc<str>>,
        encodings: Vec<f32>,
        memory: QueryMemory,
        metric: Option<MetricPart>,
        blend: Blend,
    ) -> Result<Model> {
        let memory_dimensions = metric.as_ref().map_or(dimensions, |m| m.metric.rank);
        if encodings.len() != ids.len() * dimensions || memory.dimensions != memory_dimensions {
            return Err(Error::Internal("model tables do not line up".into()));
        }
        let rows = ids
            .iter()
            .enumerate()
            .map(|(row, id)| (id.clone(), row as u32))
            .collect();
        Ok(Model {
            version: 0,
            dimensions,
            ids,
            rows,
            slot_rows: Vec::new(),
            row_slots: Vec::new(),
            forgotten: std::sync::Mutex::new(FastSet::default()),
            encodings,
            memory,
            metric,
            blend,
        })
    }

    /// The item ids of the table, by row.
    pub fn ids(&self) -> &[Arc<str>] {
        &self.ids
    }

    /// Binds table rows to index slots: `slots[row]` is where row's item is
    /// stored (`None` if it is gone), `slot_count` how many slots the index
    /// has now.
    pub fn bind_slots(&mut self, slots: &[Option<u32>], slot_count: usize) {
        let mut slot_rows = vec![NO_ROW; slot_count];
        let mut row_slots = vec![NO_ROW; self.ids.len()];
        for (row, slot) in slots.iter().enumerate() {
            if let Some(entry) = slot.and_then(|s| slot_rows.get_mut(s as usize)) {
                *entry = row as u32;
                if let Some(back) = row_slots.get_mut(row) {
                    *back = slot.unwrap_or(NO_ROW);
                }
            }
        }
        self.slot_rows = slot_rows;
        self.row_slots = row_slots;
    }

    /// The slot row's item was bound to (see [`Model::bind_slots`]); the
    /// caller checks that slot still holds it (a deleted or replaced item
    /// has left it).
    pub fn bound_slot(&self, row: u32) -> Option<u32> {
        self.row_slots
            .get(row as usize)
            .copied()
            .filter(|&s| s != NO_ROW)
    }

    /// The table row of the item `id` stored at `slot`.
    fn row_of(&self, id: &str, slot: u32) -> Option<u32> {
        match self.slot_rows.get(slot as usize) {
            Some(&NO_ROW) => None,
            Some(&row) => Some(row),
            None => {
                let row = self.rows.get(id).copied()?;
                let forgotten = self.forgotten.lock().unwrap_or_else(|e| e.into_inner());
                (!forgotten.contains(id)).then_some(row)
            }
        }
    }

    /// This model over `index`, a compaction of the one it was bound to:
    /// the same tables, the per-slot parts rebuilt for the new numbering
    /// (`slots[row]` as in [`Model::bind_slots`]), forgotten items still
    /// forgotten.
    pub fn renumbered(&self, index: &Index, slots: &[Option<u32>]) -> Result<Model> {
        let mut model = Model::decode(&self.encode(), self.dimensions, index)?;
        model.version = self.version;
        model.bind_slots(slots, index.slot_count());
        let forgotten = self.forgotten.lock().unwrap_or_else(|e| e.into_inner());
        *model.forgotten.get_mut().unwrap_or_else(|e| e.into_inner()) = forgotten.clone();
        Ok(model)
    }

    /// Forgets a deleted item: an item inserted later under its id starts
    /// afresh. (Its own slot is never a candidate again.)
    pub fn forget_item(&self, id: &str) {
        if self.rows.contains_key(id) {
            self.forgotten
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(Arc::from(id));
        }
    }

    /// The learned metric's rank, 0 without one.
    pub fn metric_rank(&self) -> usize {
        self.metric.as_ref().map_or(0, |m| m.metric.rank)
    }

    pub fn item_count(&self) -> usize {
        self.ids.len()
    }

    pub fn memory_len(&self) -> usize {
        self.memory.len()
    }

    /// Heap bytes held (encodings, memory queries and index, id table).
    pub fn heap_bytes(&self) -> usize {
        let index = self.memory.index.as_ref().map_or(0, Index::memory_bytes);
        self.encodings.len() * 4
            + self.memory.queries.len() * 4
            + self
                .memory
                .clicked
                .iter()
                .map(|c| c.len() * 8 + 24)
                .sum::<usize>()
            + index
            + self.ids.iter().map(|id| id.len() + 48).sum::<usize>()
            + (self.slot_rows.len() + self.row_slots.len()) * 4
            + self
                .metric
                .as_ref()
                .map_or(0, |m| (m.encodings.len() + m.metric.transform.len()) * 4)
    }

    /// The id of table row `row`.
    pub fn id(&self, row: u32) -> Arc<str> {
        self.ids[row as usize].clone()
    }

    /// The encoding `h` of table row `row`.
    pub fn encoding_row(&self, row: u32) -> &[f32] {
        let start = row as usize * self.dimensions;
        &self.encodings[start..start + self.dimensions]
    }

    /// `T q / |T q|`, when there is a metric: computed once per search, it
    /// serves both the memory lookup (the memory indexes queries in `T`'s
    /// space) and the metric's cosine.
    fn projected(&self, query: &[f32]) -> Option<Vec<f32>> {
        self.metric.as_ref().map(|m| {
            let mut tq = vec![0.0f32; m.metric.rank];
            m.metric.project(query, &mut tq);
            unit(&tq)
        })
    }

    /// The memory's evidence for `query` (`projected` is its `T q`, if any).
    fn evidence(&self, query: &[f32], projected: Option<&[f32]>) -> FastMap<u32, f32> {
        let mut evidence = FastMap::default();
        match projected {
            Some(tq) => self.memory.evidence(tq, &mut evidence),
            None => self.memory.evidence(&unit(query), &mut evidence),
        }
        evidence
    }

    /// Prepares the model's view of `query` (as the index stores queries:
    /// unit length under cosine); `items` gives neighbours and vectors.
    pub fn context<'m>(&'m self, query: &[f32], items: &'m dyn ItemGraph) -> QueryContext<'m> {
        let needed = self.blend.memory != 0.0 || self.blend.metric != 0.0;
        let projected = self.projected(query).filter(|_| needed);
        let evidence = if self.blend.memory != 0.0 {
            self.evidence(query, projected.as_deref())
        } else {
            FastMap::default()
        };
        let projected = projected.filter(|_| self.blend.metric != 0.0);
        QueryContext {
            model: self,
            query: query.to_vec(),
            evidence,
            projected,
            items,
        }
    }

    /// The three parts of g(q, i) before blending — `⟨q, e_i⟩`, `m_i(q)`,
    /// `cos(T q, h_i)` — for items given as (table row if any, slot) (the
    /// trainer's validation uses them).
    pub fn raw_parts(
        &self,
        query: &[f32],
        items: &[(Option<u32>, u32)],
        graph: &dyn ItemGraph,
    ) -> Vec<[f32; 3]> {
        let projected = self.projected(query);
        let evidence = self.evidence(query, projected.as_deref());
        let dot = Kernels::active().dot;
        items
            .iter()
            .map(|&(row, slot)| {
                let metric = metric_cosine(self.metric.as_ref(), projected.as_deref(), slot, graph);
                match row {
                    Some(row) => [
                        dot(query, self.encoding_row(row)),
                        evidence.get(&row).copied().unwrap_or(0.0),
                        metric,
                    ],
                    None => [0.0, 0.0, metric],
                }
            })
            .collect()
    }

    /// The model as bytes for the database file's model section.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.put_u64(self.version);
        out.put_u32(self.dimensions as u32);
        out.put_f32s(&[self.blend.encoding, self.blend.memory, self.blend.metric]);
        let p = self.memory.params;
        out.put_u32(p.neighbours as u32);
        out.put_f32s(&[p.similarity_power]);
        out.put_u64(self.ids.len() as u64);
        for id in &self.ids {
            out.put_str(id);
        }
        out.put_f32s(&self.encodings);
        out.put_u32(self.memory.dimensions as u32);
        out.put_u64(self.memory.clicked.len() as u64);
        out.put_f32s(&self.memory.queries);
        for clicked in &self.memory.clicked {
            out.put_u32(clicked.len() as u32);
            for &(row, weight) in clicked {
                out.put_u32(row);
                out.put_f32s(&[weight]);
            }
        }
        // The metric's projections are not saved: they are recomputed from
        // the vectors on open (see `decode`).
        match &self.metric {
            None => out.put_u32(0),
            Some(m) => {
                out.put_u32(m.metric.rank as u32);
                out.put_f32s(&[m.message_weight]);
                out.put_u32(m.neighbours as u32);
                out.put_f32s(&m.metric.transform);
            }
        }
        out
    }

    /// Reads what [`Model::encode`] wrote for a database of `dimensions`,
    /// projecting `index`'s vectors through the learned metric; damage is
    /// `ERR_CORRUPT_FILE`, never a panic or a huge allocation.
    pub fn decode(bytes: &[u8], dimensions: usize, index: &Index) -> Result<Model> {
        let mut r = ByteReader::new(bytes, "model");
        let version = r.u64("version")?;
        let stored = r.u32("dimensions")? as usize;
        if stored != dimensions {
            return Err(r.corrupt(format!(
                "model has {stored} dimensions, the database {dimensions}"
            )));
        }
        let blend = r.f32s(3, "blend")?;
        let neighbours = r.u32("memory neighbours")? as usize;
        let similarity_power = r.f32s(1, "similarity power")?[0];
        let finite = |values: &[f32]| values.iter().all(|v| v.is_finite());
        if !finite(&blend)
            || !(0.0..=MAX_SIMILARITY_POWER).contains(&similarity_power)
            || neighbours == 0
        {
            return Err(r.corrupt("blend or memory parameters out of range"));
        }
        let id_count = r.u64("item count")?;
        let id_count = r.check_fits(id_count, 4 + dimensions * 4, "item count")?;
        let mut ids = Vec::with_capacity(id_count);
        for _ in 0..id_count {
            ids.push(Arc::<str>::from(r.str("item id")?));
        }
        let encodings = r.f32s(id_count * dimensions, "encodings")?;
        let memory_dimensions = r.u32("memory dimensions")? as usize;
        if memory_dimensions == 0 || memory_dimensions > dimensions {
            return Err(r.corrupt(format!("memory of {memory_dimensions} dimensions")));
        }
        let query_count = r.u64("query count")?;
        let query_count = r.check_fits(query_count, 4 + memory_dimensions * 4, "query count")?;
        let queries = r.f32s(query_count * memory_dimensions, "memory queries")?;
        let mut clicked = Vec::with_capacity(query_count);
        for _ in 0..query_count {
            let len = r.u32("clicked count")? as u64;
            let len = r.check_fits(len, 8, "clicked count")?;
            let mut list = Vec::with_capacity(len);
            for _ in 0..len {
                let row = r.u32("clicked item")?;
                let weight = r.f32s(1, "click weight")?[0];
                if row as usize >= id_count || !weight.is_finite() {
                    return Err(r.corrupt(format!("clicked item {row} out of range")));
                }
                list.push((row, weight));
            }
            clicked.push(list);
        }
        let rank = r.u32("metric rank")? as usize;
        let metric = if rank == 0 {
            None
        } else {
            if rank > dimensions {
                return Err(r.corrupt(format!("metric rank {rank} above {dimensions} dimensions")));
            }
            let message_weight = r.f32s(1, "message weight")?[0];
            let neighbours = r.u32("metric neighbours")? as usize;
            let transform = r.f32s(rank * dimensions, "metric transform")?;
            if !finite(&transform) || !(0.0..=1.0).contains(&message_weight) {
                return Err(r.corrupt("metric transform out of range"));
            }
            let metric = LearnedMetric {
                rank,
                dimensions,
                transform,
            };
            Some(MetricPart::for_index(
                metric,
                index,
                message_weight,
                neighbours,
            ))
        };
        r.finish()?;
        if !finite(&encodings) || !finite(&queries) {
            return Err(Error::corrupt("model", "encodings hold NaN or infinity"));
        }
        let params = MemoryParams {
            neighbours,
            similarity_power,
        };
        let memory = QueryMemory::new(memory_dimensions, params, queries, clicked)?;
        let mut model = Model::new(
            dimensions,
            ids,
            encodings,
            memory,
            metric,
            Blend {
                encoding: blend[0],
                memory: blend[1],
                metric: blend[2],
            },
        )?;
        model.version = version;
        Ok(model)
    }
}

impl QueryContext<'_> {
    /// The memory's strongest items as table rows (the trainer's
    /// validation adds them as candidates, as search does).
    pub fn expansion_rows(&self, limit: usize) -> Vec<u32> {
        let mut strongest: Vec<(u32, f32)> = self.evidence.iter().map(|(&r, &v)| (r, v)).collect();
        strongest.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        strongest
            .into_iter()
            .take(limit)
            .map(|(row, _)| row)
            .collect()
    }

    /// The table rows of the items past similar queries clicked, strongest
    /// first, at most `limit`: extra candidates beside base search's (see
    /// [`Model::bound_slot`] and [`Model::id`] to find them in the index).
    pub fn expansion(&self, limit: usize) -> Vec<u32> {
        let forgotten = self
            .model
            .forgotten
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut strongest: Vec<(u32, f32)> = self
            .evidence
            .iter()
            .filter(|(&r, _)| {
                forgotten.is_empty() || !forgotten.contains(&self.model.ids[r as usize])
            })
            .map(|(&r, &v)| (r, v))
            .collect();
        strongest.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        strongest.truncate(limit);
        strongest.into_iter().map(|(row, _)| row).collect()
    }

    /// Hints the cache lines [`QueryContext::learned_score`] will read for
    /// `slot` (its metric encoding and its table row), so a list of
    /// candidates is fetched in parallel instead of one miss at a time:
    /// on an index larger than the cache, those misses are most of what
    /// reranking costs.
    pub fn prefetch(&self, slot: u32) {
        if self.projected.is_some() {
            if let Some(metric) = &self.model.metric {
                metric.prefetch(slot);
            }
        }
        if let Some(row) = self.model.slot_rows.get(slot as usize) {
            crate::distance::prefetch_bytes(row as *const u32 as *const u8);
        }
    }

    /// g(q, i) for the item `id` at `slot`.
    pub fn learned_score(&self, id: &str, slot: u32) -> f32 {
        let blend = self.model.blend;
        let mut score = 0.0;
        if let Some(projected) = &self.projected {
            score += blend.metric
                * metric_cosine(
                    self.model.metric.as_ref(),
                    Some(projected),
                    slot,
                    self.items,
                );
        }
        let Some(row) = self.model.row_of(id, slot) else {
            return score;
        };
        if blend.encoding != 0.0 {
            score +=
                blend.encoding * (Kernels::active().dot)(&self.query, self.model.encoding_row(row));
        }
        if let Some(evidence) = self.evidence.get(&row) {
            score += blend.memory * evidence;
        }
        score
    }
}

/// cos(T q, h_i); 0 without a metric or for an unknown slot.
fn metric_cosine(
    metric: Option<&MetricPart>,
    projected: Option<&[f32]>,
    slot: u32,
    graph: &dyn ItemGraph,
) -> f32 {
    let (Some(metric), Some(projected)) = (metric, projected) else {
        return 0.0;
    };
    let mut scratch = Vec::new();
    metric
        .encoding(slot, graph, &mut scratch)
        .map_or(0.0, |h| (Kernels::active().dot)(projected, h))
}

/// `v / |v|`, or `v` itself when it is zero.
pub fn unit(v: &[f32]) -> Vec<f32> {
    let norm = (Kernels::active().dot)(v, v).sqrt();
    if norm > 0.0 {
        v.iter().map(|x| x / norm).collect()
    } else {
        v.to_vec()
    }
}
