//! Distance metrics and their kernels.
//!
//! Two kernels exist per instruction set — dot product and squared L2 — and
//! every metric is built from them:
//!
//! | metric      | distance (lower is closer) | score (higher is closer) |
//! |-------------|----------------------------|--------------------------|
//! | `Euclidean` | `‖a − b‖²` (squared L2)    | `−‖a − b‖²`              |
//! | `Cosine`    | `1 − a·b`                  | `a·b` (cosine similarity)|
//! | `Dot`       | `−a·b`                     | `a·b`                    |
//!
//! Cosine vectors are normalised to unit length once, when they are inserted
//! or queried, so cosine distance is a plain dot product in the hot loop.
//!
//! The kernel set is chosen once per process ([`Kernels::active`]): the best
//! path the CPU supports, or the one forced by `HNSW_GNN_SIMD=scalar|avx2|avx512|neon`
//! (a forced path the CPU lacks falls back to the best available one, with a
//! warning on stderr). The graph code never knows which path runs.
//!
//! | file | holds |
//! |---|---|
//! | `mod.rs` | `Metric`, `SimdPath`, `Kernels` and the dispatcher, `DistanceFn`, vector validation |
//! | `scalar.rs` | the reference kernels every SIMD path is tested against |
//! | `x86.rs` | AVX2+FMA and AVX-512 kernels, prefetch |
//! | `arm.rs` | NEON kernels |

#[cfg(target_arch = "aarch64")]
mod arm;
mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86;

use crate::error::{Error, Result};
use std::sync::OnceLock;

/// Longest vector accepted anywhere (index, file, query).
pub const MAX_DIMENSIONS: usize = 65_536;

/// How distance between two vectors is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    Cosine,
    Euclidean,
    Dot,
}

impl Metric {
    pub fn parse(name: &str) -> Result<Metric> {
        match name {
            "cosine" => Ok(Metric::Cosine),
            "euclidean" | "l2" => Ok(Metric::Euclidean),
            "dot" | "ip" => Ok(Metric::Dot),
            other => Err(Error::invalid_argument(format!(
                "unknown metric {other:?}; expected \"cosine\", \"euclidean\" or \"dot\""
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::Euclidean => "euclidean",
            Metric::Dot => "dot",
        }
    }

    /// The user-facing score for a distance: higher is closer.
    pub fn score(self, distance: f32) -> f32 {
        match self {
            Metric::Cosine => 1.0 - distance,
            Metric::Euclidean | Metric::Dot => -distance,
        }
    }

    /// Whether stored and query vectors are normalised to unit length.
    pub fn normalizes(self) -> bool {
        self == Metric::Cosine
    }
}

/// An instruction-set path for the kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimdPath {
    Scalar,
    Avx2,
    Avx512,
    Neon,
}

impl SimdPath {
    pub const ALL: [SimdPath; 4] = [
        SimdPath::Scalar,
        SimdPath::Avx2,
        SimdPath::Avx512,
        SimdPath::Neon,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SimdPath::Scalar => "scalar",
            SimdPath::Avx2 => "avx2",
            SimdPath::Avx512 => "avx512",
            SimdPath::Neon => "neon",
        }
    }

    fn parse(name: &str) -> Option<SimdPath> {
        SimdPath::ALL.into_iter().find(|path| path.name() == name)
    }
}

type Kernel = fn(&[f32], &[f32]) -> f32;

/// The dot and squared-L2 kernels of one instruction-set path.
#[derive(Clone, Copy, Debug)]
pub struct Kernels {
    pub path: SimdPath,
    pub dot: Kernel,
    pub l2sq: Kernel,
}

impl Kernels {
    /// The kernels of `path`, or `None` when this CPU cannot run them.
    pub fn for_path(path: SimdPath) -> Option<Kernels> {
        match path {
            SimdPath::Scalar => Some(Kernels {
                path,
                dot: scalar::dot,
                l2sq: scalar::l2sq,
            }),
            #[cfg(target_arch = "x86_64")]
            SimdPath::Avx2 if x86::has_avx2() => Some(Kernels {
                path,
                dot: x86::dot_avx2,
                l2sq: x86::l2sq_avx2,
            }),
            #[cfg(target_arch = "x86_64")]
            SimdPath::Avx512 if x86::has_avx512() => Some(Kernels {
                path,
                dot: x86::dot_avx512,
                l2sq: x86::l2sq_avx512,
            }),
            #[cfg(target_arch = "aarch64")]
            SimdPath::Neon => Some(Kernels {
                path,
                dot: arm::dot_neon,
                l2sq: arm::l2sq_neon,
            }),
            _ => None,
        }
    }

    /// Every path this CPU can run, scalar first.
    pub fn available() -> Vec<Kernels> {
        SimdPath::ALL
            .into_iter()
            .filter_map(Kernels::for_path)
            .collect()
    }

    /// The process-wide kernels, chosen on first use.
    pub fn active() -> &'static Kernels {
        static ACTIVE: OnceLock<Kernels> = OnceLock::new();
        ACTIVE.get_or_init(|| {
            let best = *Kernels::available()
                .last()
                .expect("scalar kernels always exist");
            let Ok(forced) = std::env::var("HNSW_GNN_SIMD") else {
                return best;
            };
            match SimdPath::parse(forced.trim()) {
                Some(path) => Kernels::for_path(path).unwrap_or_else(|| {
                    eprintln!(
                        "hnsw-gnn: HNSW_GNN_SIMD={forced} is not supported by this CPU; using {}",
                        best.path.name()
                    );
                    best
                }),
                None => {
                    eprintln!(
                        "hnsw-gnn: unknown HNSW_GNN_SIMD={forced:?}; using {}",
                        best.path.name()
                    );
                    best
                }
            }
        })
    }
}

/// A metric bound to a kernel set: what the graph calls in its hot loop.
#[derive(Clone, Copy, Debug)]
pub struct DistanceFn {
    kernel: Kernel,
    // distance = offset + sign · kernel(a, b); one form for all three metrics
    // keeps the hot loop free of a match.
    offset: f32,
    sign: f32,
}

impl DistanceFn {
    pub fn new(metric: Metric, kernels: &Kernels) -> DistanceFn {
        match metric {
            Metric::Euclidean => DistanceFn {
                kernel: kernels.l2sq,
                offset: 0.0,
                sign: 1.0,
            },
            Metric::Cosine => DistanceFn {
                kernel: kernels.dot,
                offset: 1.0,
                sign: -1.0,
            },
            Metric::Dot => DistanceFn {
                kernel: kernels.dot,
                offset: 0.0,
                sign: -1.0,
            },
        }
    }

    #[inline(always)]
    pub fn distance(&self, a: &[f32], b: &[f32]) -> f32 {
        self.offset + self.sign * (self.kernel)(a, b)
    }
}

/// Hints the CPU to load `row` into cache; a no-op where unsupported.
#[inline(always)]
pub fn prefetch(row: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    x86::prefetch(row);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

/// Hints the CPU to load `row` into L2 (not L1): for rows needed a while
/// from now, ahead of a streaming loop.
#[inline(always)]
pub fn prefetch_to_l2(row: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    x86::prefetch_to_l2(row);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

/// Hints the CPU to fetch `row`'s cache lines in a writable state, so a
/// later store does not wait for the read-for-ownership.
#[inline(always)]
pub fn prefetch_for_write(row: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    x86::prefetch_for_write(row);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

/// Hints the CPU to load the cache line holding `addr`.
#[inline(always)]
pub fn prefetch_bytes(addr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    x86::prefetch_line(addr);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

/// Rejects empty vectors and NaN / ±Inf components; `what` names the vector
/// in the message ("query", "item \"sku-1\"").
pub fn validate(vector: &[f32], dimensions: usize, what: &str) -> Result<()> {
    if vector.is_empty() {
        return Err(Error::InvalidVector(format!("{what} is empty")));
    }
    if vector.len() != dimensions {
        return Err(Error::DimensionMismatch {
            expected: dimensions,
            actual: vector.len(),
        });
    }
    if let Some(i) = vector.iter().position(|x| !x.is_finite()) {
        return Err(Error::InvalidVector(format!(
            "{what} has {} at index {i}",
            vector[i]
        )));
    }
    Ok(())
}

/// Scales `vector` to unit length. A zero vector has no direction, so it is
/// rejected rather than silently matching nothing.
pub fn normalize(vector: &mut [f32], what: &str) -> Result<()> {
    let norm_sq: f64 = vector.iter().map(|&x| (x as f64) * (x as f64)).sum();
    if norm_sq == 0.0 || !norm_sq.is_finite() {
        return Err(Error::InvalidVector(format!(
            "{what} has zero length, which cosine cannot compare"
        )));
    }
    let inv = (1.0 / norm_sq.sqrt()) as f32;
    vector.iter_mut().for_each(|x| *x *= inv);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LENGTHS: [usize; 12] = [0, 1, 7, 15, 16, 17, 31, 127, 128, 383, 384, 1536];

    fn seeded(len: usize, seed: u64) -> Vec<f32> {
        let mut rng = crate::rng::SplitMix64::new(seed);
        (0..len).map(|_| rng.next_f32() * 2.0 - 1.0).collect()
    }

    fn dot_f64(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
    }

    fn l2sq_f64(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
            .sum()
    }

    #[test]
    fn every_available_path_matches_the_f64_reference_on_awkward_lengths() {
        let all = Kernels::available();
        let ran: Vec<_> = all.iter().map(|k| k.path.name()).collect();
        let skipped: Vec<_> = SimdPath::ALL
            .iter()
            .filter(|p| !all.iter().any(|k| k.path == **p))
            .map(|p| p.name())
            .collect();
        // Written past the test harness's capture so every run shows it.
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SIMD kernels tested against the reference: {ran:?}; skipped, the CPU lacks them: {skipped:?}");
        for kernels in &all {
            for (seed, &len) in LENGTHS.iter().enumerate() {
                let a = seeded(len, seed as u64);
                let b = seeded(len, seed as u64 + 100);
                // f32 summation error grows with length and magnitude.
                let tol = 1e-5 * (len as f64 + 1.0);
                let dot = (kernels.dot)(&a, &b) as f64;
                assert!(
                    (dot - dot_f64(&a, &b)).abs() <= tol,
                    "{:?} dot len {len}",
                    kernels.path
                );
                let l2 = (kernels.l2sq)(&a, &b) as f64;
                assert!(
                    (l2 - l2sq_f64(&a, &b)).abs() <= tol,
                    "{:?} l2sq len {len}",
                    kernels.path
                );
            }
        }
    }

    #[test]
    fn every_available_path_agrees_with_scalar() {
        let scalar = Kernels::for_path(SimdPath::Scalar).unwrap();
        for kernels in Kernels::available() {
            for len in 0..200 {
                let a = seeded(len, 7 + len as u64);
                let b = seeded(len, 9_000 + len as u64);
                let tol = 1e-5 * (len as f32 + 1.0);
                assert!(((kernels.dot)(&a, &b) - (scalar.dot)(&a, &b)).abs() <= tol);
                assert!(((kernels.l2sq)(&a, &b) - (scalar.l2sq)(&a, &b)).abs() <= tol);
            }
        }
    }

    #[test]
    fn misaligned_slices_give_the_same_result() {
        let base = seeded(400, 3);
        let other = seeded(400, 4);
        for kernels in Kernels::available() {
            let want = dot_f64(&base[1..384], &other[3..386]);
            let got = (kernels.dot)(&base[1..384], &other[3..386]) as f64;
            assert!((got - want).abs() < 1e-3, "{:?}", kernels.path);
        }
    }

    #[test]
    fn metrics_turn_kernels_into_distances_and_scores() {
        let k = Kernels::for_path(SimdPath::Scalar).unwrap();
        let a = [1.0, 0.0];
        let b = [0.0, 1.0];
        assert_eq!(DistanceFn::new(Metric::Euclidean, &k).distance(&a, &b), 2.0);
        assert_eq!(DistanceFn::new(Metric::Cosine, &k).distance(&a, &a), 0.0);
        assert_eq!(DistanceFn::new(Metric::Cosine, &k).distance(&a, &b), 1.0);
        assert_eq!(
            DistanceFn::new(Metric::Dot, &k).distance(&[2.0, 0.0], &a),
            -2.0
        );
        assert_eq!(Metric::Cosine.score(0.25), 0.75);
        assert_eq!(Metric::Euclidean.score(2.0), -2.0);
    }

    #[test]
    fn validation_names_the_problem() {
        assert_eq!(
            validate(&[1.0; 3], 4, "query"),
            Err(Error::DimensionMismatch {
                expected: 4,
                actual: 3
            })
        );
        assert!(matches!(
            validate(&[], 4, "query"),
            Err(Error::InvalidVector(_))
        ));
        let err = validate(&[1.0, f32::NAN], 2, "query").unwrap_err();
        assert!(err.to_string().contains("NaN at index 1"), "{err}");
        let mut zero = [0.0; 3];
        assert!(matches!(
            normalize(&mut zero, "query"),
            Err(Error::InvalidVector(_))
        ));
        let mut v = [3.0, 4.0];
        normalize(&mut v, "query").unwrap();
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
    }

    #[test]
    fn forced_path_env_var_is_honoured_when_supported() {
        let active = Kernels::active();
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "active SIMD path: {} (HNSW_GNN_SIMD={:?})",
            active.path.name(),
            std::env::var("HNSW_GNN_SIMD").ok()
        );
        if let Ok(forced) = std::env::var("HNSW_GNN_SIMD") {
            if let Some(path) = SimdPath::parse(&forced) {
                if Kernels::for_path(path).is_some() {
                    assert_eq!(active.path, path);
                }
            }
        }
    }
}
