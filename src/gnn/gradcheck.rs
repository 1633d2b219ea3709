//! Finite-difference gradient checks shared by the layers' tests.

/// Asserts that each `analytic[k]` matches the central difference
/// `(loss(k, +eps) - loss(k, -eps)) / 2eps`, where `loss(k, delta)` is the
/// loss with element `k` of the checked tensor moved by `delta`.
pub fn assert_gradient<'a>(
    what: &str,
    analytic: impl IntoIterator<Item = &'a f32>,
    eps: f32,
    loss: impl Fn(usize, f32) -> f64,
) {
    for (k, &g) in analytic.into_iter().enumerate() {
        let numeric = (loss(k, eps) - loss(k, -eps)) / (2.0 * eps as f64);
        assert!(
            (numeric - g as f64).abs() < 1e-2 * (1.0 + numeric.abs()),
            "{what}[{k}]: numeric {numeric}, analytic {g}"
        );
    }
}

/// A copy of `array` with its `k`-th element (in logical order) moved by
/// `delta`.
pub fn nudged<D: ndarray::Dimension>(
    array: &ndarray::Array<f32, D>,
    k: usize,
    delta: f32,
) -> ndarray::Array<f32, D> {
    let mut copy = array.clone();
    if let Some(x) = copy.iter_mut().nth(k) {
        *x += delta;
    }
    copy
}

/// `sum(output ⊙ probe)` in f64: a scalar loss whose gradient with respect
/// to `output` is `probe`, so a backward pass fed `probe` must reproduce
/// its finite differences.
pub fn probe_loss(output: &ndarray::Array2<f32>, probe: &ndarray::Array2<f32>) -> f64 {
    output
        .iter()
        .zip(probe.iter())
        .map(|(&a, &b)| a as f64 * b as f64)
        .sum()
}
