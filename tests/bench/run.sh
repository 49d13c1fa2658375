#!/usr/bin/env bash
# Benchmark entry point. `make bench` runs this: first the server bench
# (kv-server vs Redis 7 with redis-benchmark), then the storage bench (kv's
# LSM vs LevelDB and RocksDB, storage_bench.sh). Arguments other than the two
# below go to server_bench.py:
#   --quick            requests / 10, one round per server; storage: 100,000 keys
#   --no-callgrind     skip the instructions-per-request phase
#   --no-server        skip the server bench
#   --no-storage       skip the storage bench
#   --help             everything else
# Env: KV_BENCH_KV_BIN (default build/kv-server), KV_BENCH_REDIS_BIN
# (default redis-server), KV_BENCH_KV_ARGS, KV_BENCH_REDIS_ARGS;
# KV_BENCH_STORAGE_ARGS (extra storage_bench.sh arguments, e.g. "--rounds 3").
# See tests/bench/README.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"

run_server=1
run_storage=1
storage_args=()
args=()
for a in "$@"; do
  case "$a" in
    --no-server) run_server=0 ;;
    --no-storage) run_storage=0 ;;
    *) args+=("$a") ;;
  esac
done
set -- "${args[@]}"
if [[ " $* " == *" --quick "* ]]; then storage_args+=(--quick); fi
read -r -a extra <<<"${KV_BENCH_STORAGE_ARGS:-}"
storage_args+=("${extra[@]}")
if [[ " $* " == *" --help "* || " $* " == *" -h "* ]]; then
  python3 "$here/server_bench.py" --help
  echo
  echo "storage bench (tests/bench/storage_bench.sh):"
  bash "$here/storage_bench.sh" --help
  exit 0
fi
if ((!run_server)); then
  if ((run_storage)); then exec bash "$here/storage_bench.sh" "${storage_args[@]}"; fi
  exit 0
fi

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

# Two server comparisons, each like for like:
#   cache:   kv `storage memory`  vs Redis with no persistence
#   durable: kv `storage lsm` with appendfsync everysec vs Redis with AOF
#            appendfsync everysec
# KV_BENCH_KV_ARGS / KV_BENCH_REDIS_ARGS, if set, replace both.
if [[ -n "${KV_BENCH_KV_ARGS:-}${KV_BENCH_REDIS_ARGS:-}" ]]; then
  python3 "$here/server_bench.py" "$@"
else
  echo "=== server bench 1/2: cache (kv storage memory vs Redis, no persistence)"
  KV_BENCH_KV_ARGS="--storage memory" python3 "$here/server_bench.py" "$@"
  echo
  echo "=== server bench 2/2: durable (kv storage lsm, appendfsync everysec vs Redis AOF everysec)"
  KV_BENCH_KV_ARGS="--storage lsm --appendfsync everysec" \
    KV_BENCH_REDIS_ARGS="--appendonly yes --appendfsync everysec" \
    python3 "$here/server_bench.py" "$@"
fi
if ((run_storage)); then
  echo
  bash "$here/storage_bench.sh" "${storage_args[@]}"
fi
