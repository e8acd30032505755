#!/usr/bin/env bash
# Runs a three-node strata cluster on this machine against one PostgreSQL database, over TLS:
# makes a throwaway CA and a certificate per node (scripts/cluster-certs.sh), writes a
# configuration per node, starts three cluster_node processes, waits until they share the
# shards, sends orders to every node (each placed and confirmed through a node that may not
# own it: the command is forwarded to its owner), prints who owned what, shows the tables with
# `strata cluster` when the command line is given, and stops everything.
#
#   examples/cluster/run.sh CLUSTER_NODE [STRATA]
#
# The database: $STRATA_TEST_PG when set, else a test server of scripts/pg-test-server.sh,
# started and stopped here. Everything else lives in a temporary directory, removed at the
# end with the schemas it used. Exit status 0 when every order was accepted.
set -uo pipefail
node_bin=$1
strata_bin=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)

if [[ -z "${STRATA_TEST_PG:-}" && "${STRATA_SKIP_PG:-}" == 1 ]]; then
  echo "skipped: STRATA_SKIP_PG=1"
  exit 77
fi
if [[ -z "${STRATA_TEST_PG:-}" ]]; then
  # shellcheck source=../../scripts/pg-test-server.sh
  source "$src/scripts/pg-test-server.sh"
  pg_test_server_start || exit 2
  own_server=1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-cluster.XXXXXX") || exit 2
schema="cluster_example_$$_${RANDOM}"
pids=()
cleanup() {
  for fd in "${fds[@]:-}"; do [[ -n $fd ]] && exec {fd}>&-; done
  for pid in "${pids[@]:-}"; do [[ -n $pid ]] && kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  psql "$STRATA_TEST_PG" -q -c "SET client_min_messages = warning" \
    -c "DROP SCHEMA IF EXISTS $schema CASCADE" -c "DROP SCHEMA IF EXISTS ${schema}_read CASCADE" \
    >/dev/null 2>&1
  rm -rf "$tmp"
  [[ -n ${own_server:-} ]] && pg_test_server_stop
}
trap cleanup EXIT

nodes=(node-1 node-2 node-3)
"$src/scripts/cluster-certs.sh" "$tmp/tls" cluster-ca "${nodes[@]}" || exit 2
for n in "${nodes[@]}"; do
  cat >"$tmp/$n.json" <<JSON
{ "journal": { "backend": "postgres",
               "postgres": { "conninfo": "$STRATA_TEST_PG", "schema": "$schema" } },
  "projections": { "backend": "postgres",
                   "postgres": { "conninfo": "$STRATA_TEST_PG", "schema": "${schema}_read" } },
  "metrics": { "enabled": false },
  "cluster": { "enabled": true, "node_id": "$n", "host": "127.0.0.1", "port": 0,
               "shard_count": 16, "heartbeat_interval_ms": 200, "suspect_timeout_ms": 1000,
               "dead_timeout_ms": 3000, "lease_duration_ms": 1000,
               "tls": { "certificate": "$tmp/tls/$n.pem", "key": "$tmp/tls/$n.key",
                        "ca": "$tmp/tls/cluster-ca.pem" } } }
JSON
done

# Each node reads its stdin from a pipe this script holds open, and writes to a file.
fds=()
for i in 0 1 2; do
  n=${nodes[$i]}
  mkfifo "$tmp/$n.in"
  "$node_bin" "$tmp/$n.json" <"$tmp/$n.in" >"$tmp/$n.out" 2>"$tmp/$n.err" &
  pids[$i]=$!
  exec {fd}>"$tmp/$n.in"
  fds[$i]=$fd
done

# Waits (bounded, 30 s) until node $1's output has $2 lines; fails naming the node.
await_lines() {
  for _ in $(seq 1 300); do
    (($(wc -l <"$tmp/$1.out") >= $2)) && return 0
    kill -0 "${pids[$3]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "FAIL: $1 did not answer; its stderr:" >&2
  cat "$tmp/$1.err" >&2
  exit 1
}
# Sends line $2 to node $1 (its index) and prints the answer.
ask() {
  local n=${nodes[$1]}
  local before
  before=$(wc -l <"$tmp/$n.out")
  echo "$2" >&"${fds[$1]}"
  await_lines "$n" $((before + 1)) "$1"
  tail -n 1 "$tmp/$n.out"
}

for i in 0 1 2; do
  await_lines "${nodes[$i]}" 1 "$i"
  echo "started: $(head -n 1 "$tmp/${nodes[$i]}.out")"
done
# Until every node sees three live members and an owner for each of the 16 shards.
for _ in $(seq 1 150); do
  settled=1
  for i in 0 1 2; do
    [[ $(ask "$i" status) == *" live=3 "*" routed=16 "* ]] || settled=0
  done
  ((settled)) && break
  sleep 0.2
done
((settled)) || { echo "FAIL: the nodes did not share the shards within 30 s" >&2; exit 1; }
for i in 0 1 2; do echo "$(ask "$i" status)"; done
echo

failures=0
for i in 0 1 2; do
  sender=${nodes[$i]}
  for k in 1 2 3 4; do
    order="order-$sender-$k"
    for verb in place confirm; do
      # Confirm through the next node: any node takes any order.
      via=$i
      [[ $verb == confirm ]] && via=$(((i + 1) % 3))
      answer=$(ask "$via" "$verb $order")
      echo "via ${nodes[$via]}: $answer"
      [[ $answer == *" accepted v"* ]] || failures=$((failures + 1))
    done
  done
done
echo
for i in 0 1 2; do echo "$(ask "$i" status)"; done
if [[ -n $strata_bin ]]; then
  echo
  echo "\$ strata --pg ... --pg-schema $schema cluster"
  "$strata_bin" --pg "$STRATA_TEST_PG" --pg-schema "$schema" cluster || failures=$((failures + 1))
fi

for i in 0 1 2; do echo quit >&"${fds[$i]}"; done
for i in 0 1 2; do
  wait "${pids[$i]}" || {
    echo "FAIL: ${nodes[$i]} exited with $?; the end of its stderr:" >&2
    tail -n 40 "$tmp/${nodes[$i]}.err" >&2
    failures=$((failures + 1))
  }
  pids[$i]=
done
echo
if ((failures)); then
  echo "FAIL: $failures check(s) failed"
  exit 1
fi
echo "ok: 12 orders placed and confirmed through three nodes"
