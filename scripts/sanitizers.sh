#!/usr/bin/env bash
# The Rust tests under the sanitizers, on nightly. Results and findings are
# recorded in benchmark/results/sanitizers.md.
#
#   scripts/sanitizers.sh asan    AddressSanitizer (its LeakSanitizer on too)
#   scripts/sanitizers.sh lsan    LeakSanitizer alone
#   scripts/sanitizers.sh miri    Miri over the modules without SIMD or FFI
#   scripts/sanitizers.sh all     the three, one after the other
#
# Needs: `rustup toolchain install nightly` and
# `rustup +nightly component add miri rust-src`. Each tool builds into its
# own directory under target/sanitizers/ (or $SANITIZER_TARGET_DIR) so it
# never waits on, or invalidates, the ordinary target/ build. Set NICE=0 to run at normal
# priority (the default, 10, keeps a shared machine responsive).
#
# The sanitizers build with `-Zbuild-std`: `-Zsanitizer` is a target
# modifier, so the standard library must be compiled with it too (the
# alternative, `-Cunsafe-allow-abi-mismatch=sanitizer`, links an
# uninstrumented std and misses errors inside it). Only x86_64 Linux is
# wired up; the sanitizers need an explicit --target.
#
# `--no-default-features` drops the Node bindings: they do nothing outside
# a Node process, and the core's tests are what is checked here. There are
# no doctests to run (the crate's ``` blocks are all `text`), so the lib
# and the integration tests in tests/ are the whole suite.
set -euo pipefail

cd "$(dirname "$0")/.."

TOOLCHAIN=+nightly
TARGET=x86_64-unknown-linux-gnu
NICE=${NICE:-10}
OUT=${SANITIZER_TARGET_DIR:-target/sanitizers}

run() {
    echo "+ $*" >&2
    nice -n "$NICE" "$@"
}

# Every test runs, tests/heap_accounting.rs included: its counting
# #[global_allocator] forwards to System, which the sanitizer intercepts
# below it, so its count and its check still hold.
sanitizer_test() {
    local sanitizer=$1
    shift
    local flags="-Zsanitizer=$sanitizer -Cforce-frame-pointers=yes"
    CARGO_TARGET_DIR="$OUT/$sanitizer" \
    RUSTFLAGS="$flags" \
    RUSTDOCFLAGS="$flags" \
        run cargo "$TOOLCHAIN" test -Zbuild-std --target "$TARGET" \
        --no-default-features --lib --tests "$@"
}

asan() {
    # detect_leaks=1: ASan on Linux runs LeakSanitizer at exit as well.
    # detect_stack_use_after_return catches a pointer into a returned
    # frame; strict_string_checks and check_initialization_order are for
    # the C parts (none here, but they cost nothing).
    ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1:abort_on_error=0:halt_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
    LSAN_OPTIONS="report_objects=1${LSAN_OPTIONS:+:$LSAN_OPTIONS}" \
        sanitizer_test address "$@"
}

lsan() {
    LSAN_OPTIONS="report_objects=1${LSAN_OPTIONS:+:$LSAN_OPTIONS}" \
        sanitizer_test leak "$@"
}

# Miri interprets MIR, so it cannot run what is not MIR: mmap and file
# locks (foreign calls; Miri maps no files), sched_setscheduler, the SIMD
# kernels' intrinsics (std's feature detection reports no AVX under Miri,
# so the dispatcher picks the scalar kernels by itself). It also runs
# 1000s of times slower than native code, so a test that builds a
# thousands-of-node graph or hashes thousands of keys for a statistic is
# out: the groups below name the modules that run, and a heavy test inside
# them carries #[cfg_attr(miri, ignore)] with its reason.
#
# -Zmiri-deterministic-floats: Miri otherwise perturbs powf/exp/ln by a few
# ulps on every call (std documents their precision as unspecified, even
# from one call to the next), and learn::feedback_log compares weights
# computed twice with ==.
#
# Each group is one `cargo miri test` with its own flags (name|MIRIFLAGS|
# test filters; libtest runs the tests matching any filter). A group that
# fails does not stop the next; the exit status says whether any failed.
MIRI_FLOATS=-Zmiri-deterministic-floats
MIRI_GROUPS=(
    # Stacked Borrows (Miri's default model), isolated: codecs, the heap
    # image behind Mapping (the in-place reads mmap.rs does with raw
    # pointers), filters, the feedback log, the search scratch pool, the
    # scalar distance kernels and the dispatcher, the small GNN pieces.
    "core|$MIRI_FLOATS|file::bytes:: file::mmap::tests::floats_are_read_in_place file::mmap::tests::heap_images filter::tests:: learn::feedback_log:: learn::interleave:: hnsw::scratch:: distance::tests:: gnn::loss:: gnn::optim:: gnn::quantize::"
    # Isolation off: error::tests reads binding.js, index.d.ts and
    # README.md to check the error codes against them; gnn::options seeds
    # from the clock when no seed is given.
    "files-and-clock|$MIRI_FLOATS -Zmiri-disable-isolation|error::tests:: options::tests::"
    # Tree Borrows: these go through rayon, whose crossbeam-epoch breaks
    # Stacked Borrows' rules but not Tree Borrows' (crossbeam-rs/crossbeam
    # #545, #996; rayon-rs/rayon#1185). A 30-node graph is built, searched
    # and deleted from; the mapped level-0 lists (storage.rs) are read.
    # -Zmiri-ignore-leaks: rayon's global pool threads live until the
    # process ends, and Miri otherwise fails a run whose main thread
    # returns while threads remain (memory leaks are LeakSanitizer's job).
    "rayon-tree-borrows|$MIRI_FLOATS -Zmiri-tree-borrows -Zmiri-ignore-leaks|db::id_map:: hnsw::tests::k_larger_than_the_index hnsw::tests::bad_arguments_are_errors hnsw::tests::mapped_level0_lists"
    # The mapped level-0 lists under Stacked Borrows too: viewing the
    # mapping's read-only u32s as AtomicU32 was undefined behaviour there
    # (benchmark/results/sanitizers.md); now they are read as plain u32.
    "mapped-lists-stacked-borrows|$MIRI_FLOATS -Zmiri-ignore-leaks|hnsw::tests::mapped_level0_lists"
)

miri() {
    local group name flags filters failed=()
    # cargo miri has been seen to run a stale build of this crate after its
    # sources changed (the run reported code no longer in the tree);
    # forgetting the crate's fingerprints makes it check the sources anew
    # (only this crate: Miri interprets lazily, so that costs seconds).
    rm -rf "$OUT"/miri/miri/*/debug/.fingerprint/hnsw_gnn-* "$OUT"/miri/miri/*/debug/deps/*hnsw_gnn*
    for group in "${MIRI_GROUPS[@]}"; do
        IFS='|' read -r name flags filters <<<"$group"
        echo "== miri group $name: MIRIFLAGS=\"$flags\"" >&2
        local started=$SECONDS
        # shellcheck disable=SC2086 # the filters are words
        if ! CARGO_TARGET_DIR="$OUT/miri" \
            MIRIFLAGS="$flags${MIRIFLAGS:+ $MIRIFLAGS}" \
            run cargo "$TOOLCHAIN" miri test --no-default-features --lib "$@" -- $filters; then
            failed+=("$name")
        fi
        echo "== miri group $name: $((SECONDS - started)) s" >&2
    done
    if ((${#failed[@]})); then
        echo "miri: groups that failed: ${failed[*]}" >&2
        return 1
    fi
}

case "${1:-}" in
    asan) shift; asan "$@" ;;
    lsan) shift; lsan "$@" ;;
    miri) shift; miri "$@" ;;
    all)
        shift
        status=0
        asan "$@" || status=1
        lsan "$@" || status=1
        miri "$@" || status=1
        exit "$status"
        ;;
    *)
        echo "usage: $0 asan|lsan|miri|all [extra cargo test args]" >&2
        exit 2
        ;;
esac
