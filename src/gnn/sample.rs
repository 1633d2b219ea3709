//! GraphSAGE's neighbour sampling, over a whole graph and as the bipartite
//! blocks of a minibatch. A node's choice depends only on the seed and the
//! node, so whole-graph and minibatch passes sample the same neighbours.

use super::adjacency::Adjacency;
use crate::error::{Error, Result};
use crate::rng::SplitMix64;

impl Adjacency {
    /// GraphSAGE's neighbour sampling: each node keeps at most `size` of
    /// its edges, chosen uniformly without replacement (weights kept).
    /// Reproducible: node `i`'s choice depends only on `seed` and `i`, so
    /// it does not change with thread count or with other rows.
    pub fn sample_neighbors(&self, size: usize, seed: u64) -> Adjacency {
        self.rebuilt(|i| self.sampled_edges(i, size, seed))
    }

    /// Node `i`'s edges, at most `size` of them chosen uniformly without
    /// replacement from `seed` and `i` alone, in their original order.
    fn sampled_edges(&self, i: usize, size: usize, seed: u64) -> Vec<(u32, f32)> {
        let edges: Vec<(u32, f32)> = self.edges(i).collect();
        if edges.len() <= size {
            return edges;
        }
        // A partial Fisher-Yates shuffle of positions picks `size` distinct
        // edges; sorting keeps their original order.
        let mut rng = SplitMix64::new(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut positions: Vec<usize> = (0..edges.len()).collect();
        for k in 0..size {
            let pick = k + rng.below(positions.len() - k);
            positions.swap(k, pick);
        }
        positions.truncate(size);
        positions.sort_unstable();
        positions.into_iter().map(|p| edges[p]).collect()
    }

    /// The blocks a minibatch forward pass runs on: starting from
    /// `targets`, hop `h` samples at most `sizes[h]` sources of every node
    /// reached so far (`None`: all of them), with the same choice
    /// [`Adjacency::sample_neighbors`] makes for `seeds[h]`. So a stack run
    /// on the blocks gives the targets' rows of the same stack run on the
    /// whole graph sampled per layer, while touching only their receptive
    /// field. Square graphs only.
    pub fn sample_blocks(
        &self,
        targets: &[u32],
        sizes: &[Option<usize>],
        seeds: &[u64],
    ) -> Result<Minibatch> {
        if self.num_sources != self.num_nodes {
            return Err(Error::InvalidGraph(
                "minibatches are sampled from a square graph".into(),
            ));
        }
        let mut nodes: Vec<u32> = Vec::with_capacity(targets.len());
        let mut local: std::collections::HashMap<u32, u32> =
            std::collections::HashMap::with_capacity(targets.len());
        let mut target_rows = Vec::with_capacity(targets.len());
        for &t in targets {
            if t as usize >= self.num_nodes {
                return Err(Error::InvalidGraph(format!(
                    "batch node {t} is out of range for {} nodes",
                    self.num_nodes
                )));
            }
            let row = *local.entry(t).or_insert_with(|| {
                nodes.push(t);
                nodes.len() as u32 - 1
            });
            target_rows.push(row);
        }
        let mut blocks = Vec::with_capacity(sizes.len());
        for (&size, &seed) in sizes.iter().zip(seeds) {
            let rows = nodes.len();
            let mut offsets = Vec::with_capacity(rows + 1);
            offsets.push(0);
            let mut sources = Vec::new();
            let mut weights = self.weights.as_ref().map(|_| Vec::new());
            for row in 0..rows {
                for (j, w) in
                    self.sampled_edges(nodes[row] as usize, size.unwrap_or(usize::MAX), seed)
                {
                    let at = *local.entry(j).or_insert_with(|| {
                        nodes.push(j);
                        nodes.len() as u32 - 1
                    });
                    sources.push(at);
                    if let Some(weights) = weights.as_mut() {
                        weights.push(w);
                    }
                }
                offsets.push(sources.len());
            }
            blocks.push(Adjacency {
                num_nodes: rows,
                num_sources: nodes.len(),
                offsets,
                sources,
                weights,
            });
        }
        blocks.reverse();
        Ok(Minibatch {
            input_nodes: nodes,
            blocks,
            target_rows,
        })
    }
}

/// What [`Adjacency::sample_blocks`] returns.
#[derive(Clone, Debug)]
pub struct Minibatch {
    /// The nodes whose features the first layer reads, in the order of its
    /// input rows: the targets first, then each hop's new nodes.
    pub input_nodes: Vec<u32>,
    /// One block per layer, the first layer's first; the last block's rows
    /// are the distinct targets.
    pub blocks: Vec<Adjacency>,
    /// For each requested target, its row in the last block's output.
    pub target_rows: Vec<u32>,
}
