#!/usr/bin/env bash
# Installs the Debian 12 packages kv needs to build, test and benchmark.
# Idempotent: asks apt only for what is missing, so a second run is a no-op.
# Run as root (or with sudo available). deps/README.md says why each is here.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang clang-format
  libuv1-dev libjemalloc-dev libsnappy-dev
  doctest-dev libhiredis-dev
  redis-tools redis-server python3 python3-redis
  valgrind
  libleveldb-dev librocksdb-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
# The packaged redis-server starts a system service on 6379; tests and the
# bench start their own instances on free ports, so keep it out of the way.
if [[ " ${missing[*]} " == *" redis-server "* ]]; then
  (systemctl stop redis-server || service redis-server stop || true) >/dev/null 2>&1
fi
