#!/usr/bin/env python3
"""End-to-end test of utils/kv-cluster against real kv-server processes.

    python3 tests/cluster/kv_cluster_test.py BUILD_DIR/kv-server

Starts a 5-node cluster with `kv-cluster local start` on free loopback
ports in a temp dir; checks that every node's `status` shows all 5 normal
(with the last-heartbeat column) and that `ring` covers every partition;
writes 2,000 keys through random nodes and reads them back through other
ones; checks that `create` on a created cluster is a no-op. Then starts a
6th node and runs `add-node --yes`: its output must show the plan and
progress lines, the new node must get its share of partitions and keys,
and a background thread reading random keys (and writing new ones) through
the old nodes the whole time must see no wrong answer and no error. Then
`leave --yes` drains one of the first nodes: its partitions go to the
others, every key stays readable through the rest (the background thread
runs again), its own key count reaches 0 and the others' CLUSTER NODES
stop listing it. After the moves every key is stored on exactly one node.
`forget` of a node that owns partitions is refused; `local stop` stops
everything. Every wait is bounded; on any failure the processes are
killed, the node logs are printed and the temp dir is removed. Standard
library only. Set KV_TEST_SEED to replay a run.
"""

import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KV_CLUSTER = os.path.join(ROOT, "utils", "kv-cluster")
STEP_TIMEOUT = 90  # seconds for one kv-cluster run
PARTITIONS = 16
KEYS = 2000


class Failure(Exception):
    pass


def Check(cond, message):
    if not cond:
        raise Failure(message)


# ---- a tiny RESP client


class Resp:
    def __init__(self, port):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def close(self):
        self.sock.close()

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(b), b)
        self.sock.sendall(out)
        return self._read()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Failure("port %d closed the connection" % self.port)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise Failure("port %d replied an error: %s" % (self.port, rest.decode()))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise Failure("port %d closed the connection" % self.port)
                self.buf += chunk
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise Failure("port %d: bad reply %r" % (self.port, line))


# ---- helpers


def PortFree(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def FreeBasePort(count):
    """A port p from the kernel (bind to 0) with p..p+count-1 and their bus
    ports (+10000) all free."""
    for _ in range(200):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        if p + count - 1 + 10000 > 65535:
            p = p - 30000 if p > 40000 else p
        ports = [p + i for i in range(count)]
        if all(1024 < q and q + 10000 <= 65535 and PortFree(q) and PortFree(q + 10000)
               for q in ports):
            return p
    raise Failure("no free loopback ports found")


def KvCluster(*args, expect_ok=True):
    cmd = [sys.executable, KV_CLUSTER] + [str(a) for a in args]
    print("$ kv-cluster " + " ".join(str(a) for a in args), flush=True)
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=STEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise Failure("kv-cluster %s did not finish within %d s" % (args[0], STEP_TIMEOUT))
    sys.stdout.write(r.stdout)
    sys.stdout.write(r.stderr)
    if expect_ok and r.returncode != 0:
        raise Failure("kv-cluster %s exited with %d" % (" ".join(map(str, args)), r.returncode))
    return r


def WaitFor(what, deadline_s, pred):
    deadline = time.monotonic() + deadline_s
    while not pred():
        if time.monotonic() > deadline:
            raise Failure("timed out after %d s waiting for %s" % (deadline_s, what))
        time.sleep(0.05)


def Pings(port):
    try:
        c = Resp(port)
        try:
            return c.call("PING") == "PONG"
        finally:
            c.close()
    except (OSError, Failure):
        return False


def NodeIds(port):
    c = Resp(port)
    try:
        return [line.split()[0] for line in c.call("CLUSTER", "NODES").splitlines() if line]
    finally:
        c.close()


def StatusRows(out):
    """Rows of the status table: lists of cells, header excluded (the last
    heartbeat, "0.1s ago", is two cells)."""
    lines = out.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("id "))
    rows = []
    for line in lines[start + 1:]:
        cells = line.split()
        if len(cells) < 9 or ":" not in cells[1]:
            break
        rows.append(cells)
    return rows


def LocalKeys(port):
    """INFO keyspace of one node: the keys it stores itself."""
    c = Resp(port)
    try:
        for line in c.call("INFO", "keyspace").splitlines():
            if line.startswith("db0:"):
                return int(line.split("keys=")[1].split(",")[0])
        return 0
    finally:
        c.close()


def OwnedPartitions(port, node_id):
    c = Resp(port)
    try:
        return sum(1 for r in c.call("CLUSTER", "RING") if r[3] == node_id)
    finally:
        c.close()


class Load(threading.Thread):
    """Reads random keys of `expected` through random nodes of `ports` until
    stopped, and every 4th operation writes a new key (kept in `expected`).
    Counts wrong answers and errors; both must stay 0 while partitions move."""

    def __init__(self, ports, expected, rng, tag):
        super().__init__(daemon=True)
        self.ports, self.expected, self.rng, self.tag = ports, expected, rng, tag
        self.stop = threading.Event()
        self.reads = self.writes = 0
        self.wrong, self.errors = [], []

    def run(self):
        conns = {}
        keys = list(self.expected)
        n = 0
        try:
            while not self.stop.is_set():
                p = self.rng.choice(self.ports)
                try:
                    if p not in conns:
                        conns[p] = Resp(p)
                    if n % 4 == 3:
                        key, value = "%s:%d" % (self.tag, n), "v%d" % n
                        got = conns[p].call("SET", key, value)
                        if got != "OK":
                            self.wrong.append("SET %s via %d: %r" % (key, p, got))
                        self.expected[key] = value
                        keys.append(key)
                        self.writes += 1
                    else:
                        key = self.rng.choice(keys)
                        got = conns[p].call("GET", key)
                        if got != self.expected[key]:
                            self.wrong.append("GET %s via %d: %r, want %r"
                                              % (key, p, got, self.expected[key]))
                        self.reads += 1
                except (OSError, Failure) as e:
                    self.errors.append("via %d: %s" % (p, e))
                    conns.pop(p, None)
                n += 1
        finally:
            for c in conns.values():
                c.close()

    def halt(self):
        self.stop.set()
        self.join(timeout=10)

    def check(self, what):
        print("%s: %d reads, %d writes through %s, %d wrong, %d errors"
              % (what, self.reads, self.writes, ",".join(map(str, self.ports)), len(self.wrong),
                 len(self.errors)))
        Check(not self.wrong, "%s: wrong answers, e.g. %s" % (what, self.wrong[:3]))
        Check(not self.errors, "%s: errors, e.g. %s" % (what, self.errors[:3]))
        Check(self.reads > 0, "%s: the background reader did not run" % what)


def CheckAllKeys(ports, expected, what):
    """Every key of `expected` reads back right through every node of `ports`
    (MGET in chunks), and DBSIZE counts them."""
    keys = sorted(expected)
    for p in ports:
        c = Resp(p)
        try:
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                got = c.call("MGET", *chunk)
                bad = [k for k, v in zip(chunk, got) if v != expected[k]]
                Check(not bad, "%s: %d keys wrong via %d, e.g. %s" % (what, len(bad), p, bad[:3]))
        finally:
            c.close()


def WaitStoredOnce(ports, total, what):
    """The nodes' own key counts add up to `total`: each key stored once
    (moved partitions are deleted from their old owner a few seconds after
    the cluster agrees on the ring)."""
    counts = {}

    def stored_once():
        counts.update({p: LocalKeys(p) for p in ports})
        return sum(counts.values()) == total

    try:
        WaitFor("each key stored once", 20, stored_once)
    except Failure:
        raise Failure("%s: the nodes store %r = %d keys, want %d"
                      % (what, counts, sum(counts.values()), total))


# ---- the test


def Run(server, tmp, base, extra):
    ports = [base + i for i in range(5)]
    addr = {p: "127.0.0.1:%d" % p for p in ports + [base + 5]}
    local_dir = os.path.join(tmp, "local")
    seed = int(os.environ.get("KV_TEST_SEED", random.randrange(1 << 30)))
    print("seed %d" % seed)
    rng = random.Random(seed)

    # 1. local start 5; every node sees all 5 normal; ring covers everything.
    KvCluster("local", "start", 5, "--base-port", base, "--dir", local_dir, "--secret", "t",
              "--partitions", PARTITIONS, "--binary", server)
    for p in ports:
        r = KvCluster("status", addr[p])
        rows = StatusRows(r.stdout)
        Check(len(rows) == 5, "status via %d lists %d nodes, want 5" % (p, len(rows)))
        Check(all(row[3] == "normal" for row in rows), "via %d a node is not normal: %r"
              % (p, rows))
        Check(sorted(row[1] for row in rows) == [addr[q] for q in ports],
              "status addresses: %r" % rows)
        Check(sum(int(row[4]) for row in rows) == PARTITIONS, "partitions do not sum: %r" % rows)
        for row in rows:
            want_self = row[1] == addr[p]
            Check((row[8] == "self") == want_self and (want_self or row[-1] == "ago"),
                  "via %d, last heartbeat of %s: %r" % (p, row[1], row[8:]))
    r = KvCluster("ring", addr[ports[2]])
    Check(r.stdout.startswith("%d partitions over 5 nodes" % PARTITIONS), "ring header")
    covered = []
    for line in r.stdout.splitlines()[1:]:
        part = line.split()[1]
        first, _, last = part.partition("-")
        covered += list(range(int(first), int(last or first) + 1))
    Check(sorted(covered) == list(range(PARTITIONS)), "ring covers %r" % covered)

    # 2. 2,000 keys written through random nodes, read through other ones.
    expected = {}
    conns = {p: Resp(p) for p in ports}
    try:
        writer = {}
        for i in range(KEYS):
            p = rng.choice(ports)
            writer[i] = p
            Check(conns[p].call("SET", "key:%d" % i, "value:%d" % i) == "OK", "SET key:%d" % i)
            expected["key:%d" % i] = "value:%d" % i
        for i in range(KEYS):
            p = rng.choice([q for q in ports if q != writer[i]])
            got = conns[p].call("GET", "key:%d" % i)
            Check(got == "value:%d" % i, "GET key:%d via %d: %r" % (i, p, got))
        for p in ports:
            n = conns[p].call("DBSIZE")
            Check(n == KEYS, "DBSIZE via %d is %r" % (p, n))
    finally:
        for c in conns.values():
            c.close()
    r = KvCluster("status", addr[ports[0]])
    Check(sum(int(row[5]) for row in StatusRows(r.stdout)) == KEYS, "status key total")

    # 3. create on the created cluster: a no-op saying so.
    r = KvCluster("create", *[addr[p] for p in ports], "--yes", expect_ok=False)
    Check("already" in r.stdout + r.stderr, "create again: no clear message")

    # 4. a 6th node joins with add-node while a thread reads and writes
    # through the old nodes.
    p6 = base + 5
    data6 = os.path.join(tmp, "node6")
    os.makedirs(data6)
    with open(os.path.join(tmp, "node6.log"), "wb") as log:
        extra.append(subprocess.Popen(
            [server, "--port", str(p6), "--bind", "127.0.0.1", "--dir", data6,
             "--cluster-secret", "t", "--cluster-partitions", str(PARTITIONS)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
    WaitFor("the 6th node to answer PING", 10, lambda: Pings(p6))
    c = Resp(p6)
    id6 = c.call("CLUSTER", "MYID")
    c.close()
    load = Load(ports, expected, random.Random(seed + 1), "during-add")
    load.start()
    try:
        r = KvCluster("add-node", addr[p6], addr[ports[0]], "--yes")
    finally:
        load.halt()
    load.check("add-node")
    out = r.stdout
    Check(re.search(r"^\s+partition\s+from\s+to\s+keys\s+bytes$", out, re.M),
          "add-node printed no plan table")
    Check(re.search(r"^\s+\d+\s+127\.0\.0\.1:\d+\s+%s\s+\d+\s+\d+$" % re.escape(addr[p6]), out,
                    re.M), "add-node's plan has no move to the new node")
    Check(re.search(r"^Total: \d+ partitions?, \d+ keys, \d+ bytes", out, re.M),
          "add-node printed no plan total")
    Check(re.search(r"\d+/\d+ partitions, \d+ keys, .* moved, .*/s, ETA", out),
          "add-node printed no progress line")
    Check(re.search(r"^Moved \d+ partitions?: \d+ keys", out, re.M), "add-node: no summary")
    owned = OwnedPartitions(ports[1], id6)
    Check(owned >= PARTITIONS // 6, "the 6th node owns %d partitions, want >= %d"
          % (owned, PARTITIONS // 6))
    Check(LocalKeys(p6) > 0, "the 6th node stores no keys")
    CheckAllKeys(ports + [p6], expected, "after add-node")
    WaitStoredOnce(ports + [p6], len(expected), "after add-node")

    # 5. forget of a node that owns partitions is refused.
    r = KvCluster("forget", addr[ports[0]], id6, expect_ok=False)
    Check(r.returncode != 0 and "leave" in r.stderr, "forget of an owner: not refused clearly")

    # 6. one of the first nodes leaves while the thread runs through the rest.
    gone = ports[2]
    rest = [p for p in ports if p != gone] + [p6]
    c = Resp(gone)
    gone_id = c.call("CLUSTER", "MYID")
    c.close()
    Check(OwnedPartitions(ports[0], gone_id) > 0, "the leaving node owns no partitions")
    load = Load(rest, expected, random.Random(seed + 2), "during-leave")
    load.start()
    try:
        r = KvCluster("leave", addr[gone], "--yes")
    finally:
        load.halt()
    load.check("leave")
    out = r.stdout
    Check(re.search(r"^Total: \d+ partitions?, \d+ keys", out, re.M), "leave printed no plan")
    Check(re.search(r"\d+/\d+ partitions, \d+ keys, .* moved", out), "leave: no progress line")
    Check("%s left the cluster; its data was handed over; it can be stopped" % addr[gone] in out,
          "leave: no final line")
    Check(LocalKeys(gone) == 0, "the node that left still stores keys")
    for p in rest:
        Check(gone_id not in NodeIds(p), "port %d still lists the node that left" % p)
        Check(OwnedPartitions(p, gone_id) == 0, "port %d's ring still has the node that left" % p)
    CheckAllKeys(rest, expected, "after leave")
    WaitStoredOnce(rest, len(expected), "after leave")
    c = Resp(rest[0])
    Check(c.call("DBSIZE") == len(expected), "DBSIZE after leave")
    c.close()
    r = KvCluster("status", addr[rest[0]])
    rows = StatusRows(r.stdout)
    Check(sorted(row[1] for row in rows) == sorted(addr[p] for p in rest),
          "status after leave: %r" % rows)

    # 7. local stop (the node that left is one of them), then the 6th node.
    pids = []
    with open(os.path.join(local_dir, "kv-local.pids")) as f:
        pids = [int(line.split()[0]) for line in f if line.strip()]
    r = KvCluster("local", "stop", "--dir", local_dir)
    Check("Stopped 5 nodes" in r.stdout, "local stop did not report 5 nodes")
    for pid in pids:
        Check(not Alive(pid), "pid %d still runs after local stop" % pid)
    for p in ports:
        Check(not Pings(p), "port %d still answers after local stop" % p)
    extra[-1].terminate()
    extra[-1].wait(timeout=10)


def Alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def Cleanup(tmp, extra, failed):
    for proc in extra:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    pid_file = os.path.join(tmp, "local", "kv-local.pids")
    if os.path.exists(pid_file):
        with open(pid_file) as f:
            for line in f:
                fields = line.split()
                if fields and fields[0].isdigit() and Alive(int(fields[0])):
                    try:
                        os.kill(int(fields[0]), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
    if failed:
        # Server logs only: tmp/node6.log and tmp/local/PORT.log (the data
        # directories hold the storage's binary NNNNNN.log files).
        for root in (tmp, os.path.join(tmp, "local")):
            files = os.listdir(root) if os.path.isdir(root) else []
            for name in sorted(files):
                if name.endswith(".log") and os.path.isfile(os.path.join(root, name)):
                    path = os.path.join(root, name)
                    with open(path, errors="replace") as f:
                        tail = f.readlines()[-30:]
                    print("---- %s (last %d lines)" % (path, len(tail)))
                    sys.stdout.write("".join(tail))
    shutil.rmtree(tmp, ignore_errors=True)


def main():
    if len(sys.argv) != 2:
        print("usage: %s PATH/TO/kv-server" % sys.argv[0], file=sys.stderr)
        return 2
    server = os.path.abspath(sys.argv[1])
    if not os.access(server, os.X_OK):
        print("not an executable: %s" % server, file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="kv-cluster-test-")
    extra, failed = [], True
    start = time.monotonic()
    try:
        base = FreeBasePort(6)
        print("ports %d-%d, dir %s" % (base, base + 5, tmp))
        Run(server, tmp, base, extra)
        failed = False
    except Failure as e:
        print("FAILED: %s" % e)
    finally:
        Cleanup(tmp, extra, failed)
    print("%s in %.1f s" % ("FAILED" if failed else "PASSED", time.monotonic() - start))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
