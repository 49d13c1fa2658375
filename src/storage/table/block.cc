#include "storage/table/block.h"

#include <utility>

#include "storage/table/format.h"

namespace kv::storage {

namespace {

// Decodes a varint32 from [*p, limit). Returns false if it runs past `limit`
// or does not fit 32 bits. The common one-byte case is the first test.
inline bool DecodeVarint32(const char** p, const char* limit, uint32_t* v) {
  const char* q = *p;
  if (q < limit && (static_cast<uint8_t>(*q) & 0x80) == 0) {
    *v = static_cast<uint8_t>(*q);
    *p = q + 1;
    return true;
  }
  uint32_t result = 0;
  for (int shift = 0; shift <= 28 && q < limit; shift += 7) {
    uint32_t byte = static_cast<uint8_t>(*q++);
    if (shift == 28 && byte > 0x0f) return false;  // more than 32 bits
    result |= (byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      *p = q;
      return true;
    }
  }
  return false;
}

}  // namespace

void Block::ParseTrailer() {
  if (data_.size() < sizeof(uint32_t) || data_.size() > UINT32_MAX) {
    status_ = util::Status::Corruption("block too short for its trailer");
    return;
  }
  const uint64_t max_restarts = (data_.size() - sizeof(uint32_t)) / sizeof(uint32_t);
  const uint32_t n = sst::DecodeFixed32(data_.data() + data_.size() - sizeof(uint32_t));
  // Every block BlockBuilder writes has at least one restart point (offset 0).
  if (n == 0 || n > max_restarts) {
    status_ = util::Status::Corruption("bad restart count in block");
    return;
  }
  num_restarts_ = n;
  restarts_offset_ =
      static_cast<uint32_t>(data_.size() - (static_cast<uint64_t>(n) + 1) * sizeof(uint32_t));
}

std::unique_ptr<Block> Block::Own(std::string contents) {
  std::unique_ptr<Block> b(new Block(Passkey()));
  b->owned_ = std::move(contents);
  b->data_ = b->owned_;
  b->ParseTrailer();
  return b;
}

std::unique_ptr<Block> Block::Own(std::unique_ptr<char[]> data, size_t size) {
  std::unique_ptr<Block> b(new Block(Passkey()));
  b->owned_buffer_ = std::move(data);
  b->data_ = std::string_view(b->owned_buffer_.get(), size);
  b->ParseTrailer();
  return b;
}

std::shared_ptr<const Block> Block::OwnShared(std::unique_ptr<char[]> data, size_t size) {
  auto b = std::make_shared<Block>(Passkey());
  b->owned_buffer_ = std::move(data);
  b->data_ = std::string_view(b->owned_buffer_.get(), size);
  b->ParseTrailer();
  return b;
}

std::unique_ptr<Block> Block::Borrow(std::string_view contents) {
  std::unique_ptr<Block> b(new Block(Passkey()));
  b->data_ = contents;
  b->ParseTrailer();
  return b;
}

std::unique_ptr<Iterator> Block::NewIterator(const Comparator* cmp, size_t min_key_size) const {
  return std::make_unique<BlockIterator>(this, cmp, min_key_size);
}

BlockIterator::BlockIterator(const Block* block, const Comparator* cmp, size_t min_key_size)
    : block_(block),
      cmp_(cmp),
      min_key_size_(min_key_size),
      current_(block->restarts_offset_),
      next_(block->restarts_offset_),
      status_(block->status_) {}

void BlockIterator::MarkCorrupt(const char* why) {
  status_ = util::Status::Corruption(why);
  current_ = next_ = block_->restarts_offset_;
  key_.clear();
  value_ = {};
}

bool BlockIterator::RestartOffset(uint32_t index, uint32_t* offset) {
  const char* p = block_->data_.data() + block_->restarts_offset_ + index * sizeof(uint32_t);
  uint32_t off = sst::DecodeFixed32(p);
  // Only an empty block (no entries) has a restart point at the entries' end.
  if (off > block_->restarts_offset_ || (off == block_->restarts_offset_ && off != 0)) {
    MarkCorrupt("restart point past the end of the entries");
    return false;
  }
  *offset = off;
  return true;
}

bool BlockIterator::ParseNextEntry() {
  const char* base = block_->data_.data();
  const char* p = base + next_;
  const char* limit = base + block_->restarts_offset_;
  uint32_t shared, non_shared, value_len;
  if (!DecodeVarint32(&p, limit, &shared) || !DecodeVarint32(&p, limit, &non_shared) ||
      !DecodeVarint32(&p, limit, &value_len)) {
    MarkCorrupt("bad entry header in block");
    return false;
  }
  const uint64_t rest = static_cast<uint64_t>(limit - p);
  if (shared > key_.size() || static_cast<uint64_t>(non_shared) + value_len > rest) {
    MarkCorrupt("bad entry lengths in block");
    return false;
  }
  if (static_cast<uint64_t>(shared) + non_shared < min_key_size_) {
    MarkCorrupt("key too short in block");
    return false;
  }
  current_ = next_;
  key_.resize(shared);
  key_.append(p, non_shared);
  value_ = std::string_view(p + non_shared, value_len);
  next_ = static_cast<uint32_t>(p + non_shared + value_len - base);
  return true;
}

bool BlockIterator::RestartKey(uint32_t index, std::string_view* key) {
  uint32_t off;
  if (!RestartOffset(index, &off)) return false;
  const char* base = block_->data_.data();
  const char* p = base + off;
  const char* limit = base + block_->restarts_offset_;
  uint32_t shared, non_shared, value_len;
  if (!DecodeVarint32(&p, limit, &shared) || !DecodeVarint32(&p, limit, &non_shared) ||
      !DecodeVarint32(&p, limit, &value_len)) {
    MarkCorrupt("bad entry header in block");
    return false;
  }
  if (shared != 0 ||
      static_cast<uint64_t>(non_shared) + value_len > static_cast<uint64_t>(limit - p)) {
    MarkCorrupt("bad restart entry in block");
    return false;
  }
  if (non_shared < min_key_size_) {
    MarkCorrupt("key too short in block");
    return false;
  }
  *key = std::string_view(p, non_shared);  // a restart entry stores its whole key
  return true;
}

void BlockIterator::SeekToRestart(uint32_t index) {
  uint32_t off;
  if (!RestartOffset(index, &off)) return;
  key_.clear();  // a restart entry shares nothing, so a non-zero `shared` fails to parse
  next_ = off;
  current_ = block_->restarts_offset_;
}

void BlockIterator::SeekToFirst() {
  if (!status_.ok()) return;
  SeekToRestart(0);
  if (!status_.ok()) return;
  Next();
}

void BlockIterator::Next() {
  if (!status_.ok()) return;
  if (next_ >= block_->restarts_offset_) {
    current_ = next_ = block_->restarts_offset_;  // end
    return;
  }
  ParseNextEntry();
}

void BlockIterator::Seek(std::string_view target) {
  if (!status_.ok()) return;
  // Find the last restart point whose key is < target: every entry before it
  // is < target too, so the answer is at or after it.
  uint32_t left = 0, right = block_->num_restarts_ - 1;
  while (left < right) {
    uint32_t mid = left + (right - left + 1) / 2;
    std::string_view restart_key;
    if (!RestartKey(mid, &restart_key)) return;
    if (cmp_->Compare(restart_key, target) < 0) {
      left = mid;
    } else {
      right = mid - 1;
    }
  }
  SeekToRestart(left);
  if (!status_.ok()) return;
  // Linear scan: at most one restart interval (or to the end).
  while (true) {
    Next();
    if (!Valid()) return;
    if (cmp_->Compare(key_, target) >= 0) return;
  }
}

}  // namespace kv::storage
