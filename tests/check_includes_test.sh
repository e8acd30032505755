#!/usr/bin/env bash
# Proves that check_includes.sh holds the line: on a copy of the source tree (without .git and
# build directories) it must pass; then, for one planted violation at a time, it must fail and
# name the planted file.
set -uo pipefail
src=$(cd "${1:-$(dirname "$0")/..}" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-include-rules.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
failures=0

mkdir "$tmp/pristine"
tar -C "$src" --exclude=./.git --exclude='./build*' --exclude=./.cache -cf - . |
  tar -C "$tmp/pristine" -xf - || exit 2

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# $1 = what is planted, $2 = file (relative to the tree), $3 = text appended to it (created when
# missing). The check must fail on the planted tree and name the file.
expect_caught() {
  local what=$1 file=$2 text=$3 tree=$tmp/case out rc
  rm -rf "$tree"
  cp -a "$tmp/pristine" "$tree"
  mkdir -p "$(dirname "$tree/$file")"
  printf '%s\n' "$text" >>"$tree/$file"
  out=$(bash "$src/tests/check_includes.sh" "$tree" 2>&1)
  rc=$?
  if [[ $rc -eq 0 ]]; then
    fail "$what ($file) was not caught"
  elif ! grep -qF "$file:" <<<"$out"; then
    fail "$what was caught without naming $file:"$'\n'"$out"
  else
    echo "ok: $what ($file)"
  fi
}

out=$(bash "$src/tests/check_includes.sh" "$tmp/pristine" 2>&1) ||
  fail "the unmodified tree does not pass:"$'\n'"$out"
[[ $failures -eq 0 ]] && echo "ok: the unmodified tree passes"

# The library includes no business header.
expect_caught "a library header including a decider" \
  persistence/planted_view.hpp '#include "strata/domain/orders/order.hpp"'
expect_caught "the runtime including a decider" \
  runtime/planted_shop.cpp '#include "strata/domain/payments/payment.hpp"'
expect_caught "the kernel including a decider" \
  domain/kernel/planted.hpp '#include "strata/domain/inventory/inventory_item.hpp"'
expect_caught "an actor including a read model" \
  actors/planted.cpp '#include "strata/domain/orders/read_models/order_summary.hpp"'

# A decider includes the kernel and decider headers only.
expect_caught "a decider including the journal" \
  domain/orders/planted_rule.hpp '#include "strata/persistence/journal.hpp"'
expect_caught "a decider including the runtime" \
  domain/fulfilment/planted_rule.cpp '#include "strata/runtime/runtime.hpp"'
expect_caught "a decider including a read model" \
  domain/payments/planted_rule.hpp '#include "strata/domain/orders/read_models/order_summary.hpp"'
expect_caught "a decider including metrics" \
  domain/users/planted_rule.cpp '#include "strata/metrics/metrics.hpp"'

# Read models and processes use the library's public headers only.
expect_caught "a read model including an actor" \
  domain/orders/read_models/planted_view.cpp '#include "strata/actors/engine.hpp"'
expect_caught "a process including another folder's detail/" \
  domain/fulfilment/processes/planted.cpp '#include "strata/persistence/postgres/detail/pg_session.hpp"'
expect_caught "a read model including a storage backend" \
  domain/inventory/read_models/planted.hpp '#include "strata/persistence/sqlite_projection_store.hpp"'

# The library's CMakeLists.txt link no business target (one line or spread over several).
expect_caught "the persistence target linking a decider target" \
  persistence/CMakeLists.txt 'target_link_libraries(strata_persistence PRIVATE strata_orders)'
expect_caught "the runtime target linking the fulfilment process by its alias" \
  runtime/CMakeLists.txt \
  $'target_link_libraries(strata_runtime\n  PUBLIC\n    strata::fulfilment_process)'
expect_caught "the actors target linking the whole shop" \
  actors/CMakeLists.txt 'target_link_libraries(strata_actors PRIVATE strata_shop)'

# The engine's own rules.
expect_caught "CAF in a decider" domain/orders/planted.hpp '#include <caf/all.hpp>'
expect_caught "CAF in a public runtime header" runtime/planted.hpp '#include <caf/actor.hpp>'
expect_caught "SQLite in the runtime" runtime/planted.cpp '#include <SQLiteCpp/Database.h>'
expect_caught "libpq in an actor" actors/planted.cpp '#include <libpq-fe.h>'
expect_caught "rabbitmq-c in the runtime" runtime/planted.cpp '#include <amqp.h>'
expect_caught "SQLite in an example host" examples/orders/planted.cpp '#include <SQLiteCpp/Database.h>'
expect_caught "the runtime from persistence" \
  persistence/planted.cpp '#include "strata/runtime/runtime.hpp"'
expect_caught "another folder's detail/ from the runtime" \
  runtime/planted.cpp '#include "strata/actors/detail/messages.hpp"'

# Every strata header by its strata/ path, in the library, the application, tests and tools.
expect_caught "a runtime file including a header without the prefix" \
  runtime/planted.cpp '#include "persistence/journal.hpp"'
expect_caught "a test including a header without the prefix" \
  tests/kernel/planted_test.cpp '#include "domain/kernel/result.hpp"'
expect_caught "an example including a header without the prefix" \
  examples/orders/planted.cpp '#include <runtime/runtime.hpp>'

# The kernel's test helpers: by their strata/testing/ path, and from tests and hosts only.
expect_caught "a test including a test helper by its source folder" \
  tests/domain/planted_test.cpp '#include "strata/domain/kernel/testing/golden.hpp"'
expect_caught "a test including a test helper without the prefix" \
  tests/fulfilment/planted_test.cpp '#include "testing/given_when_then.hpp"'
expect_caught "the runtime including a test helper" \
  runtime/planted.cpp '#include "strata/testing/given_when_then.hpp"'
expect_caught "a decider including a test helper" \
  domain/orders/planted_rule.hpp '#include "strata/testing/upcast.hpp"'
expect_caught "the kernel including a test helper" \
  domain/kernel/planted.hpp '#include "strata/testing/golden.hpp"'

# Single homes: printing and the wall clock only through their seams.
expect_caught "an actor printing to stderr" \
  actors/planted.cpp 'void f() { std::fprintf(stderr, "oops\n"); }'
expect_caught "a store writing to std::cerr" \
  persistence/planted.cpp 'void f() { std::cerr << "oops"; }'
expect_caught "the runner reading the system clock" \
  persistence/planted.cpp 'auto t = std::chrono::system_clock::now();'

if [[ $failures -gt 0 ]]; then
  echo "$failures case(s) failed"
  exit 1
fi
echo "every planted violation was caught"
