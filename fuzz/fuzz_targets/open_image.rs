//! A database file and its write-ahead log, as `VectorDB.open` reads them.
//! The body is `hnsw_gnn::fuzzing::open_image::run`, which `tests/fuzz_mutations.rs` also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    hnsw_gnn::fuzzing::open_image::run(data);
});
