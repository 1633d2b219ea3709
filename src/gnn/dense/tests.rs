use super::*;
use crate::rng::SplitMix64;

fn seeded(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
    let mut rng = SplitMix64::new(seed);
    Array2::from_shape_fn((rows, cols), |_| 2.0 * rng.next_f32() - 1.0)
}

/// `a · b` in `f64`, and `Σ |a||b|` per element (the scale of rounding).
fn reference(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) -> (Array2<f64>, Array2<f64>) {
    let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
    let mut exact = Array2::<f64>::zeros((m, n));
    let mut scale = Array2::<f64>::zeros((m, n));
    for i in 0..m {
        for j in 0..n {
            for p in 0..k {
                let product = a[[i, p]] as f64 * b[[p, j]] as f64;
                exact[[i, j]] += product;
                scale[[i, j]] += product.abs();
            }
        }
    }
    (exact, scale)
}

fn assert_close(
    what: &str,
    got: ArrayView2<'_, f32>,
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
) {
    let (exact, scale) = reference(a, b);
    assert_eq!(got.dim(), exact.dim(), "{what}: shape");
    for ((index, &x), (&e, &s)) in got.indexed_iter().zip(exact.iter().zip(&scale)) {
        let error = (x as f64 - e).abs();
        assert!(
            error <= 1e-5 * s + 1e-30,
            "{what}: element {index:?} is {x}, the f64 product {e} (error {error:.3e}, scale {s:.3e})"
        );
    }
}

fn tilings() -> Vec<Tiling> {
    let tilings: Vec<Tiling> = Kernels::available()
        .into_iter()
        .map(|kernels| Tiling::for_path(kernels.path))
        .collect();
    let names: Vec<&str> = tilings.iter().map(|t| t.path.name()).collect();
    eprintln!("dense tiles tested on this CPU: {}", names.join(", "));
    for path in [SimdPath::Avx2, SimdPath::Avx512, SimdPath::Neon] {
        if !names.contains(&path.name()) {
            eprintln!("dense tiles: {} skipped (this CPU lacks it)", path.name());
        }
    }
    tilings
}

// Rows around the tile height, columns around the vector and panel widths,
// depths around the depth block, including the empty and single cases.
const ROWS: [usize; 7] = [0, 1, 5, 6, 7, 13, 97];
const DEPTHS: [usize; 6] = [0, 1, 3, 17, 128, 600];
const COLS: [usize; 10] = [1, 3, 8, 15, 16, 17, 33, 64, 65, 130];

#[test]
fn every_path_multiplies_like_the_f64_product_on_awkward_shapes() {
    for tiling in tilings() {
        for (s, (&m, &k)) in ROWS.iter().zip(DEPTHS.iter().cycle()).enumerate() {
            for &depth in [k, DEPTHS[(s + 3) % DEPTHS.len()]].iter() {
                for &n in &COLS {
                    let a = seeded(m, depth, (m * 1000 + depth * 10 + n) as u64);
                    let b = seeded(depth, n, (n * 7 + depth) as u64);
                    let packed = PackedMatrix::for_tiling(tiling, b.view());
                    let what = format!("{} {m}×{depth}·{depth}×{n}", tiling.path.name());
                    assert_close(
                        &what,
                        multiply(a.view(), &packed).view(),
                        a.view(),
                        b.view(),
                    );
                }
            }
        }
    }
}

#[test]
fn every_path_accepts_strided_operands_and_writes_into_column_blocks() {
    for tiling in tilings() {
        // `a` transposed (columns not contiguous), `b` a transposed view.
        let a_t = seeded(40, 23, 1);
        let b_t = seeded(70, 40, 2);
        let (a, b) = (a_t.t(), b_t.t());
        let packed = PackedMatrix::for_tiling(tiling, b);
        let what = format!("{} strided", tiling.path.name());
        assert_close(&what, multiply(a, &packed).view(), a, b);

        // Into columns 5..75 of a wider matrix: the columns around stay.
        let mut wide = Array2::from_elem((23, 80), 7.0f32);
        multiply_into(a, &packed, wide.slice_mut(ndarray::s![.., 5..75]));
        assert_close(&what, wide.slice(ndarray::s![.., 5..75]), a, b);
        assert!(wide.slice(ndarray::s![.., ..5]).iter().all(|&x| x == 7.0));
        assert!(wide.slice(ndarray::s![.., 75..]).iter().all(|&x| x == 7.0));
    }
}

#[test]
fn every_path_computes_any_window_of_columns_from_the_packed_panels() {
    for tiling in tilings() {
        let a = seeded(29, 37, 3);
        let b = seeded(37, 130, 4);
        let packed = PackedMatrix::for_tiling(tiling, b.view());
        // Windows inside one panel, across panel edges, whole panels, empty.
        for columns in [
            0..130,
            0..32,
            32..64,
            5..37,
            60..70,
            64..128,
            129..130,
            7..7,
        ] {
            let mut out = Array2::from_elem((29, columns.len()), f32::NAN);
            multiply_columns_into(a.view(), &packed, columns.clone(), out.view_mut());
            let what = format!("{} columns {columns:?}", tiling.path.name());
            assert_close(
                &what,
                out.view(),
                a.view(),
                b.slice(ndarray::s![.., columns]),
            );
        }
    }
}

#[test]
fn every_path_computes_transposed_products_like_the_f64_product() {
    for tiling in tilings() {
        // Row counts across the reduction blocks and parts.
        for &m in &[0usize, 1, 7, 255, 257, 4097, 9000] {
            for &(k, n) in &[(1usize, 1usize), (7, 17), (128, 64), (13, 130)] {
                let a = seeded(m, k, (m + k) as u64);
                let g = seeded(m, n, (m * 3 + n) as u64);
                let what = format!("{} ({m}×{k})ᵀ·{m}×{n}", tiling.path.name());
                let got = transposed_multiply_with(tiling, a.view(), g.view());
                assert_close(&what, got.view(), a.t(), g.view());
            }
        }
        // A transposed view as `a` (its rows are not contiguous).
        let a_t = seeded(9, 300, 5);
        let g = seeded(300, 20, 6);
        let got = transposed_multiply_with(tiling, a_t.t(), g.view());
        assert_close("strided transposed", got.view(), a_t.view(), g.view());
    }
}

#[test]
fn transposed_products_do_not_depend_on_the_thread_count() {
    let a = seeded(20_000, 31, 8);
    let g = seeded(20_000, 9, 9);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| transposed_multiply(a.view(), g.view()));
    let three = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap()
        .install(|| transposed_multiply(a.view(), g.view()));
    assert_eq!(one, three);
}

#[test]
fn the_fma_probe_counts_the_work_it_did() {
    let Some(report) = fma_peak(0.02, 1) else {
        eprintln!("fma probe: skipped (no AVX2+FMA or AVX-512 on this CPU)");
        return;
    };
    eprintln!("fma probe: {report:?}");
    assert!(report.gflops > 0.1, "{report:?}");
}
