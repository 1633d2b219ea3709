//! End-to-end: layers, losses and optimisers together learn what features
//! alone cannot.

use super::*;
use crate::rng::SplitMix64;
use ndarray::Array2;

/// Two communities of `n / 2` nodes: each node links to 12 random nodes of
/// its own community and 1 of the other. Features carry a weak label signal
/// (0.6 along one axis) under unit Gaussian noise in 8 dimensions, so a
/// linear model on features alone tops out near Φ(0.6) ≈ 73% accuracy.
fn two_communities(n: usize, seed: u64) -> (Adjacency, Array2<f32>, Vec<usize>) {
    let mut rng = SplitMix64::new(seed);
    let half = n / 2;
    let labels: Vec<usize> = (0..n).map(|i| (i >= half) as usize).collect();
    let lists: Vec<Vec<u32>> = (0..n)
        .map(|i| {
            let own = labels[i] * half;
            let other = (1 - labels[i]) * half;
            let mut list: Vec<u32> = (0..12).map(|_| (own + rng.below(half)) as u32).collect();
            list.push((other + rng.below(half)) as u32);
            list
        })
        .collect();
    let features = Array2::from_shape_fn((n, 8), |(i, c)| {
        let signal = if c == 0 {
            if labels[i] == 1 {
                0.6
            } else {
                -0.6
            }
        } else {
            0.0
        };
        signal + rng.gaussian()
    });
    (Adjacency::from_lists(&lists).unwrap(), features, labels)
}

fn accuracy(logits: &Array2<f32>, labels: &[usize], nodes: &[usize]) -> f64 {
    let correct = nodes
        .iter()
        .filter(|&&i| (logits[[i, 1]] > logits[[i, 0]]) as usize == labels[i])
        .count();
    correct as f64 / nodes.len() as f64
}

fn rows(matrix: &Array2<f32>, nodes: &[usize]) -> Array2<f32> {
    matrix.select(ndarray::Axis(0), nodes)
}

/// Gradient of the loss over `nodes` only, as a full-size matrix.
fn masked_cross_entropy(
    logits: &Array2<f32>,
    labels: &[usize],
    nodes: &[usize],
) -> (f32, Array2<f32>) {
    let picked: Vec<usize> = nodes.iter().map(|&i| labels[i]).collect();
    let (loss, gradient) =
        loss::softmax_cross_entropy(rows(logits, nodes).view(), &picked).unwrap();
    let mut full = Array2::zeros(logits.dim());
    for (row, &i) in nodes.iter().enumerate() {
        full.row_mut(i).assign(&gradient.row(row));
    }
    (loss, full)
}

#[test]
fn a_two_layer_gcn_learns_communities_that_features_alone_cannot_separate() {
    let (graph, features, labels) = two_communities(400, 21);
    let train: Vec<usize> = (0..400).filter(|i| i % 2 == 0).collect();
    let test: Vec<usize> = (0..400).filter(|i| i % 2 == 1).collect();
    let gcn_graph = GcnGraph::new(&graph, true);

    let mut first = Gcn::new(8, 16, Activation::Relu, 1).unwrap();
    let mut second = Gcn::new(16, 2, Activation::None, 2).unwrap();
    let (mut adam1, mut adam2) = (Adam::new(0.01), Adam::new(0.01));
    for _ in 0..200 {
        let (hidden, cache1) = first.forward_train(&gcn_graph, features.view()).unwrap();
        let (logits, cache2) = second.forward_train(&gcn_graph, hidden.view()).unwrap();
        let (_, gradient) = masked_cross_entropy(&logits, &labels, &train);
        let (hidden_gradient, grads2) = second
            .backward(&gcn_graph, &cache2, gradient.view())
            .unwrap();
        let (_, grads1) = first
            .backward(&gcn_graph, &cache1, hidden_gradient.view())
            .unwrap();
        adam2.step(&mut second.linear.parameters_mut(), &grads2.slices());
        adam1.step(&mut first.linear.parameters_mut(), &grads1.slices());
    }
    let hidden = first.forward(&gcn_graph, features.view()).unwrap();
    let gcn_accuracy = accuracy(
        &second.forward(&gcn_graph, hidden.view()).unwrap(),
        &labels,
        &test,
    );

    // The same training for a linear model on the features alone.
    let mut linear = Linear::new(8, 2, true, 3).unwrap();
    let mut adam = Adam::new(0.01);
    for _ in 0..200 {
        let logits = linear.forward(features.view()).unwrap();
        let (_, gradient) = masked_cross_entropy(&logits, &labels, &train);
        let (_, grads) = linear.backward(features.view(), gradient.view());
        adam.step(&mut linear.parameters_mut(), &grads.slices());
    }
    let linear_accuracy = accuracy(&linear.forward(features.view()).unwrap(), &labels, &test);
    println!("held-out accuracy: GCN {gcn_accuracy:.3}, linear on features {linear_accuracy:.3}");
    assert!(gcn_accuracy >= 0.95, "GCN reached only {gcn_accuracy}");
    assert!(
        linear_accuracy <= 0.85,
        "features alone should not suffice: {linear_accuracy}"
    );
}

#[test]
fn a_two_layer_graphsage_learns_the_same_communities() {
    let (graph, features, labels) = two_communities(400, 22);
    let train: Vec<usize> = (0..400).filter(|i| i % 2 == 0).collect();
    let test: Vec<usize> = (0..400).filter(|i| i % 2 == 1).collect();
    let transposed = graph.transpose();
    let mut first = Sage::new(8, 16, SageAggregator::Mean, Activation::Relu, 4).unwrap();
    let mut second = Sage::new(16, 2, SageAggregator::Mean, Activation::None, 5).unwrap();
    let (mut adam1, mut adam2) = (Adam::new(0.01), Adam::new(0.01));
    for _ in 0..200 {
        let (hidden, cache1) = first.forward_train(&graph, features.view()).unwrap();
        let (logits, cache2) = second.forward_train(&graph, hidden.view()).unwrap();
        let (_, gradient) = masked_cross_entropy(&logits, &labels, &train);
        let (hidden_gradient, grads2) = second
            .backward(&graph, &transposed, &cache2, gradient.view())
            .unwrap();
        let (_, grads1) = first
            .backward(&graph, &transposed, &cache1, hidden_gradient.view())
            .unwrap();
        adam2.step(&mut second.parameters_mut(), &grads2.slices());
        adam1.step(&mut first.parameters_mut(), &grads1.slices());
    }
    let hidden = first.forward(&graph, features.view()).unwrap();
    let sage_accuracy = accuracy(
        &second.forward(&graph, hidden.view()).unwrap(),
        &labels,
        &test,
    );
    println!("held-out accuracy: GraphSAGE {sage_accuracy:.3}");
    assert!(
        sage_accuracy >= 0.95,
        "GraphSAGE reached only {sage_accuracy}"
    );
}
