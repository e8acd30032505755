#!/usr/bin/env bash
# Builds the whole suite with sanitizers in a build directory of its own and runs it through
# CTest (docs/TESTING.md). `address` is AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer
# included) built with clang, which also builds the libFuzzer targets and replays their corpora;
# `thread` is ThreadSanitizer. Expects STRATA_TEST_PG from scripts/pg-test-server.sh (test.sh
# starts the server once for every suite). Extra arguments go to ctest; a first argument
# --build-only or --test-only does only that half.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:?usage: scripts/sanitize.sh address|thread [--build-only|--test-only] [ctest arguments]}
shift
build=yes
run=yes
case "${1:-}" in
  --build-only) run=no; shift ;;
  --test-only) build=no; shift ;;
esac
# CI=true adds -Werror and compiles the sources of most targets in batches
# (STRATA_UNITY_BUILD), as scripts/build.sh does.
ci_options=(-DSTRATA_WERROR=OFF)
[[ "${CI:-}" == "true" ]] && ci_options=(-DSTRATA_WERROR=ON -DSTRATA_UNITY_BUILD=ON)
cxx=${STRATA_SANITIZE_CXX:-clang++-14}
case "$kind" in
  address) options=(-DSTRATA_SANITIZE=address,undefined -DSTRATA_FUZZ=ON) ;;
  # ThreadSanitizer leaves out the example programs: the suite's cases that run them (the demo
  # on PostgreSQL, the relay's example consumer) are not built without them.
  thread) options=(-DSTRATA_SANITIZE=thread -DSTRATA_BUILD_EXAMPLES=OFF) ;;
  *) echo "scripts/sanitize.sh: unknown sanitizer '$kind' (address or thread)" >&2; exit 2 ;;
esac
build_dir=${STRATA_SANITIZE_BUILD_DIR:-build-sanitize-$kind}
if [[ $build == yes && ! -f "$build_dir/CMakeCache.txt" ]]; then
  # -O1 for the libraries and fuzz targets: sanitized code at -O2 compiles noticeably slower
  # and finds nothing more. -O0 for the programs (the suites, test hosts, tools' and examples'
  # mains; STRATA_TEST_OPTIMIZATION): they mostly call the libraries, and a sanitized file
  # compiles in about half the time at -O0. -g1: line tables are all a sanitizer's report needs
  # (function, file and line of every frame); full debug information (-g) costs about a tenth
  # more compile time here.
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DSTRATA_TEST_OPTIMIZATION=-O0 \
    "${ci_options[@]}" "${options[@]}" ${STRATA_CMAKE_ARGS:-}
fi
[[ $build == yes ]] && cmake --build "$build_dir" -j"${STRATA_JOBS:-2}"
[[ $run == yes ]] || exit 0

supp=$PWD/tests/sanitizers
# Options already in the environment come last, so they win (e.g. TSAN_OPTIONS=halt_on_error=0).
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export TSAN_OPTIONS="suppressions=$supp/tsan.supp:halt_on_error=1:second_deadlock_stack=1:print_suppressions=0${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
# Not under sanitizers: building and installing the package (a whole second build, no code of
# ours runs differently), the compile-fail cases (the compiler is the test), scripts that only
# read sources (static), and the benchmark's smoke run (timing-bound, covered by the suite).
exclude='package|compile_fail|static|bench'
# ThreadSanitizer runs the crash-kill loops with 9 kills each instead of 20 (at least 9: each of
# the three archive kill points keeps a round of its own). Every check of a loop runs in the
# normal suite with 20 and under AddressSanitizer with 20; under ThreadSanitizer a loop mostly
# restarts host processes (docs/TESTING.md).
[[ $kind == thread ]] && export STRATA_CRASH_KILLS=${STRATA_CRASH_KILLS:-9}
ctest --test-dir "$build_dir" --output-on-failure -j2 -LE "$exclude" "$@"
