#!/usr/bin/env bash
# Cluster benchmark (issue "nodes form a ring"): redis-benchmark against a
# 3-node kv cluster, through one node (kv forwards to the owners) and with
# --cluster (the client routes by CLUSTER SLOTS), and against a 3-master
# Redis Cluster on the same machine, same parameters as the single-node
# server bench (50 clients, -d 100, -r 100000). Prints ops/s and kv/Redis.
#   --requests N   per redis-benchmark run (default 300000)
#   --pipeline P   -P value(s), comma-separated (default 1,16)
# Env: KV_BENCH_KV_BIN (default build/kv-server), KV_BENCH_REDIS_BIN
# (default redis-server). Ports: 3 free client ports (and their +10000 bus
# ports) on 127.0.0.1 for each cluster. Everything is stopped and removed
# on exit.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
kv_bin="${KV_BENCH_KV_BIN:-$repo/build/kv-server}"
redis_bin="${KV_BENCH_REDIS_BIN:-redis-server}"
requests=300000
pipelines="1,16"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --requests) requests="$2"; shift 2 ;;
    --pipeline) pipelines="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "cluster_bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
for tool in "$kv_bin" "$redis_bin" redis-benchmark redis-cli; do
  command -v "$tool" >/dev/null || { echo "cluster_bench: $tool not found" >&2; exit 1; }
done

work="$(mktemp -d "${TMPDIR:-/tmp}/kv-cluster-bench-XXXXXX")"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# A free port whose +10000 is free too.
free_port() {
  python3 - <<'PY'
import socket
while True:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
    if p + 10000 > 65535: continue
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", p + 10000)); t.close(); print(p); break
    except OSError:
        t.close()
PY
}
wait_ping() {
  for _ in $(seq 1 100); do
    redis-cli -p "$1" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "cluster_bench: nothing answers on port $1" >&2
  exit 1
}

kv_ports=() redis_ports=()
for i in 1 2 3; do
  p=$(free_port); kv_ports+=("$p"); mkdir -p "$work/kv$i"
  "$kv_bin" --port "$p" --bind 127.0.0.1 --dir "$work/kv$i" --storage memory \
    --cluster-secret bench --logfile "$work/kv$i.log" &
  pids+=($!)
done
for p in "${kv_ports[@]}"; do wait_ping "$p"; done
for p in "${kv_ports[@]:1}"; do redis-cli -p "${kv_ports[0]}" cluster meet 127.0.0.1 "$p" >/dev/null; done
sleep 1
moved=$(redis-cli -p "${kv_ports[0]}" cluster rebalance)
sleep 1
echo "kv cluster: ${kv_ports[*]} (storage memory), rebalance moved $moved partitions"

for i in 1 2 3; do
  p=$(free_port); redis_ports+=("$p"); mkdir -p "$work/redis$i"
  "$redis_bin" --port "$p" --bind 127.0.0.1 --dir "$work/redis$i" --save "" --appendonly no \
    --cluster-enabled yes --cluster-config-file nodes.conf --logfile "$work/redis$i.log" &
  pids+=($!)
done
for p in "${redis_ports[@]}"; do wait_ping "$p"; done
redis-cli --cluster create "${redis_ports[@]/#/127.0.0.1:}" --cluster-yes >/dev/null
for _ in $(seq 1 100); do
  redis-cli -p "${redis_ports[0]}" cluster info | grep -q "cluster_state:ok" && break
  sleep 0.1
done
echo "Redis Cluster: ${redis_ports[*]} (3 masters, no persistence)"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); redis-benchmark -c 50 -d 100 -r 100000 -n $requests"

bench() {  # port, extra args... -> "SET ops GET ops"
  local port="$1"; shift
  redis-benchmark -p "$port" -t set,get -n "$requests" -r 100000 -d 100 -c 50 -q "$@" 2>/dev/null |
    tr '\r' '\n' | grep "requests per second" | sed -E 's/^([A-Z]+): ([0-9.]+) requests.*/\1 \2/'
}
printf "\n%-10s %-4s %14s %14s %14s %8s %8s\n" "workload" "-P" "kv via 1 node" "kv --cluster" "Redis Cluster" "ratio1" "ratioC"
IFS=',' read -ra plist <<< "$pipelines"
for P in "${plist[@]}"; do
  declare -A one=() clu=() red=()
  while read -r t v; do one[$t]=$v; done < <(bench "${kv_ports[0]}" -P "$P")
  while read -r t v; do clu[$t]=$v; done < <(bench "${kv_ports[0]}" --cluster -P "$P")
  while read -r t v; do red[$t]=$v; done < <(bench "${redis_ports[0]}" --cluster -P "$P")
  for t in SET GET; do
    printf "%-10s %-4s %14.0f %14.0f %14.0f %8.2f %8.2f\n" "$t" "$P" "${one[$t]:-0}" "${clu[$t]:-0}" \
      "${red[$t]:-0}" "$(echo "${one[$t]:-0} / ${red[$t]:-1}" | bc -l)" \
      "$(echo "${clu[$t]:-0} / ${red[$t]:-1}" | bc -l)"
  done
  unset one clu red
done
echo "ratio1 = kv through one node / Redis Cluster; ratioC = kv --cluster / Redis Cluster"
