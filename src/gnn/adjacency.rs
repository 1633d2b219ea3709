//! `Adjacency`: who sends messages to whom, as validated CSR arrays, and
//! the forms layers derive from it (self loops, transpose). Sampling lives
//! in `sample.rs`, GCN's normalisation in `gcn.rs`.

use crate::error::{Error, Result};
use ndarray::ArrayView2;
use rayon::prelude::*;

/// Who sends messages to whom, in compressed sparse row form: row `i` lists
/// the sources node `i` aggregates (its in-neighbours), each edge with an
/// optional weight (1 when absent).
///
/// Usually square (sources and destinations are the same nodes). A
/// minibatch *block* is bipartite: its rows are the first `num_nodes` of its
/// `num_sources` source nodes (destinations first, the convention of DGL's
/// blocks), so a layer finds a destination's own features in the first rows
/// of its input.
#[derive(Clone, Debug, PartialEq)]
pub struct Adjacency {
    /// Destination rows.
    pub(super) num_nodes: usize,
    pub(super) num_sources: usize,
    pub(super) offsets: Vec<usize>,
    pub(super) sources: Vec<u32>,
    pub(super) weights: Option<Vec<f32>>,
}

impl Adjacency {
    /// Validates a CSR adjacency: `offsets` has `num_nodes + 1` increasing
    /// entries starting at 0 and ending at `sources.len()`, and every source
    /// is below `num_nodes`.
    pub fn from_csr(num_nodes: usize, offsets: Vec<usize>, sources: Vec<u32>) -> Result<Adjacency> {
        Adjacency::from_csr_bipartite(num_nodes, num_nodes, offsets, sources)
    }

    /// A CSR adjacency whose `num_nodes` rows aggregate from `num_sources ≥
    /// num_nodes` source nodes, the first `num_nodes` of which are the rows
    /// themselves.
    pub fn from_csr_bipartite(
        num_nodes: usize,
        num_sources: usize,
        offsets: Vec<usize>,
        sources: Vec<u32>,
    ) -> Result<Adjacency> {
        if num_sources < num_nodes {
            return Err(Error::InvalidGraph(format!(
                "{num_sources} source nodes for {num_nodes} rows; the rows come first among the sources"
            )));
        }
        if offsets.len() != num_nodes + 1 {
            return Err(Error::InvalidGraph(format!(
                "{} offsets for {num_nodes} nodes; CSR needs nodes + 1",
                offsets.len()
            )));
        }
        if offsets[0] != 0 || offsets[num_nodes] != sources.len() {
            return Err(Error::InvalidGraph(format!(
                "offsets run from {} to {}, but there are {} edges",
                offsets[0],
                offsets[num_nodes],
                sources.len()
            )));
        }
        if let Some(i) = offsets.windows(2).position(|w| w[0] > w[1]) {
            return Err(Error::InvalidGraph(format!("offsets decrease at node {i}")));
        }
        if let Some(&bad) = sources.iter().find(|&&s| s as usize >= num_sources) {
            return Err(Error::InvalidGraph(format!(
                "neighbour id {bad} is out of range for {num_sources} nodes"
            )));
        }
        Ok(Adjacency {
            num_nodes,
            num_sources,
            offsets,
            sources,
            weights: None,
        })
    }

    /// One list of sources per node.
    pub fn from_lists(lists: &[Vec<u32>]) -> Result<Adjacency> {
        let mut offsets = Vec::with_capacity(lists.len() + 1);
        offsets.push(0);
        let mut sources = Vec::with_capacity(lists.iter().map(Vec::len).sum());
        for list in lists {
            sources.extend_from_slice(list);
            offsets.push(sources.len());
        }
        Adjacency::from_csr(lists.len(), offsets, sources)
    }

    /// Sets one finite weight per edge, in CSR order.
    pub fn with_weights(mut self, weights: Vec<f32>) -> Result<Adjacency> {
        if weights.len() != self.sources.len() {
            return Err(Error::ShapeMismatch(format!(
                "{} edge weights for {} edges",
                weights.len(),
                self.sources.len()
            )));
        }
        if let Some(i) = weights.iter().position(|w| !w.is_finite()) {
            return Err(Error::InvalidGraph(format!(
                "edge weight {i} is not finite"
            )));
        }
        self.weights = Some(weights);
        Ok(self)
    }

    /// Destination rows (all nodes, for a square graph).
    pub fn num_nodes(&self) -> usize {
        self.num_nodes
    }

    /// Rows the input features must have.
    pub fn num_sources(&self) -> usize {
        self.num_sources
    }

    pub fn num_edges(&self) -> usize {
        self.sources.len()
    }

    /// The raw CSR arrays: `offsets` (`num_nodes + 1`) and `sources`.
    pub fn csr(&self) -> (&[usize], &[u32]) {
        (&self.offsets, &self.sources)
    }

    /// The sources of node `i`.
    #[inline]
    pub fn sources(&self, i: usize) -> &[u32] {
        &self.sources[self.offsets[i]..self.offsets[i + 1]]
    }

    /// The weights of node `i`'s edges, if the adjacency has weights.
    #[inline]
    pub fn weights(&self, i: usize) -> Option<&[f32]> {
        self.weights
            .as_ref()
            .map(|w| &w[self.offsets[i]..self.offsets[i + 1]])
    }

    /// Positions of node `i`'s edges in CSR order (indexes per-edge data
    /// such as weights or attention).
    #[inline]
    pub fn edge_range(&self, i: usize) -> std::ops::Range<usize> {
        self.offsets[i]..self.offsets[i + 1]
    }

    /// Number of incoming edges of node `i`.
    #[inline]
    pub fn degree(&self, i: usize) -> usize {
        self.offsets[i + 1] - self.offsets[i]
    }

    /// The same graph with an edge from every node to itself (weight 1)
    /// where there was none.
    pub fn with_self_loops(&self) -> Adjacency {
        self.rebuilt(|i| {
            let mut edges: Vec<(u32, f32)> = self.edges(i).collect();
            if !self.sources(i).contains(&(i as u32)) {
                edges.push((i as u32, 1.0));
            }
            edges
        })
    }

    /// `(source, weight)` of node `i`'s edges (weight 1 when unweighted).
    pub(super) fn edges(&self, i: usize) -> impl Iterator<Item = (u32, f32)> + '_ {
        let weights = self.weights(i);
        self.sources(i)
            .iter()
            .enumerate()
            .map(move |(k, &j)| (j, weights.map_or(1.0, |w| w[k])))
    }

    /// A graph on the same nodes whose row `i` is `row(i)`, computed in
    /// parallel; weights are kept only if this graph has them.
    pub(super) fn rebuilt(
        &self,
        row: impl Fn(usize) -> Vec<(u32, f32)> + Sync + Send,
    ) -> Adjacency {
        let rows: Vec<Vec<(u32, f32)>> = (0..self.num_nodes).into_par_iter().map(row).collect();
        let mut offsets = Vec::with_capacity(self.num_nodes + 1);
        offsets.push(0);
        let mut sources = Vec::with_capacity(rows.iter().map(Vec::len).sum());
        let mut weights = self
            .weights
            .as_ref()
            .map(|_| Vec::with_capacity(sources.capacity()));
        for row in rows {
            sources.extend(row.iter().map(|&(j, _)| j));
            if let Some(out) = weights.as_mut() {
                out.extend(row.iter().map(|&(_, w)| w));
            }
            offsets.push(sources.len());
        }
        Adjacency {
            num_nodes: self.num_nodes,
            num_sources: self.num_sources,
            offsets,
            sources,
            weights,
        }
    }

    /// Every edge reversed, weights kept: row `j` of the result lists the
    /// nodes that aggregate `j`.
    pub fn transpose(&self) -> Adjacency {
        let (mut transposed, original_edge) = self.transpose_edges();
        transposed.weights = self
            .weights
            .as_ref()
            .map(|w| original_edge.iter().map(|&e| w[e as usize]).collect());
        transposed
    }

    /// The reversed graph without weights, and for each of its edges (in
    /// CSR order) the index of the edge it reverses: lets a layer whose
    /// edge weights change every pass (GAT's attention) transpose once and
    /// permute the weights.
    pub fn transpose_edges(&self) -> (Adjacency, Vec<u32>) {
        let mut counts = vec![0usize; self.num_sources + 1];
        for &j in &self.sources {
            counts[j as usize + 1] += 1;
        }
        for i in 0..self.num_sources {
            counts[i + 1] += counts[i];
        }
        let offsets = counts.clone();
        let mut next = counts;
        let mut sources = vec![0u32; self.sources.len()];
        let mut original_edge = vec![0u32; self.sources.len()];
        for i in 0..self.num_nodes {
            for (e, &j) in self.edge_range(i).zip(self.sources(i)) {
                let at = next[j as usize];
                next[j as usize] += 1;
                sources[at] = i as u32;
                original_edge[at] = e as u32;
            }
        }
        // A block's transpose has more rows than sources; that is fine for
        // backward passes, which only aggregate over it.
        let transposed = Adjacency {
            num_nodes: self.num_sources,
            num_sources: self.num_nodes,
            offsets,
            sources,
            weights: None,
        };
        (transposed, original_edge)
    }

    pub(super) fn check_features(&self, features: &ArrayView2<'_, f32>, what: &str) -> Result<()> {
        check_rows(features, self.num_sources, what)
    }
}

/// Fails unless `matrix` has `rows` rows (one per graph node).
pub(crate) fn check_rows(matrix: &ArrayView2<'_, f32>, rows: usize, what: &str) -> Result<()> {
    if matrix.nrows() != rows {
        return Err(Error::ShapeMismatch(format!(
            "{what} has {} rows, the graph has {rows} nodes",
            matrix.nrows()
        )));
    }
    Ok(())
}

/// `data` (`per_edge` values per edge, in CSR order) cut into each
/// destination row's part, so rows can be filled in parallel.
pub(crate) fn edge_rows<'a, T>(
    graph: &Adjacency,
    data: &'a mut [T],
    per_edge: usize,
) -> Vec<&'a mut [T]> {
    split_rows(&graph.offsets, data, per_edge)
}

/// `data` cut at `offsets` (times `per_edge`) into one slice per row.
pub(super) fn split_rows<'a, T>(
    offsets: &[usize],
    data: &'a mut [T],
    per_edge: usize,
) -> Vec<&'a mut [T]> {
    let mut rest = data;
    offsets
        .windows(2)
        .map(|w| {
            let (row, tail) = std::mem::take(&mut rest).split_at_mut((w[1] - w[0]) * per_edge);
            rest = tail;
            row
        })
        .collect()
}
