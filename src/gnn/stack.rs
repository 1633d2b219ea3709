//! `GnnStack`: layers chained into a model, each block being
//!
//! ```text
//! h = layer(x) [+ x if residual] → [layer norm] → [dropout, training only]
//! ```
//!
//! with a backward pass through the whole chain, GraphSAGE minibatches over
//! the targets' receptive field, and saving to (and running from) a weight
//! file. [`Graph`] holds the graph once with the forms each layer kind
//! needs (self loops, GCN normalisation, transpose), each built on first
//! use and reused across calls.

use super::adjacency::{check_rows, Adjacency};
use super::buffers;
use super::gat::{Gat, GatCache, GatGradients};
use super::gather::RowPrecision;
use super::gcn::{Gcn, GcnCache, GcnGraph};
use super::norm::{Dropout, LayerNorm, LayerNormCache, LayerNormGradients};
use super::sage::{Sage, SageCache, SageGradients};
use super::tensor::LinearGradients;
use super::Layer;
use crate::error::{Error, Result};
use ndarray::{s, Array2, ArrayView2, Axis, CowArray};
use rayon::prelude::*;
use std::sync::OnceLock;

/// A graph with the derived forms layers need, each computed once.
#[derive(Debug)]
pub struct Graph {
    adjacency: Adjacency,
    self_looped: OnceLock<Adjacency>,
    /// GCN propagation graphs without and with self loops.
    gcn: [OnceLock<GcnGraph>; 2],
    transposed: OnceLock<Adjacency>,
    /// How layers store the rows they gather on this graph.
    precision: RowPrecision,
}

impl Graph {
    pub fn new(adjacency: Adjacency) -> Graph {
        Graph::with_precision(adjacency, RowPrecision::F32)
    }

    pub fn with_precision(adjacency: Adjacency, precision: RowPrecision) -> Graph {
        Graph {
            adjacency,
            precision,
            self_looped: OnceLock::new(),
            gcn: [OnceLock::new(), OnceLock::new()],
            transposed: OnceLock::new(),
        }
    }

    pub fn adjacency(&self) -> &Adjacency {
        &self.adjacency
    }

    pub fn num_nodes(&self) -> usize {
        self.adjacency.num_nodes()
    }

    pub fn precision(&self) -> RowPrecision {
        self.precision
    }

    /// The graph a GAT layer attends over: with self loops if it asks.
    pub fn attention_graph(&self, self_loops: bool) -> &Adjacency {
        if self_loops {
            self.self_looped
                .get_or_init(|| self.adjacency.with_self_loops())
        } else {
            &self.adjacency
        }
    }

    fn gcn(&self, self_loops: bool) -> &GcnGraph {
        self.gcn[self_loops as usize]
            .get_or_init(|| GcnGraph::with_precision(&self.adjacency, self_loops, self.precision))
    }

    fn transposed(&self) -> &Adjacency {
        self.transposed.get_or_init(|| self.adjacency.transpose())
    }
}

/// A GAT block's attention weights, `(edges, heads)`.
pub type Attention = Array2<f32>;

/// One of the layer kinds a stack chains.
#[derive(Clone, Debug, PartialEq)]
pub enum StackLayer {
    Gcn(Gcn),
    Gat(Gat),
    Sage(Sage),
}

impl StackLayer {
    pub(super) fn kind(&self) -> &'static str {
        match self {
            StackLayer::Gcn(_) => "gcn",
            StackLayer::Gat(_) => "gat",
            StackLayer::Sage(_) => "sage",
        }
    }

    pub fn input_dim(&self) -> usize {
        match self {
            StackLayer::Gcn(l) => l.linear.input_dim(),
            StackLayer::Gat(l) => l.projection.input_dim(),
            StackLayer::Sage(l) => l.self_linear.input_dim(),
        }
    }

    pub fn output_dim(&self) -> usize {
        match self {
            StackLayer::Gcn(l) => l.linear.output_dim(),
            StackLayer::Gat(l) => l.bias.len(),
            StackLayer::Sage(l) => l.self_linear.output_dim(),
        }
    }
}

/// A layer and what surrounds it in the chain.
#[derive(Clone, Debug)]
pub struct StackBlock {
    pub layer: StackLayer,
    /// Add the block's input to the layer's output (same widths only).
    pub residual: bool,
    pub norm: Option<LayerNorm>,
    /// Applied in training passes only.
    pub dropout: Option<Dropout>,
    /// GraphSAGE neighbour sampling for this layer (`None`: every
    /// neighbour). Ignored by GCN and GAT.
    pub sample_size: Option<usize>,
}

impl StackBlock {
    pub fn new(layer: StackLayer) -> StackBlock {
        StackBlock {
            layer,
            residual: false,
            norm: None,
            dropout: None,
            sample_size: None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct GnnStack {
    pub blocks: Vec<StackBlock>,
    /// Seeds neighbour sampling: each layer (hop) derives its own seed, the
    /// same in whole-graph and minibatch passes.
    pub sample_seed: u64,
}

enum LayerCache {
    Gcn(GcnCache),
    Gat(GatCache),
    /// With the sampled graph and its transpose when the layer samples.
    Sage(Box<(SageCache, Option<(Adjacency, Adjacency)>)>),
}

struct BlockCache {
    layer: LayerCache,
    norm: Option<LayerNormCache>,
    dropout_mask: Option<Array2<f32>>,
}

/// What [`GnnStack::forward_train`] keeps for the backward pass.
pub struct StackCache {
    blocks: Vec<BlockCache>,
}

impl StackCache {
    /// Gives every kept matrix back to the output pool (after a training
    /// step's backward pass): the next step's 25–50 MB matrices then reuse
    /// mapped pages instead of faulting fresh ones in.
    pub fn recycle(self) {
        for block in self.blocks {
            match block.layer {
                LayerCache::Gcn(cache) => cache.recycle(),
                LayerCache::Gat(cache) => cache.recycle(),
                LayerCache::Sage(sage) => sage.0.recycle(),
            }
            if let Some(mask) = block.dropout_mask {
                buffers::recycle_matrix(mask);
            }
        }
    }

    /// Attention weights `(edges, heads)` of block `index` if it is a GAT
    /// layer, per edge of the graph with self loops as the layer used it.
    pub fn attention(&self, index: usize) -> Option<&Array2<f32>> {
        match &self.blocks.get(index)?.layer {
            LayerCache::Gat(cache) => Some(&cache.attention),
            _ => None,
        }
    }
}

/// Gradients of one block's parameters.
#[derive(Clone, Debug)]
pub enum LayerGradients {
    Gcn(LinearGradients),
    Gat(GatGradients),
    Sage(SageGradients),
}

#[derive(Clone, Debug)]
pub struct BlockGradients {
    pub layer: LayerGradients,
    pub norm: Option<LayerNormGradients>,
}

/// Gradients of a whole stack's parameters.
#[derive(Clone, Debug)]
pub struct StackGradients {
    pub blocks: Vec<BlockGradients>,
}

impl StackGradients {
    /// In the order of [`GnnStack::parameters_mut`].
    pub fn slices(&self) -> Vec<&[f32]> {
        let mut slices = Vec::new();
        for block in &self.blocks {
            match &block.layer {
                LayerGradients::Gcn(g) => slices.extend(g.slices()),
                LayerGradients::Gat(g) => slices.extend(g.slices()),
                LayerGradients::Sage(g) => slices.extend(g.slices()),
            }
            if let Some(norm) = &block.norm {
                slices.extend([&norm.gain, &norm.shift].map(|a| a.as_slice().expect("fresh")));
            }
        }
        slices
    }
}

impl GnnStack {
    /// Checks that each block's input width is the previous block's output
    /// width, and that residual blocks keep their width.
    pub fn new(blocks: Vec<StackBlock>, sample_seed: u64) -> Result<GnnStack> {
        if blocks.is_empty() {
            return Err(Error::invalid_argument(
                "a GNN stack needs at least one layer",
            ));
        }
        for (i, block) in blocks.iter().enumerate() {
            let (input, output) = (block.layer.input_dim(), block.layer.output_dim());
            if i > 0 && blocks[i - 1].layer.output_dim() != input {
                return Err(Error::ShapeMismatch(format!(
                    "layer {i} takes {input} features, layer {} gives {}",
                    i - 1,
                    blocks[i - 1].layer.output_dim()
                )));
            }
            if block.residual && input != output {
                return Err(Error::ShapeMismatch(format!(
                    "layer {i} maps {input} → {output} features; a residual connection needs equal widths"
                )));
            }
            if block.norm.as_ref().is_some_and(|n| n.gain.len() != output) {
                return Err(Error::ShapeMismatch(format!(
                    "layer {i}'s layer norm does not match its {output} outputs"
                )));
            }
        }
        Ok(GnnStack {
            blocks,
            sample_seed,
        })
    }

    pub fn input_dim(&self) -> usize {
        self.blocks[0].layer.input_dim()
    }

    pub fn output_dim(&self) -> usize {
        self.blocks[self.blocks.len() - 1].layer.output_dim()
    }

    /// Sampling seed of each block: hop `h` from the output (the last
    /// block is hop 0) gets its own seed, so the whole-graph pass and a
    /// minibatch pass sample the same neighbours.
    pub(super) fn sample_seeds(&self) -> Vec<u64> {
        (0..self.blocks.len())
            .map(|hop| {
                let hop = (self.blocks.len() - 1 - hop) as u64;
                self.sample_seed ^ (hop + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93)
            })
            .collect()
    }

    pub fn parameters_mut(&mut self) -> Vec<&mut [f32]> {
        let mut parameters = Vec::new();
        for block in &mut self.blocks {
            match &mut block.layer {
                StackLayer::Gcn(l) => parameters.extend(l.linear.parameters_mut()),
                StackLayer::Gat(l) => parameters.extend(l.parameters_mut()),
                StackLayer::Sage(l) => parameters.extend(l.parameters_mut()),
            }
            if let Some(norm) = &mut block.norm {
                parameters.extend(
                    [&mut norm.gain, &mut norm.shift].map(|a| a.as_slice_mut().expect("fresh")),
                );
            }
        }
        parameters
    }

    /// Inference over the whole graph (no dropout).
    pub fn forward(&self, graph: &Graph, features: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        Ok(self.infer(graph, features, false)?.0)
    }

    /// [`GnnStack::forward`], plus each GAT block's attention weights
    /// `(edges, heads)` over the graph it attended (see
    /// [`Graph::attention_graph`]); `None` for other blocks.
    pub fn forward_with_attention(
        &self,
        graph: &Graph,
        features: ArrayView2<'_, f32>,
    ) -> Result<(Array2<f32>, Vec<Option<Attention>>)> {
        self.infer(graph, features, true)
    }

    /// Inference, keeping each GAT block's attention weights only if asked
    /// (an `edges × heads` matrix per block: 35 MB on the 100k benchmark
    /// graph, written for nothing when unread). Intermediate block outputs
    /// go back to the output pool as soon as the next block has run.
    fn infer(
        &self,
        graph: &Graph,
        features: ArrayView2<'_, f32>,
        keep_attention: bool,
    ) -> Result<(Array2<f32>, Vec<Option<Attention>>)> {
        let seeds = self.sample_seeds();
        // The input is only read: no copy of the caller's features.
        let features = self.check_input(graph.num_nodes(), features)?;
        check_finite(features, None)?;
        let mut x = CowArray::from(features);
        let mut attention = Vec::with_capacity(self.blocks.len());
        for (block, &seed) in self.blocks.iter().zip(&seeds) {
            let sampled;
            let (output, weights) = match &block.layer {
                StackLayer::Gcn(l) => (l.forward(graph.gcn(l.self_loops), x.view())?, None),
                StackLayer::Gat(l) => l.infer(
                    graph.attention_graph(l.self_loops),
                    x.view(),
                    keep_attention,
                )?,
                StackLayer::Sage(l) => {
                    let adjacency = match block.sample_size {
                        Some(size) => {
                            sampled = graph.adjacency.sample_neighbors(size, seed);
                            &sampled
                        }
                        None => &graph.adjacency,
                    };
                    (l.forward(adjacency, x.view())?, None)
                }
            };
            attention.push(weights);
            let next = finish_block(block, x.view(), output)?;
            let previous = std::mem::replace(&mut x, CowArray::from(next));
            if previous.is_owned() {
                buffers::recycle_matrix(previous.into_owned());
            }
        }
        Ok((x.into_owned(), attention))
    }

    /// A training pass: applies dropout and keeps what [`GnnStack::backward`]
    /// needs.
    pub fn forward_train(
        &mut self,
        graph: &Graph,
        features: ArrayView2<'_, f32>,
    ) -> Result<(Array2<f32>, StackCache)> {
        let seeds = self.sample_seeds();
        let features = self.check_input(graph.num_nodes(), features)?;
        check_finite(features, None)?;
        let mut x = buffers::copy_of(features);
        let mut caches = Vec::with_capacity(self.blocks.len());
        for (block, &seed) in self.blocks.iter_mut().zip(&seeds) {
            // The layer's cache keeps its input: the block's input itself,
            // or a copy when the residual still adds it below.
            let (input, residual) = if block.residual {
                (buffers::copy_of(x.view()), Some(x))
            } else {
                (x, None)
            };
            let (output, layer) = match &block.layer {
                StackLayer::Gcn(l) => {
                    let (out, cache) = l.forward_train_owned(graph.gcn(l.self_loops), input)?;
                    (out, LayerCache::Gcn(cache))
                }
                StackLayer::Gat(l) => {
                    let (out, cache) =
                        l.forward_train_owned(graph.attention_graph(l.self_loops), input)?;
                    (out, LayerCache::Gat(cache))
                }
                StackLayer::Sage(l) => match block.sample_size {
                    Some(size) => {
                        let sampled = graph.adjacency.sample_neighbors(size, seed);
                        let (out, cache) = l.forward_train_owned(&sampled, input)?;
                        let transposed = sampled.transpose();
                        (
                            out,
                            LayerCache::Sage(Box::new((cache, Some((sampled, transposed))))),
                        )
                    }
                    None => {
                        let (out, cache) = l.forward_train_owned(&graph.adjacency, input)?;
                        (out, LayerCache::Sage(Box::new((cache, None))))
                    }
                },
            };
            let mut h = output;
            if let Some(x) = residual {
                h += &x;
                buffers::recycle_matrix(x);
            }
            let norm = match &block.norm {
                Some(norm) => {
                    let (normalized, cache) = norm.forward_train(h.view())?;
                    buffers::recycle_matrix(std::mem::replace(&mut h, normalized));
                    Some(cache)
                }
                None => None,
            };
            let dropout_mask = match &mut block.dropout {
                Some(dropout) => {
                    let (dropped, mask) = dropout.forward_train(h.view());
                    buffers::recycle_matrix(std::mem::replace(&mut h, dropped));
                    Some(mask)
                }
                None => None,
            };
            x = h;
            caches.push(BlockCache {
                layer,
                norm,
                dropout_mask,
            });
        }
        Ok((x, StackCache { blocks: caches }))
    }

    /// Gradients of every parameter and of the input features.
    pub fn backward(
        &self,
        graph: &Graph,
        cache: &StackCache,
        output_gradient: ArrayView2<'_, f32>,
    ) -> Result<(Array2<f32>, StackGradients)> {
        let (input_gradient, gradients) =
            self.backward_with(graph, cache, output_gradient, true)?;
        Ok((input_gradient.expect("asked for"), gradients))
    }

    /// Gradients of every parameter only: the first block skips its
    /// input's gradient (features are not trained), which for a first
    /// GraphSAGE layer is a whole input-wide aggregation backward.
    pub fn parameter_gradients(
        &self,
        graph: &Graph,
        cache: &StackCache,
        output_gradient: ArrayView2<'_, f32>,
    ) -> Result<StackGradients> {
        Ok(self.backward_with(graph, cache, output_gradient, false)?.1)
    }

    fn backward_with(
        &self,
        graph: &Graph,
        cache: &StackCache,
        output_gradient: ArrayView2<'_, f32>,
        input_gradient: bool,
    ) -> Result<(Option<Array2<f32>>, StackGradients)> {
        check_rows(&output_gradient, graph.num_nodes(), "the output gradient")?;
        let mut gradient = buffers::copy_of(output_gradient);
        let mut blocks = Vec::with_capacity(self.blocks.len());
        let mut first_input_gradient = None;
        for (index, (block, cache)) in self.blocks.iter().zip(&cache.blocks).enumerate().rev() {
            let wanted = index > 0 || input_gradient;
            if let Some(mask) = &cache.dropout_mask {
                let dropped = Dropout::backward(mask, gradient.view());
                buffers::recycle_matrix(std::mem::replace(&mut gradient, dropped));
            }
            let norm = match (&block.norm, &cache.norm) {
                (Some(norm), Some(norm_cache)) => {
                    let (g, grads) = norm.backward(norm_cache, gradient.view());
                    buffers::recycle_matrix(std::mem::replace(&mut gradient, g));
                    Some(grads)
                }
                _ => None,
            };
            let (input_gradient, layer) = match (&block.layer, &cache.layer) {
                (StackLayer::Gcn(l), LayerCache::Gcn(c)) => {
                    let (g, grads) =
                        l.backward_with(graph.gcn(l.self_loops), c, gradient.view(), wanted)?;
                    (g, LayerGradients::Gcn(grads))
                }
                (StackLayer::Gat(l), LayerCache::Gat(c)) => {
                    let (g, grads) = l.backward_with(
                        graph.attention_graph(l.self_loops),
                        c,
                        gradient.view(),
                        wanted,
                    )?;
                    (g, LayerGradients::Gat(grads))
                }
                (StackLayer::Sage(l), LayerCache::Sage(sage)) => {
                    let (c, sampled) = &**sage;
                    let (adjacency, transposed) = match sampled {
                        Some((a, t)) => (a, t),
                        None => (&graph.adjacency, graph.transposed()),
                    };
                    let (g, grads) =
                        l.backward_with(adjacency, transposed, c, gradient.view(), wanted)?;
                    (g, LayerGradients::Sage(grads))
                }
                _ => return Err(Error::Internal("a stack cache from another stack".into())),
            };
            blocks.push(BlockGradients { layer, norm });
            let Some(mut input_gradient) = input_gradient else {
                buffers::recycle_matrix(gradient);
                break;
            };
            if block.residual {
                input_gradient += &gradient;
            }
            if index == 0 {
                first_input_gradient = Some(input_gradient);
                buffers::recycle_matrix(gradient);
                break;
            }
            let previous = std::mem::replace(&mut gradient, input_gradient);
            buffers::recycle_matrix(previous);
        }
        blocks.reverse();
        Ok((first_input_gradient, StackGradients { blocks }))
    }

    /// GraphSAGE inference for `targets` only: samples each layer's block
    /// around them (see [`Adjacency::sample_blocks`]) and computes just that
    /// receptive field. Row `r` of the result is target `r`'s row of
    /// [`GnnStack::forward`]. Every layer must be GraphSAGE.
    pub fn forward_minibatch(
        &self,
        graph: &Adjacency,
        features: ArrayView2<'_, f32>,
        targets: &[u32],
    ) -> Result<Array2<f32>> {
        let features = self.check_input(graph.num_nodes(), features)?;
        let layers: Vec<&Sage> = self
            .blocks
            .iter()
            .map(|b| match &b.layer {
                StackLayer::Sage(l) => Ok(l),
                other => Err(Error::invalid_argument(format!(
                    "minibatch forward runs GraphSAGE layers only; this stack has a {} layer",
                    other.kind()
                ))),
            })
            .collect::<Result<_>>()?;
        // Hops run from the targets outwards: the last block first.
        let sizes: Vec<Option<usize>> = self.blocks.iter().rev().map(|b| b.sample_size).collect();
        let seeds: Vec<u64> = self.sample_seeds().into_iter().rev().collect();
        let batch = graph.sample_blocks(targets, &sizes, &seeds)?;
        let mut x = features.select(
            Axis(0),
            &batch
                .input_nodes
                .iter()
                .map(|&n| n as usize)
                .collect::<Vec<_>>(),
        );
        // Only the receptive field is read, so only it is checked.
        check_finite(x.view(), Some(&batch.input_nodes))?;
        for ((block, layer), adjacency) in self.blocks.iter().zip(layers).zip(&batch.blocks) {
            let output = layer.forward(adjacency, x.view())?;
            x = finish_block(block, x.slice(s![..adjacency.num_nodes(), ..]), output)?;
        }
        let rows: Vec<usize> = batch.target_rows.iter().map(|&r| r as usize).collect();
        Ok(x.select(Axis(0), &rows))
    }

    /// The feature matrix's shape, for a graph of `num_nodes` nodes.
    fn check_input<'a>(
        &self,
        num_nodes: usize,
        features: ArrayView2<'a, f32>,
    ) -> Result<ArrayView2<'a, f32>> {
        check_rows(&features, num_nodes, "the feature matrix")?;
        if features.ncols() != self.input_dim() {
            return Err(Error::ShapeMismatch(format!(
                "features have {} columns, the model expects {}",
                features.ncols(),
                self.input_dim()
            )));
        }
        Ok(features)
    }
}

/// Fails naming the first NaN or infinite feature: one would spread
/// through every layer to the neighbours' outputs. `rows` maps a row of
/// `features` to the node it stands for (`None`: the identity). A parallel
/// scan costs a few percent of a layer.
pub fn check_finite(features: ArrayView2<'_, f32>, rows: Option<&[u32]>) -> Result<()> {
    let width = features.ncols().max(1);
    let bad = match features.as_slice() {
        // A fold without early exit vectorises; rows are short.
        Some(values) => values
            .par_chunks(width)
            .position_first(|row| row.iter().fold(false, |bad, v| bad | !v.is_finite())),
        None => features
            .rows()
            .into_iter()
            .position(|row| row.iter().any(|v| !v.is_finite())),
    };
    match bad {
        None => Ok(()),
        Some(row) => {
            let values = features.row(row);
            let column = values.iter().position(|v| !v.is_finite()).unwrap_or(0);
            Err(Error::InvalidVector(format!(
                "feature row {}, column {column} is {}",
                rows.map_or(row, |r| r[row] as usize),
                values[column]
            )))
        }
    }
}

/// Residual and layer norm after a layer, for inference.
fn finish_block(
    block: &StackBlock,
    input: ArrayView2<'_, f32>,
    mut output: Array2<f32>,
) -> Result<Array2<f32>> {
    if block.residual {
        output += &input;
    }
    match &block.norm {
        Some(norm) => norm.forward(output.view()),
        None => Ok(output),
    }
}
