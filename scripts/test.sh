#!/usr/bin/env bash
# Installs what is missing, builds, starts a throwaway PostgreSQL and a throwaway RabbitMQ node
# on 127.0.0.1 and runs every test through CTest. Both servers are stopped on exit, also when a
# test fails.
#
# Then the reliability checks of docs/TESTING.md against the same servers: the suite again under
# AddressSanitizer + UndefinedBehaviorSanitizer (with the fuzz targets' corpus replays), a short
# run of each fuzz target, and the suite under ThreadSanitizer, each sanitized build in its own
# directory. STRATA_SANITIZERS=off skips them (a quick local run). Extra arguments go to every
# ctest.
#
# STRATA_CI_OVERLAP=on runs each sanitized build in the background at the lowest CPU priority
# (nice 19) while the suite before it runs (the address build during the normal suite, the
# thread build during the address suite and the fuzz runs), so it takes only the CPU time those
# leave idle; its output is printed when it is waited for. Off by default (docs/TESTING.md,
# "Durations in CI": the PostgreSQL crash-kill loop failed beside it on a loaded machine). At
# the end every stage's wall-clock time, the CPU time (user + system) of its processes and the
# load average at its end are printed (the servers' own CPU time is in no stage).
set -euo pipefail
cd "$(dirname "$0")/.."
timings=()
run_start=$SECONDS
ticks_per_second=$(getconf CLK_TCK)
# The CPU time, in clock ticks, of the waited-for children of process $1 (this shell: $$).
children_ticks() {
  local stat
  read -r stat </proc/"$1"/stat
  stat=${stat##*) }
  # shellcheck disable=SC2086
  set -- $stat
  echo $((${14} + ${15}))
}
load() { cut -d' ' -f1 /proc/loadavg; }
timing() {  # <name> <wall s> <cpu ticks> [note]
  timings+=("$(printf '%-26s %5d s wall %6d CPU s  load %5s%s' "$1" "$2" \
    $(($3 / ticks_per_second)) "$(load)" "${4:+  $4}")")
}
report() {
  [[ ${#timings[@]} -gt 0 ]] || return 0
  timing "total" $((SECONDS - run_start)) "$(children_ticks $$)"
  printf 'stage durations:\n'
  printf '  %s\n' "${timings[@]}"
}
stage() {
  local name=$1 start=$SECONDS ticks status=0
  shift
  echo "=== $name"
  ticks=$(children_ticks $$)
  "$@" || status=$?
  timing "$name" $((SECONDS - start)) $(($(children_ticks $$) - ticks)) \
    "$([[ $status -eq 0 ]] || echo "FAILED ($status)")"
  return $status
}

# background_stage <name> <command...>: starts the command at nice 19 in a process group of its
# own, its output into a file; finish_background_stage waits for it, prints the output and
# records the stage. Unless STRATA_CI_OVERLAP=on it is an ordinary stage.
background=
background_stage() {
  local name=$1
  shift
  if [[ ${STRATA_CI_OVERLAP:-off} != on ]]; then
    stage "$name" "$@"
    return
  fi
  echo "=== $name: in the background at nice 19, its output follows when it ends"
  background_name=$name
  background_start=$SECONDS
  background_out=$(mktemp)
  background_cpu=$(mktemp)
  set -m  # a process group of its own, which the exit trap can stop as a whole
  (
    status=0
    nice -n 19 "$@" </dev/null >"$background_out" 2>&1 || status=$?
    children_ticks "$BASHPID" >"$background_cpu"
    exit $status
  ) &
  background=$!
  set +m
}
finish_background_stage() {
  [[ -n $background ]] || return 0
  local waited=$SECONDS status=0
  wait "$background" || status=$?
  background=
  echo "=== $background_name (output)"
  cat "$background_out"
  timing "$background_name" $((SECONDS - background_start)) "$(cat "$background_cpu")" \
    "(background; waited $((SECONDS - waited)) s for it)"
  rm -f "$background_out" "$background_cpu"
  [[ $status -eq 0 ]] || { echo "=== $background_name failed" >&2; exit "$status"; }
}
stop_background() {
  if [[ -n $background ]]; then kill -- -"$background" 2>/dev/null || true; fi
}

stage "deps" scripts/deps.sh --with-test-servers
stage "build" scripts/build.sh
build_dir=${STRATA_BUILD_DIR:-build}
sanitizers=${STRATA_SANITIZERS:-on}

source scripts/pg-test-server.sh
source scripts/rabbitmq-test-server.sh
trap 'stop_background; rabbitmq_test_server_stop; pg_test_server_stop; report' EXIT
pg_test_server_start
rabbitmq_test_server_start

if [[ $sanitizers != off ]]; then
  STRATA_SANITIZE_BUILD_DIR=build-sanitize-address background_stage "address+undefined build" \
    scripts/sanitize.sh address --build-only
fi
stage "tests" ctest --test-dir "$build_dir" --output-on-failure -j2 "$@"
if [[ $sanitizers != off ]]; then
  finish_background_stage
  STRATA_SANITIZE_BUILD_DIR=build-sanitize-thread background_stage "thread build" \
    scripts/sanitize.sh thread --build-only
  STRATA_SANITIZE_BUILD_DIR=build-sanitize-address stage "address+undefined tests" \
    scripts/sanitize.sh address --test-only "$@"
  STRATA_SANITIZE_BUILD_DIR=build-sanitize-address stage "fuzz" scripts/fuzz.sh
  finish_background_stage
  STRATA_SANITIZE_BUILD_DIR=build-sanitize-thread stage "thread tests" \
    scripts/sanitize.sh thread --test-only "$@"
fi
