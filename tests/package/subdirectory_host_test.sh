#!/usr/bin/env bash
# Configures, builds and runs the host of examples/subdirectory_host, which adds strata's source
# tree with add_subdirectory, with the PostgreSQL backend off. Checks that strata forced no build
# type on the host, built none of its tests, tools or examples, and that the host needs neither
# libpq nor libpqxx. $1 = strata's source directory.
set -euo pipefail
src=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-subdir.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cmake -S "$src/examples/subdirectory_host" -B "$tmp/host" -DSTRATA_SOURCE_DIR="$src" \
  -DSTRATA_WITH_POSTGRES=OFF \
  >"$tmp/configure.log" || { cat "$tmp/configure.log"; exit 1; }
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$tmp/host/CMakeCache.txt")
[[ -z $build_type ]] || { echo "FAIL: strata set the host's build type to '$build_type'"; exit 1; }
cmake --build "$tmp/host" -j2 >"$tmp/build.log" || { tail -50 "$tmp/build.log"; exit 1; }
for t in strata-bench strata_kernel_tests orders_demo; do
  if [[ -n $(find "$tmp/host" -type f -name "$t" -perm -u+x) ]]; then
    echo "FAIL: $t was built for a host"
    exit 1
  fi
done
if ldd "$tmp/host/counter_host" | grep -E 'libpq|pqxx'; then
  echo "FAIL: a host without the PostgreSQL backend links libpq or libpqxx"
  exit 1
fi
if refused=$("$tmp/host/counter_host" --postgres 2>&1); then
  echo "FAIL: a runtime on the PostgreSQL journal started in a build without it"
  exit 1
fi
grep -q 'built without PostgreSQL' <<<"$refused" || { echo "FAIL: unclear refusal: $refused"; exit 1; }
out=$("$tmp/host/counter_host")
echo "$out"
[[ $out == "counter c-1 at v2: 5" ]] || { echo "FAIL: unexpected output"; exit 1; }
echo "a host builds strata with add_subdirectory and runs"
