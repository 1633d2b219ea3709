//! aarch64 NEON kernels (NEON is mandatory on aarch64, so no detection).

use std::arch::aarch64::*;

pub(super) fn dot_neon(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    // SAFETY: NEON is part of the aarch64 baseline; lengths checked above.
    unsafe { dot_neon_impl(a, b) }
}

pub(super) fn l2sq_neon(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    // SAFETY: NEON is part of the aarch64 baseline; lengths checked above.
    unsafe { l2sq_neon_impl(a, b) }
}

#[target_feature(enable = "neon")]
unsafe fn dot_neon_impl(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len();
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [vdupq_n_f32(0.0); 4];
    let mut i = 0;
    // SAFETY (whole function): every load reads [i, i + 4) with i + 4 <= n.
    while i + 16 <= n {
        for (lane, sum) in acc.iter_mut().enumerate() {
            let off = i + lane * 4;
            *sum = vfmaq_f32(*sum, vld1q_f32(pa.add(off)), vld1q_f32(pb.add(off)));
        }
        i += 16;
    }
    while i + 4 <= n {
        acc[0] = vfmaq_f32(acc[0], vld1q_f32(pa.add(i)), vld1q_f32(pb.add(i)));
        i += 4;
    }
    let mut sum = vaddvq_f32(vaddq_f32(
        vaddq_f32(acc[0], acc[1]),
        vaddq_f32(acc[2], acc[3]),
    ));
    while i < n {
        sum += *pa.add(i) * *pb.add(i);
        i += 1;
    }
    sum
}

#[target_feature(enable = "neon")]
unsafe fn l2sq_neon_impl(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len();
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [vdupq_n_f32(0.0); 4];
    let mut i = 0;
    // SAFETY (whole function): every load reads [i, i + 4) with i + 4 <= n.
    while i + 16 <= n {
        for (lane, sum) in acc.iter_mut().enumerate() {
            let off = i + lane * 4;
            let d = vsubq_f32(vld1q_f32(pa.add(off)), vld1q_f32(pb.add(off)));
            *sum = vfmaq_f32(*sum, d, d);
        }
        i += 16;
    }
    while i + 4 <= n {
        let d = vsubq_f32(vld1q_f32(pa.add(i)), vld1q_f32(pb.add(i)));
        acc[0] = vfmaq_f32(acc[0], d, d);
        i += 4;
    }
    let mut sum = vaddvq_f32(vaddq_f32(
        vaddq_f32(acc[0], acc[1]),
        vaddq_f32(acc[2], acc[3]),
    ));
    while i < n {
        let d = *pa.add(i) - *pb.add(i);
        sum += d * d;
        i += 1;
    }
    sum
}
