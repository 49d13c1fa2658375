// ServerProcess runs one real server process for an integration test: a
// kv-server (KV_SERVER_BIN, or $KV_TEST_SERVER_BIN if set), or a redis-server
// when KV_TEST_AGAINST_REDIS=1, so the suite can be checked against the
// behaviour it copies. It picks a
// free loopback port, makes a temp dir for the server's files and log, starts
// the process and waits (polling PING, with a deadline) until it answers.
//
// Everything is cleaned up whatever happens: the destructor kills the process
// and removes the temp dir; a static registry kills whatever is still running
// from an atexit handler; the child gets PR_SET_PDEATHSIG so it dies with the
// test binary even on a crash. On a failed start, or when the current test
// has failed (see SetCurrentTestFailed), the server's log is printed to
// stderr before the dir is removed.
//
// Crash and recovery tests (tests/fault) Kill() a server and Restart() it on
// the same dir; RestartNoWait() + WaitExit() check a server refuses to start.
//
// Thread safety: none. Use from the test's main thread only.
#pragma once

#include <hiredis/hiredis.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kv::test {

using namespace std::chrono_literals;

// Polls `pred` every `interval` until it returns true or `timeout` has passed.
// Returns the last value of `pred`, which is evaluated at least once, and once
// more after the deadline so a late success still counts.
bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
             std::chrono::milliseconds interval = 10ms);
// The same with an absolute deadline.
bool WaitFor(const std::function<bool()>& pred, std::chrono::steady_clock::time_point deadline,
             std::chrono::milliseconds interval = 10ms);

// True when KV_TEST_AGAINST_REDIS=1: servers are redis-server, not kv-server.
bool TestingAgainstRedis();

// Set by the doctest listener in tests/integration/main.cc: whether the test
// case now running has failed an assertion. Decides whether a ServerProcess
// dumps its log when it is destroyed.
void SetCurrentTestFailed(bool failed);
bool CurrentTestFailed();

struct RedisContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
// An owned hiredis connection.
using Conn = std::unique_ptr<redisContext, RedisContextDeleter>;

// How a server process ended.
struct ExitStatus {
  bool exited = false;  // exited by itself (exit or return from main)
  int code = -1;        // exit code when `exited`
  int signal = 0;       // the signal that ended it, when !exited
  std::string ToString() const;
};

class ServerProcess {
 public:
  // Starts a server with `extra_args` (Redis-style `--directive value` pairs)
  // appended to the command line and waits up to 10 s for it to answer PING
  // (any reply counts, so a server with requirepass is up when it says
  // NOAUTH). Throws std::runtime_error, after printing the log, if it does
  // not come up. A start that dies early is retried on a new port twice, in
  // case another process took the port between the probe and the bind.
  explicit ServerProcess(std::vector<std::string> extra_args = {});
  ~ServerProcess();

  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  pid_t pid() const { return pid_; }
  bool is_redis() const { return is_redis_; }
  std::string log_path() const { return dir_ + "/server.log"; }
  // The child's stdout and stderr (sanitizer reports land here).
  std::string stdio_path() const { return dir_ + "/stdio.log"; }

  // A new hiredis connection with 5 s connect and 30 s I/O timeouts. Never
  // null; check ->err for a failed connect.
  Conn Connect() const;

  // Whether the process is still running (reaps it if it has exited).
  bool Running();

  // SIGTERM, wait up to `grace`, then SIGKILL. Returns how the process ended
  // (also when it had already ended by itself). Idempotent.
  ExitStatus Stop(std::chrono::milliseconds grace = 10s);

  // Sends `sig` to the process (no wait). The process ending by that signal
  // is then expected, so the destructor does not report it.
  void Kill(int sig);

  // Waits up to `timeout` for the process to end by itself (e.g. after
  // SHUTDOWN). nullopt if it is still running then.
  std::optional<ExitStatus> WaitExit(std::chrono::milliseconds timeout);

  // The server's log file plus the child's stdout/stderr, the last
  // `max_bytes` of each.
  std::string LogTail(size_t max_bytes = 8192) const;
  void DumpLog(const char* why, size_t max_bytes = 8192) const;

  // ---- restarts on the same dir (crash and recovery tests) ----------------
  //
  // Starts the server again on the same dir (its data, log and stdio files
  // are kept; the log files are appended to) on a new free port, with the
  // same arguments unless `extra_args` is given. A process still running is
  // first stopped with Stop(). Waits for PING like the constructor (see
  // set_start_timeout) and throws std::runtime_error, after printing the log,
  // if it does not come up; a start that fails because the port was taken in
  // the meantime is retried on another port.
  void Restart(std::optional<std::vector<std::string>> extra_args = std::nullopt);
  // The same without waiting for PING, for a test that expects the server to
  // refuse to start: follow with WaitExit(). Whatever way the process then
  // ends is the test's business, so the destructor does not report it.
  void RestartNoWait(std::optional<std::vector<std::string>> extra_args = std::nullopt);
  // How long the constructor and Restart wait for PING (default 10 s): a
  // large store takes longer to open, a sanitizer build is slower.
  void set_start_timeout(std::chrono::milliseconds t) { start_timeout_ = t; }
  // What the server wrote to its log since the latest start (constructor or
  // Restart), e.g. to check what recovery reported.
  std::string LogSinceStart() const;
  // Resident set size of the running process (VmRSS in /proc/PID/status), in
  // bytes; -1 if it cannot be read.
  long long RssBytes() const;
  // Its peak resident set size so far (VmHWM), in bytes; -1 if unknown.
  long long PeakRssBytes() const;
  // The server binary the helper runs (KV_TEST_SERVER_BIN or KV_SERVER_BIN).
  static std::string ServerBinary();
  // Whether that binary was built with AddressSanitizer (it contains the
  // __asan_init symbol), so tests can scale their work to its speed.
  static bool ServerIsSanitized();

  // Prints the log tail of every live server (used when a test fails while a
  // shared server is in use).
  static void DumpAllLogs(const char* why);
  // SIGKILLs every registered process and removes their dirs (atexit).
  static void KillAll();

 private:
  // `fresh_dir`: make a new temp dir (the constructor) or reuse dir_.
  // `wait_for_ping`: return once it answers PING (false if it does not).
  bool StartOnce(std::string* error, bool fresh_dir = true, bool wait_for_ping = true);
  void Reap(int wstatus);
  void RestartImpl(std::optional<std::vector<std::string>> extra_args, bool wait_for_ping);

  std::vector<std::string> extra_args_;
  bool is_redis_ = false;
  int port_ = 0;
  std::string dir_;
  pid_t pid_ = -1;
  std::optional<ExitStatus> exit_status_;
  int signal_sent_ = 0;         // by Kill()
  bool exit_expected_ = false;  // by RestartNoWait(): any ending is fine
  std::chrono::milliseconds start_timeout_ = 10s;
  unsigned long long log_offset_ = 0;  // size of server.log at the latest start
};

// A server shared by the test cases of one file, created on first use and
// kept until exit. If it has died or been stopped, it is replaced by a fresh
// one (after printing the dead one's log), so one crash fails one test rather
// than the rest of the file.
ServerProcess& SharedServer(const std::string& name, std::vector<std::string> extra_args = {});

// Stops the shared server `name` with SIGTERM and returns its exit status
// (nullopt if it was never started). The next SharedServer(name) starts anew.
std::optional<ExitStatus> StopSharedServer(const std::string& name);

}  // namespace kv::test
