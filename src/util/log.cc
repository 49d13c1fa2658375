#include "util/log.h"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <ctime>

namespace kv::util {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kNotice)};
std::atomic<int> g_fd{2};
}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }

bool SetLogFile(const std::string& path) {
  if (path.empty()) {
    g_fd = 2;
    return true;
  }
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  int old = g_fd.exchange(fd);
  if (old > 2) close(old);
  return true;
}

void Log(LogLevel level, const char* fmt, ...) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  static const char kMarks[] = ".-*#";
  char line[1024];
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm t;
  localtime_r(&tv.tv_sec, &t);
  int n = snprintf(line, sizeof(line), "%d:M ", static_cast<int>(getpid()));
  n += static_cast<int>(
      strftime(line + n, sizeof(line) - static_cast<size_t>(n), "%d %b %Y %H:%M:%S.", &t));
  n += snprintf(line + n, sizeof(line) - static_cast<size_t>(n), "%03d %c ",
                static_cast<int>(tv.tv_usec / 1000), kMarks[static_cast<int>(level)]);
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof(line) - static_cast<size_t>(n) - 1, fmt, ap);
  va_end(ap);
  if (m < 0) m = 0;
  size_t len = static_cast<size_t>(n) + static_cast<size_t>(m);
  if (len > sizeof(line) - 2) len = sizeof(line) - 2;
  line[len++] = '\n';
  ssize_t ignored = write(g_fd.load(), line, len);
  (void)ignored;
}

}  // namespace kv::util
