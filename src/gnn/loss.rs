//! Losses for training the layers, each returning its value (a mean over
//! the examples) and its gradient with respect to the scores.

use crate::error::{Error, Result};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

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
    let mut gradient = Array2::zeros(logits.dim());
    let mut loss = 0.0;
    for ((row, mut out), &label) in logits
        .rows()
        .into_iter()
        .zip(gradient.rows_mut())
        .zip(labels)
    {
        // Shifted by the row's maximum so exp cannot overflow.
        let max = row.fold(f32::NEG_INFINITY, |m, &x| m.max(x));
        let sum: f32 = row.iter().map(|&x| (x - max).exp()).sum();
        loss += sum.ln() + max - row[label];
        for (o, &x) in out.iter_mut().zip(row.iter()) {
            *o = (x - max).exp() / sum / n;
        }
        out[label] -= 1.0 / n;
    }
    Ok((loss / n, gradient))
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
