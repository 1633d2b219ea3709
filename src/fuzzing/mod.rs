//! The fuzz targets' bodies, one function per target taking any bytes,
//! with the seeds each one starts from. `fuzz/fuzz_targets/*.rs` are
//! one-line wrappers around these (run by `cargo fuzz`), and
//! `tests/fuzz_mutations.rs` runs the same functions on seeded mutations
//! of the seeds and the kept corpus in every `cargo test`.
//!
//! Each target must return for every input: a panic, an abort or a hang
//! is the bug it looks for. Each reports how far an input got
//! ([`Reached`]), so the tests can check that the seeds reach the end and
//! the mutations reach every stage.
//!
//! | file | holds |
//! |---|---|
//! | `sample.rs` | the small database the targets open their inputs over, and the scratch directory images are written through |
//! | `exercise.rs` | what a target does with a database it opened, and the promises it checks |
//! | `open_image.rs` | `open_image`: a database file and its log, as `VectorDB.open` reads them |
//! | `wal_reader.rs` | `wal_reader`: a write-ahead log: framing, every record's decoding, replay |
//! | `filter_parser.rs` | `filter_parser`: JSON to a compiled filter, evaluated on metadata |
//! | `weight_file.rs` | `weight_file`: a GNN model file loaded and run on a small graph |
//! | `learning_sections.rs` | `learning_sections`: a file's feedback and model sections, opened, reranked and trained on |

mod exercise;
pub mod filter_parser;
pub mod learning_sections;
pub mod open_image;
pub mod sample;
pub mod wal_reader;
pub mod weight_file;

/// How far an input got through a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reached {
    /// The first parser refused it.
    Refused,
    /// Parsed, then refused by a later stage (decoding, replay, open).
    Parsed,
    /// Accepted throughout, and the result used.
    Used,
}

/// A seed: its file name under `fuzz/seeds/<target>/`, and its bytes.
pub type Seed = (String, Vec<u8>);

/// Splits `split u32 · first · second`, the layout of the targets that
/// take two images: the `u32` (little-endian) is the length of `first`,
/// cut to what there is. `None` below 4 bytes.
pub fn split_input(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (split, body) = data.split_first_chunk::<4>()?;
    let split = u32::from_le_bytes(*split) as usize;
    Some(body.split_at(split.min(body.len())))
}

/// The input [`split_input`] splits into `first` and `second`.
pub fn join_input(first: &[u8], second: &[u8]) -> Vec<u8> {
    let mut data = (first.len() as u32).to_le_bytes().to_vec();
    data.extend_from_slice(first);
    data.extend_from_slice(second);
    data
}
