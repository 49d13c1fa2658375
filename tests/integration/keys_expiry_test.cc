// Keyspace commands and expiry: DEL UNLINK EXISTS EXPIRE PEXPIRE EXPIREAT
// PEXPIREAT (NX XX GT LT) TTL PTTL PERSIST TYPE SCAN KEYS DBSIZE FLUSHALL
// FLUSHDB, lazy and active expiry.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "helpers/reply.h"
#include "helpers/server_process.h"

using namespace kv::test;

namespace {

const char* const kServer = "keys_expiry";

ServerProcess& Server() { return SharedServer(kServer); }

long long NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

long long NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool Between(long long v, long long lo, long long hi) { return lo <= v && v <= hi; }

const Reply kOK = Status("OK");

// The sorted bulk strings of an array reply (empty if it is not one).
std::vector<std::string> SortedStrings(const Reply& r) {
  std::vector<std::string> out;
  for (const auto& e : r.elements) out.push_back(e.str);
  std::sort(out.begin(), out.end());
  return out;
}

// Pipelines `args` for each of `n` commands and reads all replies; returns
// how many replies were `expected`.
int Pipeline(const Conn& c, int n, const std::function<std::vector<std::string>(int)>& args,
             const Reply& expected) {
  for (int i = 0; i < n; ++i) {
    std::vector<std::string> a = args(i);
    std::vector<const char*> argv;
    std::vector<size_t> argvlen;
    for (const auto& s : a) {
      argv.push_back(s.data());
      argvlen.push_back(s.size());
    }
    redisAppendCommandArgv(c.get(), static_cast<int>(a.size()), argv.data(), argvlen.data());
  }
  int matched = 0;
  for (int i = 0; i < n; ++i) {
    void* raw = nullptr;
    if (redisGetReply(c.get(), &raw) != REDIS_OK) break;
    Reply r = FromHiredis(static_cast<redisReply*>(raw), c.get());
    freeReplyObject(raw);
    if (r == expected) ++matched;
  }
  return matched;
}

// Runs a full SCAN iteration with `extra` options; returns every key seen
// (with repeats) and sets *calls. Stops after `max_calls` (a cursor that never
// returns to 0 is a failure the caller checks through *terminated).
std::vector<std::string> ScanAll(const Conn& c, const std::vector<std::string>& extra,
                                 int max_calls, int* calls, bool* terminated) {
  std::vector<std::string> keys;
  std::string cursor = "0";
  *calls = 0;
  *terminated = false;
  do {
    std::vector<std::string> args = {"SCAN", cursor};
    args.insert(args.end(), extra.begin(), extra.end());
    Reply r = Call(c, args);
    ++*calls;
    REQUIRE_MESSAGE(r.type == Reply::Type::kArray, r);
    REQUIRE(r.size() == 2);
    REQUIRE(r[0].type == Reply::Type::kBulk);
    REQUIRE(r[1].type == Reply::Type::kArray);
    cursor = r[0].str;
    for (const auto& k : r[1].elements) {
      REQUIRE(k.type == Reply::Type::kBulk);
      keys.push_back(k.str);
    }
    if (cursor == "0") {
      *terminated = true;
      break;
    }
  } while (*calls < max_calls);
  return keys;
}

}  // namespace

TEST_CASE("DEL and UNLINK return how many keys they removed") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"MSET", "a", "1", "b", "2", "c", "3", "d", "4"}) == kOK);
  CHECK(Call(c, {"DEL", "a", "missing", "b"}) == Int(2));
  CHECK(Call(c, {"DEL", "a"}) == Int(0));
  CHECK(Call(c, {"DEL", "c", "c"}) == Int(1));
  CHECK(Call(c, {"UNLINK", "d", "missing"}) == Int(1));
  CHECK(Call(c, {"DBSIZE"}) == Int(0));
  CHECK(Call(c, {"DEL"}) == Error("ERR wrong number of arguments for 'del' command"));
}

TEST_CASE("EXISTS counts every argument, duplicates included") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"SET", "k", "v"}) == kOK);
  CHECK(Call(c, {"EXISTS", "k"}) == Int(1));
  CHECK(Call(c, {"EXISTS", "k", "k", "missing", "k"}) == Int(3));
  CHECK(Call(c, {"EXISTS", "missing"}) == Int(0));
}

TEST_CASE("TTL and PTTL: -2 for a missing key, -1 without expiry") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"TTL", "missing"}) == Int(-2));
  CHECK(Call(c, {"PTTL", "missing"}) == Int(-2));
  CHECK(Call(c, {"SET", "k", "v"}) == kOK);
  CHECK(Call(c, {"TTL", "k"}) == Int(-1));
  CHECK(Call(c, {"PTTL", "k"}) == Int(-1));
}

TEST_CASE("EXPIRE PEXPIRE EXPIREAT PEXPIREAT set TTLs; 0 for a missing key") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"EXPIRE", "missing", "100"}) == Int(0));
  CHECK(Call(c, {"PEXPIRE", "missing", "100"}) == Int(0));
  CHECK(Call(c, {"SET", "k", "v"}) == kOK);
  CHECK(Call(c, {"EXPIRE", "k", "100"}) == Int(1));
  CHECK(Between(CallInt(c, {"TTL", "k"}), 95, 100));
  CHECK(Call(c, {"PEXPIRE", "k", "200000"}) == Int(1));
  CHECK(Between(CallInt(c, {"PTTL", "k"}), 195000, 200000));
  CHECK(Call(c, {"EXPIREAT", "k", std::to_string(NowSeconds() + 300)}) == Int(1));
  CHECK(Between(CallInt(c, {"TTL", "k"}), 295, 300));
  CHECK(Call(c, {"PEXPIREAT", "k", std::to_string(NowMillis() + 400000)}) == Int(1));
  CHECK(Between(CallInt(c, {"PTTL", "k"}), 395000, 400000));
  CHECK(Call(c, {"EXPIRE", "k", "abc"}) == Error("ERR value is not an integer or out of range"));
  CHECK(Call(c, {"EXPIRE", "k"}) == Error("ERR wrong number of arguments for 'expire' command"));
  CHECK(Call(c, {"EXPIRE", "k", "100", "FOO"}) == Error("ERR Unsupported option FOO"));
}

TEST_CASE("EXPIRE with a time in the past deletes the key") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"MSET", "a", "1", "b", "1", "c", "1", "d", "1"}) == kOK);
  CHECK(Call(c, {"EXPIRE", "a", "-1"}) == Int(1));
  CHECK(Call(c, {"PEXPIRE", "b", "0"}) == Int(1));
  CHECK(Call(c, {"EXPIREAT", "c", "1"}) == Int(1));
  CHECK(Call(c, {"PEXPIREAT", "d", "1"}) == Int(1));
  CHECK(Call(c, {"EXISTS", "a", "b", "c", "d"}) == Int(0));
  CHECK(Call(c, {"DBSIZE"}) == Int(0));
}

TEST_CASE("EXPIRE NX XX GT LT") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"SET", "k", "v"}) == kOK);
  CHECK(Call(c, {"EXPIRE", "k", "100", "XX"}) == Int(0));  // no TTL yet
  CHECK(Call(c, {"TTL", "k"}) == Int(-1));
  CHECK(Call(c, {"EXPIRE", "k", "100", "GT"}) == Int(0));  // no TTL counts as infinite
  CHECK(Call(c, {"EXPIRE", "k", "100", "NX"}) == Int(1));
  CHECK(Call(c, {"EXPIRE", "k", "200", "NX"}) == Int(0));
  CHECK(Between(CallInt(c, {"TTL", "k"}), 95, 100));
  CHECK(Call(c, {"EXPIRE", "k", "50", "GT"}) == Int(0));
  CHECK(Call(c, {"EXPIRE", "k", "200", "GT"}) == Int(1));
  CHECK(Between(CallInt(c, {"TTL", "k"}), 195, 200));
  CHECK(Call(c, {"EXPIRE", "k", "300", "LT"}) == Int(0));
  CHECK(Call(c, {"EXPIRE", "k", "50", "LT"}) == Int(1));
  CHECK(Between(CallInt(c, {"TTL", "k"}), 45, 50));
  CHECK(Call(c, {"PEXPIRE", "k", "80000", "XX"}) == Int(1));
  CHECK(Between(CallInt(c, {"PTTL", "k"}), 75000, 80000));
  CHECK(Call(c, {"PERSIST", "k"}) == Int(1));
  CHECK(Call(c, {"EXPIRE", "k", "100", "LT"}) == Int(1));  // anything is less than infinite
  CHECK(Call(c, {"EXPIREAT", "k", std::to_string(NowSeconds() + 1000), "GT"}) == Int(1));
  CHECK(Call(c, {"PEXPIREAT", "k", std::to_string(NowMillis() + 10000), "GT"}) == Int(0));

  CHECK(Call(c, {"EXPIRE", "k", "10", "NX", "XX"}) ==
        Error("ERR NX and XX, GT or LT options at the same time are not compatible"));
  CHECK(Call(c, {"EXPIRE", "k", "10", "GT", "LT"}) ==
        Error("ERR GT and LT options at the same time are not compatible"));
  CHECK(Call(c, {"EXPIRE", "k", "10", "NX", "GT"}) ==
        Error("ERR NX and XX, GT or LT options at the same time are not compatible"));
}

TEST_CASE("PERSIST removes a TTL: 1 if removed, 0 otherwise") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"PERSIST", "missing"}) == Int(0));
  CHECK(Call(c, {"SET", "k", "v", "EX", "100"}) == kOK);
  CHECK(Call(c, {"PERSIST", "k"}) == Int(1));
  CHECK(Call(c, {"TTL", "k"}) == Int(-1));
  CHECK(Call(c, {"PERSIST", "k"}) == Int(0));
  CHECK(Call(c, {"GET", "k"}) == Bulk("v"));
}

TEST_CASE("TYPE is string or none") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"TYPE", "missing"}) == Status("none"));
  CHECK(Call(c, {"SET", "k", "v"}) == kOK);
  CHECK(Call(c, {"TYPE", "k"}) == Status("string"));
  CHECK(Call(c, {"INCR", "n"}) == Int(1));
  CHECK(Call(c, {"TYPE", "n"}) == Status("string"));
}

TEST_CASE("a key with PX 100 disappears") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"SET", "k", "v", "PX", "100"}) == kOK);
  CHECK(Call(c, {"GET", "k"}) == Bulk("v"));
  CHECK(WaitFor([&] { return Call(c, {"GET", "k"}) == Nil(); }, 3s));
  CHECK(Call(c, {"EXISTS", "k"}) == Int(0));
  CHECK(Call(c, {"TTL", "k"}) == Int(-2));
  CHECK(Call(c, {"PSETEX", "p", "100", "v"}) == kOK);
  CHECK(WaitFor([&] { return Call(c, {"EXISTS", "p"}) == Int(0); }, 3s));
}

TEST_CASE("active expiry reclaims 1000 keys that are never accessed again") {
  Conn c = ConnectFlushed(Server());
  CHECK(Pipeline(
            c, 1000,
            [](int i) {
              return std::vector<std::string>{"SET", "exp:" + std::to_string(i), "v", "PX", "50"};
            },
            kOK) == 1000);
  CHECK(Call(c, {"SET", "keeper", "v"}) == kOK);
  // DBSIZE does not touch keys, so only the background cycle can bring it
  // down.
  CHECK(WaitFor([&] { return Call(c, {"DBSIZE"}) == Int(1); }, 5s, 50ms));
  CHECK(Call(c, {"DBSIZE"}) == Int(1));
  CHECK(Call(c, {"GET", "keeper"}) == Bulk("v"));
}

TEST_CASE("KEYS matches glob patterns") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"MSET", "hello", "1", "hallo", "1", "hxllo", "1", "hllo", "1", "heeeello", "1",
                 "h[a]llo", "1", "other", "1"}) == kOK);
  using V = std::vector<std::string>;
  CHECK(SortedStrings(Call(c, {"KEYS", "*"})) ==
        V{"h[a]llo", "hallo", "heeeello", "hello", "hllo", "hxllo", "other"});
  CHECK(SortedStrings(Call(c, {"KEYS", "h?llo"})) == V{"hallo", "hello", "hxllo"});
  CHECK(SortedStrings(Call(c, {"KEYS", "h*llo"})) ==
        V{"h[a]llo", "hallo", "heeeello", "hello", "hllo", "hxllo"});
  CHECK(SortedStrings(Call(c, {"KEYS", "h[ae]llo"})) == V{"hallo", "hello"});
  CHECK(SortedStrings(Call(c, {"KEYS", "h[^e]llo"})) == V{"hallo", "hxllo"});
  CHECK(SortedStrings(Call(c, {"KEYS", "h[a-b]llo"})) == V{"hallo"});
  CHECK(SortedStrings(Call(c, {"KEYS", "h\\[a\\]llo"})) == V{"h[a]llo"});
  CHECK(Call(c, {"KEYS", "nomatch*"}) == Array({}));
  CHECK(Call(c, {"KEYS", "other"}) == BulkArray({"other"}));
}

TEST_CASE("KEYS does not return expired keys") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"SET", "live", "v"}) == kOK);
  CHECK(Call(c, {"SET", "dead", "v", "PX", "1"}) == kOK);
  CHECK(WaitFor([&] { return Call(c, {"KEYS", "*"}) == BulkArray({"live"}); }, 2s));
}

TEST_CASE("SCAN full iteration returns every key and ends with cursor 0") {
  Conn c = ConnectFlushed(Server());
  const int n = 1000;
  CHECK(Pipeline(
            c, n,
            [](int i) {
              return std::vector<std::string>{"SET", "key:" + std::to_string(i), "v"};
            },
            kOK) == n);
  int calls = 0;
  bool terminated = false;
  std::vector<std::string> seen = ScanAll(c, {"COUNT", "10"}, 10000, &calls, &terminated);
  CHECK(terminated);
  std::set<std::string> unique(seen.begin(), seen.end());
  CHECK(unique.size() == static_cast<size_t>(n));
  CHECK(seen.size() >= static_cast<size_t>(n));
  CHECK(calls > 1);  // COUNT 10 over 1000 keys takes more than one call
  for (int i = 0; i < n; i += 97) CHECK(unique.count("key:" + std::to_string(i)) == 1);

  seen = ScanAll(c, {}, 10000, &calls, &terminated);
  CHECK(terminated);
  CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == static_cast<size_t>(n));
}

TEST_CASE("SCAN MATCH and TYPE filter keys") {
  Conn c = ConnectFlushed(Server());
  for (int i = 0; i < 50; ++i) {
    REQUIRE(Call(c, {"SET", "user:" + std::to_string(i), "v"}) == kOK);
    REQUIRE(Call(c, {"SET", "other:" + std::to_string(i), "v"}) == kOK);
  }
  int calls = 0;
  bool terminated = false;
  std::vector<std::string> seen =
      ScanAll(c, {"MATCH", "user:*", "COUNT", "7"}, 10000, &calls, &terminated);
  CHECK(terminated);
  std::set<std::string> unique(seen.begin(), seen.end());
  CHECK(unique.size() == 50);
  for (const auto& k : unique) CHECK(k.rfind("user:", 0) == 0);

  seen = ScanAll(c, {"TYPE", "string"}, 10000, &calls, &terminated);
  CHECK(terminated);
  CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == 100);

  seen = ScanAll(c, {"MATCH", "nothing*"}, 10000, &calls, &terminated);
  CHECK(terminated);
  CHECK(seen.empty());
}

TEST_CASE("SCAN on an empty keyspace and with bad arguments") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"SCAN", "0"}) == Array({Bulk("0"), Array({})}));
  CHECK(Call(c, {"SCAN", "abc"}) == Error("ERR invalid cursor"));
  CHECK(Call(c, {"SCAN", "0", "COUNT", "0"}) == Error("ERR syntax error"));
  CHECK(Call(c, {"SCAN", "0", "COUNT", "abc"}) ==
        Error("ERR value is not an integer or out of range"));
  CHECK(Call(c, {"SCAN", "0", "MATCH"}) == Error("ERR syntax error"));
  CHECK(Call(c, {"SCAN", "0", "BOGUS", "1"}) == Error("ERR syntax error"));
}

TEST_CASE("DBSIZE FLUSHDB FLUSHALL") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"DBSIZE"}) == Int(0));
  CHECK(Call(c, {"MSET", "a", "1", "b", "2", "c", "3"}) == kOK);
  CHECK(Call(c, {"DBSIZE"}) == Int(3));
  CHECK(Call(c, {"FLUSHDB"}) == kOK);
  CHECK(Call(c, {"DBSIZE"}) == Int(0));
  CHECK(Call(c, {"GET", "a"}) == Nil());
  CHECK(Call(c, {"MSET", "a", "1", "b", "2"}) == kOK);
  CHECK(Call(c, {"SET", "t", "1", "EX", "100"}) == kOK);
  CHECK(Call(c, {"FLUSHALL"}) == kOK);
  CHECK(Call(c, {"DBSIZE"}) == Int(0));
  CHECK(Call(c, {"KEYS", "*"}) == Array({}));
  CHECK(Call(c, {"TTL", "t"}) == Int(-2));
}

TEST_CASE("keys_expiry: the shared server exits with status 0 on SIGTERM") {
  auto status = StopSharedServer(kServer);
  if (status) CHECK_MESSAGE((status->exited && status->code == 0), status->ToString());
}
