#include "util/memory.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>

#ifdef KV_USE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

namespace kv::util {
namespace {
size_t ReadRss() {
  FILE* f = fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  int n = fscanf(f, "%lu %lu", &size, &resident);
  fclose(f);
  if (n != 2) return 0;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

#ifdef KV_USE_JEMALLOC
size_t JemallocStat(const char* name) {
  size_t value = 0, len = sizeof(value);
  if (mallctl(name, &value, &len, nullptr, 0) != 0) return 0;
  return value;
}
void RefreshJemalloc() {
  uint64_t epoch = 1;
  size_t len = sizeof(epoch);
  mallctl("epoch", &epoch, &len, &epoch, len);
}
#endif
}  // namespace

MemoryStats ReadMemoryStats() {
  MemoryStats s;
  s.rss = ReadRss();
#ifdef KV_USE_JEMALLOC
  RefreshJemalloc();
  s.allocated = JemallocStat("stats.allocated");
  s.active = JemallocStat("stats.active");
  s.resident = JemallocStat("stats.resident");
  const char* version = nullptr;
  size_t len = sizeof(version);
  if (mallctl("version", &version, &len, nullptr, 0) == 0 && version != nullptr) {
    s.allocator = std::string("jemalloc-") + version;
  } else {
    s.allocator = "jemalloc";
  }
#else
  s.allocated = s.rss;
  s.active = s.rss;
  s.resident = s.rss;
#endif
  return s;
}

size_t UsedMemory() {
#ifdef KV_USE_JEMALLOC
  RefreshJemalloc();
  return JemallocStat("stats.allocated");
#else
  return ReadRss();
#endif
}

size_t TotalSystemMemory() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page = sysconf(_SC_PAGESIZE);
  if (pages < 0 || page < 0) return 0;
  return static_cast<size_t>(pages) * static_cast<size_t>(page);
}

}  // namespace kv::util
