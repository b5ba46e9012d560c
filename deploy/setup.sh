#!/usr/bin/env bash
# Installs every Debian package ampmr needs to build, test and run. Safe to run twice.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev
  libsqlite3-dev sqlite3 nlohmann-json3-dev libcpp-httplib-dev libssl-dev openssl
  zlib1g-dev libbz2-dev libzstd-dev gzip bzip2 zstd
  libgoogle-perftools-dev  # tcmalloc (libtcmalloc_minimal), linked into the master and worker
  supervisor python3 python3-grpcio python3-protobuf
  iproute2  # ip netns: the across-nodes tests run each node in a network namespace
  chromium prometheus  # the observe tests: a headless browser and promtool
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# supervisord is started by the project's tests and configs, not by the package's service.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet supervisor 2>/dev/null; then
  systemctl stop supervisor || true
fi
