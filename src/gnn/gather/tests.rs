use super::*;
use crate::gnn::quantize::f32_to_f16;
use crate::rng::SplitMix64;

fn gathers() -> Vec<Gather> {
    let gathers = Gather::available();
    let names: Vec<&str> = gathers.iter().map(|g| g.path.name()).collect();
    eprintln!("gathers tested on this CPU: {}", names.join(", "));
    for path in [SimdPath::Avx2, SimdPath::Avx512] {
        if !names.contains(&path.name()) {
            eprintln!("gathers: {} skipped (this CPU lacks it)", path.name());
        }
    }
    gathers
}

/// `scale · Σ w_k · row(sources[k])` in `f64`, with `Σ |w_k · x|` per
/// column (the scale of rounding).
fn reference(
    row: impl Fn(usize, usize) -> f64,
    width: usize,
    sources: &[u32],
    weights: Option<&[f32]>,
    scale: f32,
) -> (Vec<f64>, Vec<f64>) {
    let mut sum = vec![0.0; width];
    let mut magnitude = vec![0.0; width];
    for (k, &j) in sources.iter().enumerate() {
        let w = weights.map_or(1.0, |w| w[k] as f64);
        for c in 0..width {
            let term = w * row(j as usize, c);
            sum[c] += term;
            magnitude[c] += term.abs();
        }
    }
    let scale = scale as f64;
    (
        sum.iter().map(|s| s * scale).collect(),
        magnitude.iter().map(|m| m * scale.abs()).collect(),
    )
}

/// Every `got[c]` within `relative · magnitude[c]` of `expected[c]`.
fn assert_within(got: &[f32], expected: &[f64], magnitude: &[f64], relative: f64, what: &str) {
    for (c, ((&g, &e), &m)) in got.iter().zip(expected).zip(magnitude).enumerate() {
        assert!(
            (g as f64 - e).abs() <= relative * m + 1e-30,
            "{what}, column {c}: {g} vs {e}"
        );
    }
}

#[test]
fn every_path_gathers_like_the_f64_sum_for_f32_and_f16_rows() {
    let mut rng = SplitMix64::new(7);
    for gather in gathers() {
        for width in [1usize, 3, 8, 15, 16, 17, 64, 65, 127, 128, 129, 200, 383] {
            let count = 50;
            let values: Vec<f32> = (0..count * width)
                .map(|_| 4.0 * rng.next_f32() - 2.0)
                .collect();
            let matrix = ArrayView2::from_shape((count, width), &values[..]).unwrap();
            let half = HalfMatrix::from_f32(matrix);
            let widened = half.to_f32();
            for degree in [0usize, 1, 5, 16] {
                let sources: Vec<u32> = (0..degree)
                    .map(|_| (rng.next_u64() % count as u64) as u32)
                    .collect();
                let ahead: Vec<u32> = (0..3)
                    .map(|_| (rng.next_u64() % count as u64) as u32)
                    .collect();
                let weights: Vec<f32> = (0..degree).map(|_| rng.next_f32() - 0.3).collect();
                for (weights, scale) in [(None, 1.0f32), (Some(&weights[..]), 0.25)] {
                    let what = format!(
                        "{} width {width} degree {degree} weighted {}",
                        gather.path.name(),
                        weights.is_some()
                    );
                    let mut out = vec![f32::NAN; width];
                    let rows = SourceRows::F32 {
                        values: &values,
                        width,
                    };
                    gather.gather_row(rows, &sources, weights, scale, &ahead, &mut out);
                    let (exact, magnitude) = reference(
                        |j, c| values[j * width + c] as f64,
                        width,
                        &sources,
                        weights,
                        scale,
                    );
                    assert_within(&out, &exact, &magnitude, 1e-6, &format!("{what}, f32 rows"));
                    // Half-precision rows: exact against the rounded values…
                    let mut out = vec![f32::NAN; width];
                    gather.gather_row(
                        half.source_rows(),
                        &sources,
                        weights,
                        scale,
                        &ahead,
                        &mut out,
                    );
                    let (exact_half, _) = reference(
                        |j, c| widened[[j, c]] as f64,
                        width,
                        &sources,
                        weights,
                        scale,
                    );
                    assert_within(
                        &out,
                        &exact_half,
                        &magnitude,
                        1e-6,
                        &format!("{what}, f16 rows"),
                    );
                    // …and within f16's rounding of the f32 sum.
                    let bound = 2f64.powi(-11) * 1.01;
                    assert_within(
                        &out,
                        &exact,
                        &magnitude,
                        bound,
                        &format!("{what}, f16 vs f32"),
                    );
                }
            }
        }
    }
}

#[test]
fn half_matrices_round_to_nearest_and_keep_their_shape() {
    let values = [0.0f32, 1.0, -2.5, 65504.0, 1e-8, 0.1];
    let matrix = ArrayView2::from_shape((2, 3), &values[..]).unwrap();
    let half = HalfMatrix::from_f32(matrix);
    assert_eq!((half.rows(), half.cols()), (2, 3));
    let back = half.to_f32();
    assert_eq!(back[[0, 1]], 1.0);
    assert_eq!(back[[0, 2]], -2.5);
    assert_eq!(back[[1, 0]], 65504.0);
    assert!((back[[1, 2]] - 0.1).abs() <= 0.1 * 2f32.powi(-11));
}

#[test]
#[should_panic(expected = "source rows in range")]
fn an_out_of_range_source_is_refused_before_any_read() {
    let values = vec![1.0f32; 8];
    let mut out = vec![0.0; 4];
    Gather::active().gather_row(
        SourceRows::F32 {
            values: &values,
            width: 4,
        },
        &[2],
        None,
        1.0,
        &[],
        &mut out,
    );
}

#[test]
fn every_path_rounds_to_half_like_the_portable_conversion() {
    let mut rng = SplitMix64::new(9);
    let values: Vec<f32> = (0..1000)
        .map(|i| match i % 5 {
            0 => rng.next_f32() * 1e-5,
            1 => (rng.next_f32() - 0.5) * 70000.0,
            _ => rng.next_f32() * 8.0 - 4.0,
        })
        .collect();
    let expected: Vec<u16> = values.iter().map(|&x| f32_to_f16(x)).collect();
    for gather in gathers() {
        for len in [0usize, 1, 7, 8, 15, 16, 17, 1000] {
            let mut got = vec![0u16; len];
            gather.round_to_half(&values[..len], &mut got);
            assert_eq!(got, expected[..len], "{} length {len}", gather.path.name());
        }
    }
}
