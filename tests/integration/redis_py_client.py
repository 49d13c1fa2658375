#!/usr/bin/env python3
"""redis-py against a running server: the calls a Python application makes.

Usage: redis_py_client.py PORT

Run by clients_test.cc with Debian's python3 (python3-redis); standard
library otherwise. Exits 0 when every check passes; a failed check raises, so
the traceback says which. The server's keyspace is flushed first.
"""

import sys

import redis


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def check_eq(got, want, what):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def basic(r):
    check(r.ping() is True, "PING")
    check(r.flushall() is True, "FLUSHALL")
    check(r.set("py:k", "v") is True, "SET")
    check_eq(r.get("py:k"), b"v", "GET")
    check_eq(r.get("py:missing"), None, "GET missing")
    check(r.set("py:k", "v2", nx=True) is None, "SET NX on an existing key")
    check(r.set("py:e", "v", ex=100) is True, "SET EX")
    check(99 <= r.ttl("py:e") <= 100, "TTL after SET EX")
    check_eq(r.mset({"py:a": "1", "py:b": "2"}), True, "MSET")
    check_eq(r.mget("py:a", "py:b", "py:missing"), [b"1", b"2", None], "MGET")
    check_eq(r.incr("py:n"), 1, "INCR")
    check_eq(r.incrby("py:n", 10), 11, "INCRBY")
    check_eq(r.incrbyfloat("py:f", 1.5), 1.5, "INCRBYFLOAT")
    check_eq(r.append("py:k", "!"), 2, "APPEND")
    check_eq(r.strlen("py:k"), 2, "STRLEN")
    check_eq(r.exists("py:a", "py:b", "py:missing"), 2, "EXISTS")
    check_eq(r.delete("py:a", "py:b"), 2, "DEL")
    check_eq(r.type("py:k"), b"string", "TYPE")
    check(r.expire("py:k", 100) is True, "EXPIRE")
    check(r.persist("py:k") is True, "PERSIST")
    check_eq(r.ttl("py:k"), -1, "TTL after PERSIST")
    check_eq(r.getdel("py:k"), b"v!", "GETDEL")
    info = r.info()
    check("redis_version" in info, "INFO has redis_version")
    check(r.client_setname("py-client") is True, "CLIENT SETNAME")
    check_eq(r.client_getname(), "py-client", "CLIENT GETNAME")
    check(isinstance(r.client_id(), int), "CLIENT ID")
    check_eq(r.echo("hello"), b"hello", "ECHO")
    check(isinstance(r.time(), tuple), "TIME")
    check(r.dbsize() >= 1, "DBSIZE")
    try:
        r.execute_command("NOSUCHCOMMAND", "x")
        raise AssertionError("unknown command did not raise")
    except redis.ResponseError as e:
        check(str(e).startswith("unknown command 'NOSUCHCOMMAND'"), f"error text: {e}")


def pipelines(r):
    p = r.pipeline(transaction=False)
    for i in range(100):
        p.set(f"py:p:{i}", i)
    check_eq(p.execute(), [True] * 100, "pipeline of 100 SETs")
    p = r.pipeline(transaction=False)
    for i in range(100):
        p.get(f"py:p:{i}")
    check_eq(p.execute(), [str(i).encode() for i in range(100)], "pipeline of 100 GETs")

    # A transaction pipeline sends MULTI ... EXEC.
    p = r.pipeline(transaction=True)
    p.incr("py:c")
    p.incr("py:c")
    p.get("py:c")
    p.set("py:t", "x")
    check_eq(p.execute(), [1, 2, b"2", True], "MULTI/EXEC pipeline")

    # A command that fails at run time inside EXEC comes back as an error.
    r.set("py:s", "abc")
    p = r.pipeline(transaction=True)
    p.incr("py:s")
    p.set("py:u", "1")
    res = p.execute(raise_on_error=False)
    check(isinstance(res[0], redis.ResponseError), f"EXEC error element: {res!r}")
    check_eq(res[1], True, "EXEC second element")


def scanning(r):
    keys = set(r.scan_iter(match="py:p:*", count=10))
    check_eq(keys, {f"py:p:{i}".encode() for i in range(100)}, "scan_iter MATCH")
    everything = set(r.scan_iter())
    check(keys <= everything, "scan_iter without MATCH")
    check_eq(len(r.keys("py:p:*")), 100, "KEYS")


def decoded(port):
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10, decode_responses=True)
    r.set("py:d", "héllo")
    check_eq(r.get("py:d"), "héllo", "decode_responses GET")
    r.close()


def resp3(port):
    major = int(redis.__version__.split(".")[0])
    if major < 5:
        print(f"redis-py {redis.__version__} has no protocol=3 (needs 5.0+); RESP3 skipped")
        return
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10, protocol=3)
    check(r.ping() is True, "RESP3 PING")
    check(r.set("py:r3", "v") is True, "RESP3 SET")
    check_eq(r.get("py:r3"), b"v", "RESP3 GET")
    check_eq(r.get("py:missing"), None, "RESP3 GET missing")
    check(isinstance(r.config_get("maxmemory"), dict), "RESP3 CONFIG GET")
    r.close()


def main():
    port = int(sys.argv[1])
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10, client_name="kv-it")
    basic(r)
    pipelines(r)
    scanning(r)
    decoded(port)
    resp3(port)
    r.flushall()
    r.close()
    print(f"redis-py {redis.__version__}: all checks passed")


if __name__ == "__main__":
    main()
