// Process memory figures for INFO memory: jemalloc's counters when kv is
// linked with jemalloc (allocated, active, resident), RSS from /proc.
//
// Thread safety: callable from any thread.
#pragma once

#include <cstddef>
#include <string>

namespace kv::util {

struct MemoryStats {
  size_t allocated = 0;  // bytes handed to the program
  size_t active = 0;     // bytes in active pages
  size_t resident = 0;   // bytes the allocator holds resident
  size_t rss = 0;        // process RSS
  std::string allocator = "libc";
};

MemoryStats ReadMemoryStats();
// Cheap figure for used_memory: jemalloc's allocated, or RSS without it.
size_t UsedMemory();
size_t TotalSystemMemory();

}  // namespace kv::util
