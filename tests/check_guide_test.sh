#!/usr/bin/env bash
# Proves that check_guide.sh notices a guide that drifted from its example: on a copy of
# docs/GUIDE.md and examples/guide/ it must pass; with a quoted line edited in the example, or a
# C++ block that quotes no file, it must fail and name the guide's line.
set -uo pipefail
src=$(cd "${1:-$(dirname "$0")/..}" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-guide.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
failures=0

fresh_copy() {
  rm -rf "$tmp/tree"
  mkdir -p "$tmp/tree/docs" "$tmp/tree/examples"
  cp "$src/docs/GUIDE.md" "$tmp/tree/docs/" && cp -a "$src/examples/guide" "$tmp/tree/examples/"
}

expect() {  # $1 = what, $2 = 0 (pass) or 1 (fail naming the guide)
  local out rc
  out=$(bash "$src/tests/check_guide.sh" "$tmp/tree" 2>&1)
  rc=$?
  if [[ $2 -eq 0 && $rc -ne 0 ]]; then
    echo "FAIL: $1 does not pass:"$'\n'"$out"
    failures=$((failures + 1))
  elif [[ $2 -eq 1 && ($rc -eq 0 || $out != *"GUIDE.md:"*) ]]; then
    echo "FAIL: $1 was not caught:"$'\n'"$out"
    failures=$((failures + 1))
  else
    echo "ok: $1"
  fi
}

fresh_copy
expect "the guide and its example as they are" 0

fresh_copy
sed -i 's/insufficient_funds = "insufficient_funds"/insufficient_funds = "no_funds"/' \
  "$tmp/tree/examples/guide/account.hpp"
expect "a quoted line edited in the example" 1

fresh_copy
printf '\n```cpp\nint answer = 42;\n```\n' >>"$tmp/tree/docs/GUIDE.md"
expect "a C++ block that quotes no file" 1

fresh_copy
printf '\n<!-- quote: examples/guide/missing.hpp -->\n```cpp\nint answer = 42;\n```\n' \
  >>"$tmp/tree/docs/GUIDE.md"
expect "a quote of a file that does not exist" 1

[[ $failures -eq 0 ]] || exit 1
echo "check_guide.sh catches a guide that drifted from its example"
