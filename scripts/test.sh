#!/usr/bin/env bash
# Installs what is missing, builds, starts a throwaway PostgreSQL and a throwaway RabbitMQ node
# on 127.0.0.1 and runs every test through CTest. Both servers are stopped on exit, also when a
# test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --with-test-servers
scripts/build.sh
build_dir=${STRATA_BUILD_DIR:-build}

source scripts/pg-test-server.sh
source scripts/rabbitmq-test-server.sh
trap 'rabbitmq_test_server_stop; pg_test_server_stop' EXIT
pg_test_server_start
rabbitmq_test_server_start

ctest --test-dir "$build_dir" --output-on-failure -j2 "$@"
