#!/usr/bin/env bash
# Builds the fuzz targets and runs each for a while, then keeps what it
# learned: the new inputs and fuzz/corpus/<target> are minimised together
# (libFuzzer's merge, as `cargo fuzz cmin` does) into fuzz/corpus/<target>;
# one line per run goes to fuzz/RESULTS.md.
#
#   fuzz/run.sh <seconds-per-target> [target...]    (default: every target)
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# Runs in libFuzzer's fork mode with crashes, OOMs and timeouts ignored, so
# one finding does not end a long run: findings land in
# fuzz/artifacts/<target>/ (ignored by git), the run's log in
# fuzz/target/logs/. Reproduce one with
# `cargo +nightly fuzz run <target> fuzz/artifacts/<target>/<file>`.
set -euo pipefail

if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
    echo "usage: fuzz/run.sh <seconds-per-target> [target...]" >&2
    exit 2
fi
seconds=$1
shift
cd "$(dirname "$0")/.."
if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    targets=()
    for file in fuzz/fuzz_targets/*.rs; do
        targets+=("$(basename "$file" .rs)")
    done
fi

results=fuzz/RESULTS.md
if [[ ! -f $results ]]; then
    {
        echo "# Fuzzing runs"
        echo
        echo "Appended by \`fuzz/run.sh\`, one line per target run (libFuzzer fork mode, one job,"
        echo "AddressSanitizer, \`nice -n 15\` on a machine shared with other work)."
        echo
        echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
        echo
        echo "CPU flags: $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
        echo
        echo "| date (UTC) | target | seconds | executions | exec/s | crashes, OOMs, timeouts found | corpus kept (files, bytes) |"
        echo "|---|---|---|---|---|---|---|"
    } >"$results"
fi

cargo +nightly fuzz build
binaries=fuzz/target/x86_64-unknown-linux-gnu/release
mkdir -p fuzz/target/logs

for target in "${targets[@]}"; do
    work=fuzz/target/corpus-work/$target
    kept=fuzz/corpus/$target
    artifacts=fuzz/artifacts/$target
    mkdir -p "$work" "$kept" "$artifacts"
    inputs=("$work" "$kept" "fuzz/seeds/$target")
    [[ -d fuzz/regressions/$target ]] && inputs+=("fuzz/regressions/$target")
    findings_before=$(find "$artifacts" -type f | wc -l)
    started=$(date -u +%Y-%m-%dT%H:%MZ)
    log=fuzz/target/logs/$target-$(date -u +%Y%m%dT%H%M%S).log
    echo "fuzzing $target for $seconds s (log: $log)"
    "$binaries/$target" -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$artifacts/" "${inputs[@]}" >"$log" 2>&1 || true
    # Fork mode's status lines: "#<execs>: cov: … exec/s: <n> oom/timeout/crash: a/b/c time: <s>s …"
    status=$(grep -E '^#[0-9]+: cov:' "$log" | tail -n 1 || true)
    executions=$(sed -nE 's/^#([0-9]+):.*/\1/p' <<<"$status")
    ran=$(sed -nE 's/.* time: ([0-9]+)s.*/\1/p' <<<"$status")
    rate=$(( ${ran:-0} > 0 ? ${executions:-0} / ran : 0 ))
    findings=$(( $(find "$artifacts" -type f | wc -l) - findings_before ))
    # Keep the new inputs, minimised together with the old ones: libFuzzer's
    # merge, as `cargo fuzz cmin` runs it but choosing a smallest set of
    # inputs that covers every feature (-set_cover_merge), on the binary
    # just fuzzed (cmin would rebuild it from the working tree as it is by
    # now).
    merged=fuzz/target/corpus-merged/$target
    rm -rf "$merged"
    mkdir -p "$merged"
    if "$binaries/$target" -set_cover_merge=1 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts/" \
        "$merged" "$kept" "$work" >>"$log" 2>&1; then
        rm -rf "$kept"
        mv "$merged" "$kept"
    else
        echo "minimising the corpus of $target failed; see $log" >&2
    fi
    corpus_files=$(find "$kept" -type f | wc -l)
    corpus_bytes=$(du -sb "$kept" | cut -f1)
    echo "| $started | $target | ${ran:-0} | ${executions:-0} | $rate | $findings | $corpus_files, $corpus_bytes |" >>"$results"
    echo "$target: ${executions:-0} executions in ${ran:-0} s, $findings findings, corpus $corpus_files files"
done
