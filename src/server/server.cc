#include "server/server.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <utility>

#include "resp/parser.h"
#include "resp/reply_reader.h"
#include "storage/lsm_engine.h"
#include "storage/memory_engine.h"
#include "util/clock.h"
#include "util/crc16.h"
#include "util/log.h"
#include "util/random.h"
#include "util/strings.h"

namespace kv::server {

namespace {

constexpr const char kProtectedModeMessage[] =
    "-DENIED kv is running in protected mode because protected mode is enabled, no bind address "
    "was set and no password is set for the default user. In this mode connections are only "
    "accepted from the loopback interface. To accept other clients: 1) set a password with "
    "'requirepass', or 2) bind to an explicit address with 'bind', or 3) disable protected mode "
    "with 'CONFIG SET protected-mode no' from the loopback interface (make sure the server is "
    "not reachable from the internet), or restart it with '--protected-mode no'.\r\n";

std::string RandomHex(size_t chars) {
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  uint64_t bits = 0;
  for (size_t i = 0; i < chars; i++) {
    if (i % 16 == 0) bits = util::OsRandom64();
    s.push_back(kHex[bits & 15]);
    bits >>= 4;
  }
  return s;
}

// Silences the handler of a connection refused at accept time.
class RejectedHandler : public net::Connection::Handler {
 public:
  void OnReadable(net::Connection*) override {}
  void OnDrained(net::Connection*) override {}
  void OnClosed(net::Connection*) override {}
};
RejectedHandler g_rejected_handler;

util::LogLevel ParseLogLevel(const std::string& s) {
  if (s == "debug") return util::LogLevel::kDebug;
  if (s == "verbose") return util::LogLevel::kVerbose;
  if (s == "warning") return util::LogLevel::kWarning;
  return util::LogLevel::kNotice;
}

bool MakeDirs(const std::string& path) {
  std::string cur;
  for (size_t i = 0; i <= path.size(); i++) {
    if (i == path.size() || path[i] == '/') {
      if (!cur.empty() && mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) return false;
    }
    if (i < path.size()) cur.push_back(path[i]);
  }
  return true;
}

}  // namespace

Server::Server(Config config) : config_(std::move(config)) {
  uv_loop_init(&loop_);
  run_id_ = RandomHex(40);
  start_time_ms_ = util::WallMs();
  ApplyConfig();
}

Server::~Server() {
  for (auto& [id, c] : clients_) {
    c->conn()->set_user_data(nullptr);
    c->conn()->Close();
  }
  clients_.clear();
  listener_.reset();
  flush_hook_.reset();
  cron_timer_.reset();
  signals_.clear();
  if (persistence_) persistence_->Close();
  uv_run(&loop_, UV_RUN_DEFAULT);
  // Storage closes after the loop, so an in-flight fsync has finished; the
  // engine's destructor writes and syncs what the WAL still buffers.
  persistence_.reset();
  // Unhooks its change tracker from the keyspace, so before it. The cluster
  // (closed at shutdown) runs no transfer step any more.
  partitions_.reset();
  keyspace_.reset();
  if (uv_loop_close(&loop_) != 0) {
    net::CloseAllHandles(&loop_);
    (void)uv_loop_close(&loop_);
  }
}

void Server::ApplyConfig() {
  const ConfigValues& v = config_.values();
  util::SetLogLevel(ParseLogLevel(v.loglevel));
  parse_limits_.max_bulk_len = v.proto_max_bulk_len;
  if (persistence_) persistence_->set_mode(ParseFsyncMode(v.appendfsync));
}

// Reads the node id kept in the data dir, or makes and stores a new one.
static util::Status LoadNodeId(const std::string& dir, uint64_t* id) {
  std::string path = dir + "/node.id";
  std::ifstream in(path);
  if (in) {
    std::string text;
    in >> text;
    char* end = nullptr;
    unsigned long long v = strtoull(text.c_str(), &end, 16);
    if (text.size() != 16 || end == nullptr || *end != '\0') {
      return util::Status::Corruption(path + " does not hold a 16-digit hex node id");
    }
    *id = v;
    return util::Status::OK();
  }
  *id = util::OsRandom64();
  const std::string text = cluster::NodeIdHex(*id) + "\n";
  std::string tmp = path + ".tmp";
  FILE* f = fopen(tmp.c_str(), "w");
  if (f == nullptr) return util::Status::IOError(tmp + ": " + strerror(errno));
  bool ok = fputs(text.c_str(), f) >= 0 && fflush(f) == 0 && fsync(fileno(f)) == 0;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    return util::Status::IOError(path + ": " + strerror(errno));
  }
  return util::Status::OK();
}

util::Status Server::OpenStorage(uint64_t* node_id) {
  const ConfigValues& v = config_.values();
  if (v.storage == "memory") {
    // A memory engine starts empty, so this process gets a fresh node id:
    // its dots can never repeat counters an earlier incarnation handed out
    // (Riak's KV679).
    *node_id = util::OsRandom64();
    keyspace_ = std::make_unique<Keyspace>(std::make_unique<storage::MemoryEngine>(), *node_id);
    return util::Status::OK();
  }
  // The LSM keeps data, so the node keeps its id: a node whose dir was
  // lost starts with a new one.
  util::Status s = LoadNodeId(v.dir, node_id);
  if (!s.ok()) return s;
  storage::LsmOptions o;
  o.dir = v.dir;
  o.memtable_bytes = static_cast<size_t>(v.memtable_size);
  o.block_size = static_cast<size_t>(v.block_size);
  o.bloom_bits_per_key = static_cast<int>(v.bloom_bits_per_key);
  o.compression = v.compression == "snappy";
  o.block_cache_bytes = static_cast<size_t>(v.block_cache_size);
  o.table_cache_size = static_cast<size_t>(v.table_cache_size);
  o.tombstone_gc_seconds = v.tombstone_gc_seconds;
  o.info_log = [](const std::string& msg) { KV_LOG_NOTICE("storage: %s", msg.c_str()); };
  // The engine's thread may call this at any time, even before the loop
  // runs: route through a pointer set once Persistence exists.
  o.on_background_done = [this] {
    if (Persistence* p = persistence_.get()) p->NotifyBackgroundDone();
  };
  int64_t start = util::MonotonicUs();
  std::unique_ptr<storage::LsmEngine> engine;
  s = storage::LsmEngine::Open(o, &engine);
  if (!s.ok()) return util::Status::IOError("can't open storage in " + v.dir + ": " + s.ToString());
  lsm_ = engine.get();
  keyspace_ = std::make_unique<Keyspace>(std::move(engine), *node_id);
  s = keyspace_->LoadKeyIndex();
  if (!s.ok()) return util::Status::IOError("reading the keyspace failed: " + s.ToString());
  KV_LOG_NOTICE("DB loaded from disk: %llu keys in %.3f seconds",
                static_cast<unsigned long long>(keyspace_->KeyCount()),
                static_cast<double>(util::MonotonicUs() - start) / 1e6);
  persistence_ = std::make_unique<Persistence>(
      &loop_, lsm_, ParseFsyncMode(v.appendfsync), [this] { FlushPending(); },
      [this] { ResumeStalledClients(); });
  return util::Status::OK();
}

void Server::ResumeStalledClients() {
  std::vector<uint64_t> ids;
  ids.swap(stalled_clients_);
  for (uint64_t id : ids) {
    auto it = clients_.find(id);
    if (it != clients_.end()) ResumeClient(*it->second);
  }
  for (HeldCommand& h : std::exchange(stalled_forwards_, {})) {
    RunForwarded(h.forward, std::move(h.done));  // held again if still stalled
  }
  FlushPending();
}

util::Status Server::Start() {
  const ConfigValues& v = config_.values();
  if (!MakeDirs(v.dir)) {
    return util::Status::IOError("can't create data directory '" + v.dir + "': " + strerror(errno));
  }
  if (v.cluster_port == 0 && v.port + 10000 > 65535) {
    return util::Status::InvalidArgument(
        "the cluster bus port would be port + 10000 = " + std::to_string(v.port + 10000) +
        ", over 65535: set cluster-port");
  }
  uint64_t node_id = 0;
  util::Status os = OpenStorage(&node_id);
  if (!os.ok()) return os;
  cluster::NodeOptions co;
  co.dir = v.dir;
  co.node_id = node_id;
  co.zone = v.cluster_zone;
  co.weight = static_cast<uint32_t>(v.cluster_weight);
  co.partitions = static_cast<uint32_t>(v.cluster_partitions);
  co.log = [](const std::string& msg) { KV_LOG_NOTICE("cluster: %s", msg.c_str()); };
  co.cluster_name = v.cluster_name;
  co.secret = v.cluster_secret;
  co.host = ConfiguredAnnounceIp();
  if (co.host.empty()) co.host = "127.0.0.1";
  co.port = static_cast<uint16_t>(v.port);
  co.bus_port = static_cast<uint16_t>(bus_port());
  co.bind = v.bind;
  co.gossip_interval_ms = static_cast<int>(v.gossip_interval_ms);
  co.node_timeout_ms = static_cast<int>(v.node_timeout_ms);
  co.request_timeout_ms = static_cast<int>(v.request_timeout_ms);
  co.transfer.transfer_limit = static_cast<int>(v.transfer_limit);
  co.transfer.batch_bytes = static_cast<uint32_t>(v.transfer_batch_bytes);
  os = cluster::ClusterNode::Open(std::move(co), &cluster_);
  if (!os.ok()) return util::Status::IOError("can't open cluster state: " + os.ToString());

  listener_ = std::make_unique<net::Listener>(&loop_, [this](net::Connection* c) { OnAccept(c); });
  util::Status s =
      listener_->Listen(v.bind, static_cast<int>(v.port), static_cast<int>(v.tcp_backlog));
  if (!s.ok()) return s;

  partitions_ = std::make_unique<ServerPartitions>(keyspace_.get(), persistence_.get(),
                                                   [this] { release_held_ = true; });
  s = cluster_->Start(
      &loop_,
      [this](const cluster::Forward& f, std::function<void(std::string)> done) {
        RunForwarded(f, std::move(done));
      },
      partitions_.get());
  if (!s.ok()) return util::Status::IOError("can't start the cluster bus: " + s.ToString());

  flush_hook_ = std::make_unique<net::CheckHook>(&loop_, [this] { FlushPending(); });
  cron_timer_ = std::make_unique<net::Timer>(&loop_, [this] { Cron(); });
  uint64_t period = static_cast<uint64_t>(1000 / v.hz);
  cron_timer_->Start(period, period);
  for (int sig : {SIGTERM, SIGINT}) {
    signals_.push_back(std::make_unique<net::SignalWatcher>(&loop_, sig, [this](int signum) {
      RequestShutdown(signum == SIGINT ? "Received SIGINT scheduling shutdown..."
                                       : "Received SIGTERM scheduling shutdown...");
    }));
  }
  signal(SIGPIPE, SIG_IGN);
  ops_last_us_ = util::MonotonicUs();
  KV_LOG_NOTICE("kv %s (redis %s compatible) started, pid=%d, node=%s, storage=%s", KV_VERSION,
                kRedisCompatVersion, static_cast<int>(getpid()),
                cluster::NodeIdHex(node_id).c_str(), v.storage.c_str());
  std::string binds;
  for (const std::string& b : v.bind) binds += (binds.empty() ? "" : " ") + b;
  KV_LOG_NOTICE("Ready to accept connections tcp on %s port %lld", binds.c_str(),
                static_cast<long long>(v.port));
  return util::Status::OK();
}

std::string Server::ConfiguredAnnounceIp() const {
  const ConfigValues& v = config_.values();
  if (!v.cluster_announce_ip.empty()) return v.cluster_announce_ip;
  if (v.bind.size() == 1) {
    std::string b = v.bind[0];
    if (!b.empty() && b[0] == '-') b.erase(0, 1);
    if (b != "*" && b != "::" && b != "0.0.0.0" && b != "::*") return b;
  }
  return "";
}

std::string Server::AnnounceIp(Client& c) {
  std::string configured = ConfiguredAnnounceIp();
  if (!configured.empty()) return configured;
  std::string local = c.conn() != nullptr ? c.conn()->LocalAddress() : "127.0.0.1:0";
  size_t colon = local.rfind(':');
  return colon == std::string::npos ? local : local.substr(0, colon);
}

int Server::bus_port() const {
  const ConfigValues& v = config_.values();
  return v.cluster_port != 0 ? static_cast<int>(v.cluster_port) : static_cast<int>(v.port) + 10000;
}

int Server::Run() {
  uv_run(&loop_, UV_RUN_DEFAULT);
  return exit_code_;
}

void Server::RequestShutdown(const char* reason) {
  if (shutting_down_) return;
  shutting_down_ = true;
  KV_LOG_WARNING("%s", reason);
  if (listener_) listener_->Close();
  if (cluster_) cluster_->Close();
  if (persistence_) {
    persistence_->FlushToOs();
    persistence_->Close();
  }
  for (auto& [id, c] : clients_) c->conn()->Close();
  flush_hook_.reset();
  cron_timer_.reset();
  signals_.clear();
  KV_LOG_WARNING("kv is now ready to exit, bye bye...");
}

void Server::OnAccept(net::Connection* conn) {
  const ConfigValues& v = config_.values();
  stats_.connections_received++;
  if (shutting_down_) {
    conn->set_handler(&g_rejected_handler);
    conn->Close();
    return;
  }
  if (static_cast<int64_t>(clients_.size()) >= v.maxclients) {
    stats_.rejected_connections++;
    conn->set_handler(&g_rejected_handler);
    conn->output().Append("-ERR max number of clients reached\r\n");
    conn->CloseAfterFlush();
    conn->Flush();
    return;
  }
  if (v.protected_mode && !v.bind_explicit && v.requirepass.empty() && !conn->peer_is_loopback()) {
    stats_.rejected_connections++;
    KV_LOG_WARNING(
        "Possible SECURITY ATTACK detected: connection from %s refused by protected mode",
        conn->PeerAddress().c_str());
    conn->set_handler(&g_rejected_handler);
    conn->output().Append(kProtectedModeMessage);
    conn->CloseAfterFlush();
    conn->Flush();
    return;
  }
  uint64_t id = next_client_id_++;
  auto client = std::make_unique<Client>(id, conn, &parse_limits_, keyspace_->now_ms());
  client->authenticated = v.requirepass.empty();
  conn->set_handler(this);
  conn->set_user_data(client.get());
  conn->StartReading();
  KV_LOG_VERBOSE("Accepted %s", conn->PeerAddress().c_str());
  clients_.emplace(id, std::move(client));
}

void Server::OnReadable(net::Connection* conn) {
  if (conn->user_data() == nullptr) return;
  Client& c = *static_cast<Client*>(conn->user_data());
  ProcessInput(c);
  MarkPendingFlush(c);
}

size_t Server::PrefetchKeys(const char* data, size_t len) {
  std::string_view keys[Keyspace::kMaxPrefetch];
  size_t n = resp::PeekKeys(data, len, keys, Keyspace::kMaxPrefetch);
  // One command runs at once: there is nothing for its misses to overlap.
  if (n < 2) return 0;
  keyspace_->Prefetch(keys, n);
  return n;
}

void Server::OnDrained(net::Connection* conn) {
  if (conn->user_data() == nullptr) return;
  // Replies queued meanwhile go out through FlushPending, which holds them
  // for the WAL fsync they depend on (appendfsync always).
  Client& c = *static_cast<Client*>(conn->user_data());
  MarkPendingFlush(c);
  ResumeClient(c);
  FlushPending();
}

void Server::ResumeClient(Client& c) {
  // Runs what is buffered until output backs up again. Never writes to the
  // socket itself: FlushPending does, after the durability check.
  const size_t limit = static_cast<size_t>(config_.values().client_output_backpressure_bytes);
  net::Connection* conn = c.conn();
  if (!c.paused || c.close_requested || conn->closing() || conn->write_in_flight() ||
      conn->pending_output() > limit) {
    return;
  }
  if (lsm_ != nullptr && lsm_->WriteStalled()) {
    stalled_clients_.push_back(c.id());
    return;
  }
  c.paused = false;
  conn->StartReading();
  ProcessInput(c);
  MarkPendingFlush(c);
}

void Server::OnClosed(net::Connection* conn) {
  auto* c = static_cast<Client*>(conn->user_data());
  if (c == nullptr) return;
  stats_.net_input_bytes += conn->bytes_read();
  stats_.net_output_bytes += conn->bytes_written();
  for (size_t i = 0; i < pending_flush_.size(); i++) {
    if (pending_flush_[i] == c) pending_flush_[i] = nullptr;
  }
  KV_LOG_VERBOSE("Client closed connection id=%llu addr=%s",
                 static_cast<unsigned long long>(c->id()), c->peer().c_str());
  clients_.erase(c->id());
}

void Server::ProcessInput(Client& c) {
  if (c.close_requested || c.paused || c.awaiting || c.draining) return;
  if (!c.deferred.empty()) {
    // Every earlier reply is out: the command that waited for them runs.
    std::vector<std::string> deferred = std::exchange(c.deferred, {});
    Argv args(deferred.begin(), deferred.end());
    keyspace_->set_now_ms(util::WallMs());
    Dispatch(c, args);
    MarkPendingFlush(c);
    if (c.close_requested || c.awaiting) return;
  }
  if (lsm_ != nullptr && lsm_->WriteStalled()) {
    // Flushes fell behind: stop taking requests instead of growing memory.
    // The engine's background thread wakes us when it catches up.
    c.paused = true;
    c.conn()->StopReading();
    stalled_clients_.push_back(c.id());
    return;
  }
  net::Connection* conn = c.conn();
  util::Buffer& in = conn->input();
  keyspace_->set_now_ms(util::WallMs());
  c.last_interaction_ms = keyspace_->now_ms();
  const int64_t backpressure = config_.values().client_output_backpressure_bytes;
  size_t done = 0;
  std::vector<std::string_view>& argv = c.argv();
  // Commands left in the batch whose keys were prefetched.
  size_t prefetched = 0;
  while (done < in.size()) {
    if (prefetched == 0) prefetched = PrefetchKeys(in.data() + done, in.size() - done);
    if (prefetched > 0) prefetched--;
    if (conn->pending_output() > static_cast<size_t>(backpressure)) {
      // Stop reading a client that does not read its replies: its input
      // stays in the socket, not in our memory.
      c.paused = true;
      conn->StopReading();
      break;
    }
    size_t consumed = 0;
    resp::ParseStatus st =
        c.parser().Parse(in.data() + done, in.size() - done, c.authenticated, &consumed, &argv);
    if (st == resp::ParseStatus::kNeedMore) break;
    if (st == resp::ParseStatus::kError) {
      KV_LOG_VERBOSE("Protocol error (%s) from client: id=%llu addr=%s", c.parser().error().c_str(),
                     static_cast<unsigned long long>(c.id()), c.peer().c_str());
      ReplyError(c, "ERR " + c.parser().error());
      CloseClientAfterReply(c);
      done = in.size();
      break;
    }
    done += consumed;
    if (argv.empty()) continue;
    if (c.slots.empty()) {
      Dispatch(c, argv);
    } else if (Pipelinable(c, argv)) {
      DispatchIntoSlot(c, argv);
    } else {
      // It must not overtake the forwarded commands before it (MULTI,
      // SELECT, QUIT...): it runs once they are all answered.
      c.deferred.assign(argv.begin(), argv.end());
      c.draining = true;
    }
    if (c.close_requested) {
      done = in.size();
      break;
    }
    if (c.awaiting || c.draining) break;  // the rest waits for the forwarded replies
    if (c.slots.size() >= kMaxReplySlots) {
      c.draining = true;
      break;
    }
  }
  in.Consume(done);
  if (c.close_requested) return;
  if (!in.empty()) {
    size_t need = c.parser().bytes_needed();
    if (static_cast<int64_t>(in.size()) > config_.values().client_query_buffer_limit) {
      KV_LOG_WARNING("Closing client that reached max query buffer length: id=%llu addr=%s",
                     static_cast<unsigned long long>(c.id()), c.peer().c_str());
      KillClient(c);
      return;
    }
    // Size the buffer once for a large pending value instead of doubling.
    if (need > in.size()) in.Reserve(need - in.size());
  }
}

void Server::Dispatch(Client& c, const Argv& argv) {
  stats_.commands_processed++;
  const Command* cmd = commands_.Find(argv[0]);
  if (cmd == nullptr) {
    std::string msg = "ERR unknown command '";
    msg.append(argv[0].substr(0, 128));
    msg += "', with args beginning with: ";
    // Redis's budget: quoted arguments until their text reaches 128 bytes.
    std::string args;
    for (size_t i = 1; i < argv.size() && args.size() < 128; i++) {
      args += "'";
      args.append(argv[i].substr(0, 128 - args.size() + 1));
      args += "' ";
    }
    msg += args;
    if (c.in_multi) c.multi_error = true;
    ReplyError(c, msg);
    return;
  }
  int argc = static_cast<int>(argv.size());
  if ((cmd->arity > 0 && argc != cmd->arity) || argc < -cmd->arity) {
    if (c.in_multi) c.multi_error = true;
    ReplyError(c, std::string("ERR wrong number of arguments for '") + cmd->name + "' command");
    return;
  }
  if (!c.authenticated && !(cmd->flags & kCmdNoAuth)) {
    if (c.in_multi) c.multi_error = true;
    ReplyError(c, "NOAUTH Authentication required.");
    return;
  }
  if (c.in_multi && !(cmd->flags & kCmdNoMulti)) {
    std::vector<std::string> copy(argv.begin(), argv.end());
    c.multi_queue.push_back(std::move(copy));
    c.reply().Raw("+QUEUED\r\n");
    return;
  }
  c.last_command = cmd->name;
  if (partitions_ && partitions_->AnyFrozen() && !c.execute_locally &&
      WritesFrozen(*cmd, argv, &c)) {
    // The partition is being handed to another node: run this once the
    // ring says who owns it (milliseconds).
    c.awaiting = true;
    stats_.commands_processed--;  // counted when it runs
    held_commands_.push_back(
        HeldCommand{c.id(), std::vector<std::string>(argv.begin(), argv.end()), {}, {}});
    return;
  }
  if (!c.execute_locally && cluster_->ring().members().size() > 1 && Route(c, *cmd, argv)) return;
  cmd->handler(*this, c, argv);
}

bool Server::WritesFrozen(const Command& cmd, const Argv& argv, const Client* c) const {
  auto frozen_keys = [this](const Command& k, const Argv& args) {
    return AnyKeyIndex(k, args.size(),
                       [&](size_t i) { return partitions_->Frozen(util::KeySlot(args[i])); });
  };
  if (util::EqualsIgnoreCase(cmd.name, "exec") && c != nullptr) {
    for (const std::vector<std::string>& q : c->multi_queue) {
      const Command* qc = commands_.Find(q[0]);
      if (qc == nullptr || !(qc->flags & kCmdWrite)) continue;
      Argv args(q.begin(), q.end());
      if (qc->first_key <= 0 || frozen_keys(*qc, args)) return true;
    }
    return false;
  }
  if (!(cmd.flags & kCmdWrite)) return false;
  return cmd.first_key <= 0 || frozen_keys(cmd, argv);
}

void Server::ReleaseHeld() {
  release_held_ = false;
  for (HeldCommand& h : std::exchange(held_commands_, {})) {
    if (h.client_id == 0) {
      RunForwarded(h.forward, std::move(h.done));
      continue;
    }
    auto it = clients_.find(h.client_id);
    if (it == clients_.end()) continue;  // closed meanwhile
    Client& c = *it->second;
    c.awaiting = false;
    Argv args(h.argv.begin(), h.argv.end());
    Dispatch(c, args);  // may be held again, or forwarded to the new owner
    if (!c.awaiting) {
      MarkPendingFlush(c);
      resume_input_.push_back(c.id());
    }
  }
}

bool Server::PlanByOwner(const Command& cmd, const Argv& argv, FanoutPlan* plan,
                         std::string* error) const {
  const cluster::ClusterNode& node = *cluster_;
  return PlanFanout(
      cmd, argv, [&node](std::string_view key) { return node.OwnerOfSlot(util::KeySlot(key)); },
      plan, error);
}

bool Server::Route(Client& c, const Command& cmd, const Argv& argv) {
  FanoutPlan plan;
  if (cmd.first_key > 0) {
    std::string error;
    if (!PlanByOwner(cmd, argv, &plan, &error)) {
      ReplyError(c, error);
      return true;
    }
    if (plan.parts.size() == 1 && plan.parts[0].owner == cluster_->id()) return false;
  } else {
    std::vector<uint64_t> nodes;
    for (const ring::Member& m : cluster_->ring().members()) nodes.push_back(m.id);
    if (!PlanClusterWide(cmd, argv, nodes, &plan)) return false;
  }
  if (c.in_exec || c.in_multi) {
    ReplyError(c, "ERR transactions run on one node: this command's keys are on other nodes");
    return true;
  }
  if (cmd.first_key > 0 && c.conn() != nullptr && !c.in_exec) {
    // Keyed: later commands need not wait for this one's answer.
    const uint64_t seq = c.next_slot_seq++;
    c.slots.push_back(Client::ReplySlot{seq, false, {}});
    const uint64_t client_id = c.id();
    RunFanout(std::move(plan), c.protocol(), [this, client_id, seq](std::string reply) {
      FillSlot(client_id, seq, std::move(reply));
    });
    return true;
  }
  StartFanout(c, std::move(plan));
  return true;
}

bool Server::Pipelinable(const Client& c, const Argv& argv) const {
  const Command* cmd = commands_.Find(argv[0]);
  return cmd != nullptr && cmd->first_key > 0 && !c.in_multi &&
         !(partitions_ && partitions_->AnyFrozen());
}

void Server::DispatchIntoSlot(Client& c, const Argv& argv) {
  c.capture.Clear();
  c.reply().set_buffer(&c.capture);
  const size_t open = c.slots.size();
  Dispatch(c, argv);
  c.reply().set_buffer(&c.conn()->output());
  // Forwarded: StartFanout opened the slot. Run here: its reply is ready.
  if (c.slots.size() == open) {
    c.slots.push_back(Client::ReplySlot{c.next_slot_seq++, true, std::string(c.capture.view())});
  }
}

void Server::FillSlot(uint64_t client_id, uint64_t seq, std::string reply) {
  auto it = clients_.find(client_id);
  if (it == clients_.end()) return;  // closed meanwhile
  Client& c = *it->second;
  for (Client::ReplySlot& slot : c.slots) {
    if (slot.seq != seq) continue;
    if (resp::IsErrorReply(reply)) stats_.error_replies++;
    slot.ready = true;
    slot.bytes = std::move(reply);
    break;
  }
  bool wrote = false;
  while (!c.slots.empty() && c.slots.front().ready) {
    c.conn()->output().Append(c.slots.front().bytes);
    c.slots.pop_front();
    wrote = true;
  }
  if (wrote) MarkPendingFlush(c);
  if (c.draining && (c.slots.empty() || (c.deferred.empty() && c.slots.size() < kMaxReplySlots))) {
    c.draining = false;
    resume_input_.push_back(client_id);
  }
}

void Server::ForwardWhole(Client& c, uint64_t owner, const Argv& argv) {
  if (c.in_exec || c.in_multi) {
    ReplyError(c, "ERR transactions run on one node: this command needs another node");
    return;
  }
  FanoutPlan plan;
  plan.merge = Merge::kSingle;
  plan.parts.push_back(FanoutPart{owner, std::vector<std::string>(argv.begin(), argv.end()), {}});
  StartFanout(c, std::move(plan));
}

std::string Server::RunHere(const std::vector<std::string>& argv, int protocol) {
  util::Buffer out;
  Client internal(0, &out, &parse_limits_, protocol, "cluster", keyspace_->now_ms());
  internal.execute_locally = true;
  Argv args(argv.begin(), argv.end());
  Dispatch(internal, args);
  return std::string(out.view());
}

void Server::StartFanout(Client& c, FanoutPlan plan) {
  const uint64_t client_id = c.id();
  c.awaiting = true;
  RunFanout(std::move(plan), c.protocol(),
            [this, client_id](std::string reply) { FinishAwaiting(client_id, reply); });
}

void Server::RunFanout(FanoutPlan plan, int protocol, std::function<void(std::string)> done) {
  struct State {
    FanoutPlan plan;
    std::vector<std::string> replies;
    size_t pending = 0;
    std::function<void(std::string)> done;
  };
  auto state = std::make_shared<State>();
  state->plan = std::move(plan);
  state->replies.resize(state->plan.parts.size());
  state->pending = state->plan.parts.size();
  state->done = std::move(done);
  auto finish_part = [state](size_t i, std::string reply) {
    state->replies[i] = std::move(reply);
    if (--state->pending > 0) return;
    std::string merged;
    MergeReplies(state->plan, state->replies, &merged);
    state->done(std::move(merged));
  };
  for (size_t i = 0; i < state->plan.parts.size(); i++) {
    FanoutPart& part = state->plan.parts[i];
    if (part.owner == cluster_->id()) {
      finish_part(i, RunHere(part.argv, protocol));
      continue;
    }
    uint32_t flags = cluster::kForwardLocal | (protocol == 3 ? cluster::kForwardResp3 : 0);
    const uint64_t owner = part.owner;
    cluster_->Forward(owner, std::move(part.argv), flags,
                      [finish_part, i, owner](util::Status s, std::string reply) {
                        if (!s.ok()) {
                          reply = "-CLUSTERDOWN node " + cluster::NodeIdText(owner) +
                                  " did not answer: " + s.message() + "\r\n";
                        }
                        finish_part(i, std::move(reply));
                      });
  }
}

void Server::FinishAwaiting(uint64_t client_id, const std::string& reply) {
  auto it = clients_.find(client_id);
  if (it == clients_.end()) return;  // closed meanwhile
  Client& c = *it->second;
  c.awaiting = false;
  if (resp::IsErrorReply(reply)) stats_.error_replies++;
  c.reply().Raw(reply);
  MarkPendingFlush(c);
  // Pipelined commands behind the forwarded one run from the flush hook,
  // never from here: this may be called inside the client's own
  // ProcessInput (an answer that needed no other node).
  resume_input_.push_back(client_id);
}

void Server::RunForwarded(const cluster::Forward& f, std::function<void(std::string)> done) {
  keyspace_->set_now_ms(util::WallMs());
  // Only what routing sends: keyed commands, the cluster-wide ones, and
  // REBALANCE's count. Anything else (QUIT, CLIENT, SHUTDOWN...) concerns a
  // connection or the process, which a forwarded command has none of.
  const Command* cmd = commands_.Find(f.argv[0]);
  auto is = [&](const char* name) { return util::EqualsIgnoreCase(f.argv[0], name); };
  const bool allowed = cmd != nullptr && (cmd->first_key > 0 || is("dbsize") || is("keys") ||
                                          is("scan") || is("flushall") || is("flushdb") ||
                                          (is("cluster") && f.argv.size() > 1 &&
                                           (util::EqualsIgnoreCase(f.argv[1], "partitionrecords") ||
                                            // JOIN asks the node it met to MEET it back
                                            util::EqualsIgnoreCase(f.argv[1], "meet"))));
  if (!allowed) {
    done("-ERR '" + f.argv[0].substr(0, 64) + "' is not run for another node\r\n");
    return;
  }
  if (is("cluster") && util::EqualsIgnoreCase(f.argv[1], "meet")) {
    // From CLUSTER JOIN at the sender: meet it back (it then joins our
    // ring). Answered when the handshake is done.
    int64_t bus_port = 0;
    if (f.argv.size() != 5 || !util::ParseInt64(f.argv[4], &bus_port) || bus_port <= 0 ||
        bus_port > 65535) {
      done("-ERR syntax error\r\n");
      return;
    }
    cluster_->Meet(f.argv[2], static_cast<uint16_t>(bus_port), [done](util::Status s) {
      done(s.ok() ? std::string("+OK\r\n") : "-ERR can't meet back: " + s.message() + "\r\n");
    });
    return;
  }
  Argv args(f.argv.begin(), f.argv.end());
  if (partitions_ && partitions_->AnyFrozen() && WritesFrozen(*cmd, args, nullptr)) {
    held_commands_.push_back(HeldCommand{0, {}, f, std::move(done)});
    return;
  }
  if (lsm_ != nullptr && (cmd->flags & kCmdWrite) && lsm_->WriteStalled()) {
    // Flushes fell behind: a peer's write waits like a client's would.
    stalled_forwards_.push_back(HeldCommand{0, {}, f, std::move(done)});
    return;
  }
  if (cmd->first_key > 0 && f.ring_epoch < cluster_->ring().epoch()) {
    // Sent by a node with an older ring: a key whose partition has moved
    // since goes on to its owner now (the epoch only grows, so no loops).
    FanoutPlan plan;
    std::string error;
    if (PlanByOwner(*cmd, args, &plan, &error) &&
        !(plan.parts.size() == 1 && plan.parts[0].owner == cluster_->id())) {
      RunFanout(std::move(plan), (f.flags & cluster::kForwardResp3) ? 3 : 2, std::move(done));
      return;
    }
  }
  std::string reply = RunHere(f.argv, (f.flags & cluster::kForwardResp3) ? 3 : 2);
  if (persistence_ && persistence_->HoldReplies()) {
    // appendfsync always: acknowledged only once durable, as for a client.
    held_forwards_.emplace_back(std::move(done), std::move(reply));
    return;
  }
  done(std::move(reply));
}

void Server::ReplyError(Client& c, std::string_view message) {
  stats_.error_replies++;
  c.reply().Error(message);
}

void Server::CloseClientAfterReply(Client& c) {
  c.close_requested = true;
  c.conn()->CloseAfterFlush();
}

void Server::KillClient(Client& c) {
  c.close_requested = true;
  c.conn()->Close();
}

void Server::MarkPendingFlush(Client& c) {
  if (c.pending_flush) return;
  c.pending_flush = true;
  pending_flush_.push_back(&c);
}

void Server::FlushPending() {
  if (release_held_) ReleaseHeld();
  if (persistence_) {
    persistence_->FlushToOs();
    if (persistence_->fatal()) {
      RequestShutdown("Can't recover from WAL fsync error with appendfsync always. Exiting...");
      exit_code_ = 1;
      return;
    }
  }
  for (uint64_t id : std::exchange(resume_input_, {})) {
    auto it = clients_.find(id);
    if (it != clients_.end()) ProcessInput(*it->second);
  }
  std::vector<Client*> batch;
  while (!pending_flush_.empty() || !held_forwards_.empty()) {
    if (persistence_) {
      // Every round: commands run by a resumed client below wrote too.
      persistence_->FlushToOs();
      // appendfsync always: replies wait for the fsync that covers them;
      // its completion calls FlushPending again.
      if (persistence_->HoldReplies()) return;
    }
    for (auto& [done, reply] : std::exchange(held_forwards_, {})) done(std::move(reply));
    batch.clear();
    batch.swap(pending_flush_);
    for (Client* c : batch) {
      if (c == nullptr) continue;
      c->pending_flush = false;
      if (!CheckOutputLimits(*c)) continue;
      c->conn()->Flush();
      // A back-pressured client whose backlog the kernel just took runs
      // its buffered input now; its replies join the next round.
      if (c->paused) ResumeClient(*c);
    }
  }
}

bool Server::CheckOutputLimits(Client& c) {
  const OutputBufferLimit& l = config_.values().client_output_buffer_limit;
  size_t pending = c.conn()->pending_output();
  int64_t now = keyspace_->now_ms();
  bool over = false;
  if (l.hard_bytes > 0 && static_cast<int64_t>(pending) > l.hard_bytes) {
    over = true;
  } else if (l.soft_bytes > 0 && static_cast<int64_t>(pending) > l.soft_bytes) {
    if (c.soft_limit_since_ms == 0) c.soft_limit_since_ms = now;
    over = now - c.soft_limit_since_ms > l.soft_seconds * 1000;
  } else {
    c.soft_limit_since_ms = 0;
  }
  if (over) {
    KV_LOG_WARNING("Client id=%llu addr=%s closed for overcoming of output buffer limits.",
                   static_cast<unsigned long long>(c.id()), c.peer().c_str());
    KillClient(c);
    return false;
  }
  return true;
}

void Server::Cron() {
  const ConfigValues& v = config_.values();
  keyspace_->set_now_ms(util::WallMs());
  int64_t now = keyspace_->now_ms();
  cron_ticks_++;
  // Active expiry gets a quarter of the cron period, like Redis's slow cycle.
  int64_t budget_us = 250000 / v.hz;
  keyspace_->ActiveExpireCycle(budget_us, static_cast<int>(v.active_expire_effort));
  // Tables compaction replaced can then leave the disk.
  if (lsm_ != nullptr) lsm_->ReleaseReadState();

  std::vector<Client*> to_close;
  for (auto& [id, c] : clients_) {
    if (c->close_requested) continue;
    if (v.timeout > 0 && now - c->last_interaction_ms > v.timeout * 1000 &&
        c->conn()->pending_output() == 0) {
      KV_LOG_VERBOSE("Closing idle client id=%llu", static_cast<unsigned long long>(id));
      to_close.push_back(c.get());
    } else if (c->conn()->pending_output() > 0) {
      CheckOutputLimits(*c);
    }
  }
  for (Client* c : to_close) KillClient(*c);

  int64_t now_us = util::MonotonicUs();
  int64_t dt = now_us - ops_last_us_;
  if (dt > 0) {
    uint64_t count = stats_.commands_processed;
    ops_samples_[ops_sample_index_++ % ops_samples_.size()] =
        static_cast<double>(count - ops_last_count_) * 1e6 / static_cast<double>(dt);
    ops_last_count_ = count;
    ops_last_us_ = now_us;
  }
}

double Server::InstantaneousOpsPerSec() const {
  size_t n = ops_sample_index_ < ops_samples_.size() ? ops_sample_index_ : ops_samples_.size();
  if (n == 0) return 0;
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += ops_samples_[i];
  return sum / static_cast<double>(n);
}

uint64_t Server::TotalNetInputBytes() const {
  uint64_t n = stats_.net_input_bytes;
  for (const auto& [id, c] : clients_) n += c->conn()->bytes_read();
  return n;
}

uint64_t Server::TotalNetOutputBytes() const {
  uint64_t n = stats_.net_output_bytes;
  for (const auto& [id, c] : clients_) n += c->conn()->bytes_written();
  return n;
}

void Server::ResetStats() {
  stats_ = ServerStats();
  keyspace_->ResetStats();
}

int Main(int argc, char** argv) {
  Config config;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && (args[0] == "-v" || args[0] == "--version")) {
    printf("kv-server v=%s redis_compat=%s\n", KV_VERSION, kRedisCompatVersion);
    return 0;
  }
  if (!args.empty() && (args[0] == "-h" || args[0] == "--help")) {
    printf(
        "Usage: kv-server [/path/to/kv.conf] [--directive value ...]\n"
        "       kv-server --version\n\n"
        "Examples:\n"
        "       kv-server conf/kv.conf\n"
        "       kv-server --port 7777 --dir /tmp/kv\n"
        "       kv-server conf/kv.conf --loglevel verbose\n");
    return 0;
  }
  if (!args.empty() && args[0].rfind("--", 0) != 0) {
    util::Status s = config.LoadFile(args[0]);
    if (!s.ok()) {
      fprintf(stderr, "\n*** FATAL CONFIG FILE ERROR ***\n%s\n", s.message().c_str());
      return 1;
    }
    args.erase(args.begin());
  }
  util::Status s = config.LoadArgs(args);
  if (!s.ok()) {
    fprintf(stderr, "\n*** FATAL CONFIG ERROR ***\n%s\n", s.message().c_str());
    return 1;
  }
  if (!util::SetLogFile(config.values().logfile)) {
    fprintf(stderr, "Can't open the log file: %s\n", config.values().logfile.c_str());
    return 1;
  }
  Server server(std::move(config));
  s = server.Start();
  if (!s.ok()) {
    KV_LOG_WARNING("%s", s.message().c_str());
    return 1;
  }
  return server.Run();
}

}  // namespace kv::server
