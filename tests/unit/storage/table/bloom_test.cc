// Bloom filter: no false negatives at any size, a false-positive rate under
// 2% at 10 bits per key (measured and printed), the pinned hash values that
// stored filters depend on, and malformed filters answering "may match".
#include "storage/table/bloom.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "util/crc32c.h"

namespace kv::storage {
namespace {

// CRC32C of the pinned blocked filter below, recorded when the encoding
// was introduced.
constexpr uint32_t kPinnedBlockedCrc = 3114973265u;

std::string Key(uint64_t i, const char* prefix) {
  char buf[40];
  snprintf(buf, sizeof(buf), "%s%llu", prefix, static_cast<unsigned long long>(i));
  return buf;
}

TEST_CASE("bloom hash values are pinned (stored filters depend on them; DO NOT CHANGE)") {
  // MurmurHash3 x86_32 with seed 0x2f6b7633. Expected values from an
  // independent Python MurmurHash3 that reproduces the published vectors
  // ("hello", seed 0 -> 0x248bfa47; "", seed 1 -> 0x514e28b7). A change here
  // makes every stored filter answer "absent" for keys it holds.
  CHECK(BloomFilterPolicy::Hash("") == 0x7e3bafa5u);
  CHECK(BloomFilterPolicy::Hash("a") == 0xa9cb0fdfu);
  CHECK(BloomFilterPolicy::Hash("hello") == 0xbf428451u);
  CHECK(BloomFilterPolicy::Hash("0123456789abcdef") == 0x0cb7a24au);
}

TEST_CASE("bloom filter has no false negatives at any size") {
  BloomFilterPolicy policy(10);
  for (int n : {0, 1, 2, 10, 100, 1000, 10000, 100000}) {
    CAPTURE(n);
    std::vector<std::string> keys;
    for (int i = 0; i < n; i++) keys.push_back(Key(static_cast<uint64_t>(i), "present:"));
    std::vector<std::string_view> views(keys.begin(), keys.end());
    std::string filter;
    policy.CreateFilter(views, &filter);
    // m = max(64, n * 10) bits. Under 512: classic, rounded up to bytes,
    // plus the probe count. Else blocked: whole 64-byte blocks, the probe
    // count, the marker.
    size_t bits = std::max<size_t>(64, static_cast<size_t>(n) * 10);
    if (bits < 512) {
      CHECK(filter.size() == (bits + 7) / 8 + 1);
      CHECK(static_cast<uint8_t>(filter.back()) == 7);
    } else {
      CHECK(filter.size() == (bits + 511) / 512 * 64 + 2);
      CHECK(static_cast<uint8_t>(filter[filter.size() - 2]) == 7);
      CHECK(static_cast<uint8_t>(filter.back()) == 0x81);
    }
    int missing = 0;
    for (const auto& k : keys) missing += !policy.KeyMayMatch(k, filter);
    CHECK(missing == 0);
  }
}

TEST_CASE("bloom filter false-positive rate at 10 bits/key is below 2%, blocked or classic") {
  const int n = 100000;
  std::vector<std::string> keys;
  for (int i = 0; i < n; i++) keys.push_back(Key(static_cast<uint64_t>(i), "user:"));
  std::vector<std::string_view> views(keys.begin(), keys.end());
  const int probes = 100000;
  int fp = 0;
  for (bool blocked : {true, false}) {
    BloomFilterPolicy policy(10, blocked);
    std::string filter;
    policy.CreateFilter(views, &filter);
    int found = 0;
    for (int i = 0; i < probes; i++) {
      found += policy.KeyMayMatch(Key(static_cast<uint64_t>(i) + 1000000000ULL, "user:"), filter);
    }
    const double rate = static_cast<double>(found) / probes;
    char msg[140];
    snprintf(msg, sizeof(msg), "bloom FP rate, %s, 10 bits/key, %d keys, %d absent probes: %.3f%%",
             blocked ? "blocked" : "classic", n, probes, rate * 100);
    MESSAGE(msg);
    CHECK(rate < 0.02);
    if (blocked) fp = found;
  }
  BloomFilterPolicy policy(10);

  // Fewer bits, more false positives: the knob does what it says.
  BloomFilterPolicy small(4);
  std::string small_filter;
  small.CreateFilter(views, &small_filter);
  int small_fp = 0;
  for (int i = 0; i < probes; i++) {
    small_fp +=
        small.KeyMayMatch(Key(static_cast<uint64_t>(i) + 1000000000ULL, "user:"), small_filter);
  }
  MESSAGE("4 bits/key: " << 100.0 * small_fp / probes << "%");
  CHECK(small_fp > fp);
}

TEST_CASE("bloom filter built from hashes equals one built from keys") {
  BloomFilterPolicy policy(10);
  std::vector<std::string> keys = {"a", "bb", "ccc", "dddd", "eeeee"};
  std::vector<std::string_view> views(keys.begin(), keys.end());
  std::vector<uint32_t> hashes;
  for (const auto& k : keys) hashes.push_back(BloomFilterPolicy::Hash(k));
  std::string f1, f2;
  policy.CreateFilter(views, &f1);
  policy.CreateFilterFromHashes(hashes, &f2);
  CHECK(f1 == f2);
}

TEST_CASE("malformed or unknown bloom filters answer may-match, never a false absent") {
  BloomFilterPolicy policy(10);
  CHECK(policy.KeyMayMatch("x", ""));
  CHECK(policy.KeyMayMatch("x", std::string(1, '\x07')));
  std::string zero_probes(9, '\0');  // k = 0
  CHECK(policy.KeyMayMatch("x", zero_probes));
  std::string future(9, '\0');
  future.back() = 31;  // k > 30: reserved
  CHECK(policy.KeyMayMatch("x", future));
  std::string empty_set(9, '\0');
  empty_set.back() = 7;  // valid filter of no keys
  CHECK(!policy.KeyMayMatch("x", empty_set));

  // Blocked: k, then the marker 0x81, after whole 64-byte blocks.
  auto blocked = [](size_t body, uint8_t k) {
    std::string f(body, '\0');
    f.push_back(static_cast<char>(k));
    f.push_back(static_cast<char>(0x81));
    return f;
  };
  CHECK(policy.KeyMayMatch("x", blocked(0, 7)));    // no block
  CHECK(policy.KeyMayMatch("x", blocked(100, 7)));  // not whole blocks
  CHECK(policy.KeyMayMatch("x", blocked(128, 0)));  // k = 0
  CHECK(policy.KeyMayMatch("x", blocked(128, 31)));
  CHECK(!policy.KeyMayMatch("x", blocked(128, 7)));  // valid, no keys
  CHECK(!policy.KeyMayMatch("x", blocked(64, 7)));
}

TEST_CASE("blocked bloom filter bits are pinned (stored filters depend on them; DO NOT CHANGE)") {
  // 60 keys at 10 bits/key: 600 bits, two blocks. Which bits a key sets is
  // part of the format: a change makes stored filters answer "absent" for
  // keys they hold.
  BloomFilterPolicy policy(10);
  std::vector<std::string> keys;
  for (int i = 0; i < 60; i++) keys.push_back(Key(static_cast<uint64_t>(i), "pin:"));
  std::vector<std::string_view> views(keys.begin(), keys.end());
  std::string filter;
  policy.CreateFilter(views, &filter);
  REQUIRE(filter.size() == 130);
  CHECK(util::crc32c::Value(filter.data(), filter.size()) == kPinnedBlockedCrc);
  // Every key's 7 bits are in its one block: clearing the other block
  // keeps it present.
  for (size_t b = 0; b < 2; b++) {
    std::string half = filter;
    std::fill(half.begin() + static_cast<long>((1 - b) * 64),
              half.begin() + static_cast<long>((2 - b) * 64), '\0');
    int present = 0;
    for (const auto& k : keys) present += policy.KeyMayMatch(k, half);
    MESSAGE("block " << b << " alone answers present for " << present << " of 60 keys");
    CHECK(present > 15);
    CHECK(present < 45);
  }
  // One key alone: its 7 bits, all in one block.
  std::string one;
  policy.CreateFilter({"pin:0"}, &one);
  CHECK(one.size() == 9);  // 64 bits: classic
}

}  // namespace
}  // namespace kv::storage
