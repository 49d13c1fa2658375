// BloomFilterPolicy: the SSTable's Bloom filter (Bloom, "Space/Time
// Trade-offs in Hash Coding with Allowable Errors", CACM 1970). A point read
// consults it before touching the index or a data block, so a table that
// cannot hold the key costs no I/O.
//
// Probes use double hashing (Kirsch and Mitzenmacher, "Less Hashing, Same
// Performance: Building a Better Bloom Filter", 2006): one 32-bit hash h of
// the key, a second `delta` mixed from it, and probe i tests bit
// (h + i * delta) mod m (32-bit wrapping arithmetic). With bits_per_key = 10
// and k = round(10 * ln 2) = 7 probes the false-positive rate is about 0.85%
// (classic) or 1% (blocked; both measured in bloom_test.cc).
//
// Two encodings (FORMAT.md "SSTable", filter block). Classic, for filters
// under 512 bits (tables of fewer than ~52 keys at 10 bits/key): the m-bit
// array, bit j in byte j / 8 at position j % 8, then one byte holding k.
// Blocked, for the rest: m rounded up to whole 512-bit (64-byte) blocks;
// the key's hash picks one block and all k probes fall inside it, so a
// lookup costs one cache miss instead of k (~6% of a point read's CPU
// when every probe missed the cache; perf, tests/bench/README.md), for a
// slightly higher false-positive rate (measured in bloom_test.cc). Then k
// and a marker byte 0x81.
//
// Thread safety: immutable after construction; all methods are const and
// thread safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kv::storage {

class BloomFilterPolicy {
 public:
  // REQUIRES: bits_per_key >= 1. `blocked` false writes the classic
  // encoding at every size (what tables written before the blocked one
  // hold; tests use it). Both are always read.
  explicit BloomFilterPolicy(int bits_per_key, bool blocked = true);

  // DO NOT CHANGE: the hash every stored filter was built with (32-bit
  // MurmurHash3, x86 variant, with kv's own seed).
  static uint32_t Hash(std::string_view key);

  // Appends a filter for `keys` to *dst. Duplicates are harmless (they set the
  // same bits) but waste nothing only if the caller removes them.
  void CreateFilter(const std::vector<std::string_view>& keys, std::string* dst) const;
  // The same from precomputed Hash() values, so a builder need not keep keys.
  void CreateFilterFromHashes(const std::vector<uint32_t>& hashes, std::string* dst) const;

  // False only if `key` was certainly not among the keys `filter` was built
  // from. A malformed or unknown filter answers true (a false "absent" would
  // lose data; a false "maybe" only costs a read).
  bool KeyMayMatch(std::string_view key, std::string_view filter) const;
  static bool HashMayMatch(uint32_t hash, std::string_view filter);

  int bits_per_key() const { return bits_per_key_; }

 private:
  int bits_per_key_;
  int num_probes_;
  bool blocked_;
};

}  // namespace kv::storage
