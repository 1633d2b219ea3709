#!/usr/bin/env bash
# Runs the GNN tests (gradient checks, layer equivalence, references) again
# on every kernel path this CPU has besides the best one, which the plain
# `cargo test` run already covered: the layers take their dense products and
# gathers from the process-wide path, which HNSW_GNN_SIMD forces. Paths the
# CPU lacks are skipped, saying so.
set -euo pipefail
cd "$(dirname "$0")/.."

flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
has() { [[ " $flags " == *" $1 "* ]]; }
best=scalar
if has avx2 && has fma; then best=avx2; fi
if has avx512f; then best=avx512; fi

for path in scalar avx2 avx512; do
  case $path in
    avx2) if ! (has avx2 && has fma); then echo "simd paths: avx2 skipped (this CPU lacks AVX2+FMA)"; continue; fi ;;
    avx512) if ! has avx512f; then echo "simd paths: avx512 skipped (this CPU lacks AVX-512F)"; continue; fi ;;
  esac
  if [ "$path" = "$best" ]; then
    echo "simd paths: $path is this CPU's default path, already tested by cargo test"
    continue
  fi
  echo "simd paths: GNN tests with HNSW_GNN_SIMD=$path"
  HNSW_GNN_SIMD=$path cargo test --no-default-features --lib gnn:: -q
done
