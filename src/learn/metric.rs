//! The learned metric: a query and item transform `T` (rank `r × d`) that
//! separates what users treat as different intents. Intents are never
//! labelled, so co-click communities (`communities.rs`) stand in for them:
//! `T` is Fisher's linear discriminant over those pseudo-labels — the
//! directions that maximise between-community over within-community
//! scatter — solved in closed form (Cholesky of the shrunk within-class
//! scatter, then the top eigenvectors of the whitened between-class
//! scatter). Directions whose ratio falls below `min_ratio` are dropped,
//! so weak evidence gives a small `T` rather than a noisy one.

use ndarray::{Array1, Array2, Axis};

/// How the metric is fitted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MetricParams {
    /// Most directions kept.
    pub max_rank: usize,
    /// Shrinkage of the within-class scatter toward the identity, relative
    /// to its mean variance (keeps the solve stable with few samples).
    pub shrinkage: f64,
    /// Smallest between/within ratio a kept direction may have.
    pub min_ratio: f64,
    /// No metric is fitted from fewer labelled samples than this.
    pub min_samples: usize,
}

impl Default for MetricParams {
    fn default() -> Self {
        MetricParams {
            max_rank: 64,
            shrinkage: 0.1,
            min_ratio: 1.0,
            min_samples: 200,
        }
    }
}

/// `T`, row-major `rank × dimensions`.
#[derive(Clone, Debug, PartialEq)]
pub struct LearnedMetric {
    pub rank: usize,
    pub dimensions: usize,
    pub transform: Vec<f32>,
}

impl LearnedMetric {
    /// `T v` into `out` (length `rank`).
    pub fn project(&self, v: &[f32], out: &mut [f32]) {
        let dot = crate::distance::Kernels::active().dot;
        for (a, o) in out.iter_mut().enumerate() {
            *o = dot(
                &self.transform[a * self.dimensions..(a + 1) * self.dimensions],
                v,
            );
        }
    }

    /// `T` as an `ndarray` view for batch products.
    pub fn matrix(&self) -> ndarray::ArrayView2<'_, f32> {
        ndarray::ArrayView2::from_shape((self.rank, self.dimensions), &self.transform)
            .expect("transform is rank × dimensions")
    }
}

/// Fits `T` to `samples` (a vector and its community); `None` when there
/// is too little to go on.
pub fn fit(
    samples: &[(&[f32], u32)],
    dimensions: usize,
    params: &MetricParams,
) -> Option<LearnedMetric> {
    let d = dimensions;
    // Class sizes; classes of one sample say nothing about spread.
    let mut sizes: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    for &(_, c) in samples {
        *sizes.entry(c).or_insert(0) += 1;
    }
    let used: Vec<&(&[f32], u32)> = samples.iter().filter(|(_, c)| sizes[c] >= 2).collect();
    let classes: Vec<u32> = {
        let mut c: Vec<u32> = sizes
            .iter()
            .filter(|(_, &n)| n >= 2)
            .map(|(&c, _)| c)
            .collect();
        c.sort_unstable();
        c
    };
    if used.len() < params.min_samples || classes.len() < 2 {
        return None;
    }
    let class_index: std::collections::HashMap<u32, usize> =
        classes.iter().enumerate().map(|(i, &c)| (c, i)).collect();
    let mut means = Array2::<f64>::zeros((classes.len(), d));
    let mut counts = vec![0.0f64; classes.len()];
    for (v, c) in &used {
        let k = class_index[c];
        counts[k] += 1.0;
        let mut row = means.row_mut(k);
        for (m, x) in row.iter_mut().zip(v.iter()) {
            *m += *x as f64;
        }
    }
    for (k, mut row) in means.axis_iter_mut(Axis(0)).enumerate() {
        row /= counts[k];
    }
    // Within-class scatter: Xcᵀ Xc of the centred samples.
    let mut centred = Array2::<f64>::zeros((used.len(), d));
    for (i, (v, c)) in used.iter().enumerate() {
        let mean = means.row(class_index[c]);
        for (j, x) in v.iter().enumerate() {
            centred[[i, j]] = *x as f64 - mean[j];
        }
    }
    let within = centred.t().dot(&centred);
    let scale = within.diag().sum() / d as f64;
    if scale.is_nan() || scale <= 0.0 {
        return None;
    }
    let mut a = within / scale;
    for i in 0..d {
        a[[i, i]] += params.shrinkage;
    }
    // Between-class scatter around the size-weighted mean.
    let total: f64 = counts.iter().sum();
    let mut mu = Array1::<f64>::zeros(d);
    for (k, row) in means.axis_iter(Axis(0)).enumerate() {
        mu.scaled_add(counts[k] / total, &row);
    }
    let mut spread = Array2::<f64>::zeros((classes.len(), d));
    for (k, row) in means.axis_iter(Axis(0)).enumerate() {
        let w = counts[k].sqrt();
        for j in 0..d {
            spread[[k, j]] = w * (row[j] - mu[j]);
        }
    }
    let between = spread.t().dot(&spread) / scale;
    // Whiten: with A = L Lᵀ and W = L⁻¹, the discriminants are W's rows
    // combined by the top eigenvectors of W·Sb·Wᵀ.
    let l = cholesky(&a)?;
    let w = lower_inverse(&l);
    let m = w.dot(&between).dot(&w.t());
    let (vectors, values) = top_eigen(&m, params.max_rank.min(d), 30);
    let keep = values
        .iter()
        .take_while(|&&v| v >= params.min_ratio)
        .count()
        .max(4.min(values.len()));
    let q = vectors.slice(ndarray::s![.., ..keep]).to_owned();
    let t = q.t().dot(&w); // keep × d
    if t.iter().any(|x| !x.is_finite()) {
        return None;
    }
    Some(LearnedMetric {
        rank: keep,
        dimensions: d,
        transform: t.iter().map(|&x| x as f32).collect(),
    })
}

/// Lower-triangular `L` with `L Lᵀ = a`; `None` if `a` is not positive
/// definite.
fn cholesky(a: &Array2<f64>) -> Option<Array2<f64>> {
    let d = a.nrows();
    let mut l = Array2::<f64>::zeros((d, d));
    for i in 0..d {
        for j in 0..=i {
            let mut s = a[[i, j]];
            for k in 0..j {
                s -= l[[i, k]] * l[[j, k]];
            }
            if i == j {
                if s <= 1e-12 {
                    return None;
                }
                l[[i, j]] = s.sqrt();
            } else {
                l[[i, j]] = s / l[[j, j]];
            }
        }
    }
    Some(l)
}

/// The inverse of a lower-triangular matrix.
fn lower_inverse(l: &Array2<f64>) -> Array2<f64> {
    let d = l.nrows();
    let mut x = Array2::<f64>::zeros((d, d));
    for c in 0..d {
        x[[c, c]] = 1.0 / l[[c, c]];
        for i in c + 1..d {
            let mut s = 0.0;
            for k in c..i {
                s -= l[[i, k]] * x[[k, c]];
            }
            x[[i, c]] = s / l[[i, i]];
        }
    }
    x
}

/// The top `r` eigenvectors (as columns) and eigenvalues, descending, of a
/// symmetric positive semi-definite matrix, by orthogonal iteration with a
/// Rayleigh–Ritz step.
fn top_eigen(m: &Array2<f64>, r: usize, iterations: usize) -> (Array2<f64>, Vec<f64>) {
    let d = m.nrows();
    let mut rng = crate::rng::SplitMix64::new(0x5EED);
    let mut q = Array2::<f64>::from_shape_fn((d, r), |_| rng.next_f64() - 0.5);
    orthonormalise(&mut q);
    for _ in 0..iterations {
        q = m.dot(&q);
        orthonormalise(&mut q);
    }
    // Rayleigh–Ritz: the small r × r problem, solved by Jacobi rotations.
    let small = q.t().dot(&m.dot(&q));
    let (rotation, values) = jacobi_eigen(small);
    let vectors = q.dot(&rotation);
    let mut order: Vec<usize> = (0..r).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    let sorted = Array2::from_shape_fn((d, r), |(i, j)| vectors[[i, order[j]]]);
    (sorted, order.iter().map(|&j| values[j]).collect())
}

/// Gram–Schmidt on the columns (twice, for stability).
fn orthonormalise(q: &mut Array2<f64>) {
    let r = q.ncols();
    for _ in 0..2 {
        for j in 0..r {
            for k in 0..j {
                let s = q.column(j).dot(&q.column(k));
                let qk = q.column(k).to_owned();
                q.column_mut(j).scaled_add(-s, &qk);
            }
            let n = q.column(j).dot(&q.column(j)).sqrt();
            if n > 0.0 {
                q.column_mut(j).mapv_inplace(|x| x / n);
            }
        }
    }
}

/// Eigen-decomposition of a small symmetric matrix by cyclic Jacobi
/// rotations: returns (eigenvectors as columns, eigenvalues).
fn jacobi_eigen(mut a: Array2<f64>) -> (Array2<f64>, Vec<f64>) {
    let n = a.nrows();
    let mut v = Array2::<f64>::eye(n);
    for _sweep in 0..50 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[[i, j]] * a[[i, j]])
            .sum();
        if off < 1e-18 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                if a[[p, q]].abs() < 1e-300 {
                    continue;
                }
                let theta = (a[[q, q]] - a[[p, p]]) / (2.0 * a[[p, q]]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[[k, p]], a[[k, q]]);
                    a[[k, p]] = c * akp - s * akq;
                    a[[k, q]] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[[p, k]], a[[q, k]]);
                    a[[p, k]] = c * apk - s * aqk;
                    a[[q, k]] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[[k, p]], v[[k, q]]);
                    v[[k, p]] = c * vkp - s * vkq;
                    v[[k, q]] = s * vkp + c * vkq;
                }
            }
        }
    }
    let values = (0..n).map(|i| a[[i, i]]).collect();
    (v, values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    #[test]
    fn eigen_solver_matches_a_known_spectrum() {
        // M = Q diag(5, 3, 1, 0.5) Qᵀ for a rotation Q.
        let values = [5.0, 3.0, 1.0, 0.5];
        let mut rng = SplitMix64::new(3);
        let mut q = Array2::from_shape_fn((4, 4), |_| rng.next_f64() - 0.5);
        orthonormalise(&mut q);
        let m = q
            .dot(&Array2::from_diag(&Array1::from(values.to_vec())))
            .dot(&q.t());
        let (vectors, found) = top_eigen(&m, 2, 100);
        assert!(
            (found[0] - 5.0).abs() < 1e-6 && (found[1] - 3.0).abs() < 1e-6,
            "{found:?}"
        );
        for (j, value) in found.iter().enumerate() {
            let v = vectors.column(j);
            let mv = m.dot(&v);
            for (mvi, vi) in mv.iter().zip(v.iter()) {
                assert!((mvi - value * vi).abs() < 1e-6);
            }
        }
        let l = cholesky(&(m.clone() + Array2::<f64>::eye(4))).unwrap();
        let back = l.dot(&l.t());
        let w = lower_inverse(&l);
        let identity = w.dot(&l);
        for i in 0..4 {
            for j in 0..4 {
                assert!((back[[i, j]] - (m[[i, j]] + (i == j) as u8 as f64)).abs() < 1e-9);
                assert!((identity[[i, j]] - (i == j) as u8 as f64).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn the_metric_separates_classes_that_raw_distance_confuses() {
        // Two classes differ along axis 0 by a little; axis 1 carries large
        // noise shared by both. Raw distance is dominated by axis 1; T must
        // weigh axis 0.
        let mut rng = SplitMix64::new(9);
        let vectors: Vec<(Vec<f32>, u32)> = (0..400)
            .map(|i| {
                let c = (i % 2) as u32;
                let v = vec![
                    c as f32 * 0.5 + 0.1 * rng.gaussian(),
                    3.0 * rng.gaussian(),
                    rng.gaussian(),
                ];
                (v, c)
            })
            .collect();
        let samples: Vec<(&[f32], u32)> = vectors.iter().map(|(v, c)| (v.as_slice(), *c)).collect();
        let params = MetricParams {
            max_rank: 3,
            min_ratio: 0.5,
            min_samples: 10,
            ..MetricParams::default()
        };
        let metric = fit(&samples, 3, &params).expect("enough samples");
        let mut p = vec![0.0; metric.rank];
        metric.project(&[1.0, 0.0, 0.0], &mut p);
        let signal = p[0].abs();
        metric.project(&[0.0, 1.0, 0.0], &mut p);
        let noise = p[0].abs();
        assert!(
            signal > 10.0 * noise,
            "top direction: signal {signal}, noise {noise}"
        );
    }
}
