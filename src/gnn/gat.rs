//! Graph attention (Veličković et al., 2018), multi-head. For head `h`,
//! with `Z = X · W` split into heads:
//!
//! ```text
//! e_ij = LeakyReLU(a_src_h · z_j + a_dst_h · z_i)     for j in sources(i)
//! α_ij = softmax over j of e_ij
//! out_i = Σ_j α_ij z_j
//! ```
//!
//! then the heads are concatenated or averaged, the bias added and the
//! activation applied. The forward pass (inference and training alike,
//! `Gat::attend`) fuses each row's softmax and its weighted sum over all
//! heads, reading each source row once; backward is the engine's weighted
//! sum over the transpose with `α` as edge weights. The attention weights
//! are kept, per edge and head, so callers can read them.

use super::adjacency::{check_rows, edge_rows, Adjacency};
use super::buffers;
use super::dense::{self, matmul};
use super::tensor::{bias_and_activate, check_gradient_shape, fast_exp, Activation, Linear};
use super::Layer;
use crate::error::Result;
use crate::rng::SplitMix64;
use ndarray::{s, Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;

/// How many edges ahead the attention passes prefetch their random reads.
const EDGES_AHEAD: usize = 4;

#[derive(Clone, Debug, PartialEq)]
pub struct Gat {
    /// `input_dim → heads · head_dim`, no bias (the bias is added last).
    pub projection: Linear,
    /// `(heads, head_dim)` attention vectors for sources and destinations.
    pub attention_source: Array2<f32>,
    pub attention_destination: Array2<f32>,
    /// `output_dim` (concatenated heads: `heads · head_dim`).
    pub bias: Array1<f32>,
    pub heads: usize,
    pub concat_heads: bool,
    pub negative_slope: f32,
    pub activation: Activation,
    /// Whether callers should attend over `A + I` (on by default, as in the
    /// paper); the layer itself uses the graph it is given.
    pub self_loops: bool,
}

/// What [`Gat::backward`] needs, and the attention weights.
#[derive(Clone, Debug)]
pub struct GatCache {
    input: Array2<f32>,
    projected: Array2<f32>,
    /// `(edges, heads)`: `α` per edge in CSR order.
    pub attention: Array2<f32>,
    pre_activation: Array2<f32>,
}

impl GatCache {
    /// Gives the cache's matrices back to the output pool.
    pub fn recycle(self) {
        for matrix in [
            self.input,
            self.projected,
            self.attention,
            self.pre_activation,
        ] {
            buffers::recycle_matrix(matrix);
        }
    }
}

/// Gradients of a [`Gat`] layer's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct GatGradients {
    pub projection: Array2<f32>,
    pub attention_source: Array2<f32>,
    pub attention_destination: Array2<f32>,
    pub bias: Array1<f32>,
}

impl GatGradients {
    /// In the order of [`Gat::parameters_mut`].
    pub fn slices(&self) -> Vec<&[f32]> {
        [
            self.projection.as_slice(),
            self.attention_source.as_slice(),
            self.attention_destination.as_slice(),
            self.bias.as_slice(),
        ]
        .into_iter()
        .map(|s| s.expect("gradients are contiguous"))
        .collect()
    }
}

impl Gat {
    /// `output_dim` is the per-head width; the layer outputs
    /// `heads · output_dim` columns when concatenating, `output_dim` when
    /// averaging.
    pub fn new(
        input_dim: usize,
        output_dim: usize,
        heads: usize,
        concat_heads: bool,
        activation: Activation,
        seed: u64,
    ) -> Result<Gat> {
        if heads == 0 {
            return Err(crate::Error::invalid_argument(
                "a GAT layer needs at least one head",
            ));
        }
        let projection = Linear::new(input_dim, heads * output_dim, false, seed)?;
        let mut rng = SplitMix64::new(seed ^ 0xA77E);
        let limit = (6.0 / (1 + output_dim) as f32).sqrt();
        let mut attention = || {
            Array2::from_shape_fn((heads, output_dim), |_| {
                (2.0 * rng.next_f32() - 1.0) * limit
            })
        };
        let (attention_source, attention_destination) = (attention(), attention());
        Ok(Gat {
            projection,
            attention_source,
            attention_destination,
            bias: Array1::zeros(if concat_heads {
                heads * output_dim
            } else {
                output_dim
            }),
            heads,
            concat_heads,
            negative_slope: 0.2,
            activation,
            self_loops: true,
        })
    }

    fn head_dim(&self) -> usize {
        self.attention_source.ncols()
    }

    pub fn parameters_mut(&mut self) -> Vec<&mut [f32]> {
        [
            self.projection.weight.make_mut().as_slice_mut(),
            self.attention_source.as_slice_mut(),
            self.attention_destination.as_slice_mut(),
            self.bias.as_slice_mut(),
        ]
        .into_iter()
        .map(|s| s.expect("parameters are contiguous"))
        .collect()
    }

    /// Gradients of the parameters, and of the input features.
    pub fn backward(
        &self,
        graph: &Adjacency,
        cache: &GatCache,
        output_gradient: ArrayView2<'_, f32>,
    ) -> Result<(Array2<f32>, GatGradients)> {
        let (input_gradient, gradients) =
            self.backward_with(graph, cache, output_gradient, true)?;
        Ok((input_gradient.expect("asked for"), gradients))
    }

    /// [`Gat::backward`], with the input's gradient only if asked.
    pub fn backward_with(
        &self,
        graph: &Adjacency,
        cache: &GatCache,
        output_gradient: ArrayView2<'_, f32>,
        input_gradient: bool,
    ) -> Result<(Option<Array2<f32>>, GatGradients)> {
        check_gradient_shape(&output_gradient, &cache.pre_activation)?;
        let width = self.head_dim();
        let n = graph.num_nodes();
        let pre_gradient = self
            .activation
            .backward(&cache.pre_activation, output_gradient);
        let bias = pre_gradient.sum_axis(Axis(0));
        let heads = self.heads;
        let total = heads * width;
        let sources_count = cache.projected.nrows();
        let z = cache
            .projected
            .as_slice()
            .expect("fresh arrays are contiguous");
        let attention = cache
            .attention
            .as_slice()
            .expect("fresh arrays are contiguous");
        let pre = pre_gradient
            .as_slice()
            .expect("fresh arrays are contiguous");
        let out_width = pre_gradient.ncols();
        // The scores before LeakyReLU, recomputed rather than kept.
        let (source_scores, destination_scores) = self.node_scores(&cache.projected);
        let source_scores = source_scores
            .as_slice()
            .expect("fresh arrays are contiguous");
        let destination_scores = destination_scores
            .as_slice()
            .expect("fresh arrays are contiguous");

        // Pass 1, parallel over destinations: dα_ik = g_i · z_j, through
        // the softmax and LeakyReLU to each edge's score gradient (kept per
        // edge for the sources' side) and the destination's.
        let all_sources = graph.csr().1;
        let mut edge_score_gradient = buffers::take(graph.num_edges() * heads);
        let mut destination_score_gradient = vec![0f32; n * heads];
        let edge_rows = edge_rows(graph, &mut edge_score_gradient, heads);
        destination_score_gradient
            .par_chunks_mut(heads.max(1))
            .zip(edge_rows)
            .enumerate()
            .for_each_init(
                || (Vec::new(), vec![0f32; heads], Vec::new(), vec![0f32; total]),
                |(alpha_gradient, mean, spread, product), (i, (dd, scores))| {
                    let sources = graph.sources(i);
                    let first = graph.edge_range(i).start;
                    let alpha = &attention[first * heads..(first + sources.len()) * heads];
                    let g = self.head_gradients(pre, i, spread);
                    alpha_gradient.clear();
                    for (k, &j) in sources.iter().enumerate() {
                        // z_j and the source's scores are random reads:
                        // fetched a few edges ahead.
                        if let Some(&ahead) = all_sources.get(first + k + EDGES_AHEAD) {
                            let ahead = ahead as usize;
                            crate::distance::prefetch(&z[ahead * total..(ahead + 1) * total]);
                            crate::distance::prefetch(
                                &source_scores[ahead * heads..(ahead + 1) * heads],
                            );
                        }
                        // dα per head: one contiguous product over all
                        // heads (vectorised), then each head's part summed.
                        let z_j = &z[j as usize * total..(j as usize + 1) * total];
                        for ((p, &a), &b) in product.iter_mut().zip(g).zip(z_j) {
                            *p = a * b;
                        }
                        alpha_gradient.extend(
                            product
                                .chunks_exact(width.max(1))
                                .map(|part| part.iter().sum::<f32>()),
                        );
                    }
                    mean.fill(0.0);
                    for (a, g) in alpha
                        .chunks_exact(heads)
                        .zip(alpha_gradient.chunks_exact(heads))
                    {
                        for h in 0..heads {
                            mean[h] += a[h] * g[h];
                        }
                    }
                    dd.fill(0.0);
                    let destination = &destination_scores[i * heads..(i + 1) * heads];
                    for (k, &j) in sources.iter().enumerate() {
                        let source = &source_scores[j as usize * heads..(j as usize + 1) * heads];
                        for h in 0..heads {
                            let a = alpha[k * heads + h];
                            let gradient = a
                                * (alpha_gradient[k * heads + h] - mean[h])
                                * self.leaky_derivative(source[h] + destination[h]);
                            scores[k * heads + h] = gradient;
                            dd[h] += gradient;
                        }
                    }
                },
            );

        // Pass 2, parallel over sources (the reversed edges): the weighted
        // sum's gradient Σ α_ij g_i, the source score gradient Σ s_ij, and
        // both scores' terms of the projection's gradient, in one row write.
        let (transposed, original_edge) = graph.transpose_edges();
        let reversed_sources = transposed.csr().1;
        let mut source_score_gradient = vec![0f32; sources_count * heads];
        // Every row is zeroed, then accumulated, below.
        let mut projected_gradient = buffers::matrix(sources_count, total);
        projected_gradient
            .as_slice_mut()
            .expect("fresh arrays are contiguous")
            .par_chunks_mut(total.max(1))
            .zip(source_score_gradient.par_chunks_mut(heads.max(1)))
            .enumerate()
            .for_each_init(
                || (Vec::new(), vec![0f32; total]),
                |(spread, weights), (j, (row, ds))| {
                    row.fill(0.0);
                    let range = transposed.edge_range(j);
                    let reversed = &original_edge[range.clone()];
                    for (k, (&i, &e)) in transposed.sources(j).iter().zip(reversed).enumerate() {
                        // The destination's gradient row and the edge's
                        // attention and score gradient are random reads.
                        let ahead = range.start + k + EDGES_AHEAD;
                        if let (Some(&edge), Some(&destination)) =
                            (original_edge.get(ahead), reversed_sources.get(ahead))
                        {
                            let (edge, destination) = (edge as usize, destination as usize);
                            crate::distance::prefetch(&attention[edge * heads..(edge + 1) * heads]);
                            crate::distance::prefetch(
                                &edge_score_gradient[edge * heads..(edge + 1) * heads],
                            );
                            crate::distance::prefetch(
                                &pre[destination * out_width..(destination + 1) * out_width],
                            );
                        }
                        let (i, e) = (i as usize, e as usize);
                        // α spread over each head's columns: one contiguous
                        // multiply-add over all heads.
                        for h in 0..heads {
                            weights[h * width..(h + 1) * width].fill(attention[e * heads + h]);
                            ds[h] += edge_score_gradient[e * heads + h];
                        }
                        let g = self.head_gradients(pre, i, spread);
                        for ((r, &w), &gv) in row.iter_mut().zip(weights.iter()).zip(g) {
                            *r += w * gv;
                        }
                    }
                    for h in 0..heads {
                        let dd = destination_score_gradient
                            .get(j * heads + h)
                            .copied()
                            .unwrap_or(0.0);
                        let block = &mut row[h * width..(h + 1) * width];
                        for ((r, &a_src), &a_dst) in block
                            .iter_mut()
                            .zip(self.attention_source.row(h))
                            .zip(self.attention_destination.row(h))
                        {
                            *r += ds[h] * a_src + dd * a_dst;
                        }
                    }
                },
            );
        buffers::recycle(edge_score_gradient);

        // Node scores were s = z_h · a_h: their parameters' gradients are
        // the diagonal blocks of zᵀ · ds and zᵀ · dd.
        let source_score_gradient =
            Array2::from_shape_vec((sources_count, heads), source_score_gradient).expect("shape");
        let destination_score_gradient =
            Array2::from_shape_vec((n, heads), destination_score_gradient).expect("shape");
        let by_source =
            dense::transposed_multiply(cache.projected.view(), source_score_gradient.view());
        let by_destination = dense::transposed_multiply(
            cache.projected.slice(s![..n, ..]),
            destination_score_gradient.view(),
        );
        let mut attention_source = Array2::<f32>::zeros((heads, width));
        let mut attention_destination = Array2::<f32>::zeros((heads, width));
        for h in 0..heads {
            for c in 0..width {
                attention_source[[h, c]] = by_source[[h * width + c, h]];
                attention_destination[[h, c]] = by_destination[[h * width + c, h]];
            }
        }
        let (input_gradient, projection) = self.projection.backward_with(
            cache.input.view(),
            projected_gradient.view(),
            input_gradient,
        );
        buffers::recycle_matrix(projected_gradient);
        buffers::recycle_matrix(pre_gradient);
        Ok((
            input_gradient,
            GatGradients {
                projection: projection.weight,
                attention_source,
                attention_destination,
                bias,
            },
        ))
    }

    /// Inference in one pass over the edges: each destination row computes
    /// its softmax per head and gathers each source's projected row once
    /// for all heads. Returns the attention weights `(edges, heads)` too if
    /// asked. Keeps nothing else.
    pub fn infer(
        &self,
        graph: &Adjacency,
        features: ArrayView2<'_, f32>,
        keep_attention: bool,
    ) -> Result<(Array2<f32>, Option<Array2<f32>>)> {
        check_rows(&features, graph.num_sources(), "the feature matrix")?;
        let projected = self.projection.project(features)?;
        let (mut output, attention) = self.attend(graph, &projected, keep_attention);
        buffers::recycle_matrix(projected);
        bias_and_activate(&mut output, Some(&self.bias), self.activation);
        Ok((output, attention))
    }

    /// The heads' attention-weighted sums of `projected` rows, concatenated
    /// or averaged (no bias or activation yet), and the attention weights if
    /// asked: what inference and training share.
    fn attend(
        &self,
        graph: &Adjacency,
        projected: &Array2<f32>,
        keep_attention: bool,
    ) -> (Array2<f32>, Option<Array2<f32>>) {
        let (source_scores, destination_scores) = self.node_scores(projected);
        let source_scores = source_scores
            .as_slice()
            .expect("fresh arrays are contiguous");
        let destination_scores = destination_scores
            .as_slice()
            .expect("fresh arrays are contiguous");
        let (heads, width) = (self.heads, self.head_dim());
        let total = heads * width;
        let out_width = self.bias.len();
        let all_sources = graph.csr().1;
        let z = projected.as_slice().expect("fresh arrays are contiguous");
        // Every row is written below (`copy_from_slice` or filled first).
        let mut output = buffers::matrix(graph.num_nodes(), out_width);
        // Every edge's weights are written below.
        let mut attention = keep_attention.then(|| buffers::matrix(graph.num_edges(), heads));
        let attention_rows: Vec<Option<&mut [f32]>> = match attention.as_mut() {
            Some(a) => edge_rows(graph, a.as_slice_mut().expect("fresh"), heads)
                .into_iter()
                .map(Some)
                .collect(),
            None => (0..graph.num_nodes()).map(|_| None).collect(),
        };
        output
            .as_slice_mut()
            .expect("fresh arrays are contiguous")
            .par_chunks_mut(out_width)
            .zip(attention_rows)
            .enumerate()
            .for_each_init(
                || {
                    (
                        Vec::new(),
                        vec![0f32; total],
                        vec![0f32; heads],
                        vec![0f32; heads],
                        vec![0f32; total],
                    )
                },
                |(alpha, sum, max, total_weight, spread), (i, (out, kept))| {
                    let sources = graph.sources(i);
                    let first = graph.edge_range(i).start;
                    // Scores edge by edge, all heads at once (contiguous,
                    // so the loops vectorise); softmax per head.
                    alpha.clear();
                    let destination = &destination_scores[i * heads..(i + 1) * heads];
                    max.fill(f32::NEG_INFINITY);
                    for (k, &j) in sources.iter().enumerate() {
                        // Both reads are random: fetch the scores a few edges
                        // ahead, and this edge's row for the weighted sum below.
                        if let Some(&ahead) = all_sources.get(first + k + EDGES_AHEAD) {
                            let ahead = ahead as usize;
                            crate::distance::prefetch(
                                &source_scores[ahead * heads..(ahead + 1) * heads],
                            );
                        }
                        crate::distance::prefetch(&z[j as usize * total..(j as usize + 1) * total]);
                        let source = &source_scores[j as usize * heads..(j as usize + 1) * heads];
                        for h in 0..heads {
                            let e = self.leaky(source[h] + destination[h]);
                            max[h] = max[h].max(e);
                            alpha.push(e);
                        }
                    }
                    total_weight.fill(0.0);
                    for edge in alpha.chunks_exact_mut(heads.max(1)) {
                        for h in 0..heads {
                            edge[h] = fast_exp(edge[h] - max[h]);
                            total_weight[h] += edge[h];
                        }
                    }
                    for edge in alpha.chunks_exact_mut(heads.max(1)) {
                        for h in 0..heads {
                            edge[h] /= total_weight[h];
                        }
                    }
                    sum.fill(0.0);
                    for (k, &j) in sources.iter().enumerate() {
                        let row = &z[j as usize * total..(j as usize + 1) * total];
                        // Each head's weight spread over its columns, so the
                        // sum below is one contiguous multiply-add over all
                        // heads (vectorised; per-head loops of 8 were not).
                        for h in 0..heads {
                            spread[h * width..(h + 1) * width].fill(alpha[k * heads + h]);
                        }
                        for ((s, &v), &a) in sum.iter_mut().zip(row).zip(spread.iter()) {
                            *s += a * v;
                        }
                    }
                    if self.concat_heads {
                        out.copy_from_slice(sum);
                    } else {
                        out.fill(0.0);
                        for h in 0..heads {
                            for (o, &s) in out.iter_mut().zip(&sum[h * width..(h + 1) * width]) {
                                *o += s / heads as f32;
                            }
                        }
                    }
                    if let Some(kept) = kept {
                        kept.copy_from_slice(alpha);
                    }
                },
            );
        (output, attention)
    }

    /// Node `i`'s output gradient as each head sees it, `heads × width`
    /// wide: its row of `gradient` when the heads are concatenated, else
    /// the averaged output's gradient ÷ heads once per head (in `spread`).
    fn head_gradients<'a>(
        &self,
        gradient: &'a [f32],
        i: usize,
        spread: &'a mut Vec<f32>,
    ) -> &'a [f32] {
        let (heads, width) = (self.heads, self.head_dim());
        let out_width = self.bias.len();
        let row = &gradient[i * out_width..(i + 1) * out_width];
        if self.concat_heads {
            return row;
        }
        let scale = 1.0 / heads as f32;
        spread.clear();
        for _ in 0..heads {
            spread.extend(row[..width].iter().map(|&g| g * scale));
        }
        spread
    }

    /// Per node and head: `z_h · a_src_h` and `z_h · a_dst_h`.
    fn node_scores(&self, projected: &Array2<f32>) -> (Array2<f32>, Array2<f32>) {
        // One product with a block-diagonal `(heads · width, 2 · heads)`
        // matrix: column h holds a_src_h in head h's rows, column heads + h
        // a_dst_h.
        let (heads, width) = (self.heads, self.head_dim());
        let mut vectors = Array2::<f32>::zeros((heads * width, 2 * heads));
        for h in 0..heads {
            for c in 0..width {
                vectors[[h * width + c, h]] = self.attention_source[[h, c]];
                vectors[[h * width + c, heads + h]] = self.attention_destination[[h, c]];
            }
        }
        let scores = matmul(projected.view(), vectors.view());
        let split = (
            scores.slice(s![.., ..heads]).to_owned(),
            scores.slice(s![.., heads..]).to_owned(),
        );
        buffers::recycle_matrix(scores);
        split
    }

    #[inline]
    fn leaky(&self, x: f32) -> f32 {
        Activation::LeakyRelu(self.negative_slope).apply(x)
    }

    #[inline]
    fn leaky_derivative(&self, x: f32) -> f32 {
        Activation::LeakyRelu(self.negative_slope).derivative(x)
    }
}

impl Layer for Gat {
    type Graph = Adjacency;
    type Cache = GatCache;

    /// Forward pass; the cache holds the attention weights (`attention`).
    fn forward_train_owned(
        &self,
        graph: &Adjacency,
        features: Array2<f32>,
    ) -> Result<(Array2<f32>, GatCache)> {
        check_rows(&features.view(), graph.num_sources(), "the feature matrix")?;
        let projected = self.projection.project(features.view())?;
        let (mut pre_activation, attention) = self.attend(graph, &projected, true);
        let attention = attention.expect("asked for");
        pre_activation += &self.bias;
        let output = self.activation.forward(&pre_activation);
        let cache = GatCache {
            input: features,
            projected,
            attention,
            pre_activation,
        };
        Ok((output, cache))
    }

    fn forward(&self, graph: &Adjacency, features: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        Ok(self.infer(graph, features, false)?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gnn::gradcheck::{
        draw_until, flat, numeric_gradients, probe_loss, random_matrix, to_f64, GradCheck,
    };
    use crate::gnn::reference::{edges, kink_distance, GatRef};

    fn small_graph() -> Adjacency {
        let mut rng = SplitMix64::new(8);
        let lists: Vec<Vec<u32>> = (0..9)
            .map(|i| {
                if i == 2 {
                    vec![]
                } else {
                    (0..1 + rng.below(4)).map(|_| rng.below(9) as u32).collect()
                }
            })
            .collect();
        Adjacency::from_lists(&lists).unwrap().with_self_loops()
    }

    #[test]
    fn attention_weights_are_a_softmax_over_each_neighbourhood() {
        let graph = small_graph();
        let layer = Gat::new(4, 3, 2, true, Activation::None, 1).unwrap();
        let x = Array2::from_shape_fn((9, 4), |(i, j)| ((i * 7 + j * 3) % 5) as f32 - 2.0);
        let (out, cache) = layer.forward_train(&graph, x.view()).unwrap();
        assert_eq!(out.dim(), (9, 6));
        let mut edge = 0;
        for i in 0..9 {
            for h in 0..2 {
                let sum: f32 = (0..graph.degree(i))
                    .map(|k| cache.attention[[edge + k, h]])
                    .sum();
                assert!((sum - 1.0).abs() < 1e-5, "node {i} head {h}: {sum}");
            }
            edge += graph.degree(i);
        }
    }

    #[test]
    fn gat_backward_matches_an_f64_reference_for_every_parameter() {
        let mut check = GradCheck::new("gat backward");
        for seed in 0..5 {
            let mut rng = SplitMix64::new(seed);
            let nodes = 5 + rng.below(8);
            let (input, head_dim, heads) = (2 + rng.below(5), 2 + rng.below(3), 1 + rng.below(3));
            // Self loops as callers add them, except on row 0, which keeps
            // no edges (its output is the bias alone).
            let lists: Vec<Vec<u32>> = (0..nodes)
                .map(|i| {
                    if i == 0 {
                        return vec![];
                    }
                    let mut row: Vec<u32> =
                        (0..rng.below(5)).map(|_| rng.below(nodes) as u32).collect();
                    if !row.contains(&(i as u32)) {
                        row.push(i as u32);
                    }
                    row
                })
                .collect();
            let graph = Adjacency::from_lists(&lists).unwrap();
            let edges = edges(&graph);
            let activation = [
                Activation::Elu(1.0),
                Activation::Tanh,
                Activation::None,
                Activation::Gelu,
                Activation::LeakyRelu(0.1),
            ][seed as usize];
            for concat in [true, false] {
                let mut layer = Gat::new(input, head_dim, heads, concat, activation, seed).unwrap();
                layer.bias = Array1::from_shape_fn(layer.bias.len(), |_| rng.gaussian());
                // Differences straddling a LeakyReLU kink (on the scores, or
                // the output's) measure neither side.
                let linear = GatRef {
                    activation: Activation::None,
                    ..GatRef::of(&layer)
                };
                let x = draw_until(
                    "gat features",
                    || random_matrix(nodes, input, &mut rng),
                    |x| {
                        let (pre, margin) = linear.forward_with_margin(&edges, &to_f64(x));
                        margin > 1e-3 && pre.iter().all(|&v| kink_distance(activation, v) > 1e-3)
                    },
                );
                let probe = random_matrix(nodes, layer.bias.len(), &mut rng);
                let (out, cache) = layer.forward_train(&graph, x.view()).unwrap();
                let (dx, grads) = layer.backward(&graph, &cache, probe.view()).unwrap();
                let what = format!("seed {seed} heads={heads} concat={concat} {activation:?}");
                let point = (to_f64(&x), GatRef::of(&layer));
                let reference = |(x, gat): &(Array2<f64>, GatRef)| gat.forward(&edges, x);
                check.forward(&what, &out, &reference(&point));
                let probe = to_f64(&probe);
                let numeric = numeric_gradients(&point, |p| probe_loss(&reference(p), &probe));
                check.tensors(
                    &what,
                    &["dx", "dW", "da_src", "da_dst", "db"],
                    &[
                        flat(&dx),
                        flat(&grads.projection),
                        flat(&grads.attention_source),
                        flat(&grads.attention_destination),
                        flat(&grads.bias),
                    ],
                    &numeric,
                );
            }
        }
        check.finish();
    }
}
