//! The portable gather of one column block: plain loops the compiler
//! vectorises for the baseline target. The reference in the tests is an
//! `f64` sum, not this.

use super::Block;
use crate::gnn::quantize::f16_to_f32;

/// Columns per block (the sums live in one stack array).
pub(super) const BLOCK: usize = 64;

/// # Safety
/// `block` meets the contract of [`Block`]; `block.cols ≤ BLOCK`.
pub(super) unsafe fn gather_block(b: &Block<'_>) {
    let mut sum = [0.0f32; BLOCK];
    let sum = &mut sum[..b.cols];
    for (k, &j) in b.sources.iter().enumerate() {
        let weight = b.weights.map_or(1.0, |w| w[k]);
        // SAFETY: row j is in range and the block's columns lie inside it.
        let row = unsafe { b.base.add(j as usize * b.row_bytes) };
        if b.half {
            // SAFETY: as above: `cols` halves from the block's first column.
            let values =
                unsafe { std::slice::from_raw_parts((row as *const u16).add(b.first), b.cols) };
            for (s, &h) in sum.iter_mut().zip(values) {
                *s += weight * f16_to_f32(h);
            }
        } else {
            // SAFETY: as above, for `f32` values.
            let values =
                unsafe { std::slice::from_raw_parts((row as *const f32).add(b.first), b.cols) };
            for (s, &x) in sum.iter_mut().zip(values) {
                *s += weight * x;
            }
        }
    }
    for (c, &s) in sum.iter().enumerate() {
        // SAFETY: column c < cols of the block is inside `out`.
        unsafe { *b.out.add(c) = s * b.scale };
    }
}
