//! Full-batch training for node classification: one step is a forward pass
//! over the whole graph, softmax cross-entropy against integer labels, the
//! backward pass and an AdamW update. Also the three models the training
//! benchmark (`benchmark/gnn.js --train`) times against PyTorch
//! Geometric's same step, and the timed loop it calls.
//!
//! Each step reports how long each phase took, so a benchmark can say where
//! a step's time goes; reading the clock five times costs nothing next to a
//! pass over a graph.

use super::buffers;
use super::loss::softmax_cross_entropy;
use super::optim::{Adam, Optimizer};
use super::options::{GatOptions, GcnOptions, SageOptions};
use super::stack::{GnnStack, Graph, StackBlock};
use super::tensor::Activation;
use crate::error::{Error, Result};
use crate::rng::SplitMix64;
use ndarray::ArrayView2;
use std::time::{Duration, Instant};

/// Where one step's time went.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepTimings {
    pub forward: Duration,
    pub loss: Duration,
    pub backward: Duration,
    pub optimizer: Duration,
    /// The whole step, from the forward pass's start to the update's end.
    pub total: Duration,
}

/// What one training step reports.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepOutcome {
    /// Mean cross-entropy over every node, before the update.
    pub loss: f32,
    pub timings: StepTimings,
}

/// One full-batch step: `stack`'s training pass over `graph`, mean softmax
/// cross-entropy of its outputs (the logits, one row per node) against
/// `labels` (one class index per node), the backward pass, and one
/// `optimizer` step on every parameter.
pub fn train_step(
    stack: &mut GnnStack,
    optimizer: &mut impl Optimizer,
    graph: &Graph,
    features: ArrayView2<'_, f32>,
    labels: &[usize],
) -> Result<StepOutcome> {
    let start = Instant::now();
    let (logits, cache) = stack.forward_train(graph, features)?;
    let forward_end = Instant::now();
    let (loss, logit_gradient) = softmax_cross_entropy(logits.view(), labels)?;
    let loss_end = Instant::now();
    // The features are not trained: no gradient for them (as in PyG, where
    // they do not require one).
    let gradients = stack.parameter_gradients(graph, &cache, logit_gradient.view())?;
    cache.recycle();
    buffers::recycle_matrix(logits);
    buffers::recycle_matrix(logit_gradient);
    let backward_end = Instant::now();
    let gradients = gradients.slices();
    let mut parameters = stack.parameters_mut();
    // The optimiser pairs them by position; a miscount would silently
    // leave parameters untrained.
    if parameters.len() != gradients.len()
        || parameters
            .iter()
            .zip(&gradients)
            .any(|(p, g)| p.len() != g.len())
    {
        return Err(Error::Internal(format!(
            "{} parameter tensors but {} gradients, or their lengths differ",
            parameters.len(),
            gradients.len()
        )));
    }
    optimizer.step(&mut parameters, &gradients);
    let end = Instant::now();
    Ok(StepOutcome {
        loss,
        timings: StepTimings {
            forward: forward_end - start,
            loss: loss_end - forward_end,
            backward: backward_end - loss_end,
            optimizer: end - backward_end,
            total: end - start,
        },
    })
}

/// Width between layers of the benchmark models.
pub const BENCHMARK_HIDDEN_DIM: usize = 128;
/// Output width of the benchmark models: the classes they are trained on.
pub const BENCHMARK_OUTPUT_DIM: usize = 64;
/// Attention heads of the GAT benchmark model, each 8 wide, concatenated.
pub const BENCHMARK_GAT_HEADS: usize = 8;

/// The models the training benchmark times, the same ones
/// `benchmark/gnn_pyg.py --train` builds in PyTorch Geometric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchmarkModel {
    /// GCN `input → 128` (ReLU) → GCN `128 → 64`, both with self loops.
    Gcn2,
    /// One GAT layer, `input → 8 heads × 8` concatenated, self loops.
    Gat8,
    /// GraphSAGE, mean aggregation over every neighbour: `input → 128`
    /// (ReLU) `→ 64`.
    Sage2,
}

impl BenchmarkModel {
    /// `'gcn' | 'gat' | 'sage'`.
    pub fn parse(name: &str) -> Result<BenchmarkModel> {
        match name {
            "gcn" => Ok(BenchmarkModel::Gcn2),
            "gat" => Ok(BenchmarkModel::Gat8),
            "sage" => Ok(BenchmarkModel::Sage2),
            other => Err(Error::invalid_argument(format!(
                "unknown benchmark model {other:?}; expected 'gcn', 'gat' or 'sage'"
            ))),
        }
    }

    /// The model for `input_dim`-wide features, its weights drawn from
    /// `seed`.
    pub fn build(self, input_dim: usize, seed: u64) -> Result<GnnStack> {
        match self {
            BenchmarkModel::Gcn2 => {
                let hidden = GcnOptions {
                    seed,
                    ..GcnOptions::new(input_dim, BENCHMARK_HIDDEN_DIM)
                };
                let output = GcnOptions {
                    activation: Activation::None,
                    seed: seed.wrapping_add(1),
                    ..GcnOptions::new(BENCHMARK_HIDDEN_DIM, BENCHMARK_OUTPUT_DIM)
                };
                GnnStack::new(
                    vec![StackBlock::gcn(&hidden)?, StackBlock::gcn(&output)?],
                    seed,
                )
            }
            BenchmarkModel::Gat8 => GnnStack::gat(&GatOptions {
                heads: BENCHMARK_GAT_HEADS,
                seed,
                ..GatOptions::new(input_dim, BENCHMARK_OUTPUT_DIM)
            }),
            BenchmarkModel::Sage2 => GnnStack::graph_sage(&SageOptions {
                hidden_dim: BENCHMARK_HIDDEN_DIM,
                seed,
                ..SageOptions::new(input_dim, BENCHMARK_OUTPUT_DIM)
            }),
        }
    }
}

/// The benchmark's optimiser, PyTorch's `AdamW(lr=0.01, weight_decay=5e-4)`:
/// [`Adam`]'s weight decay is decoupled as in AdamW.
pub fn benchmark_optimizer() -> Adam {
    let mut adam = Adam::new(0.01);
    adam.weight_decay = 5e-4;
    adam
}

/// One label per node, uniform over `0..classes`, from `seed`.
pub fn random_labels(nodes: usize, classes: usize, seed: u64) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed);
    (0..nodes).map(|_| rng.below(classes)).collect()
}

/// Steps run before the timed ones: the first builds the graph's derived
/// forms (self loops, normalisation, transpose) and faults in buffers.
pub const WARM_UP_STEPS: usize = 2;

/// Trains `model` (weights and labels from `seed`, labels in
/// `0..classes`) on `graph` and `features` for [`WARM_UP_STEPS`] untimed
/// steps, then `steps` more, returning those.
pub fn time_training_steps(
    model: BenchmarkModel,
    graph: &Graph,
    features: ArrayView2<'_, f32>,
    classes: usize,
    steps: usize,
    seed: u64,
) -> Result<Vec<StepOutcome>> {
    if classes == 0 || classes > BENCHMARK_OUTPUT_DIM {
        return Err(Error::invalid_argument(format!(
            "classes must be 1 to {BENCHMARK_OUTPUT_DIM} (the models' output width), got {classes}"
        )));
    }
    let mut stack = model.build(features.ncols(), seed)?;
    let mut optimizer = benchmark_optimizer();
    let labels = random_labels(graph.num_nodes(), classes, seed);
    for _ in 0..WARM_UP_STEPS {
        train_step(&mut stack, &mut optimizer, graph, features, &labels)?;
    }
    (0..steps)
        .map(|_| train_step(&mut stack, &mut optimizer, graph, features, &labels))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gnn::Adjacency;
    use ndarray::Array2;

    const MODELS: [BenchmarkModel; 3] = [
        BenchmarkModel::Gcn2,
        BenchmarkModel::Gat8,
        BenchmarkModel::Sage2,
    ];

    /// `nodes` nodes, each listing up to 6 random neighbours (some none),
    /// and unit Gaussian features `width` wide.
    fn small_graph(nodes: usize, width: usize, seed: u64) -> (Graph, Array2<f32>) {
        let mut rng = SplitMix64::new(seed);
        let lists: Vec<Vec<u32>> = (0..nodes)
            .map(|_| {
                let mut list: Vec<u32> =
                    (0..rng.below(7)).map(|_| rng.below(nodes) as u32).collect();
                list.sort_unstable();
                list.dedup();
                list
            })
            .collect();
        let features = Array2::from_shape_fn((nodes, width), |_| rng.gaussian());
        (Graph::new(Adjacency::from_lists(&lists).unwrap()), features)
    }

    /// Mean cross-entropy of `logits` against `labels`, in f64.
    fn cross_entropy_reference(logits: &Array2<f32>, labels: &[usize]) -> f64 {
        let total: f64 = logits
            .rows()
            .into_iter()
            .zip(labels)
            .map(|(row, &label)| {
                let row: Vec<f64> = row.iter().map(|&v| v as f64).collect();
                let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                max + row.iter().map(|v| (v - max).exp()).sum::<f64>().ln() - row[label]
            })
            .sum();
        total / labels.len() as f64
    }

    #[test]
    fn the_benchmark_models_have_the_shapes_the_pyg_script_builds() {
        let widths = |model: BenchmarkModel| {
            let stack = model.build(32, 1).unwrap();
            let widths: Vec<(usize, usize)> = stack
                .blocks
                .iter()
                .map(|b| (b.layer.input_dim(), b.layer.output_dim()))
                .collect();
            let parameters: usize = stack.clone().parameters_mut().iter().map(|p| p.len()).sum();
            (widths, parameters)
        };
        // Weights and biases; GAT adds a source and a destination
        // attention vector per head; SAGE's neighbour projection has no bias.
        assert_eq!(
            widths(BenchmarkModel::Gcn2),
            (vec![(32, 128), (128, 64)], 32 * 128 + 128 + 128 * 64 + 64)
        );
        assert_eq!(
            widths(BenchmarkModel::Gat8),
            (vec![(32, 64)], 32 * 64 + 2 * 8 * 8 + 64)
        );
        assert_eq!(
            widths(BenchmarkModel::Sage2),
            (
                vec![(32, 128), (128, 64)],
                2 * 32 * 128 + 128 + 2 * 128 * 64 + 64
            )
        );
        assert!(BenchmarkModel::parse("gin").is_err());
    }

    #[test]
    fn repeated_steps_drive_the_loss_down_for_every_benchmark_model() {
        let (graph, features) = small_graph(80, 16, 5);
        for model in MODELS {
            let outcomes = time_training_steps(model, &graph, features.view(), 10, 30, 7).unwrap();
            let (first, last) = (outcomes[0].loss, outcomes[29].loss);
            // 80 random labels over 10 classes: only memorising lowers the
            // loss, from about ln 10 ≈ 2.3.
            assert!(
                last < 0.7 * first,
                "{model:?}: loss {first} → {last} after 30 steps"
            );
            assert!(outcomes.iter().all(|o| o.timings.total
                >= o.timings.forward + o.timings.loss + o.timings.backward + o.timings.optimizer));
        }
    }

    /// The step's loss is the cross-entropy of the model's output before
    /// the update, and its update is AdamW's first step worked by hand on
    /// the gradients of a separate forward and backward pass: with both
    /// moments fresh, `m̂ = g` and `v̂ = g²`, so every weight moves by
    /// `−lr · (g / (|g| + ε) + λ · w)`.
    #[test]
    fn one_step_applies_adamw_to_the_gradients_of_the_stacks_own_passes() {
        let (graph, features) = small_graph(40, 12, 9);
        let labels = random_labels(40, 64, 3);
        for model in MODELS {
            let mut stack = model.build(12, 11).unwrap();
            let before = stack.clone();
            let logits = before.forward(&graph, features.view()).unwrap();
            let expected_loss = cross_entropy_reference(&logits, &labels);

            let mut reference = before.clone();
            let (logits, cache) = reference.forward_train(&graph, features.view()).unwrap();
            let (_, logit_gradient) = softmax_cross_entropy(logits.view(), &labels).unwrap();
            let (_, gradients) = reference
                .backward(&graph, &cache, logit_gradient.view())
                .unwrap();

            let mut optimizer = benchmark_optimizer();
            let outcome =
                train_step(&mut stack, &mut optimizer, &graph, features.view(), &labels).unwrap();
            assert!(
                (outcome.loss as f64 - expected_loss).abs() < 1e-5 * expected_loss,
                "{model:?}: loss {} vs {expected_loss}",
                outcome.loss
            );

            let (lr, decay, epsilon) = (0.01f64, 5e-4f64, 1e-8f64);
            let mut before = before;
            let mut after = stack;
            let mut checked = 0;
            for ((old, new), gradient) in before
                .parameters_mut()
                .iter()
                .zip(after.parameters_mut())
                .zip(gradients.slices())
            {
                for ((&w, &updated), &g) in old.iter().zip(new.iter()).zip(gradient) {
                    let (w, g) = (w as f64, g as f64);
                    let expected = w - lr * (g / (g.abs() + epsilon) + decay * w);
                    assert!(
                        (updated as f64 - expected).abs() < 1e-6,
                        "{model:?}: weight {w} with gradient {g} became {updated}, expected {expected}"
                    );
                    checked += 1;
                }
            }
            let total: usize = after.parameters_mut().iter().map(|p| p.len()).sum();
            assert_eq!(checked, total, "{model:?}: every parameter is checked");
        }
    }

    #[test]
    fn out_of_range_classes_are_refused() {
        let (graph, features) = small_graph(10, 4, 1);
        for classes in [0, 65] {
            let error =
                time_training_steps(BenchmarkModel::Gcn2, &graph, features.view(), classes, 1, 1)
                    .unwrap_err();
            assert!(error.to_string().contains(&classes.to_string()), "{error}");
        }
    }
}
