// log::Writer appends records to a log file in the block format of
// log_format.h (used for the WAL and for the manifest).
//
// Thread safety: not thread safe; one writer per file, used by one thread at
// a time (the DB serialises writers).
#pragma once

#include <cstdint>
#include <string_view>

#include "storage/env.h"
#include "storage/log_format.h"
#include "util/status.h"

namespace kv::storage::log {

class Writer {
 public:
  // Appends to `dest`, which already holds `initial_offset` bytes of log
  // (0 for a new file; the recovered length when reopening a log, so the
  // block boundaries stay where the reader expects them). `dest` is
  // borrowed and must outlive the Writer.
  Writer(WritableFile* dest, uint64_t initial_offset);

  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Appends `payload` (any size, including empty) as one record into the
  // file's buffer. Neither flushes nor syncs: the owner calls dest->Flush()
  // (the WAL: once per event-loop iteration, so a pipeline of writes costs
  // one write(2)) and dest->Sync() when a record must survive a power loss.
  //
  // On error the file may hold part of the record. The error is sticky:
  // every later AddRecord returns it without writing, because the block
  // position is no longer known. The caller stops using this log (the
  // reader treats the partial record as a torn tail).
  [[nodiscard]] util::Status AddRecord(std::string_view payload);

  // Bytes in the file after the last record, counting initial_offset and
  // block-trailer padding: where the next record will start.
  uint64_t offset() const { return offset_; }

 private:
  util::Status EmitFragment(uint8_t type, const char* data, size_t n);

  WritableFile* dest_;
  uint64_t offset_;
  size_t block_offset_;  // offset_ % kBlockSize
  util::Status error_;   // sticky, see AddRecord
  // CRC32C of each type byte, precomputed: every fragment's CRC starts there.
  uint32_t type_crc_[kMaxRecordType + 1];
};

}  // namespace kv::storage::log
