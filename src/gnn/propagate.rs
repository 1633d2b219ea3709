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

use super::adjacency::{check_rows, Adjacency};
use super::gather::{Gather, HalfMatrix, SourceRows};
use super::tensor::check_gradient_shape;
use crate::error::{Error, Result};
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

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

/// The output of [`aggregate`], plus what its backward pass needs.
#[derive(Clone, Debug)]
pub struct Aggregated {
    pub output: Array2<f32>,
    /// For `Max`: the winning edge (CSR index) of each output element,
    /// `u32::MAX` where a node has no incoming edge.
    pub(super) winners: Option<Array2<u32>>,
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
    // Every row is written below (a pooled buffer holds stale values).
    let mut output = super::buffers::matrix(graph.num_nodes, width);
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
                SourceRows::F32 {
                    values: rows,
                    width,
                },
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
                    // 0 where no edge arrives; overwritten by the first message.
                    out.fill(0.0);
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

/// [`aggregate`]'s sum or mean from half-precision features: half the
/// bytes gathered; each output is within 2⁻¹¹ (relative) of the sum of
/// the magnitudes of its terms of the `f32` result.
pub fn aggregate_half(
    graph: &Adjacency,
    features: &HalfMatrix,
    aggregation: Aggregation,
) -> Result<Array2<f32>> {
    if features.rows() != graph.num_sources() {
        return Err(Error::ShapeMismatch(format!(
            "the feature matrix has {} rows, the graph has {} nodes",
            features.rows(),
            graph.num_sources()
        )));
    }
    if aggregation == Aggregation::Max {
        return Err(Error::invalid_argument(
            "half-precision features support the 'sum' and 'mean' aggregations".to_string(),
        ));
    }
    let mut output = super::buffers::matrix(graph.num_nodes, features.cols());
    sum_rows(
        graph,
        graph.weights.as_deref(),
        features.source_rows(),
        aggregation == Aggregation::Mean,
        output.view_mut(),
    );
    Ok(output)
}

/// Row `i` of `output` = Σ (or mean) over `i`'s edges of weight × source
/// row, in parallel over rows, on the active path's gather.
pub(super) fn sum_rows(
    graph: &Adjacency,
    edge_weights: Option<&[f32]>,
    rows: SourceRows<'_>,
    mean: bool,
    mut output: ArrayViewMut2<'_, f32>,
) {
    let gather = Gather::active();
    let all_sources = graph.csr().1;
    output
        .axis_iter_mut(Axis(0))
        .into_par_iter()
        .enumerate()
        .for_each(|(i, mut out)| {
            let out = out.as_slice_mut().expect("output rows are contiguous");
            let sources = graph.sources(i);
            let weights = edge_weights.map(|w| &w[graph.edge_range(i)]);
            let scale = if mean && !sources.is_empty() {
                1.0 / sources.len() as f32
            } else {
                1.0
            };
            // Sources are scattered over memory: the rows of the edges
            // PREFETCH_DISTANCE ahead (into the next nodes' lists) are
            // fetched while these are summed.
            let range = graph.edge_range(i);
            let ahead = &all_sources[(range.start + PREFETCH_DISTANCE).min(all_sources.len())
                ..(range.end + PREFETCH_DISTANCE).min(all_sources.len())];
            gather.gather_row(rows, sources, weights, scale, ahead, out);
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
    check_gradient_shape(&output_gradient, &forward.output)?;
    match (aggregation, &forward.winners) {
        (Aggregation::Sum, _) => {
            Ok(aggregate(transposed, output_gradient, Aggregation::Sum)?.output)
        }
        // The mean scales its gradient first: on a copy it may overwrite.
        (Aggregation::Mean, _) => sum_backward(
            graph,
            transposed,
            super::buffers::copy_of(output_gradient),
            true,
        ),
        (Aggregation::Max, Some(winners)) => {
            Ok(scatter_to_winners(graph, winners, output_gradient))
        }
        (Aggregation::Max, None) => Err(Error::Internal(
            "a max aggregation without its winners".into(),
        )),
    }
}

/// [`aggregate_backward`] taking the output's gradient, which it may
/// overwrite and gives back to the buffer pool.
pub fn aggregate_backward_owned(
    graph: &Adjacency,
    transposed: &Adjacency,
    forward: &Aggregated,
    output_gradient: Array2<f32>,
    aggregation: Aggregation,
) -> Result<Array2<f32>> {
    check_gradient_shape(&output_gradient.view(), &forward.output)?;
    match aggregation {
        Aggregation::Sum | Aggregation::Mean => sum_backward(
            graph,
            transposed,
            output_gradient,
            aggregation == Aggregation::Mean,
        ),
        Aggregation::Max => {
            let gradient = aggregate_backward(
                graph,
                transposed,
                forward,
                output_gradient.view(),
                aggregation,
            );
            super::buffers::recycle_matrix(output_gradient);
            gradient
        }
    }
}

/// The gradient of a sum (or `mean`) aggregation's features from its
/// output's gradient, which it overwrites and gives back to the buffer
/// pool: the same sum over the reversed edges.
pub fn sum_backward(
    graph: &Adjacency,
    transposed: &Adjacency,
    mut output_gradient: Array2<f32>,
    mean: bool,
) -> Result<Array2<f32>> {
    check_rows(
        &output_gradient.view(),
        graph.num_nodes,
        "the output gradient",
    )?;
    if mean {
        // Mean divided row i by its degree; the gradient carries that back.
        output_gradient
            .axis_iter_mut(Axis(0))
            .into_par_iter()
            .enumerate()
            .for_each(|(i, mut row)| {
                let scale = 1.0 / graph.degree(i).max(1) as f32;
                row.mapv_inplace(|g| g * scale);
            });
    }
    let gradient = aggregate(transposed, output_gradient.view(), Aggregation::Sum)?.output;
    super::buffers::recycle_matrix(output_gradient);
    Ok(gradient)
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
