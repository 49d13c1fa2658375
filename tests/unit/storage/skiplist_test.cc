// SkipList: agrees with a std::set model (inserts, Contains, iteration both
// ways, Seek), payload nodes, deterministic heights, and one writer racing
// four readers that must always see a sorted, complete-so-far list.
#include "storage/skiplist.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../test_util.h"
#include "storage/arena.h"
#include "util/random.h"

namespace kv::storage {
namespace {

struct U64Compare {
  int operator()(uint64_t a, uint64_t b) const { return a < b ? -1 : (a > b ? 1 : 0); }
};
using U64List = SkipList<uint64_t, U64Compare>;

// Walks the whole list forwards.
std::vector<uint64_t> Scan(const U64List& list) {
  std::vector<uint64_t> out;
  U64List::Iterator it(&list);
  for (it.SeekToFirst(); it.Valid(); it.Next()) out.push_back(it.key());
  return out;
}

TEST_CASE("skiplist: an empty list has no keys in any direction") {
  Arena arena;
  U64List list(U64Compare{}, &arena);
  CHECK(!list.Contains(0));
  CHECK(!list.Contains(10));
  U64List::Iterator it(&list);
  CHECK(!it.Valid());
  it.SeekToFirst();
  CHECK(!it.Valid());
  it.Seek(5);
  CHECK(!it.Valid());
  it.SeekToLast();
  CHECK(!it.Valid());
}

TEST_CASE("skiplist: 100k random inserts and seeks agree with a std::set model") {
  uint64_t seed = test::TestSeed(4242);
  util::Random rnd(seed);
  Arena arena;
  U64List list(U64Compare{}, &arena, seed);
  std::set<uint64_t> model;
  const int kN = 100000;
  // A key space ~4x the insert count: many gaps for Seek and Contains.
  const uint64_t kSpace = 4 * kN;
  while (model.size() < static_cast<size_t>(kN)) {
    uint64_t k = rnd.Uniform(kSpace);
    if (model.insert(k).second) list.Insert(k);
  }

  // Contains, for present and absent keys.
  for (int i = 0; i < 20000; i++) {
    uint64_t k = rnd.Uniform(kSpace + 10);
    if (list.Contains(k) != (model.count(k) == 1)) FAIL("Contains(" << k << ") disagrees");
  }

  // Forward iteration is exactly the model's order.
  std::vector<uint64_t> got = Scan(list);
  std::vector<uint64_t> want(model.begin(), model.end());
  REQUIRE(got.size() == want.size());
  CHECK(got == want);

  // Seek lands on lower_bound; a few Next and Prev steps from there agree.
  U64List::Iterator it(&list);
  for (int i = 0; i < 20000; i++) {
    uint64_t target = rnd.Uniform(kSpace + 10);
    it.Seek(target);
    auto m = model.lower_bound(target);
    if (m == model.end()) {
      if (it.Valid()) FAIL("Seek(" << target << ") found " << it.key() << ", model: end");
      continue;
    }
    REQUIRE(it.Valid());
    if (it.key() != *m) FAIL("Seek(" << target << ") found " << it.key() << ", model " << *m);
    auto mn = m;
    U64List::Iterator fwd = it;
    for (int step = 0; step < 3 && ++mn != model.end(); step++) {
      fwd.Next();
      REQUIRE(fwd.Valid());
      CHECK(fwd.key() == *mn);
    }
    if (m == model.begin()) {
      it.Prev();
      CHECK(!it.Valid());
    } else {
      it.Prev();
      REQUIRE(it.Valid());
      CHECK(it.key() == *std::prev(m));
    }
  }

  // Backwards from the last key (Prev is O(log n) per step: a sample).
  it.SeekToLast();
  auto r = model.rbegin();
  for (int i = 0; i < 1000; i++, ++r) {
    REQUIRE(it.Valid());
    CHECK(it.key() == *r);
    it.Prev();
  }
  it.SeekToFirst();
  it.Prev();
  CHECK(!it.Valid());
}

// Keys stored in their node's payload: a pointer to a NUL-terminated string.
struct CStrCompare {
  int operator()(const char* a, const char* b) const {
    if (a == nullptr || b == nullptr) return a == b ? 0 : (a == nullptr ? -1 : 1);
    int r = strcmp(a, b);
    return r < 0 ? -1 : (r > 0 ? 1 : 0);
  }
};

TEST_CASE("skiplist: keys written into node payloads sort and survive like plain keys") {
  util::Random rnd(test::TestSeed(77));
  Arena arena;
  SkipList<const char*, CStrCompare> list(CStrCompare{}, &arena);
  std::set<std::string> model;
  for (int i = 0; i < 5000; i++) {
    std::string k;
    size_t len = 1 + rnd.Uniform(40);
    for (size_t j = 0; j < len; j++) k += static_cast<char>('a' + rnd.Uniform(26));
    if (!model.insert(k).second) continue;
    auto pending = list.AllocateNode(k.size() + 1);
    memcpy(pending.payload, k.c_str(), k.size() + 1);
    list.Insert(pending, pending.payload);
  }
  std::vector<std::string> got;
  SkipList<const char*, CStrCompare>::Iterator it(&list);
  for (it.SeekToFirst(); it.Valid(); it.Next()) got.emplace_back(it.key());
  CHECK(got == std::vector<std::string>(model.begin(), model.end()));
  for (const std::string& k : model) {
    if (!list.Contains(k.c_str())) FAIL("missing " << k);
  }
  CHECK(!list.Contains("0"));
}

// The heights the list picks for n payload nodes.
std::vector<int> Heights(uint64_t seed, int n) {
  Arena arena;
  SkipList<const char*, CStrCompare> list(CStrCompare{}, &arena, seed);
  std::vector<int> heights;
  for (int i = 0; i < n; i++) {
    std::string k = std::to_string(i);
    auto pending = list.AllocateNode(k.size() + 1);
    memcpy(pending.payload, k.c_str(), k.size() + 1);
    list.Insert(pending, pending.payload);
    heights.push_back(pending.height);
  }
  return heights;
}

TEST_CASE("skiplist: node heights are geometric with p = 1/4 and a function of the seed") {
  const int kN = 100000;
  std::vector<int> h = Heights(1, kN);
  std::vector<size_t> at_least(14, 0);
  for (int x : h) {
    REQUIRE(x >= 1);
    REQUIRE(x <= 12);
    for (int l = 1; l <= x; l++) at_least[static_cast<size_t>(l)]++;
  }
  // P(height >= l) = 4^-(l-1): 100%, 25%, 6.25%, 1.56%.
  double n = static_cast<double>(h.size());
  CHECK(at_least[1] == h.size());
  CHECK(std::abs(static_cast<double>(at_least[2]) / n - 0.25) < 0.01);
  CHECK(std::abs(static_cast<double>(at_least[3]) / n - 0.0625) < 0.005);
  CHECK(std::abs(static_cast<double>(at_least[4]) / n - 0.015625) < 0.003);
  CHECK(Heights(1, 5000) == Heights(1, 5000));
  CHECK(Heights(7, 5000) == Heights(7, 5000));
  CHECK(Heights(1, 5000) != Heights(2, 5000));
}

TEST_CASE(
    "skiplist: one writer and four lock-free readers: readers see a sorted, consistent list") {
  uint64_t seed = test::TestSeed(2024);
  util::Random rnd(seed);
  const size_t kN = 30000;
  std::vector<uint64_t> keys;  // insert order
  std::set<uint64_t> unique;
  while (keys.size() < kN) {
    uint64_t k = rnd.Next() >> 1;
    if (unique.insert(k).second) keys.push_back(k);
  }
  const std::vector<uint64_t> universe(unique.begin(), unique.end());  // sorted

  Arena arena;
  U64List list(U64Compare{}, &arena, seed);
  std::atomic<size_t> published{0};  // keys[0, published) are in the list
  std::atomic<bool> done{false};
  std::atomic<uint64_t> unsorted{0}, unknown{0}, missing{0}, bad_seek{0}, scans{0}, partial{0};
  std::atomic<int> started{0};

  auto reader = [&](uint64_t reader_seed) {
    util::Random r(reader_seed);
    U64List::Iterator it(&list);
    std::vector<uint64_t> seen;
    bool last_round = false;
    started.fetch_add(1);
    while (!last_round) {
      last_round = done.load(std::memory_order_acquire);
      size_t n = published.load(std::memory_order_acquire);
      // A full scan: strictly ascending, only keys the writer wrote, and
      // at least every key published before the scan started.
      seen.clear();
      for (it.SeekToFirst(); it.Valid(); it.Next()) {
        uint64_t k = it.key();
        if (!seen.empty() && k <= seen.back()) unsorted.fetch_add(1);
        if (!std::binary_search(universe.begin(), universe.end(), k)) unknown.fetch_add(1);
        seen.push_back(k);
      }
      for (size_t j = 0; j < n; j++) {
        if (!std::binary_search(seen.begin(), seen.end(), keys[j])) missing.fetch_add(1);
      }
      // Point lookups of published keys.
      n = published.load(std::memory_order_acquire);
      for (int i = 0; i < 200 && n > 0; i++) {
        uint64_t k = keys[r.Uniform(n)];
        it.Seek(k);
        if (!it.Valid() || it.key() != k || !list.Contains(k)) bad_seek.fetch_add(1);
      }
      scans.fetch_add(1);
      if (!seen.empty() && seen.size() < kN) partial.fetch_add(1);
      if (seen.empty()) std::this_thread::yield();  // the writer has not started
    }
    // The last scan ran after the writer finished: it saw everything.
    if (seen.size() != kN) missing.fetch_add(1);
  };

  std::vector<std::thread> readers;
  for (int i = 0; i < 4; i++) readers.emplace_back(reader, seed + 1 + static_cast<uint64_t>(i));
  while (started.load() < 4) std::this_thread::yield();  // make the race happen
  for (size_t i = 0; i < kN; i++) {
    list.Insert(keys[i]);
    published.store(i + 1, std::memory_order_release);
  }
  done.store(true, std::memory_order_release);
  for (auto& t : readers) t.join();

  MESSAGE("reader scans: " << scans.load() << ", of a partly written list: " << partial.load());
  CHECK(unsorted.load() == 0);
  CHECK(unknown.load() == 0);
  CHECK(missing.load() == 0);
  CHECK(bad_seek.load() == 0);
  CHECK(Scan(list) == universe);
}

}  // namespace
}  // namespace kv::storage
