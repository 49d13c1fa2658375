#!/usr/bin/env bash
# Server benchmark entry point: kv-server vs Redis 7 with redis-benchmark.
# `make bench` runs this. All arguments go to server_bench.py:
#   --quick            requests / 10, one round per server
#   --no-callgrind     skip the instructions-per-request phase
#   --help             everything else
# Env: KV_BENCH_KV_BIN (default build/kv-server), KV_BENCH_REDIS_BIN
# (default redis-server), KV_BENCH_KV_ARGS, KV_BENCH_REDIS_ARGS.
# See tests/bench/README.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"

missing=()
for tool in python3 redis-server redis-benchmark; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [[ " $* " != *" --no-callgrind "* ]]; then
  for tool in valgrind callgrind_control; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
fi
if ((${#missing[@]})); then
  echo "run.sh: missing ${missing[*]}; install with: apt-get install redis-server redis-tools valgrind python3" >&2
  echo "        (or pass --no-callgrind to skip valgrind)" >&2
  exit 2
fi

exec python3 "$here/server_bench.py" "$@"
