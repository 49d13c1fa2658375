#include "storage/table/block_builder.h"

#include <algorithm>
#include <cassert>

#include "storage/table/format.h"
#include "util/coding.h"

namespace kv::storage {

BlockBuilder::BlockBuilder(int restart_interval) : restart_interval_(restart_interval) {
  assert(restart_interval_ >= 1);
  restarts_.push_back(0);  // the first entry is always a restart point
}

void BlockBuilder::Reset() {
  buffer_.clear();
  restarts_.clear();
  restarts_.push_back(0);
  since_restart_ = 0;
  entries_ = 0;
  finished_ = false;
  last_key_.clear();
}

size_t BlockBuilder::CurrentSizeEstimate() const {
  return buffer_.size() + restarts_.size() * sizeof(uint32_t) + sizeof(uint32_t);
}

void BlockBuilder::Add(std::string_view key, std::string_view value) {
  assert(!finished_);
  size_t shared = 0;
  if (since_restart_ < restart_interval_) {
    const size_t limit = std::min(last_key_.size(), key.size());
    while (shared < limit && last_key_[shared] == key[shared]) shared++;
  } else {
    restarts_.push_back(static_cast<uint32_t>(buffer_.size()));
    since_restart_ = 0;
  }
  const size_t non_shared = key.size() - shared;
  util::PutVarint64(&buffer_, shared);
  util::PutVarint64(&buffer_, non_shared);
  util::PutVarint64(&buffer_, value.size());
  buffer_.append(key.data() + shared, non_shared);
  buffer_.append(value.data(), value.size());
  // Keep only what the next entry can share: the delta replaces the tail.
  last_key_.resize(shared);
  last_key_.append(key.data() + shared, non_shared);
  since_restart_++;
  entries_++;
}

std::string_view BlockBuilder::Finish() {
  assert(!finished_);
  for (uint32_t r : restarts_) sst::PutFixed32(&buffer_, r);
  sst::PutFixed32(&buffer_, static_cast<uint32_t>(restarts_.size()));
  finished_ = true;
  return buffer_;
}

}  // namespace kv::storage
