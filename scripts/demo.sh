#!/usr/bin/env bash
# Installs what is missing, builds, and runs the orders demo on the embedded SQLite journal.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh orders_demo
build_dir=${STRATA_BUILD_DIR:-build}
mkdir -p "$build_dir/demo"
cd "$build_dir/demo"
exec ../examples/orders/orders_demo "$@"
