//! Seeded data sets and brute-force references for the tests.

use crate::distance::Metric;
use crate::rng::SplitMix64;

/// `n` points in `clusters` clusters, each a random 24-dimensional subspace
/// around a Gaussian centre plus a little isotropic noise. Like real
/// embeddings, the data has a low intrinsic dimension inside a high ambient
/// one; isotropic Gaussian clusters in 96-d would instead be near the worst
/// case for any ANN index (hnswlib gets 0.86 recall@10 at ef 64 there).
pub fn clustered(n: usize, dimensions: usize, clusters: usize, seed: u64) -> Vec<Vec<f32>> {
    const LATENT: usize = 24;
    let mut rng = SplitMix64::new(seed);
    let clusters: Vec<(Vec<f32>, Vec<f32>)> = (0..clusters)
        .map(|_| {
            let centre: Vec<f32> = (0..dimensions).map(|_| rng.gaussian()).collect();
            let spread = (0.3 + 0.7 * rng.next_f32()) / (LATENT as f32).sqrt();
            let basis = (0..LATENT * dimensions)
                .map(|_| spread * rng.gaussian())
                .collect();
            (centre, basis)
        })
        .collect();
    (0..n)
        .map(|_| {
            let (centre, basis) = &clusters[rng.below(clusters.len())];
            let latent: Vec<f32> = (0..LATENT).map(|_| rng.gaussian()).collect();
            (0..dimensions)
                .map(|d| {
                    let projected: f32 = latent
                        .iter()
                        .enumerate()
                        .map(|(l, z)| z * basis[l * dimensions + d])
                        .sum();
                    centre[d] + projected + 0.4 * rng.gaussian()
                })
                .collect()
        })
        .collect()
}

/// `n` base points and `queries` query points from the same clusters.
pub fn clustered_split(
    n: usize,
    queries: usize,
    dimensions: usize,
    clusters: usize,
    seed: u64,
) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let mut all = clustered(n + queries, dimensions, clusters, seed);
    let queries = all.split_off(n);
    (all, queries)
}

/// Exact top-`k` indices of `base` by `metric`, computed independently of
/// the crate's kernels (plain f64 arithmetic on the raw vectors).
pub fn brute_force_top_k(
    base: &[Vec<f32>],
    query: &[f32],
    k: usize,
    metric: Metric,
    keep: impl Fn(usize) -> bool,
) -> Vec<usize> {
    let dot = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(&x, &y)| x as f64 * y as f64)
            .sum::<f64>()
    };
    let query_norm = dot(query, query).sqrt();
    let mut scored: Vec<(f64, usize)> = base
        .iter()
        .enumerate()
        .filter(|(i, _)| keep(*i))
        .map(|(i, v)| {
            let distance = match metric {
                Metric::Euclidean => v
                    .iter()
                    .zip(query)
                    .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
                    .sum(),
                Metric::Cosine => 1.0 - dot(v, query) / (dot(v, v).sqrt() * query_norm),
                Metric::Dot => -dot(v, query),
            };
            (distance, i)
        })
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(k).map(|(_, i)| i).collect()
}

/// |found ∩ truth| / |truth|.
pub fn recall(found: &[usize], truth: &[usize]) -> f64 {
    if truth.is_empty() {
        return 1.0;
    }
    let hits = found.iter().filter(|f| truth.contains(f)).count();
    hits as f64 / truth.len() as f64
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "hnsw-gnn-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
