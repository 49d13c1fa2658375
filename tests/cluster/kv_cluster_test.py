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
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KV_CLUSTER = os.path.join(ROOT, "utils", "kv-cluster")
STEP_TIMEOUT = 90  # seconds for one kv-cluster run
PARTITIONS = 16


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
    """Rows of the status table: lists of cells, header excluded."""
    lines = out.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("id "))
    rows = []
    for line in lines[start + 1:]:
        cells = line.split()
        if len(cells) < 9 or ":" not in cells[1]:
            break
        rows.append(cells)
    return rows


# ---- the test


def Run(server, tmp, base, extra):
    ports = [base, base + 1, base + 2]
    local_dir = os.path.join(tmp, "local")

    # 1. local start, status, ring.
    KvCluster("local", "start", 3, "--base-port", base, "--dir", local_dir, "--secret", "t",
              "--partitions", PARTITIONS, "--binary", server)
    r = KvCluster("status", "127.0.0.1:%d" % ports[1])
    rows = StatusRows(r.stdout)
    Check(len(rows) == 3, "status lists %d nodes, want 3" % len(rows))
    Check(sum(int(row[4]) for row in rows) == PARTITIONS, "partitions do not sum to 16: %r" % rows)
    Check(all(row[3] == "normal" for row in rows), "a node is not normal: %r" % rows)
    Check(sorted(row[1] for row in rows) == ["127.0.0.1:%d" % p for p in ports],
          "status addresses: %r" % rows)
    r = KvCluster("ring", "127.0.0.1:%d" % ports[2])
    Check(r.stdout.startswith("%d partitions over 3 nodes" % PARTITIONS), "ring header")
    covered = []
    for line in r.stdout.splitlines()[1:]:
        part = line.split()[1]
        first, _, last = part.partition("-")
        covered += list(range(int(first), int(last or first) + 1))
    Check(sorted(covered) == list(range(PARTITIONS)), "ring covers %r" % covered)

    # 2. 1,000 keys written through random nodes, read through other ones.
    seed = int(os.environ.get("KV_TEST_SEED", random.randrange(1 << 30)))
    print("seed %d" % seed)
    rng = random.Random(seed)
    conns = {p: Resp(p) for p in ports}
    try:
        writer = {}
        for i in range(1000):
            p = rng.choice(ports)
            writer[i] = p
            Check(conns[p].call("SET", "key:%d" % i, "value:%d" % i) == "OK", "SET key:%d" % i)
        for i in range(1000):
            p = rng.choice([q for q in ports if q != writer[i]])
            got = conns[p].call("GET", "key:%d" % i)
            Check(got == "value:%d" % i, "GET key:%d via %d: %r" % (i, p, got))
        keys = ["key:%d" % i for i in range(0, 1000, 7)]
        for p in ports:
            got = conns[p].call("MGET", *keys)
            Check(got == ["value:%d" % i for i in range(0, 1000, 7)], "MGET via %d" % p)
        for p in ports:
            n = conns[p].call("DBSIZE")
            Check(n == 1000, "DBSIZE via %d is %r" % (p, n))
    finally:
        for c in conns.values():
            c.close()
    r = KvCluster("status", "127.0.0.1:%d" % ports[0])
    Check(sum(int(row[5]) for row in StatusRows(r.stdout)) == 1000, "status key total")

    # 3. create on the created cluster: a no-op saying so.
    r = KvCluster("create", *["127.0.0.1:%d" % p for p in ports], "--yes", expect_ok=False)
    Check("already" in r.stdout + r.stderr, "create again: no clear message")

    # 4. a 4th node: add-node refused (its partitions would carry data), then forget.
    p4 = base + 3
    data4 = os.path.join(tmp, "node4")
    os.makedirs(data4)
    with open(os.path.join(tmp, "node4.log"), "wb") as log:
        extra.append(subprocess.Popen(
            [server, "--port", str(p4), "--bind", "127.0.0.1", "--dir", data4,
             "--cluster-secret", "t", "--cluster-partitions", str(PARTITIONS)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
    WaitFor("the 4th node to answer PING", 10, lambda: Pings(p4))
    r = KvCluster("add-node", "127.0.0.1:%d" % p4, "127.0.0.1:%d" % ports[0], "--yes",
                  expect_ok=False)
    Check(r.returncode != 0, "add-node succeeded although moved partitions hold data")
    Check("not implemented" in r.stderr, "add-node error does not say 'not implemented'")
    c = Resp(p4)
    id4 = c.call("CLUSTER", "MYID")
    c.close()
    Check(all(id4 in NodeIds(p) for p in ports), "the 4th node did not join before forget")
    KvCluster("forget", "127.0.0.1:%d" % ports[0], id4)
    for p in ports:
        Check(id4 not in NodeIds(p), "port %d still lists the forgotten node" % p)
    extra[-1].terminate()
    extra[-1].wait(timeout=10)
    c = Resp(ports[2])
    Check(c.call("DBSIZE") == 1000, "DBSIZE after the 4th node left")
    c.close()

    # 5. local stop.
    pids = []
    with open(os.path.join(local_dir, "kv-local.pids")) as f:
        pids = [int(line.split()[0]) for line in f if line.strip()]
    r = KvCluster("local", "stop", "--dir", local_dir)
    Check("Stopped 3 nodes" in r.stdout, "local stop did not report 3 nodes")
    for pid in pids:
        Check(not Alive(pid), "pid %d still runs after local stop" % pid)
    for p in ports:
        Check(not Pings(p), "port %d still answers after local stop" % p)


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
        for root, _, files in os.walk(tmp):
            for name in sorted(files):
                if name.endswith(".log"):
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
        base = FreeBasePort(4)
        print("ports %d-%d, dir %s" % (base, base + 3, tmp))
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
