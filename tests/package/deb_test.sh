#!/usr/bin/env bash
# Packs the build with `cpack -G DEB` into a temporary directory and checks the package: its
# name and dependencies, the library's headers, static libraries and CMake package, the `strata`
# command line (when tools are built), and none of the application. $1 = strata's build directory.
set -euo pipefail
build=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log") ||
  { cat "$tmp/cpack.log"; exit 1; }
deb=$(find "$tmp/out" -maxdepth 1 -name 'libstrata-dev_*.deb' | head -n 1)
[[ -n $deb ]] || { echo "FAIL: no libstrata-dev package"; exit 1; }
info=$(dpkg-deb -I "$deb")
grep -q '^ Package: libstrata-dev$' <<<"$info" || { echo "FAIL: package name"; exit 1; }
grep -q '^ Depends: .*libcaf-dev' <<<"$info" || { echo "FAIL: no dependency on libcaf-dev"; exit 1; }
files=$(dpkg-deb -c "$deb" | awk '{print $6}')
status=0
for f in ./usr/include/strata/runtime/runtime.hpp ./usr/include/strata/domain/kernel/decider.hpp \
  ./usr/include/strata/persistence/journal.hpp ./usr/include/strata/testing/given_when_then.hpp \
  ./usr/lib/libstrata_runtime.a \
  ./usr/lib/libstrata_kernel.a ./usr/lib/cmake/strata/strataConfig.cmake \
  ./usr/lib/cmake/strata/strataConfigVersion.cmake ./usr/lib/cmake/strata/strataTargets.cmake \
  ./usr/lib/cmake/strata/FindCAF.cmake; do
  grep -qxF "$f" <<<"$files" || { echo "FAIL: $f is not in the package"; status=1; }
done
programs=()
if grep -qx 'STRATA_BUILD_TOOLS:BOOL=ON' "$build/CMakeCache.txt"; then
  programs=(./usr/bin/strata)
  for f in ./usr/bin/strata ./usr/include/strata/cli/cli.hpp ./usr/include/strata/cli/operations.hpp \
    ./usr/lib/libstrata_cli.a; do
    grep -qxF "$f" <<<"$files" || { echo "FAIL: $f is not in the package"; status=1; }
  done
fi
if grep -E '^\./usr/include/strata/domain/(orders|payments|inventory|users|fulfilment)/|^\./usr/(s?bin)/.' <<<"$files" |
  grep -vxF -f <(printf '%s\n' "${programs[@]}"); then
  echo "FAIL: the package holds the application or programs other than strata"
  status=1
fi
[[ $status -eq 0 ]] && echo "libstrata-dev holds the library: $(wc -l <<<"$files") entries"
exit $status
