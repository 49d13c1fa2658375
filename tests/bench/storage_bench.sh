#!/usr/bin/env bash
# Storage engine benchmark: kv's LSM vs LevelDB and RocksDB on the same
# db_bench-style workload (build/kv_storage_bench, one process per engine so
# peak RSS is per engine), then a comparison table of the medians.
#   --quick          100,000 keys instead of 1,000,000
#   --num N          keys (overrides --quick)
#   --rounds N       runs per engine (default 1); rounds alternate the order
#                    (kv leveldb rocksdb, then rocksdb leveldb kv, ...)
#   --engines LIST   comma-separated subset of kv,leveldb,rocksdb
#   --dir DIR        where the databases go (default: a fresh directory
#                    under ${TMPDIR:-/tmp}); removed afterwards unless --keep
#   --keep           keep the databases
#   --kv-records     kv only: store values wrapped in server records
# Env: KV_BENCH_STORAGE_BIN (default build/kv_storage_bench).
# Writes the full output to tests/bench/results/storage-<date>.txt.
# See tests/bench/README.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"

bin="${KV_BENCH_STORAGE_BIN:-$repo/build/kv_storage_bench}"
num=""
quick=0
rounds=1
engines="kv,leveldb,rocksdb"
parent="${TMPDIR:-/tmp}"
dir=""
keep=0
pass=()

usage() { sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    --quick) quick=1 ;;
    --num) num="$2"; shift ;;
    --num=*) num="${1#*=}" ;;
    --rounds) rounds="$2"; shift ;;
    --rounds=*) rounds="${1#*=}" ;;
    --engines) engines="$2"; shift ;;
    --engines=*) engines="${1#*=}" ;;
    --dir) dir="$2"; shift ;;
    --dir=*) dir="${1#*=}" ;;
    --keep) keep=1 ;;
    --kv-records) pass+=(--kv-records) ;;
    -h|--help) usage; exit 0 ;;
    *) echo "storage_bench.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
if [[ -z "$num" ]]; then
  if ((quick)); then num=100000; else num=1000000; fi
fi

if [[ ! -x "$bin" ]]; then
  echo "storage_bench.sh: $bin not found; build it with: cmake --build build --target kv_storage_bench" >&2
  exit 2
fi

built="$("$bin" --list-engines | tr '\n' ' ')"
selected=()
IFS=',' read -r -a wanted <<<"$engines"
for e in "${wanted[@]}"; do
  if [[ " $built " == *" $e "* ]]; then
    selected+=("$e")
  else
    echo "storage_bench.sh: engine '$e' is not built into $bin (built: ${built:-none}); skipping it" >&2
  fi
done
if ((${#selected[@]} == 0)); then
  echo "storage_bench.sh: no engine to run" >&2
  exit 2
fi

if [[ -z "$dir" ]]; then
  dir="$(mktemp -d "$parent/kv-storage-bench.XXXXXX")"
else
  mkdir -p "$dir"
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/kv-storage-bench-out.XXXXXX")"
cleanup() {
  rm -rf "$work"
  if ((!keep)); then rm -rf "$dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$here/results"
stamp="$(date -u +%Y%m%d-%H%M%S)"
log="$here/results/storage-$stamp.txt"
start=$SECONDS
failed=()

{
  echo "== storage bench: kv LSM vs LevelDB vs RocksDB"
  echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine:  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), nproc $(nproc), kernel $(uname -r), $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo)"
  echo "fs:       $dir on $(df -PT "$dir" | awk 'NR==2 {print $2 " (" $1 ")"}')"
  echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) at the start"
  echo "binary:   $bin, built $(date -u -r "$bin" '+%Y-%m-%d %H:%M UTC'), tree $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$repo" diff --quiet HEAD -- src 2>/dev/null || echo ' + uncommitted changes in src/')"
  "$bin" --versions | sed 's/^/version:  /'
  echo "keys:     $num, rounds: $rounds, engines: ${selected[*]}"
} | tee "$log"

for ((r = 1; r <= rounds; r++)); do
  order=("${selected[@]}")
  if ((r % 2 == 0)); then
    order=()
    for ((i = ${#selected[@]} - 1; i >= 0; i--)); do order+=("${selected[$i]}"); done
  fi
  for e in "${order[@]}"; do
    out="$work/$e.$r.txt"
    echo | tee -a "$log"
    echo "-- round $r/$rounds: $e (load $(cut -d' ' -f1 /proc/loadavg))" | tee -a "$log"
    rm -rf "${dir:?}/$e"
    t0=$SECONDS
    if "$bin" --engine="$e" --dir="$dir/$e" --num="$num" "${pass[@]}" >"$out" 2>&1; then
      grep -v '^RESULT ' "$out" | tee -a "$log"
      grep '^RESULT ' "$out" >>"$log"
    else
      rc=$?
      grep -v '^RESULT ' "$out" | tee -a "$log"
      echo "!! $e failed (exit $rc); its figures are left out" | tee -a "$log"
      failed+=("$e")
      rm -f "$out"
    fi
    echo "($((SECONDS - t0)) s)" | tee -a "$log"
    rm -rf "${dir:?}/$e"
  done
done

{
  echo
  echo "== summary ($num keys)"
  shopt -s nullglob
  "$bin" --report "$work"/*.txt
  echo
  echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) at the end; total time $((SECONDS - start)) s"
  echo "raw:      $log"
} | tee -a "$log"

if ((${#failed[@]})); then
  echo "storage_bench.sh: failed: ${failed[*]}" >&2
  exit 1
fi
