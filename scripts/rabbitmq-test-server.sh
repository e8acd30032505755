# Sourced by test.sh: a throwaway RabbitMQ node owned by the test run, on 127.0.0.1 and free
# ports (AMQP, Erlang distribution and its own epmd), with its data, logs and configuration in a
# temporary directory. Exports
#   STRATA_TEST_AMQP_URL  the node's AMQP URL (guest/guest, vhost "/") for the relay tests;
#   STRATA_TEST_AMQP_CTL  a script: `"$STRATA_TEST_AMQP_CTL" stop` stops the node and
#                         `"$STRATA_TEST_AMQP_CTL" start` starts it again (returning once it
#                         accepts connections, or failing after 60 s), for tests that restart
#                         the broker mid-run.
# Works as root (CI) and as any other user: the node runs as whoever sources the script, with
# HOME (and so its Erlang cookie) in the temporary directory.

_rabbitmq_free_port() {
  local port
  port=$((20000 + RANDOM % 20000))
  while (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((20000 + RANDOM % 20000)); done
  echo "$port"
}

rabbitmq_test_server_start() {
  local bindir=/usr/lib/rabbitmq/bin
  if [[ ! -x $bindir/rabbitmq-server ]]; then
    echo "rabbitmq-server is not installed (scripts/deps.sh --with-test-servers)" >&2
    return 1
  fi
  RABBITMQ_TEST_DIR=$(mktemp -d /tmp/strata-amqp.XXXXXX)
  local amqp_port dist_port epmd_port
  amqp_port=$(_rabbitmq_free_port)
  dist_port=$(_rabbitmq_free_port)
  while [[ $dist_port == "$amqp_port" ]]; do dist_port=$(_rabbitmq_free_port); done
  epmd_port=$(_rabbitmq_free_port)
  while [[ $epmd_port == "$amqp_port" || $epmd_port == "$dist_port" ]]; do
    epmd_port=$(_rabbitmq_free_port)
  done
  local dir=$RABBITMQ_TEST_DIR
  local node="strata-test-$$-$RANDOM@localhost"
  mkdir -p "$dir/mnesia" "$dir/log" "$dir/home"
  printf 'listeners.tcp.default = 127.0.0.1:%d\nloopback_users.guest = true\n' "$amqp_port" \
    >"$dir/rabbitmq.conf"
  echo '[].' >"$dir/enabled_plugins"
  : >"$dir/rabbitmq-env.conf"
  # Everything the node and its control commands need, in one file both source.
  cat >"$dir/env" <<EOF
export HOME='$dir/home'
export RABBITMQ_NODENAME='$node'
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT=$amqp_port
export RABBITMQ_DIST_PORT=$dist_port
export ERL_EPMD_PORT=$epmd_port
export ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_MNESIA_BASE='$dir/mnesia'
export RABBITMQ_LOG_BASE='$dir/log'
export RABBITMQ_CONFIG_FILE='$dir/rabbitmq.conf'
export RABBITMQ_ENABLED_PLUGINS_FILE='$dir/enabled_plugins'
export RABBITMQ_CONF_ENV_FILE='$dir/rabbitmq-env.conf'
export RABBITMQ_PID_FILE='$dir/node.pid'
export ERL_CRASH_DUMP='$dir/log/erl_crash.dump'
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'
EOF
  cat >"$dir/ctl" <<EOF
#!/usr/bin/env bash
# Stops or starts the throwaway RabbitMQ node of this test run.
set -uo pipefail
. '$dir/env'
case "\${1:-}" in
  start)
    if (echo >/dev/tcp/127.0.0.1/$amqp_port) 2>/dev/null; then exit 0; fi
    # The node keeps no descriptor of whoever started it (a test's pipes, a sanitizer's
    # symbolizer), or a test runner would wait for it: only 0-2, all redirected here.
    ( for fd in /proc/\$BASHPID/fd/*; do fd=\${fd##*/}; if (( fd > 2 )); then eval "exec \$fd>&-"; fi; done 2>/dev/null
      exec setsid $bindir/rabbitmq-server >>'$dir/log/console.log' 2>&1 </dev/null ) &
    echo \$! >'$dir/launcher.pid'
    # Ready once it listens for AMQP and the node reports its boot complete (bounded: 60 s).
    deadline=\$((SECONDS + 60))
    until (echo >/dev/tcp/127.0.0.1/$amqp_port) 2>/dev/null; do
      if (( SECONDS >= deadline )) || ! kill -0 "\$(cat '$dir/launcher.pid')" 2>/dev/null; then
        echo "RabbitMQ node $node did not start; see $dir/log" >&2; exit 1
      fi
      sleep 0.2
    done
    timeout 60 $bindir/rabbitmqctl -q -n '$node' await_startup --timeout 55 >>'$dir/log/ctl.log' 2>&1 || {
      echo "RabbitMQ node $node did not finish booting; see $dir/log" >&2; exit 1; }
    ;;
  stop)
    timeout 60 $bindir/rabbitmqctl -q -n '$node' shutdown >>'$dir/log/ctl.log' 2>&1 || {
      [[ -f '$dir/node.pid' ]] && kill -9 "\$(cat '$dir/node.pid')" 2>/dev/null; }
    ;;
  kill)
    for f in '$dir/node.pid' '$dir/launcher.pid'; do
      [[ -f \$f ]] && kill -9 "\$(cat "\$f")" 2>/dev/null
    done
    epmd -port $epmd_port -kill >/dev/null 2>&1 || true
    ;;
  *) echo "usage: \$0 start|stop|kill" >&2; exit 2 ;;
esac
EOF
  chmod +x "$dir/ctl"
  if ! "$dir/ctl" start; then
    "$dir/ctl" kill
    tail -n 30 "$dir/log/console.log" >&2
    rm -rf "$dir"
    unset RABBITMQ_TEST_DIR
    return 1
  fi
  export STRATA_TEST_AMQP_URL="amqp://guest:guest@127.0.0.1:$amqp_port/"
  export STRATA_TEST_AMQP_CTL="$dir/ctl"
  echo "test RabbitMQ on 127.0.0.1:$amqp_port ($dir)"
}

rabbitmq_test_server_stop() {
  if [[ -n "${RABBITMQ_TEST_DIR:-}" && -d "$RABBITMQ_TEST_DIR" ]]; then
    "$RABBITMQ_TEST_DIR/ctl" stop >/dev/null 2>&1 || true
    "$RABBITMQ_TEST_DIR/ctl" kill >/dev/null 2>&1 || true
    rm -rf "$RABBITMQ_TEST_DIR"
    unset RABBITMQ_TEST_DIR STRATA_TEST_AMQP_URL STRATA_TEST_AMQP_CTL
  fi
}
