//! Dense products of the layers, on register-tiled kernels: `a · b` with
//! `b` (a layer's weights) packed once into column panels, and `aᵀ · g`
//! (a weight gradient) reduced over the rows of two tall matrices.
//!
//! The shapes here are tall and narrow — a row per node (100k), a layer's
//! width of columns (64, 128) and a short inner dimension (128) — where a
//! general SGEMM spends much of its time packing and on edges. So the `a`
//! operand is never packed: a tile reads `ROWS` rows of `a` in place and
//! broadcasts one element of each per step, while `b`'s panel row is a few
//! vector loads; `ROWS × VECTORS` accumulators stay in registers for the
//! whole inner dimension (AVX-512: 6 × 4 zmm = a 6 × 64 tile).
//!
//! The kernels follow the instruction-set path `distance::Kernels::active()`
//! chose (`HNSW_GNN_SIMD` forces one): AVX-512, AVX2+FMA, or a portable
//! kernel the compiler vectorises for the baseline target (SSE2, NEON).
//! Every path is tested against an `f64` reference.
//!
//! | file | holds |
//! |---|---|
//! | `mod.rs` | `Tiling`, `PackedMatrix`, the parallel drivers `multiply` and `transposed_multiply` |
//! | `x86.rs` | AVX2+FMA and AVX-512 tiles, and the FMA-peak probe |
//! | `portable.rs` | the portable tile |

mod portable;
#[cfg(target_arch = "x86_64")]
mod x86;

use crate::distance::{prefetch_for_write, prefetch_to_l2, Kernels, SimdPath};
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, CowArray, Ix2, ShapeBuilder};
use rayon::prelude::*;
use std::mem::MaybeUninit;
use std::ops::Range;

/// The register tile of one instruction-set path: `rows` rows of the
/// output by up to `vectors` vectors of `lanes` columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tiling {
    pub path: SimdPath,
    pub rows: usize,
    pub lanes: usize,
    pub vectors: usize,
}

impl Tiling {
    pub fn for_path(path: SimdPath) -> Tiling {
        let (rows, lanes, vectors) = match path {
            SimdPath::Avx512 => (6, 16, 4),
            SimdPath::Avx2 => (6, 8, 2),
            SimdPath::Scalar | SimdPath::Neon => (4, 8, 2),
        };
        Tiling {
            path,
            rows,
            lanes,
            vectors,
        }
    }

    /// The tiling of the process-wide kernel path.
    pub fn active() -> Tiling {
        Tiling::for_path(Kernels::active().path)
    }

    /// Columns one panel (one tile) covers.
    pub fn panel(&self) -> usize {
        self.lanes * self.vectors
    }

    /// Runs one tile of `rows ≤ self.rows` output rows.
    fn run(&self, rows: usize, tile: &Tile) {
        debug_assert!(rows >= 1 && rows <= self.rows);
        debug_assert!(tile.cols >= 1 && tile.cols <= self.panel());
        let vectors = tile.cols.div_ceil(self.lanes);
        match self.path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a `Tiling` of an x86 path is only built from a path
            // `Kernels::for_path` accepted, i.e. after run-time detection
            // (tests build one only for `Kernels::available()` paths); the
            // pointers of `tile` are valid as its contract states.
            SimdPath::Avx512 => unsafe { x86::tile_avx512(rows, vectors, tile) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above, for AVX2+FMA.
            SimdPath::Avx2 => unsafe { x86::tile_avx2(rows, vectors, tile) },
            // SAFETY: the portable tile needs no CPU feature; pointers as above.
            _ => unsafe { portable::tile(rows, vectors, tile) },
        }
    }
}

/// One tile: `c[r, j] (+)= Σ_p a(r, p) · b(p, j)` for `r < rows` and
/// `j < cols`, where `a(r, p) = *a.add(r * a_row + p * a_depth)` and
/// `b(p, j) = *b.add(p * b_row + j)`.
///
/// Contract (what every kernel may assume): `a(r, p)` is readable for
/// `r < rows, p < depth`; `b(p, j)` for `p < depth, j < cols` (the kernels
/// load lanes `j ≥ cols` only under a mask); `c[r * c_row + j]` is writable
/// for `r < rows, j < cols` and, when `accumulate`, initialised.
pub(crate) struct Tile {
    pub depth: usize,
    pub a: *const f32,
    pub a_row: usize,
    pub a_depth: usize,
    pub b: *const f32,
    pub b_row: usize,
    pub cols: usize,
    pub c: *mut f32,
    pub c_row: usize,
    pub accumulate: bool,
}

/// A `k × n` right-hand operand laid out for one path's tiles: panels of
/// `tiling.panel()` columns, each `k` rows of `panel` floats (zero-padded
/// past `n`), so a tile reads one contiguous run per step.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedMatrix {
    tiling: Tiling,
    depth: usize,
    cols: usize,
    data: Vec<f32>,
}

impl PackedMatrix {
    /// `b` packed for the active path.
    pub fn new(b: ArrayView2<'_, f32>) -> PackedMatrix {
        PackedMatrix::for_tiling(Tiling::active(), b)
    }

    pub fn for_tiling(tiling: Tiling, b: ArrayView2<'_, f32>) -> PackedMatrix {
        let (depth, cols) = b.dim();
        let panel = tiling.panel();
        let panels = cols.div_ceil(panel);
        let mut data = vec![0.0f32; panels * depth * panel];
        for (q, packed) in data.chunks_exact_mut((depth * panel).max(1)).enumerate() {
            let first = q * panel;
            let width = panel.min(cols - first);
            for (p, row) in packed.chunks_exact_mut(panel).enumerate() {
                for (j, value) in row[..width].iter_mut().enumerate() {
                    *value = b[[p, first + j]];
                }
            }
        }
        PackedMatrix {
            tiling,
            depth,
            cols,
            data,
        }
    }

    /// Rows of the operand (the inner dimension of the product).
    pub fn depth(&self) -> usize {
        self.depth
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    fn panel(&self, q: usize) -> &[f32] {
        let size = self.depth * self.tiling.panel();
        &self.data[q * size..(q + 1) * size]
    }
}

/// Inner-dimension block: a tile's `b` panel (`DEPTH_BLOCK × 64` floats,
/// 128 KB) stays in L2 while the row groups pass over it.
const DEPTH_BLOCK: usize = 512;

/// `a · b` for `b` packed by [`PackedMatrix`], in parallel over row blocks.
/// Every output element is written once, never read first.
///
/// Panics when `a.ncols() != b.depth()` (callers check shapes).
pub fn multiply(a: ArrayView2<'_, f32>, b: &PackedMatrix) -> Array2<f32> {
    assert_eq!(a.ncols(), b.depth, "inner dimensions of a product");
    let (rows, cols) = (a.nrows(), b.cols);
    if rows == 0 || cols == 0 || b.depth == 0 {
        return Array2::zeros((rows, cols));
    }
    let mut output = super::buffers::matrix(rows, cols);
    multiply_into(a, b, output.view_mut());
    output
}

/// [`multiply`] into an existing view with contiguous rows (such as a
/// block of columns of a wider matrix), overwriting it.
pub fn multiply_into(a: ArrayView2<'_, f32>, b: &PackedMatrix, output: ArrayViewMut2<'_, f32>) {
    multiply_to(a, b, 0..b.cols, output, false)
}

/// Columns `columns` of `a · b` into `output` (`a.nrows() × columns.len()`,
/// rows contiguous), from the panels `b` was packed into once: for a
/// product made a block of columns at a time, to hold less of it.
///
/// Panics when `columns` reaches past `b`'s columns.
pub fn multiply_columns_into(
    a: ArrayView2<'_, f32>,
    b: &PackedMatrix,
    columns: Range<usize>,
    output: ArrayViewMut2<'_, f32>,
) {
    assert!(
        columns.start <= columns.end && columns.end <= b.cols,
        "columns {columns:?} of a product with {} columns",
        b.cols
    );
    multiply_to(a, b, columns, output, false)
}

/// `output += a · b`: a second product summed into the first in the same
/// pass (GraphSAGE's self and neighbour terms), instead of a separate sum.
pub fn multiply_add_into(a: ArrayView2<'_, f32>, b: &PackedMatrix, output: ArrayViewMut2<'_, f32>) {
    multiply_to(a, b, 0..b.cols, output, true)
}

fn multiply_to(
    a: ArrayView2<'_, f32>,
    b: &PackedMatrix,
    columns: Range<usize>,
    mut output: ArrayViewMut2<'_, f32>,
    accumulate: bool,
) {
    assert_eq!(a.ncols(), b.depth, "inner dimensions of a product");
    assert_eq!(
        output.dim(),
        (a.nrows(), columns.len()),
        "output shape of a product"
    );
    if b.depth == 0 {
        if !accumulate {
            output.fill(0.0);
        }
        return;
    }
    if output.is_empty() {
        return;
    }
    assert!(
        output.strides()[1] == 1 && output.strides()[0] >= 0,
        "output rows must be contiguous"
    );
    let (rows, cols, row_stride) = (output.nrows(), output.ncols(), output.strides()[0] as usize);
    // SAFETY: the same memory, shape and strides as `output`, which this
    // function borrows mutably; initialised f32 may be viewed as
    // MaybeUninit<f32> (same layout) and is only written with initialised
    // values.
    let uninit = unsafe {
        ArrayViewMut2::from_shape_ptr(
            (rows, cols).strides((row_stride, 1)),
            output.as_mut_ptr() as *mut MaybeUninit<f32>,
        )
    };
    multiply_into_uninit(a, b, columns, uninit, accumulate);
}

/// `output (+)= a · b`; without `accumulate`, `output` is only written.
fn multiply_into_uninit(
    a: ArrayView2<'_, f32>,
    b: &PackedMatrix,
    columns: Range<usize>,
    output: ArrayViewMut2<'_, MaybeUninit<f32>>,
    accumulate: bool,
) {
    let a = rows_contiguous(a);
    let tiling = b.tiling;
    let rows = a.nrows();
    let threads = rayon::current_num_threads().max(1);
    // Enough blocks to balance the threads, each a whole number of tiles.
    let block = rows
        .div_ceil(threads * 8)
        .max(tiling.rows * 64)
        .next_multiple_of(tiling.rows);
    let mut output = output;
    let out_blocks: Vec<_> = output
        .axis_chunks_iter_mut(Axis(0), block)
        .zip(a.axis_chunks_iter(Axis(0), block))
        .collect();
    out_blocks
        .into_par_iter()
        .for_each(|(out, a)| multiply_block(a, b, columns.clone(), out, accumulate));
}

/// How many tile groups (of `Tiling::rows` rows) ahead [`multiply`]
/// prefetches its input rows and its output rows.
const READ_AHEAD_GROUPS: usize = 12;
const WRITE_AHEAD_GROUPS: usize = 4;

/// One row block of [`multiply`], on the calling thread.
fn multiply_block(
    a: ArrayView2<'_, f32>,
    b: &PackedMatrix,
    columns: Range<usize>,
    mut out: ArrayViewMut2<'_, MaybeUninit<f32>>,
    accumulate: bool,
) {
    let tiling = b.tiling;
    let panel = tiling.panel();
    let (rows, depth, cols) = (a.nrows(), b.depth, columns.len());
    // The panels the columns fall in.
    let panels = columns.start / panel..columns.end.div_ceil(panel);
    let a_row = a.strides()[0] as usize;
    let c_row = out.strides()[0] as usize;
    let (a_ptr, c_ptr) = (a.as_ptr(), out.as_mut_ptr() as *mut f32);
    for first_row in (0..rows).step_by(tiling.rows) {
        let tile_rows = tiling.rows.min(rows - first_row);
        // Streams from memory: `a`'s rows a dozen groups ahead into L2
        // and the output rows a few groups ahead for writing, so neither the
        // loads nor the stores' read-for-ownership stall a tile (measured:
        // ~130 → ~185 GFLOPS on the 100k × 128 · 128 × 64 product, 2
        // threads, AVX-512; the hardware prefetcher alone is not enough).
        let read_ahead = first_row + READ_AHEAD_GROUPS * tiling.rows;
        let write_ahead = first_row + WRITE_AHEAD_GROUPS * tiling.rows;
        for r in 0..tiling.rows {
            if read_ahead + r < rows {
                // SAFETY: row `read_ahead + r` of `a` (< rows), `depth` long.
                let row = unsafe {
                    std::slice::from_raw_parts(a_ptr.add((read_ahead + r) * a_row), depth)
                };
                prefetch_to_l2(row);
            }
            if write_ahead + r < rows {
                // SAFETY: row `write_ahead + r` of the output, `cols` long;
                // only its address is used.
                let row = unsafe {
                    std::slice::from_raw_parts(c_ptr.add((write_ahead + r) * c_row), cols)
                };
                prefetch_for_write(row);
            }
        }
        for first_depth in (0..depth).step_by(DEPTH_BLOCK) {
            let block_depth = DEPTH_BLOCK.min(depth - first_depth);
            for q in panels.clone() {
                // This panel's share of the columns, from `first` on.
                let first = columns.start.max(q * panel);
                let last = columns.end.min((q + 1) * panel);
                let tile = Tile {
                    depth: block_depth,
                    // SAFETY (pointer arithmetic): offsets stay inside `a`
                    // (row < rows, column < depth) and `out` (row < rows,
                    // column < cols); the tile reads and writes only there.
                    a: unsafe { a_ptr.add(first_row * a_row + first_depth) },
                    a_row,
                    a_depth: 1,
                    b: b.panel(q)[first_depth * panel + (first - q * panel)..].as_ptr(),
                    b_row: panel,
                    cols: last - first,
                    // SAFETY: as above.
                    c: unsafe { c_ptr.add(first_row * c_row + (first - columns.start)) },
                    c_row,
                    accumulate: accumulate || first_depth > 0,
                };
                tiling.run(tile_rows, &tile);
            }
        }
    }
}

/// Rows taken at a time by [`transposed_multiply`]: the `a` and `g` rows
/// of one block (256 × (128 + 64) floats = 192 KB) stay in L2 while every
/// output tile passes over them.
const REDUCTION_BLOCK: usize = 256;
/// Rows per partial sum: fixed, so the result does not depend on the
/// thread count.
const REDUCTION_PART: usize = 4096;

/// `aᵀ · g` for `a` of shape `m × k` and `g` of shape `m × n`: the weight
/// gradient of a linear map, reduced over the `m` rows in parallel.
///
/// Panics when the row counts differ (callers check shapes).
pub fn transposed_multiply(a: ArrayView2<'_, f32>, g: ArrayView2<'_, f32>) -> Array2<f32> {
    transposed_multiply_with(Tiling::active(), a, g)
}

pub fn transposed_multiply_with(
    tiling: Tiling,
    a: ArrayView2<'_, f32>,
    g: ArrayView2<'_, f32>,
) -> Array2<f32> {
    assert_eq!(a.nrows(), g.nrows(), "rows of a transposed product");
    let (rows, depth, cols) = (a.nrows(), a.ncols(), g.ncols());
    if rows == 0 || depth == 0 || cols == 0 {
        return Array2::zeros((depth, cols));
    }
    let (a, g) = (rows_contiguous(a), rows_contiguous(g));
    let parts: Vec<Vec<f32>> = (0..rows.div_ceil(REDUCTION_PART))
        .into_par_iter()
        .map(|part| {
            let first = part * REDUCTION_PART;
            let last = rows.min(first + REDUCTION_PART);
            let mut partial = vec![0.0f32; depth * cols];
            for start in (first..last).step_by(REDUCTION_BLOCK) {
                let end = last.min(start + REDUCTION_BLOCK);
                let next = end..last.min(end + REDUCTION_BLOCK);
                accumulate_transposed(
                    tiling,
                    a.slice(ndarray::s![start..end, ..]),
                    g.slice(ndarray::s![start..end, ..]),
                    (
                        a.slice(ndarray::s![next.clone(), ..]),
                        g.slice(ndarray::s![next, ..]),
                    ),
                    &mut partial,
                );
            }
            partial
        })
        .collect();
    let mut parts = parts.into_iter();
    let mut total = parts.next().expect("at least one row");
    for part in parts {
        total.iter_mut().zip(&part).for_each(|(t, p)| *t += p);
    }
    Array2::from_shape_vec((depth, cols), total).expect("depth × cols values")
}

/// `output += aᵀ · g` over one block of rows; `output` is `k × n` row-major.
/// The tiles pass over the block once each, so while they run, the `next`
/// block's rows are fetched into L2, a share per tile.
fn accumulate_transposed(
    tiling: Tiling,
    a: ArrayView2<'_, f32>,
    g: ArrayView2<'_, f32>,
    next: (ArrayView2<'_, f32>, ArrayView2<'_, f32>),
    output: &mut [f32],
) {
    let panel = tiling.panel();
    let (rows, depth, cols) = (a.nrows(), a.ncols(), g.ncols());
    let (a_row, g_row) = (a.strides()[0] as usize, g.strides()[0] as usize);
    assert_eq!(output.len(), depth * cols);
    let panels = cols.div_ceil(panel);
    let tiles = depth.div_ceil(tiling.rows) * panels;
    let next_rows = next.0.nrows();
    for first in (0..depth).step_by(tiling.rows) {
        let tile_rows = tiling.rows.min(depth - first);
        for q in 0..panels {
            let tile_index = first / tiling.rows * panels + q;
            for row in next_rows * tile_index / tiles..next_rows * (tile_index + 1) / tiles {
                for operand in [&next.0, &next.1] {
                    if let Some(values) = operand.row(row).to_slice() {
                        prefetch_to_l2(values);
                    }
                }
            }
            let tile = Tile {
                depth: rows,
                // SAFETY (pointer arithmetic): column `first + r < depth` of
                // `a`, columns `q·panel + j < cols` of `g` and the output;
                // the tile walks `rows` rows of both.
                a: unsafe { a.as_ptr().add(first) },
                a_row: 1,
                a_depth: a_row,
                b: unsafe { g.as_ptr().add(q * panel) },
                b_row: g_row,
                cols: panel.min(cols - q * panel),
                c: output[first * cols + q * panel..].as_mut_ptr(),
                c_row: cols,
                accumulate: true,
            };
            tiling.run(tile_rows, &tile);
        }
    }
}

/// `a · b`, packing `b` for this call (for a `b` used once, such as a
/// transposed weight in a backward pass).
pub fn matmul(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) -> Array2<f32> {
    multiply(a, &PackedMatrix::new(b))
}

/// `a` itself when its rows are contiguous (and in increasing order), else
/// a row-major copy.
fn rows_contiguous(a: ArrayView2<'_, f32>) -> CowArray<'_, f32, Ix2> {
    if a.strides()[1] == 1 && a.strides()[0] >= 0 {
        a.into()
    } else {
        a.as_standard_layout().into_owned().into()
    }
}

/// What [`fma_peak`] measured.
#[derive(Clone, Copy, Debug)]
pub struct FmaPeak {
    pub path: SimdPath,
    pub threads: usize,
    /// Billions of floating-point operations per second, a multiply-add
    /// counted as 2, summed over the threads.
    pub gflops: f64,
}

/// This machine's measured FMA peak: `threads` threads each run twelve
/// independent multiply-add chains on the widest vector unit present
/// (AVX-512, else AVX2+FMA) for about `seconds`. `None` when the CPU has
/// neither. The roofline the GNN benchmark reports its products against.
pub fn fma_peak(seconds: f64, threads: usize) -> Option<FmaPeak> {
    #[cfg(target_arch = "x86_64")]
    {
        let path = [SimdPath::Avx512, SimdPath::Avx2]
            .into_iter()
            .find(|&path| Kernels::for_path(path).is_some())?;
        let wide = path == SimdPath::Avx512;
        let threads = threads.max(1);
        let per_thread: Vec<(f64, f64)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(move || {
                        let start = std::time::Instant::now();
                        let (mut flops, mut sink) = (0u64, 0.0f32);
                        while start.elapsed().as_secs_f64() < seconds {
                            // SAFETY: `path` was detected on this CPU above.
                            let (value, done) = unsafe { x86::fma_chains(wide, 1 << 16) };
                            sink += value;
                            flops += done;
                        }
                        std::hint::black_box(sink);
                        (flops as f64, start.elapsed().as_secs_f64())
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("the probe does not panic"))
                .collect()
        });
        let flops: f64 = per_thread.iter().map(|(f, _)| f).sum();
        let elapsed = per_thread.iter().map(|(_, t)| *t).fold(0.0, f64::max);
        Some(FmaPeak {
            path,
            threads,
            gflops: flops / elapsed / 1e9,
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (seconds, threads);
        None
    }
}

#[cfg(test)]
mod tests;
