#!/usr/bin/env bash
# Configures and builds strata into ./build (or $STRATA_BUILD_DIR) with two jobs.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${STRATA_BUILD_DIR:-build}
werror=OFF
[[ "${CI:-}" == "true" ]] && werror=ON
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_WERROR=$werror
fi
cmake --build "$build_dir" -j"${STRATA_JOBS:-2}" ${1:+--target "$@"}
