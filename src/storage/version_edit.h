// VersionEdit: one manifest record, the difference between two Versions
// (files added and removed per level) plus the counters recovery needs
// (log number, next file number, last sequence). The manifest is a log
// (log_format.h) of encoded VersionEdits; replaying them from the first
// gives the current set of live files. Encoding in FORMAT.md, "Manifest".
//
// Thread safety: a value; no internal synchronisation.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/dbformat.h"
#include "util/status.h"

namespace kv::storage {

// One SSTable as the manifest records it.
struct FileMetaData {
  uint64_t number = 0;
  uint64_t file_size = 0;
  std::string smallest;  // internal keys (dbformat.h), inclusive bounds
  std::string largest;
};

// Decoding refuses a level at or above this. It only bounds what a corrupt
// record can ask for; the VersionSet still checks against its own level
// count (kNumLevels).
constexpr int kMaxEncodedLevel = 64;

class VersionEdit {
 public:
  VersionEdit() = default;

  void Clear() { *this = VersionEdit(); }

  void SetComparatorName(std::string_view name) {
    has_comparator_ = true;
    comparator_.assign(name.data(), name.size());
  }
  // WALs numbered below `n` are no longer needed (their data is in tables).
  void SetLogNumber(uint64_t n) {
    has_log_number_ = true;
    log_number_ = n;
  }
  void SetNextFileNumber(uint64_t n) {
    has_next_file_number_ = true;
    next_file_number_ = n;
  }
  void SetLastSequence(SequenceNumber seq) {
    has_last_sequence_ = true;
    last_sequence_ = seq;
  }
  // Where the next compaction of `level` starts (an internal key).
  void SetCompactPointer(int level, std::string_view internal_key) {
    compact_pointers_.emplace_back(level, std::string(internal_key));
  }
  // REQUIRES: 0 <= level < kMaxEncodedLevel (for all three adders).
  void AddFile(int level, const FileMetaData& f) { new_files_.emplace_back(level, f); }
  void AddFile(int level, uint64_t number, uint64_t file_size, std::string_view smallest,
               std::string_view largest) {
    AddFile(level, FileMetaData{number, file_size, std::string(smallest), std::string(largest)});
  }
  void RemoveFile(int level, uint64_t number) { deleted_files_.emplace(level, number); }

  bool has_comparator() const { return has_comparator_; }
  const std::string& comparator() const { return comparator_; }
  bool has_log_number() const { return has_log_number_; }
  uint64_t log_number() const { return log_number_; }
  bool has_next_file_number() const { return has_next_file_number_; }
  uint64_t next_file_number() const { return next_file_number_; }
  bool has_last_sequence() const { return has_last_sequence_; }
  SequenceNumber last_sequence() const { return last_sequence_; }
  const std::vector<std::pair<int, std::string>>& compact_pointers() const {
    return compact_pointers_;
  }
  // (level, file number), ordered.
  const std::set<std::pair<int, uint64_t>>& deleted_files() const { return deleted_files_; }
  const std::vector<std::pair<int, FileMetaData>>& new_files() const { return new_files_; }

  // Appends the encoding to *dst.
  void EncodeTo(std::string* dst) const;
  // Replaces *this with the edit encoded in `src`. Corruption (naming the
  // field) on a truncated field, an unknown required tag, a level out of
  // range, an internal key shorter than 8 bytes or an unknown value type;
  // *this is then unspecified. Optional fields of a newer format (tags with
  // kOptionalTagBit) that this build does not know are skipped.
  [[nodiscard]] util::Status DecodeFrom(std::string_view src);

  // One line per field, for logs and tests.
  std::string DebugString() const;

  // DO NOT CHANGE: on disk. A tag with this bit set is followed by a
  // length-prefixed body that a reader which does not know the tag may
  // skip; a tag without it must be understood (FORMAT.md, "Manifest").
  static constexpr uint64_t kOptionalTagBit = 1u << 12;

 private:
  bool has_comparator_ = false;
  bool has_log_number_ = false;
  bool has_next_file_number_ = false;
  bool has_last_sequence_ = false;
  std::string comparator_;
  uint64_t log_number_ = 0;
  uint64_t next_file_number_ = 0;
  SequenceNumber last_sequence_ = 0;
  std::vector<std::pair<int, std::string>> compact_pointers_;
  std::set<std::pair<int, uint64_t>> deleted_files_;
  std::vector<std::pair<int, FileMetaData>> new_files_;
};

}  // namespace kv::storage
