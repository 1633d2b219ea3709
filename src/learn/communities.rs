//! Communities of the co-click graph (Louvain: Blondel et al. 2008): items
//! that the same queries click end up in one community. They stand in for
//! the intents the learner never sees labelled, and are what the learned
//! metric (`metric.rs`) separates.

use crate::rng::SplitMix64;
use std::collections::HashMap;

/// A weighted undirected graph as adjacency lists (each edge listed from
/// both ends).
pub struct WeightedGraph {
    pub neighbours: Vec<Vec<(u32, f64)>>,
}

/// Louvain communities of `graph` at `resolution` (1 is classic
/// modularity; lower gives larger communities). Returns a community per
/// node, numbered from 0. Seeded, so a pass is reproducible.
pub fn louvain(graph: &WeightedGraph, resolution: f64, seed: u64) -> Vec<u32> {
    let n = graph.neighbours.len();
    let mut rng = SplitMix64::new(seed);
    // node of the current level -> community; original node -> current node.
    let mut mapping: Vec<u32> = (0..n as u32).collect();
    let mut adjacency: Vec<Vec<(u32, f64)>> = graph.neighbours.clone();
    let mut self_weight = vec![0.0f64; n];
    for _level in 0..10 {
        let nodes = adjacency.len();
        let degree: Vec<f64> = (0..nodes)
            .map(|i| self_weight[i] + adjacency[i].iter().map(|e| e.1).sum::<f64>())
            .collect();
        let total: f64 = degree.iter().sum();
        if total <= 0.0 {
            break;
        }
        let mut community: Vec<u32> = (0..nodes as u32).collect();
        let mut community_degree = degree.clone();
        let mut order: Vec<usize> = (0..nodes).collect();
        for i in (1..nodes).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let mut any_move = false;
        let mut links: HashMap<u32, f64> = HashMap::new();
        for _pass in 0..20 {
            let mut moved = false;
            for &i in &order {
                let current = community[i];
                links.clear();
                for &(j, w) in &adjacency[i] {
                    *links.entry(community[j as usize]).or_insert(0.0) += w;
                }
                community_degree[current as usize] -= degree[i];
                let gain = |c: u32, w: f64| {
                    w - resolution * community_degree[c as usize] * degree[i] / total
                };
                let mut best = current;
                let mut best_gain = gain(current, links.get(&current).copied().unwrap_or(0.0));
                let mut candidates: Vec<(u32, f64)> = links.iter().map(|(&c, &w)| (c, w)).collect();
                candidates.sort_unstable_by_key(|c| c.0);
                for (c, w) in candidates {
                    let g = gain(c, w);
                    if g > best_gain + 1e-12 {
                        best_gain = g;
                        best = c;
                    }
                }
                community_degree[best as usize] += degree[i];
                if best != current {
                    community[i] = best;
                    moved = true;
                    any_move = true;
                }
            }
            if !moved {
                break;
            }
        }
        // Renumber and fold the level into the mapping.
        let mut renumber: HashMap<u32, u32> = HashMap::new();
        for &c in &community {
            let next = renumber.len() as u32;
            renumber.entry(c).or_insert(next);
        }
        let count = renumber.len();
        for m in mapping.iter_mut() {
            *m = renumber[&community[*m as usize]];
        }
        if !any_move || count == nodes {
            break;
        }
        // Aggregate: one node per community.
        let mut merged: Vec<HashMap<u32, f64>> = vec![HashMap::new(); count];
        let mut merged_self = vec![0.0f64; count];
        for i in 0..nodes {
            let ci = renumber[&community[i]];
            merged_self[ci as usize] += self_weight[i];
            for &(j, w) in &adjacency[i] {
                let cj = renumber[&community[j as usize]];
                if cj == ci {
                    merged_self[ci as usize] += w;
                } else {
                    *merged[ci as usize].entry(cj).or_insert(0.0) += w;
                }
            }
        }
        adjacency = merged
            .into_iter()
            .map(|m| {
                let mut list: Vec<(u32, f64)> = m.into_iter().collect();
                list.sort_unstable_by_key(|e| e.0);
                list
            })
            .collect();
        self_weight = merged_self;
    }
    mapping
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `groups` cliques of `size` nodes, each joined to the next by one
    /// weak edge.
    fn cliques(groups: usize, size: usize) -> WeightedGraph {
        let n = groups * size;
        let mut neighbours = vec![Vec::new(); n];
        let mut link = |a: usize, b: usize, w: f64| {
            neighbours[a].push((b as u32, w));
            neighbours[b].push((a as u32, w));
        };
        for g in 0..groups {
            for a in 0..size {
                for b in a + 1..size {
                    link(g * size + a, g * size + b, 1.0);
                }
            }
            link(g * size, ((g + 1) % groups) * size + 1, 0.1);
        }
        WeightedGraph { neighbours }
    }

    #[test]
    fn louvain_finds_planted_cliques() {
        let graph = cliques(8, 6);
        let found = louvain(&graph, 1.0, 7);
        for g in 0..8 {
            let first = found[g * 6];
            assert!(
                (0..6).all(|a| found[g * 6 + a] == first),
                "clique {g} split: {found:?}"
            );
            let other = found[((g + 1) % 8) * 6];
            assert_ne!(first, other, "cliques {g} and {} merged", (g + 1) % 8);
        }
        assert_eq!(found, louvain(&graph, 1.0, 7), "seeded");
    }

    #[test]
    fn isolated_nodes_keep_their_own_community() {
        let graph = WeightedGraph {
            neighbours: vec![Vec::new(); 3],
        };
        let found = louvain(&graph, 1.0, 1);
        assert_eq!(found.len(), 3);
    }
}
