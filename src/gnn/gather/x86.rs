//! x86-64 gathers: AVX-512 (blocks of up to 8 zmm = 128 columns) and
//! AVX2+FMA+F16C (blocks of up to 8 ymm = 64 columns). A block's sums stay
//! in registers over all of a row's edges; wider rows take several blocks
//! (the second pass over the edges finds their rows in L1).
//!
//! Reached only through `Gather::gather_row` after run-time detection,
//! which splits a row into blocks and prefetches.

use super::Block;
use std::arch::x86_64::*;

pub(super) fn has_f16c() -> bool {
    is_x86_feature_detected!("f16c")
}

/// Expands to a `match` from the run-time vector count of a block to the
/// const-generic kernel monomorphised for it.
macro_rules! by_vectors {
    ($kernel:ident::<_, $half:literal>($vectors:expr, $($arg:expr),*)) => {
        match $vectors {
            1 => $kernel::<1, $half>($($arg),*),
            2 => $kernel::<2, $half>($($arg),*),
            3 => $kernel::<3, $half>($($arg),*),
            4 => $kernel::<4, $half>($($arg),*),
            5 => $kernel::<5, $half>($($arg),*),
            6 => $kernel::<6, $half>($($arg),*),
            7 => $kernel::<7, $half>($($arg),*),
            8 => $kernel::<8, $half>($($arg),*),
            v => unreachable!("no gather block of {v} vectors"),
        }
    };
}

/// # Safety
/// The CPU has AVX-512F; `block` meets the contract of [`Block`];
/// `block.cols ≤ 128`.
pub(super) unsafe fn gather_block_avx512(block: &Block<'_>) {
    let vectors = block.cols.div_ceil(16);
    // SAFETY: forwarded from this function's contract.
    unsafe {
        if block.half {
            by_vectors!(block_avx512::<_, true>(vectors, block))
        } else {
            by_vectors!(block_avx512::<_, false>(vectors, block))
        }
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn block_avx512<const V: usize, const HALF: bool>(b: &Block<'_>) {
    let last = b.cols - (V - 1) * 16;
    let last_mask: __mmask16 = if last >= 16 {
        0xFFFF
    } else {
        (1u16 << last) - 1
    };
    let mask = |v: usize| if v + 1 == V { last_mask } else { 0xFFFF };
    let mut acc = [_mm512_setzero_ps(); V];
    for (k, &j) in b.sources.iter().enumerate() {
        // SAFETY: row j is in range (contract); the block's columns are
        // inside it, and lanes past `cols` are masked or copied.
        let row = unsafe { b.base.add(j as usize * b.row_bytes) };
        let weight = _mm512_set1_ps(b.weights.map_or(1.0, |w| w[k]));
        for (v, sum) in acc.iter_mut().enumerate() {
            let column = b.first + v * 16;
            // SAFETY: as above.
            let x = unsafe {
                if HALF {
                    let at = row.add(column * 2) as *const u16;
                    let halves = if v + 1 < V || last == 16 {
                        _mm256_loadu_si256(at as *const __m256i)
                    } else {
                        let mut tail = [0u16; 16];
                        std::ptr::copy_nonoverlapping(at, tail.as_mut_ptr(), last);
                        _mm256_loadu_si256(tail.as_ptr() as *const __m256i)
                    };
                    _mm512_cvtph_ps(halves)
                } else {
                    _mm512_maskz_loadu_ps(mask(v), row.add(column * 4) as *const f32)
                }
            };
            *sum = _mm512_fmadd_ps(x, weight, *sum);
        }
    }
    let scale = _mm512_set1_ps(b.scale);
    for (v, &sum) in acc.iter().enumerate() {
        // SAFETY: columns v·16 .. v·16 + 16 of the block are inside `out`
        // where the mask allows.
        unsafe { _mm512_mask_storeu_ps(b.out.add(v * 16), mask(v), _mm512_mul_ps(sum, scale)) };
    }
}

/// # Safety
/// The CPU has AVX2, FMA and F16C; `block` meets the contract of
/// [`Block`]; `block.cols ≤ 64`.
pub(super) unsafe fn gather_block_avx2(block: &Block<'_>) {
    let vectors = block.cols.div_ceil(8);
    // SAFETY: forwarded from this function's contract.
    unsafe {
        if block.half {
            by_vectors!(block_avx2::<_, true>(vectors, block))
        } else {
            by_vectors!(block_avx2::<_, false>(vectors, block))
        }
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn block_avx2<const V: usize, const HALF: bool>(b: &Block<'_>) {
    let last = b.cols - (V - 1) * 8;
    let last_mask = _mm256_cmpgt_epi32(
        _mm256_set1_epi32(last as i32),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    );
    let full = last == 8;
    let mut acc = [_mm256_setzero_ps(); V];
    for (k, &j) in b.sources.iter().enumerate() {
        // SAFETY: as in `block_avx512`.
        let row = unsafe { b.base.add(j as usize * b.row_bytes) };
        let weight = _mm256_set1_ps(b.weights.map_or(1.0, |w| w[k]));
        for (v, sum) in acc.iter_mut().enumerate() {
            let column = b.first + v * 8;
            let whole = v + 1 < V || full;
            // SAFETY: as in `block_avx512`.
            let x = unsafe {
                if HALF {
                    let at = row.add(column * 2) as *const u16;
                    let halves = if whole {
                        _mm_loadu_si128(at as *const __m128i)
                    } else {
                        let mut tail = [0u16; 8];
                        std::ptr::copy_nonoverlapping(at, tail.as_mut_ptr(), last);
                        _mm_loadu_si128(tail.as_ptr() as *const __m128i)
                    };
                    _mm256_cvtph_ps(halves)
                } else if whole {
                    _mm256_loadu_ps(row.add(column * 4) as *const f32)
                } else {
                    _mm256_maskload_ps(row.add(column * 4) as *const f32, last_mask)
                }
            };
            *sum = _mm256_fmadd_ps(x, weight, *sum);
        }
    }
    let scale = _mm256_set1_ps(b.scale);
    for (v, &sum) in acc.iter().enumerate() {
        let value = _mm256_mul_ps(sum, scale);
        // SAFETY: as in `block_avx512`, with AVX2 masked stores.
        unsafe {
            if v + 1 < V || full {
                _mm256_storeu_ps(b.out.add(v * 8), value)
            } else {
                _mm256_maskstore_ps(b.out.add(v * 8), last_mask, value)
            }
        }
    }
}

/// `dst[i] = f16(src[i])`, rounding to nearest even, 16 at a time.
///
/// # Safety
/// The CPU has AVX-512F; `dst.len() == src.len()`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn round_to_half_avx512(src: &[f32], dst: &mut [u16]) {
    let whole = src.len() / 16 * 16;
    for (from, to) in src[..whole]
        .chunks_exact(16)
        .zip(dst[..whole].chunks_exact_mut(16))
    {
        // SAFETY: 16 floats read, 16 halves written, inside the chunks.
        unsafe {
            let halves =
                _mm512_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(_mm512_loadu_ps(from.as_ptr()));
            _mm256_storeu_si256(to.as_mut_ptr() as *mut __m256i, halves);
        }
    }
    for (h, &x) in dst[whole..].iter_mut().zip(&src[whole..]) {
        *h = crate::gnn::quantize::f32_to_f16(x);
    }
}

/// As [`round_to_half_avx512`], 8 at a time with F16C.
///
/// # Safety
/// The CPU has AVX2 and F16C; `dst.len() == src.len()`.
#[target_feature(enable = "avx2,f16c")]
pub(super) unsafe fn round_to_half_f16c(src: &[f32], dst: &mut [u16]) {
    let whole = src.len() / 8 * 8;
    for (from, to) in src[..whole]
        .chunks_exact(8)
        .zip(dst[..whole].chunks_exact_mut(8))
    {
        // SAFETY: 8 floats read, 8 halves written, inside the chunks.
        unsafe {
            let halves =
                _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(_mm256_loadu_ps(from.as_ptr()));
            _mm_storeu_si128(to.as_mut_ptr() as *mut __m128i, halves);
        }
    }
    for (h, &x) in dst[whole..].iter_mut().zip(&src[whole..]) {
        *h = crate::gnn::quantize::f32_to_f16(x);
    }
}
