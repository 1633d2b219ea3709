//! Dense pieces the layers share: a linear map with its gradients, and
//! activations with their derivatives. Matrix products run on the
//! register-tiled kernels of [`super::dense`].

use super::dense::{self, matmul, PackedMatrix};
use crate::error::{Error, Result};
use crate::file::MappedF32;
use crate::rng::SplitMix64;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;
use std::sync::OnceLock;

/// A weight matrix held in memory or read in place from a memory-mapped
/// weight file, so a model larger than RAM still runs. Training writes go
/// through [`Matrix::make_mut`], which copies a mapped matrix first.
///
/// The matrix also keeps its values packed for the dense kernels
/// ([`PackedMatrix`]), built on the first product after a change, so
/// inference never packs weights that did not change.
#[derive(Clone)]
pub struct Matrix {
    values: MatrixValues,
    packed: OnceLock<PackedMatrix>,
}

#[derive(Clone)]
enum MatrixValues {
    Owned(Array2<f32>),
    Mapped {
        values: MappedF32,
        rows: usize,
        cols: usize,
    },
}

impl Matrix {
    /// A `rows × cols` matrix read in place from `values` (row-major).
    pub fn mapped(values: MappedF32, rows: usize, cols: usize) -> Matrix {
        Matrix {
            values: MatrixValues::Mapped { values, rows, cols },
            packed: OnceLock::new(),
        }
    }

    pub fn view(&self) -> ArrayView2<'_, f32> {
        match &self.values {
            MatrixValues::Owned(array) => array.view(),
            MatrixValues::Mapped { values, rows, cols } => {
                ArrayView2::from_shape((*rows, *cols), values.as_slice())
                    .expect("shape checked when mapped")
            }
        }
    }

    /// The matrix as an owned array, copied out of the mapping if needed;
    /// drops the packed copy, which the next product rebuilds.
    pub fn make_mut(&mut self) -> &mut Array2<f32> {
        self.packed = OnceLock::new();
        if let MatrixValues::Mapped { .. } = self.values {
            self.values = MatrixValues::Owned(self.view().to_owned());
        }
        match &mut self.values {
            MatrixValues::Owned(array) => array,
            MatrixValues::Mapped { .. } => unreachable!("just copied"),
        }
    }

    pub fn is_mapped(&self) -> bool {
        matches!(self.values, MatrixValues::Mapped { .. })
    }

    /// The values packed for the active kernel path.
    pub fn packed(&self) -> &PackedMatrix {
        self.packed.get_or_init(|| PackedMatrix::new(self.view()))
    }
}

impl From<Array2<f32>> for Matrix {
    fn from(array: Array2<f32>) -> Matrix {
        Matrix {
            values: MatrixValues::Owned(array),
            packed: OnceLock::new(),
        }
    }
}

impl PartialEq for Matrix {
    fn eq(&self, other: &Matrix) -> bool {
        self.view() == other.view()
    }
}

impl std::fmt::Debug for Matrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.is_mapped() { "mapped" } else { "owned" };
        write!(f, "Matrix({kind}, {:?})", self.view().dim())
    }
}

/// The most weights one matrix may hold (1 GiB of `f32`): a larger layer is
/// refused with an error instead of an allocation that aborts the process.
pub const MAX_WEIGHTS: usize = 1 << 28;

/// `y = x · W + b`, with `W` of shape `(input_dim, output_dim)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Linear {
    pub weight: Matrix,
    pub bias: Option<Array1<f32>>,
}

/// Gradients of a [`Linear`]'s parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearGradients {
    pub weight: Array2<f32>,
    pub bias: Option<Array1<f32>>,
}

impl LinearGradients {
    /// In the order of [`Linear::parameters_mut`].
    pub fn slices(&self) -> Vec<&[f32]> {
        let mut slices = vec![self.weight.as_slice().expect("gradients are contiguous")];
        slices.extend(self.bias.as_ref().and_then(|b| b.as_slice()));
        slices
    }
}

impl Linear {
    /// Glorot-uniform weights (the usual choice for GCN/GAT/SAGE), zero
    /// bias, reproducible from `seed`.
    pub fn new(input_dim: usize, output_dim: usize, bias: bool, seed: u64) -> Result<Linear> {
        if input_dim == 0 || output_dim == 0 {
            return Err(Error::invalid_argument(format!(
                "layer dimensions must be positive, got {input_dim} → {output_dim}"
            )));
        }
        if input_dim
            .checked_mul(output_dim)
            .is_none_or(|n| n > MAX_WEIGHTS)
        {
            return Err(Error::invalid_argument(format!(
                "a {input_dim} → {output_dim} layer would hold more than {MAX_WEIGHTS} weights"
            )));
        }
        let mut rng = SplitMix64::new(seed);
        let limit = (6.0 / (input_dim + output_dim) as f32).sqrt();
        let weight = Array2::from_shape_fn((input_dim, output_dim), |_| {
            (2.0 * rng.next_f32() - 1.0) * limit
        });
        Ok(Linear {
            weight: weight.into(),
            bias: bias.then(|| Array1::zeros(output_dim)),
        })
    }

    /// Weight then bias, as flat slices for an [`crate::gnn::Optimizer`].
    pub fn parameters_mut(&mut self) -> Vec<&mut [f32]> {
        let weight = self.weight.make_mut();
        let mut slices = vec![weight.as_slice_mut().expect("weights are contiguous")];
        slices.extend(self.bias.as_mut().and_then(|b| b.as_slice_mut()));
        slices
    }

    pub fn input_dim(&self) -> usize {
        self.weight.view().nrows()
    }

    pub fn output_dim(&self) -> usize {
        self.weight.view().ncols()
    }

    pub fn forward(&self, input: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        let mut output = self.project(input)?;
        if let Some(bias) = &self.bias {
            output += bias;
        }
        Ok(output)
    }

    /// Columns `columns` of `x · W` (no bias).
    pub fn project_columns(
        &self,
        input: ArrayView2<'_, f32>,
        columns: std::ops::Range<usize>,
    ) -> Result<Array2<f32>> {
        self.check_input(&input)?;
        Ok(matmul(
            input,
            self.weight.view().slice(ndarray::s![.., columns]),
        ))
    }

    pub fn check_input(&self, input: &ArrayView2<'_, f32>) -> Result<()> {
        if input.ncols() != self.input_dim() {
            return Err(Error::ShapeMismatch(format!(
                "features have {} columns, the layer expects {}",
                input.ncols(),
                self.input_dim()
            )));
        }
        Ok(())
    }

    /// `x · W` without the bias, for layers that add it after aggregating.
    pub fn project(&self, input: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        self.check_input(&input)?;
        Ok(dense::multiply(input, self.weight.packed()))
    }

    /// Gradients given the forward input and the gradient of the output;
    /// also returns the gradient with respect to the input.
    pub fn backward(
        &self,
        input: ArrayView2<'_, f32>,
        output_gradient: ArrayView2<'_, f32>,
    ) -> (Array2<f32>, LinearGradients) {
        let (input_gradient, gradients) = self.backward_with(input, output_gradient, true);
        (input_gradient.expect("asked for"), gradients)
    }

    /// [`Linear::backward`], computing the input's gradient only if asked
    /// (a first layer's input, the features, needs none).
    pub fn backward_with(
        &self,
        input: ArrayView2<'_, f32>,
        output_gradient: ArrayView2<'_, f32>,
        input_gradient: bool,
    ) -> (Option<Array2<f32>>, LinearGradients) {
        let gradients = LinearGradients {
            weight: dense::transposed_multiply(input, output_gradient),
            bias: self
                .bias
                .as_ref()
                .map(|_| output_gradient.sum_axis(Axis(0))),
        };
        let input_gradient =
            input_gradient.then(|| matmul(output_gradient, self.weight.view().t()));
        (input_gradient, gradients)
    }
}

/// Fails unless a backward pass's `gradient` has the shape of the output it
/// is the gradient of.
pub(crate) fn check_gradient_shape(
    gradient: &ArrayView2<'_, f32>,
    output: &Array2<f32>,
) -> Result<()> {
    if gradient.dim() != output.dim() {
        return Err(Error::ShapeMismatch(format!(
            "the output gradient is {:?}, the output was {:?}",
            gradient.dim(),
            output.dim()
        )));
    }
    Ok(())
}

/// `output = activation(output + bias)` in place, in parallel over rows
/// (inference: nothing is kept for a backward pass).
pub fn bias_and_activate(
    output: &mut Array2<f32>,
    bias: Option<&Array1<f32>>,
    activation: Activation,
) {
    let width = output.ncols();
    if width == 0 || (bias.is_none() && activation == Activation::None) {
        return;
    }
    let values = output
        .as_slice_mut()
        .expect("layer outputs are freshly allocated");
    values.par_chunks_mut(width).for_each(|row| {
        if let Some(bias) = bias {
            row.iter_mut().zip(bias.iter()).for_each(|(v, b)| *v += b);
        }
        if activation != Activation::None {
            row.iter_mut().for_each(|v| *v = activation.apply(*v));
        }
    });
}

/// `eˣ` to within 2 ulp over the range softmax needs, in plain arithmetic
/// the compiler vectorises (a loop over heads becomes SIMD; `f32::exp` is a
/// call per element). Cody–Waite range reduction to `r ∈ [−ln2/2, ln2/2]`,
/// a degree-6 polynomial, and the exponent written into the bits. Inputs
/// below −87.3 give ~1e-38 (not 0), above 88 give ~1.7e38 (not ∞).
#[inline(always)]
pub fn fast_exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 · 2²³: adding and subtracting it rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.3, 88.0);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.666_666_7e-1
                    + r * (4.166_666_8e-2 + r * (8.333_334e-3 + r * 1.388_888_9e-3)))));
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    p * scale
}

/// Element-wise non-linearities.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    None,
    Relu,
    LeakyRelu(f32),
    Elu(f32),
    Gelu,
    Tanh,
}

impl Activation {
    /// `'none' | 'relu' | 'leaky_relu' | 'elu' | 'gelu' | 'tanh'`
    /// (LeakyReLU slope 0.01 and ELU alpha 1 unless set elsewhere).
    pub fn parse(name: &str) -> Result<Activation> {
        Ok(match name {
            "none" | "linear" => Activation::None,
            "relu" => Activation::Relu,
            "leaky_relu" | "leakyRelu" => Activation::LeakyRelu(0.01),
            "elu" => Activation::Elu(1.0),
            "gelu" => Activation::Gelu,
            "tanh" => Activation::Tanh,
            other => {
                return Err(Error::invalid_argument(format!(
                "activation must be one of none, relu, leaky_relu, elu, gelu, tanh; got {other:?}"
            )))
            }
        })
    }

    /// The name [`Activation::parse`] reads, and the slope or alpha it
    /// carries (0 when none).
    pub fn name(self) -> (&'static str, f32) {
        match self {
            Activation::None => ("none", 0.0),
            Activation::Relu => ("relu", 0.0),
            Activation::LeakyRelu(slope) => ("leaky_relu", slope),
            Activation::Elu(alpha) => ("elu", alpha),
            Activation::Gelu => ("gelu", 0.0),
            Activation::Tanh => ("tanh", 0.0),
        }
    }

    /// [`Activation::parse`] with the slope or alpha set.
    pub fn with_parameter(self, parameter: f32) -> Activation {
        match self {
            Activation::LeakyRelu(_) => Activation::LeakyRelu(parameter),
            Activation::Elu(_) => Activation::Elu(parameter),
            other => other,
        }
    }

    #[inline]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::None => x,
            Activation::Relu => x.max(0.0),
            Activation::LeakyRelu(slope) => {
                if x > 0.0 {
                    x
                } else {
                    slope * x
                }
            }
            Activation::Elu(alpha) => {
                if x > 0.0 {
                    x
                } else {
                    alpha * x.exp_m1()
                }
            }
            Activation::Gelu => 0.5 * x * (1.0 + (GELU_C * (x + 0.044715 * x * x * x)).tanh()),
            Activation::Tanh => x.tanh(),
        }
    }

    /// The derivative at pre-activation `x`.
    #[inline]
    pub fn derivative(self, x: f32) -> f32 {
        match self {
            Activation::None => 1.0,
            Activation::Relu => (x > 0.0) as u8 as f32,
            Activation::LeakyRelu(slope) => {
                if x > 0.0 {
                    1.0
                } else {
                    slope
                }
            }
            Activation::Elu(alpha) => {
                if x > 0.0 {
                    1.0
                } else {
                    alpha * x.exp()
                }
            }
            Activation::Gelu => {
                // The tanh approximation's exact derivative.
                let inner = GELU_C * (x + 0.044715 * x * x * x);
                let t = inner.tanh();
                let d_inner = GELU_C * (1.0 + 3.0 * 0.044715 * x * x);
                0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * d_inner
            }
            Activation::Tanh => 1.0 - x.tanh().powi(2),
        }
    }

    /// `f(pre_activation)` in a pooled buffer, in parallel over rows.
    pub fn forward(self, pre_activation: &Array2<f32>) -> Array2<f32> {
        if self == Activation::None {
            return super::buffers::copy_of(pre_activation.view());
        }
        // One pass: every element of the pooled buffer is written.
        let mut output = super::buffers::matrix(pre_activation.nrows(), pre_activation.ncols());
        output
            .axis_iter_mut(Axis(0))
            .into_par_iter()
            .zip(pre_activation.axis_iter(Axis(0)))
            .for_each(|(mut out, x)| out.zip_mut_with(&x, |o, &x| *o = self.apply(x)));
        output
    }

    /// `output_gradient ⊙ f'(pre_activation)`.
    pub fn backward(
        self,
        pre_activation: &Array2<f32>,
        output_gradient: ArrayView2<'_, f32>,
    ) -> Array2<f32> {
        if self == Activation::None {
            return super::buffers::copy_of(output_gradient);
        }
        // One pass: every element of the pooled buffer is written.
        let mut gradient = super::buffers::matrix(pre_activation.nrows(), pre_activation.ncols());
        gradient
            .axis_iter_mut(Axis(0))
            .into_par_iter()
            .zip(output_gradient.axis_iter(Axis(0)))
            .zip(pre_activation.axis_iter(Axis(0)))
            .for_each(|((mut g, upstream), x)| {
                ndarray::Zip::from(&mut g)
                    .and(&upstream)
                    .and(&x)
                    .for_each(|g, &u, &x| *g = u * self.derivative(x));
            });
        gradient
    }
}

/// sqrt(2 / π), GELU's tanh-approximation constant.
const GELU_C: f32 = 0.797_884_6;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_is_within_a_few_ulp_of_exp_over_the_softmax_range() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let exact = (x as f64).exp();
            let error = ((fast_exp(x) as f64 - exact) / exact).abs();
            worst = worst.max(error);
            x += 0.0137;
        }
        assert!(worst < 4e-7, "worst relative error {worst:e}");
        assert_eq!(fast_exp(0.0), 1.0);
        assert!(fast_exp(-1000.0) < 1e-37 && fast_exp(-1000.0) >= 0.0);
        assert!(fast_exp(1000.0).is_finite());
    }
    use crate::gnn::gradcheck::{
        flat, numeric_gradients, probe_loss, random_matrix, to_f64, GradCheck,
    };
    use crate::gnn::reference::{activate, kink_distance, linear};

    const ALL: [Activation; 7] = [
        Activation::None,
        Activation::Relu,
        Activation::LeakyRelu(0.2),
        Activation::Elu(1.0),
        Activation::Elu(0.5),
        Activation::Gelu,
        Activation::Tanh,
    ];

    /// `Activation::backward` (and so `derivative`, which every layer's
    /// backward uses) against differences of the activation's f64
    /// definition, at points away from the kinks of ReLU, LeakyReLU and ELU.
    #[test]
    fn every_activation_backward_matches_an_f64_reference_away_from_kinks() {
        let mut check = GradCheck::new("activation backward");
        for seed in 0..5 {
            let mut rng = SplitMix64::new(seed);
            let rows = 5 + rng.below(8);
            let cols = 2 + rng.below(5);
            for activation in ALL {
                let mut x = random_matrix(rows, cols, &mut rng).mapv(|v| 2.0 * v);
                // Finite differences straddling a kink measure neither side.
                x.mapv_inplace(|v| {
                    if kink_distance(activation, v as f64) < 1e-3 {
                        v + 0.01
                    } else {
                        v
                    }
                });
                let probe = random_matrix(rows, cols, &mut rng);
                let reference = |x: &Array2<f64>| x.mapv(|v| activate(activation, v));
                check.forward(
                    &format!("{activation:?}"),
                    &activation.forward(&x),
                    &reference(&to_f64(&x)),
                );
                let analytic = activation.backward(&x, probe.view());
                let probe = to_f64(&probe);
                let numeric = numeric_gradients(&to_f64(&x), |x| probe_loss(&reference(x), &probe));
                check.tensors(
                    &format!("seed {seed} {activation:?}"),
                    &["dx"],
                    &[flat(&analytic)],
                    &numeric,
                );
            }
        }
        check.finish();
        assert_eq!(
            Activation::parse("swish").unwrap_err().code(),
            "ERR_INVALID_ARGUMENT"
        );
    }

    #[test]
    fn linear_backward_matches_an_f64_reference_for_input_weight_and_bias() {
        let mut check = GradCheck::new("linear backward");
        for seed in 0..5 {
            let mut rng = SplitMix64::new(seed);
            let (rows, input, output) = (5 + rng.below(8), 2 + rng.below(5), 2 + rng.below(5));
            let mut layer = Linear::new(input, output, true, seed).unwrap();
            layer.bias = Some(Array1::from_shape_fn(output, |_| rng.gaussian()));
            let x = random_matrix(rows, input, &mut rng);
            let probe = random_matrix(rows, output, &mut rng);
            let (dx, grads) = layer.backward(x.view(), probe.view());
            let point = (
                to_f64(&x),
                (
                    to_f64(&layer.weight.view()),
                    to_f64(layer.bias.as_ref().unwrap()),
                ),
            );
            let reference =
                |(x, (w, b)): &(Array2<f64>, (Array2<f64>, Array1<f64>))| linear(x, w, Some(b));
            check.forward(
                "output",
                &layer.forward(x.view()).unwrap(),
                &reference(&point),
            );
            let probe = to_f64(&probe);
            let numeric = numeric_gradients(&point, |p| probe_loss(&reference(p), &probe));
            check.tensors(
                &format!("seed {seed}"),
                &["dx", "dW", "db"],
                &[
                    flat(&dx),
                    flat(&grads.weight),
                    flat(grads.bias.as_ref().unwrap()),
                ],
                &numeric,
            );
        }
        check.finish();
        let layer = Linear::new(4, 3, true, 9).unwrap();
        assert_eq!(
            layer
                .forward(Array2::zeros((2, 5)).view())
                .unwrap_err()
                .code(),
            "ERR_DIMENSION_MISMATCH"
        );
    }
}
