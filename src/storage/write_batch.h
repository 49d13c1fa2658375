// WriteBatch: a group of puts and deletes applied atomically, and the
// payload of one WAL record. Its bytes (Contents()) are exactly what the WAL
// stores, so logging a batch is one AddRecord and recovery replays a record
// by handing its bytes to SetContents() and Iterate().
//
//   batch    := sequence:fixed64 count:fixed32 op{count}
//   op       := kTypeValue:uint8 key:lp value:lp | kTypeDeletion:uint8 key:lp
//   lp       := length:varint bytes
//
// The i-th op (from 0) gets sequence number `sequence + i`. FORMAT.md
// ("Write batch") has the details.
//
// Thread safety: a value; no internal synchronisation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "storage/dbformat.h"
#include "util/status.h"

namespace kv::storage {

class WriteBatch {
 public:
  // DO NOT CHANGE: on disk. sequence (8) + count (4).
  static constexpr size_t kHeaderSize = 12;

  // Receives a batch's ops in order.
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void Put(std::string_view key, std::string_view value) = 0;
    virtual void Delete(std::string_view key) = 0;
  };

  WriteBatch();

  // Adds an op; keys and values are copied.
  void Put(std::string_view key, std::string_view value);
  void Delete(std::string_view key);
  // Appends all of `other`'s ops after this batch's (group commit). Keeps
  // this batch's sequence.
  void Append(const WriteBatch& other);
  // Removes every op; sequence becomes 0.
  void Clear();

  uint32_t Count() const;
  SequenceNumber Sequence() const;
  void SetSequence(SequenceNumber seq);

  // The encoded batch; valid until the batch is next modified.
  std::string_view Contents() const { return rep_; }
  // Replaces the batch with `contents` (a WAL record). Corruption if it is
  // shorter than the header; the ops are validated by Iterate().
  [[nodiscard]] util::Status SetContents(std::string_view contents);

  // Calls `handler` for each op in order. The whole batch is validated
  // first (tags, every length against the bytes left, the op count against
  // the header, no trailing bytes), so on Corruption the handler has seen
  // nothing: a batch applies whole or not at all.
  [[nodiscard]] util::Status Iterate(Handler* handler) const;

  // Bytes of the encoding: what the batch costs in the WAL.
  size_t ApproximateSize() const { return rep_.size(); }

 private:
  void SetCount(uint32_t n);
  // Walks the ops; calls handler if it is not null.
  util::Status Walk(Handler* handler) const;

  std::string rep_;
};

}  // namespace kv::storage
