#!/usr/bin/env bash
# Installs the built library into a temporary prefix, then configures, builds and runs the host
# program of examples/package_host against it with find_package(strata CONFIG REQUIRED).
# $1 = strata's build directory, $2 = strata's source directory.
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-package.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log"
for f in include/strata/runtime/runtime.hpp include/strata/domain/kernel/decider.hpp \
  include/strata/testing/given_when_then.hpp include/strata/testing/upcast.hpp \
  include/strata/testing/golden.hpp \
  lib/cmake/strata/strataConfig.cmake lib/cmake/strata/strataConfigVersion.cmake \
  lib/cmake/strata/FindCAF.cmake; do
  [[ -f $tmp/prefix/$f ]] || { echo "FAIL: $f not installed"; exit 1; }
done
if find "$tmp/prefix/include/strata/domain" -mindepth 1 -maxdepth 1 -type d | grep -v '/kernel$'; then
  echo "FAIL: the application's headers were installed"
  exit 1
fi
[[ ! -e $tmp/prefix/include/strata/domain/kernel/testing ]] ||
  { echo "FAIL: the test helpers were installed under domain/kernel/ too"; exit 1; }
cmake -S "$src/examples/package_host" -B "$tmp/host" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_BUILD_TYPE=Release >"$tmp/configure.log" || { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/host" -j2 >"$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }
out=$("$tmp/host/counter_host")
echo "$out"
[[ $out == "counter c-1 at v2: 5" ]] || { echo "FAIL: unexpected output"; exit 1; }
echo "the installed package builds and runs a host"
