#include "storage/log_reader.h"

#include <algorithm>
#include <cstring>

#include "util/crc32c.h"

namespace kv::storage::log {

using util::Status;

Reader::Reader(SequentialFile* file, Reporter* reporter, bool verify_checksums)
    : file_(file),
      reporter_(reporter),
      verify_checksums_(verify_checksums),
      block_(new char[kBlockSize]) {}

bool Reader::ReadBlock() {
  // SequentialFile::Read may return fewer bytes than asked before the end of
  // the file, so fill the block until it is full or a read returns nothing.
  size_t filled = 0;
  while (filled < kBlockSize) {
    std::string_view got;
    Status s = file_->Read(kBlockSize - filled, &got, block_.get() + filled);
    if (!s.ok()) {
      status_ = s;
      return false;
    }
    if (got.empty()) break;
    char* dst = block_.get() + filled;
    if (got.data() != dst) std::memmove(dst, got.data(), got.size());
    filled += got.size();
  }
  buffer_ = std::string_view(block_.get(), filled);
  buffer_end_offset_ += filled;
  if (filled < kBlockSize) eof_ = true;
  return true;
}

int Reader::ReadFragment(std::string_view* fragment, uint64_t* fragment_offset) {
  while (true) {
    if (buffer_.size() < kHeaderSize) {
      if (!eof_) {
        // The tail of a full block too short for a header is the writer's
        // zero padding: skip it and read the next block.
        buffer_ = {};
        if (!ReadBlock()) return kEof;
        continue;
      }
      // End of file. Fewer bytes than a header left: a header cut short.
      if (!buffer_.empty()) {
        MarkBad(buffer_end_offset_ - buffer_.size(), buffer_.size(), "truncated fragment header");
        buffer_ = {};
      }
      return kEof;
    }

    const uint64_t offset = buffer_end_offset_ - buffer_.size();
    const auto* h = reinterpret_cast<const uint8_t*>(buffer_.data());
    const size_t length = static_cast<size_t>(h[4]) | (static_cast<size_t>(h[5]) << 8);
    const uint8_t type = h[6];

    if (type == kZeroType && length == 0) {
      // The writer never emits this: a preallocated or zero-filled region
      // (a crash after the file grew but before its data reached the disk).
      MarkBad(offset, buffer_.size(), "zero-filled region");
      buffer_ = {};
      return kBadFragment;
    }
    if (kHeaderSize + length > buffer_.size()) {
      // In the last, short block this is a fragment cut off by the end of
      // the file; in a full block the length itself is damaged.
      MarkBad(offset, buffer_.size(), eof_ ? "truncated fragment" : "bad fragment length");
      buffer_ = {};
      return kBadFragment;
    }
    if (verify_checksums_) {
      uint32_t stored = static_cast<uint32_t>(h[0]) | (static_cast<uint32_t>(h[1]) << 8) |
                        (static_cast<uint32_t>(h[2]) << 16) | (static_cast<uint32_t>(h[3]) << 24);
      uint32_t actual = util::crc32c::Value(buffer_.data() + 6, 1 + length);
      if (util::crc32c::Unmask(stored) != actual) {
        // The length cannot be trusted either, so the rest of the block
        // goes; the next block starts with a header. (Resyncing inside the
        // block by guessing would let a value that looks like a fragment be
        // taken for one.)
        MarkBad(offset, buffer_.size(), "checksum mismatch");
        buffer_ = {};
        return kBadFragment;
      }
    }
    buffer_.remove_prefix(kHeaderSize + length);
    if (type == kZeroType || type > kMaxRecordType) {
      if (verify_checksums_) {
        // A well-formed fragment of a type this build does not know was
        // written by a newer format, not by a crash: stop, so the caller
        // never truncates (or skips) what it cannot read.
        status_ = Status::Corruption("log record of unknown type " + std::to_string(type) +
                                     " at offset " + std::to_string(offset) +
                                     " (written by a newer version of kv?)");
        return kEof;
      }
      MarkBad(offset, kHeaderSize + length, "unknown fragment type");
      return kBadFragment;
    }
    *fragment = std::string_view(reinterpret_cast<const char*>(h) + kHeaderSize, length);
    *fragment_offset = offset;
    return type;
  }
}

void Reader::MarkBad(uint64_t offset, uint64_t bytes, const char* reason) {
  uint64_t end = offset + bytes;
  if (pending_end_ == pending_start_) {
    pending_start_ = offset;
    pending_end_ = end;
    pending_reason_ = reason;
    return;
  }
  pending_start_ = std::min(pending_start_, offset);
  pending_end_ = std::max(pending_end_, end);
}

void Reader::AcceptRecord(uint64_t end_offset) {
  if (pending_end_ > pending_start_) {
    uint64_t bytes = pending_end_ - pending_start_;
    corruption_count_++;
    corrupted_bytes_ += bytes;
    if (reporter_ != nullptr) {
      reporter_->Corruption(
          static_cast<size_t>(bytes),
          Status::Corruption(pending_reason_ + " at offset " + std::to_string(pending_start_) +
                             ", " + std::to_string(bytes) + " bytes dropped"));
    }
    pending_start_ = pending_end_ = 0;
    pending_reason_.clear();
  }
  last_record_end_offset_ = end_offset;
}

bool Reader::ReadRecord(std::string_view* record, std::string* scratch) {
  if (done_) return false;
  scratch->clear();
  bool in_fragmented = false;
  uint64_t record_offset = 0;  // of the FIRST fragment, while in_fragmented
  while (true) {
    std::string_view fragment;
    uint64_t offset = 0;
    const int type = ReadFragment(&fragment, &offset);
    const uint64_t end = offset + kHeaderSize + fragment.size();
    switch (type) {
      case kFullType:
        if (in_fragmented) {
          MarkBad(record_offset, offset - record_offset, "record without its last fragment");
          scratch->clear();
        }
        *record = fragment;
        AcceptRecord(end);
        return true;

      case kFirstType:
        if (in_fragmented) {
          MarkBad(record_offset, offset - record_offset, "record without its last fragment");
        }
        scratch->assign(fragment.data(), fragment.size());
        in_fragmented = true;
        record_offset = offset;
        break;

      case kMiddleType:
        if (in_fragmented) {
          scratch->append(fragment.data(), fragment.size());
        } else {
          MarkBad(offset, end - offset, "fragment without the start of its record");
        }
        break;

      case kLastType:
        if (in_fragmented) {
          scratch->append(fragment.data(), fragment.size());
          *record = *scratch;
          AcceptRecord(end);
          return true;
        }
        MarkBad(offset, end - offset, "fragment without the start of its record");
        break;

      case kBadFragment:
        // The damaged region is marked; a record it interrupted goes too.
        if (in_fragmented) {
          MarkBad(record_offset, pending_end_ - record_offset, "record without its last fragment");
          in_fragmented = false;
          scratch->clear();
        }
        break;

      case kEof:
      default:
        done_ = true;
        if (status_.ok()) {
          // Bytes past the last good record: a torn tail (a damaged region,
          // a record cut off, or only the padding its write began with).
          torn_tail_bytes_ = buffer_end_offset_ - last_record_end_offset_;
          torn_tail_ = torn_tail_bytes_ > 0;
        }
        pending_start_ = pending_end_ = 0;
        scratch->clear();
        return false;
    }
  }
}

}  // namespace kv::storage::log
