#!/usr/bin/env bash
# Installs the built library into a temporary prefix, then configures, builds and runs the host
# program of examples/package_host against it with find_package(strata CONFIG REQUIRED).
# $1 = strata's build directory, $2 = strata's source directory.
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-package.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log"
for f in include/strata/runtime/runtime.hpp include/strata/domain/kernel/decider.hpp \
  include/strata/testing/given_when_then.hpp include/strata/testing/upcast.hpp \
  include/strata/testing/golden.hpp \
  lib/cmake/strata/strataConfig.cmake lib/cmake/strata/strataConfigVersion.cmake \
  lib/cmake/strata/FindCAF.cmake; do
  [[ -f $tmp/prefix/$f ]] || { echo "FAIL: $f not installed"; exit 1; }
done
if find "$tmp/prefix/include/strata/domain" -mindepth 1 -maxdepth 1 -type d | grep -v '/kernel$'; then
  echo "FAIL: the application's headers were installed"
  exit 1
fi
[[ ! -e $tmp/prefix/include/strata/domain/kernel/testing ]] ||
  { echo "FAIL: the test helpers were installed under domain/kernel/ too"; exit 1; }
cmake -S "$src/examples/package_host" -B "$tmp/host" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_BUILD_TYPE=Release >"$tmp/configure.log" || { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/host" -j2 >"$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }
out=$("$tmp/host/counter_host")
echo "$out"
[[ $out == "counter c-1 at v2: 5" ]] || { echo "FAIL: unexpected output"; exit 1; }
echo "the installed package builds and runs a host"

# The host's own command line on the installed strata::cli: its counter's state from the
# journal the host wrote, rebuilt by its decider.
if [[ -f $tmp/prefix/include/strata/cli/cli.hpp ]]; then
  [[ -x $tmp/host/counter_strata ]] || { echo "FAIL: counter_strata was not built"; exit 1; }
  "$tmp/host/counter_host" --sqlite "$tmp/counter.db" >/dev/null
  out=$("$tmp/host/counter_strata" --journal "$tmp/counter.db" state Counter-c-1 --at-version 1)
  echo "$out"
  grep -qx '{"value":2}' <<<"$out" || { echo "FAIL: counter_strata printed no state"; exit 1; }
  out=$("$tmp/host/counter_strata" --journal "$tmp/counter.db" verify)
  [[ $out == "intact journal: 2 events" ]] || { echo "FAIL: counter_strata verify: $out"; exit 1; }
  echo "the installed package builds a host's own strata command line"
fi

# The bank of docs/GUIDE.md against the same package: its decider tests (strata/testing/ with
# doctest) and its program, twice on one SQLite journal (the second run answers every command
# with its original outcome); on PostgreSQL too when a test server is given (STRATA_TEST_PG)
# and the package has the PostgreSQL backend.
cmake -S "$src/examples/guide" -B "$tmp/guide" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS=-Wall -Wextra -Werror" >"$tmp/guide-configure.log" ||
  { cat "$tmp/guide-configure.log"; exit 1; }
cmake --build "$tmp/guide" -j2 >"$tmp/guide-build.log" || { cat "$tmp/guide-build.log"; exit 1; }
ctest --test-dir "$tmp/guide" --output-on-failure
check_bank() {  # $1 = what ran, $2 = its output, $3 = the regex " \(duplicate\)" on a second run
  local line
  local expected=("open-1: accepted v1 @[0-9]+ \[AccountOpened\]$3"
    "deposit-1: accepted v2 @[0-9]+ \[Deposited\]$3" "withdraw-1: accepted v3 @[0-9]+ \[Withdrawn\]$3"
    "withdraw-2: rejected insufficient_funds: the balance is 300" "acc-1 at v3: 300 EUR"
    "balances: acc-1 alice 300 EUR" "v2: alice deposited 500 EUR")
  for line in "${expected[@]}"; do
    grep -qxE -- "$line" <<<"$2" || { echo "FAIL: $1 printed no line '$line'"; exit 1; }
  done
}
mkdir "$tmp/bank"
out=$(cd "$tmp/bank" && "$tmp/guide/bank")
echo "$out"
check_bank "bank" "$out" ""
out=$(cd "$tmp/bank" && "$tmp/guide/bank")
check_bank "bank run again" "$out" ' \(duplicate\)'
if [[ -n ${STRATA_TEST_PG:-} ]] && grep -q 'set(strata_WITH_POSTGRES ON)' \
  "$tmp/prefix/lib/cmake/strata/strataConfig.cmake"; then
  mkdir "$tmp/bank-pg"
  schema="bank_$$_$RANDOM"
  sed -e "s|\"conninfo\": \"[^\"]*\"|\"conninfo\": \"$STRATA_TEST_PG\"|" \
    -e "s|\"schema\": \"bank\"|\"schema\": \"$schema\"|" \
    -e "s|\"schema\": \"bank_read\"|\"schema\": \"${schema}_read\"|" \
    "$src/examples/guide/bank-postgres.json" \
    >"$tmp/bank-pg/bank-postgres.json"
  out=$(cd "$tmp/bank-pg" && "$tmp/guide/bank" bank-postgres.json)
  check_bank "bank on PostgreSQL" "$out" ""
  if command -v psql >/dev/null; then
    psql "$STRATA_TEST_PG" -qc "DROP SCHEMA $schema, ${schema}_read CASCADE" >/dev/null 2>&1 || true
  fi
  echo "the guide's bank runs on PostgreSQL"
fi
echo "the guide's bank builds, passes its tests and runs against the installed package"
