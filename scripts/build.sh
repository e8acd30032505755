#!/usr/bin/env bash
# Configures and builds strata into ./build (or $STRATA_BUILD_DIR) with two jobs.
# CI=true adds -Werror and compiles for speed (docs/TESTING.md, "What CI compiles"): the
# sources of most targets in batches (STRATA_UNITY_BUILD), line tables only as debug
# information (-g1).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${STRATA_BUILD_DIR:-build}
options=(-DSTRATA_WERROR=OFF)
[[ "${CI:-}" == "true" ]] && options=(-DSTRATA_WERROR=ON -DSTRATA_UNITY_BUILD=ON
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG")
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${options[@]}"
fi
cmake --build "$build_dir" -j"${STRATA_JOBS:-2}" ${1:+--target "$@"}
