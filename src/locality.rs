//! Row orders that keep near points near in memory. Message passing reads
//! each edge's source row; when neighbours sit in nearby rows those reads
//! hit cache instead of memory (on 100k × 128 a banded graph aggregates
//! about twice as fast as a random one of the same degree).

use crate::distance::Kernels;
use crate::rng::SplitMix64;
use ndarray::ArrayView2;

/// Rows per leaf: a leaf's rows (64 × 512 B at 128-d) fit in L2.
const LEAF: usize = 64;

/// An order of the rows of `points` in which near points sit near each
/// other: a random projection tree, halving each set at the median of its
/// projection on the line through two of its points (sampled from `seed`),
/// down to leaves of `LEAF` rows, read left to right. Near neighbours
/// mostly share deep subtrees, hence nearby positions. `O(n log n · d)`,
/// in parallel over subtrees.
pub fn locality_order(points: ArrayView2<'_, f32>, seed: u64) -> Vec<u32> {
    let points = points.as_standard_layout();
    let width = points.ncols();
    let data = points.as_slice().expect("standard layout");
    let mut order: Vec<u32> = (0..points.nrows() as u32).collect();
    if width > 0 {
        let row = |r: u32| &data[r as usize * width..(r as usize + 1) * width];
        split(&row, &mut order, seed, Kernels::active());
    }
    order
}

fn split<'a>(
    row: &(impl Fn(u32) -> &'a [f32] + Sync),
    rows: &mut [u32],
    seed: u64,
    kernels: &Kernels,
) {
    if rows.len() <= LEAF {
        return;
    }
    let mut rng = SplitMix64::new(seed);
    let (a, b) = (
        row(rows[rng.below(rows.len())]),
        row(rows[rng.below(rows.len())]),
    );
    let direction: Vec<f32> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    if direction.iter().all(|&d| d == 0.0) {
        // Drew one point twice or duplicates: try another pair next level.
        let middle = rows.len() / 2;
        let (left, right) = rows.split_at_mut(middle);
        let (left_seed, right_seed) = (rng.next_u64(), rng.next_u64());
        rayon::join(
            || split(row, left, left_seed, kernels),
            || split(row, right, right_seed, kernels),
        );
        return;
    }
    let mut keyed: Vec<(f32, u32)> = rows
        .iter()
        .map(|&r| ((kernels.dot)(row(r), &direction), r))
        .collect();
    let middle = keyed.len() / 2;
    keyed.select_nth_unstable_by(middle, |x, y| x.0.total_cmp(&y.0));
    for (slot, (_, r)) in rows.iter_mut().zip(keyed) {
        *slot = r;
    }
    let (left, right) = rows.split_at_mut(middle);
    let (left_seed, right_seed) = (rng.next_u64(), rng.next_u64());
    rayon::join(
        || split(row, left, left_seed, kernels),
        || split(row, right, right_seed, kernels),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn the_order_is_a_permutation_that_brings_near_points_together() {
        // Points on 40 well-separated clusters, listed in random order.
        let mut rng = SplitMix64::new(3);
        let centres = Array2::from_shape_fn((40, 16), |_| rng.gaussian() * 10.0);
        let labels: Vec<usize> = (0..4000).map(|_| rng.below(40)).collect();
        let points = Array2::from_shape_fn((4000, 16), |(i, d)| {
            centres[[labels[i], d]] + rng.gaussian()
        });
        let order = locality_order(points.view(), 7);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..4000).collect::<Vec<u32>>());
        // Neighbours in the order mostly share a cluster (median splits cut
        // some clusters in two); in the input order they do 1 time in 40.
        let same = order
            .windows(2)
            .filter(|w| labels[w[0] as usize] == labels[w[1] as usize])
            .count();
        assert!(
            same > 3000,
            "{same} of 3999 consecutive pairs share a cluster"
        );
        assert_eq!(locality_order(points.view(), 7), order, "seeded");
        assert!(locality_order(Array2::<f32>::zeros((5, 0)).view(), 1).len() == 5);
    }
}
