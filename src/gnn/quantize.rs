//! Compact weight encodings: IEEE half precision, and 8-bit integers with
//! one scale per row (symmetric, so zero stays exactly zero). Both are
//! decoded to `f32` before use; the weights module stores them.

use ndarray::{Array2, ArrayView2};

/// `f32` → IEEE 754 binary16, rounding to nearest (ties to even);
/// overflow becomes ±infinity, NaN stays NaN.
pub fn f32_to_f16(value: f32) -> u16 {
    let bits = value.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exponent = ((bits >> 23) & 0xFF) as i32;
    let mantissa = bits & 0x7F_FFFF;
    if exponent == 0xFF {
        // Infinity, or NaN with a mantissa bit kept so it stays NaN.
        return sign
            | 0x7C00
            | if mantissa != 0 {
                0x200 | (mantissa >> 13) as u16
            } else {
                0
            };
    }
    let half_exponent = exponent - 127 + 15;
    if half_exponent >= 0x1F {
        return sign | 0x7C00;
    }
    if half_exponent <= 0 {
        // Subnormal in half precision (or zero): shift the full mantissa,
        // implicit bit included, and round.
        if half_exponent < -10 {
            return sign;
        }
        let full = mantissa | 0x80_0000;
        let shift = (14 - half_exponent) as u32;
        let half_mantissa = full >> shift;
        let remainder = full & ((1 << shift) - 1);
        let halfway = 1 << (shift - 1);
        let round_up = remainder > halfway || (remainder == halfway && half_mantissa & 1 == 1);
        return sign | (half_mantissa + round_up as u32) as u16;
    }
    let half = ((half_exponent as u32) << 10) | (mantissa >> 13);
    let remainder = mantissa & 0x1FFF;
    let round_up = remainder > 0x1000 || (remainder == 0x1000 && half & 1 == 1);
    // A carry out of the mantissa correctly bumps the exponent (up to
    // infinity).
    sign | (half + round_up as u32) as u16
}

/// IEEE 754 binary16 → `f32`, exactly.
pub fn f16_to_f32(half: u16) -> f32 {
    let sign = ((half & 0x8000) as u32) << 16;
    let exponent = ((half >> 10) & 0x1F) as u32;
    let mantissa = (half & 0x3FF) as u32;
    let bits = match (exponent, mantissa) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: normalise it for f32.
            let shift = mantissa.leading_zeros() - 21;
            sign | ((127 - 15 + 1 - shift) << 23) | ((mantissa << shift) & 0x3FF) << 13
        }
        (0x1F, _) => sign | 0x7F80_0000 | (mantissa << 13),
        _ => sign | ((exponent + 127 - 15) << 23) | (mantissa << 13),
    };
    f32::from_bits(bits)
}

/// A matrix as 8-bit integers with one `f32` scale per row.
#[derive(Clone, Debug, PartialEq)]
pub struct Int8Rows {
    pub scales: Vec<f32>,
    pub values: Array2<i8>,
}

/// Symmetric per-row quantisation: `scale = max|x| / 127`, so every
/// element's error is at most `scale / 2`.
pub fn quantize_rows(matrix: ArrayView2<'_, f32>) -> Int8Rows {
    let mut scales = Vec::with_capacity(matrix.nrows());
    let mut values = Array2::<i8>::zeros(matrix.dim());
    for (row, mut out) in matrix.rows().into_iter().zip(values.rows_mut()) {
        let max = row.iter().fold(0f32, |m, x| m.max(x.abs()));
        let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
        for (o, &x) in out.iter_mut().zip(row.iter()) {
            *o = (x / scale).round().clamp(-127.0, 127.0) as i8;
        }
        scales.push(scale);
    }
    Int8Rows { scales, values }
}

pub fn dequantize_rows(quantized: &Int8Rows) -> Array2<f32> {
    let mut out = quantized.values.mapv(f32::from);
    for (mut row, &scale) in out.rows_mut().into_iter().zip(&quantized.scales) {
        row *= scale;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    #[test]
    fn every_half_precision_value_survives_a_round_trip() {
        for bits in 0..=u16::MAX {
            let value = f16_to_f32(bits);
            if value.is_nan() {
                assert!(f16_to_f32(f32_to_f16(value)).is_nan(), "{bits:#06x}");
            } else {
                assert_eq!(f32_to_f16(value), bits, "{bits:#06x} → {value}");
            }
        }
    }

    #[test]
    fn f32_to_f16_rounds_to_the_nearest_half() {
        let mut rng = SplitMix64::new(12);
        for _ in 0..100_000 {
            let x = rng.gaussian() * 10f32.powi(rng.below(9) as i32 - 4);
            let half = f16_to_f32(f32_to_f16(x));
            // No other half lies closer: the neighbours of the result are
            // at least as far from x.
            let bits = f32_to_f16(x);
            for neighbour in [bits.wrapping_add(1), bits.wrapping_sub(1)] {
                let other = f16_to_f32(neighbour);
                if other.is_finite() {
                    assert!(
                        (half - x).abs() <= (other - x).abs(),
                        "{x}: {half} vs neighbour {other}"
                    );
                }
            }
        }
        assert_eq!(
            f16_to_f32(f32_to_f16(65_520.0)),
            f32::INFINITY,
            "overflow rounds to infinity"
        );
        assert_eq!(f16_to_f32(f32_to_f16(1e-9)), 0.0);
        assert_eq!(f16_to_f32(f32_to_f16(-0.0)).to_bits(), (-0.0f32).to_bits());
    }

    #[test]
    fn int8_rows_stay_within_half_a_step_of_the_original() {
        let mut rng = SplitMix64::new(13);
        let matrix = Array2::from_shape_fn((50, 33), |(i, _)| rng.gaussian() * (i as f32 + 1.0));
        let mut with_zero_row = matrix.clone();
        with_zero_row.row_mut(7).fill(0.0);
        let quantized = quantize_rows(with_zero_row.view());
        let restored = dequantize_rows(&quantized);
        for ((row, restored), &scale) in with_zero_row
            .rows()
            .into_iter()
            .zip(restored.rows())
            .zip(&quantized.scales)
        {
            for (&x, &y) in row.iter().zip(restored.iter()) {
                assert!(
                    (x - y).abs() <= scale / 2.0 + 1e-6,
                    "{x} → {y} (scale {scale})"
                );
            }
        }
        assert!(
            restored.row(7).iter().all(|&v| v == 0.0),
            "zero stays exactly zero"
        );
    }
}
