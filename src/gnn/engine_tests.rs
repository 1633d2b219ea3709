use super::adjacency::Adjacency;
use super::gcn::gcn_normalized;
use super::gradcheck::{
    draw_until, flat, numeric_gradients, probe_loss, random_matrix, to_f64, with_random_weights,
    GradCheck,
};
use super::propagate::*;
use super::reference;
use crate::rng::SplitMix64;
use ndarray::Array2;

/// A random directed graph with empty rows, repeated edges and self loops,
/// optionally weighted.
fn random_graph(nodes: usize, rng: &mut SplitMix64, weighted: bool) -> Adjacency {
    let lists: Vec<Vec<u32>> = (0..nodes)
        .map(|i| {
            let degree = if i % 7 == 3 { 0 } else { rng.below(6) };
            (0..degree).map(|_| rng.below(nodes) as u32).collect()
        })
        .collect();
    let graph = Adjacency::from_lists(&lists).unwrap();
    if weighted {
        with_random_weights(graph, rng)
    } else {
        graph
    }
}

const ALL: [Aggregation; 3] = [Aggregation::Sum, Aggregation::Mean, Aggregation::Max];

#[test]
fn aggregate_matches_the_definition_for_every_reduction() {
    let mut rng = SplitMix64::new(1);
    for weighted in [false, true] {
        let graph = random_graph(60, &mut rng, weighted);
        let x = random_matrix(60, 19, &mut rng);
        for aggregation in ALL {
            let got = aggregate(&graph, x.view(), aggregation).unwrap().output;
            let want = reference::aggregate(&reference::edges(&graph), &to_f64(&x), aggregation);
            let error = got
                .iter()
                .zip(want.iter())
                .fold(0f64, |m, (g, w)| m.max((*g as f64 - w).abs()));
            assert!(
                error < 1e-5,
                "{aggregation:?} weighted={weighted}: max error {error}"
            );
        }
    }
}

/// `aggregate_backward` against differences of the reduction's f64
/// definition, for `sum(output ⊙ probe)`.
#[test]
fn aggregate_backward_matches_an_f64_reference_for_every_reduction() {
    let mut check = GradCheck::new("aggregate backward");
    for seed in 0..5 {
        let mut rng = SplitMix64::new(seed);
        for weighted in [false, true] {
            let nodes = 5 + rng.below(8);
            let width = 2 + rng.below(5);
            let graph = random_graph(nodes, &mut rng, weighted);
            let transposed = graph.transpose();
            let edges = reference::edges(&graph);
            for aggregation in ALL {
                // A max is differentiable only away from ties: redraw until
                // no nudge can change a winner.
                let x = draw_until(
                    "aggregated features",
                    || random_matrix(nodes, width, &mut rng),
                    |x| {
                        aggregation != Aggregation::Max
                            || reference::max_tie_margin(&edges, &to_f64(x)) > 1e-3
                    },
                );
                let probe = random_matrix(nodes, width, &mut rng);
                let forward = aggregate(&graph, x.view(), aggregation).unwrap();
                let analytic =
                    aggregate_backward(&graph, &transposed, &forward, probe.view(), aggregation)
                        .unwrap();
                let what = format!("seed {seed} {aggregation:?} weighted={weighted}");
                let definition = |x: &Array2<f64>| reference::aggregate(&edges, x, aggregation);
                check.forward(&what, &forward.output, &definition(&to_f64(&x)));
                let probe = to_f64(&probe);
                let numeric =
                    numeric_gradients(&to_f64(&x), |x| probe_loss(&definition(x), &probe));
                check.tensors(&what, &["dx"], &[flat(&analytic)], &numeric);
            }
        }
    }
    check.finish();
}

#[test]
fn gcn_normalisation_and_transpose_follow_their_definitions() {
    let graph = Adjacency::from_lists(&[vec![1, 2], vec![0], vec![0, 1]])
        .unwrap()
        .with_self_loops();
    assert_eq!(graph.sources(0), &[1, 2, 0]);
    assert_eq!(graph.sources(1), &[0, 1]);
    let normalized = gcn_normalized(&graph, false);
    // Adding the loops while normalising gives the same graph.
    let base = Adjacency::from_lists(&[vec![1, 2], vec![0], vec![0, 1]]).unwrap();
    assert_eq!(gcn_normalized(&base, true), normalized);
    // In-degrees with self loops: 3, 2, 3. Edge 2 → 0: 1 / sqrt(3 · 3).
    let w = normalized.weights(0).unwrap();
    assert!((w[1] - 1.0 / 3.0).abs() < 1e-6, "{w:?}");
    assert!((w[0] - 1.0 / (3.0f32 * 2.0).sqrt()).abs() < 1e-6, "{w:?}");
    let transposed = normalized.transpose();
    assert_eq!(transposed.num_edges(), normalized.num_edges());
    // Transposing twice gives the same edges back (sorted by source).
    let twice = transposed.transpose();
    for i in 0..3 {
        let edges = |g: &Adjacency| {
            let mut e: Vec<(u32, u32)> = g
                .sources(i)
                .iter()
                .zip(g.weights(i).unwrap())
                .map(|(&j, w)| (j, w.to_bits()))
                .collect();
            e.sort_unstable();
            e
        };
        assert_eq!(edges(&twice), edges(&normalized), "row {i}");
    }
    // Node 0 is aggregated by nodes 0, 1 and 2.
    let mut aggregators = transposed.sources(0).to_vec();
    aggregators.sort_unstable();
    assert_eq!(aggregators, vec![0, 1, 2]);
}

#[test]
fn malformed_graphs_and_shapes_are_refused_with_codes() {
    let out_of_range = Adjacency::from_lists(&[vec![0, 5], vec![]]).unwrap_err();
    assert_eq!(out_of_range.code(), "ERR_INVALID_GRAPH");
    assert!(out_of_range.to_string().contains("5"), "{out_of_range}");
    assert_eq!(
        Adjacency::from_csr(2, vec![0, 2, 1], vec![0])
            .unwrap_err()
            .code(),
        "ERR_INVALID_GRAPH"
    );
    assert_eq!(
        Adjacency::from_csr(2, vec![0, 1], vec![0])
            .unwrap_err()
            .code(),
        "ERR_INVALID_GRAPH"
    );
    let graph = Adjacency::from_lists(&[vec![1], vec![0]]).unwrap();
    assert_eq!(
        graph.clone().with_weights(vec![1.0]).unwrap_err().code(),
        "ERR_DIMENSION_MISMATCH"
    );
    assert_eq!(
        graph
            .clone()
            .with_weights(vec![1.0, f32::NAN])
            .unwrap_err()
            .code(),
        "ERR_INVALID_GRAPH"
    );
    let wrong_rows = Array2::<f32>::zeros((3, 4));
    assert_eq!(
        aggregate(&graph, wrong_rows.view(), Aggregation::Sum)
            .unwrap_err()
            .code(),
        "ERR_DIMENSION_MISMATCH"
    );
    assert_eq!(
        Aggregation::parse("median").unwrap_err().code(),
        "ERR_INVALID_ARGUMENT"
    );
}

#[test]
fn neighbour_sampling_keeps_at_most_k_distinct_edges_uniformly_and_reproducibly() {
    let lists: Vec<Vec<u32>> = (0..50)
        .map(|i| {
            (0..(i % 12) as u32)
                .map(|j| (j * 7 + i as u32) % 50)
                .collect()
        })
        .collect();
    let graph = Adjacency::from_lists(&lists).unwrap();
    let sampled = graph.sample_neighbors(5, 1);
    for i in 0..50 {
        let row = sampled.sources(i);
        assert_eq!(row.len(), graph.degree(i).min(5), "node {i}");
        let mut positions: Vec<usize> = row
            .iter()
            .map(|s| graph.sources(i).iter().position(|t| t == s).unwrap())
            .collect();
        let sorted = positions.clone();
        positions.dedup();
        assert_eq!(
            positions, sorted,
            "node {i}: distinct edges in their original order"
        );
    }
    assert_eq!(
        graph.sample_neighbors(5, 1),
        sampled,
        "same seed, same sample"
    );
    assert_ne!(
        graph.sample_neighbors(5, 2),
        sampled,
        "another seed, another sample"
    );
    // Node 11 has 11 edges; over many seeds each is kept about 5/11 of the time.
    let mut kept = [0usize; 11];
    for seed in 0..2_000 {
        for &s in graph.sample_neighbors(5, seed).sources(11) {
            kept[graph.sources(11).iter().position(|&t| t == s).unwrap()] += 1;
        }
    }
    for (edge, &count) in kept.iter().enumerate() {
        let rate = count as f64 / 2_000.0;
        assert!(
            (rate - 5.0 / 11.0).abs() < 0.05,
            "edge {edge} kept at rate {rate}"
        );
    }
}

#[test]
fn half_precision_aggregation_matches_f32_within_the_rounding_of_its_terms() {
    use super::gather::HalfMatrix;
    use super::propagate::aggregate_half;
    let mut rng = crate::rng::SplitMix64::new(3);
    for weighted in [false, true] {
        let graph = super::gradcheck::random_graph(400, 20, weighted, &mut rng);
        let x = super::gradcheck::random_matrix(400, 96, &mut rng);
        let half = HalfMatrix::new(x.view()).unwrap();
        for aggregation in [Aggregation::Sum, Aggregation::Mean] {
            let full = aggregate(&graph, x.view(), aggregation).unwrap().output;
            let rounded = aggregate(&graph, half.to_f32().view(), aggregation)
                .unwrap()
                .output;
            let got = aggregate_half(&graph, &half, aggregation).unwrap();
            // Σ w·|x| (weights are positive): the scale of each output's
            // rounding.
            let magnitude = aggregate(&graph, x.mapv(f32::abs).view(), aggregation)
                .unwrap()
                .output;
            for (((&g, &r), &f), &m) in got.iter().zip(&rounded).zip(&full).zip(&magnitude) {
                // The f32 aggregation of the rounded values (up to
                // summation order)…
                assert!((g - r).abs() <= 1e-6 * m + 1e-30, "{g} vs {r}");
                // …within half precision's rounding of the f32 result.
                assert!(
                    (g - f).abs() <= 2f32.powi(-11) * m * 1.01 + 1e-30,
                    "{g} vs {f}"
                );
            }
        }
        assert!(aggregate_half(&graph, &half, Aggregation::Max).is_err());
    }
    let wrong = HalfMatrix::new(super::gradcheck::random_matrix(3, 4, &mut rng).view()).unwrap();
    let graph = super::gradcheck::random_graph(5, 2, false, &mut rng);
    assert!(aggregate_half(&graph, &wrong, Aggregation::Sum).is_err());
    let too_large = ndarray::Array2::from_elem((2, 2), 70000.0f32);
    assert!(HalfMatrix::new(too_large.view()).is_err());
}
