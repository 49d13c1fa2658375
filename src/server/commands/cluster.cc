// CLUSTER: the node's view of the ring in Redis Cluster's reply formats, so
// cluster-aware clients (redis-py's RedisCluster, ioredis, redis-benchmark
// --cluster) find the owner of every slot, plus kv's own RING.
#include <cinttypes>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cluster/cluster_node.h"
#include "resp/reply_reader.h"
#include "ring/partition.h"
#include "server/client.h"
#include "server/commands/commands.h"
#include "server/server.h"
#include "util/clock.h"
#include "util/crc16.h"
#include "util/strings.h"

namespace kv::server::commands {

namespace {

struct NodeAddress {
  std::string ip;
  int port = 0;
  int bus_port = 0;
};

// Where a member is reached: our own address as the asking client sees it,
// a peer's as its gossip announces it.
NodeAddress AddressOf(Server& server, Client& client, uint64_t id) {
  NodeAddress a;
  if (id == server.cluster().id()) {
    a.ip = server.AnnounceIp(client);
    a.port = static_cast<int>(server.config().values().port);
    a.bus_port = server.bus_port();
    return a;
  }
  for (const cluster::MemberInfo& m : server.cluster().Members()) {
    if (m.node_id == id) {
      a.ip = m.host;
      a.port = m.port;
      a.bus_port = m.bus_port;
    }
  }
  return a;
}

std::string ErrorReply(const std::string& message) { return "-" + message + "\r\n"; }

std::string SlotRangeText(const cluster::OwnedSlots& r) {
  if (r.first == r.last) return std::to_string(r.first);
  return std::to_string(r.first) + "-" + std::to_string(r.last);
}

void Info(Server& server, Client& client) {
  const cluster::ClusterNode& node = server.cluster();
  const ring::Ring& ring = node.ring();
  size_t owners = 0;
  for (uint32_t count : ring.Counts()) owners += count > 0 ? 1 : 0;
  std::string text;
  auto line = [&](const char* name, const std::string& value) {
    text += name;
    text += ':';
    text += value;
    text += "\r\n";
  };
  line("cluster_state", "ok");
  line("cluster_slots_assigned", std::to_string(util::kSlotCount));
  line("cluster_slots_ok", std::to_string(util::kSlotCount));
  line("cluster_slots_pfail", "0");
  line("cluster_slots_fail", "0");
  line("cluster_known_nodes", std::to_string(node.Members().size()));
  line("cluster_size", std::to_string(owners));
  line("cluster_current_epoch", std::to_string(ring.epoch()));
  line("cluster_my_epoch", std::to_string(ring.epoch()));
  const cluster::BusStats bus = node.bus_stats();
  line("cluster_stats_messages_sent", std::to_string(bus.frames_out));
  line("cluster_stats_messages_received", std::to_string(bus.frames_in));
  line("total_cluster_links_buffer_limit_exceeded", "0");
  line("cluster_partitions", std::to_string(ring.partitions()));
  line("cluster_ring_epoch", std::to_string(ring.epoch()));
  client.reply().Verbatim(text);
}

// One line per member, Redis's format: id ip:port@cport flags master
// ping-sent pong-recv config-epoch link-state slot...
void Nodes(Server& server, Client& client) {
  const cluster::ClusterNode& node = server.cluster();
  std::vector<cluster::OwnedSlots> runs = node.SlotRuns();
  std::string text;
  for (const cluster::MemberInfo& m : node.Members()) {
    if (m.state == cluster::MemberState::kLeft) continue;
    NodeAddress a = AddressOf(server, client, m.node_id);
    // Redis's flags: "fail" once confirmed down, "fail?" while only
    // suspected here.
    std::string flags = m.is_self ? "myself,master" : "master";
    if (m.state == cluster::MemberState::kDown) {
      flags += ",fail";
    } else if (m.suspected) {
      flags += ",fail?";
    }
    const bool up = m.is_self || (m.state != cluster::MemberState::kDown && !m.suspected);
    text += cluster::NodeIdText(m.node_id) + " " + a.ip + ":" + std::to_string(a.port) + "@" +
            std::to_string(a.bus_port) + " " + flags + " - 0 " +
            // pong-recv: when its heartbeat last advanced here (Unix ms).
            std::to_string(m.is_self ? 0 : util::WallMs() - m.ms_since_heartbeat) + " " +
            std::to_string(node.ring().epoch()) + (up ? " connected" : " disconnected");
    for (const auto& r : runs) {
      if (r.owner == m.node_id) text += " " + SlotRangeText(r);
    }
    text += "\n";
  }
  client.reply().Verbatim(text);
}

void Slots(Server& server, Client& client) {
  std::vector<cluster::OwnedSlots> runs = server.cluster().SlotRuns();
  resp::ReplyWriter& w = client.reply();
  w.ArrayHeader(runs.size());
  for (const auto& r : runs) {
    NodeAddress a = AddressOf(server, client, r.owner);
    w.ArrayHeader(3);
    w.Integer(r.first);
    w.Integer(r.last);
    w.ArrayHeader(4);
    w.Bulk(a.ip);
    w.Integer(a.port);
    w.Bulk(cluster::NodeIdText(r.owner));
    w.MapHeader(0);
  }
}

void Shards(Server& server, Client& client) {
  const cluster::ClusterNode& node = server.cluster();
  std::vector<cluster::OwnedSlots> runs = node.SlotRuns();
  const auto& members = node.ring().members();
  resp::ReplyWriter& w = client.reply();
  w.ArrayHeader(members.size());
  for (const ring::Member& m : members) {
    std::vector<const cluster::OwnedSlots*> mine;
    for (const auto& r : runs) {
      if (r.owner == m.id) mine.push_back(&r);
    }
    NodeAddress a = AddressOf(server, client, m.id);
    w.MapHeader(2);
    w.Bulk("slots");
    w.ArrayHeader(mine.size() * 2);
    for (const auto* r : mine) {
      w.Integer(r->first);
      w.Integer(r->last);
    }
    w.Bulk("nodes");
    w.ArrayHeader(1);
    w.MapHeader(7);
    w.Bulk("id");
    w.Bulk(cluster::NodeIdText(m.id));
    w.Bulk("port");
    w.Integer(a.port);
    w.Bulk("ip");
    w.Bulk(a.ip);
    w.Bulk("endpoint");
    w.Bulk(a.ip);
    w.Bulk("role");
    w.Bulk("master");
    w.Bulk("replication-offset");
    w.Integer(0);
    w.Bulk("health");
    w.Bulk("online");
  }
}

// kv's partition map: one [partition, first slot, last slot, owner id,
// owner address] per partition.
void Ring(Server& server, Client& client) {
  const ring::Ring& ring = server.cluster().ring();
  resp::ReplyWriter& w = client.reply();
  w.ArrayHeader(ring.partitions());
  for (uint32_t p = 0; p < ring.partitions(); p++) {
    ring::SlotRange r = ring::SlotsOfPartition(p, ring.partitions());
    NodeAddress a = AddressOf(server, client, ring.Owner(p));
    w.ArrayHeader(5);
    w.Integer(p);
    w.Integer(r.begin);
    w.Integer(r.end - 1);
    w.Bulk(cluster::NodeIdText(ring.Owner(p)));
    w.Bulk(a.ip + ":" + std::to_string(a.port));
  }
}

void Help(Client& client) {
  static const char* const kLines[] = {
      "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "INFO",
      "    Return information about the cluster.",
      "KEYSLOT <key>",
      "    Return the hash slot for <key>.",
      "FORGET <node-id>",
      "    Remove a node that owns no partitions from the cluster.",
      "JOIN <ip> <port> [<bus-port>]",
      "    MEET the node at <ip>:<port>, then, once this node has the cluster's ring,",
      "    rebalance so that it owns its share. Progress: CLUSTER REBALANCE STATUS.",
      "LEAVE [DRYRUN]",
      "    Hand every partition of this node to the others, then leave the ring;",
      "    DRYRUN lists the moves only. Progress: CLUSTER REBALANCE STATUS.",
      "MEET <ip> <port> [<bus-port>]",
      "    Connect this node to the node at <ip>:<port> (bus port <port>+10000 unless given).",
      "MYID",
      "    Return the node id.",
      "PARTITIONSTATS <partition> [<partition> ...]",
      "    Return [partition, records, bytes] stored here for each partition.",
      "NODES",
      "    Return cluster configuration seen by node. Output format:",
      "    <id> <ip:port@bus-port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
      "REBALANCE [DRYRUN|STATUS]",
      "    Claim partitions for every node that is up and move their data there;",
      "    DRYRUN lists the moves only; STATUS shows the progress of a running one.",
      "RING",
      "    Return the partition map: [partition, first slot, last slot, owner id, address].",
      "SHARDS",
      "    Return information about slot range mappings and the nodes serving them.",
      "SLOTS",
      "    Return information about slots range mappings. Each range is made of:",
      "    start, end, master and replicas IP addresses, ports and ids",
      "HELP",
      "    Print this help.",
  };
  client.reply().ArrayHeader(std::size(kLines));
  for (const char* l : kLines) client.reply().Simple(l);
}

// MEET host port [bus-port], and JOIN (the same, then this node claims
// its share of partitions once it has the cluster's ring: a rebalance it
// coordinates, followed with REBALANCE STATUS here).
void Meet(Server& server, Client& client, const Argv& argv, bool join) {
  int64_t port = 0, bus_port = 0;
  if (!util::ParseInt64(argv[3], &port) || port <= 0 || port > 65535) {
    server.ReplyError(client, "ERR Invalid node address specified: " + std::string(argv[2]) + ":" +
                                  std::string(argv[3]));
    return;
  }
  bus_port = port + 10000;
  if (argv.size() == 5 &&
      (!util::ParseInt64(argv[4], &bus_port) || bus_port <= 0 || bus_port > 65535)) {
    server.ReplyError(client, "ERR Invalid bus port specified: " + std::string(argv[4]));
    return;
  }
  const uint64_t id = client.id();
  const std::string address = std::string(argv[2]) + ":" + std::to_string(bus_port);
  server.BeginAwaiting(client);
  auto done = [&server, id, address, join](util::Status s) {
    server.FinishAwaiting(
        id, s.ok() ? std::string("+OK\r\n")
                   : ErrorReply(std::string(join ? "ERR can't join " : "ERR can't meet ") +
                                address + ": " + s.message()));
  };
  if (join) {
    server.cluster().Join(std::string(argv[2]), static_cast<uint16_t>(bus_port), done);
  } else {
    server.cluster().Meet(std::string(argv[2]), static_cast<uint16_t>(bus_port), done);
  }
}

void Forget(Server& server, Client& client, std::string_view text) {
  uint64_t id = 0;
  if (!cluster::ParseNodeId(text, &id)) {
    server.ReplyError(client, "ERR Unknown node " + std::string(text));
    return;
  }
  if (id == server.cluster().id()) {
    server.ReplyError(client, "ERR I tried hard but I can't forget myself...");
    return;
  }
  util::Status s = server.cluster().Forget(id);
  if (!s.ok()) {
    server.ReplyError(
        client, (s.IsNotFound() ? "ERR Unknown node " + std::string(text) : "ERR " + s.message()));
    return;
  }
  client.reply().Ok();
}

// Internal (sent by REBALANCE to other nodes): records stored here in the
// given partitions.
// Records stored here in partition `p` (REQUIRES: a valid partition).
uint64_t RecordsInPartition(Server& server, uint32_t p) {
  ring::SlotRange r = ring::SlotsOfPartition(p, server.cluster().ring().partitions());
  return server.keyspace().CountRecordsInSlots(r.begin, r.end);
}

void PartitionRecords(Server& server, Client& client, const Argv& argv) {
  const uint32_t q = server.cluster().ring().partitions();
  uint64_t n = 0;
  for (size_t i = 2; i < argv.size(); i++) {
    int64_t p = 0;
    if (!util::ParseInt64(argv[i], &p) || p < 0 || p >= q) {
      server.ReplyError(client, "ERR Invalid partition " + std::string(argv[i]));
      return;
    }
    n += RecordsInPartition(server, static_cast<uint32_t>(p));
  }
  client.reply().Integer(static_cast<int64_t>(n));
}

// PARTITIONSTATS p [p ...]: [partition, records, bytes] per partition,
// what moving it would carry (kv-cluster prints it with a plan).
void PartitionStats(Server& server, Client& client, const Argv& argv) {
  const uint32_t q = server.cluster().ring().partitions();
  std::vector<uint32_t> parts;
  for (size_t i = 2; i < argv.size(); i++) {
    int64_t p = 0;
    if (!util::ParseInt64(argv[i], &p) || p < 0 || p >= q) {
      server.ReplyError(client, "ERR Invalid partition " + std::string(argv[i]));
      return;
    }
    parts.push_back(static_cast<uint32_t>(p));
  }
  client.reply().ArrayHeader(parts.size());
  for (uint32_t p : parts) {
    ring::SlotRange r = ring::SlotsOfPartition(p, q);
    uint64_t bytes = 0;
    const uint64_t records = server.keyspace().CountRecordsInSlots(r.begin, r.end, &bytes);
    client.reply().ArrayHeader(3);
    client.reply().Integer(p);
    client.reply().Integer(static_cast<int64_t>(records));
    client.reply().Integer(static_cast<int64_t>(bytes));
  }
}

// The moves a plan makes, one [partition, from, to] each (DRYRUN).
void ReplyMoves(Client& client, const std::vector<ring::Move>& moves) {
  client.reply().ArrayHeader(moves.size());
  for (const ring::Move& m : moves) {
    client.reply().ArrayHeader(3);
    client.reply().Integer(m.partition);
    client.reply().Bulk(cluster::NodeIdText(m.from));
    client.reply().Bulk(cluster::NodeIdText(m.to));
  }
}

// LEAVE [DRYRUN]: this node hands all its partitions to the others and
// leaves the ring (DRYRUN: the moves only). Replies how many move; the
// progress is in REBALANCE STATUS here.
void Leave(Server& server, Client& client, const Argv& argv) {
  const bool dry_run = argv.size() == 3 && util::EqualsIgnoreCase(argv[2], "DRYRUN");
  if (argv.size() == 3 && !dry_run) {
    server.ReplyError(client, "ERR syntax error");
    return;
  }
  cluster::ClusterNode& node = server.cluster();
  if (node.ring().FindMember(node.id()) == nullptr) {
    server.ReplyError(client, "ERR this node is not a member of the ring (it left)");
    return;
  }
  if (node.ring().members().size() == 1) {
    server.ReplyError(client,
                      "ERR this node is the only member: no other node can take its "
                      "partitions");
    return;
  }
  if (dry_run) {
    ring::Ring next;
    util::Status s = node.PlanRing(&next, node.id());
    if (!s.ok()) {
      server.ReplyError(client, "ERR no other node can take the partitions: " + s.message());
      return;
    }
    ReplyMoves(client, ring::Moves(node.ring(), next));
    return;
  }
  size_t moves = 0;
  util::Status s = node.Leave(&moves);
  if (!s.ok()) {
    server.ReplyError(client, "ERR " + s.message());
    return;
  }
  client.reply().Integer(static_cast<int64_t>(moves));
}

// REBALANCE [DRYRUN]: a new ring over every member that is up, claimed
// with the fewest moves. DRYRUN replies the plan, one [partition, from,
// to] per move. Otherwise this node starts moving the partitions
// (cluster/transfer.h) and replies how many will move; REBALANCE STATUS
// follows it.
void Rebalance(Server& server, Client& client, const Argv& argv) {
  const bool dry_run = argv.size() == 3 && util::EqualsIgnoreCase(argv[2], "DRYRUN");
  if (argv.size() == 3 && !dry_run) {
    server.ReplyError(client, "ERR syntax error");
    return;
  }
  cluster::Transfers* transfers = server.cluster().transfers();
  if (server.cluster().ring().FindMember(server.cluster().id()) == nullptr) {
    server.ReplyError(client, "ERR this node is not a member of the ring (it left)");
    return;
  }
  if (transfers != nullptr && transfers->running()) {
    server.ReplyError(client, "ERR a rebalance is already running here (CLUSTER REBALANCE STATUS)");
    return;
  }
  ring::Ring next;
  util::Status s = server.cluster().PlanRing(&next);
  if (!s.ok()) {
    server.ReplyError(client, "ERR " + s.message());
    return;
  }
  std::vector<ring::Move> moves = ring::Moves(server.cluster().ring(), next);
  if (dry_run) {
    ReplyMoves(client, moves);
    return;
  }
  if (moves.empty() && next.members() == server.cluster().ring().members()) {
    client.reply().Integer(0);
    return;
  }
  if (transfers == nullptr) {
    server.ReplyError(client, "ERR the cluster bus is not running");
    return;
  }
  s = transfers->Start(next);
  if (!s.ok()) {
    server.ReplyError(client, "ERR " + s.message());
    return;
  }
  client.reply().Integer(static_cast<int64_t>(moves.size()));
}

// REBALANCE STATUS: the rebalance this node coordinates, as CLUSTER INFO's
// "field:value" lines, then one "move:" line per partition in flight.
void RebalanceStatus(Server& server, Client& client) {
  const cluster::Transfers* transfers = server.cluster().transfers();
  cluster::RebalanceStatus st;
  if (transfers != nullptr) st = transfers->status();
  std::string text;
  auto field = [&text](const char* name, const std::string& value) {
    text += name;
    text += ':';
    text += value;
    text += "\r\n";
  };
  field("rebalance_state", st.running ? "running" : (st.total > 0 ? "finished" : "idle"));
  field("rebalance_target_epoch", std::to_string(st.target_epoch));
  field("rebalance_ring_epoch", std::to_string(st.ring_epoch));
  field("rebalance_partitions_total", std::to_string(st.total));
  field("rebalance_partitions_done", std::to_string(st.done));
  field("rebalance_partitions_moving", std::to_string(st.moving.size()));
  field("rebalance_records", std::to_string(st.records));
  field("rebalance_bytes", std::to_string(st.bytes));
  field("rebalance_elapsed_ms", std::to_string(st.elapsed_ms));
  field("rebalance_last_error", st.last_error);
  for (const cluster::MoveStatus& m : st.moving) {
    field("move",
          "partition=" + std::to_string(m.partition) + ",from=" + cluster::NodeIdText(m.from) +
              ",to=" + cluster::NodeIdText(m.to) + ",phase=" + cluster::TransferPhaseName(m.phase) +
              ",records=" + std::to_string(m.records) + ",bytes=" + std::to_string(m.bytes) +
              ",attempt=" + std::to_string(m.attempts));
  }
  client.reply().Verbatim(text);
}

}  // namespace

void ClusterCmd(Server& server, Client& client, const Argv& argv) {
  std::string_view sub = argv[1];
  auto is = [&](const char* name) { return util::EqualsIgnoreCase(sub, name); };
  auto arity = [&](size_t n) {
    if (argv.size() == n) return true;
    std::string lower(sub);
    util::ToLowerAscii(&lower);
    server.ReplyError(client, "ERR wrong number of arguments for 'cluster|" + lower + "' command");
    return false;
  };
  if (is("MYID")) {
    if (arity(2)) client.reply().Bulk(cluster::NodeIdText(server.cluster().id()));
  } else if (is("INFO")) {
    if (arity(2)) Info(server, client);
  } else if (is("NODES")) {
    if (arity(2)) Nodes(server, client);
  } else if (is("SLOTS")) {
    if (arity(2)) Slots(server, client);
  } else if (is("SHARDS")) {
    if (arity(2)) Shards(server, client);
  } else if (is("KEYSLOT")) {
    if (arity(3)) client.reply().Integer(util::KeySlot(argv[2]));
  } else if (is("RING")) {
    if (arity(2)) Ring(server, client);
  } else if (is("MEET") || is("JOIN")) {
    if (argv.size() == 4 || argv.size() == 5) {
      Meet(server, client, argv, is("JOIN"));
    } else {
      arity(4);
    }
  } else if (is("FORGET")) {
    if (arity(3)) Forget(server, client, argv[2]);
  } else if (is("REBALANCE")) {
    if (argv.size() == 3 && util::EqualsIgnoreCase(argv[2], "STATUS")) {
      RebalanceStatus(server, client);
    } else if (argv.size() <= 3) {
      Rebalance(server, client, argv);
    } else {
      arity(3);
    }
  } else if (is("LEAVE")) {
    if (argv.size() <= 3) {
      Leave(server, client, argv);
    } else {
      arity(3);
    }
  } else if (is("PARTITIONSTATS")) {
    if (argv.size() >= 3) {
      PartitionStats(server, client, argv);
    } else {
      arity(3);
    }
  } else if (is("PARTITIONRECORDS")) {
    PartitionRecords(server, client, argv);
  } else if (is("HELP")) {
    Help(client);
  } else {
    server.ReplyError(client, "ERR unknown subcommand '" + std::string(sub.substr(0, 128)) +
                                  "'. Try CLUSTER HELP.");
  }
}

}  // namespace kv::server::commands
