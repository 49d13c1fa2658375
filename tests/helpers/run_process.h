// RunProcess runs a command-line tool (redis-cli, redis-benchmark, python3)
// to completion with a deadline, feeding it `stdin_data` and capturing its
// stdout and stderr. Used by the client compatibility tests.
//
// Thread safety: none (forks; use from the main thread).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace kv::test {

struct ProcessResult {
  bool timed_out = false;  // killed at the deadline
  int exit_code = -1;      // when it exited normally
  int signal = 0;          // when a signal ended it
  std::string out;
  std::string err;
};

// Runs argv[0] (looked up in PATH) with `argv`. Killed with SIGKILL if it has
// not finished within `timeout`.
ProcessResult RunProcess(const std::vector<std::string>& argv, const std::string& stdin_data,
                         std::chrono::milliseconds timeout);

// True if `path` names an executable file.
bool IsExecutable(const std::string& path);

}  // namespace kv::test
