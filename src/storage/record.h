// Record: the stored state of one key, as DESIGN.md section 4 defines it: a
// causal context (version vector) and a set of sibling versions, each with
// its dot, a timestamp, an expiry and a value or a tombstone. Engines store
// records as opaque bytes in this encoding (FORMAT.md, "Record value"), so
// the in-memory engine and the LSM hold exactly the same thing.
//
// Thread safety: values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace kv::storage {

// DO NOT CHANGE: the first byte of every encoded record.
constexpr uint8_t kRecordFormatV1 = 1;

// The node that coordinated a write and that node's counter for it.
struct Dot {
  uint64_t node = 0;
  uint64_t counter = 0;
  bool operator==(const Dot&) const = default;
};

// One sibling. `value` points into the encoded record it was decoded from.
struct VersionView {
  Dot dot;
  int64_t timestamp_ms = 0;
  int64_t expire_at_ms = 0;  // 0 = never
  bool tombstone = false;
  std::string_view value;

  bool ExpiredAt(int64_t now_ms) const { return expire_at_ms != 0 && expire_at_ms <= now_ms; }
};

// A decoded record; views into the encoded bytes, which must outlive it.
struct RecordView {
  std::vector<Dot> context;
  std::vector<VersionView> siblings;

  // The sibling plain Redis commands see: highest timestamp, then highest
  // node id, then the larger value (DESIGN.md's deterministic winner).
  // nullptr if there are no siblings.
  const VersionView* Winner() const;
};

// Decodes `encoded` into *out (reusing its vectors' capacity). Corruption
// if the bytes are not a well-formed version-1 record.
[[nodiscard]] util::Status DecodeRecord(std::string_view encoded, RecordView* out);

// Appends the encoding of a record with `context` and `siblings` to *dst.
void EncodeRecord(const std::vector<Dot>& context, const std::vector<VersionView>& siblings,
                  std::string* dst);

// Fast path for the common shape: one live sibling whose dot is also the
// whole context entry for its node. Appends to *dst.
void EncodeSingleVersion(const std::vector<Dot>& context, const VersionView& version,
                         std::string* dst);

// The expiry an engine indexes a record under: the winner's expire_at, or 0.
int64_t RecordExpireAt(const RecordView& record);

}  // namespace kv::storage
