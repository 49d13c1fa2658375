// Several real kv-server processes on loopback forming one cluster: gossip
// convergence after CLUSTER MEET, a ring claimed by CLUSTER REBALANCE,
// 10,000 keys written through random nodes and read back through others,
// MGET and DBSIZE across nodes, a SIGKILLed node marked down by every other
// node within a bounded time and back to normal after its restart, a bus
// peer with the wrong cluster-secret refused and logged, and redis-py's
// RedisCluster routing by CLUSTER SLOTS.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "helpers/reply.h"
#include "helpers/run_process.h"
#include "helpers/server_process.h"

using namespace kv::test;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> NodeArgs(const std::string& secret) {
  return {"--cluster-secret",     secret, "--cluster-partitions", "64",
          "--node-timeout-ms",    "1500", "--gossip-interval-ms", "50",
          "--request-timeout-ms", "1000"};
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t end = s.find('\n', pos);
    if (end == std::string::npos) end = s.size();
    if (end > pos) out.push_back(s.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

std::string InfoField(const std::string& info, const std::string& name) {
  for (std::string line : Lines(info)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind(name + ":", 0) == 0) return line.substr(name.size() + 1);
  }
  return "";
}

// The CLUSTER NODES line of the node listening on `port`, as `viewer` sees it.
std::string NodesLine(const ServerProcess& viewer, int port) {
  std::string nodes = Call(viewer.Connect(), {"CLUSTER", "NODES"}).str;
  for (const std::string& l : Lines(nodes)) {
    if (l.find(" 127.0.0.1:" + std::to_string(port) + "@") != std::string::npos) return l;
  }
  return "";
}

bool SeesAllUp(const ServerProcess& viewer,
               const std::vector<std::unique_ptr<ServerProcess>>& all) {
  for (const auto& s : all) {
    std::string l = NodesLine(viewer, s->port());
    if (l.empty() || l.find("fail") != std::string::npos) return false;
  }
  return true;
}

std::string Key(int i) { return "key:" + std::to_string(i); }
std::string Value(int i) { return "value-" + std::to_string(i * 7919); }

// Sends `commands` pipelined and returns the replies in order.
std::vector<Reply> Pipeline(const Conn& c, const std::vector<std::vector<std::string>>& commands) {
  for (const auto& cmd : commands) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : cmd) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    REQUIRE(redisAppendCommandArgv(c.get(), static_cast<int>(argv.size()), argv.data(),
                                   lens.data()) == REDIS_OK);
  }
  std::vector<Reply> out;
  for (size_t i = 0; i < commands.size(); i++) {
    void* r = nullptr;
    REQUIRE_MESSAGE(redisGetReply(c.get(), &r) == REDIS_OK, c->errstr);
    out.push_back(FromHiredis(static_cast<redisReply*>(r), c.get()));
    freeReplyObject(r);
  }
  return out;
}

// Waits until the rebalance `coordinator` runs has finished; its status.
std::string WaitRebalanced(const ServerProcess& coordinator, std::chrono::seconds limit = 60s) {
  std::string status;
  REQUIRE_MESSAGE(
      WaitFor(
          [&] {
            status = Call(coordinator.Connect(), {"CLUSTER", "REBALANCE", "STATUS"}).str;
            return InfoField(status, "rebalance_state") != "running";
          },
          limit),
      "still rebalancing: " << status);
  CHECK_MESSAGE(InfoField(status, "rebalance_state") == "finished", status);
  return status;
}

// Keys stored on `node` itself (INFO keyspace is per node).
int64_t LocalKeys(const ServerProcess& node) {
  std::string ks = InfoField(Call(node.Connect(), {"INFO", "keyspace"}).str, "db0");
  if (ks.rfind("keys=", 0) != 0) return 0;
  return std::stoll(ks.substr(5));
}

// Starts `n` nodes, MEETs them from the first, waits for every node to see
// every other up, rebalances, and waits for every node to hold the new ring.
std::vector<std::unique_ptr<ServerProcess>> StartCluster(int n,
                                                         std::vector<std::string> extra = {}) {
  std::vector<std::unique_ptr<ServerProcess>> nodes;
  std::vector<std::string> args = NodeArgs("t");
  args.insert(args.end(), extra.begin(), extra.end());
  for (int i = 0; i < n; i++) nodes.push_back(std::make_unique<ServerProcess>(args));
  Conn first = nodes[0]->Connect();
  for (int i = 1; i < n; i++) {
    REQUIRE(Call(first, {"CLUSTER", "MEET", "127.0.0.1", std::to_string(nodes[i]->port())}) ==
            Status("OK"));
  }
  const auto t0 = Clock::now();
  for (const auto& s : nodes) {
    REQUIRE_MESSAGE(
        WaitFor([&] { return SeesAllUp(*s, nodes); }, 20s),
        "node " << s->port() << " sees: " << Call(s->Connect(), {"CLUSTER", "NODES"}).str);
  }
  MESSAGE("gossip converged on "
          << n << " nodes in "
          << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()
          << " ms");
  Reply moved = Call(first, {"CLUSTER", "REBALANCE"});
  REQUIRE_MESSAGE(moved.type == Reply::Type::kInteger, moved);
  CHECK(moved.integer > 0);
  WaitRebalanced(*nodes[0]);
  const std::string epoch = InfoField(Call(first, {"INFO", "cluster"}).str, "cluster_ring_epoch");
  for (const auto& s : nodes) {
    std::string info;
    REQUIRE_MESSAGE(WaitFor(
                        [&] {
                          info = Call(s->Connect(), {"INFO", "cluster"}).str;
                          return InfoField(info, "cluster_ring_epoch") == epoch &&
                                 InfoField(info, "cluster_partitions_owned") != "0";
                        },
                        20s),
                    "want ring epoch " << epoch << ", node " << s->port() << " has " << info);
  }
  return nodes;
}

}  // namespace

TEST_CASE(
    "five nodes: gossip, routing from any node, MGET and DBSIZE across nodes, a killed "
    "node marked down and back") {
  auto nodes = StartCluster(5);
  std::mt19937 rng(20261202);
  const int kKeys = 10000;
  std::vector<Conn> conns;
  for (const auto& s : nodes) conns.push_back(s->Connect());

  // Writes through random nodes, 100 per pipeline.
  for (int base = 0; base < kKeys; base += 100) {
    std::vector<std::vector<std::string>> cmds;
    for (int i = base; i < base + 100; i++) cmds.push_back({"SET", Key(i), Value(i)});
    for (const Reply& r : Pipeline(conns[rng() % conns.size()], cmds)) {
      REQUIRE_MESSAGE(r == Status("OK"), r);
    }
  }
  // Reads through other random nodes.
  int wrong = 0;
  for (int base = 0; base < kKeys; base += 100) {
    std::vector<std::vector<std::string>> cmds;
    for (int i = base; i < base + 100; i++) cmds.push_back({"GET", Key(i)});
    std::vector<Reply> got = Pipeline(conns[rng() % conns.size()], cmds);
    for (int i = 0; i < 100; i++) {
      if (got[i] != Bulk(Value(base + i)) && ++wrong <= 5) {
        FAIL_CHECK("GET " << Key(base + i) << " = " << got[i]);
      }
    }
  }
  CHECK(wrong == 0);
  // Every node holds a share, and DBSIZE counts the whole cluster.
  for (size_t n = 0; n < nodes.size(); n++) {
    CHECK(Call(conns[n], {"DBSIZE"}) == Int(kKeys));
    std::string ks = Call(conns[n], {"INFO", "keyspace"}).str;
    CHECK_MESSAGE(ks.find("db0:keys=") != std::string::npos, "node " << n << " holds no keys");
  }
  // SCAN through one node walks every node's keys, in slot order.
  {
    std::set<std::string> seen;
    std::string cursor = "0";
    int steps = 0;
    do {
      Reply r = Call(conns[3], {"SCAN", cursor, "COUNT", "200"});
      REQUIRE_MESSAGE(r.size() == 2, r);
      cursor = r[0].str;
      for (size_t i = 0; i < r[1].size(); i++) seen.insert(r[1][i].str);
      REQUIRE(++steps < 2000);
    } while (cursor != "0");
    CHECK(seen.size() == static_cast<size_t>(kKeys));
    CHECK(seen.count(Key(0)) == 1);
    CHECK(seen.count(Key(kKeys - 1)) == 1);
  }
  std::vector<std::string> mget = {"MGET"};
  std::vector<Reply> want;
  for (int i = 0; i < 40; i++) {
    int k = static_cast<int>(rng() % kKeys);
    mget.push_back(Key(k));
    want.push_back(Bulk(Value(k)));
  }
  mget.push_back("no-such-key");
  want.push_back(Nil());
  CHECK(Call(conns[2], mget) == Array(want));
  CHECK(Call(conns[3], {"DEL", Key(1), Key(2), Key(3), "no-such-key"}) == Int(3));
  CHECK(Call(conns[1], {"EXISTS", Key(1), Key(4), Key(5)}) == Int(2));

  // SIGKILL one node: every other marks it down (fail) within a bounded time.
  ServerProcess& victim = *nodes[4];
  const int victim_port = victim.port();
  // A key the victim owns, found from CLUSTER SLOTS... simpler: the one whose
  // GET fails once it is down.
  victim.Kill(SIGKILL);
  const auto killed = Clock::now();
  for (size_t n = 0; n < 4; n++) {
    REQUIRE_MESSAGE(
        WaitFor(
            [&] { return NodesLine(*nodes[n], victim_port).find("fail ") != std::string::npos; },
            20s),
        "node " << n << " still sees " << NodesLine(*nodes[n], victim_port));
  }
  MESSAGE("killed node marked down by all 4 others after "
          << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed).count()
          << " ms (node-timeout-ms 1500)");
  // Its keys answer with an error, promptly, rather than hang; the rest work.
  int down_errors = 0, served = 0;
  std::vector<std::vector<std::string>> cmds;
  for (int i = 100; i < 400; i++) cmds.push_back({"GET", Key(i)});
  for (const Reply& r : Pipeline(conns[0], cmds)) {
    if (r.type == Reply::Type::kError) {
      CHECK(r.str.rfind("CLUSTERDOWN", 0) == 0);
      down_errors++;
    } else {
      served++;
    }
  }
  CHECK(down_errors > 0);
  CHECK(served > 0);

  // Restarted (same dir, same id): normal again everywhere, its keys back.
  victim.Restart();
  for (size_t n = 0; n < 5; n++) {
    REQUIRE_MESSAGE(
        WaitFor([&] { return SeesAllUp(*nodes[n], nodes); }, 20s),
        "node " << n << " sees " << Call(nodes[n]->Connect(), {"CLUSTER", "NODES"}).str);
  }
  Conn again = nodes[0]->Connect();
  for (int i = 100; i < 400; i++) CHECK(Call(again, {"GET", Key(i)}) == Bulk(Value(i)));
}

TEST_CASE(
    "a node added to a cluster with data receives its share; every key stays readable and "
    "writable during and after the move, and the old owners delete what moved") {
  // Small batches, one partition at a time: the move lasts long enough for
  // the load below to run through it.
  auto nodes = StartCluster(3, {"--transfer-batch-bytes", "1024", "--transfer-limit", "1"});
  Conn c = nodes[0]->Connect();
  const int kKeys = 6000;
  const std::string pad(1000, 'x');
  for (int base = 0; base < kKeys; base += 200) {
    std::vector<std::vector<std::string>> cmds;
    for (int i = base; i < base + 200; i++) cmds.push_back({"SET", Key(i), Value(i) + pad});
    for (const Reply& r : Pipeline(c, cmds)) REQUIRE_MESSAGE(r == Status("OK"), r);
  }
  nodes.push_back(std::make_unique<ServerProcess>(NodeArgs("t")));
  ServerProcess& fresh = *nodes.back();
  REQUIRE(Call(c, {"CLUSTER", "MEET", "127.0.0.1", std::to_string(fresh.port())}) == Status("OK"));
  // Its client address is known from the handshake, before any gossip.
  CHECK(!NodesLine(*nodes[0], fresh.port()).empty());
  const std::string epoch = InfoField(Call(c, {"INFO", "cluster"}).str, "cluster_ring_epoch");
  std::string info;
  REQUIRE_MESSAGE(
      WaitFor(
          [&] {
            info = Call(fresh.Connect(), {"INFO", "cluster"}).str;
            return InfoField(info, "cluster_ring_epoch") == epoch && SeesAllUp(*nodes[0], nodes);
          },
          20s),
      "the new node still has " << info << "; node 0 sees " << Call(c, {"CLUSTER", "NODES"}).str);
  CHECK(InfoField(info, "cluster_partitions_owned") == "0");
  // Met, not yet given partitions: it is in the ring and forwards, so what
  // it is sent is stored by the owners (and survives the rebalance).
  CHECK(Call(fresh.Connect(), {"SET", "met:1", "x"}) == Status("OK"));
  CHECK(LocalKeys(fresh) == 0);

  // Readers and a writer through random nodes for the whole move: every
  // GET must see the newest acknowledged value, never nil or an error.
  std::atomic<bool> stop{false};
  std::atomic<int> ops{0}, bad{0}, live_keys{0};
  std::string first_bad;
  std::thread load([&] {
    std::mt19937 rng(7);
    std::vector<Conn> conns;
    for (const auto& n : nodes) conns.push_back(n->Connect());
    std::vector<int> written(200, -1);
    for (int iter = 0; !stop; iter++) {
      const int k = static_cast<int>(rng() % kKeys);
      Reply got = Call(conns[rng() % conns.size()], {"GET", Key(k)});
      const int w = static_cast<int>(rng() % written.size());
      Reply set = Call(conns[rng() % conns.size()],
                       {"SET", "live:" + std::to_string(w), std::to_string(iter)});
      if (set == Status("OK")) {
        if (written[static_cast<size_t>(w)] < 0) live_keys++;
        written[static_cast<size_t>(w)] = iter;
      }
      Reply back = Call(conns[rng() % conns.size()], {"GET", "live:" + std::to_string(w)});
      const bool ok = got == Bulk(Value(k) + pad) && set == Status("OK") &&
                      back == Bulk(std::to_string(written[static_cast<size_t>(w)]));
      if (!ok && bad++ == 0) {
        first_bad = "GET " + Key(k) + " = " + got.str.substr(0, 40) + ", SET = " + set.str +
                    ", GET live = " + back.str;
      }
      ops++;
    }
  });
  Reply moved = Call(c, {"CLUSTER", "REBALANCE"});
  REQUIRE_MESSAGE(moved.type == Reply::Type::kInteger, moved);
  CHECK(moved.integer > 0);
  const std::string status = WaitRebalanced(*nodes[0]);
  std::this_thread::sleep_for(300ms);  // a little load on the final ring too
  stop = true;
  load.join();
  MESSAGE("moved " << moved.integer << " partitions under load (" << ops.load()
                   << " GET/SET/GET rounds): " << status);
  CHECK_MESSAGE(bad == 0, bad.load() << " wrong answers, first: " << first_bad);
  CHECK(ops > 0);
  CHECK(InfoField(status, "rebalance_partitions_done") == std::to_string(moved.integer));

  info = Call(fresh.Connect(), {"INFO", "cluster"}).str;
  CHECK(InfoField(info, "cluster_partitions_owned") != "0");
  CHECK(LocalKeys(fresh) > 0);
  // Every key from every node, the new one included.
  for (const auto& n : nodes) {
    Conn nc = n->Connect();
    std::vector<std::vector<std::string>> cmds;
    for (int i = 0; i < kKeys; i += 3) cmds.push_back({"GET", Key(i)});
    std::vector<Reply> got = Pipeline(nc, cmds);
    int wrong = 0;
    for (size_t j = 0; j < got.size(); j++) {
      if (got[j] != Bulk(Value(static_cast<int>(j) * 3) + pad) && ++wrong <= 3) {
        FAIL_CHECK("GET " << Key(static_cast<int>(j) * 3) << " via " << n->port() << " = "
                          << got[j]);
      }
    }
  }
  const int64_t total = kKeys + live_keys + 1;  // + met:1
  CHECK(Call(fresh.Connect(), {"GET", "met:1"}) == Bulk("x"));
  // The old owners delete the moved partitions once everyone has the ring:
  // each key is then stored exactly once.
  int64_t stored = 0;
  CHECK_MESSAGE(WaitFor(
                    [&] {
                      stored = 0;
                      for (const auto& n : nodes) stored += LocalKeys(*n);
                      return stored == total;
                    },
                    30s),
                "stored " << stored << " for " << total << " keys");
  CHECK(Call(c, {"DBSIZE"}) == Int(total));

  // LEAVE drains the new node again: its partitions go back to the others,
  // every key stays readable, and it ends up owning and storing nothing.
  Conn fc = fresh.Connect();
  Reply plan = Call(fc, {"CLUSTER", "LEAVE", "DRYRUN"});
  Reply left = Call(fc, {"CLUSTER", "LEAVE"});
  REQUIRE_MESSAGE(left.type == Reply::Type::kInteger, left);
  CHECK(static_cast<size_t>(left.integer) == plan.size());
  CHECK(left.integer == std::stoll(InfoField(info, "cluster_partitions_owned")));
  MESSAGE("leave: " << WaitRebalanced(fresh));
  CHECK(Call(fc, {"CLUSTER", "LEAVE"}).type == Reply::Type::kError);  // not a member any more
  for (size_t n = 0; n < 3; n++) {
    CHECK_MESSAGE(WaitFor([&] { return NodesLine(*nodes[n], fresh.port()).empty(); }, 20s),
                  NodesLine(*nodes[n], fresh.port()));
  }
  {
    std::vector<std::vector<std::string>> cmds;
    for (int i = 0; i < kKeys; i += 2) cmds.push_back({"GET", Key(i)});
    std::vector<Reply> got = Pipeline(nodes[1]->Connect(), cmds);
    int wrong = 0;
    for (size_t j = 0; j < got.size(); j++) {
      if (got[j] != Bulk(Value(static_cast<int>(j) * 2) + pad)) wrong++;
    }
    CHECK(wrong == 0);
  }
  CHECK_MESSAGE(WaitFor([&] { return LocalKeys(fresh) == 0; }, 30s), LocalKeys(fresh));
  CHECK(LocalKeys(*nodes[0]) + LocalKeys(*nodes[1]) + LocalKeys(*nodes[2]) == total);
  CHECK(Call(c, {"DBSIZE"}) == Int(total));
}

TEST_CASE("a pipeline through a node that owns few of its keys is answered in order") {
  auto nodes = StartCluster(2);
  Conn c = nodes[0]->Connect();
  std::vector<std::vector<std::string>> cmds;
  std::vector<Reply> want;
  for (int i = 0; i < 600; i++) {
    cmds.push_back({"SET", Key(i), Value(i)});
    want.push_back(Status("OK"));
    cmds.push_back({"GET", Key(i)});
    want.push_back(Bulk(Value(i)));
    cmds.push_back({"INCR", "counter:" + std::to_string(i % 7)});
    want.push_back(Int(i / 7 + 1));
    if (i % 50 == 0) {  // commands that wait for the forwarded ones before them
      cmds.push_back({"ECHO", "e" + std::to_string(i)});
      want.push_back(Bulk("e" + std::to_string(i)));
      cmds.push_back({"MULTI"});
      want.push_back(Status("OK"));
      cmds.push_back({"PING"});
      want.push_back(Status("QUEUED"));
      cmds.push_back({"EXEC"});
      want.push_back(Array({Status("PONG")}));
      cmds.push_back({"MGET", Key(i), Key(i / 2), "nokey"});
      want.push_back(Array({Bulk(Value(i)), Bulk(Value(i / 2)), Nil()}));
    }
  }
  std::vector<Reply> got = Pipeline(c, cmds);
  REQUIRE(got.size() == want.size());
  int wrong = 0;
  for (size_t i = 0; i < got.size(); i++) {
    if (got[i] != want[i] && ++wrong <= 5) {
      FAIL_CHECK("reply " << i << " to " << cmds[i][0] << " "
                          << (cmds[i].size() > 1 ? cmds[i][1] : "") << " = " << got[i] << ", want "
                          << want[i]);
    }
  }
  CHECK(wrong == 0);
  CHECK(Call(c, {"PING"}) == Status("PONG"));
}

TEST_CASE("CLUSTER JOIN: a new node joins a node with data and claims its share of it") {
  ServerProcess alone(NodeArgs("t"));
  Conn c = alone.Connect();
  for (int i = 0; i < 1000; i++) REQUIRE(Call(c, {"SET", Key(i), Value(i)}) == Status("OK"));
  ServerProcess fresh(NodeArgs("t"));
  Conn fc = fresh.Connect();
  REQUIRE(Call(fc, {"CLUSTER", "JOIN", "127.0.0.1", std::to_string(alone.port())}) == Status("OK"));
  std::string status;
  REQUIRE_MESSAGE(WaitFor(
                      [&] {
                        status = Call(fc, {"CLUSTER", "REBALANCE", "STATUS"}).str;
                        return InfoField(status, "rebalance_state") == "finished";
                      },
                      30s),
                  status);
  const std::string owned =
      InfoField(Call(fc, {"INFO", "cluster"}).str, "cluster_partitions_owned");
  CHECK(owned == "32");
  CHECK(LocalKeys(fresh) > 0);
  for (int i = 0; i < 1000; i++) CHECK(Call(fc, {"GET", Key(i)}) == Bulk(Value(i)));
  CHECK(Call(fc, {"DBSIZE"}) == Int(1000));
}

TEST_CASE(
    "a rebalance goes on after the new owner is SIGKILLed mid-transfer and restarted, and "
    "after its coordinator is") {
  std::vector<std::string> slow = NodeArgs("t");
  slow.insert(slow.end(), {"--transfer-batch-bytes", "4096", "--transfer-limit", "1"});
  ServerProcess a(slow);
  ServerProcess b(slow);
  Conn ca = a.Connect();
  const int kKeys = 20000;
  const std::string pad(100, 'y');
  for (int base = 0; base < kKeys; base += 500) {
    std::vector<std::vector<std::string>> cmds;
    for (int i = base; i < base + 500; i++) cmds.push_back({"SET", Key(i), Value(i) + pad});
    for (const Reply& r : Pipeline(ca, cmds)) REQUIRE_MESSAGE(r == Status("OK"), r);
  }
  REQUIRE(Call(ca, {"CLUSTER", "MEET", "127.0.0.1", std::to_string(b.port())}) == Status("OK"));
  REQUIRE(WaitFor(
      [&] {
        std::string l = NodesLine(a, b.port());
        return !l.empty() && l.find("fail") == std::string::npos && !NodesLine(b, a.port()).empty();
      },
      20s));
  Reply moved = Call(ca, {"CLUSTER", "REBALANCE"});
  REQUIRE_MESSAGE(moved.type == Reply::Type::kInteger, moved);
  REQUIRE(moved.integer == 32);  // half of 64 partitions
  auto done_count = [&](ServerProcess& s) {
    std::string st = Call(s.Connect(), {"CLUSTER", "REBALANCE", "STATUS"}).str;
    return InfoField(st, "rebalance_state") == "running"
               ? std::stoll(InfoField(st, "rebalance_partitions_done"))
               : -1;
  };
  // Kill the new owner once some partitions are its and more are on the way.
  REQUIRE_MESSAGE(WaitFor([&] { return done_count(a) >= 3; }, 30s),
                  Call(ca, {"CLUSTER", "REBALANCE", "STATUS"}).str);
  b.Kill(SIGKILL);
  std::this_thread::sleep_for(500ms);
  std::string st = Call(a.Connect(), {"CLUSTER", "REBALANCE", "STATUS"}).str;
  CHECK_MESSAGE(InfoField(st, "rebalance_state") == "running", st);
  b.Restart();
  // Then the coordinator, once the new owner is back and it made progress.
  const int64_t before = done_count(a);
  REQUIRE(WaitFor(
      [&] {
        int64_t d = done_count(a);
        return d < 0 || d >= before + 3;
      },
      60s));
  if (done_count(a) >= 0) {
    a.Kill(SIGKILL);
    a.Restart();
    MESSAGE("after the coordinator's restart: "
            << Call(a.Connect(), {"CLUSTER", "REBALANCE", "STATUS"}).str);
  }
  const std::string final_status = WaitRebalanced(a, 120s);
  MESSAGE(final_status);
  std::string info_b;
  CHECK_MESSAGE(WaitFor(
                    [&] {
                      info_b = Call(b.Connect(), {"INFO", "cluster"}).str;
                      return InfoField(info_b, "cluster_partitions_owned") == "32";
                    },
                    20s),
                info_b);
  for (ServerProcess* s : {&a, &b}) {
    Conn sc = s->Connect();
    std::vector<std::vector<std::string>> cmds;
    for (int i = 0; i < kKeys; i++) cmds.push_back({"GET", Key(i)});
    std::vector<Reply> got = Pipeline(sc, cmds);
    int wrong = 0;
    for (int i = 0; i < kKeys; i++) {
      if (got[static_cast<size_t>(i)] != Bulk(Value(i) + pad) && ++wrong <= 3) {
        FAIL_CHECK("GET " << Key(i) << " via " << s->port() << " = "
                          << got[static_cast<size_t>(i)]);
      }
    }
    CHECK(wrong == 0);
  }
  int64_t stored = 0;
  CHECK_MESSAGE(WaitFor(
                    [&] {
                      stored = LocalKeys(a) + LocalKeys(b);
                      return stored == kKeys;
                    },
                    30s),
                "stored " << stored << " for " << kKeys << " keys");
}

TEST_CASE("a bus peer with the wrong cluster-secret is refused and logged") {
  ServerProcess a(NodeArgs("right-secret"));
  ServerProcess b(NodeArgs("wrong-secret"));
  Reply r = Call(b.Connect(), {"CLUSTER", "MEET", "127.0.0.1", std::to_string(a.port())});
  REQUIRE(r.type == Reply::Type::kError);
  CHECK_MESSAGE(r.str.find("can't meet") != std::string::npos, r);
  CHECK(WaitFor(
      [&] { return a.LogSinceStart().find("bad cluster-secret proof") != std::string::npos; }, 5s));
  CHECK(Lines(Call(a.Connect(), {"CLUSTER", "NODES"}).str).size() == 1);
  CHECK(Lines(Call(b.Connect(), {"CLUSTER", "NODES"}).str).size() == 1);
}

TEST_CASE("redis-py's RedisCluster routes every slot to its owner in a three-node cluster") {
  auto nodes = StartCluster(3);
  const std::string script = R"PY(
import sys
from redis.cluster import RedisCluster
rc = RedisCluster(host="127.0.0.1", port=int(sys.argv[1]))
assert len(rc.get_nodes()) == 3, rc.get_nodes()
for i in range(500):
    assert rc.set(f"rc:{i}", str(i)) is True
assert [rc.get(f"rc:{i}") for i in range(500)] == [str(i).encode() for i in range(500)]
assert rc.mget_nonatomic([f"rc:{i}" for i in (1, 250, 499)]) == [b"1", b"250", b"499"]
print("ok")
)PY";
  const char* python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
  ProcessResult r = RunProcess({python, "-c", script, std::to_string(nodes[1]->port())}, "", 60s);
  CHECK_MESSAGE(r.exit_code == 0, "stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.out == "ok\n");
  CHECK(Call(nodes[2]->Connect(), {"DBSIZE"}) == Int(500));
}
