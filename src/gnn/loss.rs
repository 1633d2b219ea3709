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
    use crate::gnn::gradcheck::{assert_gradient, nudged};
    use crate::rng::SplitMix64;

    #[test]
    fn every_loss_gradient_matches_finite_differences() {
        let mut rng = SplitMix64::new(5);
        let logits = Array2::from_shape_fn((6, 4), |_| 2.0 * rng.gaussian());
        let target = Array2::from_shape_fn((6, 4), |_| rng.gaussian());
        let labels = [0, 3, 1, 1, 2, 0];
        let (_, grad) = mse(logits.view(), target.view()).unwrap();
        assert_gradient("mse", &grad, 1e-2, |k, d| {
            mse(nudged(&logits, k, d).view(), target.view()).unwrap().0 as f64
        });
        let (_, grad) = softmax_cross_entropy(logits.view(), &labels).unwrap();
        assert_gradient("cross-entropy", &grad, 1e-2, |k, d| {
            softmax_cross_entropy(nudged(&logits, k, d).view(), &labels)
                .unwrap()
                .0 as f64
        });
        let positive = Array1::from_shape_fn(7, |_| 3.0 * rng.gaussian());
        let negative = Array1::from_shape_fn(7, |_| 3.0 * rng.gaussian());
        let (_, dp, dn) = bpr(positive.view(), negative.view()).unwrap();
        assert_gradient("bpr positive", &dp, 1e-2, |k, d| {
            bpr(nudged(&positive, k, d).view(), negative.view())
                .unwrap()
                .0 as f64
        });
        assert_gradient("bpr negative", &dn, 1e-2, |k, d| {
            bpr(positive.view(), nudged(&negative, k, d).view())
                .unwrap()
                .0 as f64
        });
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
