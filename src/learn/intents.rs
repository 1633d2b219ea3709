//! The intents clicks reveal: items clicked for the same query form a
//! co-click graph, Louvain finds its communities, and the learned metric is
//! Fisher's discriminant over them (split out of `trainer.rs`, which calls
//! it once per pass).

use super::communities::{louvain, WeightedGraph};
use super::metric as learned_metric;
use super::trainer::{ItemRecord, Prepared, TrainParams};
use std::collections::HashMap;

/// An item joins its query's co-click clique only with at least this share
/// of the click weight of the query's most clicked item.
const PROFILE_KEEP: f64 = 0.25;

pub(super) fn fit_metric(
    sessions: &[Prepared],
    records: &[Option<ItemRecord>],
    params: &TrainParams,
) -> Option<learned_metric::LearnedMetric> {
    if params.metric.max_rank == 0 {
        return None;
    }
    // Click profile per distinct query.
    let mut profiles: HashMap<Vec<u32>, (usize, HashMap<u32, f64>)> = HashMap::new();
    for (i, p) in sessions.iter().enumerate() {
        if p.clicks.is_empty() {
            continue;
        }
        let key: Vec<u32> = p.query.iter().map(|x| x.to_bits()).collect();
        let entry = profiles.entry(key).or_insert_with(|| (i, HashMap::new()));
        for &(pos, w) in &p.clicks {
            if let Some(row) = p.shown[pos] {
                *entry.1.entry(row).or_insert(0.0) += (w * p.weight) as f64;
            }
        }
    }
    // Co-click graph: items clicked for the same query, weighted by
    // w_a · w_b / W of the query's profile.
    let mut node_of: HashMap<u32, u32> = HashMap::new();
    let mut rows_of_node: Vec<u32> = Vec::new();
    let mut edges: Vec<HashMap<u32, f64>> = Vec::new();
    let mut node = |row: u32, edges: &mut Vec<HashMap<u32, f64>>| {
        *node_of.entry(row).or_insert_with(|| {
            rows_of_node.push(row);
            edges.push(HashMap::new());
            (rows_of_node.len() - 1) as u32
        })
    };
    let mut query_labels: Vec<(usize, Vec<(u32, f64)>)> = Vec::new();
    // In the order queries first appeared, so the graph (and Louvain's
    // result) does not depend on hash order.
    let mut profiles: Vec<(usize, HashMap<u32, f64>)> = profiles.into_values().collect();
    profiles.sort_unstable_by_key(|p| p.0);
    for (first, profile) in &profiles {
        // Items clicked far less than the query's most clicked one are
        // mostly stray clicks (users click what they did not want now and
        // then); as co-click edges they would chain intents together.
        let strongest = profile.values().copied().fold(0.0f64, f64::max);
        let mut items: Vec<(u32, f64)> = profile
            .iter()
            .map(|(&r, &w)| (r, w))
            .filter(|&(_, w)| w >= PROFILE_KEEP * strongest)
            .collect();
        items.sort_unstable_by_key(|i| i.0);
        let total: f64 = items.iter().map(|i| i.1).sum();
        let nodes: Vec<(u32, f64)> = items
            .iter()
            .map(|&(r, w)| (node(r, &mut edges), w))
            .collect();
        for (a, &(na, wa)) in nodes.iter().enumerate() {
            for &(nb, wb) in &nodes[a + 1..] {
                let w = wa * wb / total;
                *edges[na as usize].entry(nb).or_insert(0.0) += w;
                *edges[nb as usize].entry(na).or_insert(0.0) += w;
            }
        }
        query_labels.push((*first, nodes));
    }
    let graph = WeightedGraph {
        neighbours: edges
            .into_iter()
            .map(|m| {
                let mut l: Vec<(u32, f64)> = m.into_iter().collect();
                l.sort_unstable_by_key(|e| e.0);
                l
            })
            .collect(),
    };
    let community = louvain(&graph, params.resolution, 0xC0C1);
    let mut size: HashMap<u32, usize> = HashMap::new();
    for &c in &community {
        *size.entry(c).or_insert(0) += 1;
    }
    let labelled = |n: u32| Some(community[n as usize]).filter(|c| size[c] >= 2);
    let mut samples: Vec<(&[f32], u32)> = Vec::new();
    for (n, &row) in rows_of_node.iter().enumerate() {
        if let (Some(c), Some(record)) = (
            labelled(n as u32),
            records.get(row as usize).and_then(Option::as_ref),
        ) {
            samples.push((&record.vector, c));
        }
    }
    for (first, nodes) in &query_labels {
        let mut votes: HashMap<u32, f64> = HashMap::new();
        for &(n, w) in nodes {
            if let Some(c) = labelled(n) {
                *votes.entry(c).or_insert(0.0) += w;
            }
        }
        if let Some((&c, _)) = votes
            .iter()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
        {
            samples.push((&sessions[*first].query, c));
        }
    }
    let dimensions = sessions.first().map_or(0, |p| p.query.len());
    learned_metric::fit(&samples, dimensions, &params.metric)
}
