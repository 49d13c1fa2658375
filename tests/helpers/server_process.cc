#include "helpers/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef KV_SERVER_BIN
#error "KV_SERVER_BIN must be defined (path to kv-server)"
#endif

namespace kv::test {

namespace {

using Clock = std::chrono::steady_clock;

bool g_current_test_failed = false;

// Never destroyed: the atexit handler that walks it runs after static
// destructors of objects constructed later than its registration.
std::set<ServerProcess*>& Registry() {
  static auto* registry = new std::set<ServerProcess*>;
  return *registry;
}

void KillAllAtExit() { ServerProcess::KillAll(); }

void InstallProcessHooksOnce() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  // A server closing a connection while we write must be an error return
  // (EPIPE), never the end of the test binary.
  signal(SIGPIPE, SIG_IGN);
  std::atexit(KillAllAtExit);
}

// Binds 127.0.0.1:0 and returns the port the kernel chose (the socket is
// closed again, so the server can bind it; see the retry in the constructor).
int PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int e = errno;
    close(fd);
    throw std::runtime_error(std::string("bind: ") + strerror(e));
  }
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int e = errno;
    close(fd);
    throw std::runtime_error(std::string("getsockname: ") + strerror(e));
  }
  close(fd);
  return ntohs(addr.sin_port);
}

// True if nothing listens on 127.0.0.1:port now.
bool PortFree(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// A free client port whose cluster bus port (port + 10000, kv's default)
// is free too.
int PickFreeServerPort() {
  for (int attempt = 0; attempt < 200; attempt++) {
    int port = PickFreePort();
    if (port + 10000 <= 65535 && PortFree(port + 10000)) return port;
  }
  throw std::runtime_error("no free port pair (port, port + 10000) on 127.0.0.1");
}

std::string ReadTail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  std::streamoff start = size > static_cast<std::streamoff>(max_bytes)
                             ? size - static_cast<std::streamoff>(max_bytes)
                             : 0;
  in.seekg(start);
  std::string data(static_cast<size_t>(size - start), '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  if (start > 0) data = "[... " + std::to_string(start) + " bytes cut ...]\n" + data;
  return data;
}

// Sends PING on a short-lived connection. Any reply means the server is up.
bool Pings(int port) {
  timeval tv{0, 200 * 1000};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
  if (c == nullptr) return false;
  bool ok = false;
  if (c->err == 0 && redisSetTimeout(c, tv) == REDIS_OK) {
    auto* reply = static_cast<redisReply*>(redisCommand(c, "PING"));
    if (reply != nullptr) {
      ok = true;
      freeReplyObject(reply);
    }
  }
  redisFree(c);
  return ok;
}

}  // namespace

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
             std::chrono::milliseconds interval) {
  return WaitFor(pred, Clock::now() + timeout, interval);
}

bool WaitFor(const std::function<bool()>& pred, std::chrono::steady_clock::time_point deadline,
             std::chrono::milliseconds interval) {
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(interval);
  }
  return pred();
}

bool TestingAgainstRedis() {
  const char* v = std::getenv("KV_TEST_AGAINST_REDIS");
  return v != nullptr && std::string(v) == "1";
}

void SetCurrentTestFailed(bool failed) { g_current_test_failed = failed; }
bool CurrentTestFailed() { return g_current_test_failed; }

std::string ExitStatus::ToString() const {
  if (exited) return "exited with status " + std::to_string(code);
  return std::string("killed by signal ") + std::to_string(signal) + " (" + strsignal(signal) + ")";
}

ServerProcess::ServerProcess(std::vector<std::string> extra_args)
    : extra_args_(std::move(extra_args)), is_redis_(TestingAgainstRedis()) {
  InstallProcessHooksOnce();
  Registry().insert(this);
  std::string error;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (StartOnce(&error)) return;
    DumpLog(("server failed to start: " + error).c_str());
    if (pid_ > 0) Stop(2s);
    std::filesystem::remove_all(dir_);
    dir_.clear();
  }
  Registry().erase(this);
  throw std::runtime_error("server failed to start: " + error);
}

bool ServerProcess::StartOnce(std::string* error, bool fresh_dir, bool wait_for_ping) {
  pid_ = -1;
  exit_status_.reset();
  signal_sent_ = 0;
  port_ = PickFreeServerPort();
  if (fresh_dir) {
    char tmpl[] = "/tmp/kv-it-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      *error = std::string("mkdtemp: ") + strerror(errno);
      return false;
    }
    dir_ = tmpl;
  }
  {
    std::error_code ec;
    auto size = std::filesystem::file_size(log_path(), ec);
    log_offset_ = ec ? 0 : static_cast<unsigned long long>(size);
  }

  std::vector<std::string> args;
  const std::string port = std::to_string(port_);
  if (is_redis_) {
    // --databases 1 makes SELECT 1 fail as it does on kv (one database).
    args = {"redis-server", "--port",      port,       "--bind", "127.0.0.1", "--dir",
            dir_,           "--logfile",   log_path(), "--save", "",          "--appendonly",
            "no",           "--databases", "1"};
  } else {
    // KV_TEST_SERVER_BIN runs the suite against another build (e.g. ASan)
    // without recompiling it.
    args = {ServerBinary(), "--port", port,        "--bind",  "127.0.0.1",
            "--dir",        dir_,     "--logfile", log_path()};
  }
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());

  // Everything the child needs is built before fork: after it, only
  // async-signal-safe calls.
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string stdio = stdio_path();
  // A restart appends, so what earlier runs printed stays readable.
  const int stdio_flags = O_WRONLY | O_CREAT | (fresh_dir ? O_TRUNC : O_APPEND);
  const pid_t parent = getpid();

  pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("fork: ") + strerror(errno);
    return false;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int fd = open(stdio.c_str(), stdio_flags, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    close_range(3, ~0U, 0);  // no test sockets leak into the server
    execvp(argv[0], argv.data());
    static const char kMsg[] = "ServerProcess: exec of the server binary failed\n";
    ssize_t ignored = write(STDERR_FILENO, kMsg, sizeof(kMsg) - 1);
    (void)ignored;
    _exit(127);
  }
  pid_ = pid;
  if (!wait_for_ping) return true;

  const auto deadline = Clock::now() + start_timeout_;
  while (Clock::now() < deadline) {
    if (!Running()) {
      *error = std::string(argv[0]) + " on port " + port + " " + exit_status_->ToString() +
               " before answering PING";
      return false;
    }
    if (Pings(port_)) return true;
    std::this_thread::sleep_for(10ms);
  }
  *error = std::string(argv[0]) + " on port " + port + " did not answer PING within " +
           std::to_string(start_timeout_.count()) + " ms";
  return false;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    ExitStatus status = Stop(5s);
    // A clean SIGTERM exit is status 0; anything else (a crash, a sanitizer
    // report) is worth seeing even if no assertion noticed.
    bool abnormal = !exit_expected_ && !(status.exited && status.code == 0) &&
                    !(signal_sent_ != 0 && status.signal == signal_sent_);
    if (abnormal) {
      DumpLog(("server " + status.ToString()).c_str());
    } else if (CurrentTestFailed()) {
      DumpLog("test failed");
    }
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Registry().erase(this);
}

void ServerProcess::Restart(std::optional<std::vector<std::string>> extra_args) {
  RestartImpl(std::move(extra_args), true);
}

void ServerProcess::RestartNoWait(std::optional<std::vector<std::string>> extra_args) {
  RestartImpl(std::move(extra_args), false);
}

void ServerProcess::RestartImpl(std::optional<std::vector<std::string>> extra_args,
                                bool wait_for_ping) {
  if (dir_.empty()) throw std::logic_error("ServerProcess::Restart: no dir");
  if (Running()) Stop();
  if (extra_args) extra_args_ = std::move(*extra_args);
  exit_expected_ = !wait_for_ping;
  std::string error;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (StartOnce(&error, false, wait_for_ping)) return;
    DumpLog(("server failed to restart: " + error).c_str());
    if (pid_ > 0) Stop(2s);
    // Only a port taken between the probe and the bind is worth a retry; any
    // other failure is what the test is about.
    std::string log = LogSinceStart();
    if (log.find("already in use") == std::string::npos) break;
  }
  throw std::runtime_error("server failed to restart: " + error);
}

std::string ServerProcess::LogSinceStart() const {
  std::ifstream in(log_path(), std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  auto size = static_cast<unsigned long long>(in.tellg());
  if (size <= log_offset_) return "";
  in.seekg(static_cast<std::streamoff>(log_offset_));
  std::string data(static_cast<size_t>(size - log_offset_), '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  return data;
}

namespace {
// A "kB" field of /proc/PID/status ("VmRSS:   123456 kB"), in bytes.
long long ProcStatusBytes(pid_t pid, const std::string& field) {
  if (pid <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atoll(line.c_str() + field.size() + 1) * 1024;
  }
  return -1;
}
}  // namespace

long long ServerProcess::RssBytes() const { return ProcStatusBytes(pid_, "VmRSS"); }
long long ServerProcess::PeakRssBytes() const { return ProcStatusBytes(pid_, "VmHWM"); }

std::string ServerProcess::ServerBinary() {
  // KV_TEST_SERVER_BIN runs the suite against another build (e.g. ASan)
  // without recompiling it.
  const char* bin = std::getenv("KV_TEST_SERVER_BIN");
  return bin != nullptr && *bin != '\0' ? bin : KV_SERVER_BIN;
}

bool ServerProcess::ServerIsSanitized() {
  static const bool sanitized = [] {
    if (TestingAgainstRedis()) return false;
    std::ifstream in(ServerBinary(), std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return data.find("__asan_init") != std::string::npos;
  }();
  return sanitized;
}

void ServerProcess::Reap(int wstatus) {
  ExitStatus s;
  if (WIFEXITED(wstatus)) {
    s.exited = true;
    s.code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    s.signal = WTERMSIG(wstatus);
  }
  exit_status_ = s;
}

bool ServerProcess::Running() {
  if (pid_ <= 0 || exit_status_) return false;
  int wstatus = 0;
  pid_t r = waitpid(pid_, &wstatus, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) {
    Reap(wstatus);
  } else {
    exit_status_ = ExitStatus{};  // lost track of it (ECHILD): treat as gone
  }
  return false;
}

std::optional<ExitStatus> ServerProcess::WaitExit(std::chrono::milliseconds timeout) {
  if (WaitFor([&] { return !Running(); }, timeout, 5ms)) return exit_status_;
  return std::nullopt;
}

ExitStatus ServerProcess::Stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return ExitStatus{};
  if (Running()) {
    kill(pid_, SIGTERM);
    if (!WaitExit(grace)) {
      std::cerr << "[ServerProcess] pid " << pid_ << " ignored SIGTERM for " << grace.count()
                << " ms; sending SIGKILL\n";
      kill(pid_, SIGKILL);
      int wstatus = 0;
      if (waitpid(pid_, &wstatus, 0) == pid_) Reap(wstatus);
    }
  }
  return exit_status_.value_or(ExitStatus{});
}

void ServerProcess::Kill(int sig) {
  if (!Running()) return;
  signal_sent_ = sig;
  kill(pid_, sig);
}

Conn ServerProcess::Connect() const {
  timeval connect_tv{5, 0};
  Conn c(redisConnectWithTimeout("127.0.0.1", port_, connect_tv));
  if (!c) throw std::runtime_error("redisConnectWithTimeout returned null");
  if (c->err == 0) {
    timeval io_tv{30, 0};
    redisSetTimeout(c.get(), io_tv);
  }
  return c;
}

std::string ServerProcess::LogTail(size_t max_bytes) const {
  std::ostringstream out;
  out << "---- " << log_path() << " ----\n" << ReadTail(log_path(), max_bytes);
  std::string stdio = ReadTail(stdio_path(), max_bytes);
  if (!stdio.empty()) out << "---- " << stdio_path() << " ----\n" << stdio;
  return out.str();
}

void ServerProcess::DumpLog(const char* why, size_t max_bytes) const {
  std::cerr << "==== " << (is_redis_ ? "redis-server" : "kv-server") << " port " << port_ << " pid "
            << pid_ << ": " << why << " ====\n"
            << LogTail(max_bytes) << "==== end of server log ====\n";
}

void ServerProcess::DumpAllLogs(const char* why) {
  for (ServerProcess* s : Registry()) s->DumpLog(why, 4096);
}

void ServerProcess::KillAll() {
  for (ServerProcess* s : Registry()) {
    if (s->pid_ > 0 && !s->exit_status_) {
      kill(s->pid_, SIGKILL);
      int wstatus = 0;
      waitpid(s->pid_, &wstatus, 0);
      s->exit_status_ = ExitStatus{};
    }
    if (!s->dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(s->dir_, ec);
    }
  }
}

namespace {
std::map<std::string, std::unique_ptr<ServerProcess>>& SharedServers() {
  static std::map<std::string, std::unique_ptr<ServerProcess>> servers;
  return servers;
}
}  // namespace

ServerProcess& SharedServer(const std::string& name, std::vector<std::string> extra_args) {
  auto& slot = SharedServers()[name];
  if (slot && !slot->Running()) {
    std::cerr << "[ServerProcess] shared server '" << name << "' is gone; starting a new one\n";
    slot.reset();  // dumps its log if it did not exit cleanly
  }
  if (!slot) slot = std::make_unique<ServerProcess>(std::move(extra_args));
  return *slot;
}

std::optional<ExitStatus> StopSharedServer(const std::string& name) {
  auto it = SharedServers().find(name);
  if (it == SharedServers().end() || !it->second) return std::nullopt;
  ExitStatus status = it->second->Stop();
  it->second.reset();
  return status;
}

}  // namespace kv::test
