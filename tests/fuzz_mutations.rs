//! The fuzz targets, run deterministically in every `cargo test`: each
//! target's body (`hnsw_gnn::fuzzing::<target>::run`, the function
//! `cargo fuzz` runs) on its seeds (`fuzz/seeds/<target>/`), the
//! crash reproducers kept as regressions (`fuzz/regressions/<target>/`),
//! the minimised corpus (`fuzz/corpus/<target>/`), and a few thousand
//! seeded mutations of them. A target must return for every input, so a
//! panic fails the test; the input that caused it is written under
//! `CARGO_TARGET_TMPDIR` for `cargo fuzz run <target> <file>`.
//!
//! No single allocation may exceed 256 MB ([`MAX_ALLOCATION`]).
//!
//! Every seed must get through its target ([`Reached::Used`]): a format
//! change that leaves the seeds stale fails here, and
//! `cargo test --no-default-features --test fuzz_mutations -- --ignored write_seeds`
//! writes them again.

use hnsw_gnn::fuzzing::{self, Reached, Seed};
use hnsw_gnn::rng::SplitMix64;
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Instant;

type Run = fn(&[u8]) -> Reached;

/// The largest single allocation a target may make, as libFuzzer's
/// `-malloc_limit_mb` (which defaults to its 2 GB RSS limit) checks under
/// `cargo fuzz`: a few bytes of input that make a reader allocate what
/// the input does not hold are a finding. Larger requests fail, which
/// aborts this test binary with "memory allocation of N bytes failed".
const MAX_ALLOCATION: usize = 256 << 20;

/// The system allocator, refusing any one allocation above
/// [`MAX_ALLOCATION`].
struct Limited;

// SAFETY: every call the limit lets through is passed to the system
// allocator unchanged; refusing one returns null, as an allocator may.
unsafe impl GlobalAlloc for Limited {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOCATION {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOCATION {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator (so from System) with
        // this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > MAX_ALLOCATION {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded with the caller's pointer, layout and size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Limited = Limited;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `fuzz/<kind>/<target>/`, by name (none if it is missing).
fn files(kind: &str, target: &str) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = fs::read_dir(fuzz_dir().join(kind).join(target)) else {
        return Vec::new();
    };
    let mut files: Vec<(String, Vec<u8>)> = entries
        .map(|entry| entry.expect("a readable directory").path())
        .filter(|path| path.is_file())
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&path).expect("a readable file"))
        })
        .collect();
    files.sort();
    files
}

/// One mutation of `input`, drawing on `other` for splices; says which.
fn mutate(rng: &mut SplitMix64, input: &mut Vec<u8>, other: &[u8]) -> &'static str {
    let at = |rng: &mut SplitMix64, len: usize| rng.below(len.max(1));
    if input.is_empty() {
        input.extend_from_slice(&other[..other.len().min(16)]);
        return "refill";
    }
    let len = input.len();
    match rng.below(10) {
        0 => {
            let bit = rng.below(len * 8);
            input[bit / 8] ^= 1 << (bit % 8);
            "bit flip"
        }
        1 => {
            let i = at(rng, len);
            input[i] = [0, 0xff, rng.next_u64() as u8][rng.below(3)];
            "byte set"
        }
        2 => {
            input.truncate(at(rng, len));
            "truncation"
        }
        3 => {
            let i = at(rng, len + 1);
            let count = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..count).map(|_| rng.next_u64() as u8).collect();
            input.splice(i..i, bytes);
            "insertion"
        }
        4 => {
            let i = at(rng, len);
            let end = (i + 1 + rng.below(16)).min(len);
            input.drain(i..end);
            "deletion"
        }
        5 if !other.is_empty() => {
            // Head of this input, tail of the other, each cut anywhere.
            let cut = at(rng, len);
            let from = at(rng, other.len());
            input.truncate(cut);
            input.extend_from_slice(&other[from..]);
            "splice"
        }
        6 => {
            // A run of one of the input's own bytes: digits in JSON, long
            // strings, repeated records.
            let i = at(rng, len);
            let run = vec![input[i]; 1 + rng.below(12)];
            input.splice(i..i, run);
            "repeat"
        }
        7 | 8 if len >= 4 => {
            // Treat 4 bytes as a little-endian length or count and bump it.
            let i = at(rng, len - 3);
            let value = u32::from_le_bytes(input[i..i + 4].try_into().unwrap());
            let bumped = match rng.below(5) {
                0 => value.wrapping_add(1),
                1 => value.wrapping_sub(1),
                2 => value.wrapping_add(1 + rng.below(64) as u32),
                3 => u32::MAX >> rng.below(32),
                _ => value.wrapping_mul(2),
            };
            input[i..i + 4].copy_from_slice(&bumped.to_le_bytes());
            "length bump"
        }
        _ => {
            // Move a chunk elsewhere in the same input.
            let i = at(rng, len);
            let end = (i + 1 + rng.below(32)).min(len);
            let chunk: Vec<u8> = input[i..end].to_vec();
            let to = at(rng, len + 1);
            input.splice(to..to, chunk);
            "duplicate chunk"
        }
    }
}

/// Runs `run` on `input`; a panic fails the test naming the input, which
/// is kept for `cargo fuzz run`.
fn run_one(target: &str, run: Run, what: &str, input: &[u8]) -> Reached {
    match catch_unwind(AssertUnwindSafe(|| run(input))) {
        Ok(reached) => reached,
        Err(_) => {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-mutation-failures");
            fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!("{target}-{}", what.replace([' ', '/'], "-")));
            fs::write(&path, input).unwrap();
            panic!(
                "{target} panicked on {what}; the input is {}",
                path.display()
            );
        }
    }
}

/// Every seed gets through `run`; then `mutations` executions of stacked
/// mutations of the seeds and the corpus, which must reach both the
/// first parser's refusal and the end.
fn fuzz(target: &str, run: Run, mutations: usize) {
    let started = Instant::now();
    let seeds = files("seeds", target);
    assert!(!seeds.is_empty(), "fuzz/seeds/{target}/ holds no seeds");
    for (name, seed) in &seeds {
        let reached = run_one(target, run, &format!("seed {name}"), seed);
        assert_eq!(
            reached,
            Reached::Used,
            "seed {name} of {target} no longer gets through; regenerate the seeds"
        );
    }
    let mut inputs: Vec<Vec<u8>> = seeds.into_iter().map(|(_, bytes)| bytes).collect();
    let kept = [files("regressions", target), files("corpus", target)].concat();
    for (name, input) in &kept {
        run_one(target, run, &format!("kept input {name}"), input);
    }
    inputs.extend(kept.into_iter().map(|(_, bytes)| bytes));
    let mut reached: BTreeMap<Reached, usize> = BTreeMap::new();
    let mut rng = SplitMix64::new(
        target
            .bytes()
            .fold(17, |h, b| h.wrapping_mul(31) + b as u64),
    );
    for execution in 0..mutations {
        let mut input = inputs[rng.below(inputs.len())].clone();
        let other = &inputs[rng.below(inputs.len())];
        let mut applied = Vec::new();
        for _ in 0..1 + rng.below(4) {
            applied.push(mutate(&mut rng, &mut input, other));
        }
        let what = format!("mutation {execution} ({})", applied.join(", "));
        *reached
            .entry(run_one(target, run, &what, &input))
            .or_default() += 1;
    }
    println!(
        "{target}: {} executions ({} seeds and kept inputs, {mutations} mutations) \
         in {:.1} s; mutations reached {reached:?}",
        inputs.len() + mutations,
        inputs.len(),
        started.elapsed().as_secs_f64()
    );
    for stage in [Reached::Refused, Reached::Used] {
        assert!(
            reached.contains_key(&stage),
            "no mutation of {target} reached {stage:?}: {reached:?}"
        );
    }
}

#[test]
fn open_image_returns_for_every_mutation() {
    fuzz("open_image", fuzzing::open_image::run, 4_000);
}

#[test]
fn wal_reader_returns_for_every_mutation() {
    fuzz("wal_reader", fuzzing::wal_reader::run, 15_000);
}

#[test]
fn filter_parser_returns_for_every_mutation() {
    fuzz("filter_parser", fuzzing::filter_parser::run, 30_000);
}

#[test]
fn weight_file_returns_for_every_mutation() {
    fuzz("weight_file", fuzzing::weight_file::run, 30_000);
}

#[test]
fn learning_sections_returns_for_every_mutation() {
    fuzz("learning_sections", fuzzing::learning_sections::run, 5_000);
}

/// Writes every target's generated seeds to `fuzz/seeds/<target>/`.
#[test]
#[ignore = "writes fuzz/seeds; run by hand after a format change"]
fn write_seeds() {
    type Seeds = fn() -> hnsw_gnn::Result<Vec<Seed>>;
    let targets: [(&str, Seeds); 5] = [
        ("open_image", fuzzing::open_image::seeds),
        ("wal_reader", fuzzing::wal_reader::seeds),
        ("filter_parser", fuzzing::filter_parser::seeds),
        ("weight_file", fuzzing::weight_file::seeds),
        ("learning_sections", fuzzing::learning_sections::seeds),
    ];
    for (target, seeds) in targets {
        let dir = fuzz_dir().join("seeds").join(target);
        fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in seeds().unwrap() {
            fs::write(dir.join(&name), &bytes).unwrap();
            println!("{target}/{name}: {} bytes", bytes.len());
        }
    }
}
