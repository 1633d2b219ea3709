//! Graph convolution (Kipf & Welling, 2017): `H' = σ(Â · H · W + b)` with
//! `Â = D^-1/2 (A + I) D^-1/2`. What differs from the engine's defaults is
//! only the normalisation; the product `H · W` runs first so the sparse
//! aggregation moves `output_dim`-wide rows (narrower than the input for the
//! usual 128 → 64).

use super::adjacency::{split_rows, Adjacency};
use super::buffers;
use super::dense;
use super::gather::{HalfMatrix, RowPrecision, SourceRows};
use super::propagate::{aggregate, sum_rows, Aggregation};
use super::tensor::{bias_and_activate, check_gradient_shape, Activation, Linear, LinearGradients};
use super::Layer;
use crate::error::Result;
use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

#[derive(Clone, Debug, PartialEq)]
pub struct Gcn {
    pub linear: Linear,
    pub activation: Activation,
    /// Add `I` to the adjacency before normalising (on by default).
    pub self_loops: bool,
}

/// Rows projected at a time into half precision: a block's `f32`
/// projection (1024 × 64 floats, 256 KB) stays in L2 until it is rounded.
const PROJECTION_BLOCK: usize = 1024;

/// The propagation graph a GCN uses for `graph`: self loops (if asked)
/// and symmetric normalisation, plus its transpose for backward. Build it
/// once per graph and reuse it across layers and passes.
#[derive(Clone, Debug)]
pub struct GcnGraph {
    normalized: Adjacency,
    /// How inference stores the projected rows it gathers.
    precision: RowPrecision,
    /// Built on the first backward pass: inference never needs it.
    transposed: std::sync::OnceLock<Adjacency>,
}

impl GcnGraph {
    pub fn new(graph: &Adjacency, self_loops: bool) -> GcnGraph {
        GcnGraph::with_precision(graph, self_loops, RowPrecision::F32)
    }

    pub fn with_precision(
        graph: &Adjacency,
        self_loops: bool,
        precision: RowPrecision,
    ) -> GcnGraph {
        let normalized = gcn_normalized(graph, self_loops);
        GcnGraph {
            normalized,
            precision,
            transposed: std::sync::OnceLock::new(),
        }
    }
}

/// GCN's symmetric normalisation `D^-1/2 Â D^-1/2`, with `Â = A + I`
/// when `self_loops` (a loop is added where a node has none): edge
/// `j → i` gets weight `w_ij / sqrt(d_i d_j)`, where `d` is a node's
/// weighted in-degree in `Â` (Kipf & Welling). Nodes of degree 0 keep no
/// edges to normalise. Built in one parallel pass into exact-size
/// arrays. Square graphs only.
pub fn gcn_normalized(graph: &Adjacency, self_loops: bool) -> Adjacency {
    debug_assert_eq!(graph.num_nodes, graph.num_sources);
    let n = graph.num_nodes;
    let adds_loop: Vec<bool> = (0..n)
        .into_par_iter()
        .map(|i| self_loops && !graph.sources(i).contains(&(i as u32)))
        .collect();
    let degree: Vec<f32> = (0..n)
        .into_par_iter()
        .map(|i| {
            let own = match graph.weights(i) {
                Some(w) => w.iter().sum(),
                None => graph.degree(i) as f32,
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
        offsets.push(offsets[i] + graph.degree(i) + adds_loop[i] as usize);
    }
    let mut sources = vec![0u32; offsets[n]];
    let mut weights = vec![0f32; offsets[n]];
    split_rows(&offsets, &mut sources, 1)
        .into_par_iter()
        .zip(split_rows(&offsets, &mut weights, 1))
        .enumerate()
        .for_each(|(i, (row_sources, row_weights))| {
            let loops = adds_loop[i].then_some((i as u32, 1.0));
            for (k, (j, w)) in graph.edges(i).chain(loops).enumerate() {
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

/// f32 inference holds at most this much of the projection `x · W` at a
/// time besides its output: larger projections (1M × 64 is 256 MB) are made
/// and gathered a block of columns at a time. Not smaller: on a 100k × 64
/// projection (25.6 MB), two 32-column passes cost ~30–100% more time than
/// one here (a second gather over the graph, half-width tiles), for 12.8 MB
/// less peak memory; the f16 graph saves that memory at no cost in time.
const PROJECTION_BUDGET_BYTES: usize = 64 << 20;

/// Columns per block of f32 inference's projection: all of them when the
/// projection fits [`PROJECTION_BUDGET_BYTES`], else the most that fit,
/// in whole 16-float vectors.
fn projection_block_columns(nodes: usize, width: usize) -> usize {
    let fitting = PROJECTION_BUDGET_BYTES / (nodes.max(1) * 4);
    if fitting >= width {
        width.max(1)
    } else {
        (fitting / 16 * 16).max(16)
    }
}

/// What [`Gcn::backward`] needs from the forward pass: the input or its
/// aggregation (for the weight gradient) and the aggregated, biased values
/// (for the activation's derivative). A sum needs nothing else to go
/// backward.
#[derive(Clone, Debug)]
pub struct GcnCache {
    input: GcnInput,
    pre_activation: Array2<f32>,
}

/// The forward pass's order, chosen by the widths: the narrower side is
/// aggregated.
#[derive(Clone, Debug)]
enum GcnInput {
    /// Projected, then aggregated: the input `x` itself.
    Features(Array2<f32>),
    /// Aggregated, then projected: `Â · x`, whose product with the output
    /// gradient is the weight gradient with no aggregation backward.
    Aggregated(Array2<f32>),
}

impl GcnCache {
    /// Gives the cache's matrices back to the output pool.
    pub fn recycle(self) {
        let (GcnInput::Features(input) | GcnInput::Aggregated(input)) = self.input;
        for matrix in [input, self.pre_activation] {
            buffers::recycle_matrix(matrix);
        }
    }
}

impl Gcn {
    pub fn new(
        input_dim: usize,
        output_dim: usize,
        activation: Activation,
        seed: u64,
    ) -> Result<Gcn> {
        Ok(Gcn {
            linear: Linear::new(input_dim, output_dim, true, seed)?,
            activation,
            self_loops: true,
        })
    }

    /// Gradients of the parameters, and of the input features.
    pub fn backward(
        &self,
        graph: &GcnGraph,
        cache: &GcnCache,
        output_gradient: ArrayView2<'_, f32>,
    ) -> Result<(Array2<f32>, LinearGradients)> {
        let (input_gradient, gradients) =
            self.backward_with(graph, cache, output_gradient, true)?;
        Ok((input_gradient.expect("asked for"), gradients))
    }

    /// [`Gcn::backward`], with the input's gradient only if asked.
    pub fn backward_with(
        &self,
        graph: &GcnGraph,
        cache: &GcnCache,
        output_gradient: ArrayView2<'_, f32>,
        input_gradient: bool,
    ) -> Result<(Option<Array2<f32>>, LinearGradients)> {
        check_gradient_shape(&output_gradient, &cache.pre_activation)?;
        let pre_gradient = self
            .activation
            .backward(&cache.pre_activation, output_gradient);
        let bias = self
            .linear
            .bias
            .as_ref()
            .map(|_| pre_gradient.sum_axis(Axis(0)));
        // The sum's gradient: the same sum over the reversed edges (built
        // once per graph, when first needed).
        let transposed = || {
            graph
                .transposed
                .get_or_init(|| graph.normalized.transpose())
        };
        let (input_gradient, mut gradients) = match &cache.input {
            GcnInput::Features(input) => {
                let projected_gradient =
                    aggregate(transposed(), pre_gradient.view(), Aggregation::Sum)?.output;
                let result = self.linear.backward_with(
                    input.view(),
                    projected_gradient.view(),
                    input_gradient,
                );
                buffers::recycle_matrix(projected_gradient);
                result
            }
            GcnInput::Aggregated(aggregated) => {
                let (aggregated_gradient, gradients) = self.linear.backward_with(
                    aggregated.view(),
                    pre_gradient.view(),
                    input_gradient,
                );
                let input_gradient = match aggregated_gradient {
                    Some(g) => {
                        let back = aggregate(transposed(), g.view(), Aggregation::Sum)?.output;
                        buffers::recycle_matrix(g);
                        Some(back)
                    }
                    None => None,
                };
                (input_gradient, gradients)
            }
        };
        buffers::recycle_matrix(pre_gradient);
        gradients.bias = bias;
        Ok((input_gradient, gradients))
    }
}

impl Gcn {
    /// f32 inference without bias and activation: `x · W`, `block` columns
    /// at a time into `projected` (at least `nodes × block` floats), each
    /// block gathered into its columns of `output`.
    fn project_and_gather(
        &self,
        graph: &GcnGraph,
        features: ArrayView2<'_, f32>,
        mut projected: Vec<f32>,
        block: usize,
        mut output: ndarray::ArrayViewMut2<'_, f32>,
    ) {
        let (nodes, width) = output.dim();
        let block = block.clamp(1, width.max(1));
        assert!(
            projected.len() >= nodes * block.min(width),
            "a projection buffer too small"
        );
        let packed = self.linear.weight.packed();
        for first in (0..width).step_by(block) {
            let columns = first..(first + block).min(width);
            let values = &mut projected[..nodes * columns.len()];
            let part = ndarray::ArrayViewMut2::from_shape((nodes, columns.len()), values)
                .expect("a whole number of rows");
            dense::multiply_columns_into(features, packed, columns.clone(), part);
            sum_rows(
                &graph.normalized,
                graph.normalized.weights.as_deref(),
                SourceRows::F32 {
                    values: &projected[..nodes * columns.len()],
                    width: columns.len(),
                },
                false,
                output.slice_mut(ndarray::s![.., columns]),
            );
        }
        buffers::recycle(projected);
    }
}

impl Layer for Gcn {
    type Graph = GcnGraph;
    type Cache = GcnCache;

    /// Forward pass that keeps what backward needs.
    fn forward_train_owned(
        &self,
        graph: &GcnGraph,
        features: Array2<f32>,
    ) -> Result<(Array2<f32>, GcnCache)> {
        self.linear.check_input(&features.view())?;
        // Aggregating the narrower side costs less, and aggregating first
        // leaves the weight gradient without an aggregation backward.
        let (mut pre_activation, input) = if self.linear.input_dim() <= self.linear.output_dim() {
            let aggregated =
                aggregate(&graph.normalized, features.view(), Aggregation::Sum)?.output;
            buffers::recycle_matrix(features);
            let pre = self.linear.project(aggregated.view())?;
            (pre, GcnInput::Aggregated(aggregated))
        } else {
            let projected = self.linear.project(features.view())?;
            let pre = aggregate(&graph.normalized, projected.view(), Aggregation::Sum)?.output;
            buffers::recycle_matrix(projected);
            (pre, GcnInput::Features(features))
        };
        if let Some(bias) = &self.linear.bias {
            pre_activation += bias;
        }
        let output = self.activation.forward(&pre_activation);
        let cache = GcnCache {
            input,
            pre_activation,
        };
        Ok((output, cache))
    }

    /// Inference keeps nothing but the projection `x · W`, made in one
    /// pass over the features (into a pooled buffer, or row block by row
    /// block into half precision when the graph asks for it: half the
    /// bytes, and 100k × 64 of them stay in L3 for the gather), then
    /// gathered straight into the output; bias and activation in place.
    fn forward(&self, graph: &GcnGraph, features: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        self.linear.check_input(&features)?;
        let (nodes, width) = (graph.normalized.num_nodes(), self.linear.output_dim());
        let mut output = buffers::matrix(nodes, width);
        match graph.precision {
            RowPrecision::F32 => {
                // A block of columns at a time when the whole projection
                // would be large (see `PROJECTION_BUDGET_BYTES`).
                let block = projection_block_columns(nodes, width);
                let buffer = buffers::take(nodes * block.min(width));
                self.project_and_gather(graph, features, buffer, block, output.view_mut());
            }
            RowPrecision::F16 => {
                let packed = self.linear.weight.packed();
                let features = features.as_standard_layout();
                let projected = HalfMatrix::from_row_blocks(
                    features.nrows(),
                    width,
                    PROJECTION_BLOCK,
                    |first, out| {
                        let rows = out.len() / width.max(1);
                        let block = features.slice(ndarray::s![first..first + rows, ..]);
                        let out = ndarray::ArrayViewMut2::from_shape((rows, width), out)
                            .expect("a whole number of rows");
                        dense::multiply_into(block, packed, out);
                    },
                );
                sum_rows(
                    &graph.normalized,
                    graph.normalized.weights.as_deref(),
                    projected.source_rows(),
                    false,
                    output.view_mut(),
                );
            }
        }
        bias_and_activate(&mut output, self.linear.bias.as_ref(), self.activation);
        Ok(output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gnn::gather::RowPrecision;
    use crate::gnn::gradcheck::{
        draw_until, flat, numeric_gradients, probe_loss, random_graph, random_matrix, to_f64,
        GradCheck,
    };
    use crate::gnn::reference::{edges, kink_distance, GcnRef};
    use crate::rng::SplitMix64;

    #[test]
    fn gcn_forward_is_the_normalised_convolution() {
        // Path 0 - 1 - 2 (both directions), one feature, W = [[2]].
        let graph = Adjacency::from_lists(&[vec![1], vec![0, 2], vec![1]]).unwrap();
        let mut layer = Gcn::new(1, 1, Activation::None, 1).unwrap();
        layer.linear.weight.make_mut()[[0, 0]] = 2.0;
        let x = Array2::from_shape_vec((3, 1), vec![1.0, 2.0, 3.0]).unwrap();
        let out = layer
            .forward(&GcnGraph::new(&graph, true), x.view())
            .unwrap();
        // Degrees with self loops: 2, 3, 2.
        let d = [2f32, 3.0, 2.0];
        let expect0 = 2.0 * (1.0 / d[0] + 2.0 / (d[0] * d[1]).sqrt());
        let expect1 = 2.0 * (1.0 / (d[1] * d[0]).sqrt() + 2.0 / d[1] + 3.0 / (d[1] * d[2]).sqrt());
        assert!((out[[0, 0]] - expect0).abs() < 1e-5, "{out}");
        assert!((out[[1, 0]] - expect1).abs() < 1e-5, "{out}");
    }

    #[test]
    fn gcn_backward_matches_an_f64_reference_with_and_without_self_loops() {
        let mut check = GradCheck::new("gcn backward");
        for seed in 0..5 {
            let mut rng = SplitMix64::new(seed);
            let nodes = 5 + rng.below(8);
            // Wider and narrower outputs: both orders of the pass.
            let input = 2 + rng.below(5);
            let output = if seed % 2 == 0 {
                input + rng.below(3)
            } else {
                1 + rng.below(input - 1)
            };
            let adjacency = random_graph(nodes, 4, seed % 2 == 1, &mut rng);
            let edges = edges(&adjacency);
            for self_loops in [true, false] {
                let graph = GcnGraph::new(&adjacency, self_loops);
                for activation in [
                    Activation::None,
                    Activation::Tanh,
                    Activation::Elu(1.0),
                    Activation::Gelu,
                    Activation::LeakyRelu(0.1),
                ] {
                    let mut layer = Gcn::new(input, output, activation, seed).unwrap();
                    layer.self_loops = self_loops;
                    layer.linear.bias =
                        Some(ndarray::Array1::from_shape_fn(output, |_| rng.gaussian()));
                    // Differences straddling LeakyReLU's kink measure neither side.
                    let reference = GcnRef::of(&layer);
                    let x = draw_until(
                        "gcn features",
                        || random_matrix(nodes, input, &mut rng),
                        |x| {
                            let pre = reference.pre_activation(&edges, &to_f64(x));
                            pre.iter().all(|&v| kink_distance(activation, v) > 1e-3)
                        },
                    );
                    let probe = random_matrix(nodes, output, &mut rng);
                    let (out, cache) = layer.forward_train(&graph, x.view()).unwrap();
                    let (dx, grads) = layer.backward(&graph, &cache, probe.view()).unwrap();
                    let what = format!("seed {seed} self_loops={self_loops} {activation:?}");
                    let point = (to_f64(&x), GcnRef::of(&layer));
                    let reference = |(x, gcn): &(Array2<f64>, GcnRef)| gcn.forward(&edges, x);
                    check.forward(&what, &out, &reference(&point));
                    let probe = to_f64(&probe);
                    let numeric = numeric_gradients(&point, |p| probe_loss(&reference(p), &probe));
                    check.tensors(
                        &what,
                        &["dx", "dW", "db"],
                        &[
                            flat(&dx),
                            flat(&grads.weight),
                            flat(grads.bias.as_ref().unwrap()),
                        ],
                        &numeric,
                    );
                }
            }
        }
        check.finish();
    }

    #[test]
    fn half_precision_rows_stay_within_the_stated_bound_of_f32() {
        let mut rng = SplitMix64::new(11);
        for (nodes, input, output) in [(300, 37, 64), (500, 128, 64), (200, 16, 130)] {
            let graph = random_graph(nodes, 12, false, &mut rng);
            let x = random_matrix(nodes, input, &mut rng);
            let layer = Gcn::new(input, output, Activation::Relu, 5).unwrap();
            let full = layer
                .forward(&GcnGraph::new(&graph, true), x.view())
                .unwrap();
            let half = layer
                .forward(
                    &GcnGraph::with_precision(&graph, true, RowPrecision::F16),
                    x.view(),
                )
                .unwrap();
            let scale = full.iter().fold(0f32, |m, v| m.max(v.abs()));
            let error = full
                .iter()
                .zip(&half)
                .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(scale > 0.0);
            // The bound GraphOptions documents: 2e-3 of the output's scale.
            assert!(
                error <= 2e-3 * scale,
                "{nodes}×{input}→{output}: error {error} at scale {scale}"
            );
            // And f16 really is in use: not bit-identical to f32.
            assert!(error > 0.0);
        }
    }

    #[test]
    fn inference_in_column_blocks_equals_the_whole_projection() {
        let mut rng = SplitMix64::new(12);
        let graph = random_graph(400, 10, false, &mut rng);
        let x = random_matrix(400, 40, &mut rng);
        let layer = Gcn::new(40, 70, Activation::Relu, 3).unwrap();
        let graph = GcnGraph::new(&graph, true);
        let whole_block = |block: usize| {
            let mut out = Array2::from_elem((400, 70), f32::NAN);
            let buffer = vec![f32::NAN; 400 * block];
            layer.project_and_gather(&graph, x.view(), buffer, block, out.view_mut());
            out
        };
        let whole = whole_block(70);
        // The same products and sums in the same order, a block at a time.
        for block in [16, 32, 48, 69, 1] {
            assert_eq!(whole_block(block), whole, "blocks of {block} columns");
        }
        // And the whole projection is the normalised convolution (the
        // training pass, checked against the f64 reference above).
        // (40 → 70 trains aggregating first: the same values up to rounding.)
        let (trained, _) = layer.forward_train(&graph, x.view()).unwrap();
        let inferred = layer.forward(&graph, x.view()).unwrap();
        let scale = trained.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (a, b) in inferred.iter().zip(&trained) {
            assert!((a - b).abs() <= 1e-5 * scale, "{a} vs {b}");
        }
        // 1M × 64 f32 projections are made 16 columns at a time, 100k ×
        // 64 ones whole.
        assert_eq!(projection_block_columns(1_000_000, 64), 16);
        assert_eq!(projection_block_columns(100_000, 64), 64);
        assert_eq!(projection_block_columns(200_000, 128), 80);
    }
}
