//! Training: from a snapshot of the feedback log to a [`Model`], or to a
//! verdict that no model should be served.
//!
//! 1. **Split.** Every fifth session (by log order, rotating with the pass
//!    number) is held back for validation; the rest train.
//! 2. **Encodings.** Each item shown in a training session gets a vector
//!    `e_i`, trained with a pairwise logistic loss: a clicked item should
//!    outscore each item shown above it and not clicked (and the one just
//!    below it), under the full score `base(q, i) + ⟨q, e_i⟩`. Pairs are
//!    weighted by the session's age weight, the click's weight
//!    (conversions count more) and an inverse propensity `rank^η` that
//!    undoes position bias. An L2 decay pulls every `e_i` toward zero, "no
//!    change".
//! 3. **Message passing.** `h = e + α·mean_{N(i)} e + α²·mean_{N(i)} mean_{N} e`
//!    over the item graph: each clicked item's HNSW neighbours (symmetrised)
//!    plus co-click edges (items clicked in one session). Items that were
//!    never shown, including items added after the feedback, inherit what
//!    their neighbours learned.
//! 4. **Memory.** The training sessions' queries and their clicks.
//! 5. **Learned metric.** `T` from co-click communities (`metric.rs`);
//!    the memory then looks queries up in `T`'s space.
//! 6. **Guardrail.** With the blend fixed in advance, the learned part of
//!    the score must separate the held-back sessions' clicked items from
//!    the shown-and-not-clicked ones: per-session AUC, mean above one half
//!    by a one-sided z ≥ `min_z`. Position plays no part, so random clicks
//!    give 0.5 in expectation whatever the model; the learner also wants
//!    two passes in a row to pass before a model first serves.

use super::evidence::{auc_test, fit_blend, position_bias, session_auc, Judgement};
use super::feedback_log::Session;
use super::intents::fit_metric;
use super::metric::MetricParams;
use super::model::{unit, Blend, MemoryParams, MetricPart, Model, QueryMemory};
use crate::distance::{Kernels, Metric};
use crate::error::{Error, Result};
use crate::gnn::gather::{HalfMatrix, RowPrecision};
use crate::gnn::propagate::{aggregate, aggregate_half, Aggregation};
use crate::gnn::Adjacency;
use crate::hnsw::Index;
use ndarray::Array2;
use std::collections::HashMap;
use std::sync::Arc;

/// A live item as the trainer needs it.
pub struct ItemRecord {
    /// Where the index keeps it.
    pub slot: u32,
    /// As stored (unit length under cosine).
    pub vector: Vec<f32>,
    /// Its level-0 HNSW neighbours.
    pub neighbours: Vec<Arc<str>>,
}

/// Where the trainer reads items from: the database, in short reads.
pub trait ItemSource {
    /// The records of `ids`, `None` for ids that are no longer live.
    fn items(&self, ids: &[Arc<str>]) -> Vec<Option<ItemRecord>>;
    /// The index, to project every item through a learned metric and to
    /// read neighbours.
    fn index(&self) -> &Index;
    /// Where `ids` are stored now (`None` for ids that are no longer live)
    /// and how many slots the index has, read together.
    fn slots(&self, ids: &[Arc<str>]) -> (Vec<Option<u32>>, usize) {
        let slots = self
            .items(ids)
            .into_iter()
            .map(|record| record.map(|r| r.slot))
            .collect();
        (slots, self.index().slot_count())
    }
    /// Whether the caller has cancelled the pass (checked every epoch).
    fn aborted(&self) -> bool {
        false
    }
}

/// The trainer's hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainParams {
    pub epochs: usize,
    pub learning_rate: f32,
    /// L2 decay per epoch toward "no change".
    pub shrinkage: f32,
    /// Largest position-bias exponent: the propensity of rank r is r^-η,
    /// η fitted to the log's click-through by rank and capped here.
    pub propensity_exponent: f32,
    /// Largest inverse-propensity weight.
    pub max_ipw: f32,
    /// Weight of a neighbour's encoding per hop of message passing
    /// (0 turns message passing off: the identity encoder).
    pub message_weight: f32,
    /// Hops of message passing (0, 1 or 2).
    pub hops: usize,
    /// Precision of the item rows message passing gathers: half precision
    /// reads half the bytes (see `gnn::gather`).
    pub message_precision: RowPrecision,
    pub memory: MemoryParams,
    /// The learned metric (`max_rank: 0` turns it off).
    pub metric: MetricParams,
    /// Louvain resolution of the co-click communities.
    pub resolution: f64,
    /// HNSW neighbours averaged into an item's metric encoding.
    pub metric_neighbours: usize,
    /// Candidates a search scores (the database's `rerankDepth`); the
    /// validation reranks as many.
    pub candidates: usize,
    /// How much each part moves a ranking: the encodings and the memory in
    /// units of the base score's spread within a shown list, the metric's
    /// cosine on the base score's scale.
    pub blend: Blend,
    /// One-sided z a model must reach on held-back sessions.
    pub min_z: f64,
    /// Every `holdout_every`-th session is held back.
    pub holdout_every: usize,
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams {
            epochs: 6,
            learning_rate: 0.1,
            shrinkage: 0.02,
            propensity_exponent: 1.0,
            max_ipw: 10.0,
            message_weight: 0.5,
            hops: 2,
            message_precision: RowPrecision::F32,
            memory: MemoryParams::default(),
            metric: MetricParams::default(),
            resolution: 1.0,
            metric_neighbours: 10,
            candidates: 100,
            blend: Blend {
                encoding: 1.0,
                memory: 1.0,
                metric: 1.0,
            },
            min_z: 2.33,
            holdout_every: 5,
        }
    }
}

/// What a training pass found.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainReport {
    pub sessions: usize,
    pub held_back: usize,
    pub pairs: usize,
    /// Mean pairwise loss over the last epoch.
    pub loss: f64,
    /// Held-back gain of the chosen blend over base (mean DCG of clicks
    /// per session) and its z.
    pub validation_gain: f64,
    pub validation_z: f64,
    pub blend: Blend,
    /// Whether the model passed the guardrail.
    pub accepted: bool,
    /// Whether it was published (set by the learner: a model first serves
    /// after two passing passes in a row).
    pub published: bool,
}

/// A training pass's result: a model to publish, if it passed.
pub struct Trained {
    pub model: Option<Model>,
    pub report: TrainReport,
}

/// One session prepared for training: query, the table rows shown (None
/// for holes), base scores, clicked positions with weights.
pub(super) struct Prepared {
    pub(super) weight: f32,
    pub(super) query: Vec<f32>,
    pub(super) shown: Vec<Option<u32>>,
    /// The slot of each shown item (as `shown`).
    slots: Vec<Option<(u32, u32)>>,
    base: Vec<f32>,
    pub(super) clicks: Vec<(usize, f32)>,
}

/// Trains a model on `sessions` (each with its age weight). `pass`
/// numbers the training pass: which sessions are held back rotates with
/// it, so consecutive passes are tested on different sessions.
pub fn train(
    sessions: &[(f64, Arc<Session>)],
    source: &dyn ItemSource,
    metric: Metric,
    dimensions: usize,
    conversion_weight: f32,
    params: &TrainParams,
    pass: u64,
) -> Result<Trained> {
    let dot = Kernels::active().dot;
    // The item table: everything shown, then graph neighbours of clicked items.
    let mut rows: HashMap<Arc<str>, u32> = HashMap::new();
    let mut ids: Vec<Arc<str>> = Vec::new();
    let row_of = |id: &Arc<str>, rows: &mut HashMap<Arc<str>, u32>, ids: &mut Vec<Arc<str>>| {
        *rows.entry(id.clone()).or_insert_with(|| {
            ids.push(id.clone());
            (ids.len() - 1) as u32
        })
    };
    for (_, s) in sessions {
        for id in s.shown.iter().flatten() {
            row_of(id, &mut rows, &mut ids);
        }
    }
    let records = source.items(&ids);
    let normalise = |q: &[f32]| match metric {
        Metric::Cosine => unit(q),
        _ => q.to_vec(),
    };
    let score = |q: &[f32], v: &[f32]| match metric {
        Metric::Euclidean => -q.iter().zip(v).map(|(a, b)| (a - b) * (a - b)).sum::<f32>(),
        _ => dot(q, v),
    };

    // Prepare sessions; a deleted item is a hole.
    let mut prepared = Vec::with_capacity(sessions.len());
    for (weight, s) in sessions {
        if s.query.len() != dimensions {
            continue;
        }
        let query = normalise(&s.query);
        let mut shown = Vec::with_capacity(s.shown.len());
        let mut slots = Vec::with_capacity(s.shown.len());
        let mut base = Vec::with_capacity(s.shown.len());
        for id in &s.shown {
            let row = id.as_ref().and_then(|id| rows.get(id)).copied();
            let record = row.and_then(|r| records[r as usize].as_ref());
            match (row, record) {
                (Some(row), Some(record)) => {
                    shown.push(Some(row));
                    slots.push(Some((row, record.slot)));
                    base.push(score(&query, &record.vector));
                }
                _ => {
                    shown.push(None);
                    slots.push(None);
                    base.push(f32::NEG_INFINITY);
                }
            }
        }
        let clicks = s
            .clicked
            .iter()
            .filter(|&&p| shown.get(p as usize).is_some_and(Option::is_some))
            .map(|&p| (p as usize, s.click_weight(p, conversion_weight)))
            .collect();
        prepared.push(Prepared {
            weight: *weight as f32,
            query,
            shown,
            slots,
            base,
            clicks,
        });
    }
    let (train_set, held_back): (Vec<_>, Vec<_>) = prepared
        .into_iter()
        .enumerate()
        .partition(|(i, _)| !(*i as u64 + pass).is_multiple_of(params.holdout_every.max(2) as u64));
    let train_set: Vec<Prepared> = train_set.into_iter().map(|(_, p)| p).collect();
    let held_back: Vec<Prepared> = held_back.into_iter().map(|(_, p)| p).collect();

    // Graph neighbours of clicked items join the table, so message passing
    // reaches items that were never shown.
    let mut edges: Vec<(u32, u32, f32)> = Vec::new();
    let mut clicked_rows: Vec<u32> = train_set
        .iter()
        .flat_map(|p| p.clicks.iter().filter_map(|&(pos, _)| p.shown[pos]))
        .collect();
    clicked_rows.sort_unstable();
    clicked_rows.dedup();
    for &row in &clicked_rows {
        if let Some(record) = &records[row as usize] {
            for neighbour in &record.neighbours {
                let n = row_of(neighbour, &mut rows, &mut ids);
                edges.push((row, n, 1.0));
            }
        }
    }
    for p in &train_set {
        for (a, &(pa, _)) in p.clicks.iter().enumerate() {
            for &(pb, _) in &p.clicks[a + 1..] {
                if let (Some(ra), Some(rb)) = (p.shown[pa], p.shown[pb]) {
                    edges.push((ra, rb, 1.0));
                }
            }
        }
    }
    let item_count = ids.len();

    // Position bias as the log shows it: how click-through falls with rank.
    // A fitted exponent below 0.2 is within the noise of a log whose clicks
    // ignore position (random ones); weighting by it would only favour
    // whatever was shown low.
    let (shown_counts, click_counts) = clicks_by_position(&train_set);
    let eta = Some(position_bias(&shown_counts, &click_counts))
        .filter(|&eta| eta >= 0.2)
        .map_or(0.0, |eta| eta.min(params.propensity_exponent));
    let ipw = |position: usize| ((position + 1) as f32).powf(eta).min(params.max_ipw);

    // Pairwise training of the encodings.
    let mut pairs: Vec<(u32, usize, usize, f32)> = Vec::new(); // (session, clicked pos, skipped pos, weight)
    for (si, p) in train_set.iter().enumerate() {
        let clicked: Vec<usize> = p.clicks.iter().map(|c| c.0).collect();
        for &(c, click_weight) in &p.clicks {
            let w = p.weight * click_weight * ipw(c);
            for j in (0..c).chain(c + 1..(c + 2).min(p.shown.len())) {
                if p.shown[j].is_some() && !clicked.contains(&j) {
                    pairs.push((si as u32, c, j, w));
                }
            }
        }
    }
    let mut e = vec![0.0f32; item_count * dimensions];
    let mut loss = 0.0f64;
    let total_weight: f64 = pairs.iter().map(|p| p.3 as f64).sum::<f64>().max(1e-12);
    // A deterministic order that mixes sessions (a fixed stride walk).
    let stride = coprime_stride(pairs.len());
    for _ in 0..params.epochs {
        if source.aborted() {
            return Err(Error::Aborted("train was aborted".into()));
        }
        loss = 0.0;
        let decay = 1.0 - params.learning_rate * params.shrinkage;
        e.iter_mut().for_each(|x| *x *= decay);
        let mut at = 0usize;
        for _ in 0..pairs.len() {
            let (si, c, j, w) = pairs[at];
            at = (at + stride) % pairs.len();
            let p = &train_set[si as usize];
            let (rc, rj) = (
                p.shown[c].unwrap_or(0) as usize,
                p.shown[j].unwrap_or(0) as usize,
            );
            let ec = &e[rc * dimensions..(rc + 1) * dimensions];
            let ej = &e[rj * dimensions..(rj + 1) * dimensions];
            let margin = p.base[c] - p.base[j] + dot(&p.query, ec) - dot(&p.query, ej);
            loss += (w as f64) * softplus(-margin as f64);
            let g = params.learning_rate * w * sigmoid(-margin);
            for (k, &q) in p.query.iter().enumerate() {
                e[rc * dimensions + k] += g * q;
                e[rj * dimensions + k] -= g * q;
            }
        }
        loss /= total_weight;
    }

    // Message passing over the item graph.
    let h = propagate(e, item_count, dimensions, &edges, params);

    // The learned metric, over co-click communities.
    let fitted = fit_metric(&train_set, &records, params);
    let metric_rank = fitted.as_ref().map_or(0, |m| m.rank);

    // The memory: training queries and what they clicked, looked up in the
    // metric's space when there is one (where same-intent queries are near).
    let memory_space = |q: &[f32]| match &fitted {
        Some(m) => {
            let mut tq = vec![0.0f32; m.rank];
            m.project(q, &mut tq);
            unit(&tq)
        }
        None => unit(q),
    };
    let mut memory_queries = Vec::new();
    let mut memory_clicks = Vec::new();
    for p in &train_set {
        let clicked: Vec<(u32, f32)> = p
            .clicks
            .iter()
            .filter_map(|&(pos, cw)| p.shown[pos].map(|row| (row, cw * p.weight)))
            .collect();
        if !clicked.is_empty() {
            memory_queries.extend_from_slice(&memory_space(&p.query));
            memory_clicks.push(clicked);
        }
    }
    let memory_dimensions = if metric_rank > 0 {
        metric_rank
    } else {
        dimensions
    };
    let memory = QueryMemory::new(
        memory_dimensions,
        params.memory,
        memory_queries,
        memory_clicks,
    )?;
    let metric_part = fitted.map(|m| {
        MetricPart::for_index(
            m,
            source.index(),
            params.message_weight,
            params.metric_neighbours,
        )
    });
    let (slots, slot_count) = source.slots(&ids);
    let mut model = Model::new(dimensions, ids, h, memory, metric_part, Blend::NONE)?;
    model.bind_slots(&slots, slot_count);

    // Blend and guardrail, on the held-back sessions. On one half, a
    // pairwise logistic regression of "clicked over shown-and-not-clicked"
    // on the differences of base score and of each learned part says how
    // much each part is worth next to the base score: the blend is the
    // ratio of its weight to the base score's (capped by `params.blend`,
    // in units of the base score's spread for the encodings and the memory,
    // absolute for the metric's cosine). Position bias inflates the base
    // score's weight, so the blend errs small. On the other half, the
    // learned part must separate clicked from not clicked (per-session
    // AUC above one half, z ≥ `min_z`).
    let index = source.index();
    let scale = ScoreScales::measure(&model, &train_set);
    let judged: Vec<Judgement> = held_back
        .iter()
        .map(|p| judgement(p, model.raw_parts(&p.query, &shown_items(p), index)))
        .collect();
    let (fit_half, test_half): (Vec<usize>, Vec<usize>) =
        (0..held_back.len()).partition(|i| i % 2 == 0);
    let caps = [
        params.blend.encoding * scale.encoding,
        params.blend.memory * scale.memory,
        if metric_rank > 0 {
            params.blend.metric
        } else {
            0.0
        },
    ];
    let fit: Vec<&Judgement> = fit_half.iter().map(|&i| &judged[i]).collect();
    let weights = fit_blend(&fit);
    // `max`/`min`, not `clamp`: a cap that overflowed to infinity or NaN
    // (base scores near f32::MAX under dot) must not panic; NaN gives 0.
    let capped = |weight: f32, cap: f32| {
        let cap = if cap.is_finite() { cap.max(0.0) } else { 0.0 };
        weight.max(0.0).min(cap)
    };
    let blend = Blend {
        encoding: capped(weights[0], caps[0]),
        memory: capped(weights[1], caps[1]),
        metric: capped(weights[2], caps[2]),
    };
    let (gain, z) = if blend.is_none() {
        (0.0, 0.0)
    } else {
        let aucs: Vec<f64> = test_half
            .iter()
            .filter_map(|&i| session_auc(&judged[i], blend))
            .collect();
        auc_test(&aucs)
    };
    let best = (blend, gain, z);
    let accepted = best.1 > 0.0 && best.2 >= params.min_z;
    model.blend = if accepted { best.0 } else { Blend::NONE };
    let report = TrainReport {
        sessions: train_set.len() + held_back.len(),
        held_back: held_back.len(),
        pairs: pairs.len(),
        loss,
        validation_gain: best.1,
        validation_z: best.2,
        blend: model.blend,
        accepted,
        published: false,
    };
    Ok(Trained {
        model: accepted.then_some(model),
        report,
    })
}

/// Fits the learned metric: co-click communities of the items clicked for
/// the same query (sessions grouped by identical query vector), then
/// Fisher's discriminant over the community members' vectors and the
/// queries labelled with their clicks' dominant community.
/// Multipliers that bring each part of the learned score to the scale of
/// the base score's spread within a shown list, so one blend grid serves
/// every metric and dataset.
struct ScoreScales {
    encoding: f32,
    memory: f32,
}

impl ScoreScales {
    fn measure(model: &Model, sessions: &[Prepared]) -> ScoreScales {
        let (mut spread, mut enc, mut n) = (0.0f64, 0.0f64, 0usize);
        for p in sessions.iter().take(2_000) {
            let base: Vec<f32> = p.base.iter().copied().filter(|b| b.is_finite()).collect();
            if base.len() < 2 {
                continue;
            }
            spread += std_dev(base.iter().map(|&b| b as f64));
            enc += std_dev(
                p.shown
                    .iter()
                    .flatten()
                    .map(|&row| (Kernels::active().dot)(&p.query, model.encoding_row(row)) as f64),
            );
            n += 1;
        }
        let spread = if n > 0 { spread / n as f64 } else { 0.05 };
        let enc = if n > 0 { enc / n as f64 } else { 0.0 };
        ScoreScales {
            encoding: if enc > 1e-9 {
                (spread / enc) as f32
            } else {
                0.0
            },
            // Memory evidence is a click weight (about 1 for a clicked item).
            memory: (spread * 2.0) as f32,
        }
    }
}

fn std_dev(values: impl Iterator<Item = f64>) -> f64 {
    let values: Vec<f64> = values.collect();
    if values.len() < 2 {
        return 0.0;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / values.len() as f64).sqrt()
}

/// The shown items of a session as (table row, slot), holes left out.
fn shown_items(p: &Prepared) -> Vec<(Option<u32>, u32)> {
    p.slots
        .iter()
        .flatten()
        .map(|&(row, slot)| (Some(row), slot))
        .collect()
}

/// A held-back session as the guardrail sees it (holes left out).
fn judgement(p: &Prepared, parts: Vec<[f32; 3]>) -> Judgement {
    let live: Vec<usize> = (0..p.slots.len())
        .filter(|&i| p.slots[i].is_some())
        .collect();
    Judgement {
        base: live.iter().map(|&i| p.base[i]).collect(),
        clicked: live
            .iter()
            .map(|i| p.clicks.iter().any(|c| c.0 == *i))
            .collect(),
        parts,
    }
}

/// Click-through counts by position (the first ten) of `sessions`.
fn clicks_by_position(sessions: &[Prepared]) -> ([f64; 10], [f64; 10]) {
    let mut shown = [0.0f64; 10];
    let mut clicked = [0.0f64; 10];
    for p in sessions {
        for (position, row) in p.shown.iter().enumerate().take(10) {
            if row.is_some() {
                shown[position] += 1.0;
            }
        }
        for &(position, _) in &p.clicks {
            if position < 10 {
                clicked[position] += 1.0;
            }
        }
    }
    (shown, clicked)
}

/// `h = e + α·mean_N(e) + α²·mean_N(mean_N(e))` over the symmetrised
/// `edges`, by the crate's own message-passing engine (`gnn::propagate`).
fn propagate(
    e: Vec<f32>,
    items: usize,
    dimensions: usize,
    edges: &[(u32, u32, f32)],
    params: &TrainParams,
) -> Vec<f32> {
    if params.hops == 0 || params.message_weight == 0.0 || edges.is_empty() {
        return e;
    }
    let mut lists: Vec<Vec<u32>> = vec![Vec::new(); items];
    for &(a, b, _) in edges.iter().filter(|edge| edge.0 != edge.1) {
        lists[a as usize].push(b);
        lists[b as usize].push(a);
    }
    let (Ok(graph), Ok(mut layer)) = (
        Adjacency::from_lists(&lists),
        Array2::from_shape_vec((items, dimensions), e),
    ) else {
        return vec![0.0; items * dimensions];
    };
    let mut h = layer.clone();
    let mut factor = 1.0f32;
    for _ in 0..params.hops.min(2) {
        factor *= params.message_weight;
        let next = match params.message_precision {
            RowPrecision::F32 => {
                aggregate(&graph, layer.view(), Aggregation::Mean).map(|a| a.output)
            }
            RowPrecision::F16 => aggregate_half(
                &graph,
                &HalfMatrix::from_f32(layer.view()),
                Aggregation::Mean,
            ),
        };
        let Ok(next) = next else {
            break;
        };
        h.scaled_add(factor, &next);
        layer = next;
    }
    h.into_raw_vec_and_offset().0
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn softplus(x: f64) -> f64 {
    if x > 30.0 {
        x
    } else {
        x.exp().ln_1p()
    }
}

/// A stride coprime with `n`, near `n · 0.618`, for a fixed shuffled walk.
fn coprime_stride(n: usize) -> usize {
    if n < 2 {
        return 1;
    }
    let mut stride = (((n as f64) * 0.618_034) as usize).clamp(1, n - 1);
    while gcd(stride, n) != 1 {
        stride = stride % (n - 1) + 1;
    }
    stride
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    fn params(hops: usize, precision: RowPrecision) -> TrainParams {
        TrainParams {
            hops,
            message_weight: 0.5,
            message_precision: precision,
            ..TrainParams::default()
        }
    }

    #[test]
    fn message_passing_adds_the_neighbours_mean_per_hop() {
        // A path 0 – 1 – 2; one hop: h = e + ½ · mean of the neighbours.
        let e = vec![1.0, 0.0, 0.0, 2.0, 4.0, -2.0];
        let edges = [(0, 1, 1.0), (1, 2, 1.0)];
        let h = propagate(e, 3, 2, &edges, &params(1, RowPrecision::F32));
        assert_eq!(h, vec![1.0, 1.0, 1.25, 1.5, 4.0, -1.0]);
    }

    #[test]
    fn half_precision_messages_stay_within_the_stated_bound() {
        let mut rng = SplitMix64::new(5);
        let (items, dimensions) = (300, 48);
        let e: Vec<f32> = (0..items * dimensions)
            .map(|_| 2.0 * rng.next_f32() - 1.0)
            .collect();
        let edges: Vec<(u32, u32, f32)> = (0..items * 4)
            .map(|_| (rng.below(items) as u32, rng.below(items) as u32, 1.0))
            .collect();
        let full = propagate(
            e.clone(),
            items,
            dimensions,
            &edges,
            &params(2, RowPrecision::F32),
        );
        let half = propagate(e, items, dimensions, &edges, &params(2, RowPrecision::F16));
        let scale = full.iter().fold(0f32, |m, v| m.max(v.abs()));
        let error = full
            .iter()
            .zip(&half)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        // Two hops of f16 rows: each within 2⁻¹¹ of its terms' magnitude.
        assert!(error <= 2e-3 * scale, "error {error} at scale {scale}");
        assert!(error > 0.0, "half precision in use");
    }
}
