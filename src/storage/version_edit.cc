#include "storage/version_edit.h"

#include "util/coding.h"

namespace kv::storage {

using util::Status;

namespace {

// DO NOT CHANGE: on disk. Tag numbers of the manifest record's fields; new
// required fields take new numbers below kOptionalTagBit, new optional ones
// numbers with it set. Never reuse a number.
enum Tag : uint64_t {
  kComparator = 1,
  kLogNumber = 2,
  kNextFileNumber = 3,
  kLastSequence = 4,
  kCompactPointer = 5,
  kDeletedFile = 6,
  kNewFile = 7,
};

bool GetLevel(std::string_view* in, int* level) {
  uint64_t v;
  if (!util::GetVarint64(in, &v) || v >= static_cast<uint64_t>(kMaxEncodedLevel)) return false;
  *level = static_cast<int>(v);
  return true;
}

bool GetInternalKey(std::string_view* in, std::string* dst) {
  std::string_view key;
  ParsedInternalKey parsed;
  if (!util::GetLengthPrefixed(in, &key) || !ParseInternalKey(key, &parsed)) return false;
  dst->assign(key.data(), key.size());
  return true;
}

// Printable form of an internal key for DebugString: user key escaped,
// then @sequence and the type.
std::string ShowInternalKey(std::string_view ikey) {
  ParsedInternalKey p;
  if (!ParseInternalKey(ikey, &p)) return "<bad internal key>";
  std::string out = "'";
  for (unsigned char c : p.user_key) {
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  out += "' @ " + std::to_string(p.sequence) + (p.type == kTypeValue ? " put" : " del");
  return out;
}

}  // namespace

void VersionEdit::EncodeTo(std::string* dst) const {
  if (has_comparator_) {
    util::PutVarint64(dst, kComparator);
    util::PutLengthPrefixed(dst, comparator_);
  }
  if (has_log_number_) {
    util::PutVarint64(dst, kLogNumber);
    util::PutVarint64(dst, log_number_);
  }
  if (has_next_file_number_) {
    util::PutVarint64(dst, kNextFileNumber);
    util::PutVarint64(dst, next_file_number_);
  }
  if (has_last_sequence_) {
    util::PutVarint64(dst, kLastSequence);
    util::PutVarint64(dst, last_sequence_);
  }
  for (const auto& [level, key] : compact_pointers_) {
    util::PutVarint64(dst, kCompactPointer);
    util::PutVarint64(dst, static_cast<uint64_t>(level));
    util::PutLengthPrefixed(dst, key);
  }
  for (const auto& [level, number] : deleted_files_) {
    util::PutVarint64(dst, kDeletedFile);
    util::PutVarint64(dst, static_cast<uint64_t>(level));
    util::PutVarint64(dst, number);
  }
  for (const auto& [level, f] : new_files_) {
    util::PutVarint64(dst, kNewFile);
    util::PutVarint64(dst, static_cast<uint64_t>(level));
    util::PutVarint64(dst, f.number);
    util::PutVarint64(dst, f.file_size);
    util::PutLengthPrefixed(dst, f.smallest);
    util::PutLengthPrefixed(dst, f.largest);
  }
}

Status VersionEdit::DecodeFrom(std::string_view src) {
  Clear();
  std::string_view in = src;
  while (!in.empty()) {
    uint64_t tag;
    if (!util::GetVarint64(&in, &tag)) return Status::Corruption("manifest record: bad field tag");
    const char* field = nullptr;  // set when the field is malformed
    switch (tag) {
      case kComparator: {
        std::string_view name;
        if (util::GetLengthPrefixed(&in, &name)) {
          SetComparatorName(name);
        } else {
          field = "comparator name";
        }
        break;
      }
      case kLogNumber:
        if (util::GetVarint64(&in, &log_number_)) {
          has_log_number_ = true;
        } else {
          field = "log number";
        }
        break;
      case kNextFileNumber:
        if (util::GetVarint64(&in, &next_file_number_)) {
          has_next_file_number_ = true;
        } else {
          field = "next file number";
        }
        break;
      case kLastSequence:
        if (util::GetVarint64(&in, &last_sequence_) && last_sequence_ <= kMaxSequenceNumber) {
          has_last_sequence_ = true;
        } else {
          field = "last sequence";
        }
        break;
      case kCompactPointer: {
        int level;
        std::string key;
        if (GetLevel(&in, &level) && GetInternalKey(&in, &key)) {
          compact_pointers_.emplace_back(level, std::move(key));
        } else {
          field = "compact pointer";
        }
        break;
      }
      case kDeletedFile: {
        int level;
        uint64_t number;
        if (GetLevel(&in, &level) && util::GetVarint64(&in, &number)) {
          deleted_files_.emplace(level, number);
        } else {
          field = "deleted file";
        }
        break;
      }
      case kNewFile: {
        int level;
        FileMetaData f;
        if (GetLevel(&in, &level) && util::GetVarint64(&in, &f.number) &&
            util::GetVarint64(&in, &f.file_size) && GetInternalKey(&in, &f.smallest) &&
            GetInternalKey(&in, &f.largest)) {
          new_files_.emplace_back(level, std::move(f));
        } else {
          field = "new file";
        }
        break;
      }
      default: {
        if ((tag & kOptionalTagBit) == 0) {
          return Status::Corruption("manifest record: unknown field tag " + std::to_string(tag) +
                                    " (written by a newer version of kv?)");
        }
        std::string_view body;
        if (!util::GetLengthPrefixed(&in, &body)) field = "optional field";
        break;
      }
    }
    if (field != nullptr) {
      return Status::Corruption(std::string("manifest record: bad ") + field + " field");
    }
  }
  return Status::OK();
}

std::string VersionEdit::DebugString() const {
  std::string r = "VersionEdit {";
  if (has_comparator_) r += "\n  comparator: " + comparator_;
  if (has_log_number_) r += "\n  log number: " + std::to_string(log_number_);
  if (has_next_file_number_) r += "\n  next file number: " + std::to_string(next_file_number_);
  if (has_last_sequence_) r += "\n  last sequence: " + std::to_string(last_sequence_);
  for (const auto& [level, key] : compact_pointers_) {
    r += "\n  compact pointer: level " + std::to_string(level) + " " + ShowInternalKey(key);
  }
  for (const auto& [level, number] : deleted_files_) {
    r += "\n  remove file: level " + std::to_string(level) + " #" + std::to_string(number);
  }
  for (const auto& [level, f] : new_files_) {
    r += "\n  add file: level " + std::to_string(level) + " #" + std::to_string(f.number) + " " +
         std::to_string(f.file_size) + " bytes [" + ShowInternalKey(f.smallest) + " .. " +
         ShowInternalKey(f.largest) + "]";
  }
  r += "\n}";
  return r;
}

}  // namespace kv::storage
