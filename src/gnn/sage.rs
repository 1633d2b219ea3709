//! GraphSAGE (Hamilton et al., 2017): a node keeps its own features apart
//! from its neighbourhood's, `h' = σ(x · W_self + agg(x_N) · W_neigh + b)`,
//! optionally scaled to unit length. What differs from the engine's
//! defaults is only that concatenation (written as two products) and the
//! choice of aggregator: the engine's sum, mean or max, or an LSTM.
//!
//! It runs on square graphs and on minibatch blocks alike: a block's rows
//! are the first rows of its input (see [`Adjacency`]).

use super::adjacency::Adjacency;
use super::buffers;
use super::dense::{self, PackedMatrix};
use super::lstm::{LstmAggregator, LstmCache, LstmGradients};
use super::propagate::{
    aggregate, aggregate_backward_owned, sum_backward, Aggregated, Aggregation,
};
use super::tensor::{bias_and_activate, check_gradient_shape, Activation, Linear, LinearGradients};
use super::Layer;
use crate::error::{Error, Result};
use ndarray::{s, Array2, ArrayView2, Axis};

/// How a [`Sage`] layer summarises a node's neighbours.
#[derive(Clone, Debug, PartialEq)]
pub enum NeighborAggregator {
    Reduce(Aggregation),
    Lstm(Box<LstmAggregator>),
}

/// How a GraphSAGE layer summarises neighbours, as configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SageAggregator {
    Mean,
    Sum,
    Max,
    Lstm,
}

impl SageAggregator {
    pub fn parse(name: &str) -> Result<SageAggregator> {
        match name {
            "mean" => Ok(SageAggregator::Mean),
            "sum" => Ok(SageAggregator::Sum),
            "max" => Ok(SageAggregator::Max),
            "lstm" => Ok(SageAggregator::Lstm),
            other => Err(Error::invalid_argument(format!(
                "aggregator must be 'mean', 'sum', 'max' or 'lstm', got {other:?}"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SageAggregator::Mean => "mean",
            SageAggregator::Sum => "sum",
            SageAggregator::Max => "max",
            SageAggregator::Lstm => "lstm",
        }
    }
}

impl NeighborAggregator {
    pub fn new(kind: SageAggregator, input_dim: usize, seed: u64) -> Result<NeighborAggregator> {
        Ok(match kind {
            SageAggregator::Lstm => {
                NeighborAggregator::Lstm(Box::new(LstmAggregator::new(input_dim, seed)?))
            }
            SageAggregator::Mean => NeighborAggregator::Reduce(Aggregation::Mean),
            SageAggregator::Sum => NeighborAggregator::Reduce(Aggregation::Sum),
            SageAggregator::Max => NeighborAggregator::Reduce(Aggregation::Max),
        })
    }

    pub fn kind(&self) -> SageAggregator {
        match self {
            NeighborAggregator::Reduce(Aggregation::Sum) => SageAggregator::Sum,
            NeighborAggregator::Reduce(Aggregation::Mean) => SageAggregator::Mean,
            NeighborAggregator::Reduce(Aggregation::Max) => SageAggregator::Max,
            NeighborAggregator::Lstm(_) => SageAggregator::Lstm,
        }
    }
}

/// The aggregated neighbourhood and what its backward pass needs.
#[derive(Clone, Debug)]
enum NeighborCache {
    Reduce(Aggregated),
    Lstm(LstmCache),
    /// A narrowing sum or mean projected the features first and aggregated
    /// the narrower rows: nothing to keep but which (see
    /// [`Sage::narrowed_pre_activation`]).
    Projected(Aggregation),
}

impl NeighborCache {
    /// The aggregated neighbourhood, when it was kept.
    fn output(&self) -> Result<&Array2<f32>> {
        match self {
            NeighborCache::Reduce(aggregated) => Ok(&aggregated.output),
            NeighborCache::Lstm(cache) => Ok(&cache.output),
            NeighborCache::Projected(_) => Err(Error::Internal(
                "a projected neighbourhood keeps no aggregation".into(),
            )),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Sage {
    /// Applied to the node's own features; carries the bias.
    pub self_linear: Linear,
    /// Applied to the aggregated neighbourhood.
    pub neighbor_linear: Linear,
    pub aggregator: NeighborAggregator,
    pub activation: Activation,
    /// Scale each output row to unit L2 norm (the paper's choice between
    /// layers).
    pub normalize: bool,
}

/// What [`Sage::backward`] needs from the forward pass.
#[derive(Clone, Debug)]
pub struct SageCache {
    input: Array2<f32>,
    aggregated: NeighborCache,
    pre_activation: Array2<f32>,
    /// The activated rows before normalisation, when the layer normalises
    /// (its backward pass needs them; otherwise they are the output).
    activated: Option<Array2<f32>>,
}

impl SageCache {
    /// Gives the cache's matrices back to the output pool.
    pub fn recycle(self) {
        let aggregated = match self.aggregated {
            NeighborCache::Reduce(aggregated) => Some(aggregated.output),
            NeighborCache::Lstm(cache) => Some(cache.output),
            NeighborCache::Projected(_) => None,
        };
        for matrix in [self.input, self.pre_activation]
            .into_iter()
            .chain(aggregated)
            .chain(self.activated)
        {
            buffers::recycle_matrix(matrix);
        }
    }
}

/// Gradients of a [`Sage`] layer's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct SageGradients {
    pub self_linear: LinearGradients,
    pub neighbor_linear: LinearGradients,
    pub lstm: Option<LstmGradients>,
}

impl SageGradients {
    /// In the order of [`Sage::parameters_mut`].
    pub fn slices(&self) -> Vec<&[f32]> {
        let mut slices = self.self_linear.slices();
        slices.extend(self.neighbor_linear.slices());
        if let Some(lstm) = &self.lstm {
            slices.extend(lstm.slices());
        }
        slices
    }
}

/// Rows below this norm are left unscaled by the L2 normalisation.
const MIN_NORM: f32 = 1e-12;

/// Scales each row to unit L2 norm (rows of norm below `MIN_NORM` stay).
fn normalize_rows(matrix: &mut Array2<f32>) {
    for mut row in matrix.axis_iter_mut(Axis(0)) {
        let norm = row.dot(&row).sqrt();
        if norm > MIN_NORM {
            row /= norm;
        }
    }
}

impl Sage {
    /// `aggregator` is `'mean'`, `'sum'`, `'max'` or `'lstm'`.
    pub fn new(
        input_dim: usize,
        output_dim: usize,
        aggregator: SageAggregator,
        activation: Activation,
        seed: u64,
    ) -> Result<Sage> {
        Ok(Sage {
            self_linear: Linear::new(input_dim, output_dim, true, seed)?,
            neighbor_linear: Linear::new(input_dim, output_dim, false, seed ^ 0x5A6E)?,
            aggregator: NeighborAggregator::new(aggregator, input_dim, seed ^ 0x1A57)?,
            activation,
            normalize: false,
        })
    }

    pub fn parameters_mut(&mut self) -> Vec<&mut [f32]> {
        let mut parameters = self.self_linear.parameters_mut();
        parameters.extend(self.neighbor_linear.parameters_mut());
        if let NeighborAggregator::Lstm(lstm) = &mut self.aggregator {
            parameters.extend(lstm.parameters_mut());
        }
        parameters
    }

    /// Gradients of the parameters, and of the input features. `transposed`
    /// is `graph.transpose()` (the LSTM aggregator does not use it).
    pub fn backward(
        &self,
        graph: &Adjacency,
        transposed: &Adjacency,
        cache: &SageCache,
        output_gradient: ArrayView2<'_, f32>,
    ) -> Result<(Array2<f32>, SageGradients)> {
        let (input_gradient, gradients) =
            self.backward_with(graph, transposed, cache, output_gradient, true)?;
        Ok((input_gradient.expect("asked for"), gradients))
    }

    /// [`Sage::backward`], with the input's gradient only if asked: without
    /// it, neither the self term's product nor the aggregation's backward
    /// runs (an LSTM aggregator still runs its own backward, for its
    /// weights).
    pub fn backward_with(
        &self,
        graph: &Adjacency,
        transposed: &Adjacency,
        cache: &SageCache,
        output_gradient: ArrayView2<'_, f32>,
        input_gradient: bool,
    ) -> Result<(Option<Array2<f32>>, SageGradients)> {
        check_gradient_shape(&output_gradient, &cache.pre_activation)?;
        let normalized_gradient = cache.activated.as_ref().map(|activated| {
            // y = h / |h|  ⇒  dh = (g − y (y · g)) / |h|
            let mut gradient = output_gradient.to_owned();
            for (mut g, h) in gradient
                .axis_iter_mut(Axis(0))
                .zip(activated.axis_iter(Axis(0)))
            {
                let norm = h.dot(&h).sqrt();
                if norm > MIN_NORM {
                    let y = &h / norm;
                    let along = y.dot(&g);
                    g.zip_mut_with(&y, |g, &y| *g = (*g - y * along) / norm);
                }
            }
            gradient
        });
        let activated_gradient = normalized_gradient
            .as_ref()
            .map_or(output_gradient, |g| g.view());
        let pre_gradient = self
            .activation
            .backward(&cache.pre_activation, activated_gradient);
        if let NeighborCache::Projected(aggregation) = cache.aggregated {
            return self.backward_projected(
                graph,
                transposed,
                cache,
                pre_gradient,
                aggregation,
                input_gradient,
            );
        }
        let rows = graph.num_nodes();
        // The self term's input gradient is summed into the neighbours'
        // below, in the product's own pass: only the weights' here.
        let (_, self_gradients) = self.self_linear.backward_with(
            cache.input.slice(s![..rows, ..]),
            pre_gradient.view(),
            false,
        );
        let lstm_aggregator = matches!(self.aggregator, NeighborAggregator::Lstm(_));
        let (aggregated_gradient, neighbor_gradients) = self.neighbor_linear.backward_with(
            cache.aggregated.output()?.view(),
            pre_gradient.view(),
            input_gradient || lstm_aggregator,
        );
        let aggregated_gradient = aggregated_gradient.unwrap_or_default();
        let (input_gradient, lstm) = match (&self.aggregator, &cache.aggregated) {
            (NeighborAggregator::Reduce(_), _) if !input_gradient => (None, None),
            (NeighborAggregator::Reduce(aggregation), NeighborCache::Reduce(aggregated)) => (
                Some(aggregate_backward_owned(
                    graph,
                    transposed,
                    aggregated,
                    aggregated_gradient,
                    *aggregation,
                )?),
                None,
            ),
            (NeighborAggregator::Lstm(lstm), NeighborCache::Lstm(lstm_cache)) => {
                let (gradient, lstm_gradients) = lstm.backward(
                    graph,
                    cache.input.view(),
                    lstm_cache,
                    aggregated_gradient.view(),
                )?;
                buffers::recycle_matrix(aggregated_gradient);
                (input_gradient.then_some(gradient), Some(lstm_gradients))
            }
            _ => {
                return Err(Error::Internal(
                    "a GraphSAGE cache from another aggregator".into(),
                ))
            }
        };
        // A node's own features are the first rows of the input.
        let input_gradient = input_gradient.map(|mut gradient| {
            dense::multiply_add_into(
                pre_gradient.view(),
                &PackedMatrix::new(self.self_linear.weight.view().t()),
                gradient.slice_mut(s![..rows, ..]),
            );
            gradient
        });
        buffers::recycle_matrix(pre_gradient);
        Ok((
            input_gradient,
            SageGradients {
                self_linear: self_gradients,
                neighbor_linear: neighbor_gradients,
                lstm,
            },
        ))
    }
}

impl Sage {
    /// A sum or mean commutes with the linear map, so a layer that narrows
    /// aggregates its projected rows instead (fewer bytes per edge, and no
    /// input-wide aggregation kept for training): the aggregation when so.
    fn narrowed_aggregation(&self) -> Option<Aggregation> {
        let narrowing = self.neighbor_linear.output_dim() < self.neighbor_linear.input_dim();
        match self.aggregator {
            NeighborAggregator::Reduce(aggregation @ (Aggregation::Sum | Aggregation::Mean))
                if narrowing =>
            {
                Some(aggregation)
            }
            _ => None,
        }
    }

    /// `own · W_self + aggregate(x · W_neighbour)`, no bias: the aggregated
    /// projection, with the self product summed into it in its own pass.
    fn narrowed_pre_activation(
        &self,
        graph: &Adjacency,
        features: ArrayView2<'_, f32>,
        aggregation: Aggregation,
    ) -> Result<Array2<f32>> {
        let projected = self.neighbor_linear.project(features)?;
        let mut pre_activation = aggregate(graph, projected.view(), aggregation)?.output;
        buffers::recycle_matrix(projected);
        let own = features.slice(s![..graph.num_nodes(), ..]);
        dense::multiply_add_into(
            own,
            self.self_linear.weight.packed(),
            pre_activation.view_mut(),
        );
        Ok(pre_activation)
    }

    /// Backward through [`Sage::narrowed_pre_activation`] from the
    /// pre-activation's gradient `g` (consumed): `W_self`'s gradient
    /// `ownᵀ · g`, the projection's `p = aggregateᵀ(g)`, `W_neighbour`'s
    /// `xᵀ · p`, and the input's `g · W_selfᵀ` (own rows) `+ p · W_neighbourᵀ`.
    fn backward_projected(
        &self,
        graph: &Adjacency,
        transposed: &Adjacency,
        cache: &SageCache,
        g: Array2<f32>,
        aggregation: Aggregation,
        input_gradient: bool,
    ) -> Result<(Option<Array2<f32>>, SageGradients)> {
        let rows = graph.num_nodes();
        let input = &cache.input;
        let (_, self_gradients) =
            self.self_linear
                .backward_with(input.slice(s![..rows, ..]), g.view(), false);
        // The own rows' input gradient before `g` is consumed below; the
        // sampled sources past them start at zero.
        let own_gradient = input_gradient.then(|| {
            let mut gradient = buffers::matrix(input.nrows(), input.ncols());
            dense::multiply_into(
                g.view(),
                &PackedMatrix::new(self.self_linear.weight.view().t()),
                gradient.slice_mut(s![..rows, ..]),
            );
            gradient.slice_mut(s![rows.., ..]).fill(0.0);
            gradient
        });
        let projected_gradient =
            sum_backward(graph, transposed, g, aggregation == Aggregation::Mean)?;
        let (_, neighbor_gradients) =
            self.neighbor_linear
                .backward_with(input.view(), projected_gradient.view(), false);
        let input_gradient = own_gradient.map(|mut gradient| {
            dense::multiply_add_into(
                projected_gradient.view(),
                &PackedMatrix::new(self.neighbor_linear.weight.view().t()),
                gradient.view_mut(),
            );
            gradient
        });
        buffers::recycle_matrix(projected_gradient);
        Ok((
            input_gradient,
            SageGradients {
                self_linear: self_gradients,
                neighbor_linear: neighbor_gradients,
                lstm: None,
            },
        ))
    }
}

impl Layer for Sage {
    type Graph = Adjacency;
    type Cache = SageCache;

    fn forward_train_owned(
        &self,
        graph: &Adjacency,
        features: Array2<f32>,
    ) -> Result<(Array2<f32>, SageCache)> {
        let (mut pre_activation, aggregated) = match self.narrowed_aggregation() {
            Some(aggregation) => (
                self.narrowed_pre_activation(graph, features.view(), aggregation)?,
                NeighborCache::Projected(aggregation),
            ),
            None => {
                let aggregated = match &self.aggregator {
                    NeighborAggregator::Reduce(aggregation) => {
                        NeighborCache::Reduce(aggregate(graph, features.view(), *aggregation)?)
                    }
                    NeighborAggregator::Lstm(lstm) => {
                        NeighborCache::Lstm(lstm.forward_train(graph, features.view())?)
                    }
                };
                let own = features.slice(s![..graph.num_nodes(), ..]);
                let mut pre_activation = self.self_linear.project(own)?;
                // The neighbour term summed into the self term in the
                // product's own pass.
                let neighbors = aggregated.output()?;
                self.neighbor_linear.check_input(&neighbors.view())?;
                dense::multiply_add_into(
                    neighbors.view(),
                    self.neighbor_linear.weight.packed(),
                    pre_activation.view_mut(),
                );
                (pre_activation, aggregated)
            }
        };
        if let Some(bias) = &self.self_linear.bias {
            pre_activation += bias;
        }
        let activated = self.activation.forward(&pre_activation);
        let (output, activated) = if self.normalize {
            let mut output = buffers::copy_of(activated.view());
            normalize_rows(&mut output);
            (output, Some(activated))
        } else {
            (activated, None)
        };
        let cache = SageCache {
            input: features,
            aggregated,
            pre_activation,
            activated,
        };
        Ok((output, cache))
    }

    /// Inference keeps nothing. A sum or mean commutes with the linear map,
    /// so a layer that narrows aggregates the projected rows instead (fewer
    /// bytes gathered per edge).
    fn forward(&self, graph: &Adjacency, features: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        if let Some(aggregation) = self.narrowed_aggregation() {
            let mut output = self.narrowed_pre_activation(graph, features, aggregation)?;
            bias_and_activate(&mut output, self.self_linear.bias.as_ref(), self.activation);
            if self.normalize {
                normalize_rows(&mut output);
            }
            return Ok(output);
        }
        let own = features.slice(s![..graph.num_nodes(), ..]);
        let mut output = self.self_linear.project(own)?;
        match &self.aggregator {
            NeighborAggregator::Reduce(aggregation) => {
                let aggregated = aggregate(graph, features, *aggregation)?.output;
                // The neighbour term summed into the self term in the
                // product's own pass.
                self.neighbor_linear.check_input(&aggregated.view())?;
                dense::multiply_add_into(
                    aggregated.view(),
                    self.neighbor_linear.weight.packed(),
                    output.view_mut(),
                );
                buffers::recycle_matrix(aggregated);
            }
            NeighborAggregator::Lstm(lstm) => {
                let aggregated = lstm.forward_train(graph, features)?.output;
                output += &self.neighbor_linear.project(aggregated.view())?;
            }
        };
        bias_and_activate(&mut output, self.self_linear.bias.as_ref(), self.activation);
        if self.normalize {
            normalize_rows(&mut output);
        }
        Ok(output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gnn::gradcheck::{
        draw_until, flat, numeric_gradients, probe_loss, random_matrix, to_f64, GradCheck,
    };
    use crate::gnn::reference::{edges, max_tie_margin, SageRef};
    use crate::rng::SplitMix64;

    /// A random square graph, or on odd seeds a minibatch-style block whose
    /// `nodes` rows read from `nodes + extra` sources (its own rows first),
    /// weighted from seed 3 on; rows have 0 to 4 sources, with repeats.
    fn random_block(seed: u64, nodes: usize, rng: &mut SplitMix64) -> Adjacency {
        let sources = if seed % 2 == 1 {
            nodes + 2 + rng.below(3)
        } else {
            nodes
        };
        let mut offsets = vec![0];
        let mut list = Vec::new();
        for _ in 0..nodes {
            list.extend((0..rng.below(5)).map(|_| rng.below(sources) as u32));
            offsets.push(list.len());
        }
        let graph = Adjacency::from_csr_bipartite(nodes, sources, offsets, list).unwrap();
        if seed >= 3 {
            crate::gnn::gradcheck::with_random_weights(graph, rng)
        } else {
            graph
        }
    }

    #[test]
    fn sage_backward_matches_an_f64_reference_for_each_aggregator_and_normalisation() {
        let mut check = GradCheck::new("sage backward");
        for seed in 0..5 {
            let mut rng = SplitMix64::new(seed);
            let nodes = 5 + rng.below(6);
            // Wider and narrower outputs: a narrowing sum or mean projects
            // before it aggregates.
            let input = 2 + rng.below(4);
            let output = if seed % 2 == 0 {
                input + rng.below(3)
            } else {
                1 + rng.below(input - 1)
            };
            let graph = random_block(seed, nodes, &mut rng);
            let transposed = graph.transpose();
            let edges = edges(&graph);
            let activation = if seed % 2 == 0 {
                Activation::Tanh
            } else {
                Activation::Elu(1.0)
            };
            for aggregation in [
                SageAggregator::Mean,
                SageAggregator::Sum,
                SageAggregator::Max,
                SageAggregator::Lstm,
            ] {
                for normalize in [false, true] {
                    let mut layer =
                        Sage::new(input, output, aggregation, activation, seed).unwrap();
                    layer.normalize = normalize;
                    layer.self_linear.bias =
                        Some(ndarray::Array1::from_shape_fn(output, |_| rng.gaussian()));
                    // A max is differentiable only away from ties: redraw
                    // until no nudge can change a winner.
                    let x = draw_until(
                        "sage features",
                        || random_matrix(graph.num_sources(), input, &mut rng),
                        |x| {
                            aggregation != SageAggregator::Max
                                || max_tie_margin(&edges, &to_f64(x)) > 1e-3
                        },
                    );
                    let probe = random_matrix(nodes, output, &mut rng);
                    let (out, cache) = layer.forward_train(&graph, x.view()).unwrap();
                    let (dx, grads) = layer
                        .backward(&graph, &transposed, &cache, probe.view())
                        .unwrap();
                    let what = format!(
                        "seed {seed} {aggregation:?} normalize={normalize} {} of {} rows",
                        nodes,
                        graph.num_sources()
                    );
                    let point = (to_f64(&x), SageRef::of(&layer));
                    let reference = |(x, sage): &(Array2<f64>, SageRef)| sage.forward(&edges, x);
                    check.forward(&what, &out, &reference(&point));
                    let probe = to_f64(&probe);
                    let numeric = numeric_gradients(&point, |p| probe_loss(&reference(p), &probe));
                    let mut names = vec!["dx", "dW_self", "db", "dW_neigh"];
                    let mut analytic = vec![
                        flat(&dx),
                        flat(&grads.self_linear.weight),
                        flat(grads.self_linear.bias.as_ref().unwrap()),
                        flat(&grads.neighbor_linear.weight),
                    ];
                    if let Some(lstm) = &grads.lstm {
                        names.extend(["dW_lstm_in", "db_lstm", "dW_lstm_hidden"]);
                        analytic.extend([
                            flat(&lstm.input.weight),
                            flat(lstm.input.bias.as_ref().unwrap()),
                            flat(&lstm.hidden),
                        ]);
                    }
                    check.tensors(&what, &names, &analytic, &numeric);
                }
            }
        }
        check.finish();
    }

    #[test]
    fn normalised_outputs_have_unit_length() {
        let graph = Adjacency::from_lists(&[vec![1], vec![0, 2], vec![1]]).unwrap();
        let mut layer = Sage::new(3, 5, SageAggregator::Mean, Activation::None, 1).unwrap();
        layer.normalize = true;
        let x = Array2::from_shape_fn((3, 3), |(i, j)| (i * 3 + j) as f32 - 4.0);
        let out = layer.forward(&graph, x.view()).unwrap();
        for row in out.rows() {
            assert!((row.dot(&row).sqrt() - 1.0).abs() < 1e-5);
        }
    }
}
