// CLUSTER on a node started alone: a cluster of one that owns every slot,
// described in Redis Cluster's reply formats (so cluster-aware clients route
// to it), its identity and ring kept across restarts in cluster.state, and a
// damaged cluster.state refused at startup. redis-py's RedisCluster (Debian's
// python3-redis) runs against it.
#include <doctest/doctest.h>

#include <unistd.h>
#include <chrono>

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "helpers/reply.h"
#include "helpers/run_process.h"
#include "helpers/server_process.h"

using namespace kv::test;
using namespace std::chrono_literals;

namespace {

bool IsHex40(const std::string& s) {
  if (s.size() != 40) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    size_t end = s.find(sep, pos);
    out.push_back(s.substr(pos, end - pos));
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return out;
}

std::string Field(const std::string& text, const std::string& name) {
  for (const std::string& line : Split(text, '\n')) {
    if (line.rfind(name + ":", 0) == 0) {
      std::string v = line.substr(name.size() + 1);
      if (!v.empty() && v.back() == '\r') v.pop_back();
      return v;
    }
  }
  return "";
}

}  // namespace

TEST_CASE("a node started alone is a cluster of one owning all 16384 slots (kv)") {
  ServerProcess server({"--cluster-partitions", "16"});
  if (server.is_redis()) return;  // Redis without cluster mode refuses CLUSTER
  Conn c = server.Connect();
  const std::string port = std::to_string(server.port());

  Reply id = Call(c, {"CLUSTER", "MYID"});
  REQUIRE(id.type == Reply::Type::kBulk);
  CHECK(IsHex40(id.str));

  Reply info = Call(c, {"CLUSTER", "INFO"});
  CHECK(Field(info.str, "cluster_state") == "ok");
  CHECK(Field(info.str, "cluster_slots_assigned") == "16384");
  CHECK(Field(info.str, "cluster_known_nodes") == "1");
  CHECK(Field(info.str, "cluster_size") == "1");
  CHECK(Field(info.str, "cluster_partitions") == "16");

  std::string cluster_info = Call(c, {"INFO", "cluster"}).str;
  CHECK(Field(cluster_info, "cluster_enabled") == "1");
  CHECK(Field(cluster_info, "cluster_node_id") == id.str);
  CHECK(Field(cluster_info, "cluster_bus_port") == std::to_string(server.port() + 10000));
  CHECK(Field(cluster_info, "cluster_partitions_owned") == "16");

  // CLUSTER NODES: "<id> <ip:port@cport> myself,master - 0 0 <epoch> connected 0-16383\n".
  std::string nodes = Call(c, {"CLUSTER", "NODES"}).str;
  REQUIRE(!nodes.empty());
  CHECK(nodes.back() == '\n');
  std::vector<std::string> f = Split(nodes.substr(0, nodes.size() - 1), ' ');
  REQUIRE(f.size() == 9);
  CHECK(f[0] == id.str);
  CHECK(f[1] == "127.0.0.1:" + port + "@" + std::to_string(server.port() + 10000));
  CHECK(f[2] == "myself,master");
  CHECK(f[3] == "-");
  CHECK(f[7] == "connected");
  CHECK(f[8] == "0-16383");

  CHECK(Call(c, {"CLUSTER", "SLOTS"}) ==
        Array({Array({Int(0), Int(16383),
                      Array({Bulk("127.0.0.1"), Int(server.port()), Bulk(id.str), Array({})})})}));

  Reply shards = Call(c, {"CLUSTER", "SHARDS"});
  REQUIRE(shards.size() == 1);
  REQUIRE(shards[0].size() == 4);
  CHECK(shards[0][0] == Bulk("slots"));
  CHECK(shards[0][1] == Array({Int(0), Int(16383)}));
  CHECK(shards[0][2] == Bulk("nodes"));
  REQUIRE(shards[0][3].size() == 1);
  CHECK(shards[0][3][0][0] == Bulk("id"));
  CHECK(shards[0][3][0][1] == Bulk(id.str));

  // RING: 16 partitions of 1024 contiguous slots, all owned here.
  Reply ring = Call(c, {"CLUSTER", "RING"});
  REQUIRE(ring.size() == 16);
  for (int p = 0; p < 16; p++) {
    CHECK(ring[p] == Array({Int(p), Int(p * 1024), Int(p * 1024 + 1023), Bulk(id.str),
                            Bulk("127.0.0.1:" + port)}));
  }

  // Redis Cluster's hash slots, {hashtag} rule included.
  CHECK(Call(c, {"CLUSTER", "KEYSLOT", "123456789"}) == Int(12739));
  CHECK(Call(c, {"CLUSTER", "KEYSLOT", "{user1000}.following"}) ==
        Call(c, {"CLUSTER", "KEYSLOT", "{user1000}.followers"}));
  CHECK(Call(c, {"CLUSTER", "KEYSLOT", "foo{}{bar}"}) ==
        Call(c, {"CLUSTER", "KEYSLOT", "foo{}{bar}"}));

  CHECK(Call(c, {"CLUSTER", "NOSUCH"}) ==
        Error("ERR unknown subcommand 'NOSUCH'. Try CLUSTER HELP."));
  CHECK(Call(c, {"CLUSTER", "MYID", "extra"}) ==
        Error("ERR wrong number of arguments for 'cluster|myid' command"));
  CHECK(Call(c, {"CLUSTER"}) == Error("ERR wrong number of arguments for 'cluster' command"));
  CHECK(Call(c, {"CONFIG", "GET", "cluster-enabled"}) ==
        Array({Bulk("cluster-enabled"), Bulk("yes")}));
}

TEST_CASE("the node id and ring survive a restart; a damaged cluster.state refuses to start (kv)") {
  ServerProcess server({"--cluster-partitions", "32"});
  if (server.is_redis()) return;
  std::string id = Call(server.Connect(), {"CLUSTER", "MYID"}).str;
  server.Restart();
  Conn c = server.Connect();
  CHECK(Call(c, {"CLUSTER", "MYID"}).str == id);
  CHECK(Call(c, {"CLUSTER", "RING"}).size() == 32);

  server.Stop();
  {
    std::fstream f(server.dir() + "/cluster.state",
                   std::ios::in | std::ios::out | std::ios::binary);
    REQUIRE(f.good());
    f.seekp(12);
    f.put('\x5a');
  }
  server.RestartNoWait();
  std::optional<ExitStatus> exit = server.WaitExit(20s);
  REQUIRE_MESSAGE(exit.has_value(), "kv-server with a damaged cluster.state is still running");
  CHECK_MESSAGE((exit->exited && exit->code != 0), exit->ToString());
  const std::string log = server.LogSinceStart();
  CHECK_MESSAGE(log.find("cluster.state") != std::string::npos, log);
}

TEST_CASE("redis-py's RedisCluster routes through CLUSTER SLOTS to a node started alone (kv)") {
  ServerProcess server;
  if (server.is_redis()) return;
  const std::string script = R"PY(
import sys
from redis.cluster import RedisCluster
rc = RedisCluster(host="127.0.0.1", port=int(sys.argv[1]))
for i in range(200):
    assert rc.set(f"rc:{i}", str(i)) is True
assert [rc.get(f"rc:{i}") for i in range(200)] == [str(i).encode() for i in range(200)]
assert rc.mget_nonatomic([f"rc:{i}" for i in (1, 50, 199)]) == [b"1", b"50", b"199"]
assert len(rc.get_nodes()) == 1
print("ok")
)PY";
  const char* python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
  ProcessResult r = RunProcess({python, "-c", script, std::to_string(server.port())}, "",
                               std::chrono::seconds(60));
  CHECK_MESSAGE(r.exit_code == 0, "stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.out == "ok\n");
}
