#!/usr/bin/env bash
# Installs what is missing, builds, starts a throwaway PostgreSQL and a throwaway RabbitMQ node
# on 127.0.0.1 and runs every test through CTest. Both servers are stopped on exit, also when a
# test fails.
#
# Then the reliability checks of docs/TESTING.md against the same servers: the suite again under
# AddressSanitizer + UndefinedBehaviorSanitizer (with the fuzz targets' corpus replays), a short
# run of each fuzz target, and the suite under ThreadSanitizer, each sanitized build in its own
# directory. STRATA_SANITIZERS=off skips them (a quick local run). Extra arguments go to every
# ctest. Each stage's duration is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
timings=()
report() { [[ ${#timings[@]} -gt 0 ]] && printf 'stage durations:\n' && printf '  %s\n' "${timings[@]}"; }
stage() {
  local name=$1 start=$SECONDS
  shift
  echo "=== $name"
  "$@"
  timings+=("$(printf '%-28s %4d s' "$name" $((SECONDS - start)))")
}

stage "deps" scripts/deps.sh --with-test-servers
stage "build" scripts/build.sh
build_dir=${STRATA_BUILD_DIR:-build}

source scripts/pg-test-server.sh
source scripts/rabbitmq-test-server.sh
trap 'rabbitmq_test_server_stop; pg_test_server_stop; report' EXIT
pg_test_server_start
rabbitmq_test_server_start

stage "tests" ctest --test-dir "$build_dir" --output-on-failure -j2 "$@"
if [[ "${STRATA_SANITIZERS:-on}" != "off" ]]; then
  STRATA_SANITIZE_BUILD_DIR=build-sanitize-address stage "address+undefined build" \
    scripts/sanitize.sh address --build-only
  STRATA_SANITIZE_BUILD_DIR=build-sanitize-address stage "address+undefined tests" \
    scripts/sanitize.sh address --test-only "$@"
  STRATA_SANITIZE_BUILD_DIR=build-sanitize-address stage "fuzz" scripts/fuzz.sh
  STRATA_SANITIZE_BUILD_DIR=build-sanitize-thread stage "thread build" \
    scripts/sanitize.sh thread --build-only
  STRATA_SANITIZE_BUILD_DIR=build-sanitize-thread stage "thread tests" \
    scripts/sanitize.sh thread --test-only "$@"
fi
