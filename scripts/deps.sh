#!/usr/bin/env bash
# Installs the Debian 12 packages strata builds and tests with. Idempotent: when everything is
# present it does nothing (no apt-get update, no network).
set -euo pipefail

packages=(
  g++ cmake make pkg-config
  libcaf-dev libcaf-openssl0.17 openssl libsqlitecpp-dev libsqlite3-dev sqlite3
  libboost1.81-dev libboost-json1.81-dev
  prometheus-cpp-dev libpq-dev libpqxx-dev libssl-dev libcli11-dev libfmt-dev
  librabbitmq-dev libgoogle-perftools-dev
  doctest-dev
)
if [[ "${1:-}" == "--with-test-servers" ]]; then
  # The servers the tests start, and clang with its sanitizer and libFuzzer runtimes for the
  # sanitized suites and the fuzz targets (scripts/sanitize.sh, scripts/fuzz.sh).
  packages+=(postgresql rabbitmq-server prometheus curl clang-14 libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
