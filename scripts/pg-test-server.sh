# Sourced by test.sh: a throwaway PostgreSQL cluster owned by the test run, on 127.0.0.1 and a
# free port. Exports STRATA_TEST_PG (a libpq connection string) for the PostgreSQL tests.

pg_test_server_start() {
  local bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  PG_TEST_DIR=$(mktemp -d /tmp/strata-pg.XXXXXX)
  local port
  port=$((20000 + RANDOM % 20000))
  while (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((20000 + RANDOM % 20000)); done
  local run=()
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres:postgres "$PG_TEST_DIR"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$bindir/initdb" -D "$PG_TEST_DIR/data" -U strata --auth=trust -E UTF8 >"$PG_TEST_DIR/initdb.log" 2>&1
  # Settings go into the cluster's own config so that a test can restart it with plain pg_ctl.
  printf "listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\nmax_connections = 200\n" \
    "$port" "$PG_TEST_DIR" >>"$PG_TEST_DIR/data/postgresql.conf"
  "${run[@]}" "$bindir/pg_ctl" -D "$PG_TEST_DIR/data" -l "$PG_TEST_DIR/server.log" -w -t 60 start >/dev/null
  PG_TEST_BINDIR=$bindir
  PG_TEST_RUN=("${run[@]}")
  export STRATA_TEST_PG="host=127.0.0.1 port=$port user=strata dbname=postgres"
  # Tests that stop and restart the server mid-run prefix "stop -m fast" / "start -w" with this.
  # The server it starts keeps no descriptor of the test that ran it (a test's pipes, a
  # sanitizer's symbolizer), or the test runner would wait for the server: only 0-2.
  cat >"$PG_TEST_DIR/ctl" <<CTL
#!/usr/bin/env bash
for fd in /proc/\$\$/fd/*; do fd=\${fd##*/}; if (( fd > 2 )); then eval "exec \$fd>&-"; fi; done 2>/dev/null
exec ${run[*]} $bindir/pg_ctl -D $PG_TEST_DIR/data -l $PG_TEST_DIR/server.log "\$@"
CTL
  chmod +x "$PG_TEST_DIR/ctl"
  export STRATA_TEST_PG_CTL="$PG_TEST_DIR/ctl"
  echo "test PostgreSQL on 127.0.0.1:$port ($PG_TEST_DIR)"
}

pg_test_server_stop() {
  if [[ -n "${PG_TEST_DIR:-}" && -d "$PG_TEST_DIR/data" ]]; then
    "${PG_TEST_RUN[@]}" "$PG_TEST_BINDIR/pg_ctl" -D "$PG_TEST_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_TEST_DIR"
  fi
}
