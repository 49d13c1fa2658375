// Damaged files in the data dir, the way a crash or an operator leaves them:
//
//   - CURRENT overwritten with garbage, emptied, naming a missing manifest,
//     or deleted while data files exist: the server refuses to start (exits
//     non-zero within a deadline, never serves an empty or partial store),
//     says what is wrong in its log, and leaves the files alone, so putting
//     CURRENT back brings every key back;
//   - a torn WAL tail (random bytes, zeros, or a record cut short appended
//     to the newest *.log after kill -9): the server opens, logs that it
//     truncated the torn tail, keeps every acknowledged key, and the next
//     crash and restart find nothing left to truncate.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "fault/fault_util.h"
#include "helpers/reply.h"
#include "helpers/server_process.h"

namespace kv::test::fault {
namespace {

constexpr size_t kMinValue = 16;
constexpr size_t kMaxValue = 1500;

std::string CKey(const char* prefix, int i) { return std::string(prefix) + std::to_string(i); }

// SETs keys prefix0..prefix{n-1} (version 1 values) with pipelining;
// REQUIREs every reply is +OK.
void WriteKeys(redisContext* c, const char* prefix, int n) {
  for (int i = 0; i < n; i += 500) {
    std::vector<std::vector<std::string>> cmds;
    for (int j = i; j < std::min(n, i + 500); ++j) {
      std::string k = CKey(prefix, j);
      cmds.push_back({"SET", k, ValueFor(k, 1, kMinValue, kMaxValue)});
    }
    std::vector<Reply> replies = Pipeline(c, cmds);
    for (const Reply& r : replies) REQUIRE_MESSAGE(r == Status("OK"), r);
  }
}

// CHECKs keys prefix0..prefix{n-1} all hold their values.
void CheckKeys(redisContext* c, const char* prefix, int n) {
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) keys.push_back(CKey(prefix, i));
  std::vector<std::optional<std::string>> values = MGetAll(c, keys);
  size_t bad = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (values[i] && *values[i] == ValueFor(keys[i], 1, kMinValue, kMaxValue)) continue;
    if (++bad <= 5) {
      FAIL_CHECK(keys[i] << (values[i] ? " has a wrong value" : " is missing"));
    }
  }
  CHECK_MESSAGE(bad == 0, bad, " of ", n, " keys ", prefix, "* missing or wrong");
}

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (char& ch : s) ch = static_cast<char>(rng() & 0xff);
  return s;
}

}  // namespace

TEST_CASE(
    "corrupt_current: a bad or missing CURRENT stops the server from starting, and "
    "nothing is lost" *
    doctest::skip(TestingAgainstRedis())) {
  const uint64_t seed = TestSeed("corrupt_current");
  std::mt19937_64 rng(seed);
  const std::chrono::milliseconds deadline = SlowServer() ? 60s : 20s;
  const int n = 3000;

  // What is done to CURRENT, and what the log must name.
  struct Damage {
    const char* name;
    std::string contents;  // empty + remove: delete the file
    bool remove;
    const char* must_mention;
  };
  Damage damage;
  SUBCASE("random bytes") { damage = {"random bytes", RandomBytes(rng, 64), false, "CURRENT"}; }
  SUBCASE("text garbage") {
    damage = {"text garbage", "this is not a manifest name\n", false, "CURRENT"};
  }
  SUBCASE("empty") { damage = {"empty", "", false, "CURRENT"}; }
  SUBCASE("missing manifest") {
    damage = {"missing manifest", "MANIFEST-999999\n", false, "MANIFEST-999999"};
  }
  SUBCASE("deleted") { damage = {"deleted", "", true, "CURRENT"}; }
  CAPTURE(damage.name);

  ServerProcess server({"--appendfsync", "always", "--memtable-size", "1mb"});
  server.set_start_timeout(SlowServer() ? 60s : 30s);
  {
    Conn c = server.Connect();
    REQUIRE(c->err == 0);
    WriteKeys(c.get(), "cc:", n);
  }
  ExitStatus st = server.Stop();
  REQUIRE_MESSAGE((st.exited && st.code == 0), st.ToString());

  const std::string current = server.dir() + "/CURRENT";
  const std::string good = ReadFile(current);
  REQUIRE_MESSAGE(good.rfind("MANIFEST-", 0) == 0, "CURRENT holds \"", good, "\"");
  std::vector<std::string> files_before = DataFiles(server.dir());
  if (damage.remove) {
    REQUIRE(std::filesystem::remove(current));
  } else {
    WriteFile(current, damage.contents);
  }

  // It must refuse to start: exit non-zero, not serve.
  server.RestartNoWait();
  std::optional<ExitStatus> exit = server.WaitExit(deadline);
  const std::string log = server.LogSinceStart();
  CAPTURE(log);
  REQUIRE_MESSAGE(exit.has_value(), "kv-server with a damaged CURRENT (", damage.name,
                  ") is still running after ", deadline.count(), " ms");
  CHECK_MESSAGE((exit->exited && exit->code != 0), exit->ToString());
  CHECK_MESSAGE(log.find(damage.must_mention) != std::string::npos, "the log does not mention ",
                damage.must_mention);
  CHECK_MESSAGE(log.find("Ready to accept connections") == std::string::npos,
                "it got as far as accepting connections");
  Log("corrupt_current (%s): %s; log: %s", damage.name, exit->ToString().c_str(),
      log.substr(log.find_last_of('\n', log.size() >= 2 ? log.size() - 2 : 0) + 1).c_str());

  // The failed start touched nothing: with CURRENT back, everything is there.
  std::vector<std::string> files_after = DataFiles(server.dir());
  files_before.erase(
      std::remove_if(files_before.begin(), files_before.end(),
                     [](const std::string& f) { return f.rfind("CURRENT=", 0) == 0; }),
      files_before.end());
  files_after.erase(
      std::remove_if(files_after.begin(), files_after.end(),
                     [](const std::string& f) { return f.rfind("CURRENT=", 0) == 0; }),
      files_after.end());
  CHECK(files_after == files_before);
  WriteFile(current, good);
  server.Restart();
  Conn c = server.Connect();
  REQUIRE(c->err == 0);
  CheckKeys(c.get(), "cc:", n);
  CHECK(CallInt(c, {"DBSIZE"}) == n);
}

TEST_CASE(
    "wal_torn_tail: a torn WAL tail is truncated on recovery and no acknowledged write is "
    "lost" *
    doctest::skip(TestingAgainstRedis())) {
  const uint64_t seed = TestSeed("wal_torn_tail");
  std::mt19937_64 rng(seed);

  // What is appended to the newest WAL after the kill.
  std::string tail_name;
  bool from_wal = false;  // the first bytes of the WAL itself: a record cut short
  std::string tail;
  SUBCASE("100 random bytes") {
    tail_name = "100 random bytes";
    tail = RandomBytes(rng, 100);
  }
  SUBCASE("100 zero bytes") {
    tail_name = "100 zero bytes";
    tail = std::string(100, '\0');
  }
  SUBCASE("a record cut short") {
    tail_name = "a record cut short";
    from_wal = true;
  }
  CAPTURE(tail_name);

  // A memtable large enough that every key is in the WAL only.
  ServerProcess server({"--appendfsync", "always"});
  server.set_start_timeout(SlowServer() ? 60s : 30s);
  const int n = 5000;
  {
    Conn c = server.Connect();
    REQUIRE(c->err == 0);
    WriteKeys(c.get(), "wt:", n);
  }
  KillHard(server);

  const std::string wal = NewestWal(server.dir());
  REQUIRE_MESSAGE(!wal.empty(), "no *.log in ", server.dir());
  const std::string wal_contents = ReadFile(wal);
  REQUIRE_MESSAGE(wal_contents.size() > 200, wal, " holds only ", wal_contents.size(), " bytes");
  if (from_wal) {
    // The WAL's first fragment (7-byte header: CRC32C, little-endian length,
    // type) cut in the middle of its payload: a header promising more bytes
    // than follow, as a write cut short by a crash leaves it.
    const size_t len = static_cast<unsigned char>(wal_contents[4]) |
                       static_cast<size_t>(static_cast<unsigned char>(wal_contents[5])) << 8;
    REQUIRE(len >= 2);
    tail = wal_contents.substr(0, 7 + len / 2);
  }
  AppendToFile(wal, tail);
  Log("wal_torn_tail (%s): appended %zu bytes to %s (%zu bytes)", tail_name.c_str(), tail.size(),
      wal.c_str(), wal_contents.size());

  server.Restart();
  {
    std::string log = server.LogSinceStart();
    CAPTURE(log);
    std::string lower = Lower(log);
    CHECK_MESSAGE(
        (lower.find("torn") != std::string::npos && lower.find("truncat") != std::string::npos),
        "no log line about truncating the torn tail of ", wal);
    Conn c = server.Connect();
    REQUIRE(c->err == 0);
    CheckKeys(c.get(), "wt:", n);
    CHECK(CallInt(c, {"DBSIZE"}) == n);
    // Writes after the recovery go on and survive a crash too.
    WriteKeys(c.get(), "wt2:", 1000);
  }
  KillHard(server);
  server.Restart();
  std::string log = server.LogSinceStart();
  CAPTURE(log);
  CHECK_MESSAGE(Lower(log).find("torn") == std::string::npos,
                "a torn tail again, after a plain kill -9");
  Conn c = server.Connect();
  REQUIRE(c->err == 0);
  CheckKeys(c.get(), "wt:", n);
  CheckKeys(c.get(), "wt2:", 1000);
  CHECK(CallInt(c, {"DBSIZE"}) == n + 1000);
}

}  // namespace kv::test::fault
