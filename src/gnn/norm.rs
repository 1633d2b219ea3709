//! Per-node regularisers applied between layers: layer normalisation and
//! dropout.

use crate::error::{Error, Result};
use crate::rng::SplitMix64;
use ndarray::{Array1, Array2, ArrayView2, Axis};

/// Layer normalisation (Ba et al., 2016) over each node's features:
/// `y = γ ⊙ (x − μ) / sqrt(σ² + ε) + β`.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerNorm {
    pub gain: Array1<f32>,
    pub shift: Array1<f32>,
    pub epsilon: f32,
}

/// What [`LayerNorm::backward`] needs: the normalised rows and each row's
/// inverse standard deviation.
#[derive(Clone, Debug)]
pub struct LayerNormCache {
    normalized: Array2<f32>,
    inverse_std: Array1<f32>,
}

/// Gradients of a [`LayerNorm`]'s parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerNormGradients {
    pub gain: Array1<f32>,
    pub shift: Array1<f32>,
}

impl LayerNorm {
    pub fn new(width: usize) -> LayerNorm {
        LayerNorm {
            gain: Array1::ones(width),
            shift: Array1::zeros(width),
            epsilon: 1e-5,
        }
    }

    pub fn forward_train(
        &self,
        input: ArrayView2<'_, f32>,
    ) -> Result<(Array2<f32>, LayerNormCache)> {
        if input.ncols() != self.gain.len() {
            return Err(Error::ShapeMismatch(format!(
                "features have {} columns, the layer norm expects {}",
                input.ncols(),
                self.gain.len()
            )));
        }
        let mut normalized = input.to_owned();
        let mut inverse_std = Array1::zeros(input.nrows());
        for (mut row, inv) in normalized
            .axis_iter_mut(Axis(0))
            .zip(inverse_std.iter_mut())
        {
            let mean = row.mean().unwrap_or(0.0);
            row -= mean;
            let variance = row.dot(&row) / row.len().max(1) as f32;
            *inv = 1.0 / (variance + self.epsilon).sqrt();
            row *= *inv;
        }
        let output = &normalized * &self.gain + &self.shift;
        Ok((
            output,
            LayerNormCache {
                normalized,
                inverse_std,
            },
        ))
    }

    pub fn forward(&self, input: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        Ok(self.forward_train(input)?.0)
    }

    /// `dx = inv_std · (g' − mean(g') − x̂ · mean(g' ⊙ x̂))` with `g' = g ⊙ γ`.
    pub fn backward(
        &self,
        cache: &LayerNormCache,
        output_gradient: ArrayView2<'_, f32>,
    ) -> (Array2<f32>, LayerNormGradients) {
        let gradients = LayerNormGradients {
            gain: (&output_gradient * &cache.normalized).sum_axis(Axis(0)),
            shift: output_gradient.sum_axis(Axis(0)),
        };
        let mut input_gradient = &output_gradient * &self.gain;
        for ((mut g, x_hat), &inv) in input_gradient
            .axis_iter_mut(Axis(0))
            .zip(cache.normalized.axis_iter(Axis(0)))
            .zip(cache.inverse_std.iter())
        {
            let n = g.len().max(1) as f32;
            let mean = g.sum() / n;
            let along = g.dot(&x_hat) / n;
            g.zip_mut_with(&x_hat, |g, &x| *g = inv * (*g - mean - x * along));
        }
        (input_gradient, gradients)
    }
}

/// Inverted dropout: during training each element is zeroed with
/// probability `rate` and the rest scaled by `1 / (1 − rate)`, so inference
/// (no dropout) needs no rescaling. Seeded, so a training run is
/// reproducible.
#[derive(Clone, Debug)]
pub struct Dropout {
    rate: f32,
    rng: SplitMix64,
}

impl Dropout {
    pub fn new(rate: f32, seed: u64) -> Result<Dropout> {
        if !(0.0..1.0).contains(&rate) {
            return Err(Error::invalid_argument(format!(
                "dropout must be in [0, 1), got {rate}"
            )));
        }
        Ok(Dropout {
            rate,
            rng: SplitMix64::new(seed),
        })
    }

    pub fn rate(&self) -> f32 {
        self.rate
    }

    /// Applies a fresh mask; returns the output and the mask (0 or the
    /// scale per element) for the backward pass.
    pub fn forward_train(&mut self, input: ArrayView2<'_, f32>) -> (Array2<f32>, Array2<f32>) {
        let scale = 1.0 / (1.0 - self.rate);
        let mask = Array2::from_shape_fn(input.dim(), |_| {
            if self.rng.next_f32() < self.rate {
                0.0
            } else {
                scale
            }
        });
        (&input * &mask, mask)
    }

    pub fn backward(mask: &Array2<f32>, output_gradient: ArrayView2<'_, f32>) -> Array2<f32> {
        &output_gradient * mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gnn::gradcheck::{
        flat, numeric_gradients, probe_loss, random_matrix, to_f64, GradCheck,
    };
    use crate::gnn::reference::NormRef;

    #[test]
    fn layer_norm_normalises_rows_and_its_backward_matches_an_f64_reference() {
        let mut check = GradCheck::new("layer norm backward");
        for seed in 0..5 {
            let mut rng = SplitMix64::new(seed);
            let (rows, width) = (4 + rng.below(7), 2 + rng.below(5));
            let mut norm = LayerNorm::new(width);
            norm.gain = Array1::from_shape_fn(width, |_| 1.0 + 0.3 * rng.gaussian());
            norm.shift = Array1::from_shape_fn(width, |_| rng.gaussian());
            // Rows of variance ~9, and rows of variance near ε, where ε
            // visibly shapes the gradient. Checked apart: the second kind's
            // gradients are ~100 times larger and would hide the first's.
            for spread in [3.0, 3e-3] {
                let x = random_matrix(rows, width, &mut rng).mapv(|v| spread * v + 1.0);
                if spread > 1.0 {
                    let plain = LayerNorm::new(width).forward(x.view()).unwrap();
                    for row in plain.rows() {
                        assert!(row.mean().unwrap().abs() < 1e-5);
                        assert!((row.dot(&row) / width as f32 - 1.0).abs() < 1e-3);
                    }
                }
                let probe = random_matrix(rows, width, &mut rng);
                let (out, cache) = norm.forward_train(x.view()).unwrap();
                let (dx, grads) = norm.backward(&cache, probe.view());
                let what = format!("seed {seed} {rows}×{width} spread {spread}");
                let point = (to_f64(&x), NormRef::of(&norm));
                let reference = |(x, norm): &(Array2<f64>, NormRef)| norm.forward(x);
                check.forward(&what, &out, &reference(&point));
                let probe = to_f64(&probe);
                let numeric = numeric_gradients(&point, |p| probe_loss(&reference(p), &probe));
                check.tensors(
                    &what,
                    &["dx", "dγ", "dβ"],
                    &[flat(&dx), flat(&grads.gain), flat(&grads.shift)],
                    &numeric,
                );
            }
        }
        check.finish();
    }

    /// The backward pass applies the mask the forward pass drew: checked
    /// against `x ⊙ mask` in f64 (the mask is the forward's random draw,
    /// read from it).
    #[test]
    fn dropout_backward_matches_an_f64_reference_of_the_masked_input() {
        let mut check = GradCheck::new("dropout backward");
        for seed in 0..5 {
            let mut rng = SplitMix64::new(seed);
            let (rows, width) = (4 + rng.below(7), 2 + rng.below(5));
            let x = random_matrix(rows, width, &mut rng);
            let probe = random_matrix(rows, width, &mut rng);
            let mut dropout = Dropout::new(0.1 + 0.2 * seed as f32, seed).unwrap();
            let (out, mask) = dropout.forward_train(x.view());
            let dx = Dropout::backward(&mask, probe.view());
            let mask = to_f64(&mask);
            let reference = |x: &Array2<f64>| x * &mask;
            let what = format!("seed {seed} rate {}", dropout.rate());
            check.forward(&what, &out, &reference(&to_f64(&x)));
            let probe = to_f64(&probe);
            let numeric = numeric_gradients(&to_f64(&x), |x| probe_loss(&reference(x), &probe));
            check.tensors(&what, &["dx"], &[flat(&dx)], &numeric);
        }
        check.finish();
    }

    #[test]
    fn dropout_drops_at_its_rate_keeps_the_expectation_and_is_reproducible() {
        let x = Array2::<f32>::ones((200, 50));
        let mut dropout = Dropout::new(0.3, 7).unwrap();
        let (y, mask) = dropout.forward_train(x.view());
        let dropped = y.iter().filter(|&&v| v == 0.0).count() as f64 / y.len() as f64;
        assert!((dropped - 0.3).abs() < 0.02, "dropped {dropped}");
        assert!(
            (y.mean().unwrap() - 1.0).abs() < 0.03,
            "mean {}",
            y.mean().unwrap()
        );
        assert_eq!(
            Dropout::backward(&mask, x.view()),
            mask,
            "the gradient passes where the input did"
        );
        let (again, _) = Dropout::new(0.3, 7).unwrap().forward_train(x.view());
        assert_eq!(again, y);
        assert_eq!(
            Dropout::new(1.0, 1).unwrap_err().code(),
            "ERR_INVALID_ARGUMENT"
        );
    }
}
