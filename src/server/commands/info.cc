// INFO: the server's state as Redis-style "field:value" sections.
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "cluster/cluster_node.h"
#include "server/commands/commands.h"
#include "server/commands/common.h"
#include "storage/lsm_engine.h"
#include "util/memory.h"
#include "util/strings.h"

namespace kv::server::commands {

namespace {

std::string Human(double bytes) {
  const char* units[] = {"B", "K", "M", "G", "T", "P"};
  int u = 0;
  while (bytes >= 1024 && u < 5) {
    bytes /= 1024;
    u++;
  }
  char buf[32];
  if (u == 0) {
    snprintf(buf, sizeof(buf), "%.0fB", bytes);
  } else {
    snprintf(buf, sizeof(buf), "%.2f%s", bytes, units[u]);
  }
  return buf;
}

class InfoBuilder {
 public:
  void Section(const char* name) {
    if (!out_.empty()) out_ += "\r\n";
    out_ += "# ";
    out_ += name;
    out_ += "\r\n";
  }
  void Field(const char* name, const std::string& value) {
    out_ += name;
    out_ += ':';
    out_ += value;
    out_ += "\r\n";
  }
  void Field(const char* name, int64_t v) { Field(name, std::to_string(v)); }
  void Field(const char* name, uint64_t v) { Field(name, std::to_string(v)); }
  void FieldF(const char* name, double v, int decimals) {
    char buf[64];
    snprintf(buf, sizeof(buf), "%.*f", decimals, v);
    Field(name, std::string(buf));
  }
  std::string& text() { return out_; }

 private:
  std::string out_;
};

void ServerSection(Server& server, InfoBuilder& b) {
  b.Section("Server");
  b.Field("redis_version", std::string(kRedisCompatVersion));
  b.Field("kv_version", std::string(KV_VERSION));
  b.Field("redis_git_sha1", "00000000");
  b.Field("redis_git_dirty", "0");
  b.Field("redis_build_id", "0");
  b.Field("redis_mode", "standalone");
  utsname u{};
  uname(&u);
  b.Field("os", std::string(u.sysname) + " " + u.release + " " + u.machine);
  b.Field("arch_bits", static_cast<int64_t>(sizeof(void*) * 8));
  b.Field("monotonic_clock", "POSIX clock_gettime");
  b.Field("multiplexing_api", "libuv");
  b.Field("gcc_version", std::to_string(__GNUC__) + "." + std::to_string(__GNUC_MINOR__) + "." +
                             std::to_string(__GNUC_PATCHLEVEL__));
  b.Field("process_id", static_cast<int64_t>(getpid()));
  b.Field("run_id", server.run_id());
  b.Field("tcp_port", server.config().values().port);
  int64_t now = server.keyspace().now_ms();
  b.Field("server_time_usec", now * 1000);
  int64_t up = (now - server.start_time_ms()) / 1000;
  b.Field("uptime_in_seconds", up);
  b.Field("uptime_in_days", up / 86400);
  b.Field("hz", server.config().values().hz);
  b.Field("configured_hz", server.config().values().hz);
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  b.Field("executable", n > 0 ? std::string(exe, static_cast<size_t>(n)) : std::string());
  b.Field("config_file", server.config().config_file());
  b.Field("io_threads_active", "0");
  b.Field("node_id", [&] {
    char buf[32];
    snprintf(buf, sizeof(buf), "%016llx",
             static_cast<unsigned long long>(server.keyspace().node_id()));
    return std::string(buf);
  }());
}

void ClientsSection(Server& server, InfoBuilder& b) {
  b.Section("Clients");
  size_t max_in = 0, max_out = 0;
  for (const auto& [id, c] : server.clients()) {
    max_in = std::max(max_in, c->conn()->input().size());
    max_out = std::max(max_out, c->conn()->pending_output());
  }
  b.Field("connected_clients", static_cast<uint64_t>(server.clients().size()));
  b.Field("cluster_connections", "0");
  b.Field("maxclients", server.config().values().maxclients);
  b.Field("client_recent_max_input_buffer", static_cast<uint64_t>(max_in));
  b.Field("client_recent_max_output_buffer", static_cast<uint64_t>(max_out));
  b.Field("blocked_clients", "0");
  b.Field("tracking_clients", "0");
  b.Field("clients_in_timeout_table", "0");
}

void MemorySection(Server& server, InfoBuilder& b) {
  util::MemoryStats m = util::ReadMemoryStats();
  static size_t peak = 0;
  if (m.allocated > peak) peak = m.allocated;
  b.Section("Memory");
  b.Field("used_memory", static_cast<uint64_t>(m.allocated));
  b.Field("used_memory_human", Human(static_cast<double>(m.allocated)));
  b.Field("used_memory_rss", static_cast<uint64_t>(m.rss));
  b.Field("used_memory_rss_human", Human(static_cast<double>(m.rss)));
  b.Field("used_memory_peak", static_cast<uint64_t>(peak));
  b.Field("used_memory_peak_human", Human(static_cast<double>(peak)));
  storage::EngineStats es = server.keyspace().EngineStats();
  b.Field("used_memory_dataset", es.data_bytes);
  size_t total = util::TotalSystemMemory();
  b.Field("total_system_memory", static_cast<uint64_t>(total));
  b.Field("total_system_memory_human", Human(static_cast<double>(total)));
  b.Field("maxmemory", "0");
  b.Field("maxmemory_human", "0B");
  b.Field("maxmemory_policy", "noeviction");
  b.Field("allocator_allocated", static_cast<uint64_t>(m.allocated));
  b.Field("allocator_active", static_cast<uint64_t>(m.active));
  b.Field("allocator_resident", static_cast<uint64_t>(m.resident));
  double frag = m.allocated ? static_cast<double>(m.active) / static_cast<double>(m.allocated) : 0;
  b.FieldF("allocator_frag_ratio", frag, 2);
  b.Field("allocator_frag_bytes",
          static_cast<int64_t>(m.active) - static_cast<int64_t>(m.allocated));
  double rss_ratio =
      m.allocated ? static_cast<double>(m.rss) / static_cast<double>(m.allocated) : 0;
  b.FieldF("mem_fragmentation_ratio", rss_ratio, 2);
  b.Field("mem_fragmentation_bytes",
          static_cast<int64_t>(m.rss) - static_cast<int64_t>(m.allocated));
  b.Field("mem_allocator", m.allocator);
}

void PersistenceSection(Server& server, InfoBuilder& b) {
  b.Section("Persistence");
  b.Field("loading", "0");
  b.Field("async_loading", "0");
  b.Field("storage_engine", server.config().values().storage);
  storage::LsmEngine* lsm = server.lsm();
  Persistence* p = server.persistence();
  if (lsm == nullptr || p == nullptr) {
    // The memory engine keeps nothing across restarts.
    b.Field("aof_enabled", "0");
    b.Field("rdb_changes_since_last_save", "0");
    b.Field("rdb_bgsave_in_progress", "0");
    b.Field("rdb_last_bgsave_status", "ok");
    b.Field("aof_rewrite_in_progress", "0");
    b.Field("aof_last_write_status", "ok");
    return;
  }
  const PersistenceStats& ps = p->stats();
  b.Field("aof_enabled", "1");
  b.Field("appendfsync", server.config().values().appendfsync);
  b.Field("aof_rewrite_in_progress", "0");
  b.Field("aof_last_write_status", ps.write_errors == 0 ? "ok" : "err");
  b.Field("aof_last_bgrewrite_status", "ok");
  b.Field("wal_fsyncs", ps.fsyncs);
  b.Field("wal_fsync_errors", ps.fsync_errors);
  b.Field("wal_last_fsync_usec", ps.last_fsync_us);
  b.Field("wal_max_fsync_usec", ps.max_fsync_us);
  b.Field("wal_fsync_in_progress", p->sync_in_flight() ? "1" : "0");
  b.Field("wal_last_sequence", static_cast<uint64_t>(lsm->LastSequence()));
  b.Field("wal_durable_sequence", static_cast<uint64_t>(lsm->DurableSequence()));
  b.Field("rdb_changes_since_last_save",
          static_cast<uint64_t>(lsm->LastSequence() - lsm->DurableSequence()));
  if (!ps.last_error.empty()) b.Field("wal_last_error", ps.last_error);
}

void StorageSection(Server& server, InfoBuilder& b) {
  b.Section("Storage");
  storage::LsmEngine* lsm = server.lsm();
  storage::EngineStats es = server.keyspace().EngineStats();
  b.Field("storage_engine", server.config().values().storage);
  b.Field("keys", es.keys);
  b.Field("keys_exact", "1");
  if (lsm == nullptr) {
    b.Field("data_bytes", es.data_bytes);
    return;
  }
  storage::LsmStats s = lsm->GetStats();
  b.Field("memtable_bytes", s.memtable_bytes);
  b.Field("immutable_memtable_bytes", s.immutable_memtable_bytes);
  for (size_t level = 0; level < s.files_per_level.size(); level++) {
    std::string name = "level" + std::to_string(level);
    b.Field(name.c_str(), "files=" + std::to_string(s.files_per_level[level]) +
                              ",bytes=" + std::to_string(s.bytes_per_level[level]));
  }
  b.Field("compaction_pending", s.compaction_pending ? "1" : "0");
  b.Field("compaction_running", s.compaction_running ? "1" : "0");
  b.Field("write_stalled", s.write_stalled ? "1" : "0");
  b.Field("flushes", s.flushes);
  b.Field("compactions", s.compactions);
  b.Field("user_bytes_written", s.user_bytes_written);
  b.Field("wal_bytes_written", s.wal_bytes);
  b.Field("flush_bytes_written", s.bytes_written_flush);
  b.Field("compaction_bytes_written", s.bytes_written_compaction);
  double wa =
      s.user_bytes_written == 0
          ? 0
          : static_cast<double>(s.wal_bytes + s.bytes_written_flush + s.bytes_written_compaction) /
                static_cast<double>(s.user_bytes_written);
  b.FieldF("write_amplification", wa, 2);
  b.Field("bloom_checks", s.bloom_checked);
  b.Field("bloom_useful", s.bloom_useful);
  b.Field("bloom_false_positives", s.bloom_false_positives);
  b.Field("block_cache_hits", s.block_cache_hits);
  b.Field("block_cache_misses", s.block_cache_misses);
  uint64_t lookups = s.block_cache_hits + s.block_cache_misses;
  b.FieldF(
      "block_cache_hit_ratio",
      lookups == 0 ? 0 : static_cast<double>(s.block_cache_hits) / static_cast<double>(lookups), 4);
  b.Field("table_cache_open", s.table_cache_open);
  b.Field("table_cache_capacity", s.table_cache_capacity);
  b.Field("table_cache_hits", s.table_cache_hits);
  b.Field("table_cache_misses", s.table_cache_misses);
  b.Field("table_cache_memory_bytes", s.table_cache_memory);
  b.Field("disk_bytes", s.disk_bytes);
  if (!s.last_background_error.empty()) b.Field("last_background_error", s.last_background_error);
}

void StatsSection(Server& server, InfoBuilder& b) {
  const ServerStats& s = server.stats();
  const KeyspaceStats& k = server.keyspace().stats();
  b.Section("Stats");
  b.Field("total_connections_received", s.connections_received);
  b.Field("total_commands_processed", s.commands_processed);
  b.Field("instantaneous_ops_per_sec", static_cast<int64_t>(server.InstantaneousOpsPerSec()));
  b.Field("total_net_input_bytes", server.TotalNetInputBytes());
  b.Field("total_net_output_bytes", server.TotalNetOutputBytes());
  b.Field("rejected_connections", s.rejected_connections);
  b.Field("expired_keys", k.expired);
  b.Field("evicted_keys", "0");
  b.Field("keyspace_hits", k.hits);
  b.Field("keyspace_misses", k.misses);
  b.Field("total_error_replies", s.error_replies);
}

void ReplicationSection(InfoBuilder& b) {
  b.Section("Replication");
  b.Field("role", "master");
  b.Field("connected_slaves", "0");
}

void CpuSection(InfoBuilder& b) {
  rusage self{};
  getrusage(RUSAGE_SELF, &self);
  b.Section("CPU");
  b.FieldF("used_cpu_sys", static_cast<double>(self.ru_stime.tv_sec) + self.ru_stime.tv_usec / 1e6,
           6);
  b.FieldF("used_cpu_user", static_cast<double>(self.ru_utime.tv_sec) + self.ru_utime.tv_usec / 1e6,
           6);
}

// Every kv node is a cluster member (a cluster of one when alone), so
// cluster-aware clients that check cluster_enabled use CLUSTER SLOTS.
void ClusterSection(Server& server, InfoBuilder& b) {
  const cluster::ClusterNode& node = server.cluster();
  b.Section("Cluster");
  b.Field("cluster_enabled", "1");
  b.Field("cluster_node_id", cluster::NodeIdText(node.id()));
  b.Field("cluster_name", server.config().values().cluster_name);
  b.Field("cluster_zone", server.config().values().cluster_zone);
  b.Field("cluster_bus_port", static_cast<int64_t>(server.bus_port()));
  b.Field("cluster_known_nodes", static_cast<uint64_t>(node.ring().members().size()));
  b.Field("cluster_partitions", static_cast<uint64_t>(node.ring().partitions()));
  b.Field("cluster_partitions_owned",
          static_cast<uint64_t>(node.ring().PartitionsOf(node.id()).size()));
  b.Field("cluster_ring_epoch", node.ring().epoch());
  if (const cluster::Transfers* t = node.transfers()) {
    const cluster::RebalanceStatus st = t->status();
    b.Field("cluster_rebalance_running", st.running ? "1" : "0");
    b.Field("cluster_rebalance_partitions_left", static_cast<uint64_t>(st.total - st.done));
    b.Field("cluster_partitions_moved", st.partitions_moved);
    b.Field("cluster_records_swept", st.records_swept);
  }
  const cluster::BusStats bus = node.bus_stats();
  b.Field("cluster_links_up", bus.links_up);
  b.Field("cluster_bus_frames_in", bus.frames_in);
  b.Field("cluster_bus_frames_out", bus.frames_out);
  b.Field("cluster_bus_bytes_in", bus.bytes_in);
  b.Field("cluster_bus_bytes_out", bus.bytes_out);
  b.Field("cluster_handshake_refusals", bus.handshake_refusals);
  b.Field("cluster_request_timeouts", bus.request_timeouts);
}

void KeyspaceSection(Server& server, InfoBuilder& b) {
  b.Section("Keyspace");
  storage::EngineStats es = server.keyspace().EngineStats();
  if (es.keys > 0) {
    b.Field("db0", "keys=" + std::to_string(es.keys) +
                       ",expires=" + std::to_string(es.keys_with_expiry) + ",avg_ttl=0");
  }
}

}  // namespace

void Info(Server& server, Client& client, const Argv& argv) {
  static const char* kDefault[] = {"server",      "clients", "memory",  "persistence", "stats",
                                   "replication", "cpu",     "cluster", "keyspace"};
  std::vector<std::string> wanted;
  for (size_t i = 1; i < argv.size(); i++) {
    std::string s(argv[i]);
    util::ToLowerAscii(&s);
    if (s == "all" || s == "everything" || s == "default") {
      wanted.assign(std::begin(kDefault), std::end(kDefault));
    } else {
      wanted.push_back(s);
    }
  }
  if (wanted.empty()) wanted.assign(std::begin(kDefault), std::end(kDefault));
  auto want = [&](const char* name) {
    return std::find(wanted.begin(), wanted.end(), name) != wanted.end();
  };
  InfoBuilder b;
  if (want("server")) ServerSection(server, b);
  if (want("clients")) ClientsSection(server, b);
  if (want("memory")) MemorySection(server, b);
  if (want("persistence")) PersistenceSection(server, b);
  if (want("storage")) StorageSection(server, b);
  if (want("stats")) StatsSection(server, b);
  if (want("replication")) ReplicationSection(b);
  if (want("cpu")) CpuSection(b);
  if (want("cluster")) ClusterSection(server, b);
  if (want("keyspace")) KeyspaceSection(server, b);
  client.reply().Verbatim(b.text());
}

}  // namespace kv::server::commands
