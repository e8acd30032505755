#!/usr/bin/env bash
# Runs the orders demo with its journal and its read models in PostgreSQL, by configuration only:
# examples/orders/postgres.json pointed at the test server (STRATA_TEST_PG) and at two fresh
# schemas. The demo must succeed, its read model must catch up and show the shipped, confirmed
# and cancelled orders, the restarted runtime must rehydrate all three from PostgreSQL, no SQLite
# file may appear, and both schemas must hold what the demo wrote.
#   orders_demo_postgres_test.sh ORDERS_DEMO SOURCE_DIR
set -uo pipefail
demo=$1
src=$2
if [[ -z "${STRATA_TEST_PG:-}" ]]; then
  if [[ "${STRATA_SKIP_PG:-}" == 1 ]]; then
    echo "skipped: STRATA_SKIP_PG=1"
    exit 77
  fi
  echo "FAIL: STRATA_TEST_PG is not set: run scripts/test.sh or set STRATA_SKIP_PG=1"
  exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-demo-pg.XXXXXX") || exit 2
suffix="t$$_${RANDOM}"
journal_schema="demo_journal_$suffix"
read_schema="demo_read_$suffix"
cleanup() {
  psql "$STRATA_TEST_PG" -q -v ON_ERROR_STOP=0 -c "SET client_min_messages = warning" \
    -c "DROP SCHEMA IF EXISTS $journal_schema CASCADE" \
    -c "DROP SCHEMA IF EXISTS $read_schema CASCADE" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

config=$(<"$src/examples/orders/postgres.json")
config=${config//host=127.0.0.1 dbname=strata/$STRATA_TEST_PG}
config=${config//\"orders_demo_read\"/\"$read_schema\"}
config=${config//\"orders_demo\"/\"$journal_schema\"}
printf '%s\n' "$config" >"$tmp/postgres.json"

out=$(cd "$tmp" && "$demo" --config "$tmp/postgres.json" 2>&1)
rc=$?
printf '%s\n' "$out"
failures=0
expect() {  # $1 = what, $2 = a glob the output must match
  if [[ $out == $2 ]]; then
    echo "ok: $1"
  else
    echo "FAIL: $1"
    failures=$((failures + 1))
  fi
}
[[ $rc -eq 0 ]] || { echo "FAIL: the demo exited with $rc"; failures=$((failures + 1)); }
expect "the journal is in PostgreSQL" "*journal in PostgreSQL (schema $journal_schema)*"
expect "the read models are in PostgreSQL" "*read models in PostgreSQL (schema $read_schema)*"
expect "the read model caught up" "*caught up: yes*"
expect "the read model shows the shipped order" "*shipped    order-*-a * shipped 3x 8498 EUR*"
expect "the read model shows the confirmed order" "*confirmed  order-*-b * confirmed 3x 750 EUR*"
expect "the read model shows the cancelled order" "*cancelled  order-*-c * cancelled 4x 3200 EUR*"
expect "the restart rehydrates the shipped order" "*state rehydrated from the journal:*-a * shipped, 2 line(s), total 84.98 EUR*"
expect "the restart rehydrates the cancelled order" "*state rehydrated from the journal:*-c * cancelled, 1 line(s), total 32.00 EUR*"
if [[ -n $(find "$tmp" -name '*.db*' -print -quit) ]]; then
  echo "FAIL: an SQLite file was created: $(find "$tmp" -name '*.db*')"
  failures=$((failures + 1))
fi
count() {
  psql "$STRATA_TEST_PG" -X -A -t -c "$1" 2>&1
}
events=$(count "SELECT count(*) FROM $journal_schema.events")
[[ $events == 9 ]] && echo "ok: the journal schema holds the 9 accepted events" ||
  { echo "FAIL: the journal schema holds '$events' events, expected 9"; failures=$((failures + 1)); }
rows=$(count "SELECT count(*) FROM $read_schema.order_summary")
[[ $rows == 3 ]] && echo "ok: the read-model schema holds the 3 orders" ||
  { echo "FAIL: the read-model schema holds '$rows' orders, expected 3"; failures=$((failures + 1)); }
exit $((failures > 0))
