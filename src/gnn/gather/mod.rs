//! The gather of message passing: one destination row is
//! `scale · Σ_k w_k · rows[sources[k]]`, summed in vector registers (one
//! store per row, not one per edge) on the instruction-set path
//! `distance::Kernels::active()` chose, from `f32` or half-precision
//! (IEEE `f16`) source rows.
//!
//! Sources are scattered over memory, so the gather is bound by memory
//! latency, not arithmetic: each call prefetches the rows of the edges
//! `ahead` of it (the caller passes the next edges, across node
//! boundaries) while it sums the current ones; half-precision rows halve
//! the bytes, and 100k × 128 of them (25.6 MB) fit in a 32 MB L3.
//!
//! | file | holds |
//! |---|---|
//! | `mod.rs` | `SourceRows`, `HalfMatrix`, the dispatcher `gather_row` |
//! | `x86.rs` | AVX-512 and AVX2+FMA(+F16C) gathers |
//! | `portable.rs` | the portable gather every SIMD path is tested against |

mod portable;
#[cfg(target_arch = "x86_64")]
mod x86;

use super::quantize::{f16_to_f32, f32_to_f16};
use crate::distance::{Kernels, SimdPath};
use crate::error::{Error, Result};
use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

/// Rows of source features as stored: `f32`, or IEEE half precision (a
/// relative rounding error of at most 2⁻¹¹ per value).
#[derive(Clone, Copy, Debug)]
pub enum SourceRows<'a> {
    F32 { values: &'a [f32], width: usize },
    F16 { values: &'a [u16], width: usize },
}

impl SourceRows<'_> {
    pub fn width(&self) -> usize {
        match *self {
            SourceRows::F32 { width, .. } | SourceRows::F16 { width, .. } => width,
        }
    }

    pub fn rows(&self) -> usize {
        let (len, width) = match *self {
            SourceRows::F32 { values, width } => (values.len(), width),
            SourceRows::F16 { values, width } => (values.len(), width),
        };
        len.checked_div(width).unwrap_or(0)
    }

    /// Start address and length in bytes of row `j`.
    fn row_bytes(&self, j: u32) -> (*const u8, usize) {
        let j = j as usize;
        match *self {
            SourceRows::F32 { values, width } => (
                values[j * width..(j + 1) * width].as_ptr() as *const u8,
                width * 4,
            ),
            SourceRows::F16 { values, width } => (
                values[j * width..(j + 1) * width].as_ptr() as *const u8,
                width * 2,
            ),
        }
    }
}

/// How the rows a layer gathers are stored: `f32`, or rounded to `f16`
/// (half the bytes to move; outputs within about 2⁻¹¹ of their terms'
/// magnitudes of the `f32` result). A property of the `Graph` the layers
/// run on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RowPrecision {
    #[default]
    F32,
    F16,
}

impl RowPrecision {
    pub fn parse(name: &str) -> Result<RowPrecision> {
        match name {
            "f32" => Ok(RowPrecision::F32),
            "f16" => Ok(RowPrecision::F16),
            other => Err(Error::invalid_argument(format!(
                "precision must be 'f32' or 'f16', got {other:?}"
            ))),
        }
    }

    /// From a `Graph`'s options (`{ precision: 'f32' | 'f16' }`).
    pub fn from_options(options: Option<&serde_json::Value>) -> Result<RowPrecision> {
        let reader = crate::options::OptionsReader::new(options, "graph options", &["precision"])?;
        Ok(match reader.text("precision")? {
            Some(name) => RowPrecision::parse(name)?,
            None => RowPrecision::default(),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            RowPrecision::F32 => "f32",
            RowPrecision::F16 => "f16",
        }
    }
}

/// The largest finite `f16`.
pub const MAX_HALF: f32 = 65504.0;

/// A feature matrix stored in half precision: half the bytes to gather.
#[derive(Clone, Debug, PartialEq)]
pub struct HalfMatrix {
    values: Vec<u16>,
    rows: usize,
    cols: usize,
}

impl HalfMatrix {
    /// User features rounded to half precision: refuses a non-finite value
    /// or one beyond `f16`'s range (±65504), naming its row and column.
    pub fn new(matrix: ArrayView2<'_, f32>) -> Result<HalfMatrix> {
        crate::gnn::check_finite(matrix, None)?;
        if let Some(((row, column), value)) =
            matrix.indexed_iter().find(|(_, v)| v.abs() > MAX_HALF)
        {
            return Err(Error::InvalidVector(format!(
                "feature row {row}, column {column} is {value}, beyond half precision's range (±{MAX_HALF})"
            )));
        }
        Ok(HalfMatrix::from_f32(matrix))
    }

    /// `matrix` rounded to the nearest `f16` (values beyond ±65504 become
    /// ±infinity: [`HalfMatrix::new`] checks user input first).
    pub fn from_f32(matrix: ArrayView2<'_, f32>) -> HalfMatrix {
        let (rows, cols) = matrix.dim();
        let matrix = matrix.as_standard_layout();
        let source = matrix.as_slice().expect("standard layout");
        let mut values = vec![0u16; rows * cols];
        let gather = Gather::active();
        values
            .par_chunks_mut(1 << 16)
            .zip(source.par_chunks(1 << 16))
            .for_each(|(half, full)| gather.round_to_half(full, half));
        HalfMatrix { values, rows, cols }
    }

    /// `rows × cols` values filled block by block: `fill(first_row, out)`
    /// writes rows `first_row ..` into `out` (a whole number of `f32`
    /// rows), which are then rounded — for an intermediate (a projection)
    /// that never exists whole in `f32`. In parallel over blocks.
    pub fn from_row_blocks(
        rows: usize,
        cols: usize,
        block_rows: usize,
        fill: impl Fn(usize, &mut [f32]) + Sync,
    ) -> HalfMatrix {
        let mut values = vec![0u16; rows * cols];
        let block = block_rows.max(1) * cols.max(1);
        let gather = Gather::active();
        values
            .par_chunks_mut(block)
            .enumerate()
            .for_each_init(Vec::new, |scratch, (b, half)| {
                scratch.resize(half.len(), 0.0);
                fill(b * block_rows.max(1), scratch);
                gather.round_to_half(scratch, half);
            });
        HalfMatrix { values, rows, cols }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn source_rows(&self) -> SourceRows<'_> {
        SourceRows::F16 {
            values: &self.values,
            width: self.cols,
        }
    }

    /// The values widened back to `f32`.
    pub fn to_f32(&self) -> Array2<f32> {
        Array2::from_shape_vec(
            (self.rows, self.cols),
            self.values.iter().map(|&h| f16_to_f32(h)).collect(),
        )
        .expect("rows × cols values")
    }
}

/// The gather of one instruction-set path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gather {
    pub path: SimdPath,
}

impl Gather {
    /// The gather of `path`, or `None` when this CPU cannot run it (AVX2
    /// also needs F16C for half-precision rows).
    pub fn for_path(path: SimdPath) -> Option<Gather> {
        match path {
            SimdPath::Scalar => Some(Gather { path }),
            #[cfg(target_arch = "x86_64")]
            SimdPath::Avx2 if Kernels::for_path(path).is_some() && x86::has_f16c() => {
                Some(Gather { path })
            }
            #[cfg(target_arch = "x86_64")]
            SimdPath::Avx512 if Kernels::for_path(path).is_some() => Some(Gather { path }),
            _ => None,
        }
    }

    /// The process-wide path's gather (the portable one where the chosen
    /// path has no gather of its own).
    pub fn active() -> Gather {
        Gather::for_path(Kernels::active().path).unwrap_or(Gather {
            path: SimdPath::Scalar,
        })
    }

    /// Every gather this CPU can run, portable first.
    pub fn available() -> Vec<Gather> {
        SimdPath::ALL
            .into_iter()
            .filter_map(Gather::for_path)
            .collect()
    }

    /// `out = scale · Σ_k w_k · rows[sources[k]]` (`w_k = 1` without
    /// weights), overwriting `out`; prefetches the rows of `ahead[k]` while
    /// summing edge `k`.
    ///
    /// Panics when a source is out of range, `weights` is shorter than
    /// `sources` or `out` is not one row wide (callers validated the graph).
    pub fn gather_row(
        &self,
        rows: SourceRows<'_>,
        sources: &[u32],
        weights: Option<&[f32]>,
        scale: f32,
        ahead: &[u32],
        out: &mut [f32],
    ) {
        let width = rows.width();
        assert_eq!(out.len(), width, "output row width");
        if let Some(weights) = weights {
            assert!(weights.len() >= sources.len(), "a weight per edge");
        }
        let count = rows.rows();
        assert!(
            sources.iter().chain(ahead).all(|&j| (j as usize) < count),
            "source rows in range"
        );
        for &j in ahead {
            prefetch_row(&rows, j);
        }
        let (base, row_bytes, half) = match rows {
            SourceRows::F32 { values, width } => (values.as_ptr() as *const u8, width * 4, false),
            SourceRows::F16 { values, width } => (values.as_ptr() as *const u8, width * 2, true),
        };
        // Columns per block: what one path keeps in registers.
        let block_cols = match self.path {
            SimdPath::Avx512 => 128,
            _ => portable::BLOCK,
        };
        for first in (0..width).step_by(block_cols) {
            let block = Block {
                base,
                row_bytes,
                half,
                first,
                cols: block_cols.min(width - first),
                sources,
                weights,
                scale,
                out: out[first..].as_mut_ptr(),
            };
            match self.path {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: a `Gather` of an x86 path exists only after
                // run-time detection (`for_path`); every source is in range
                // (checked above), so the block meets its contract.
                SimdPath::Avx512 => unsafe { x86::gather_block_avx512(&block) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: as above, for AVX2+FMA+F16C (64-column blocks).
                SimdPath::Avx2 => unsafe { x86::gather_block_avx2(&block) },
                // SAFETY: as above; the portable block needs no feature.
                _ => unsafe { portable::gather_block(&block) },
            }
        }
    }
}

/// One column block of a gathered row: columns `first .. first + cols` of
/// `out = scale · Σ_k w_k · row(sources[k])`, where row `j` starts at
/// `base + j · row_bytes` and holds `f32` or (`half`) `f16` values.
///
/// Contract (what every block kernel may assume): every source is a row of
/// the matrix at `base`; the block's columns lie inside each row; `weights`
/// (if any) covers `sources`; `out` is writable for `cols` floats.
struct Block<'a> {
    base: *const u8,
    row_bytes: usize,
    half: bool,
    first: usize,
    cols: usize,
    sources: &'a [u32],
    weights: Option<&'a [f32]>,
    scale: f32,
    out: *mut f32,
}

impl Gather {
    /// `dst[i] = f16(src[i])` (nearest even), with the CPU's conversion
    /// instructions where the path has them.
    pub fn round_to_half(&self, src: &[f32], dst: &mut [u16]) {
        assert_eq!(src.len(), dst.len(), "as many halves as floats");
        match self.path {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: detected with the path (`for_path`); lengths checked.
            SimdPath::Avx512 => unsafe { x86::round_to_half_avx512(src, dst) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the AVX2 gather exists only with F16C; lengths checked.
            SimdPath::Avx2 => unsafe { x86::round_to_half_f16c(src, dst) },
            _ => dst
                .iter_mut()
                .zip(src)
                .for_each(|(h, &x)| *h = f32_to_f16(x)),
        }
    }
}

/// Prefetches every cache line of row `j` (a hint; never faults).
#[inline(always)]
fn prefetch_row(rows: &SourceRows<'_>, j: u32) {
    let (start, bytes) = rows.row_bytes(j);
    let mut offset = 0;
    while offset < bytes {
        // `wrapping_add`: only an address for the hint, inside the row.
        crate::distance::prefetch_bytes(start.wrapping_add(offset));
        offset += 64;
    }
}

/// Random-row read bandwidth in GB/s: the gather's bound. The active
/// gather sums `edges` uniformly random rows of a `rows × width` `f32`
/// matrix (make it larger than L3), 16 edges per destination row with the
/// aggregation's prefetching, in parallel on the current Rayon pool; the
/// best of `repeats` passes (after one warm-up) is reported.
pub fn gather_bandwidth(rows: usize, width: usize, edges: usize, repeats: usize) -> f64 {
    const DEGREE: usize = 16;
    const AHEAD: usize = 16;
    let values = vec![1.0f32; rows * width];
    let mut rng = crate::rng::SplitMix64::new(1);
    let sources: Vec<u32> = (0..edges)
        .map(|_| (rng.next_u64() % rows.max(1) as u64) as u32)
        .collect();
    let gather = Gather::active();
    let source_rows = SourceRows::F32 {
        values: &values,
        width,
    };
    let pass = || {
        let start = std::time::Instant::now();
        let total: f32 = (0..edges.div_ceil(DEGREE))
            .into_par_iter()
            .map_init(
                || vec![0.0f32; width],
                |out, node| {
                    let first = node * DEGREE;
                    let last = edges.min(first + DEGREE);
                    let ahead = &sources[(first + AHEAD).min(edges)..(last + AHEAD).min(edges)];
                    gather.gather_row(source_rows, &sources[first..last], None, 1.0, ahead, out);
                    out[0]
                },
            )
            .sum();
        std::hint::black_box(total);
        start.elapsed().as_secs_f64()
    };
    pass();
    let best = (0..repeats.max(1)).map(|_| pass()).fold(f64::MAX, f64::min);
    (edges * width * 4) as f64 / best / 1e9
}

#[cfg(test)]
mod tests;
