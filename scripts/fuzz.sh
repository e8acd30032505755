#!/usr/bin/env bash
# Fuzzes each libFuzzer target of the address build (scripts/sanitize.sh address builds them),
# two at a time, starting from the committed corpora under tests/fuzz/corpus/. New inputs go to
# a scratch corpus in the build directory, never into the source tree; a crash input is written
# to <build>/fuzz-artifacts/ and fails the run (docs/TESTING.md says what to do with it).
#
# A run is reproducible: each target makes STRATA_FUZZ_RUNS inputs (default 1000000) from a
# fixed seed (STRATA_FUZZ_SEED, default 1), so a failure in CI fails the same way on a
# developer's machine. Explore further locally with other seeds and longer runs.
# STRATA_FUZZ_SECONDS (default 120) only caps a run on a slow machine. Arguments name targets
# (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${STRATA_SANITIZE_BUILD_DIR:-build-sanitize-address}
seconds=${STRATA_FUZZ_SECONDS:-120}
runs=${STRATA_FUZZ_RUNS:-1000000}
seed=${STRATA_FUZZ_SEED:-1}
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=()
  for dir in tests/fuzz/corpus/*/; do targets+=("$(basename "$dir")"); done
fi
artifacts=$build_dir/fuzz-artifacts
mkdir -p "$artifacts"
supp=$PWD/tests/sanitizers
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

fuzz_one() {
  local name=$1 binary=$build_dir/tests/fuzz/${1}_fuzz
  local scratch=$build_dir/fuzz-corpus/$name
  mkdir -p "$scratch"
  local start=$SECONDS
  if "$binary" -seed="$seed" -runs="$runs" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/$name-" \
      "$scratch" "tests/fuzz/corpus/$name" >"$build_dir/fuzz-$name.log" 2>&1; then
    echo "fuzz $name: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$build_dir/fuzz-$name.log" | grep -o '[0-9]*$') runs in $((SECONDS - start)) s, seed $seed, no fault"
  else
    echo "fuzz $name: FAILED with seed $seed, input in $artifacts/ (log: $build_dir/fuzz-$name.log)" >&2
    tail -n 40 "$build_dir/fuzz-$name.log" >&2
    return 1
  fi
}

failed=0
pids=()
for name in "${targets[@]}"; do
  fuzz_one "$name" &
  pids+=($!)
  if [[ ${#pids[@]} -ge ${STRATA_JOBS:-2} ]]; then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
exit $failed
