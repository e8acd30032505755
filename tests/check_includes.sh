#!/usr/bin/env bash
# Fails when a file includes, or a CMakeLists.txt links, what its folder may not use
# (DESIGN.md §2). Each violation is printed as file:line:text.
#
# The library and the application built on it:
#   library       domain/kernel/, persistence/, metrics/, actors/, runtime/: no business header
#                 (domain/<context>/) and, in their CMakeLists.txt, no business target linked
#   decider       the files directly in domain/<context>/: domain/kernel/ and the decider headers
#                 of the contexts (never a read model, persistence/, actors/, runtime/, metrics/)
#   application   the subfolders of a context (read_models/, processes/): the library's public
#                 headers only (domain/kernel/, the persistence/ seams, runtime/) and the
#                 application's own; never actors/, metrics/, a storage backend or a detail/
# The engine's own direction:
#   caf/          only in actors/, runtime/*.cpp, examples/, tools/ (and the tests)
#   SQLite, libpq only in persistence/ (and the persistence tests and benchmarks); the relay
#                 consumer example (examples/relay_consumer/), a program that links no strata,
#                 keeps its own SQLite read model
#   rabbitmq-c    only in persistence/rabbitmq/ and examples/relay_consumer/
#   kernel        includes only the kernel
#   runtime.hpp   must not pull CAF into hosts: no public runtime header includes caf/
#   detail/       a folder's detail/ is included from that folder only
#   strata/       every include of a strata header is written "strata/<folder>/..."
#   testing/      the kernel's test helpers (domain/kernel/testing/) are "strata/testing/...",
#                 included by tests and hosts only, never by the library or the application
# Single homes (not includes, but checked the same way):
#   printing      the library writes to no stream but through the log seam
#   wall clock    the library reads it only through the clock seam
set -uo pipefail
root=${1:-$(dirname "$0")/..}
cd "$root" || exit 2
status=0

library=(domain/kernel persistence metrics actors runtime)

# The bounded contexts of the application: every folder of domain/ but the kernel.
contexts=()
for d in domain/*/; do
  d=${d%/}
  [[ $d == domain/kernel ]] || contexts+=("$d")
done
context_names=$(printf '%s\n' "${contexts[@]}" | sed 's#^domain/##' | paste -sd '|')

sources() {  # the C++ files under the given folders, extra find arguments first
  local depth=()
  while [[ $# -gt 0 && $1 == -* ]]; do depth+=("$1" "$2"); shift 2; done
  [[ $# -gt 0 ]] || return 0
  find "$@" "${depth[@]}" -type f \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' \) \
    2>/dev/null | sort
}

violations() {  # $1 = regex of the include, rest = folders where it is forbidden
  local pattern=$1; shift
  grep -rnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"](strata/)?($pattern)" "$@" \
    --include='*.hpp' --include='*.cpp' --include='*.h' 2>/dev/null
}

quoted_includes() {  # file:line:text of every #include "..." in the files read from stdin
  local files
  mapfile -t files
  [[ ${#files[@]} -gt 0 ]] || return 0
  grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "${files[@]}" /dev/null
}

include_path() {  # sets `path` to what the include line $1 names between its quotes
  path=
  [[ $1 =~ include[[:space:]]*\"([^\"]*)\" ]] && path=${BASH_REMATCH[1]}
  path=${path#strata/}  # the rules below speak of folders
}

only_allowed() {  # $1 = regex of allowed include paths; prints the lines of stdin outside it
  local line path
  while IFS= read -r line; do
    include_path "$line"
    [[ $path =~ ^($1)$ ]] || printf '%s\n' "$line"
  done
}

only_matching() {  # $1 = regex of include paths; prints the lines of stdin that name one
  local line path
  while IFS= read -r line; do
    include_path "$line"
    [[ $path =~ ^($1)$ ]] && printf '%s\n' "$line"
  done
  return 0
}

report() {
  local what=$1 out=$2
  if [[ -n "$out" ]]; then
    echo "forbidden include of $what:"
    echo "$out"
    status=1
  fi
}

# --- Every strata header by its strata/ path ----------------------------------------------------

report "a strata header without the strata/ prefix (write \"strata/<folder>/...\")" \
  "$(find . -path ./.git -prune -o -path './build*' -prune -o -type f \
      \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' \) -print 2>/dev/null | sed 's#^\./##' | sort |
    xargs -r grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](domain|persistence|actors|runtime|metrics|testing)/' /dev/null)"
report "a test helper by its source folder (write \"strata/testing/...\")" \
  "$(find . -path ./.git -prune -o -path './build*' -prune -o -type f \
      \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' \) -print 2>/dev/null | sed 's#^\./##' | sort |
    xargs -r grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](strata/)?domain/kernel/testing/' /dev/null)"

# --- The line between the library and the application ---------------------------------------

report "a business header (domain/<context>/) from the library" \
  "$(sources "${library[@]}" | quoted_includes | only_allowed 'domain/kernel/.+' |
    only_matching 'domain/.+')"

if [[ ${#contexts[@]} -gt 0 ]]; then
  report "anything but the kernel and decider headers from a decider" \
    "$(sources -maxdepth 1 "${contexts[@]}" | quoted_includes |
      only_allowed "domain/kernel/[^/]+|domain/($context_names)/[^/]+\\.hpp")"

  application=$(sources -mindepth 2 "${contexts[@]}" | quoted_includes)
  public="domain/kernel/[^/]+|runtime/[^/]+|persistence/[^/]+"
  report "anything but the library's public headers from a read model or process" \
    "$(only_allowed "$public|domain/($context_names)/.+" <<<"$application")"
  backends='persistence/(sqlite_|memory_|fault_injecting_|postgres/).*'
  report "a storage backend from a read model or process (the host picks the backend)" \
    "$(only_matching "$backends" <<<"$application")"
fi

# target_link_libraries(...) of the library's CMakeLists.txt must name no business target.
# (Business targets: those add_library() names under domain/ outside the kernel, with aliases.)
business_targets=$(
  find domain -name CMakeLists.txt -not -path 'domain/kernel/*' -print0 2>/dev/null |
    xargs -0 -r sed -nE 's/^[[:space:]]*add_library\([[:space:]]*([A-Za-z0-9_:.+-]+).*/\1/p' |
    sort -u | paste -sd '|')
if [[ -n $business_targets ]]; then
  links=$(find "${library[@]}" -name CMakeLists.txt -print0 2>/dev/null | sort -z |
    xargs -0 -r awk '
      FNR == 1 { inside = 0 }
      { line = $0; sub(/#.*/, "", line) }
      line ~ /target_link_libraries[[:space:]]*\(/ { inside = 1 }
      inside { print FILENAME ":" FNR ":" line }
      inside && line ~ /\)/ { inside = 0 }')
  if [[ -n $links ]]; then
    out=$(grep -E "(^|[^A-Za-z0-9_:])($business_targets)([^A-Za-z0-9_:]|$)" <<<"$links")
    if [[ -n $out ]]; then
      echo "forbidden link of a business target from a library CMakeLists.txt:"
      echo "$out"
      status=1
    fi
  fi
fi

# --- The engine's own direction ---------------------------------------------------------------

report "CAF" "$(violations 'caf/' domain persistence metrics)"
report "CAF in a public runtime header" "$(violations 'caf/' runtime --include='*.hpp' | grep '\.hpp:')"
report "SQLite" "$(violations 'SQLiteCpp/|sqlite3\.h' domain metrics actors runtime examples |
  grep -v '^examples/relay_consumer/')"
report "rabbitmq-c" "$(violations 'amqp[a-z_]*\.h|rabbitmq-c/' domain metrics actors runtime tools \
  examples persistence | grep -vE '^(persistence/rabbitmq|examples/relay_consumer)/')"
report "PostgreSQL" "$(violations 'libpq-fe\.h|pqxx/|postgresql/' domain metrics actors runtime examples)"
report "anything but the kernel from the kernel" \
  "$(sources domain/kernel | grep -v '^domain/kernel/testing/' | quoted_includes |
    only_allowed 'domain/kernel/.+')"
report "anything but the kernel and strata/testing/ from the test helpers" \
  "$(sources domain/kernel/testing | quoted_includes | only_allowed 'domain/kernel/.+|testing/.+')"
report "the test helpers (strata/testing/) from the library or the application" \
  "$(violations 'testing/' persistence metrics actors runtime "${contexts[@]}")"
report "actors or runtime from persistence" "$(violations 'actors/|runtime/' persistence metrics)"
report "runtime from actors" "$(violations 'runtime/' actors)"
report "actors from an example (examples use the public API)" "$(violations 'actors/' examples)"
report "another folder's detail/" \
  "$(sources domain persistence metrics actors runtime examples tools | quoted_includes |
    awk -F: '{
      inc = $0; sub(/^[^"]*"/, "", inc); sub(/".*/, "", inc); sub(/^strata\//, "", inc)
      n = index(inc, "/detail/"); if (n == 0) next
      owner = substr(inc, 1, n)                   # "persistence/postgres/" of ".../detail/x.hpp"
      if (substr($1, 1, length(owner)) != owner) print
    }')"

# --- Single homes -------------------------------------------------------------------------------
# The library reports only through the log seam (domain/kernel/log.hpp), whose default sink in
# domain/kernel/log.cpp is the one place that writes to a stream; and it reads the wall clock
# only through the clock seam (strata::clock), whose system implementation is in runtime.cpp.

code_lines() {  # $1 = regex; file:line:text of the library's C++ lines matching it, comments aside
  sources "${library[@]}" | xargs -r grep -nE "$1" /dev/null |
    grep -vE '^[^:]+:[0-9]+:[[:space:]]*//'
}
report "printing outside the log seam (use strata::logger)" \
  "$(code_lines '(^|[^a-z_])(printf|fprintf|puts|fputs|perror)[[:space:]]*\(|std::(cout|cerr|clog)' |
    grep -v '^domain/kernel/log\.cpp:')"
report "a wall-clock read outside the clock seam (use strata::clock)" \
  "$(code_lines 'system_clock::now|(^|[^a-z_])(time|gettimeofday|clock_gettime)[[:space:]]*\(' |
    grep -v '^runtime/runtime\.cpp:')"

if [[ $status -eq 0 ]]; then
  echo "include rules hold"
fi
exit $status
