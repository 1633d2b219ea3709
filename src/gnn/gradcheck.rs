//! Gradient checks shared by the layers' tests.
//!
//! A backward pass is compared with central finite differences of an
//! **f64 reference forward pass** written from the layer's definition (see
//! `reference.rs`: plain loops over nodes and edges that only read the
//! layer's parameter values), never with the crate's own f32 forward. So a
//! forward and a backward that are wrong in the same way cannot agree, and
//! the differences are free of f32 rounding noise, which lets the bound be
//! tight.
//!
//! For a layer, the scalar checked is `L = sum(output ⊙ probe)` for a
//! random `probe`: its gradient with respect to the output is `probe`, so
//! the backward pass is fed `probe` as the output gradient. For a loss, `L`
//! is the loss itself. Each element `v` of every input and parameter
//! tensor gets the central difference
//!
//! ```text
//! (L(v + h) − L(v − h)) / ((v + h) − (v − h)),   h = 1e-5 · max(1, |v|)
//! ```
//!
//! in f64 (truncation error ~h², rounding ~1e-16 / h: both ≪ the bound).
//! The **relative error of a tensor** is
//!
//! ```text
//! ‖analytic − numeric‖₂ / max(‖numeric‖₂, 1e-6)
//! ```
//!
//! and must be at most [`TOLERANCE`] for every tensor. The analytic
//! gradients are the crate's f32 ones, so the errors seen are f32 rounding
//! (1e-7 to 1e-5); a wrong term in a backward pass gives errors of order 1.

use super::Adjacency;
use crate::rng::SplitMix64;
use ndarray::{Array, Array2, ArrayBase, Data, Dimension};

/// The largest relative error allowed per tensor.
pub const TOLERANCE: f64 = 3e-3;

/// The finite-difference step, relative to `max(1, |v|)`.
const STEP: f64 = 1e-5;

/// Tensors a finite-difference driver can move one element at a time: an
/// input, a layer's parameters, or a pair of them. The order of
/// `tensors_mut` is the order of the gradients compared against.
pub trait Tensors: Clone {
    fn tensors_mut(&mut self) -> Vec<&mut [f64]>;
}

impl<D: Dimension> Tensors for Array<f64, D> {
    fn tensors_mut(&mut self) -> Vec<&mut [f64]> {
        vec![self
            .as_slice_mut()
            .expect("reference tensors are in standard layout")]
    }
}

impl<T: Tensors> Tensors for Option<T> {
    fn tensors_mut(&mut self) -> Vec<&mut [f64]> {
        self.as_mut().map_or_else(Vec::new, T::tensors_mut)
    }
}

impl<T: Tensors> Tensors for Vec<T> {
    fn tensors_mut(&mut self) -> Vec<&mut [f64]> {
        self.iter_mut().flat_map(T::tensors_mut).collect()
    }
}

impl<A: Tensors, B: Tensors> Tensors for (A, B) {
    fn tensors_mut(&mut self) -> Vec<&mut [f64]> {
        let mut tensors = self.0.tensors_mut();
        tensors.extend(self.1.tensors_mut());
        tensors
    }
}

/// Central differences of `loss` with respect to every element of every
/// tensor of `point`, one `Vec` per tensor (in `tensors_mut` order).
pub fn numeric_gradients<P: Tensors>(point: &P, loss: impl Fn(&P) -> f64) -> Vec<Vec<f64>> {
    let mut moved = point.clone();
    let sizes: Vec<usize> = moved.tensors_mut().iter().map(|t| t.len()).collect();
    let mut gradients = Vec::with_capacity(sizes.len());
    for (t, &size) in sizes.iter().enumerate() {
        let mut gradient = Vec::with_capacity(size);
        for k in 0..size {
            let v = moved.tensors_mut()[t][k];
            let h = STEP * v.abs().max(1.0);
            let (up, down) = (v + h, v - h);
            moved.tensors_mut()[t][k] = up;
            let loss_up = loss(&moved);
            moved.tensors_mut()[t][k] = down;
            let loss_down = loss(&moved);
            moved.tensors_mut()[t][k] = v;
            // Divided by the step actually taken (v ± h is rounded).
            gradient.push((loss_up - loss_down) / (up - down));
        }
        gradients.push(gradient);
    }
    gradients
}

/// `‖analytic − numeric‖₂ / max(‖numeric‖₂, 1e-6)`.
pub fn relative_error(analytic: &[f64], numeric: &[f64]) -> f64 {
    let difference: f64 = analytic
        .iter()
        .zip(numeric)
        .map(|(a, n)| (a - n) * (a - n))
        .sum();
    let norm: f64 = numeric.iter().map(|n| n * n).sum();
    difference.sqrt() / norm.sqrt().max(1e-6)
}

/// A crate gradient (f32, in logical order) as f64 values.
pub fn flat<'a>(gradient: impl IntoIterator<Item = &'a f32>) -> Vec<f64> {
    gradient.into_iter().map(|&g| g as f64).collect()
}

/// An f32 array as f64, for the reference.
pub fn to_f64<S: Data<Elem = f32>, D: Dimension>(array: &ArrayBase<S, D>) -> Array<f64, D> {
    array.mapv(f64::from)
}

/// A `rows × cols` matrix of standard normal values.
pub fn random_matrix(rows: usize, cols: usize, rng: &mut SplitMix64) -> Array2<f32> {
    Array2::from_shape_fn((rows, cols), |_| rng.gaussian())
}

/// The first of at most 100 draws that `usable` accepts: data away from
/// the kinks and ties where finite differences are not valid.
pub fn draw_until<T>(what: &str, mut draw: impl FnMut() -> T, usable: impl Fn(&T) -> bool) -> T {
    for _ in 0..100 {
        let value = draw();
        if usable(&value) {
            return value;
        }
    }
    panic!("{what}: no draw away from kinks and ties in 100 attempts");
}

/// A random graph on `nodes` nodes: rows of 0 to `max_degree` sources
/// drawn with repetition (so with empty rows, repeated edges and self
/// edges), with weights in [0.5, 1.5) if `weighted`.
pub fn random_graph(
    nodes: usize,
    max_degree: usize,
    weighted: bool,
    rng: &mut SplitMix64,
) -> Adjacency {
    let lists: Vec<Vec<u32>> = (0..nodes)
        .map(|_| {
            (0..rng.below(max_degree + 1))
                .map(|_| rng.below(nodes) as u32)
                .collect()
        })
        .collect();
    let graph = Adjacency::from_lists(&lists).expect("sources are in range");
    if weighted {
        with_random_weights(graph, rng)
    } else {
        graph
    }
}

/// `graph` with a weight in [0.5, 1.5) on every edge.
pub fn with_random_weights(graph: Adjacency, rng: &mut SplitMix64) -> Adjacency {
    let weights = (0..graph.num_edges())
        .map(|_| 0.5 + rng.next_f32())
        .collect();
    graph
        .with_weights(weights)
        .expect("one finite weight per edge")
}

/// `sum(output ⊙ probe)`: the scalar whose gradient with respect to the
/// output is `probe`.
pub fn probe_loss(output: &Array2<f64>, probe: &Array2<f64>) -> f64 {
    assert_eq!(output.dim(), probe.dim(), "reference output and probe");
    output.iter().zip(probe.iter()).map(|(o, p)| o * p).sum()
}

/// One test's checks: asserts every tensor within [`TOLERANCE`] and keeps
/// the largest relative error seen, which [`GradCheck::finish`] prints.
pub struct GradCheck {
    test: &'static str,
    worst: f64,
    worst_at: String,
    tensors: usize,
}

impl GradCheck {
    pub fn new(test: &'static str) -> GradCheck {
        GradCheck {
            test,
            worst: 0.0,
            worst_at: String::new(),
            tensors: 0,
        }
    }

    /// Asserts that the crate's forward output agrees with the reference's
    /// (to f32 rounding), so a gradient mismatch cannot come from the two
    /// computing different functions.
    pub fn forward<S: Data<Elem = f32>, D: Dimension>(
        &self,
        what: &str,
        output: &ArrayBase<S, D>,
        reference: &Array<f64, D>,
    ) {
        assert_eq!(output.shape(), reference.shape(), "{what}: output shape");
        for (&o, &r) in output.iter().zip(reference.iter()) {
            assert!(
                (o as f64 - r).abs() <= 1e-4 * (1.0 + r.abs()),
                "{}: {what}: the crate's forward gives {o}, the reference {r}",
                self.test
            );
        }
    }

    /// Asserts each `analytic[t]` (named `names[t]`) within [`TOLERANCE`]
    /// of `numeric[t]`.
    pub fn tensors(
        &mut self,
        what: &str,
        names: &[&str],
        analytic: &[Vec<f64>],
        numeric: &[Vec<f64>],
    ) {
        assert_eq!(names.len(), analytic.len(), "{what}: names and gradients");
        assert_eq!(
            analytic.len(),
            numeric.len(),
            "{what}: analytic and numeric tensor counts"
        );
        for ((name, a), n) in names.iter().zip(analytic).zip(numeric) {
            assert_eq!(a.len(), n.len(), "{what} {name}: tensor sizes");
            let error = relative_error(a, n);
            assert!(
                error <= TOLERANCE,
                "{}: {what} {name}: relative error {error:.3e} > {TOLERANCE:e}\n\
                 analytic {a:?}\nnumeric  {n:?}",
                self.test
            );
            self.tensors += 1;
            if error >= self.worst {
                self.worst = error;
                self.worst_at = format!("{what} {name}");
            }
        }
    }

    /// Prints the largest relative error seen (shown with `--nocapture`).
    pub fn finish(self) {
        assert!(self.tensors > 0, "{}: nothing was checked", self.test);
        eprintln!(
            "gradcheck {}: {} tensors, largest relative error {:.2e} ({})",
            self.test, self.tensors, self.worst, self.worst_at
        );
    }
}
