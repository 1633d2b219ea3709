//! The HNSW level-0 graph, handed to the GNN engine through the public
//! API: the only place where the two meet without the learner (the layers
//! keep `hnsw` and `gnn` apart inside the crate).

use hnsw_gnn::gnn::{aggregate, Adjacency, Aggregation};
use hnsw_gnn::hnsw::{HnswParams, Index};
use hnsw_gnn::rng::SplitMix64;
use hnsw_gnn::Metric;
use ndarray::Array2;

#[test]
fn a_node_s_mean_over_its_hnsw_neighbours_stays_near_it() {
    // 500 points around 5 centres.
    let mut rng = SplitMix64::new(3);
    let centres: Vec<Vec<f32>> = (0..5)
        .map(|_| (0..8).map(|_| 4.0 * rng.gaussian()).collect())
        .collect();
    let base: Vec<Vec<f32>> = (0..500)
        .map(|_| {
            let centre = &centres[rng.below(5)];
            centre.iter().map(|c| c + rng.gaussian()).collect()
        })
        .collect();
    let index = Index::new(8, Metric::Euclidean, HnswParams::default()).unwrap();
    let refs: Vec<&[f32]> = base.iter().map(Vec::as_slice).collect();
    index.insert_batch(&refs, &|_, _| {}).unwrap();
    let csr = index.level0_csr();
    let offsets = csr.offsets.iter().map(|&o| o as usize).collect();
    let graph = Adjacency::from_csr(500, offsets, csr.targets).unwrap();
    let features = Array2::from_shape_fn((500, 8), |(i, c)| base[i][c]);
    let mean = aggregate(&graph, features.view(), Aggregation::Mean)
        .unwrap()
        .output;
    // Neighbours are near: a node's neighbourhood mean is closer to it than
    // the mean of all nodes is, for most nodes.
    let global: Vec<f32> = (0..8).map(|c| features.column(c).mean().unwrap()).collect();
    let distance = |i: usize, other: &dyn Fn(usize) -> f32| {
        (0..8)
            .map(|c| (features[[i, c]] - other(c)).powi(2))
            .sum::<f32>()
    };
    let closer = (0..500)
        .filter(|&i| distance(i, &|c| mean[[i, c]]) < distance(i, &|c| global[c]))
        .count();
    assert!(
        closer > 450,
        "only {closer} of 500 neighbourhood means are local"
    );
}
