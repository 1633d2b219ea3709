//! x86-64 tiles: AVX-512 (16 lanes, up to 6 × 4 zmm accumulators) and
//! AVX2+FMA (8 lanes, up to 6 × 2 ymm), each monomorphised per tile shape
//! so the accumulators live in registers for the whole inner loop.
//!
//! Reached only through `Tiling::run` for a path the CPU was detected to
//! have; nothing else calls these.

use super::Tile;
use std::arch::x86_64::*;

/// Expands to a `match` from run-time (rows, vectors) to the const-generic
/// tile monomorphised for that shape.
macro_rules! dispatch {
    ($kernel:ident, $rows:expr, $vectors:expr, $tile:expr, [$($v:literal),+]) => {
        match ($rows, $vectors) {
            $(
                (1, $v) => $kernel::<1, $v>($tile),
                (2, $v) => $kernel::<2, $v>($tile),
                (3, $v) => $kernel::<3, $v>($tile),
                (4, $v) => $kernel::<4, $v>($tile),
                (5, $v) => $kernel::<5, $v>($tile),
                (6, $v) => $kernel::<6, $v>($tile),
            )+
            shape => unreachable!("no tile of shape {shape:?}"),
        }
    };
}

/// # Safety
/// The CPU has AVX-512F; `tile` meets the contract of [`Tile`];
/// `1 ≤ rows ≤ 6`, `vectors = ⌈tile.cols / 16⌉ ≤ 4`.
pub(super) unsafe fn tile_avx512(rows: usize, vectors: usize, tile: &Tile) {
    // SAFETY: forwarded from this function's contract.
    unsafe { dispatch!(avx512, rows, vectors, tile, [1, 2, 3, 4]) }
}

#[target_feature(enable = "avx512f")]
unsafe fn avx512<const R: usize, const V: usize>(t: &Tile) {
    let last = t.cols - (V - 1) * 16;
    let last_mask: __mmask16 = if last >= 16 {
        0xFFFF
    } else {
        (1u16 << last) - 1
    };
    let mask = |v: usize| if v + 1 == V { last_mask } else { 0xFFFF };
    let mut acc = [[_mm512_setzero_ps(); V]; R];
    let (mut a, mut b) = (t.a, t.b);
    for _ in 0..t.depth {
        let mut row = [_mm512_setzero_ps(); V];
        for (v, lanes) in row.iter_mut().enumerate() {
            // SAFETY: `b(p, j)` for j < cols; lanes past `cols` are masked off.
            *lanes = unsafe { _mm512_maskz_loadu_ps(mask(v), b.add(v * 16)) };
        }
        for (r, sums) in acc.iter_mut().enumerate() {
            // SAFETY: `a(r, p)` is readable for r < rows = R, p < depth.
            let x = _mm512_set1_ps(unsafe { *a.add(r * t.a_row) });
            for (sum, &lanes) in sums.iter_mut().zip(&row) {
                *sum = _mm512_fmadd_ps(x, lanes, *sum);
            }
        }
        // SAFETY: one step along the inner dimension; dereferenced only
        // while p < depth (the pointers may end one step past).
        (a, b) = unsafe { (a.add(t.a_depth), b.add(t.b_row)) };
    }
    for (r, sums) in acc.iter().enumerate() {
        for (v, &sum) in sums.iter().enumerate() {
            // SAFETY: `c[r·c_row + j]` is writable for j < cols (and
            // initialised when accumulating); other lanes are masked off.
            unsafe {
                let out = t.c.add(r * t.c_row + v * 16);
                let value = if t.accumulate {
                    _mm512_add_ps(sum, _mm512_maskz_loadu_ps(mask(v), out))
                } else {
                    sum
                };
                _mm512_mask_storeu_ps(out, mask(v), value);
            }
        }
    }
}

/// # Safety
/// The CPU has AVX2 and FMA; `tile` meets the contract of [`Tile`];
/// `1 ≤ rows ≤ 6`, `vectors = ⌈tile.cols / 8⌉ ≤ 2`.
pub(super) unsafe fn tile_avx2(rows: usize, vectors: usize, tile: &Tile) {
    // SAFETY: forwarded from this function's contract.
    unsafe { dispatch!(avx2, rows, vectors, tile, [1, 2]) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn avx2<const R: usize, const V: usize>(t: &Tile) {
    let last = (t.cols - (V - 1) * 8) as i32;
    let last_mask = _mm256_cmpgt_epi32(
        _mm256_set1_epi32(last),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    );
    let full = _mm256_set1_epi32(-1);
    let mask = |v: usize| if v + 1 == V { last_mask } else { full };
    let mut acc = [[_mm256_setzero_ps(); V]; R];
    let (mut a, mut b) = (t.a, t.b);
    for _ in 0..t.depth {
        let mut row = [_mm256_setzero_ps(); V];
        for (v, lanes) in row.iter_mut().enumerate() {
            // SAFETY: `b(p, j)` for j < cols; lanes past `cols` are masked off
            // (a full vector is read with a plain load).
            *lanes = unsafe {
                if v + 1 < V || last == 8 {
                    _mm256_loadu_ps(b.add(v * 8))
                } else {
                    _mm256_maskload_ps(b.add(v * 8), last_mask)
                }
            };
        }
        for (r, sums) in acc.iter_mut().enumerate() {
            // SAFETY: `a(r, p)` is readable for r < rows = R, p < depth.
            let x = _mm256_set1_ps(unsafe { *a.add(r * t.a_row) });
            for (sum, &lanes) in sums.iter_mut().zip(&row) {
                *sum = _mm256_fmadd_ps(x, lanes, *sum);
            }
        }
        // SAFETY: one step along the inner dimension (see `avx512`).
        (a, b) = unsafe { (a.add(t.a_depth), b.add(t.b_row)) };
    }
    for (r, sums) in acc.iter().enumerate() {
        for (v, &sum) in sums.iter().enumerate() {
            // SAFETY: as in `avx512`, with AVX2 masked loads and stores.
            unsafe {
                let out = t.c.add(r * t.c_row + v * 8);
                let value = if t.accumulate {
                    _mm256_add_ps(sum, _mm256_maskload_ps(out, mask(v)))
                } else {
                    sum
                };
                _mm256_maskstore_ps(out, mask(v), value);
            }
        }
    }
}

/// Multiply-adds per second one thread sustains on the widest vector unit
/// `path` names (AVX-512 or AVX2+FMA), counting each as 2 FLOPs: twelve
/// independent accumulator chains (more than latency × throughput on any
/// current core) over `iterations` rounds. Returns FLOPs performed.
///
/// # Safety
/// The CPU has the features of `wide` (AVX-512F when true, else AVX2+FMA).
pub(crate) unsafe fn fma_chains(wide: bool, iterations: u64) -> (f32, u64) {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        if wide {
            fma_chains_avx512(iterations)
        } else {
            fma_chains_avx2(iterations)
        }
    }
}

const CHAINS: usize = 12;

#[target_feature(enable = "avx512f")]
unsafe fn fma_chains_avx512(iterations: u64) -> (f32, u64) {
    let mut acc = [_mm512_setzero_ps(); CHAINS];
    for (i, a) in acc.iter_mut().enumerate() {
        *a = _mm512_set1_ps(std::hint::black_box(i as f32 * 0.001));
    }
    let x = _mm512_set1_ps(std::hint::black_box(0.999_999));
    let y = _mm512_set1_ps(std::hint::black_box(1e-7));
    for _ in 0..iterations {
        for a in acc.iter_mut() {
            *a = _mm512_fmadd_ps(*a, x, y);
        }
    }
    let mut total = _mm512_setzero_ps();
    for a in acc {
        total = _mm512_add_ps(total, a);
    }
    (
        _mm512_reduce_add_ps(total),
        iterations * (CHAINS * 16 * 2) as u64,
    )
}

#[target_feature(enable = "avx2,fma")]
unsafe fn fma_chains_avx2(iterations: u64) -> (f32, u64) {
    let mut acc = [_mm256_setzero_ps(); CHAINS];
    for (i, a) in acc.iter_mut().enumerate() {
        *a = _mm256_set1_ps(std::hint::black_box(i as f32 * 0.001));
    }
    let x = _mm256_set1_ps(std::hint::black_box(0.999_999));
    let y = _mm256_set1_ps(std::hint::black_box(1e-7));
    for _ in 0..iterations {
        for a in acc.iter_mut() {
            *a = _mm256_fmadd_ps(*a, x, y);
        }
    }
    let mut total = _mm256_setzero_ps();
    for a in acc {
        total = _mm256_add_ps(total, a);
    }
    let mut lanes = [0.0f32; 8];
    // SAFETY: `lanes` holds 8 floats.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), total) };
    (lanes.iter().sum(), iterations * (CHAINS * 8 * 2) as u64)
}
