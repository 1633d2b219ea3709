//! JSON compiled as a metadata filter and evaluated on metadata.
//! The body is `hnsw_gnn::fuzzing::filter_parser::run`, which `tests/fuzz_mutations.rs` also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    hnsw_gnn::fuzzing::filter_parser::run(data);
});
