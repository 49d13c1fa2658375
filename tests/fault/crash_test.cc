// kill -9 of a kv-server under write load, then recovery on the same dir.
//
// A writer thread pipelines SETs of new keys, overwrites and DELs of
// earlier keys into the server and records, per key, every operation it
// sent and which ones the server acknowledged (and when). The test SIGKILLs
// the server at a random moment, restarts it on the same dir and checks the
// whole keyspace against that history:
//
//   - every acknowledged write is there: a key's value is the one its latest
//     acknowledged operation wrote, or one from an operation sent after it
//     (unacknowledged writes may or may not have landed);
//   - no value that was never written (values are derived from key and
//     version, see fault_util.h), no key that was never written;
//   - DBSIZE agrees with SCAN and counts every key an acknowledged write
//     left present.
//
// What recovery showed then becomes the baseline for the next round, so a
// write that vanished in one recovery cannot come back in a later one.
// With appendfsync everysec, writes acknowledged in the last 2 seconds
// before the kill are allowed to be missing (the contract: a crash of the
// machine loses about a second). A crash of the process alone loses nothing
// in practice, and the test reports how many such writes went missing.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "fault/fault_util.h"
#include "helpers/reply.h"
#include "helpers/server_process.h"

namespace kv::test::fault {
namespace {

constexpr size_t kMinValue = 16;
constexpr size_t kMaxValue = 2048;

struct Op {
  bool del = false;
  uint64_t version = 0;  // of a SET
  bool acked = false;
  Clock::time_point ack_time{};
};

struct KeyModel {
  std::string name;
  std::vector<Op> ops;  // in the order sent; ops[0] may be a verified baseline
  uint64_t next_version = 1;
};

// Owned by the writer thread while it runs, by the test thread otherwise.
struct Model {
  std::vector<KeyModel> keys;
};

struct WriterStats {
  uint64_t sent = 0;
  uint64_t acked = 0;
  std::string error;  // an unexpected reply (an I/O error is the kill)
};

std::string KeyName(size_t id) { return "ck:" + std::to_string(id); }

// Pipelines batches of 32 operations until the connection breaks or `stop`.
void RunWriterLoop(int port, Model* model, uint64_t seed, std::atomic<bool>* stop,
                   std::atomic<uint64_t>* acks, WriterStats* stats) {
  timeval tv{5, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
  if (c == nullptr || c->err != 0) {
    stats->error = std::string("writer connect: ") + (c != nullptr ? c->errstr : "null");
    if (c != nullptr) redisFree(c);
    return;
  }
  timeval io{10, 0};
  redisSetTimeout(c, io);
  std::mt19937_64 rng(seed);
  std::vector<std::pair<size_t, size_t>> batch;  // (key id, op index)
  std::vector<std::vector<std::string>> cmds;
  while (!stop->load()) {
    batch.clear();
    cmds.clear();
    for (int i = 0; i < 32; ++i) {
      uint64_t r = rng() % 100;
      size_t id;
      if (model->keys.size() < 100 || r < 70) {
        id = model->keys.size();
        model->keys.push_back(KeyModel{KeyName(id), {}, 1});
      } else {
        id = rng() % model->keys.size();
      }
      KeyModel& k = model->keys[id];
      Op op;
      if (r >= 90 && !k.ops.empty()) {
        op.del = true;
        cmds.push_back({"DEL", k.name});
      } else {
        op.version = k.next_version++;
        cmds.push_back({"SET", k.name, ValueFor(k.name, op.version, kMinValue, kMaxValue)});
      }
      k.ops.push_back(op);
      batch.emplace_back(id, k.ops.size() - 1);
    }
    stats->sent += cmds.size();
    std::vector<Reply> replies = Pipeline(c, cmds);
    for (size_t i = 0; i < replies.size(); ++i) {
      const Reply& rep = replies[i];
      if (rep.type == Reply::Type::kIoError) {
        redisFree(c);
        return;  // the server is gone: what was not acknowledged stays unknown
      }
      Op& op = model->keys[batch[i].first].ops[batch[i].second];
      bool ok = op.del ? rep.type == Reply::Type::kInteger
                       : rep.type == Reply::Type::kStatus && rep.str == "OK";
      if (!ok) {
        std::ostringstream os;
        os << "unexpected reply to " << cmds[i][0] << " " << cmds[i][1] << ": " << rep;
        stats->error = os.str();
        redisFree(c);
        return;
      }
      op.acked = true;
      op.ack_time = Clock::now();
      stats->acked++;
      acks->fetch_add(1);
    }
  }
  redisFree(c);
}

// RunWriterLoop, then sets `done` (the test thread reads `stats` only after
// joining).
void RunWriter(int port, Model* model, uint64_t seed, std::atomic<bool>* stop,
               std::atomic<uint64_t>* acks, WriterStats* stats, std::atomic<bool>* done) {
  RunWriterLoop(port, model, seed, stop, acks, stats);
  done->store(true);
}

struct VerifyResult {
  size_t keys_present = 0;
  size_t lost_in_window = 0;  // everysec: acked in the last 2 s, missing
};

// Checks the keyspace against the model (acknowledged operations after
// `lossy_after` may be missing), then makes what was seen the baseline.
VerifyResult VerifyAndCollapse(redisContext* c, Model& model,
                               std::optional<Clock::time_point> lossy_after) {
  VerifyResult res;
  std::vector<std::string> names;
  names.reserve(model.keys.size());
  for (const auto& k : model.keys) names.push_back(k.name);
  std::vector<std::optional<std::string>> values = MGetAll(c, names);
  REQUIRE(values.size() == names.size());

  size_t failures = 0;
  size_t required_present = 0;
  auto fail = [&](const std::string& what) {
    if (++failures <= 10) FAIL_CHECK(what);
  };
  for (size_t id = 0; id < model.keys.size(); ++id) {
    KeyModel& k = model.keys[id];
    int required = -1;    // latest acked op that must be reflected
    int last_acked = -1;  // latest acked op
    for (size_t i = 0; i < k.ops.size(); ++i) {
      if (!k.ops[i].acked) continue;
      last_acked = static_cast<int>(i);
      if (!lossy_after || k.ops[i].ack_time <= *lossy_after) required = static_cast<int>(i);
    }
    if (required >= 0 && !k.ops[static_cast<size_t>(required)].del) required_present++;

    Op seen;  // what recovery shows, as an operation
    int seen_index = -1;
    const std::optional<std::string>& v = values[id];
    if (v) {
      std::optional<uint64_t> ver = VersionOf(*v);
      if (!ver || *v != ValueFor(k.name, *ver, kMinValue, kMaxValue)) {
        fail(k.name + " holds a value that was never written (" + std::to_string(v->size()) +
             " bytes, starts \"" + v->substr(0, 24) + "\")");
        continue;
      }
      for (size_t i = 0; i < k.ops.size(); ++i) {
        if (!k.ops[i].del && k.ops[i].version == *ver) seen_index = static_cast<int>(i);
      }
      if (seen_index < 0) {
        fail(k.name + " holds version " + std::to_string(*ver) +
             ", which was never written (or an older, replaced one came back)");
        continue;
      }
      seen.version = *ver;
      res.keys_present++;
    } else {
      seen.del = true;
      // Absent is right if a DEL at or after the required operation explains
      // it (the latest one: the most recent state it can be), or if no
      // write was required at all.
      for (int i = static_cast<int>(k.ops.size()) - 1; i >= std::max(required, 0); --i) {
        if (k.ops[static_cast<size_t>(i)].del) {
          seen_index = i;
          break;
        }
      }
      if (seen_index < 0 && required >= 0) {
        fail(k.name + " is missing, but SET version " +
             std::to_string(k.ops[static_cast<size_t>(required)].version) + " was acknowledged" +
             (lossy_after ? " more than 2 s before the kill" : std::string()));
        continue;
      }
    }
    if (seen_index < required) {
      fail(k.name + " holds version " + std::to_string(seen.version) +
           ", older than the acknowledged version " +
           std::to_string(k.ops[static_cast<size_t>(required)].version));
      continue;
    }
    if (seen_index < last_acked) res.lost_in_window++;
    seen.acked = true;
    k.ops.assign(1, seen);
  }
  CHECK_MESSAGE(failures == 0, failures, " keys do not match what was acknowledged");

  // No key that was never written; DBSIZE consistent with SCAN.
  std::vector<std::string> scanned = ScanAll(c);
  size_t strangers = 0;
  for (const std::string& key : scanned) {
    bool known = false;
    if (key.rfind("ck:", 0) == 0) {
      std::string digits = key.substr(3);
      known = !digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos &&
              std::stoull(digits) < model.keys.size();
    }
    if (!known && ++strangers <= 10) FAIL_CHECK("key that was never written: " << key);
  }
  CHECK(strangers == 0);
  CHECK(scanned.size() == res.keys_present);
  Reply db = Call(c, {"DBSIZE"});
  REQUIRE(db.type == Reply::Type::kInteger);
  CHECK(static_cast<size_t>(db.integer) == scanned.size());
  CHECK(static_cast<size_t>(db.integer) >= required_present);
  return res;
}

void RunCrashRounds(const char* name, const std::string& appendfsync) {
  const uint64_t seed = TestSeed(name);
  std::mt19937_64 rng(seed);
  const int rounds = static_cast<int>(Scaled(10, 0.4, 3));
  const bool lossy = appendfsync != "always";

  ServerProcess server({"--appendfsync", appendfsync, "--memtable-size", "1mb"});
  server.set_start_timeout(SlowServer() ? 60s : 30s);
  Model model;
  uint64_t total_acked = 0;
  size_t total_lost_in_window = 0;
  int rounds_done = 0;
  for (int round = 0; round < rounds; ++round) {
    CAPTURE(round);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> acks{0};
    std::atomic<bool> writer_done{false};
    WriterStats ws;
    const auto start = Clock::now();
    std::thread writer(RunWriter, server.port(), &model, rng(), &stop, &acks, &ws, &writer_done);
    // Kill at a random moment once writes flow.
    bool flowing = WaitFor([&] { return acks.load() > 0 || writer_done.load(); }, 10s);
    const auto delay = std::chrono::milliseconds(50 + rng() % 751);
    if (flowing) std::this_thread::sleep_for(delay);  // the random kill moment
    const auto kill_time = Clock::now();
    KillHard(server);
    stop = true;
    writer.join();
    REQUIRE_MESSAGE(flowing, "no write was acknowledged within 10 s");
    REQUIRE_MESSAGE(ws.error.empty(), ws.error);
    total_acked += ws.acked;

    const auto restart_start = Clock::now();
    server.Restart();
    const double restart_s = std::chrono::duration<double>(Clock::now() - restart_start).count();
    Conn c = server.Connect();
    REQUIRE(c->err == 0);
    REQUIRE(Call(c, {"PING"}) == Status("PONG"));
    VerifyResult vr = VerifyAndCollapse(
        c.get(), model, lossy ? std::optional<Clock::time_point>(kill_time - 2s) : std::nullopt);
    total_lost_in_window += vr.lost_in_window;
    Log("%s round %d: killed after %lld ms (%lld ms of writes), sent %llu acked %llu, restart "
        "%.2f s, %zu keys present of %zu written, acked-but-missing %zu",
        name, round, static_cast<long long>(delay.count()),
        static_cast<long long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(kill_time - start).count()),
        static_cast<unsigned long long>(ws.sent), static_cast<unsigned long long>(ws.acked),
        restart_s, vr.keys_present, model.keys.size(), vr.lost_in_window);
    if (lossy) {
      // Allowed by the everysec contract, but kv.conf says a crash of the
      // process alone loses nothing: worth a warning.
      WARN_MESSAGE(vr.lost_in_window == 0, "writes acknowledged in the last 2 s are missing");
    } else {
      CHECK(vr.lost_in_window == 0);
    }
    rounds_done++;
    if (CurrentTestFailed()) break;
  }
  Log("%s: %d rounds, %llu writes acknowledged, %zu acknowledged in the last 2 s before a kill "
      "and missing after it",
      name, rounds_done, static_cast<unsigned long long>(total_acked), total_lost_in_window);
  // A clean stop after all that recovery (a sanitizer build reports leaks here).
  ExitStatus st = server.Stop();
  CHECK_MESSAGE((st.exited && st.code == 0), st.ToString());
}

}  // namespace

TEST_CASE("crash_always: kill -9 under load loses no acknowledged write (appendfsync always)" *
          doctest::skip(TestingAgainstRedis())) {
  RunCrashRounds("crash_always", "always");
}

TEST_CASE("crash_everysec: kill -9 under load loses at most the last 2 s (appendfsync everysec)" *
          doctest::skip(TestingAgainstRedis())) {
  RunCrashRounds("crash_everysec", "everysec");
}

}  // namespace kv::test::fault
