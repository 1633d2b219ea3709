use super::gradcheck::{
    draw_until, flat, numeric_gradients, probe_loss, random_matrix, to_f64, GradCheck, Tensors,
};
use super::reference::{
    edges, with_self_loops, Edges, GatRef, GcnRef, NeighborsRef, NormRef, SageRef,
};
use super::stack::*;
use super::*;
use crate::rng::SplitMix64;
use crate::testdata::TempDir;
use ndarray::{Array2, ArrayView2, Axis};
use serde_json::json;

fn random_graph(nodes: usize, max_degree: usize, seed: u64) -> Adjacency {
    let mut rng = SplitMix64::new(seed);
    let lists: Vec<Vec<u32>> = (0..nodes)
        .map(|_| {
            let degree = rng.below(max_degree + 1);
            let mut list: Vec<u32> = (0..degree).map(|_| rng.below(nodes) as u32).collect();
            list.sort_unstable();
            list.dedup();
            list
        })
        .collect();
    Adjacency::from_lists(&lists).unwrap()
}

/// GCN → GAT (residual) → GraphSAGE-LSTM (sampled, layer norm), its
/// weights drawn from `seed`.
fn mixed_stack(seed: u64) -> GnnStack {
    let gcn = Gcn::new(4, 6, Activation::Tanh, 1 + 3 * seed).unwrap();
    let gat = Gat::new(6, 3, 2, true, Activation::Elu(1.0), 2 + 3 * seed).unwrap();
    let sage = Sage::new(6, 3, SageAggregator::Lstm, Activation::Tanh, 3 + 3 * seed).unwrap();
    let mut blocks = vec![
        StackBlock::new(StackLayer::Gcn(gcn)),
        StackBlock::new(StackLayer::Gat(gat)),
        StackBlock::new(StackLayer::Sage(sage)),
    ];
    blocks[0].norm = Some(LayerNorm::new(6));
    blocks[1].residual = true;
    blocks[2].sample_size = Some(2);
    blocks[2].norm = Some(LayerNorm::new(3));
    GnnStack::new(blocks, 77 + seed).unwrap()
}

/// A stack's definition in f64: each block's layer from `reference`, then
/// the residual and the layer norm (the stacks checked have no dropout).
#[derive(Clone)]
struct StackRef {
    blocks: Vec<BlockRef>,
}

#[derive(Clone)]
struct BlockRef {
    layer: LayerRef,
    /// The edges the layer runs on.
    edges: Edges,
    residual: bool,
    norm: Option<NormRef>,
}

#[derive(Clone)]
enum LayerRef {
    Gcn(GcnRef),
    Gat(GatRef),
    Sage(SageRef),
}

impl StackRef {
    /// `stack` read into f64. GCN normalises (and adds loops to) the graph
    /// itself; GAT attends over the graph with the self loops it asks for;
    /// a sampling GraphSAGE layer reads the neighbours the crate's sampler
    /// picks for its hop (sampling only chooses edges, nothing about it is
    /// differentiated, and it has its own tests).
    fn of(stack: &GnnStack, adjacency: &Adjacency) -> StackRef {
        let all = edges(adjacency);
        let blocks = stack
            .blocks
            .iter()
            .zip(stack.sample_seeds())
            .map(|(block, seed)| {
                assert!(block.dropout.is_none(), "the reference has no dropout");
                let (layer, edges) = match &block.layer {
                    StackLayer::Gcn(l) => (LayerRef::Gcn(GcnRef::of(l)), all.clone()),
                    StackLayer::Gat(l) => (
                        LayerRef::Gat(GatRef::of(l)),
                        if l.self_loops {
                            with_self_loops(&all)
                        } else {
                            all.clone()
                        },
                    ),
                    StackLayer::Sage(l) => (
                        LayerRef::Sage(SageRef::of(l)),
                        match block.sample_size {
                            Some(size) => edges(&adjacency.sample_neighbors(size, seed)),
                            None => all.clone(),
                        },
                    ),
                };
                BlockRef {
                    layer,
                    edges,
                    residual: block.residual,
                    norm: block.norm.as_ref().map(NormRef::of),
                }
            })
            .collect();
        StackRef { blocks }
    }

    /// The output, and how far the GAT scores come to LeakyReLU's kink.
    fn forward_with_margin(&self, x: &Array2<f64>) -> (Array2<f64>, f64) {
        let mut x = x.clone();
        let mut margin = f64::INFINITY;
        for block in &self.blocks {
            let mut h = match &block.layer {
                LayerRef::Gcn(l) => l.forward(&block.edges, &x),
                LayerRef::Gat(l) => {
                    let (h, m) = l.forward_with_margin(&block.edges, &x);
                    margin = margin.min(m);
                    h
                }
                LayerRef::Sage(l) => l.forward(&block.edges, &x),
            };
            if block.residual {
                h += &x;
            }
            if let Some(norm) = &block.norm {
                h = norm.forward(&h);
            }
            x = h;
        }
        (x, margin)
    }

    /// Names of the tensors of [`Tensors::tensors_mut`], for messages.
    fn names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for (b, block) in self.blocks.iter().enumerate() {
            let layer: &[&str] = match &block.layer {
                LayerRef::Gcn(_) => &["gcn weight", "gcn bias"],
                LayerRef::Gat(_) => &[
                    "gat projection",
                    "gat attention_source",
                    "gat attention_destination",
                    "gat bias",
                ],
                LayerRef::Sage(l) => match l.neighbors {
                    NeighborsRef::Lstm(_) => &[
                        "sage self_weight",
                        "sage bias",
                        "sage neighbor_weight",
                        "sage lstm input_weight",
                        "sage lstm bias",
                        "sage lstm hidden_weight",
                    ],
                    NeighborsRef::Reduce(_) => {
                        &["sage self_weight", "sage bias", "sage neighbor_weight"]
                    }
                },
            };
            let norm: &[&str] = if block.norm.is_some() {
                &["norm gain", "norm shift"]
            } else {
                &[]
            };
            names.extend(layer.iter().chain(norm).map(|n| format!("block {b} {n}")));
        }
        names
    }
}

impl Tensors for StackRef {
    /// In the order of `GnnStack::parameters_mut`.
    fn tensors_mut(&mut self) -> Vec<&mut [f64]> {
        let mut tensors = Vec::new();
        for block in &mut self.blocks {
            match &mut block.layer {
                LayerRef::Gcn(l) => tensors.extend(l.tensors_mut()),
                LayerRef::Gat(l) => tensors.extend(l.tensors_mut()),
                LayerRef::Sage(l) => tensors.extend(l.tensors_mut()),
            }
            tensors.extend(block.norm.tensors_mut());
        }
        tensors
    }
}

#[test]
fn stack_backward_matches_an_f64_reference_for_the_input_and_every_parameter() {
    let mut check = GradCheck::new("stack backward");
    for seed in 0..5 {
        let adjacency = random_graph(7 + seed as usize, 4, 5 + seed);
        let graph = Graph::new(adjacency.clone());
        let nodes = graph.num_nodes();
        let mut stack = mixed_stack(seed);
        // Non-trivial biases, attention vectors and norm parameters, so
        // their gradients are tested away from their initial values too.
        let mut rng = SplitMix64::new(8 + seed);
        for p in stack.parameters_mut() {
            if p.len() <= 6 {
                p.iter_mut().for_each(|v| *v += 0.3 * rng.gaussian());
            }
        }
        let reference = StackRef::of(&stack, &adjacency);
        // Differences straddling a kink of GAT's LeakyReLU measure neither side.
        let x = draw_until(
            "stack features",
            || random_matrix(nodes, 4, &mut rng),
            |x| reference.forward_with_margin(&to_f64(x)).1 > 1e-3,
        );
        let probe = random_matrix(nodes, 3, &mut rng);
        let (out, cache) = stack.forward_train(&graph, x.view()).unwrap();
        assert_close(
            &out,
            &stack.forward(&graph, x.view()).unwrap(),
            "mixed stack",
        );
        assert!(cache.attention(1).is_some() && cache.attention(0).is_none());
        let (dx, grads) = stack.backward(&graph, &cache, probe.view()).unwrap();
        assert_eq!(grads.slices().len(), stack.clone().parameters_mut().len());
        // Without the input's gradient, the parameters' are the same bits.
        let parameters_only = stack
            .parameter_gradients(&graph, &cache, probe.view())
            .unwrap();
        assert_eq!(parameters_only.slices(), grads.slices());
        let what = format!("seed {seed} on {nodes} nodes");
        let names = reference.names();
        let point = (to_f64(&x), reference);
        let forward = |(x, stack): &(Array2<f64>, StackRef)| stack.forward_with_margin(x).0;
        check.forward(&what, &out, &forward(&point));
        let probe = to_f64(&probe);
        let numeric = numeric_gradients(&point, |p| probe_loss(&forward(p), &probe));
        let mut analytic = vec![flat(&dx)];
        analytic.extend(grads.slices().into_iter().map(flat));
        let names: Vec<&str> = ["dx"]
            .into_iter()
            .chain(names.iter().map(String::as_str))
            .collect();
        check.tensors(&what, &names, &analytic, &numeric);
    }
    check.finish();
}

fn assert_close(a: &Array2<f32>, b: &Array2<f32>, what: &str) {
    assert_eq!(a.dim(), b.dim(), "{what}");
    for (x, y) in a.iter().zip(b.iter()) {
        assert!(
            (x - y).abs() <= 1e-5 * (1.0 + y.abs()),
            "{what}: {x} vs {y}"
        );
    }
}

/// Each layer's inference path (no caches, fused, reordered sums) gives
/// what its training path gives.
#[test]
fn inference_matches_the_training_pass_for_every_layer_kind() {
    let adjacency = random_graph(40, 6, 3);
    let looped = adjacency.with_self_loops();
    let mut rng = SplitMix64::new(5);
    let x = Array2::from_shape_fn((40, 6), |_| rng.gaussian());
    let gcn_graph = GcnGraph::new(&adjacency, true);
    let gcn = Gcn::new(6, 4, Activation::Relu, 1).unwrap();
    assert_close(
        &gcn.forward(&gcn_graph, x.view()).unwrap(),
        &gcn.forward_train(&gcn_graph, x.view()).unwrap().0,
        "gcn",
    );
    for concat in [true, false] {
        let gat = Gat::new(6, 3, 4, concat, Activation::Elu(1.0), 2).unwrap();
        let (output, attention) = gat.infer(&looped, x.view(), true).unwrap();
        let (expected, cache) = gat.forward_train(&looped, x.view()).unwrap();
        assert_close(&output, &expected, "gat");
        assert_close(&attention.unwrap(), &cache.attention, "gat attention");
    }
    for aggregator in [
        SageAggregator::Mean,
        SageAggregator::Sum,
        SageAggregator::Max,
        SageAggregator::Lstm,
    ] {
        for output_dim in [3, 8] {
            let mut sage = Sage::new(6, output_dim, aggregator, Activation::Tanh, 4).unwrap();
            sage.normalize = output_dim == 3;
            assert_close(
                &sage.forward(&adjacency, x.view()).unwrap(),
                &sage.forward_train(&adjacency, x.view()).unwrap().0,
                aggregator.name(),
            );
        }
    }
}

#[test]
fn dropout_is_training_only_and_flows_through_backward() {
    let graph = Graph::new(random_graph(30, 5, 2));
    let mut block = StackBlock::new(StackLayer::Gcn(
        Gcn::new(4, 4, Activation::None, 1).unwrap(),
    ));
    block.dropout = Some(Dropout::new(0.5, 3).unwrap());
    let mut stack = GnnStack::new(vec![block], 0).unwrap();
    let x = Array2::from_shape_fn((30, 4), |(i, j)| (i + j) as f32 / 10.0);
    let inference = stack.forward(&graph, x.view()).unwrap();
    let (trained, cache) = stack.forward_train(&graph, x.view()).unwrap();
    let zeroed = trained.iter().filter(|&&v| v == 0.0).count();
    assert!((30..90).contains(&zeroed), "{zeroed} of 120 dropped");
    for (t, i) in trained.iter().zip(inference.iter()) {
        assert!(*t == 0.0 || (t - 2.0 * i).abs() < 1e-5);
    }
    // Dropped outputs pass no gradient back: only the kept ones count.
    let ones = Array2::<f32>::ones((30, 4));
    let (_, grads) = stack.backward(&graph, &cache, ones.view()).unwrap();
    let LayerGradients::Gcn(g) = &grads.blocks[0].layer else {
        panic!("a GCN block")
    };
    let bias = g.bias.as_ref().unwrap();
    let kept = trained
        .mapv(|v| (v != 0.0) as u8 as f32 * 2.0)
        .sum_axis(Axis(0));
    for (b, k) in bias.iter().zip(kept.iter()) {
        assert!((b - k).abs() < 1e-4, "{b} vs {k}");
    }
}

#[test]
fn a_minibatch_gives_the_targets_rows_of_the_whole_graph_pass() {
    let adjacency = random_graph(300, 12, 9);
    let graph = Graph::new(adjacency.clone());
    let mut rng = SplitMix64::new(4);
    let x = Array2::from_shape_fn((300, 8), |_| rng.gaussian());
    for aggregator in [
        SageAggregator::Mean,
        SageAggregator::Max,
        SageAggregator::Lstm,
    ] {
        for sizes in [[None, None], [Some(5), Some(3)]] {
            let mut first = StackBlock::new(StackLayer::Sage(
                Sage::new(8, 8, aggregator, Activation::Relu, 1).unwrap(),
            ));
            first.residual = true;
            first.sample_size = sizes[0];
            let mut second = StackBlock::new(StackLayer::Sage(
                Sage::new(8, 5, aggregator, Activation::None, 2).unwrap(),
            ));
            second.sample_size = sizes[1];
            second.norm = Some(LayerNorm::new(5));
            let stack = GnnStack::new(vec![first, second], 31).unwrap();
            let whole = stack.forward(&graph, x.view()).unwrap();
            let targets = [17u32, 4, 17, 299, 0];
            let batch = stack
                .forward_minibatch(&adjacency, x.view(), &targets)
                .unwrap();
            assert_eq!(batch.nrows(), targets.len());
            for (r, &t) in targets.iter().enumerate() {
                for (a, b) in batch.row(r).iter().zip(whole.row(t as usize).iter()) {
                    assert!(
                        (a - b).abs() < 1e-4,
                        "{aggregator:?} {sizes:?} target {t}: {a} vs {b}"
                    );
                }
            }
        }
    }
    let gcn_only = GnnStack::new(
        vec![StackBlock::new(StackLayer::Gcn(
            Gcn::new(8, 2, Activation::None, 1).unwrap(),
        ))],
        0,
    )
    .unwrap();
    assert_eq!(
        gcn_only
            .forward_minibatch(&adjacency, x.view(), &[1])
            .unwrap_err()
            .code(),
        "ERR_INVALID_ARGUMENT"
    );
}

#[test]
fn saved_stacks_reload_bit_identical_from_the_mapping_and_quantised_within_bounds() {
    let dir = TempDir::new("stack-weights");
    let graph = Graph::new(random_graph(120, 8, 3));
    let mut rng = SplitMix64::new(12);
    let x = Array2::from_shape_fn((120, 4), |_| rng.gaussian());
    let stack = mixed_stack(0);
    let expected = stack.forward(&graph, x.view()).unwrap();
    let path = dir.path().join("model.f32");
    stack.save(&path, WeightType::F32).unwrap();
    let loaded = GnnStack::load(&path).unwrap();
    let StackLayer::Gcn(gcn) = &loaded.blocks[0].layer else {
        panic!("a GCN block first")
    };
    assert!(gcn.linear.weight.is_mapped());
    let output = loaded.forward(&graph, x.view()).unwrap();
    assert!(output
        .iter()
        .zip(expected.iter())
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    assert_eq!(loaded.config(), stack.config());
    let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
    for (weight_type, bound) in [(WeightType::F16, 0.01), (WeightType::Int8, 0.05)] {
        let path = dir.path().join(format!("model.{weight_type:?}"));
        stack.save(&path, weight_type).unwrap();
        let output = GnnStack::load(&path)
            .unwrap()
            .forward(&graph, x.view())
            .unwrap();
        let error = (&output - &expected)
            .iter()
            .fold(0f32, |m, v| m.max(v.abs()))
            / scale;
        println!("{weight_type:?} weights: max output error {error:.2e} of the output range");
        assert!(error > 0.0 && error < bound, "{weight_type:?}: {error}");
    }
    // Damaged metadata and foreign files are refused with codes.
    let plain = dir.path().join("plain.weights");
    save_weights(&plain, "not json", &[], WeightType::F32).unwrap();
    assert_eq!(
        GnnStack::load(&plain).unwrap_err().code(),
        "ERR_CORRUPT_FILE"
    );
    save_weights(&plain, r#"{"format":"other"}"#, &[], WeightType::F32).unwrap();
    assert_eq!(
        GnnStack::load(&plain).unwrap_err().code(),
        "ERR_UNSUPPORTED_FORMAT"
    );
    let mut config = stack.config();
    config["blocks"][0]["outputDim"] = json!(7);
    let tensors = stack.named_tensors();
    let views: Vec<(&str, ArrayView2<'_, f32>)> = tensors
        .iter()
        .map(|(n, v)| (n.as_str(), v.view()))
        .collect();
    save_weights(&plain, &config.to_string(), &views, WeightType::F32).unwrap();
    assert_eq!(
        GnnStack::load(&plain).unwrap_err().code(),
        "ERR_CORRUPT_FILE"
    );
}

#[test]
fn mismatched_widths_are_refused() {
    let gcn = |i, o| {
        StackBlock::new(StackLayer::Gcn(
            Gcn::new(i, o, Activation::None, 1).unwrap(),
        ))
    };
    assert_eq!(
        GnnStack::new(vec![gcn(4, 5), gcn(6, 2)], 0)
            .unwrap_err()
            .code(),
        "ERR_DIMENSION_MISMATCH"
    );
    let mut residual = gcn(4, 5);
    residual.residual = true;
    assert_eq!(
        GnnStack::new(vec![residual], 0).unwrap_err().code(),
        "ERR_DIMENSION_MISMATCH"
    );
    let stack = GnnStack::new(vec![gcn(4, 5)], 0).unwrap();
    let graph = Graph::new(random_graph(10, 3, 1));
    assert_eq!(
        stack
            .forward(&graph, Array2::zeros((10, 3)).view())
            .unwrap_err()
            .code(),
        "ERR_DIMENSION_MISMATCH"
    );
    assert_eq!(
        stack
            .forward(&graph, Array2::zeros((9, 4)).view())
            .unwrap_err()
            .code(),
        "ERR_DIMENSION_MISMATCH"
    );
    let mut features = Array2::<f32>::zeros((10, 4));
    features[[7, 2]] = f32::NAN;
    let error = stack.forward(&graph, features.view()).unwrap_err();
    assert_eq!(error.code(), "ERR_INVALID_VECTOR");
    assert!(error.to_string().contains("row 7, column 2"), "{error}");
    // A minibatch checks only the rows it reads, and names the node.
    let pairs = Adjacency::from_lists(&[vec![1], vec![0], vec![3], vec![2]]).unwrap();
    let sage = GnnStack::new(
        vec![StackBlock::new(StackLayer::Sage(
            Sage::new(4, 2, SageAggregator::Mean, Activation::None, 1).unwrap(),
        ))],
        0,
    )
    .unwrap();
    let mut features = Array2::<f32>::zeros((4, 4));
    features[[3, 1]] = f32::INFINITY;
    assert!(sage
        .forward_minibatch(&pairs, features.view(), &[0])
        .is_ok());
    let error = sage
        .forward_minibatch(&pairs, features.view(), &[2])
        .unwrap_err();
    assert_eq!(error.code(), "ERR_INVALID_VECTOR");
    assert!(error.to_string().contains("row 3, column 1"), "{error}");
    assert_eq!(
        crate::gnn::Linear::new(1 << 20, 1 << 20, false, 0)
            .unwrap_err()
            .code(),
        "ERR_INVALID_ARGUMENT"
    );
}

/// A first block of each kind (the mixed stack starts with GCN): the
/// parameters' gradients without the input's equal those with it.
#[test]
fn parameter_gradients_skip_only_the_input_gradient_for_every_first_layer_kind() {
    let adjacency = random_graph(9, 4, 3);
    let graph = Graph::new(adjacency);
    let mut rng = SplitMix64::new(4);
    let x = random_matrix(graph.num_nodes(), 5, &mut rng);
    let layers = [
        StackLayer::Gat(Gat::new(5, 2, 2, true, Activation::Elu(1.0), 1).unwrap()),
        StackLayer::Sage(Sage::new(5, 4, SageAggregator::Mean, Activation::Relu, 2).unwrap()),
        StackLayer::Sage(Sage::new(5, 4, SageAggregator::Lstm, Activation::Tanh, 3).unwrap()),
    ];
    for layer in layers {
        let mut stack = GnnStack::new(vec![StackBlock::new(layer)], 5).unwrap();
        let (out, cache) = stack.forward_train(&graph, x.view()).unwrap();
        let probe = random_matrix(out.nrows(), out.ncols(), &mut rng);
        let (_, grads) = stack.backward(&graph, &cache, probe.view()).unwrap();
        let parameters_only = stack
            .parameter_gradients(&graph, &cache, probe.view())
            .unwrap();
        assert_eq!(parameters_only.slices(), grads.slices());
    }
}
