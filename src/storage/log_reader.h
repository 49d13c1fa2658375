// log::Reader reads the records of a log file (WAL or manifest) written by
// log::Writer, checking every fragment's CRC32C, and tells a torn tail from
// corruption:
//
//  - A damaged region followed by at least one good record is CORRUPTION:
//    bytes the writer once completed were lost. The reader skips it (to the
//    next block boundary, where a fragment header always starts), reports it
//    through the Reporter with its file offset, counts it, and goes on.
//  - A damaged region that runs to the end of the file is a TORN TAIL: what
//    a crash leaves when the last write was cut off (header or payload
//    missing, a fragmented record without its end, a zero-filled or garbled
//    unsynced tail). Reading stops cleanly; it is not reported as
//    corruption; torn_tail() says it happened and LastRecordEndOffset() is
//    where the DB truncates the file before appending again.
//
// Which case a damaged region is can only be known once the reader sees what
// follows it, so the Reporter hears of a corruption just before the next good
// record is returned.
//
// Thread safety: not thread safe; one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "storage/env.h"
#include "storage/log_format.h"
#include "util/status.h"

namespace kv::storage::log {

class Reader {
 public:
  // Told about corruption (never about a torn tail).
  class Reporter {
   public:
    virtual ~Reporter() = default;
    // `bytes` (headers included) were dropped; `status` is a Corruption whose
    // message names the cause and the file offset where the region starts.
    virtual void Corruption(size_t bytes, const util::Status& status) = 0;
  };

  // Reads `file` from its current position, which must be offset 0 of the
  // log. `file` is borrowed and must outlive the Reader. `reporter` may be
  // null (corruption is still counted). With verify_checksums false the
  // CRCs are not checked (lengths and types still are).
  Reader(SequentialFile* file, Reporter* reporter, bool verify_checksums);

  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // Reads the next record into *record and returns true, or returns false at
  // the end of the log (a clean end, a torn tail, or a read error: see
  // status() and torn_tail()). *record points into *scratch or into the
  // Reader's block buffer and stays valid until the next call.
  bool ReadRecord(std::string_view* record, std::string* scratch);

  // File offset just past the last record ReadRecord returned (0 before
  // any): the length of the log's good prefix once ReadRecord returned false.
  uint64_t LastRecordEndOffset() const { return last_record_end_offset_; }

  // After ReadRecord returned false: true if the file holds bytes past the
  // last good record (a damaged region, a record cut off, or the block
  // padding a cut-off record began with); torn_tail_bytes() counts them.
  // False for a clean end or when status() is an error.
  bool torn_tail() const { return torn_tail_; }
  uint64_t torn_tail_bytes() const { return torn_tail_bytes_; }
  // Damaged regions reported as corruption so far, and their total bytes.
  uint64_t corruption_count() const { return corruption_count_; }
  uint64_t corrupted_bytes() const { return corrupted_bytes_; }
  // OK, or the error that stopped reading: an IOError from the file, or a
  // Corruption for a well-formed fragment of a type this build does not know
  // (a log written by a newer format). Neither is a torn tail: the caller
  // must not truncate the log after one.
  const util::Status& status() const { return status_; }

 private:
  // ReadFragment's results besides a RecordType.
  enum : int { kEof = kMaxRecordType + 1, kBadFragment = kMaxRecordType + 2 };

  // Reads the next block into buffer_ (short at the end of the file, which
  // sets eof_). False on a read error (status_ set).
  bool ReadBlock();
  // Returns a fragment's type and payload (and its file offset), kEof, or
  // kBadFragment after recording the dropped bytes with MarkBad.
  int ReadFragment(std::string_view* fragment, uint64_t* fragment_offset);
  // Adds [offset, offset + bytes) to the pending damaged region.
  void MarkBad(uint64_t offset, uint64_t bytes, const char* reason);
  // A good record ends at `end_offset`: a pending region was corruption.
  void AcceptRecord(uint64_t end_offset);

  SequentialFile* const file_;
  Reporter* const reporter_;
  const bool verify_checksums_;
  std::unique_ptr<char[]> block_;   // kBlockSize bytes
  std::string_view buffer_;         // unread part of the current block
  uint64_t buffer_end_offset_ = 0;  // file offset just past buffer_
  bool eof_ = false;                // the last block read was short
  bool done_ = false;               // ReadRecord has returned false for good

  uint64_t last_record_end_offset_ = 0;

  // The damaged region seen since the last good record, not yet classified
  // ([pending_start_, pending_end_), empty if equal), and its first cause.
  uint64_t pending_start_ = 0;
  uint64_t pending_end_ = 0;
  std::string pending_reason_;

  bool torn_tail_ = false;
  uint64_t torn_tail_bytes_ = 0;
  uint64_t corruption_count_ = 0;
  uint64_t corrupted_bytes_ = 0;
  util::Status status_;
};

}  // namespace kv::storage::log
