#!/usr/bin/env bash
# Fails when a header is included outside the folders allowed to include it (DESIGN.md §2):
#   caf/            only in actors/, runtime/*.cpp, examples/, tools/, tests/actors, tests/runtime
#   SQLite, libpq   only in persistence/ (and the persistence tests and benchmarks)
#   CAF and SQL     never in domain/, persistence/ (CAF), metrics/ (both)
#   runtime.hpp     must not pull CAF into hosts: no public runtime header includes caf/
set -uo pipefail
root=${1:-$(dirname "$0")/..}
cd "$root" || exit 2
status=0

violations() {  # $1 = regex of the include, rest = folders where it is forbidden
  local pattern=$1; shift
  grep -rnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($pattern)" "$@" \
    --include='*.hpp' --include='*.cpp' --include='*.h' 2>/dev/null
}

report() {
  local what=$1 out=$2
  if [[ -n "$out" ]]; then
    echo "forbidden include of $what:"
    echo "$out"
    status=1
  fi
}

report "CAF" "$(violations 'caf/' domain persistence metrics)"
report "CAF in a public runtime header" "$(violations 'caf/' runtime --include='*.hpp' | grep '\.hpp:')"
report "SQLite" "$(violations 'SQLiteCpp/|sqlite3\.h' domain metrics actors runtime examples)"
report "PostgreSQL" "$(violations 'libpq-fe\.h|pqxx/|postgresql/' domain metrics actors runtime examples)"
report "persistence, actors or runtime from domain" "$(violations 'persistence/|actors/|runtime/|metrics/' domain)"
report "actors or runtime from persistence" "$(violations 'actors/|runtime/' persistence metrics)"
report "runtime from actors" "$(violations 'runtime/' actors)"
report "another folder's detail/" "$(grep -rnE '#[[:space:]]*include[[:space:]]*"[a-z_]+/detail/' domain persistence metrics actors runtime examples tools 2>/dev/null |
  awk -F: '{ split($1, f, "/"); match($0, /"[a-z_]+\//); inc = substr($0, RSTART + 1, RLENGTH - 2); if (f[1] != inc && !(f[1] == "domain")) print }')"

if [[ $status -eq 0 ]]; then
  echo "include rules hold"
fi
exit $status
