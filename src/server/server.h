// Server: one kv node's process-wide state and its event loop. Accepts
// clients, parses their input, dispatches commands through the
// CommandTable, flushes replies once per loop iteration, and runs the cron
// (active expiry, idle timeouts, output limits, ops/sec sampling).
//
// Thread safety: everything runs on the loop thread.
#pragma once

#include <uv.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cluster/cluster_node.h"
#include "net/connection.h"
#include "net/listener.h"
#include "net/loop.h"
#include "resp/parser.h"
#include "server/client.h"
#include "server/command_table.h"
#include "server/config.h"
#include "server/fanout.h"
#include "server/keyspace.h"
#include "server/partition_store.h"
#include "server/persistence.h"

namespace kv::server {

// Redis release whose command set and replies kv matches; clients use it to
// pick features (INFO redis_version, HELLO version).
inline constexpr const char* kRedisCompatVersion = "7.2.4";

struct ServerStats {
  uint64_t connections_received = 0;
  uint64_t rejected_connections = 0;
  uint64_t commands_processed = 0;
  uint64_t error_replies = 0;
  uint64_t net_input_bytes = 0;  // of closed connections; live ones are added on read
  uint64_t net_output_bytes = 0;
};

class Server : public net::Connection::Handler {
 public:
  explicit Server(Config config);
  ~Server() override;

  // Opens listeners and storage. IOError/InvalidArgument on failure.
  [[nodiscard]] util::Status Start();
  // Runs the loop until shutdown; returns the process exit code.
  int Run();
  // Stops accepting, closes every client, and lets the loop end.
  void RequestShutdown(const char* reason);

  // For command handlers.
  Keyspace& keyspace() { return *keyspace_; }
  // The LSM engine, or nullptr with `storage memory`.
  storage::LsmEngine* lsm() { return lsm_; }
  Persistence* persistence() { return persistence_.get(); }
  cluster::ClusterNode& cluster() { return *cluster_; }
  // The address this node announces (cluster-announce-ip, else a single
  // specific bind address, else the local address `c` connected to).
  std::string AnnounceIp(Client& c);
  // cluster-announce-ip, else the single specific bind address, else "".
  std::string ConfiguredAnnounceIp() const;
  int bus_port() const;
  Config& config() { return config_; }
  const CommandTable& commands() const { return commands_; }
  const std::map<uint64_t, std::unique_ptr<Client>>& clients() const { return clients_; }
  ServerStats& stats() { return stats_; }
  void ResetStats();
  const std::string& run_id() const { return run_id_; }
  int64_t start_time_ms() const { return start_time_ms_; }
  double InstantaneousOpsPerSec() const;
  uint64_t TotalNetInputBytes() const;
  uint64_t TotalNetOutputBytes() const;
  // Applies config values that need action (log level, parse limits).
  void ApplyConfig();
  // Writes an error reply and counts it. `message` starts with the code.
  void ReplyError(Client& c, std::string_view message);
  // Runs one command for `client` (also used by EXEC). A command on keys
  // other nodes own is forwarded to them (the client waits for the reply).
  void Dispatch(Client& client, const Argv& argv);
  // Runs a command another node forwarded here; `done` gets its RESP reply
  // (under appendfsync always, once the write is durable).
  void RunForwarded(const cluster::Forward& f, std::function<void(std::string)> done);
  // For handlers that answer later (CLUSTER MEET): the client processes no
  // more input until FinishAwaiting gives it `reply` (RESP bytes); a client
  // that closed meanwhile is skipped.
  void BeginAwaiting(Client& c) { c.awaiting = true; }
  // Runs `argv` at node `owner` for client `c` (which waits for the reply).
  void ForwardWhole(Client& c, uint64_t owner, const Argv& argv);
  void FinishAwaiting(uint64_t client_id, const std::string& reply);
  // Closes a client after its pending output is written.
  void CloseClientAfterReply(Client& c);
  void KillClient(Client& c);

 private:
  // net::Connection::Handler
  void OnReadable(net::Connection* conn) override;
  // Prefetches the keys of the complete commands at the start of
  // data[0, len) if there are several (a pipelined batch), so their cache
  // misses in the engine overlap. Returns how many it covered (0: none).
  size_t PrefetchKeys(const char* data, size_t len);
  void OnDrained(net::Connection* conn) override;
  void OnClosed(net::Connection* conn) override;

  void OnAccept(net::Connection* conn);
  void ProcessInput(Client& c);
  void MarkPendingFlush(Client& c);
  // Lifts back-pressure once the client's backlog has drained.
  void ResumeClient(Client& c);
  void FlushPending();
  void Cron();
  [[nodiscard]] util::Status OpenStorage(uint64_t* node_id);
  void ResumeStalledClients();
  // Forwards or fans out `argv` if its keys (or, for DBSIZE, FLUSHALL,
  // KEYS, the whole cluster) are not all here. True if it did (or replied
  // with an error): the caller must not run the command.
  bool Route(Client& c, const Command& cmd, const Argv& argv);
  // PlanFanout by the owners in this node's ring.
  bool PlanByOwner(const Command& cmd, const Argv& argv, FanoutPlan* plan,
                   std::string* error) const;
  // Sends each part to its node (running ours here), then gives the
  // merged reply to client `client_id` if it is still connected.
  void StartFanout(Client& c, FanoutPlan plan);
  // The same for a forwarded command: `done` gets the merged reply.
  void RunFanout(FanoutPlan plan, int protocol, std::function<void(std::string)> done);
  // Forwarded keyed commands a client may have unanswered at once.
  static constexpr size_t kMaxReplySlots = 256;
  // True if `argv` may run while forwarded commands before it are still
  // unanswered (a keyed command: any order across keys is one a cluster
  // allows; one key's commands go to one owner over one link, in order).
  bool Pipelinable(const Client& c, const Argv& argv) const;
  // Dispatches with the reply captured into the client's next slot.
  void DispatchIntoSlot(Client& c, const Argv& argv);
  // A forwarded command's reply: into its slot, and every ready slot at
  // the front out to the connection.
  void FillSlot(uint64_t client_id, uint64_t seq, std::string reply);
  // Runs `argv` here in a connectionless client; its RESP reply.
  std::string RunHere(const std::vector<std::string>& argv, int protocol);
  // True if `argv` writes to a partition frozen for its handoff (or, for
  // a keyless write such as FLUSHALL, if any is): it must wait.
  bool WritesFrozen(const Command& cmd, const Argv& argv, const Client* c) const;
  // Runs the commands held by a freeze again (they are routed anew).
  void ReleaseHeld();
  bool CheckOutputLimits(Client& c);

  uv_loop_t loop_;
  Config config_;
  CommandTable commands_;
  resp::ParseLimits parse_limits_;
  std::unique_ptr<Keyspace> keyspace_;
  storage::LsmEngine* lsm_ = nullptr;
  std::unique_ptr<Persistence> persistence_;
  std::unique_ptr<cluster::ClusterNode> cluster_;
  std::unique_ptr<ServerPartitions> partitions_;
  // Writes held while their partition is handed over, client's and
  // forwarded, in arrival order; released when the freeze ends.
  struct HeldCommand {
    uint64_t client_id = 0;  // 0: forwarded
    std::vector<std::string> argv;
    cluster::Forward forward;
    std::function<void(std::string)> done;
  };
  std::vector<HeldCommand> held_commands_;
  // Forwarded writes waiting out an LSM write stall.
  std::vector<HeldCommand> stalled_forwards_;
  bool release_held_ = false;
  // Clients paused because the LSM stalled writes (by id: they may close).
  std::vector<uint64_t> stalled_clients_;
  std::unique_ptr<net::Listener> listener_;
  std::unique_ptr<net::CheckHook> flush_hook_;
  std::unique_ptr<net::Timer> cron_timer_;
  std::vector<std::unique_ptr<net::SignalWatcher>> signals_;
  std::map<uint64_t, std::unique_ptr<Client>> clients_;
  std::vector<Client*> pending_flush_;
  // Clients whose awaited reply came in: their buffered input runs next.
  std::vector<uint64_t> resume_input_;
  // Replies to forwarded commands waiting for the fsync that covers them
  // (appendfsync always).
  std::vector<std::pair<std::function<void(std::string)>, std::string>> held_forwards_;
  uint64_t next_client_id_ = 1;
  ServerStats stats_;
  std::string run_id_;
  int64_t start_time_ms_ = 0;
  bool shutting_down_ = false;
  int exit_code_ = 0;
  // Ops/sec samples, one per cron tick (Redis's instantaneous metrics).
  std::array<double, 16> ops_samples_{};
  size_t ops_sample_index_ = 0;
  uint64_t ops_last_count_ = 0;
  int64_t ops_last_us_ = 0;
  uint64_t cron_ticks_ = 0;
};

// Process entry point: parses argv, loads config, runs a Server.
int Main(int argc, char** argv);

}  // namespace kv::server
