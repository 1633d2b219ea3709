//! The one message-passing engine every layer runs on: node `i` gathers a
//! message from each source `j` in its row of the adjacency — the source's
//! features scaled by the edge weight — and reduces them with an
//! [`Aggregation`]. Rows are independent, so the forward pass runs in
//! parallel over destination rows with no synchronisation; the inner loops
//! are contiguous `f32` axpy/max over a feature row, which the compiler
//! vectorises.
//!
//! Backward passes reuse the same engine on the transposed adjacency (a
//! gradient flows from each destination back to its sources), except for
//! `Max`, whose gradient goes only to the winning source of each element
//! and is scattered in parallel over column blocks.

use crate::error::{Error, Result};
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};
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
    num_nodes: usize,
    num_sources: usize,
    offsets: Vec<usize>,
    sources: Vec<u32>,
    weights: Option<Vec<f32>>,
}

/// How a node reduces its incoming messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregation {
    Sum,
    /// Sum divided by the number of incoming edges (0 for none).
    Mean,
    /// Element-wise maximum (0 for a node without incoming edges).
    Max,
}

impl Aggregation {
    pub fn parse(name: &str) -> Result<Aggregation> {
        match name {
            "sum" => Ok(Aggregation::Sum),
            "mean" => Ok(Aggregation::Mean),
            "max" => Ok(Aggregation::Max),
            other => Err(Error::invalid_argument(format!(
                "aggregation must be 'sum', 'mean' or 'max', got {other:?}"
            ))),
        }
    }
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
        let mut rng =
            crate::rng::SplitMix64::new(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
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

    /// `(source, weight)` of node `i`'s edges (weight 1 when unweighted).
    fn edges(&self, i: usize) -> impl Iterator<Item = (u32, f32)> + '_ {
        let weights = self.weights(i);
        self.sources(i)
            .iter()
            .enumerate()
            .map(move |(k, &j)| (j, weights.map_or(1.0, |w| w[k])))
    }

    /// A graph on the same nodes whose row `i` is `row(i)`, computed in
    /// parallel; weights are kept only if this graph has them.
    fn rebuilt(&self, row: impl Fn(usize) -> Vec<(u32, f32)> + Sync + Send) -> Adjacency {
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

    /// GCN's symmetric normalisation `D^-1/2 Â D^-1/2`, with `Â = A + I`
    /// when `self_loops` (a loop is added where a node has none): edge
    /// `j → i` gets weight `w_ij / sqrt(d_i d_j)`, where `d` is a node's
    /// weighted in-degree in `Â` (Kipf & Welling). Nodes of degree 0 keep no
    /// edges to normalise. Built in one parallel pass into exact-size
    /// arrays. Square graphs only.
    pub fn gcn_normalized(&self, self_loops: bool) -> Adjacency {
        debug_assert_eq!(self.num_nodes, self.num_sources);
        let n = self.num_nodes;
        let adds_loop: Vec<bool> = (0..n)
            .into_par_iter()
            .map(|i| self_loops && !self.sources(i).contains(&(i as u32)))
            .collect();
        let degree: Vec<f32> = (0..n)
            .into_par_iter()
            .map(|i| {
                let own = match self.weights(i) {
                    Some(w) => w.iter().sum(),
                    None => self.degree(i) as f32,
                };
                own + adds_loop[i] as u8 as f32
            })
            .collect();
        let inverse_sqrt: Vec<f32> = degree
            .iter()
            .map(|&d| if d > 0.0 { 1.0 / d.sqrt() } else { 0.0 })
            .collect();
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        for i in 0..n {
            offsets.push(offsets[i] + self.degree(i) + adds_loop[i] as usize);
        }
        let mut sources = vec![0u32; offsets[n]];
        let mut weights = vec![0f32; offsets[n]];
        split_rows(&offsets, &mut sources, 1)
            .into_par_iter()
            .zip(split_rows(&offsets, &mut weights, 1))
            .enumerate()
            .for_each(|(i, (row_sources, row_weights))| {
                let loops = adds_loop[i].then_some((i as u32, 1.0));
                for (k, (j, w)) in self.edges(i).chain(loops).enumerate() {
                    row_sources[k] = j;
                    row_weights[k] = w * inverse_sqrt[i] * inverse_sqrt[j as usize];
                }
            });
        Adjacency {
            num_nodes: n,
            num_sources: n,
            offsets,
            sources,
            weights: Some(weights),
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

    fn check_features(&self, features: &ArrayView2<'_, f32>, what: &str) -> Result<()> {
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
fn split_rows<'a, T>(offsets: &[usize], data: &'a mut [T], per_edge: usize) -> Vec<&'a mut [T]> {
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

/// The output of [`aggregate`], plus what its backward pass needs.
#[derive(Clone, Debug)]
pub struct Aggregated {
    pub output: Array2<f32>,
    /// For `Max`: the winning edge (CSR index) of each output element,
    /// `u32::MAX` where a node has no incoming edge.
    winners: Option<Array2<u32>>,
}

/// `output[i] = reduce over j in sources(i) of w_ij · features[j]`.
pub fn aggregate(
    graph: &Adjacency,
    features: ArrayView2<'_, f32>,
    aggregation: Aggregation,
) -> Result<Aggregated> {
    aggregate_with(graph, graph.weights.as_deref(), features, aggregation)
}

/// The weighted sum `output[i] = Σ_j w_ij · features[j]` with `edge_weights`
/// (CSR order) in place of the graph's own: for weights that change every
/// pass, such as GAT's attention, without rebuilding the graph.
pub fn weighted_sum(
    graph: &Adjacency,
    edge_weights: &[f32],
    features: ArrayView2<'_, f32>,
) -> Result<Array2<f32>> {
    if edge_weights.len() != graph.num_edges() {
        return Err(Error::ShapeMismatch(format!(
            "{} edge weights for {} edges",
            edge_weights.len(),
            graph.num_edges()
        )));
    }
    Ok(aggregate_with(graph, Some(edge_weights), features, Aggregation::Sum)?.output)
}

/// How many edges ahead the gather prefetches a source row.
const PREFETCH_DISTANCE: usize = 16;

fn aggregate_with(
    graph: &Adjacency,
    edge_weights: Option<&[f32]>,
    features: ArrayView2<'_, f32>,
    aggregation: Aggregation,
) -> Result<Aggregated> {
    graph.check_features(&features, "the feature matrix")?;
    let features = features.as_standard_layout();
    let width = features.ncols();
    let mut output = Array2::<f32>::zeros((graph.num_nodes, width));
    if width == 0 || graph.num_nodes == 0 {
        return Ok(Aggregated {
            output,
            winners: (aggregation == Aggregation::Max)
                .then(|| Array2::from_elem((graph.num_nodes, width), u32::MAX)),
        });
    }
    let rows = features.as_slice().expect("standard layout");
    let row = |j: u32| &rows[j as usize * width..(j as usize + 1) * width];
    let out = output.as_slice_mut().expect("fresh arrays are contiguous");
    match aggregation {
        Aggregation::Sum | Aggregation::Mean => {
            sum_rows(
                graph,
                edge_weights,
                rows,
                width,
                aggregation == Aggregation::Mean,
                output.view_mut(),
            );
            Ok(Aggregated {
                output,
                winners: None,
            })
        }
        Aggregation::Max => {
            let mut winners = Array2::<u32>::from_elem((graph.num_nodes, width), u32::MAX);
            let won = winners.as_slice_mut().expect("fresh arrays are contiguous");
            out.par_chunks_mut(width)
                .zip(won.par_chunks_mut(width))
                .enumerate()
                .for_each(|(i, (out, won))| {
                    let start = graph.offsets[i];
                    let weights = edge_weights.map(|w| &w[graph.edge_range(i)]);
                    for (k, &j) in graph.sources(i).iter().enumerate() {
                        if let Some(&ahead) = graph.sources.get(start + k + PREFETCH_DISTANCE) {
                            crate::distance::prefetch(row(ahead));
                        }
                        let w = weights.map_or(1.0, |w| w[k]);
                        let edge = (start + k) as u32;
                        for ((o, winner), &x) in out.iter_mut().zip(won.iter_mut()).zip(row(j)) {
                            let message = w * x;
                            if *winner == u32::MAX || message > *o {
                                *o = message;
                                *winner = edge;
                            }
                        }
                    }
                });
            Ok(Aggregated {
                output,
                winners: Some(winners),
            })
        }
    }
}

/// [`aggregate`]'s sum or mean written into `output` (a view with
/// contiguous rows, such as a block of columns of a larger matrix), so a
/// caller can fill a wide result a few columns at a time.
pub fn aggregate_into(
    graph: &Adjacency,
    features: ArrayView2<'_, f32>,
    aggregation: Aggregation,
    output: ArrayViewMut2<'_, f32>,
) -> Result<()> {
    graph.check_features(&features, "the feature matrix")?;
    check_rows(&output.view(), graph.num_nodes, "the output")?;
    if output.ncols() != features.ncols() || aggregation == Aggregation::Max {
        return Err(Error::ShapeMismatch(format!(
            "a {}-column sum or mean into {} columns",
            features.ncols(),
            output.ncols()
        )));
    }
    let features = features.as_standard_layout();
    let rows = features.as_slice().expect("standard layout");
    sum_rows(
        graph,
        graph.weights.as_deref(),
        rows,
        features.ncols(),
        aggregation == Aggregation::Mean,
        output,
    );
    Ok(())
}

/// Row `i` of `output` = Σ (or mean) over `i`'s edges of weight × source
/// row, in parallel over rows. `rows` holds the sources' features
/// row-major, `width` wide.
fn sum_rows(
    graph: &Adjacency,
    edge_weights: Option<&[f32]>,
    rows: &[f32],
    width: usize,
    mean: bool,
    mut output: ArrayViewMut2<'_, f32>,
) {
    let row = |j: u32| &rows[j as usize * width..(j as usize + 1) * width];
    output
        .axis_iter_mut(Axis(0))
        .into_par_iter()
        .enumerate()
        .for_each(|(i, mut out)| {
            let out = out.as_slice_mut().expect("output rows are contiguous");
            let sources = graph.sources(i);
            let weights = edge_weights.map(|w| &w[graph.edge_range(i)]);
            // Written before it is read: reading a fresh zeroed page first
            // maps the shared zero page, and the write then costs a
            // copy-on-write fault with a TLB shootdown.
            out.fill(0.0);
            let start = graph.offsets[i];
            for (k, &j) in sources.iter().enumerate() {
                // Sources are scattered over memory: ask for a row a few
                // edges ahead (into the next rows) while this one is summed.
                if let Some(&ahead) = graph.sources.get(start + k + PREFETCH_DISTANCE) {
                    crate::distance::prefetch(row(ahead));
                }
                let w = weights.map_or(1.0, |w| w[k]);
                for (o, &x) in out.iter_mut().zip(row(j)) {
                    *o += w * x;
                }
            }
            if mean && !sources.is_empty() {
                let scale = 1.0 / sources.len() as f32;
                out.iter_mut().for_each(|o| *o *= scale);
            }
        });
}

/// The gradient of a loss with respect to `aggregate`'s features, given
/// its gradient with respect to the output. `transposed` is
/// `graph.transpose()` (computed once by callers that run many passes).
pub fn aggregate_backward(
    graph: &Adjacency,
    transposed: &Adjacency,
    forward: &Aggregated,
    output_gradient: ArrayView2<'_, f32>,
    aggregation: Aggregation,
) -> Result<Array2<f32>> {
    check_rows(&output_gradient, graph.num_nodes, "the output gradient")?;
    if output_gradient.dim() != forward.output.dim() {
        return Err(Error::ShapeMismatch(format!(
            "output gradient is {:?}, the output was {:?}",
            output_gradient.dim(),
            forward.output.dim()
        )));
    }
    match (aggregation, &forward.winners) {
        (Aggregation::Sum, _) => {
            Ok(aggregate(transposed, output_gradient, Aggregation::Sum)?.output)
        }
        (Aggregation::Mean, _) => {
            // Mean divided row i by its degree; the gradient carries that back.
            let mut scaled = output_gradient.to_owned();
            for (i, mut row) in scaled.axis_iter_mut(Axis(0)).enumerate() {
                let degree = graph.degree(i);
                if degree > 0 {
                    row.mapv_inplace(|g| g / degree as f32);
                }
            }
            Ok(aggregate(transposed, scaled.view(), Aggregation::Sum)?.output)
        }
        (Aggregation::Max, Some(winners)) => {
            Ok(scatter_to_winners(graph, winners, output_gradient))
        }
        (Aggregation::Max, None) => Err(Error::Internal(
            "a max aggregation without its winners".into(),
        )),
    }
}

/// Sends each output element's gradient to the source that won it, scaled
/// by the winning edge's weight. Parallel over column blocks: each block
/// writes only its own columns, so no two threads touch one element.
fn scatter_to_winners(
    graph: &Adjacency,
    winners: &Array2<u32>,
    gradient: ArrayView2<'_, f32>,
) -> Array2<f32> {
    let width = gradient.ncols();
    let mut input_gradient = Array2::<f32>::zeros((graph.num_sources, width));
    let block = width
        .div_ceil(rayon::current_num_threads().max(1) * 2)
        .max(8);
    let blocks: Vec<(usize, ArrayViewMut2<'_, f32>)> = input_gradient
        .axis_chunks_iter_mut(Axis(1), block)
        .enumerate()
        .map(|(b, view)| (b * block, view))
        .collect();
    blocks.into_par_iter().for_each(|(first, mut view)| {
        for i in 0..graph.num_nodes {
            for c in 0..view.ncols() {
                let edge = winners[[i, first + c]];
                if edge == u32::MAX {
                    continue;
                }
                let source = graph.sources[edge as usize] as usize;
                let w = graph.weights.as_ref().map_or(1.0, |w| w[edge as usize]);
                view[[source, c]] += w * gradient[[i, first + c]];
            }
        }
    });
    input_gradient
}

#[cfg(test)]
mod tests;
