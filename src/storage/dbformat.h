// Internal keys of the LSM: every entry in the memtable and in SSTables is
// keyed by (storage key, sequence number, type), ordered by storage key
// ascending then sequence descending, so the newest entry for a key comes
// first. Layout: storage_key bytes, then a fixed64 of (sequence << 8 | type).
// This is LevelDB's scheme; see FORMAT.md.
//
// Thread safety: pure functions and immutable comparators.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "util/coding.h"

namespace kv::storage {

using SequenceNumber = uint64_t;
constexpr SequenceNumber kMaxSequenceNumber = (1ULL << 56) - 1;

// DO NOT CHANGE: stored in every internal key.
enum ValueType : uint8_t { kTypeDeletion = 0, kTypeValue = 1 };
// Seek targets use the highest type so they sort before every entry of the
// same key and sequence.
constexpr ValueType kValueTypeForSeek = kTypeValue;

inline uint64_t PackSequenceAndType(SequenceNumber seq, ValueType t) { return (seq << 8) | t; }

inline void AppendInternalKey(std::string* dst, std::string_view user_key, SequenceNumber seq,
                              ValueType t) {
  dst->append(user_key.data(), user_key.size());
  util::PutFixed64(dst, PackSequenceAndType(seq, t));
}

struct ParsedInternalKey {
  std::string_view user_key;
  SequenceNumber sequence = 0;
  ValueType type = kTypeValue;
};

inline uint64_t DecodeTrailer(std::string_view ikey) {
  return util::DecodeFixed64(ikey.data() + ikey.size() - 8);
}

// False if `ikey` is too short or has an unknown type.
inline bool ParseInternalKey(std::string_view ikey, ParsedInternalKey* out) {
  if (ikey.size() < 8) return false;
  uint64_t t = DecodeTrailer(ikey);
  uint8_t type = static_cast<uint8_t>(t & 0xff);
  if (type > kTypeValue) return false;
  out->user_key = ikey.substr(0, ikey.size() - 8);
  out->sequence = t >> 8;
  out->type = static_cast<ValueType>(type);
  return true;
}

// REQUIRES: ikey.size() >= 8.
inline std::string_view ExtractUserKey(std::string_view ikey) {
  return ikey.substr(0, ikey.size() - 8);
}

// Orders keys. Implementations must be thread safe.
class Comparator {
 public:
  virtual ~Comparator() = default;
  virtual int Compare(std::string_view a, std::string_view b) const = 0;
  // Persisted in SSTables' metadata; a table made with another order is
  // refused.
  virtual const char* Name() const = 0;
};

// memcmp order (storage keys).
const Comparator* BytewiseComparator();

// User key ascending (bytewise), then sequence and type descending.
class InternalKeyComparator final : public Comparator {
 public:
  int Compare(std::string_view a, std::string_view b) const override {
    int r = ExtractUserKey(a).compare(ExtractUserKey(b));
    if (r != 0) return r < 0 ? -1 : 1;
    uint64_t ta = DecodeTrailer(a), tb = DecodeTrailer(b);
    if (ta > tb) return -1;
    if (ta < tb) return 1;
    return 0;
  }
  const char* Name() const override { return "kv.InternalKeyComparator"; }
};
const InternalKeyComparator* GetInternalKeyComparator();

}  // namespace kv::storage
