// MemTable: Get returns the newest version at or below the read sequence,
// deletions shadow older values, binary keys work, the iterator yields
// entries in InternalKeyComparator order, and Get is safe while Add runs on
// another thread. Ends with a benchmark that is skipped unless asked for.
#include "storage/memtable.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../test_util.h"
#include "storage/dbformat.h"
#include "util/random.h"

namespace kv::storage {
namespace {

using namespace std::string_literals;

// What Get returned, as one printable string: "none", "deleted" or the
// value in quotes.
std::string GetStr(const MemTable& mem, std::string_view key, SequenceNumber seq) {
  std::string_view value = "untouched";
  bool deleted = false;
  if (!mem.Get(key, seq, &value, &deleted)) {
    return value == "untouched" ? "none" : "none but value written";
  }
  return deleted ? "deleted" : test::Escape(value);
}

std::string IKey(std::string_view user_key, SequenceNumber seq, ValueType t) {
  std::string k;
  AppendInternalKey(&k, user_key, seq, t);
  return k;
}

TEST_CASE("memtable: an empty memtable finds nothing and iterates nothing") {
  MemTable mem(GetInternalKeyComparator());
  CHECK(GetStr(mem, "a", kMaxSequenceNumber) == "none");
  CHECK(mem.NumEntries() == 0);
  auto it = mem.NewIterator();
  it->SeekToFirst();
  CHECK(!it->Valid());
  it->Seek(IKey("a", kMaxSequenceNumber, kValueTypeForSeek));
  CHECK(!it->Valid());
  CHECK(it->status().ok());
}

TEST_CASE("memtable: Get returns the newest version with sequence <= the read sequence") {
  MemTable mem(GetInternalKeyComparator());
  mem.Add(5, kTypeValue, "k", "v5");
  mem.Add(1, kTypeValue, "k", "v1");  // insertion order does not matter
  mem.Add(12, kTypeValue, "k", "v12");
  mem.Add(9, kTypeDeletion, "k", "");
  mem.Add(3, kTypeValue, "j", "other key");
  mem.Add(4, kTypeValue, "l", "other key");
  CHECK(mem.NumEntries() == 6);

  CHECK(GetStr(mem, "k", 0) == "none");
  for (SequenceNumber s = 1; s <= 4; s++) CHECK(GetStr(mem, "k", s) == "\"v1\"");
  for (SequenceNumber s = 5; s <= 8; s++) CHECK(GetStr(mem, "k", s) == "\"v5\"");
  for (SequenceNumber s = 9; s <= 11; s++) CHECK(GetStr(mem, "k", s) == "deleted");
  CHECK(GetStr(mem, "k", 12) == "\"v12\"");
  CHECK(GetStr(mem, "k", kMaxSequenceNumber) == "\"v12\"");
  CHECK(GetStr(mem, "j", 2) == "none");
  CHECK(GetStr(mem, "j", 3) == "\"other key\"");
  CHECK(GetStr(mem, "", kMaxSequenceNumber) == "none");
  CHECK(GetStr(mem, "kk", kMaxSequenceNumber) == "none");
  CHECK(GetStr(mem, "m", kMaxSequenceNumber) == "none");
}

TEST_CASE("memtable: a deletion and a value at the same sequence: the deletion sorts after") {
  // Not something the DB does, but the order must still be total:
  // (seq, kTypeValue) is newer than (seq, kTypeDeletion).
  MemTable mem(GetInternalKeyComparator());
  mem.Add(7, kTypeDeletion, "k", "");
  mem.Add(7, kTypeValue, "k", "v");
  CHECK(GetStr(mem, "k", 7) == "\"v\"");
  auto it = mem.NewIterator();
  it->SeekToFirst();
  REQUIRE(it->Valid());
  CHECK(it->key() == IKey("k", 7, kTypeValue));
  it->Next();
  REQUIRE(it->Valid());
  CHECK(it->key() == IKey("k", 7, kTypeDeletion));
}

TEST_CASE("memtable: a deleted then re-added key is visible again at the newer sequence") {
  MemTable mem(GetInternalKeyComparator());
  mem.Add(1, kTypeValue, "k", "a");
  mem.Add(2, kTypeDeletion, "k", "");
  mem.Add(3, kTypeValue, "k", "b");
  CHECK(GetStr(mem, "k", 1) == "\"a\"");
  CHECK(GetStr(mem, "k", 2) == "deleted");
  CHECK(GetStr(mem, "k", 3) == "\"b\"");
}

TEST_CASE("memtable: a thousand versions of one key, each readable at its sequence") {
  MemTable mem(GetInternalKeyComparator());
  for (SequenceNumber s = 1; s <= 1000; s++) {
    // Every 10th version is a deletion.
    if (s % 10 == 0) {
      mem.Add(s * 2, kTypeDeletion, "hot", "");
    } else {
      mem.Add(s * 2, kTypeValue, "hot", "v" + std::to_string(s));
    }
  }
  mem.Add(5, kTypeValue, "hot!", "neighbour");
  for (SequenceNumber s = 1; s <= 1000; s++) {
    CAPTURE(s);
    std::string want = s % 10 == 0 ? "deleted" : "\"v" + std::to_string(s) + "\"";
    CHECK(GetStr(mem, "hot", s * 2) == want);
    CHECK(GetStr(mem, "hot", s * 2 + 1) == want);  // between versions
  }
  CHECK(GetStr(mem, "hot", 1) == "none");
  // The iterator walks the versions newest first.
  auto it = mem.NewIterator();
  it->SeekToFirst();
  for (SequenceNumber s = 1000; s >= 1; s--) {
    REQUIRE(it->Valid());
    ParsedInternalKey p;
    REQUIRE(ParseInternalKey(it->key(), &p));
    CHECK(p.user_key == "hot");
    CHECK(p.sequence == s * 2);
    it->Next();
  }
  REQUIRE(it->Valid());
  CHECK(ExtractUserKey(it->key()) == "hot!");
}

TEST_CASE("memtable: binary keys and values with NUL bytes, prefixes and empty strings") {
  MemTable mem(GetInternalKeyComparator());
  const std::vector<std::string> keys = {
      ""s,     "\0"s, "\0\0"s, "a"s,      "a\0"s,
      "a\0b"s, "ab"s, "\xff"s, "\xff\0"s, "\x01\x02\x03\x00\x00\x00\x00\x00\x00\x00\x00"s};
  SequenceNumber seq = 100;
  for (const std::string& k : keys) mem.Add(seq++, kTypeValue, k, "val:" + k + "\0end"s);
  mem.Add(seq++, kTypeValue, "empty value", "");
  for (const std::string& k : keys) {
    CAPTURE(test::Escape(k));
    CHECK(GetStr(mem, k, kMaxSequenceNumber) == test::Escape("val:" + k + "\0end"s));
    CHECK(GetStr(mem, k + "\0~~"s, kMaxSequenceNumber) == "none");
  }
  CHECK(GetStr(mem, "empty value", kMaxSequenceNumber) == "\"\"");
  CHECK(GetStr(mem, "\0\0\0"s, kMaxSequenceNumber) == "none");
  // Iteration is bytewise by user key, so "" < "\0" < "\0\0" < "a" < ...
  std::vector<std::string> want = keys;
  want.push_back("empty value");
  std::sort(want.begin(), want.end());
  std::vector<std::string> got;
  auto it = mem.NewIterator();
  for (it->SeekToFirst(); it->Valid(); it->Next()) got.emplace_back(ExtractUserKey(it->key()));
  CHECK(test::Show(got) == test::Show(want));
}

TEST_CASE("memtable: keys and values too long for the stack lookup buffer") {
  MemTable mem(GetInternalKeyComparator());
  std::string long_key(5000, 'k');
  std::string long_value(1 << 20, 'v');  // 1 MiB: its own arena block
  long_key[2500] = '\0';
  mem.Add(1, kTypeValue, long_key, long_value);
  mem.Add(2, kTypeValue, long_key + "x", "short");
  mem.Add(3, kTypeValue, std::string(240, 'b'), "at the stack limit");
  std::string_view v;
  bool deleted = true;
  REQUIRE(mem.Get(long_key, kMaxSequenceNumber, &v, &deleted));
  CHECK(!deleted);
  CHECK(v == long_value);
  CHECK(GetStr(mem, long_key + "x", 5) == "\"short\"");
  CHECK(GetStr(mem, std::string(240, 'b'), 5) == "\"at the stack limit\"");
  CHECK(GetStr(mem, std::string(241, 'b'), 5) == "none");
  CHECK(mem.ApproximateMemoryUsage() > long_value.size());
}

TEST_CASE("memtable: ApproximateMemoryUsage and NumEntries grow with every Add") {
  MemTable mem(GetInternalKeyComparator());
  size_t last = mem.ApproximateMemoryUsage();
  size_t payload = 0;
  for (int i = 0; i < 10000; i++) {
    std::string k = "key" + std::to_string(i);
    mem.Add(static_cast<SequenceNumber>(i + 1), kTypeValue, k, std::string(100, 'x'));
    payload += k.size() + 100;
    size_t u = mem.ApproximateMemoryUsage();
    REQUIRE(u >= last);
    last = u;
  }
  CHECK(mem.NumEntries() == 10000);
  CHECK(last >= payload);
  // Overhead per entry of a new key (two varints, the trailer, the node
  // with ~1.33 links on average, the chain head and older link, the
  // 16-byte index slot at a load between 0.35 and 0.7, slack) stays
  // modest. A further version of a key costs less: no node and no slot.
  CHECK(last < payload + 10000 * 80);
}

// The model: every (internal key, value) added, sorted by the comparator.
struct ModelCompare {
  bool operator()(const std::string& a, const std::string& b) const {
    return GetInternalKeyComparator()->Compare(a, b) < 0;
  }
};

TEST_CASE("memtable: random adds agree with a model for iteration, Seek and Get") {
  uint64_t seed = test::TestSeed(8080);
  util::Random rnd(seed);
  MemTable mem(GetInternalKeyComparator());
  std::map<std::string, std::string, ModelCompare> model;
  // A small key space so keys get many versions; sequences are unique.
  auto random_key = [&] {
    std::string k = "\x00\x01"s + std::to_string(rnd.Uniform(300));
    if (rnd.Uniform(4) == 0) k += '\0';
    return k;
  };
  SequenceNumber seq = 0;
  for (int i = 0; i < 20000; i++) {
    seq += 1 + rnd.Uniform(3);
    std::string k = random_key();
    ValueType t = rnd.Uniform(5) == 0 ? kTypeDeletion : kTypeValue;
    std::string v = t == kTypeDeletion ? "" : "v" + std::to_string(seq);
    mem.Add(seq, t, k, v);
    model[IKey(k, seq, t)] = v;
  }
  CHECK(mem.NumEntries() == model.size());

  // Iteration equals the model order.
  auto it = mem.NewIterator();
  auto m = model.begin();
  size_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++m, ++n) {
    REQUIRE(m != model.end());
    if (it->key() != m->first || it->value() != m->second) {
      FAIL("entry " << n << ": got " << test::Escape(it->key()) << ", want "
                    << test::Escape(m->first));
    }
  }
  CHECK(m == model.end());
  CHECK(it->status().ok());

  for (int i = 0; i < 5000; i++) {
    std::string k = random_key();
    SequenceNumber s = rnd.Uniform(seq + 2);
    // Seek lands on the model's lower_bound.
    std::string target = IKey(k, s, kValueTypeForSeek);
    it->Seek(target);
    auto lb = model.lower_bound(target);
    if (lb == model.end()) {
      CHECK(!it->Valid());
    } else {
      REQUIRE(it->Valid());
      CHECK(it->key() == lb->first);
    }
    // Get agrees with the model's newest entry <= s for k.
    std::string want = "none";
    if (lb != model.end() && ExtractUserKey(lb->first) == k) {
      ParsedInternalKey p;
      REQUIRE(ParseInternalKey(lb->first, &p));
      want = p.type == kTypeDeletion ? "deleted" : test::Escape(lb->second);
    }
    if (GetStr(mem, k, s) != want) {
      FAIL("Get(" << test::Escape(k) << ", " << s << ") = " << GetStr(mem, k, s) << ", want "
                  << want);
    }
  }
}

// Versions of a key form a chain, newest first; Add's contract allows any
// insertion order, so out-of-order sequences must land mid-chain.
TEST_CASE("memtable: versions added out of sequence order; Seek to exact trailers") {
  uint64_t seed = test::TestSeed(4242);
  util::Random rnd(seed);
  MemTable mem(GetInternalKeyComparator());
  std::map<std::string, std::string, ModelCompare> model;
  std::vector<SequenceNumber> seqs;
  for (SequenceNumber s = 1; s <= 3000; s++) seqs.push_back(s);
  for (size_t i = seqs.size() - 1; i > 0; i--) {
    std::swap(seqs[i], seqs[rnd.Uniform(static_cast<uint32_t>(i + 1))]);
  }
  for (SequenceNumber s : seqs) {
    std::string k = "k" + std::to_string(rnd.Uniform(20));
    ValueType t = rnd.Uniform(4) == 0 ? kTypeDeletion : kTypeValue;
    std::string v = t == kTypeDeletion ? "" : "v" + std::to_string(s);
    mem.Add(s, t, k, v);
    model[IKey(k, s, t)] = v;
  }
  auto it = mem.NewIterator();
  auto m = model.begin();
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++m) {
    REQUIRE(m != model.end());
    REQUIRE(it->key() == m->first);
    REQUIRE(it->value() == m->second);
  }
  CHECK(m == model.end());
  // Every stored internal key, and a sequence just past each, as targets.
  for (const auto& [ikey, v] : model) {
    it->Seek(ikey);
    REQUIRE(it->Valid());
    CHECK(it->key() == ikey);
    ParsedInternalKey p;
    REQUIRE(ParseInternalKey(ikey, &p));
    std::string target = IKey(p.user_key, p.sequence + 1, kValueTypeForSeek);
    it->Seek(target);
    auto lb = model.lower_bound(target);
    if (lb == model.end()) {
      CHECK(!it->Valid());
    } else {
      REQUIRE(it->Valid());
      CHECK(it->key() == lb->first);
    }
  }
  // Seeking below every version of a key moves on to the next key.
  it->Seek(IKey("k1", 0, kTypeDeletion));
  REQUIRE(it->Valid());
  CHECK(ExtractUserKey(it->key()) > "k1");
}

TEST_CASE("memtable: an index sized for the expected keys holds them without growing") {
  MemTable hinted(GetInternalKeyComparator(), 5000);
  // 5000 keys at a load of at most 0.7: 8192 slots of 16 bytes, up front.
  const size_t start = hinted.ApproximateMemoryUsage();
  CHECK(start >= 8192 * 16);
  for (int i = 0; i < 5000; i++) {
    hinted.Add(static_cast<SequenceNumber>(i + 1), kTypeValue, "k" + std::to_string(i),
               "v" + std::to_string(i));
  }
  CHECK(hinted.NumKeys() == 5000);
  for (int i = 0; i < 5000; i += 7) {
    REQUIRE(GetStr(hinted, "k" + std::to_string(i), kMaxSequenceNumber) ==
            "\"v" + std::to_string(i) + "\"");
  }
  // A wild hint is capped: 2^20 slots at most.
  MemTable wild(GetInternalKeyComparator(), size_t{1} << 40);
  CHECK(wild.ApproximateMemoryUsage() < (size_t{17} << 20));
  wild.Add(1, kTypeValue, "a", "b");
  CHECK(GetStr(wild, "a", kMaxSequenceNumber) == "\"b\"");
}

TEST_CASE("memtable: Prefetch is only a hint: it changes no answer, count or size") {
  MemTable empty(GetInternalKeyComparator());
  const std::string_view none[] = {"a", ""};
  empty.Prefetch(none, 2);  // no index yet
  CHECK(GetStr(empty, "a", kMaxSequenceNumber) == "none");
  CHECK(empty.NumKeys() == 0);

  // 700 keys in 1024 slots: many sit away from their home slot, some with
  // a chain of versions.
  MemTable mem(GetInternalKeyComparator());
  for (int i = 0; i < 700; i++) {
    mem.Add(static_cast<SequenceNumber>(i + 1), kTypeValue, "k" + std::to_string(i), "v");
  }
  for (int i = 0; i < 700; i += 3) {
    mem.Add(static_cast<SequenceNumber>(1000 + i), i % 2 ? kTypeValue : kTypeDeletion,
            "k" + std::to_string(i), "w" + std::to_string(i));
  }
  const size_t usage = mem.ApproximateMemoryUsage();
  const uint64_t entries = mem.NumEntries();
  std::vector<std::string> names;
  for (int i = 0; i < 1400; i += 7) names.push_back("k" + std::to_string(i));  // half absent
  names.push_back("");
  std::vector<std::string_view> keys(names.begin(), names.end());
  // Batches of every size from 1 to all of them (longer than one chunk).
  for (size_t n = 1; n <= keys.size(); n++) mem.Prefetch(keys.data(), n);
  CHECK(mem.ApproximateMemoryUsage() == usage);
  CHECK(mem.NumEntries() == entries);
  CHECK(mem.NumKeys() == 700);
  for (int i = 0; i < 1400; i++) {
    CAPTURE(i);
    const std::string key = "k" + std::to_string(i);
    std::string want = i >= 700 ? "none"
                       : i % 3  ? "\"v\""
                       : i % 2  ? "\"w" + std::to_string(i) + "\""
                                : "deleted";
    REQUIRE(GetStr(mem, key, kMaxSequenceNumber) == want);
  }
}

TEST_CASE("memtable: the newest-only iterator yields each key's newest entry once, in order") {
  util::Random rnd(test::TestSeed(77));
  MemTable mem(GetInternalKeyComparator());
  std::map<std::string, std::string, ModelCompare> model;  // every entry
  for (SequenceNumber s = 1; s <= 5000; s++) {
    std::string k = "key" + std::to_string(rnd.Uniform(300));
    ValueType t = rnd.Uniform(5) == 0 ? kTypeDeletion : kTypeValue;
    std::string v = t == kTypeDeletion ? "" : "v" + std::to_string(s);
    mem.Add(s, t, k, v);
    model[IKey(k, s, t)] = v;
  }
  // The model's first entry of each user key is its newest.
  std::vector<std::pair<std::string, std::string>> newest;
  for (const auto& [ikey, v] : model) {
    if (newest.empty() || ExtractUserKey(newest.back().first) != ExtractUserKey(ikey)) {
      newest.emplace_back(ikey, v);
    }
  }
  auto it = mem.NewNewestIterator();
  size_t i = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next(), i++) {
    REQUIRE(i < newest.size());
    REQUIRE(it->key() == newest[i].first);
    REQUIRE(it->value() == newest[i].second);
  }
  CHECK(i == newest.size());
  // Seek to a key's newest entry lands on it; to a sequence below it, on
  // the next key (older versions are not there to land on).
  for (size_t j = 0; j + 1 < newest.size(); j++) {
    it->Seek(newest[j].first);
    REQUIRE(it->Valid());
    CHECK(it->key() == newest[j].first);
    ParsedInternalKey p;
    REQUIRE(ParseInternalKey(newest[j].first, &p));
    it->Seek(IKey(p.user_key, p.sequence - 1, kValueTypeForSeek));
    REQUIRE(it->Valid());
    CHECK(it->key() == newest[j + 1].first);
  }
}

TEST_CASE("memtable: iteration on another thread while the writer rewrites the same keys") {
  const int kKeys = 200, kRounds = 100;
  MemTable mem(GetInternalKeyComparator());
  std::atomic<bool> done{false};
  std::atomic<int> wrong{0};
  std::thread scanner([&] {
    while (!done.load(std::memory_order_acquire)) {
      auto it = mem.NewIterator();
      std::string last;
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        std::string k(it->key());
        if (!last.empty() && GetInternalKeyComparator()->Compare(last, k) >= 0) wrong.fetch_add(1);
        ParsedInternalKey p;
        if (!ParseInternalKey(k, &p) || it->value() != "v" + std::to_string(p.sequence)) {
          wrong.fetch_add(1);
        }
        last = std::move(k);
      }
    }
  });
  SequenceNumber seq = 0;
  for (int r = 0; r < kRounds; r++) {
    for (int i = 0; i < kKeys; i++) {
      seq++;
      mem.Add(seq, kTypeValue, "key" + std::to_string(i), "v" + std::to_string(seq));
    }
  }
  done.store(true, std::memory_order_release);
  scanner.join();
  CHECK(wrong.load() == 0);
  CHECK(mem.NumEntries() == static_cast<uint64_t>(kKeys * kRounds));
  // Every version stays readable at its own sequence.
  for (SequenceNumber s = 1; s <= seq; s += 37) {
    std::string k = "key" + std::to_string((s - 1) % kKeys);
    CHECK(GetStr(mem, k, s) == test::Escape("v" + std::to_string(s)));
  }
}

TEST_CASE(
    "memtable: iteration on another thread while the writer adds; Get from many threads once "
    "frozen") {
  uint64_t seed = test::TestSeed(99);
  const int kN = 20000;
  MemTable mem(GetInternalKeyComparator());
  std::atomic<int> published{0};  // keys [0, published) have been added
  std::atomic<bool> done{false};
  std::atomic<int> wrong{0};
  auto key = [](int i) { return "key" + std::to_string(i * 7919 % kN); };
  auto value = [](int i) { return "value of " + std::to_string(i); };

  std::thread scanner([&] {
    while (!done.load(std::memory_order_acquire)) {
      int n = published.load(std::memory_order_acquire);
      auto it = mem.NewIterator();
      std::string last;
      int count = 0;
      for (it->SeekToFirst(); it->Valid(); it->Next(), count++) {
        std::string k(it->key());
        if (!last.empty() && GetInternalKeyComparator()->Compare(last, k) >= 0) wrong.fetch_add(1);
        last = std::move(k);
      }
      if (count < n) wrong.fetch_add(1);
    }
  });
  for (int i = 0; i < kN; i++) {
    mem.Add(static_cast<SequenceNumber>(i + 1), kTypeValue, key(i), value(i));
    published.store(i + 1, std::memory_order_release);
    if (i % 100 == 0) {
      // The writer's own Gets see every key it added (the hash index).
      std::string_view v;
      bool deleted = true;
      if (!mem.Get(key(i), kMaxSequenceNumber, &v, &deleted) || deleted || v != value(i)) {
        wrong.fetch_add(1);
      }
    }
  }
  done.store(true, std::memory_order_release);
  scanner.join();
  // Frozen: Get is safe from any number of threads.
  std::vector<std::thread> getters;
  for (int t = 0; t < 4; t++) {
    getters.emplace_back([&, t] {
      util::Random r(seed + static_cast<uint64_t>(t));
      for (int n = 0; n < 5000; n++) {
        int i = static_cast<int>(r.Uniform(kN));
        std::string_view v;
        bool deleted = true;
        if (!mem.Get(key(i), kMaxSequenceNumber, &v, &deleted) || deleted || v != value(i)) {
          wrong.fetch_add(1);
        }
      }
    });
  }
  for (auto& g : getters) g.join();
  CHECK(wrong.load() == 0);
  CHECK(mem.NumEntries() == static_cast<uint64_t>(kN));
}

// Not a test: the cost of Add and Get for the lead's comparison with the
// in-memory engine. Run a Release build with
//   kv_unit_tests -ns -tc='*memtable benchmark*'
TEST_CASE("memtable benchmark: Add and Get of 1M random 20-byte keys, 130-byte values" *
          doctest::skip()) {
  using Clock = std::chrono::steady_clock;
  const size_t kN = 1000000;
  util::Random rnd(test::TestSeed(1));
  std::vector<std::string> keys(kN);
  for (auto& k : keys) {
    k.resize(20);
    for (auto& c : k) c = static_cast<char>(rnd.Next());
  }
  std::string value(130, 'v');
  MemTable mem(GetInternalKeyComparator());

  auto start = Clock::now();
  for (size_t i = 0; i < kN; i++) mem.Add(i + 1, kTypeValue, keys[i], value);
  double add_ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / kN;

  std::vector<size_t> order(kN);
  for (size_t i = 0; i < kN; i++) order[i] = i;
  for (size_t i = kN - 1; i > 0; i--) std::swap(order[i], order[rnd.Uniform(i + 1)]);
  size_t found = 0;
  start = Clock::now();
  for (size_t i : order) {
    std::string_view v;
    bool deleted;
    found += mem.Get(keys[i], kMaxSequenceNumber, &v, &deleted) ? 1 : 0;
  }
  double get_ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / kN;

  // Misses: keys of the same shape that were never added.
  size_t missing_found = 0;
  std::string miss(20, '\0');
  start = Clock::now();
  for (size_t i = 0; i < kN; i++) {
    for (auto& c : miss) c = static_cast<char>(rnd.Next());
    std::string_view v;
    bool deleted;
    missing_found += mem.Get(miss, kMaxSequenceNumber, &v, &deleted) ? 1 : 0;
  }
  double miss_ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / kN;

  start = Clock::now();
  auto it = mem.NewIterator();
  size_t scanned = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) scanned += it->value().size() > 0 ? 1 : 0;
  double scan_ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / kN;

  CHECK(found == kN);
  CHECK(scanned == kN);
  MESSAGE("Add " << add_ns << " ns/op, Get hit " << get_ns << " ns/op, Get miss " << miss_ns
                 << " ns/op (false hits " << missing_found << "), scan " << scan_ns
                 << " ns/entry, memory " << mem.ApproximateMemoryUsage() / (1 << 20) << " MiB ("
                 << mem.ApproximateMemoryUsage() / kN << " B/entry)");
}

}  // namespace
}  // namespace kv::storage
