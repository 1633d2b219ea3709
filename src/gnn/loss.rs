//! Losses for training the layers, each returning its value (a mean over
//! the examples) and its gradient with respect to the scores.

use super::tensor::fast_exp;
use crate::error::{Error, Result};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rayon::prelude::*;

/// Mean squared error over every element.
pub fn mse(
    prediction: ArrayView2<'_, f32>,
    target: ArrayView2<'_, f32>,
) -> Result<(f32, Array2<f32>)> {
    if prediction.dim() != target.dim() {
        return Err(Error::ShapeMismatch(format!(
            "prediction is {:?}, target is {:?}",
            prediction.dim(),
            target.dim()
        )));
    }
    let n = prediction.len().max(1) as f32;
    let difference = &prediction - &target;
    let loss = difference.iter().map(|d| d * d).sum::<f32>() / n;
    Ok((loss, difference.mapv(|d| 2.0 * d / n)))
}

/// Softmax cross-entropy of `logits` (one row per example) against class
/// indices, averaged over the examples.
///
/// Rows run in parallel (a full-batch step over 100k nodes and 64 classes
/// is 6.4M exponentials); each row's loss is kept and the losses summed in
/// row order, so the result does not depend on the thread count.
pub fn softmax_cross_entropy(
    logits: ArrayView2<'_, f32>,
    labels: &[usize],
) -> Result<(f32, Array2<f32>)> {
    if labels.len() != logits.nrows() {
        return Err(Error::ShapeMismatch(format!(
            "{} labels for {} rows of logits",
            labels.len(),
            logits.nrows()
        )));
    }
    if let Some(&bad) = labels.iter().find(|&&l| l >= logits.ncols()) {
        return Err(Error::invalid_argument(format!(
            "label {bad} is out of range for {} classes",
            logits.ncols()
        )));
    }
    let n = labels.len().max(1) as f32;
    // Every element is written below.
    let mut gradient = super::buffers::matrix(logits.nrows(), logits.ncols());
    // Every label is a column, so rows with labels have at least one.
    let width = logits.ncols().max(1);
    let logits = logits.as_standard_layout();
    let logits = logits.as_slice().expect("standard layout");
    let row_losses: Vec<f32> = gradient
        .as_slice_mut()
        .expect("a fresh array is contiguous")
        .par_chunks_mut(width)
        .with_min_len(64)
        .zip(labels)
        .enumerate()
        .map(|(i, (out, &label))| {
            let row = &logits[i * width..(i + 1) * width];
            // Shifted by the row's maximum so exp cannot overflow.
            let max = row.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
            for (o, &x) in out.iter_mut().zip(row) {
                *o = fast_exp(x - max);
            }
            let sum = lane_sum(out);
            let scale = 1.0 / (sum * n);
            for o in out.iter_mut() {
                *o *= scale;
            }
            out[label] -= 1.0 / n;
            sum.ln() + max - row[label]
        })
        .collect();
    let loss = row_losses.iter().map(|&l| l as f64).sum::<f64>() / n as f64;
    Ok((loss as f32, gradient))
}

/// Bayesian personalised ranking: `-mean log σ(positive - negative)` over
/// pairs, the pairwise logistic loss for learning from clicks. Returns the
/// gradients with respect to the positive and the negative scores.
pub fn bpr(
    positive: ArrayView1<'_, f32>,
    negative: ArrayView1<'_, f32>,
) -> Result<(f32, Array1<f32>, Array1<f32>)> {
    if positive.len() != negative.len() {
        return Err(Error::ShapeMismatch(format!(
            "{} positive and {} negative scores",
            positive.len(),
            negative.len()
        )));
    }
    let n = positive.len().max(1) as f32;
    let mut loss = 0.0;
    let mut positive_gradient = Array1::zeros(positive.len());
    for (i, (&p, &q)) in positive.iter().zip(negative.iter()).enumerate() {
        let margin = p - q;
        // -log σ(m) = softplus(-m), computed without overflow.
        loss += if margin > 0.0 {
            (-margin).exp().ln_1p()
        } else {
            -margin + margin.exp().ln_1p()
        };
        positive_gradient[i] = -1.0 / (1.0 + margin.exp()) / n;
    }
    let negative_gradient = -&positive_gradient;
    Ok((loss / n, positive_gradient, negative_gradient))
}

/// `Σ values` in eight interleaved partial sums (independent chains the
/// compiler vectorises), combined in a fixed order: the same result on
/// any thread count.
fn lane_sum(values: &[f32]) -> f32 {
    const LANES: usize = 8;
    let mut lanes = [0.0f32; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gnn::gradcheck::{flat, numeric_gradients, random_matrix, to_f64, GradCheck};
    use crate::rng::SplitMix64;

    /// The losses' definitions in f64.
    fn mse_reference(prediction: &Array2<f64>, target: &Array2<f64>) -> f64 {
        let sum: f64 = prediction
            .iter()
            .zip(target.iter())
            .map(|(p, t)| (p - t) * (p - t))
            .sum();
        sum / prediction.len() as f64
    }

    fn cross_entropy_reference(logits: &Array2<f64>, labels: &[usize]) -> f64 {
        let total: f64 = logits
            .rows()
            .into_iter()
            .zip(labels)
            .map(|(row, &label)| {
                let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let log_sum = max + row.iter().map(|x| (x - max).exp()).sum::<f64>().ln();
                log_sum - row[label]
            })
            .sum();
        total / labels.len() as f64
    }

    /// `mean −log σ(p − q) = mean log(1 + exp(−(p − q)))`.
    fn bpr_reference(positive: &Array1<f64>, negative: &Array1<f64>) -> f64 {
        let total: f64 = positive
            .iter()
            .zip(negative.iter())
            .map(|(p, q)| (-(p - q)).exp().ln_1p())
            .sum();
        total / positive.len() as f64
    }

    #[test]
    fn every_loss_gradient_matches_an_f64_reference() {
        let mut check = GradCheck::new("loss gradients");
        for seed in 0..5 {
            let mut rng = SplitMix64::new(seed);
            let (rows, classes) = (3 + rng.below(8), 2 + rng.below(5));
            let logits = random_matrix(rows, classes, &mut rng).mapv(|v| 2.0 * v);
            let target = random_matrix(rows, classes, &mut rng);
            let labels: Vec<usize> = (0..rows).map(|_| rng.below(classes)).collect();
            let what = format!("seed {seed} {rows}×{classes}");

            let (loss, grad) = mse(logits.view(), target.view()).unwrap();
            let target = to_f64(&target);
            let reference = |p: &Array2<f64>| mse_reference(p, &target);
            assert!((loss as f64 - reference(&to_f64(&logits))).abs() < 1e-5);
            let numeric = numeric_gradients(&to_f64(&logits), reference);
            check.tensors(
                &format!("{what} mse"),
                &["dprediction"],
                &[flat(&grad)],
                &numeric,
            );

            let (loss, grad) = softmax_cross_entropy(logits.view(), &labels).unwrap();
            let reference = |l: &Array2<f64>| cross_entropy_reference(l, &labels);
            assert!((loss as f64 - reference(&to_f64(&logits))).abs() < 1e-5);
            let numeric = numeric_gradients(&to_f64(&logits), reference);
            check.tensors(
                &format!("{what} cross-entropy"),
                &["dlogits"],
                &[flat(&grad)],
                &numeric,
            );

            let positive = Array1::from_shape_fn(rows, |_| 3.0 * rng.gaussian());
            let negative = Array1::from_shape_fn(rows, |_| 3.0 * rng.gaussian());
            let (loss, dp, dn) = bpr(positive.view(), negative.view()).unwrap();
            let point = (to_f64(&positive), to_f64(&negative));
            let reference = |(p, q): &(Array1<f64>, Array1<f64>)| bpr_reference(p, q);
            assert!((loss as f64 - reference(&point)).abs() < 1e-5);
            let numeric = numeric_gradients(&point, reference);
            check.tensors(
                &format!("{what} bpr"),
                &["dpositive", "dnegative"],
                &[flat(&dp), flat(&dn)],
                &numeric,
            );
        }
        check.finish();
    }

    /// Rows are split across threads; the loss and gradient must not move
    /// with the split, nor with the logits' layout in memory.
    #[test]
    fn cross_entropy_is_bit_identical_on_any_thread_count_and_layout() {
        let mut rng = SplitMix64::new(3);
        let logits = random_matrix(1000, 64, &mut rng).mapv(|v| 3.0 * v);
        let labels: Vec<usize> = (0..1000).map(|_| rng.below(64)).collect();
        let on_threads = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| softmax_cross_entropy(logits.view(), &labels).unwrap())
        };
        let (loss, gradient) = on_threads(1);
        for threads in [2, 3, 8] {
            let (other_loss, other_gradient) = on_threads(threads);
            assert_eq!(loss.to_bits(), other_loss.to_bits(), "{threads} threads");
            assert_eq!(gradient, other_gradient, "{threads} threads");
        }
        // Column-major logits: rows are strided views.
        let column_major = logits.t().as_standard_layout().into_owned().reversed_axes();
        assert!(!column_major.is_standard_layout());
        let (strided_loss, strided_gradient) =
            softmax_cross_entropy(column_major.view(), &labels).unwrap();
        assert_eq!(loss.to_bits(), strided_loss.to_bits());
        assert_eq!(gradient, strided_gradient);
    }

    #[test]
    fn losses_have_their_textbook_values_and_refuse_bad_shapes() {
        let logits = Array2::from_shape_vec((1, 2), vec![0.0, 0.0]).unwrap();
        let (loss, _) = softmax_cross_entropy(logits.view(), &[1]).unwrap();
        assert!((loss - 2f32.ln()).abs() < 1e-6);
        let (loss, _, _) = bpr(
            Array1::from(vec![0.0]).view(),
            Array1::from(vec![0.0]).view(),
        )
        .unwrap();
        assert!((loss - 2f32.ln()).abs() < 1e-6);
        let (loss, _, _) = bpr(
            Array1::from(vec![200.0]).view(),
            Array1::from(vec![-200.0]).view(),
        )
        .unwrap();
        assert!(
            loss.is_finite() && loss < 1e-6,
            "no overflow for large margins: {loss}"
        );
        assert_eq!(
            softmax_cross_entropy(logits.view(), &[2])
                .unwrap_err()
                .code(),
            "ERR_INVALID_ARGUMENT"
        );
        assert_eq!(
            mse(logits.view(), Array2::zeros((2, 2)).view())
                .unwrap_err()
                .code(),
            "ERR_DIMENSION_MISMATCH"
        );
    }
}
