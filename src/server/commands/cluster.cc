// CLUSTER: the node's view of the ring in Redis Cluster's reply formats, so
// cluster-aware clients (redis-py's RedisCluster, ioredis, redis-benchmark
// --cluster) find the owner of every slot, plus kv's own RING.
#include <cinttypes>
#include <string>

#include "cluster/cluster_node.h"
#include "ring/partition.h"
#include "server/client.h"
#include "server/commands/commands.h"
#include "server/server.h"
#include "util/crc16.h"
#include "util/strings.h"

namespace kv::server::commands {

namespace {

struct NodeAddress {
  std::string ip;
  int port = 0;
  int bus_port = 0;
};

// Where a member is reached. Today every member is this node; peers come
// with membership.
NodeAddress AddressOf(Server& server, Client& client, uint64_t id) {
  NodeAddress a;
  if (id == server.cluster().id()) {
    a.ip = server.AnnounceIp(client);
    a.port = static_cast<int>(server.config().values().port);
    a.bus_port = server.bus_port();
  }
  return a;
}

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
  line("cluster_known_nodes", std::to_string(ring.members().size()));
  line("cluster_size", std::to_string(owners));
  line("cluster_current_epoch", std::to_string(ring.epoch()));
  line("cluster_my_epoch", std::to_string(ring.epoch()));
  line("cluster_stats_messages_sent", "0");
  line("cluster_stats_messages_received", "0");
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
  for (const ring::Member& m : node.ring().members()) {
    NodeAddress a = AddressOf(server, client, m.id);
    text += cluster::NodeIdText(m.id) + " " + a.ip + ":" + std::to_string(a.port) + "@" +
            std::to_string(a.bus_port) + " " + (m.id == node.id() ? "myself,master" : "master") +
            " - 0 0 " + std::to_string(node.ring().epoch()) + " connected";
    for (const auto& r : runs) {
      if (r.owner == m.id) text += " " + SlotRangeText(r);
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
      "MYID",
      "    Return the node id.",
      "NODES",
      "    Return cluster configuration seen by node. Output format:",
      "    <id> <ip:port@bus-port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
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
  } else if (is("HELP")) {
    Help(client);
  } else {
    server.ReplyError(client, "ERR unknown subcommand '" + std::string(sub.substr(0, 128)) +
                                  "'. Try CLUSTER HELP.");
  }
}

}  // namespace kv::server::commands
