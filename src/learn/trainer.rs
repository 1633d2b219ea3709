//! Training: from a snapshot of the feedback log to a [`Model`], or to a
//! verdict that no model should be served.
//!
//! 1. **Split.** Every fifth session (by log order) is held back for
//!    validation; the rest train.
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
//! 5. **Blend and guardrail.** Each blend `(λ_enc, λ_mem)` of a small grid
//!    reranks the held-back sessions' shown lists; the best must beat the
//!    base order on their clicks (DCG of clicks, no propensity weights, so
//!    the test is conservative) by a one-sided z ≥ `min_z`, else the model
//!    is rejected and search stays base search. Random clicks carry no
//!    preference, so they cannot pass this test except by chance.

use super::feedback_log::Session;
use super::model::{unit, Blend, MemoryParams, Model, QueryMemory};
use crate::distance::{Kernels, Metric};
use crate::error::Result;
use std::collections::HashMap;
use std::sync::Arc;

/// A live item as the trainer needs it.
pub struct ItemRecord {
    /// As stored (unit length under cosine).
    pub vector: Vec<f32>,
    /// Its level-0 HNSW neighbours.
    pub neighbours: Vec<Arc<str>>,
}

/// Where the trainer reads items from: the database, in one short read.
pub trait ItemSource {
    /// The records of `ids`, `None` for ids that are no longer live.
    fn items(&self, ids: &[Arc<str>]) -> Vec<Option<ItemRecord>>;
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
    pub memory: MemoryParams,
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
            memory: MemoryParams::default(),
            min_z: 1.64,
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
    pub accepted: bool,
}

/// A training pass's result: a model to publish, if it passed.
pub struct Trained {
    pub model: Option<Model>,
    pub report: TrainReport,
}

/// One session prepared for training: query, the table rows shown (None
/// for holes), base scores, clicked positions with weights.
struct Prepared {
    weight: f32,
    query: Vec<f32>,
    shown: Vec<Option<u32>>,
    base: Vec<f32>,
    clicks: Vec<(usize, f32)>,
}

/// Trains a model on `sessions` (each with its age weight).
pub fn train(
    sessions: &[(f64, Session)],
    source: &dyn ItemSource,
    metric: Metric,
    dimensions: usize,
    conversion_weight: f32,
    params: &TrainParams,
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
        let mut base = Vec::with_capacity(s.shown.len());
        for id in &s.shown {
            let row = id.as_ref().and_then(|id| rows.get(id)).copied();
            let record = row.and_then(|r| records[r as usize].as_ref());
            match (row, record) {
                (Some(row), Some(record)) => {
                    shown.push(Some(row));
                    base.push(score(&query, &record.vector));
                }
                _ => {
                    shown.push(None);
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
            base,
            clicks,
        });
    }
    let (train_set, held_back): (Vec<_>, Vec<_>) = prepared
        .into_iter()
        .enumerate()
        .partition(|(i, _)| (i + 1) % params.holdout_every.max(2) != 0);
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
    let eta = estimate_propensity_exponent(&train_set).min(params.propensity_exponent);
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
    let h = propagate(&e, item_count, dimensions, &edges, params);

    // The memory: training queries and what they clicked.
    let mut memory_queries = Vec::new();
    let mut memory_clicks = Vec::new();
    for p in &train_set {
        let clicked: Vec<(u32, f32)> = p
            .clicks
            .iter()
            .filter_map(|&(pos, cw)| p.shown[pos].map(|row| (row, cw * p.weight)))
            .collect();
        if !clicked.is_empty() {
            memory_queries.extend_from_slice(&unit(&p.query));
            memory_clicks.push(clicked);
        }
    }
    let memory = QueryMemory::new(dimensions, params.memory, memory_queries, memory_clicks)?;
    let mut model = Model::new(dimensions, ids, h, memory, Blend::NONE)?;

    // Blend and guardrail on the held-back sessions.
    let scale = ScoreScales::measure(&model, &train_set);
    let features: Vec<Vec<(f32, f32)>> = held_back
        .iter()
        .map(|p| model.raw_parts(&p.query, &p.shown))
        .collect();
    let mut best = (Blend::NONE, 0.0f64, 0.0f64);
    for &enc in &[0.0f32, 0.25, 0.5, 1.0, 2.0, 4.0] {
        for &mem in &[0.0f32, 0.25, 0.5, 1.0, 2.0, 4.0] {
            if enc == 0.0 && mem == 0.0 {
                continue;
            }
            let blend = Blend {
                encoding: enc * scale.encoding,
                memory: mem * scale.memory,
            };
            let (gain, z) = validation_gain(&held_back, &features, blend, &ipw);
            if gain > best.1 {
                best = (blend, gain, z);
            }
        }
    }
    let accepted = best.1 > 0.0 && best.2 >= params.min_z && !held_back.is_empty();
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
    };
    Ok(Trained {
        model: accepted.then_some(model),
        report,
    })
}

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

/// Mean per-session gain in DCG of clicks when `blend` reorders each
/// held-back shown list, and its z (mean over standard error).
fn validation_gain(
    sessions: &[Prepared],
    features: &[Vec<(f32, f32)>],
    blend: Blend,
    ipw: &dyn Fn(usize) -> f32,
) -> (f64, f64) {
    let mut gains = Vec::new();
    for (p, f) in sessions.iter().zip(features) {
        if p.clicks.is_empty() {
            continue;
        }
        let mut order: Vec<usize> = (0..p.shown.len())
            .filter(|&i| p.shown[i].is_some())
            .collect();
        let learned = |i: usize| p.base[i] + blend.encoding * f[i].0 + blend.memory * f[i].1;
        order.sort_by(|&a, &b| learned(b).total_cmp(&learned(a)).then(a.cmp(&b)));
        let mut gain = 0.0;
        for &(pos, weight) in &p.clicks {
            let new_pos = order.iter().position(|&i| i == pos).unwrap_or(pos);
            gain += (weight * ipw(pos)) as f64 * (discount(new_pos) - discount(pos));
        }
        gains.push(gain * p.weight as f64);
    }
    if gains.len() < 2 {
        return (0.0, 0.0);
    }
    let n = gains.len() as f64;
    let mean = gains.iter().sum::<f64>() / n;
    let var = gains.iter().map(|g| (g - mean) * (g - mean)).sum::<f64>() / (n - 1.0);
    let z = if var > 0.0 {
        mean / (var / n).sqrt()
    } else {
        0.0
    };
    (mean, z)
}

/// The exponent η of click-through ∝ rank^-η fitted (least squares on
/// logs) to the training sessions' click rate per position: what the
/// users' position bias is, at most. Clicks that ignore position (random
/// ones) give η ≈ 0, so no propensity weighting can turn them into a
/// preference for lower-ranked items.
fn estimate_propensity_exponent(sessions: &[Prepared]) -> f32 {
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
    let points: Vec<(f64, f64)> = (0..10)
        .filter(|&r| shown[r] >= 20.0 && clicked[r] > 0.0)
        .map(|r| (((r + 1) as f64).ln(), (clicked[r] / shown[r]).ln()))
        .collect();
    if points.len() < 3 {
        return 0.0;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    if sxx <= 0.0 {
        return 0.0;
    }
    (-sxy / sxx).clamp(0.0, 4.0) as f32
}

fn discount(position: usize) -> f64 {
    1.0 / ((position + 2) as f64).log2()
}

/// `h = e + α·Â e + α²·Â² e` over the symmetrised `edges` (mean over
/// neighbours).
fn propagate(
    e: &[f32],
    items: usize,
    dimensions: usize,
    edges: &[(u32, u32, f32)],
    params: &TrainParams,
) -> Vec<f32> {
    if params.hops == 0 || params.message_weight == 0.0 || edges.is_empty() {
        return e.to_vec();
    }
    let mut neighbours: Vec<Vec<(u32, f32)>> = vec![Vec::new(); items];
    for &(a, b, w) in edges {
        if a != b {
            neighbours[a as usize].push((b, w));
            neighbours[b as usize].push((a, w));
        }
    }
    let mut h = e.to_vec();
    let mut layer = e.to_vec();
    let mut factor = 1.0f32;
    for _ in 0..params.hops.min(2) {
        factor *= params.message_weight;
        let mut next = vec![0.0f32; items * dimensions];
        for (i, list) in neighbours.iter().enumerate() {
            let total: f32 = list.iter().map(|l| l.1).sum();
            if total <= 0.0 {
                continue;
            }
            let out = &mut next[i * dimensions..(i + 1) * dimensions];
            for &(n, w) in list {
                let src = &layer[n as usize * dimensions..(n as usize + 1) * dimensions];
                for (o, s) in out.iter_mut().zip(src) {
                    *o += s * (w / total);
                }
            }
        }
        for (hv, nv) in h.iter_mut().zip(&next) {
            *hv += factor * nv;
        }
        layer = next;
    }
    h
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
