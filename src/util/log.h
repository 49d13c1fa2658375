// Logging in Redis's line format: "pid:role dd Mon yyyy hh:mm:ss.mmm * text",
// with '.' debug, '-' verbose, '*' notice, '#' warning. Writes go to stderr
// or to the configured logfile, one write(2) per line.
//
// Thread safety: Log may be called from any thread; configuration calls
// (SetLogLevel, SetLogFile) happen at startup on the main thread.
#pragma once

#include <string>

namespace kv::util {

enum class LogLevel { kDebug = 0, kVerbose = 1, kNotice = 2, kWarning = 3 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Empty path = stderr. False if the file cannot be opened.
bool SetLogFile(const std::string& path);
void Log(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace kv::util

#define KV_LOG_DEBUG(...) ::kv::util::Log(::kv::util::LogLevel::kDebug, __VA_ARGS__)
#define KV_LOG_VERBOSE(...) ::kv::util::Log(::kv::util::LogLevel::kVerbose, __VA_ARGS__)
#define KV_LOG_NOTICE(...) ::kv::util::Log(::kv::util::LogLevel::kNotice, __VA_ARGS__)
#define KV_LOG_WARNING(...) ::kv::util::Log(::kv::util::LogLevel::kWarning, __VA_ARGS__)

// Always-on check for data-safety invariants: logs and aborts.
#define KV_ASSERT(cond)                                                                      \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      ::kv::util::Log(::kv::util::LogLevel::kWarning, "assertion failed: %s (%s:%d)", #cond, \
                      __FILE__, __LINE__);                                                   \
      __builtin_trap();                                                                      \
    }                                                                                        \
  } while (0)
