//! The portable tile: plain `f32` arrays shaped like 8-lane vectors, which
//! the compiler vectorises for the baseline target (SSE2 on x86-64, NEON on
//! AArch64). The reference every SIMD tile is tested against is the `f64`
//! product in the tests, not this.

use super::Tile;

const LANES: usize = 8;

/// # Safety
/// `tile` meets the contract of [`Tile`]; `1 ≤ rows ≤ 4`,
/// `vectors = ⌈tile.cols / 8⌉ ≤ 2`.
pub(super) unsafe fn tile(rows: usize, vectors: usize, tile: &Tile) {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        match (rows, vectors) {
            (1, 1) => kernel::<1, 1>(tile),
            (2, 1) => kernel::<2, 1>(tile),
            (3, 1) => kernel::<3, 1>(tile),
            (4, 1) => kernel::<4, 1>(tile),
            (1, 2) => kernel::<1, 2>(tile),
            (2, 2) => kernel::<2, 2>(tile),
            (3, 2) => kernel::<3, 2>(tile),
            (4, 2) => kernel::<4, 2>(tile),
            shape => unreachable!("no tile of shape {shape:?}"),
        }
    }
}

unsafe fn kernel<const R: usize, const V: usize>(t: &Tile) {
    let cols = t.cols;
    let mut acc = [[[0.0f32; LANES]; V]; R];
    let (mut a, mut b) = (t.a, t.b);
    for _ in 0..t.depth {
        let mut row = [[0.0f32; LANES]; V];
        if cols == V * LANES {
            for (v, lanes) in row.iter_mut().enumerate() {
                for (l, x) in lanes.iter_mut().enumerate() {
                    // SAFETY: `b(p, j)` is readable for j < cols = V·LANES.
                    *x = unsafe { *b.add(v * LANES + l) };
                }
            }
        } else {
            for j in 0..cols {
                // SAFETY: `b(p, j)` is readable for j < cols.
                row[j / LANES][j % LANES] = unsafe { *b.add(j) };
            }
        }
        for (r, sums) in acc.iter_mut().enumerate() {
            // SAFETY: `a(r, p)` is readable for r < rows = R, p < depth.
            let x = unsafe { *a.add(r * t.a_row) };
            for (sum, lanes) in sums.iter_mut().zip(&row) {
                for (s, &y) in sum.iter_mut().zip(lanes) {
                    // Not `mul_add`: without FMA in the baseline target it
                    // would be a libm call per element.
                    *s += x * y;
                }
            }
        }
        // SAFETY: one step along the inner dimension; dereferenced only
        // while p < depth.
        (a, b) = unsafe { (a.add(t.a_depth), b.add(t.b_row)) };
    }
    for (r, sums) in acc.iter().enumerate() {
        for j in 0..cols {
            // SAFETY: `c[r·c_row + j]` is writable for j < cols (and
            // initialised when accumulating).
            unsafe {
                let out = t.c.add(r * t.c_row + j);
                let value = sums[j / LANES][j % LANES];
                *out = if t.accumulate { *out + value } else { value };
            }
        }
    }
}
