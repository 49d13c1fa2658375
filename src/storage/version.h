// Version: one immutable snapshot of the live SSTables, level by level.
// Level 0 holds flushed memtables (newest first, ranges may overlap);
// levels 1..6 hold sorted, non-overlapping runs. A new Version is built for
// every flush or compaction and published atomically; readers keep the one
// they started with alive through shared_ptr, so files they read are never
// closed under them.
//
// Thread safety: immutable after construction; share freely.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "storage/dbformat.h"
#include "storage/engine.h"
#include "storage/table_cache.h"

namespace kv::storage {

constexpr int kNumLevels = 7;

struct LiveFile {
  uint64_t number = 0;
  uint64_t file_size = 0;
  std::string smallest;  // internal keys
  std::string largest;
  uint64_t num_entries = 0;  // from the table's properties, for key estimates
};

struct Version {
  std::array<std::vector<std::shared_ptr<LiveFile>>, kNumLevels> levels;

  uint64_t LevelBytes(int level) const {
    uint64_t n = 0;
    for (const auto& f : levels[static_cast<size_t>(level)]) n += f->file_size;
    return n;
  }
  // Files of `level` whose user-key range overlaps [smallest, largest]
  // (user keys; empty largest = unbounded).
  std::vector<std::shared_ptr<LiveFile>> Overlapping(int level, std::string_view smallest_user,
                                                     std::string_view largest_user) const {
    std::vector<std::shared_ptr<LiveFile>> out;
    for (const auto& f : levels[static_cast<size_t>(level)]) {
      if (ExtractUserKey(f->largest) < smallest_user) continue;
      if (ExtractUserKey(f->smallest) > largest_user) continue;
      out.push_back(f);
    }
    return out;
  }
};

// Concatenates the tables of one sorted level (1..6) into one iterator that
// opens a table (through `tables`, which must outlive it) only when a seek
// or walk reaches it.
std::unique_ptr<Iterator> NewLevelIterator(std::vector<std::shared_ptr<LiveFile>> files,
                                           TableCache* tables);

}  // namespace kv::storage
