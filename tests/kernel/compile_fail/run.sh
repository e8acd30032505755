#!/usr/bin/env bash
# Compiles one file of this folder (syntax only) and checks the outcome its header comments
# promise:
#   // expect: compiles      the file must compile;
#   // expect: <text>        otherwise it must fail, and the diagnostics must contain <text>;
#   // reject: <text>        the diagnostics must not contain <text> (no error from deep inside).
# Usage: run.sh <compiler> <file> [compiler flags...]
set -uo pipefail
cxx=$1 file=$2
shift 2
out=$("$cxx" -std=c++17 -fsyntax-only "$@" "$file" 2>&1)
rc=$?
failures=0
while IFS= read -r want; do
  if [[ $want == compiles ]]; then
    if [[ $rc -ne 0 ]]; then
      echo "FAIL: $file should compile, the compiler said:"
      echo "$out"
      exit 1
    fi
    echo "ok: $file compiles"
    exit 0
  fi
  if [[ $rc -eq 0 ]]; then
    echo "FAIL: $file compiled, it should fail with: $want"
    exit 1
  fi
  if [[ $out != *"$want"* ]]; then
    echo "FAIL: $file failed without saying: $want"
    failures=$((failures + 1))
  fi
done < <(sed -n 's|^// expect: ||p' "$file")
while IFS= read -r unwanted; do
  if [[ $out == *"$unwanted"* ]]; then
    echo "FAIL: $file's diagnostics mention: $unwanted"
    failures=$((failures + 1))
  fi
done < <(sed -n 's|^// reject: ||p' "$file")
if [[ $failures -gt 0 ]]; then
  echo "--- compiler output ---"
  echo "$out"
  exit 1
fi
if ! grep -q '^// expect: ' "$file"; then
  echo "FAIL: $file promises nothing (no // expect: line)"
  exit 1
fi
echo "ok: $file fails to compile with the documented message"
