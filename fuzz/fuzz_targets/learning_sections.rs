//! A database file's feedback and model sections, opened, reranked and trained on.
//! The body is `hnsw_gnn::fuzzing::learning_sections::run`, which `tests/fuzz_mutations.rs` also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    hnsw_gnn::fuzzing::learning_sections::run(data);
});
