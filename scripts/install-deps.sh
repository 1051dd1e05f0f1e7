#!/usr/bin/env bash
# Installs the Debian 12 packages recrules builds, tests and benchmarks with.
# Run as root (or: sudo scripts/install-deps.sh). Safe to run again: installs only what is missing.
#   --bench   also the packages only the benchmark scripts use (gnuplot for docs/scale.png)
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config g++ clang libclang-rt-14-dev
  liblua5.4-dev lua5.4 tzdata
  nlohmann-json3-dev libspdlog-dev libfmt-dev doctest-dev libsimdjson-dev libcli11-dev
  libssl-dev libcurl4-openssl-dev libboost-dev libboost-system-dev libcpp-httplib-dev
  libbenchmark-dev
  curl wrk nginx-light nodejs npm python3
  systemd  # systemd-analyze verify checks packaging/systemd/recrules.service
)
BENCH_PACKAGES=(gnuplot-nox)  # bench/run_scale_bench.sh draws docs/scale.png with it
if [ "${1:-}" = "--bench" ]; then PACKAGES+=("${BENCH_PACKAGES[@]}"); fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm may come from elsewhere on a developer machine; a working binary is enough.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<<"${missing[*]}"
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root:  sudo $0" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
