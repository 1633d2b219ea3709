//! A GNN model file, loaded from memory and run forward on a small graph.
//! The body is `hnsw_gnn::fuzzing::weight_file::run`, which `tests/fuzz_mutations.rs` also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    hnsw_gnn::fuzzing::weight_file::run(data);
});
