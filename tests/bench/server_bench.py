#!/usr/bin/env python3
"""Server benchmark: kv-server vs Redis 7, side by side, with redis-benchmark.

Python 3 standard library only. See tests/bench/README.md for what every
figure means; DESIGN.md section 9 for the bars they are held to.

Phases:
  1. Throughput/latency/CPU. Each round starts both servers fresh, in fresh
     directories, and runs these workloads in this order on each:
        SET -P1, GET -P1, SET -P16, GET -P16, PING_MBULK -P64
     (50 clients, -d 100, -r 100000, -n 300000). With --order pairs (the
     default) each workload runs on one server and at once on the other, the
     first alternating by workload and round, so the two runs of a pair are
     seconds apart: on a VM whose speed drifts by tens of percent within a
     minute, only such pairs compare like with like, and the table also shows
     the median of the per-pair ratios. --order abab / abba run a whole round
     on one server, then on the other. Each redis-benchmark run is
     bracketed by reads of the server's utime+stime from /proc/PID/stat, so
     server CPU per request comes from the kernel, not from the client.
  2. Instructions per request. Each server runs under valgrind
     --tool=callgrind; the counters are zeroed (callgrind_control -z) right
     before a SET (then a GET) run at -P 16 and dumped (callgrind_control -d)
     right after; Ir / requests is the figure. Deterministic, unlike the rest.

Every server started is stopped on exit (try/finally, atexit, signal
handlers, and PR_SET_PDEATHSIG so they die even if this script is killed).
"""

import argparse
import atexit
import csv
import ctypes
import datetime
import glob
import io
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

REDIS_BASE_ARGS = ["--save", "", "--appendonly", "no"]

CLIENTS = 50
DATA_SIZE = 100
KEYSPACE = 100000
REQUESTS = 300000
CALLGRIND_REQUESTS = 50000
CALLGRIND_PIPELINE = 16

# (label, redis-benchmark -t, -P, csv test name, request multiplier). Order
# matters: SET before GET on the same fresh server so the GETs hit data.
# PING runs 10x the requests: 300,000 pings take ~0.15 s, too short for CPU
# time counted in 10 ms clock ticks.
WORKLOADS = [
    ("SET -P1", "set", 1, "SET", 1),
    ("GET -P1", "get", 1, "GET", 1),
    ("SET -P16", "set", 16, "SET", 1),
    ("GET -P16", "get", 16, "GET", 1),
    ("PING -P64", "ping_mbulk", 64, "PING_MBULK", 10),
]

# A hung server must not hang the bench: one redis-benchmark run gets
# BENCH_TIMEOUT_BASE + requests / BENCH_TIMEOUT_MIN_RATE seconds.
BENCH_TIMEOUT_BASE = 120
BENCH_TIMEOUT_MIN_RATE = 2000  # requests/s
START_TIMEOUT = 15         # seconds, plain server answering PING
VALGRIND_START_TIMEOUT = 60
STOP_TIMEOUT = 15
VALGRIND_STOP_TIMEOUT = 60


def log(msg=""):
    print(msg, flush=True)


# ---------------------------------------------------------------- processes

_LIVE = set()          # Server objects with a running process
_USED_PORTS = set()

try:
    _LIBC = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover
    _LIBC = None
_PR_SET_PDEATHSIG = 1


def _child_setup():
    # Runs in the child between fork and exec: die with us, whatever kills us.
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def cleanup_all():
    for srv in list(_LIVE):
        try:
            srv.stop()
        except Exception as e:  # keep going: stop every server
            log(f"warning: stopping {srv.name}: {e}")


def _on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port():
    """A free loopback port whose port + 10000 is free too: kv-server opens
    its cluster bus there, and refuses to start if that is above 65535."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port in _USED_PORTS or port + 10000 > 65535 or not port_free(port + 10000):
            continue
        _USED_PORTS.add(port)
        return port
    raise RuntimeError("no free loopback port pair (port, port + 10000)")


def resp_command(port, *args, timeout=2.0):
    """Send one RESP command, return the raw reply (bytes) or raise."""
    payload = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        payload += b"$%d\r\n%s\r\n" % (len(a), a)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        buf = b""
        while b"\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            buf += chunk
        if buf[:1] == b"$":
            header, _, rest = buf.partition(b"\r\n")
            size = int(header[1:])
            if size < 0:
                return b""
            while len(rest) < size + 2:
                chunk = s.recv(65536)
                if not chunk:
                    raise ConnectionError("connection closed")
                rest += chunk
            return rest[:size]
        if buf[:1] == b"=":  # RESP3 verbatim string, just in case
            header, _, rest = buf.partition(b"\r\n")
            size = int(header[1:])
            while len(rest) < size + 2:
                chunk = s.recv(65536)
                if not chunk:
                    raise ConnectionError("connection closed")
                rest += chunk
            return rest[4:size]
        return buf.split(b"\r\n", 1)[0]


def info_fields(port, section="server"):
    try:
        raw = resp_command(port, "INFO", section, timeout=5.0).decode(errors="replace")
    except Exception:
        return {}
    out = {}
    for line in raw.splitlines():
        if ":" in line and not line.startswith("#"):
            k, _, v = line.partition(":")
            out[k.strip()] = v.strip()
    return out


class Server:
    def __init__(self, name, binary, extra_args, root, valgrind_out=None):
        self.name = name
        self.binary = binary
        self.extra_args = list(extra_args)
        self.root = root
        self.valgrind_out = valgrind_out
        self.proc = None
        self.port = None
        self.dir = None
        self.logpath = None
        self._log = None

    def start(self):
        deadline_s = VALGRIND_START_TIMEOUT if self.valgrind_out else START_TIMEOUT
        last_err = None
        attempts = 2
        for attempt in range(attempts):  # a port grabbed between probe and bind: retry
            self.port = free_port()
            self.dir = tempfile.mkdtemp(prefix=f"{self.name}-", dir=self.root)
            self.logpath = os.path.join(self.dir, "server.log")
            argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                    "--dir", self.dir] + self.extra_args
            if self.valgrind_out:
                argv = ["valgrind", "--tool=callgrind",
                        f"--callgrind-out-file={self.valgrind_out}"] + argv
            self._log = open(self.logpath, "wb")
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                         stderr=subprocess.STDOUT, cwd=self.dir,
                                         start_new_session=True, preexec_fn=_child_setup)
            _LIVE.add(self)
            deadline = time.monotonic() + deadline_s
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    last_err = f"exited with status {self.proc.returncode}"
                    break
                try:
                    if resp_command(self.port, "PING", timeout=2.0) == b"+PONG":
                        return self
                except OSError:
                    pass
                time.sleep(0.1)
            else:
                last_err = f"no PONG within {deadline_s} s"
            log(f"  {self.name} did not start ({last_err}); argv: {shlex.join(argv)}")
            if attempt == attempts - 1:
                log("  --- log tail ---\n" + self.log_tail())
            self.stop()
        raise RuntimeError(f"{self.name}: could not start: {last_err}")

    def log_tail(self, lines=20):
        try:
            with open(self.logpath, "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
        except OSError:
            return "(no log)"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cpu_seconds(self):
        """utime+stime of the whole process (all threads), in seconds."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            data = f.read()
        rest = data[data.rindex(")") + 2:].split()
        # rest[0] is field 3 (state); utime is field 14, stime field 15.
        utime, stime = int(rest[11]), int(rest[12])
        return (utime + stime) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            timeout = VALGRIND_STOP_TIMEOUT if self.valgrind_out else STOP_TIMEOUT
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            except ProcessLookupError:
                pass
        if self._log is not None:
            self._log.close()
            self._log = None
        _LIVE.discard(self)


# ------------------------------------------------------------ redis-benchmark

class BenchTimeout(RuntimeError):
    pass


def run_benchmark(bench_bin, port, test, pipeline, requests, client_threads=1):
    """One redis-benchmark run; returns dict(rps, avg, p50, p99, ...) or raises."""
    argv = [bench_bin, "-h", "127.0.0.1", "-p", str(port), "-c", str(CLIENTS),
            "-n", str(requests), "-d", str(DATA_SIZE), "-r", str(KEYSPACE),
            "-P", str(pipeline), "-t", test, "--csv"]
    if client_threads > 1:
        argv += ["--threads", str(client_threads)]
    timeout = BENCH_TIMEOUT_BASE + requests / BENCH_TIMEOUT_MIN_RATE
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        cp = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchTimeout(f"redis-benchmark timed out after {timeout:.0f} s: "
                           f"{shlex.join(argv)}")
    rows = {}
    for row in csv.reader(io.StringIO(cp.stdout)):
        if len(row) >= 8 and row[0] != "test":
            try:
                rows[row[0]] = {
                    "rps": float(row[1]), "avg_ms": float(row[2]), "min_ms": float(row[3]),
                    "p50_ms": float(row[4]), "p95_ms": float(row[5]),
                    "p99_ms": float(row[6]), "max_ms": float(row[7]),
                }
            except ValueError:
                pass
    if cp.returncode != 0 or not rows:
        msg = (cp.stderr.strip() or cp.stdout.strip())[-500:]
        raise RuntimeError(f"redis-benchmark failed (exit {cp.returncode}): {msg}")
    # The client's own CPU (children's rusage: servers are not reaped until
    # they stop). Near 100% of the wall time means the run measured the
    # client, which then caps both servers alike.
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    for r in rows.values():
        r["client_cpu_s"] = client_cpu
    return rows


def run_round(args, srv, n, results, workloads=WORKLOADS):
    """The workloads, in order, on one server."""
    for label, test, pipeline, csvname, mult in workloads:
        entry = {"server": srv.name, "workload": label}
        n_run = n * mult
        try:
            cpu0 = srv.cpu_seconds()
            t0 = time.monotonic()
            rows = run_benchmark(args.bench_bin, srv.port, test, pipeline, n_run,
                                 args.client_threads)
            wall = time.monotonic() - t0
            cpu1 = srv.cpu_seconds()
            if csvname not in rows:
                raise RuntimeError(f"no {csvname} line in redis-benchmark output: {rows}")
            entry.update(rows[csvname])
            entry["requests"] = n_run
            entry["wall_s"] = wall
            entry["cpu_s"] = cpu1 - cpu0
            entry["cpu_us_per_req"] = (cpu1 - cpu0) * 1e6 / n_run
            entry["client_busy"] = entry["client_cpu_s"] / wall if wall > 0 else None
            log(f"  {srv.name:5} {label:9}  {entry['rps']:>11,.0f} ops/s  "
                f"p50 {entry['p50_ms']:6.3f}  p99 {entry['p99_ms']:6.3f} ms  "
                f"CPU {entry['cpu_us_per_req']:6.3f} us/req  "
                f"server busy {(cpu1 - cpu0) / wall:4.0%}  client busy {entry['client_busy']:4.0%}")
        except Exception as e:
            entry["error"] = str(e)
            log(f"  {srv.name:5} {label:9}  ERROR: {e}")
            if not srv.alive():
                log(f"  {srv.name} died (status {srv.proc.returncode}); log tail:\n"
                    + srv.log_tail())
                results.append(entry)
                break
            if isinstance(e, BenchTimeout):
                log(f"  {srv.name} looks hung; skipping the rest of this round")
                results.append(entry)
                break
        results.append(entry)


def note_versions(srv, versions):
    inf = info_fields(srv.port)
    versions[f"{srv.name}_info"] = {k: inf[k] for k in ("redis_version", "kv_version")
                                    if k in inf}
    log(f"  INFO server {srv.name}: {versions[f'{srv.name}_info'] or '(none)'}")


def run_paired_round(args, sides, rnd, rounds, root, n, results, versions):
    """Both servers fresh; each workload on one, then straight away on the
    other. Who goes first alternates by workload and by round."""
    log(f"\nround {rnd + 1}/{rounds}: both servers, workload by workload")
    servers = [Server(name, binary, extra, root) for name, binary, extra in sides]
    try:
        for srv in servers:
            srv.start()
            if rnd == 0:
                note_versions(srv, versions)
        for i, w in enumerate(WORKLOADS):
            order = servers if (i + rnd) % 2 == 0 else servers[::-1]
            for srv in order:
                if srv.alive():
                    run_round(args, srv, n, results, workloads=[w])
    except Exception as e:
        log(f"  round failed: {e}")
        results.append({"server": "*", "workload": "*", "error": str(e)})
    finally:
        for srv in servers:
            srv.stop()


# ------------------------------------------------------------------ callgrind

def callgrind_ctl(flag, pid):
    cp = subprocess.run(["callgrind_control", flag, str(pid)], stdin=subprocess.DEVNULL,
                        capture_output=True, text=True, timeout=120)
    if cp.returncode != 0 or "OK" not in cp.stdout:
        raise RuntimeError(f"callgrind_control {flag} {pid} failed: "
                           f"{(cp.stdout + cp.stderr).strip()[-400:]}")


def dump_total_ir(path):
    """The Ir total of one callgrind dump ('summary:' header, else 'totals:')."""
    summary = totals = None
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("summary:"):
                summary = int(line.split()[1])
            elif line.startswith("totals:"):
                totals = int(line.split()[1])
    return summary if summary is not None else totals


def callgrind_measure(args, name, binary, extra, root, outdir, requests):
    out_base = os.path.join(outdir, f"callgrind.{name}.out")
    srv = Server(name, binary, extra, root, valgrind_out=out_base)
    res = {"server": name, "requests": requests, "pipeline": CALLGRIND_PIPELINE}
    up = False
    try:
        t0 = time.monotonic()
        srv.start()
        up = True
        log(f"  {name}: up under callgrind after {time.monotonic() - t0:.1f} s "
            f"(pid {srv.proc.pid})")
        for test in ("set", "get"):
            before = set(glob.glob(out_base + ".*"))
            callgrind_ctl("-z", srv.proc.pid)
            t0 = time.monotonic()
            rows = run_benchmark(args.bench_bin, srv.port, test, CALLGRIND_PIPELINE, requests)
            wall = time.monotonic() - t0
            callgrind_ctl("-d", srv.proc.pid)
            new, ir = [], None
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                new = sorted(set(glob.glob(out_base + ".*")) - before,
                             key=lambda p: int(p.rsplit(".", 1)[1]) if p.rsplit(".", 1)[1].isdigit() else -1)
                if new:
                    ir = dump_total_ir(new[-1])
                    if ir is not None:
                        break
                time.sleep(0.2)
            if ir is None:
                raise RuntimeError(f"no callgrind dump with a total appeared for {out_base}")
            res[test] = {"ir": ir, "ir_per_req": ir / requests, "dump": new[-1],
                         "rps_under_valgrind": rows.get(test.upper(), {}).get("rps"),
                         "wall_s": wall}
            log(f"  {name:5} {test.upper():3} -P{CALLGRIND_PIPELINE}: {ir:,} Ir / {requests:,} "
                f"= {ir / requests:,.0f} instructions/request  ({wall:.1f} s)")
    except Exception as e:
        res["error"] = str(e)
        log(f"  {name}: callgrind ERROR: {e}")
        if up and not srv.alive():
            log("  --- log tail ---\n" + srv.log_tail())
    finally:
        srv.stop()
    return res


# -------------------------------------------------------------------- report

def cmd_output(argv, timeout=10):
    try:
        cp = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, timeout=timeout)
        return (cp.stdout.strip() or cp.stderr.strip()).splitlines()[0]
    except Exception as e:
        return f"({e.__class__.__name__})"


def machine_info():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
            "model": model, "kernel": platform.release(), "host": platform.node(),
            "loadavg_start": loadavg()}


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def git_rev():
    rev = cmd_output(["git", "-C", REPO, "rev-parse", "--short", "HEAD"])
    try:
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        dirty = ""
    return rev + ("+dirty" if dirty else "")


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, spec):
    if v is None:
        width = "".join(ch for ch in spec.split(",")[0].split(".")[0] if ch.isdigit())
        return "-".rjust(int(width or 0))
    return format(v, spec)


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def summarize(results):
    summary = {}
    for label, *_ in WORKLOADS:
        row = {}
        for name in ("redis", "kv"):
            ok = [e for e in results if e["server"] == name and e["workload"] == label
                  and "error" not in e]
            row[name] = {
                "runs": len(ok),
                "rps": med([e["rps"] for e in ok]),
                "p50_ms": med([e["p50_ms"] for e in ok]),
                "p99_ms": med([e["p99_ms"] for e in ok]),
                "cpu_us_per_req": med([e["cpu_us_per_req"] for e in ok]),
                "rps_all": [e["rps"] for e in ok],
                "cpu_all": [e["cpu_us_per_req"] for e in ok],
            }
        row["ops_ratio"] = ratio(row["kv"]["rps"], row["redis"]["rps"])
        row["cpu_ratio"] = ratio(row["kv"]["cpu_us_per_req"], row["redis"]["cpu_us_per_req"])
        # Pairs: the runs of one round (--order pairs runs them back to back).
        pairs = {}
        for e in results:
            if e["workload"] == label and "error" not in e and "round" in e:
                pairs.setdefault(e["round"], {})[e["server"]] = e
        both = [p for _, p in sorted(pairs.items()) if "kv" in p and "redis" in p]
        ops = [ratio(p["kv"]["rps"], p["redis"]["rps"]) for p in both]
        cpu = [ratio(p["kv"]["cpu_us_per_req"], p["redis"]["cpu_us_per_req"]) for p in both]
        row["pairs"] = len(both)
        row["pair_ops_ratio"] = med([r for r in ops if r is not None])
        row["pair_cpu_ratio"] = med([r for r in cpu if r is not None])
        row["pair_ops_wins"] = sum(1 for r in ops if r is not None and r >= 1.0)
        row["pair_cpu_wins"] = sum(1 for r in cpu if r is not None and r <= 1.0)
        row["client_busy"] = med([e["client_busy"] for e in results
                                  if e["workload"] == label and e.get("client_busy") is not None])
        summary[label] = row
    return summary


def print_table(summary, rounds):
    log(f"\nMedians over {rounds} round(s) per server "
        f"(ops ratio kv/redis: higher is better; CPU ratio kv/redis: lower is better)\n")
    hdr = (f"{'workload':9} | {'redis ops/s':>11} {'kv ops/s':>11} {'kv/redis':>8} | "
           f"{'p50 ms r':>8} {'kv':>7} | {'p99 ms r':>8} {'kv':>7} | "
           f"{'CPU us/req r':>12} {'kv':>7} {'kv/redis':>8}")
    log(hdr)
    log("-" * len(hdr))
    for label, row in summary.items():
        r, k = row["redis"], row["kv"]
        log(f"{label:9} | {fmt(r['rps'], '11,.0f')} {fmt(k['rps'], '11,.0f')} "
            f"{fmt(row['ops_ratio'], '8.2f')} | "
            f"{fmt(r['p50_ms'], '8.3f')} {fmt(k['p50_ms'], '7.3f')} | "
            f"{fmt(r['p99_ms'], '8.3f')} {fmt(k['p99_ms'], '7.3f')} | "
            f"{fmt(r['cpu_us_per_req'], '12.3f')} {fmt(k['cpu_us_per_req'], '7.3f')} "
            f"{fmt(row['cpu_ratio'], '8.2f')}")
    if any(row["pairs"] for row in summary.values()):
        log("\nPaired rounds (kv and Redis run back to back): median of the per-pair ratios,"
            "\nand in how many pairs kv was at least as fast / used at most as much CPU."
            "\nclient busy: redis-benchmark's CPU time / wall time (median of all runs); near"
            "\n100% the client, not the server, sets ops/s, for both servers alike\n")
        hdr = f"{'workload':9} | {'pairs':>5} | {'ops kv/redis':>12} {'kv faster':>9} | " \
              f"{'CPU kv/redis':>12} {'kv cheaper':>10} | {'client busy':>11}"
        log(hdr)
        log("-" * len(hdr))
        for label, row in summary.items():
            n = row["pairs"]
            busy = row["client_busy"]
            log(f"{label:9} | {n:5d} | {fmt(row['pair_ops_ratio'], '12.2f')} "
                f"{row['pair_ops_wins']:>5d}/{n:<3d} | {fmt(row['pair_cpu_ratio'], '12.2f')} "
                f"{row['pair_cpu_wins']:>6d}/{n:<3d} | "
                + (f"{busy:>11.0%}" if busy is not None else f"{'-':>11}"))
    # The spread, so a reader sees how noisy the medians are.
    log("\nPer-round ops/s (spread shows the machine's noise):")
    for label, row in summary.items():
        parts = []
        for name in ("redis", "kv"):
            vals = row[name]["rps_all"]
            parts.append(f"{name} [" + ", ".join(f"{v:,.0f}" for v in vals) + "]")
        log(f"  {label:9}  " + "  ".join(parts))


def print_callgrind(cg):
    if not cg:
        return
    log(f"\nInstructions per request under callgrind (-P {CALLGRIND_PIPELINE}, "
        f"{CLIENTS} clients, -d {DATA_SIZE}; lower is better)\n")
    by = {r["server"]: r for r in cg}
    hdr = f"{'test':4} | {'redis':>10} {'kv':>10} {'kv/redis':>8}"
    log(hdr)
    log("-" * len(hdr))
    for test in ("set", "get"):
        r = by.get("redis", {}).get(test, {}).get("ir_per_req")
        k = by.get("kv", {}).get(test, {}).get("ir_per_req")
        log(f"{test.upper():4} | {fmt(r, '10,.0f')} {fmt(k, '10,.0f')} {fmt(ratio(k, r), '8.2f')}")


# ---------------------------------------------------------------------- main

def parse_args():
    p = argparse.ArgumentParser(description="kv-server vs Redis benchmark (redis-benchmark)")
    p.add_argument("--quick", action="store_true",
                   help="requests divided by 10, 1 round per server (a fast check); "
                        "the callgrind phase keeps its full request count")
    p.add_argument("--no-callgrind", action="store_true", help="skip the callgrind phase")
    p.add_argument("--callgrind-only", action="store_true",
                   help="skip the throughput rounds, run only the callgrind phase")
    p.add_argument("--rounds", type=int, default=None, help="rounds per server (default 3)")
    p.add_argument("--requests", type=int, default=None,
                   help=f"requests per redis-benchmark run (default {REQUESTS})")
    p.add_argument("--callgrind-requests", type=int, default=None,
                   help=f"requests per callgrind run (default {CALLGRIND_REQUESTS})")
    p.add_argument("--client-threads", type=int, default=1,
                   help="redis-benchmark --threads (default 1, one client thread, as the "
                        "issue's reference figures were taken; 2 lifts the client's cap on "
                        "ops/s at -P1, at the cost of sharing the 2 cores three ways)")
    p.add_argument("--order", choices=("pairs", "abab", "abba"), default="pairs",
                   help="pairs (default): both servers up, each workload run on one then "
                        "the other, the first alternating; abab: a whole round per server, "
                        "redis first every round; abba: like abab, swapping the order on "
                        "odd rounds")
    p.add_argument("--keep-callgrind", metavar="DIR",
                   help="keep the callgrind dumps in DIR (for callgrind_annotate)")
    p.add_argument("--json", metavar="PATH",
                   help="write raw results here (default tests/bench/results/server-<time>.json; "
                        "'-' to skip)")
    return p.parse_args()


def main():
    args = parse_args()
    atexit.register(cleanup_all)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)

    kv_bin = os.environ.get("KV_BENCH_KV_BIN", os.path.join(REPO, "build", "kv-server"))
    redis_bin = os.environ.get("KV_BENCH_REDIS_BIN", "redis-server")
    args.bench_bin = os.environ.get("KV_BENCH_BENCHMARK_BIN", "redis-benchmark")
    kv_extra_env = os.environ.get("KV_BENCH_KV_ARGS")
    if kv_extra_env is not None:
        kv_extra = shlex.split(kv_extra_env)
    elif os.path.basename(kv_bin).startswith("redis-server"):
        kv_extra = list(REDIS_BASE_ARGS)  # a redis-server standing in for kv
    else:
        kv_extra = []
    redis_extra = REDIS_BASE_ARGS + shlex.split(os.environ.get("KV_BENCH_REDIS_ARGS", ""))

    div = 10 if args.quick else 1
    rounds = args.rounds or (1 if args.quick else 3)
    n = args.requests or REQUESTS // div
    cg_n = args.callgrind_requests or CALLGRIND_REQUESTS  # deterministic: never cut
    do_callgrind = not args.no_callgrind

    missing = []
    for b in (kv_bin, redis_bin, args.bench_bin) + (("valgrind", "callgrind_control")
                                                      if do_callgrind else ()):
        if shutil.which(b) is None:
            missing.append(b)
    if missing:
        log("error: not found or not executable: " + ", ".join(missing))
        if kv_bin in missing:
            log("  build kv-server with `make build`, or point KV_BENCH_KV_BIN at a binary")
        return 2
    kv_bin = shutil.which(kv_bin)
    redis_bin = shutil.which(redis_bin)

    started = time.monotonic()
    now = datetime.datetime.now().astimezone()
    mi = machine_info()
    log(f"kv server bench  {now:%Y-%m-%d %H:%M:%S %Z}")
    log(f"machine: {mi['model']}, nproc {mi['nproc']} (usable {mi['affinity']}), "
        f"kernel {mi['kernel']}, host {mi['host']}, load average {mi['loadavg_start']}")
    versions = {
        "redis-server": cmd_output([redis_bin, "--version"]),
        "redis-benchmark": cmd_output([args.bench_bin, "--version"]),
        "valgrind": cmd_output(["valgrind", "--version"]) if do_callgrind else None,
        "python": platform.python_version(),
        "kv_git": git_rev(),
        "kv_bin": kv_bin,
    }
    try:
        mtime = datetime.datetime.fromtimestamp(os.path.getmtime(kv_bin)).astimezone()
        versions["kv_bin_mtime"] = f"{mtime:%Y-%m-%d %H:%M:%S}"
    except OSError:
        pass
    log(f"redis: {redis_bin}  {versions['redis-server']}")
    log(f"bench: {versions['redis-benchmark']}" +
        (f"   valgrind: {versions['valgrind']}" if do_callgrind else ""))
    log(f"kv:    {kv_bin} (built {versions.get('kv_bin_mtime', '?')}, repo {versions['kv_git']})"
        + (f"  extra args: {shlex.join(kv_extra)}" if kv_extra else ""))
    log(f"params: {CLIENTS} clients, -d {DATA_SIZE}, -r {KEYSPACE}, -n {n:,} (PING {n * 10:,}), "
        f"{rounds} round(s) per server, order {args.order}, client threads {args.client_threads}"
        + (f"; callgrind -n {cg_n:,} -P {CALLGRIND_PIPELINE}" if do_callgrind else ""))

    root = tempfile.mkdtemp(prefix="kv-server-bench-")
    cg_dir = args.keep_callgrind or os.path.join(root, "callgrind")
    os.makedirs(cg_dir, exist_ok=True)
    results, cg = [], []
    exit_code = 0
    try:
        # Bench a private copy, so a rebuild during the run cannot mix binaries.
        snap = os.path.join(root, "bin", os.path.basename(kv_bin))
        os.makedirs(os.path.dirname(snap))
        shutil.copy2(kv_bin, snap)
        kv_bin = snap
        if not args.callgrind_only:
            sides = [("redis", redis_bin, redis_extra), ("kv", kv_bin, kv_extra)]
            for rnd in range(rounds):
                first = len(results)
                if args.order == "pairs":
                    run_paired_round(args, sides, rnd, rounds, root, n, results, versions)
                else:
                    order = sides if (args.order == "abab" or rnd % 2 == 0) else sides[::-1]
                    for name, binary, extra in order:
                        log(f"\nround {rnd + 1}/{rounds}: {name}")
                        srv = Server(name, binary, extra, root)
                        try:
                            srv.start()
                            if rnd == 0:
                                note_versions(srv, versions)
                            run_round(args, srv, n, results)
                        except Exception as e:
                            log(f"  {name}: round failed: {e}")
                            results.append({"server": name, "workload": "*", "error": str(e)})
                        finally:
                            srv.stop()
                for e in results[first:]:
                    e["round"] = rnd
            summary = summarize(results)
            print_table(summary, rounds)
        else:
            summary = {}

        if do_callgrind:
            log(f"\ncallgrind: {CALLGRIND_PIPELINE}-deep pipelines, {cg_n:,} requests per test")
            for name, binary, extra in (("redis", redis_bin, redis_extra),
                                        ("kv", kv_bin, kv_extra)):
                cg.append(callgrind_measure(args, name, binary, extra, root, cg_dir, cg_n))
            print_callgrind(cg)
            if args.keep_callgrind:
                log(f"callgrind dumps kept in {cg_dir} (callgrind_annotate <dump>)")
    finally:
        cleanup_all()
        if not args.keep_callgrind or not os.path.abspath(cg_dir).startswith(root):
            shutil.rmtree(root, ignore_errors=True)

    elapsed = time.monotonic() - started
    errors = [e for e in results if "error" in e] + [c for c in cg if "error" in c]
    if errors:
        exit_code = 1
        log(f"\n{len(errors)} error(s); see above")
    mi["loadavg_end"] = loadavg()
    log(f"\ntotal time {elapsed:.0f} s; load average at the end {mi['loadavg_end']} "
        f"(anything else running skews ops/s and CPU, not instructions)")

    if args.json != "-":
        path = args.json or os.path.join(REPO, "tests", "bench", "results",
                                         f"server-{now:%Y%m%d-%H%M%S}.json")
        try:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(path, "w") as f:
                json.dump({"date": now.isoformat(), "machine": mi, "versions": versions,
                           "params": {"clients": CLIENTS, "data_size": DATA_SIZE,
                                      "keyspace": KEYSPACE, "requests": n, "rounds": rounds,
                                      "order": args.order, "client_threads": args.client_threads,
                                      "callgrind_requests": cg_n,
                                      "quick": args.quick},
                           "kv_args": kv_extra, "redis_args": redis_extra,
                           "summary": summary, "runs": results, "callgrind": cg,
                           "elapsed_s": elapsed}, f, indent=1)
            rel = os.path.relpath(path)
            log(f"raw results: {path if rel.startswith('..') else rel}")
        except OSError as e:
            log(f"warning: could not write {path}: {e}")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
