#!/usr/bin/env bash
# Runs the orders demo with its journal and its read models in PostgreSQL, by configuration only:
# examples/orders/postgres.json pointed at the test server (STRATA_TEST_PG) and at two fresh
# schemas. The demo must succeed, its read model must catch up and show the shipped, confirmed
# and cancelled orders, the restarted runtime must rehydrate all three from PostgreSQL, no SQLite
# file may appear, and both schemas must hold what the demo wrote.
# With a broker (STRATA_TEST_AMQP_URL) and the example consumer given, it runs
# examples/orders/postgres-rabbitmq.json instead, which also relays every event to RabbitMQ:
# the consumer, bound before the demo starts, must then receive each of the 9 events once.
#   orders_demo_postgres_test.sh ORDERS_DEMO SOURCE_DIR [RELAY_CONSUMER]
set -uo pipefail
demo=$1
src=$2
consumer=${3:-}
amqp=${STRATA_TEST_AMQP_URL:-}
relay=0
[[ -n $consumer && -n $amqp ]] && relay=1
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
  [[ -n ${consumer_pid:-} ]] && kill "$consumer_pid" 2>/dev/null
  rm -rf "$tmp" "$side"
}
side=$(mktemp -d "${TMPDIR:-/tmp}/strata-demo-consumer.XXXXXX") || exit 2
trap cleanup EXIT

if ((relay)); then
  config=$(<"$src/examples/orders/postgres-rabbitmq.json")
  config=${config//amqp:\/\/guest:guest@127.0.0.1:5672\//$amqp}
  # The consumer's queue must exist before the first event is published: wait (bounded) for
  # it to say it is consuming.
  "$consumer" --url "$amqp" --queue "demo_$suffix" --pattern 'Order.*' --db "$side/consumer.db" \
    --max-messages 9 >"$side/consumer.out" 2>&1 &
  consumer_pid=$!
  for _ in $(seq 1 300); do
    grep -q '^consuming' "$side/consumer.out" && break
    kill -0 "$consumer_pid" 2>/dev/null || break
    sleep 0.1
  done
  grep -q '^consuming' "$side/consumer.out" || { cat "$side/consumer.out"; echo "FAIL: the consumer did not start"; exit 1; }
else
  config=$(<"$src/examples/orders/postgres.json")
fi
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
if ((relay)); then
  # --max-messages 9: the consumer exits once it has applied all nine (bounded by the wait).
  for _ in $(seq 1 600); do
    kill -0 "$consumer_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$consumer_pid" 2>/dev/null; then
    echo "FAIL: the consumer did not receive the 9 events within 60 s"
    failures=$((failures + 1))
  else
    wait "$consumer_pid"
    consumed=$?
    consumer_pid=
    cat "$side/consumer.out"
    applied=$(sqlite3 "$side/consumer.db" 'SELECT count(*) FROM processed_messages' 2>&1)
    [[ $consumed -eq 0 && $applied == 9 ]] && echo "ok: the relay delivered the 9 events to the consumer once each" ||
      { echo "FAIL: the consumer exited with $consumed and applied '$applied' messages, expected 9"; failures=$((failures + 1)); }
  fi
fi
exit $((failures > 0))
