#include "storage/log_writer.h"

#include <algorithm>

#include "util/crc32c.h"

namespace kv::storage::log {

using util::Status;

Writer::Writer(WritableFile* dest, uint64_t initial_offset)
    : dest_(dest), offset_(initial_offset), block_offset_(initial_offset % kBlockSize) {
  for (int t = 0; t <= kMaxRecordType; t++) {
    char c = static_cast<char>(t);
    type_crc_[t] = util::crc32c::Value(&c, 1);
  }
}

Status Writer::AddRecord(std::string_view payload) {
  if (!error_.ok()) return error_;
  const char* p = payload.data();
  size_t left = payload.size();
  // An empty payload still produces one (zero-length) FULL fragment, so
  // the loop runs at least once.
  bool begin = true;
  do {
    size_t leftover = kBlockSize - block_offset_;
    if (leftover < kHeaderSize) {
      // Too small for a header: pad the block with zeros (the reader skips a
      // block tail shorter than a header) and start the next one.
      if (leftover > 0) {
        static constexpr char kZeros[kHeaderSize] = {};
        Status s = dest_->Append(std::string_view(kZeros, leftover));
        if (!s.ok()) {
          error_ = s;
          return s;
        }
        offset_ += leftover;
      }
      block_offset_ = 0;
    }
    size_t avail = kBlockSize - block_offset_ - kHeaderSize;
    size_t n = std::min(left, avail);
    bool end = (n == left);
    uint8_t type = begin && end ? kFullType : begin ? kFirstType : end ? kLastType : kMiddleType;
    Status s = EmitFragment(type, p, n);
    if (!s.ok()) {
      error_ = s;
      return s;
    }
    p += n;
    left -= n;
    begin = false;
  } while (left > 0);
  return Status::OK();
}

Status Writer::EmitFragment(uint8_t type, const char* data, size_t n) {
  // n <= kBlockSize - kHeaderSize, so it fits the 2-byte length.
  char header[kHeaderSize];
  uint32_t crc = util::crc32c::Mask(util::crc32c::Extend(type_crc_[type], data, n));
  for (int i = 0; i < 4; i++) header[i] = static_cast<char>(crc >> (8 * i));
  header[4] = static_cast<char>(n & 0xff);
  header[5] = static_cast<char>(n >> 8);
  header[6] = static_cast<char>(type);
  Status s = dest_->Append(std::string_view(header, kHeaderSize));
  if (s.ok()) s = dest_->Append(std::string_view(data, n));
  // Counted even on failure: the file may hold some of these bytes, and the
  // error is sticky, so offset_ is never used to place another record.
  offset_ += kHeaderSize + n;
  block_offset_ += kHeaderSize + n;
  return s;
}

}  // namespace kv::storage::log
