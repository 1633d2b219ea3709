//! A write-ahead log: framing, every record's decoding, replay over a sample file.
//! The body is `hnsw_gnn::fuzzing::wal_reader::run`, which `tests/fuzz_mutations.rs` also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    hnsw_gnn::fuzzing::wal_reader::run(data);
});
