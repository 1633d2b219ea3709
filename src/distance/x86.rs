//! x86-64 kernels: AVX2+FMA (8 lanes) and AVX-512F (16 lanes).
//!
//! The safe wrappers here are only handed out by `distance::Kernels::for_path`
//! after run-time detection confirmed the CPU has the features; nothing else
//! in the crate calls them directly.

use std::arch::x86_64::*;

pub(super) fn has_avx2() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

pub(super) fn has_avx512() -> bool {
    is_x86_feature_detected!("avx512f")
}

pub(super) fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    // SAFETY: only reachable after `has_avx2()` returned true; lengths checked above.
    unsafe { dot_avx2_impl(a, b) }
}

pub(super) fn l2sq_avx2(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    // SAFETY: only reachable after `has_avx2()` returned true; lengths checked above.
    unsafe { l2sq_avx2_impl(a, b) }
}

pub(super) fn dot_avx512(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    // SAFETY: only reachable after `has_avx512()` returned true; lengths checked above.
    unsafe { dot_avx512_impl(a, b) }
}

pub(super) fn l2sq_avx512(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    // SAFETY: only reachable after `has_avx512()` returned true; lengths checked above.
    unsafe { l2sq_avx512_impl(a, b) }
}

/// Sum of the 8 lanes.
#[target_feature(enable = "avx2,fma")]
unsafe fn hsum256(v: __m256) -> f32 {
    let pair = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let quad = _mm_add_ps(pair, _mm_movehl_ps(pair, pair));
    let single = _mm_add_ss(quad, _mm_shuffle_ps(quad, quad, 0b01));
    _mm_cvtss_f32(single)
}

// Four independent accumulators hide the FMA latency (4 cycles, 2 ports);
// 32 floats per iteration covers a 128-d row in four trips.
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2_impl(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len();
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY (whole function): every load reads [i, i + 8) with i + 8 <= n.
    while i + 32 <= n {
        for (lane, sum) in acc.iter_mut().enumerate() {
            let off = i + lane * 8;
            *sum = _mm256_fmadd_ps(
                _mm256_loadu_ps(pa.add(off)),
                _mm256_loadu_ps(pb.add(off)),
                *sum,
            );
        }
        i += 32;
    }
    while i + 8 <= n {
        acc[0] = _mm256_fmadd_ps(
            _mm256_loadu_ps(pa.add(i)),
            _mm256_loadu_ps(pb.add(i)),
            acc[0],
        );
        i += 8;
    }
    let total = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mut sum = hsum256(total);
    while i < n {
        sum += *pa.add(i) * *pb.add(i);
        i += 1;
    }
    sum
}

#[target_feature(enable = "avx2,fma")]
unsafe fn l2sq_avx2_impl(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len();
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY (whole function): every load reads [i, i + 8) with i + 8 <= n.
    while i + 32 <= n {
        for (lane, sum) in acc.iter_mut().enumerate() {
            let off = i + lane * 8;
            let d = _mm256_sub_ps(_mm256_loadu_ps(pa.add(off)), _mm256_loadu_ps(pb.add(off)));
            *sum = _mm256_fmadd_ps(d, d, *sum);
        }
        i += 32;
    }
    while i + 8 <= n {
        let d = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
        acc[0] = _mm256_fmadd_ps(d, d, acc[0]);
        i += 8;
    }
    let total = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mut sum = hsum256(total);
    while i < n {
        let d = *pa.add(i) - *pb.add(i);
        sum += d * d;
        i += 1;
    }
    sum
}

// The tail is one masked load instead of a scalar loop: AVX-512 masks make
// lengths like 383 cost the same as 384.
#[target_feature(enable = "avx512f")]
unsafe fn dot_avx512_impl(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len();
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc0 = _mm512_setzero_ps();
    let mut acc1 = _mm512_setzero_ps();
    let mut i = 0;
    // SAFETY (whole function): full loads read [i, i + 16) with i + 16 <= n;
    // the masked load touches only the `n - i` lanes its mask enables.
    while i + 32 <= n {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)), acc0);
        acc1 = _mm512_fmadd_ps(
            _mm512_loadu_ps(pa.add(i + 16)),
            _mm512_loadu_ps(pb.add(i + 16)),
            acc1,
        );
        i += 32;
    }
    while i + 16 <= n {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)), acc0);
        i += 16;
    }
    if i < n {
        let mask: __mmask16 = (1u16 << (n - i)) - 1;
        let x = _mm512_maskz_loadu_ps(mask, pa.add(i));
        let y = _mm512_maskz_loadu_ps(mask, pb.add(i));
        acc1 = _mm512_fmadd_ps(x, y, acc1);
    }
    _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1))
}

#[target_feature(enable = "avx512f")]
unsafe fn l2sq_avx512_impl(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len();
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc0 = _mm512_setzero_ps();
    let mut acc1 = _mm512_setzero_ps();
    let mut i = 0;
    // SAFETY (whole function): as in `dot_avx512_impl`.
    while i + 32 <= n {
        let d0 = _mm512_sub_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)));
        let d1 = _mm512_sub_ps(
            _mm512_loadu_ps(pa.add(i + 16)),
            _mm512_loadu_ps(pb.add(i + 16)),
        );
        acc0 = _mm512_fmadd_ps(d0, d0, acc0);
        acc1 = _mm512_fmadd_ps(d1, d1, acc1);
        i += 32;
    }
    while i + 16 <= n {
        let d = _mm512_sub_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)));
        acc0 = _mm512_fmadd_ps(d, d, acc0);
        i += 16;
    }
    if i < n {
        let mask: __mmask16 = (1u16 << (n - i)) - 1;
        let d = _mm512_sub_ps(
            _mm512_maskz_loadu_ps(mask, pa.add(i)),
            _mm512_maskz_loadu_ps(mask, pb.add(i)),
        );
        acc1 = _mm512_fmadd_ps(d, d, acc1);
    }
    _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1))
}

/// Pulls the cache lines of an upcoming row toward L1 while the current
/// distance is computed; a hint only, it never faults.
#[inline]
pub(super) fn prefetch(row: &[f32]) {
    prefetch_lines::<_MM_HINT_T0>(row)
}

#[inline]
pub(super) fn prefetch_to_l2(row: &[f32]) {
    prefetch_lines::<_MM_HINT_T1>(row)
}

#[inline]
pub(super) fn prefetch_for_write(row: &[f32]) {
    prefetch_lines::<_MM_HINT_ET0>(row)
}

#[inline(always)]
fn prefetch_lines<const HINT: i32>(row: &[f32]) {
    let base = row.as_ptr() as *const i8;
    let bytes = std::mem::size_of_val(row);
    let mut off = 0;
    while off < bytes {
        // SAFETY: prefetch is a hint that never faults; the address stays inside `row`.
        unsafe { _mm_prefetch::<HINT>(base.add(off)) };
        off += 64;
    }
}

#[inline(always)]
pub(super) fn prefetch_line(addr: *const u8) {
    // SAFETY: prefetch is a hint that never faults, whatever the address.
    unsafe { _mm_prefetch(addr as *const i8, _MM_HINT_T0) };
}
