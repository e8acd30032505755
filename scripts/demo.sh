#!/usr/bin/env bash
# Installs what is missing, builds, and runs the orders demo on the embedded SQLite journal, or
# on what a configuration file names: scripts/demo.sh --config examples/orders/postgres.json
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scripts/deps.sh
scripts/build.sh orders_demo
build_dir=${STRATA_BUILD_DIR:-build}
mkdir -p "$build_dir/demo"
cd "$build_dir/demo"
# A relative --config path names a file from the repository's root (the demo runs elsewhere).
args=()
while [[ $# -gt 0 ]]; do
  if [[ $1 == --config && $# -gt 1 && $2 != /* ]]; then
    args+=("$1" "$root/$2")
    shift 2
  else
    args+=("$1")
    shift
  fi
done
exec ../examples/orders/orders_demo "${args[@]}"
