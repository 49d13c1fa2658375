// BlockBuilder assembles one block (FORMAT.md "SSTable", block contents):
// entries in sorted order, each key stored as the length of the prefix it
// shares with the previous key plus the rest; every `restart_interval`
// entries the full key is stored again (a restart point) and its offset is
// listed in the trailer, so a reader can binary search the restart points
// and decode forward from one without the keys before it.
//
// Thread safety: not thread safe; one builder per writer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kv::storage {

class BlockBuilder {
 public:
  // REQUIRES: restart_interval >= 1.
  explicit BlockBuilder(int restart_interval);

  BlockBuilder(const BlockBuilder&) = delete;
  BlockBuilder& operator=(const BlockBuilder&) = delete;

  // Appends an entry. REQUIRES: not finished since the last Reset; `key` sorts
  // after every key added since then (the caller's comparator; the builder
  // only prefix-compresses and does not compare).
  void Add(std::string_view key, std::string_view value);

  // Size of the block Finish would return now (entries + trailer).
  size_t CurrentSizeEstimate() const;

  // Appends the restart trailer and returns the whole block, which stays
  // valid until Reset or destruction. REQUIRES: not finished since Reset.
  std::string_view Finish();

  // Forgets everything, ready for a new block (keeps allocated memory).
  void Reset();

  bool empty() const { return buffer_.empty(); }
  // Entries added since Reset.
  int entries() const { return entries_; }

 private:
  const int restart_interval_;
  std::string buffer_;              // entries, then (after Finish) the trailer
  std::vector<uint32_t> restarts_;  // offsets of restart entries in buffer_
  int since_restart_ = 0;           // entries since the last restart point
  int entries_ = 0;
  bool finished_ = false;
  std::string last_key_;
};

}  // namespace kv::storage
