// MemoryEngine against a std::map model: point operations, storage-key
// order, Seek, backward-shift deletion under collisions, and the expiry
// index.
#include "storage/memory_engine.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "../test_util.h"
#include "util/crc16.h"
#include "util/hash.h"
#include "util/random.h"

namespace kv::storage {
namespace {

using test::Escape;

std::string SKey(std::string_view user_key) {
  std::string out;
  MakeStorageKey(util::KeySlot(user_key), user_key, &out);
  return out;
}

std::string SKeyInSlot(uint16_t slot, std::string_view user_key) {
  std::string out;
  MakeStorageKey(slot, user_key, &out);
  return out;
}

struct ModelEntry {
  std::string value;
  int64_t expire_at_ms = 0;
};
using Model = std::map<std::string, ModelEntry>;

// Checks Stats, every Get, and a full iteration against the model.
void CheckAgainstModel(MemoryEngine& engine, const Model& model) {
  EngineStats st = engine.Stats();
  uint64_t with_expiry = 0, bytes = 0;
  for (const auto& [k, e] : model) {
    if (e.expire_at_ms != 0) with_expiry++;
    bytes += k.size() + e.value.size();
  }
  CHECK(st.keys == model.size());
  CHECK(st.keys_with_expiry == with_expiry);
  CHECK(st.data_bytes == bytes);

  for (const auto& [k, e] : model) {
    std::string_view v;
    std::string scratch;
    util::Status s = engine.Get(k, &v, &scratch);
    REQUIRE(s.ok());
    if (v != e.value) {
      CHECK(Escape(v) == Escape(e.value));
    }
  }

  auto it = engine.NewIterator();
  it->SeekToFirst();
  auto m = model.begin();
  size_t n = 0;
  for (; it->Valid(); it->Next(), ++m, ++n) {
    REQUIRE(m != model.end());
    if (it->key() != m->first || it->value() != m->second.value) {
      REQUIRE(Escape(it->key()) == Escape(m->first));
      REQUIRE(Escape(it->value()) == Escape(m->second.value));
    }
  }
  CHECK(n == model.size());
  CHECK(m == model.end());
}

TEST_CASE("put, get, overwrite and delete one key") {
  MemoryEngine engine;
  std::string k = SKey("foo");
  std::string_view v;
  std::string scratch;
  CHECK(engine.Get(k, &v, &scratch).IsNotFound());
  REQUIRE(engine.Put(k, "bar", 0).ok());
  REQUIRE(engine.Get(k, &v, &scratch).ok());
  CHECK(v == "bar");
  CHECK(engine.Stats().keys == 1);
  CHECK(engine.Stats().data_bytes == k.size() + 3);

  REQUIRE(engine.Put(k, "a longer value", 0).ok());
  REQUIRE(engine.Get(k, &v, &scratch).ok());
  CHECK(v == "a longer value");
  CHECK(engine.Stats().keys == 1);
  CHECK(engine.Stats().data_bytes == k.size() + 14);

  REQUIRE(engine.Delete(k).ok());
  CHECK(engine.Get(k, &v, &scratch).IsNotFound());
  CHECK(engine.Stats().keys == 0);
  CHECK(engine.Stats().data_bytes == 0);
  // Deleting a missing key is fine.
  CHECK(engine.Delete(k).ok());
  CHECK(engine.Delete(SKey("never")).ok());
}

TEST_CASE("values and keys are binary safe, and an empty value is a value") {
  using namespace std::string_literals;
  MemoryEngine engine;
  std::string k1 = SKey("a\0b"s), k2 = SKey("a"), k3 = SKey(""s);
  REQUIRE(engine.Put(k1, "\0\r\n\xff"s, 0).ok());
  REQUIRE(engine.Put(k2, ""s, 0).ok());
  REQUIRE(engine.Put(k3, "empty user key"s, 0).ok());
  std::string_view v;
  std::string scratch;
  REQUIRE(engine.Get(k1, &v, &scratch).ok());
  CHECK(v == "\0\r\n\xff"s);
  REQUIRE(engine.Get(k2, &v, &scratch).ok());
  CHECK(v.empty());
  REQUIRE(engine.Get(k3, &v, &scratch).ok());
  CHECK(v == "empty user key");
  CHECK(engine.Stats().keys == 3);
}

TEST_CASE("a storage key shorter than its slot prefix is rejected") {
  MemoryEngine engine;
  CHECK(engine.Put("", "v", 0).IsInvalidArgument());
  CHECK(engine.Put("x", "v", 0).IsInvalidArgument());
  CHECK(engine.Stats().keys == 0);
  std::string_view v;
  std::string scratch;
  CHECK(engine.Get("x", &v, &scratch).IsNotFound());
  CHECK(engine.Delete("x").ok());
}

TEST_CASE("an empty engine iterates nothing") {
  MemoryEngine engine;
  auto it = engine.NewIterator();
  CHECK_FALSE(it->Valid());
  it->SeekToFirst();
  CHECK_FALSE(it->Valid());
  it->Seek(SKey("x"));
  CHECK_FALSE(it->Valid());
}

TEST_CASE("100k random operations match a std::map model") {
  uint64_t seed = test::TestSeed(0x3E3E3E);
  util::Random rnd(seed);
  MemoryEngine engine;
  Model model;
  const uint64_t kKeySpace = 40000;
  for (int op = 0; op < 100000; op++) {
    std::string user = "key:" + std::to_string(rnd.Uniform(kKeySpace));
    std::string k = SKey(user);
    uint64_t dice = rnd.Uniform(100);
    if (dice < 65) {
      std::string value(rnd.Uniform(40), static_cast<char>('a' + rnd.Uniform(26)));
      int64_t expire = rnd.Uniform(3) == 0 ? static_cast<int64_t>(1 + rnd.Uniform(1000000)) : 0;
      REQUIRE(engine.Put(k, value, expire).ok());
      model[k] = {value, expire};
    } else if (dice < 90) {
      REQUIRE(engine.Delete(k).ok());
      model.erase(k);
    } else {
      std::string_view v;
      std::string scratch;
      util::Status s = engine.Get(k, &v, &scratch);
      auto m = model.find(k);
      if (m == model.end()) {
        CHECK(s.IsNotFound());
      } else {
        REQUIRE(s.ok());
        CHECK(v == m->second.value);
      }
    }
    if (op % 25000 == 24999) CheckAgainstModel(engine, model);
  }
  CheckAgainstModel(engine, model);
  // Delete everything that is left, in random order.
  std::vector<std::string> keys;
  for (const auto& [k, e] : model) keys.push_back(k);
  for (size_t i = keys.size(); i > 1; i--) std::swap(keys[i - 1], keys[rnd.Uniform(i)]);
  for (const std::string& k : keys) REQUIRE(engine.Delete(k).ok());
  model.clear();
  CheckAgainstModel(engine, model);
}

TEST_CASE("iteration follows storage-key order: slot first, then user key bytes") {
  MemoryEngine engine;
  Model model;
  const uint16_t slots[] = {0, 1, 255, 256, 5061, 12182, 16383};
  const char* users[] = {"", "a", "ab", "b", "\x7f", "\x80", "\xff"};
  for (uint16_t slot : slots) {
    for (const char* u : users) {
      std::string k = SKeyInSlot(slot, u);
      REQUIRE(engine.Put(k, std::to_string(slot) + u, 0).ok());
      model[k] = {std::to_string(slot) + u, 0};
    }
  }
  CheckAgainstModel(engine, model);
}

TEST_CASE("Seek lands on the first key >= target, including between slots and past the end") {
  uint64_t seed = test::TestSeed(0x5EE4);
  util::Random rnd(seed);
  MemoryEngine engine;
  Model model;
  // Keys in a few slots, including the first and the last.
  const uint16_t slots[] = {0, 7, 8, 300, 9000, 16383};
  for (uint16_t slot : slots) {
    for (int i = 0; i < 20; i++) {
      std::string k = SKeyInSlot(slot, "k" + std::to_string(i * 10));
      REQUIRE(engine.Put(k, "v", 0).ok());
      model[k] = {"v", 0};
    }
  }
  auto expect = [&](const std::string& target) {
    CAPTURE(Escape(target));
    auto it = engine.NewIterator();
    it->Seek(target);
    auto m = model.lower_bound(target);
    if (m == model.end()) {
      CHECK_FALSE(it->Valid());
    } else {
      REQUIRE(it->Valid());
      CHECK(Escape(it->key()) == Escape(m->first));
    }
  };
  std::vector<std::string> targets;
  for (const auto& [k, e] : model) {
    targets.push_back(k);                          // exactly a key
    targets.push_back(k + std::string(1, '\0'));   // just after a key
    targets.push_back(k.substr(0, k.size() - 1));  // just before a key
  }
  for (uint16_t slot : {0, 1, 6, 7, 8, 9, 299, 301, 8999, 9001, 16382, 16383}) {
    targets.push_back(SKeyInSlot(slot, ""));          // start of a slot
    targets.push_back(SKeyInSlot(slot, "zzzz"));      // after every key of the slot
    targets.push_back(SKeyInSlot(slot, "\xff\xff"));  // end of a slot
  }
  // Shorter than a slot prefix.
  targets.push_back("");
  targets.push_back(std::string(1, '\0'));
  targets.push_back("\x01");
  targets.push_back("\x23");
  targets.push_back("\x3f");
  // Past the last slot: no key can be >= these.
  targets.push_back("\x40");
  targets.push_back(std::string("\x40\x00", 2));
  targets.push_back("\x40\x01");
  targets.push_back("\x7f\xff");
  targets.push_back("\xff");
  targets.push_back("\xff\xff");
  targets.push_back("\xff\xff\xff\xff");
  for (int i = 0; i < 2000; i++) {
    std::string t(2 + rnd.Uniform(4), '\0');
    for (char& c : t) c = static_cast<char>(rnd.Uniform(256));
    // Mostly keep the slot in range, so the interesting cases dominate.
    if (rnd.Uniform(4) != 0) t[0] = static_cast<char>(rnd.Uniform(0x40));
    targets.push_back(t);
  }
  for (const std::string& t : targets) expect(t);
}

TEST_CASE("Seek then Next walks the rest in order") {
  MemoryEngine engine;
  Model model;
  for (int i = 0; i < 1000; i++) {
    std::string k = SKey("user:" + std::to_string(i));
    REQUIRE(engine.Put(k, std::to_string(i), 0).ok());
    model[k] = {std::to_string(i), 0};
  }
  std::string target = SKeyInSlot(8000, "");
  auto it = engine.NewIterator();
  it->Seek(target);
  for (auto m = model.lower_bound(target); m != model.end(); ++m, it->Next()) {
    REQUIRE(it->Valid());
    CHECK(it->key() == m->first);
  }
  CHECK_FALSE(it->Valid());
}

// Storage keys whose hash lands in the home-bucket window [lo, lo + width)
// modulo table_size. Used to build long probe chains that wrap around the
// end of the table. (White-box: assumes the engine's 1024 initial buckets
// and util::Hash64 of the storage key; if either changes the test still
// checks correctness, just with less pressure on the probing.)
std::vector<std::string> KeysWithHomesIn(size_t lo, size_t width, size_t table_size, size_t count,
                                         const std::string& tag) {
  std::vector<std::string> keys;
  for (uint64_t i = 0; keys.size() < count; i++) {
    std::string k = SKey(tag + std::to_string(i));
    size_t home = util::Hash64(k) & (table_size - 1);
    if ((home + table_size - lo) % table_size < width) keys.push_back(k);
  }
  return keys;
}

TEST_CASE("backward-shift deletion keeps every colliding key reachable") {
  uint64_t seed = test::TestSeed(0xB5D);
  util::Random rnd(seed);
  // 300 keys homed in 8 buckets that straddle the end of the table, and 150
  // more homed nearby: one long chain that wraps around. 450 keys stay
  // below the 70% load factor, so the table does not grow.
  std::vector<std::string> keys = KeysWithHomesIn(1020, 8, 1024, 300, "tight:");
  std::vector<std::string> more = KeysWithHomesIn(990, 60, 1024, 150, "near:");
  keys.insert(keys.end(), more.begin(), more.end());
  for (int round = 0; round < 3; round++) {
    MemoryEngine engine;
    Model model;
    // Insert in random order.
    for (size_t i = keys.size(); i > 1; i--) std::swap(keys[i - 1], keys[rnd.Uniform(i)]);
    for (const std::string& k : keys) {
      REQUIRE(engine.Put(k, k, 0).ok());
      model[k] = {k, 0};
    }
    // Delete in another random order; after each delete everything left is
    // still found and the deleted key is gone.
    std::vector<std::string> order = keys;
    for (size_t i = order.size(); i > 1; i--) std::swap(order[i - 1], order[rnd.Uniform(i)]);
    for (size_t d = 0; d < order.size(); d++) {
      REQUIRE(engine.Delete(order[d]).ok());
      model.erase(order[d]);
      std::string_view v;
      std::string scratch;
      REQUIRE(engine.Get(order[d], &v, &scratch).IsNotFound());
      for (size_t j = d + 1; j < order.size(); j++) {
        util::Status s = engine.Get(order[j], &v, &scratch);
        if (!s.ok() || v != order[j]) {
          CAPTURE(d);
          CAPTURE(j);
          REQUIRE(s.ok());
          REQUIRE(v == order[j]);
        }
      }
      // Re-insert now and then, so holes are refilled mid-chain.
      if (d % 7 == 3) {
        const std::string& back = order[d];
        REQUIRE(engine.Put(back, back, 0).ok());
        model[back] = {back, 0};
        REQUIRE(engine.Get(back, &v, &scratch).ok());
        REQUIRE(engine.Delete(back).ok());
        model.erase(back);
      }
    }
    CheckAgainstModel(engine, model);
  }
}

TEST_CASE("growing the table keeps every key") {
  MemoryEngine engine;
  Model model;
  for (int i = 0; i < 20000; i++) {
    std::string k = SKey("grow:" + std::to_string(i));
    REQUIRE(engine.Put(k, std::to_string(i * 3), 0).ok());
    model[k] = {std::to_string(i * 3), 0};
  }
  CheckAgainstModel(engine, model);
}

TEST_CASE("keys_with_expiry tracks puts with and without an expiry") {
  MemoryEngine engine;
  std::string a = SKey("a"), b = SKey("b");
  REQUIRE(engine.Put(a, "1", 0).ok());
  CHECK(engine.Stats().keys_with_expiry == 0);
  REQUIRE(engine.Put(a, "1", 1000).ok());  // gains an expiry
  CHECK(engine.Stats().keys_with_expiry == 1);
  REQUIRE(engine.Put(a, "2", 2000).ok());  // changes it
  CHECK(engine.Stats().keys_with_expiry == 1);
  REQUIRE(engine.Put(b, "1", 500).ok());
  CHECK(engine.Stats().keys_with_expiry == 2);
  REQUIRE(engine.Put(a, "3", 0).ok());  // loses it (PERSIST, or SET without EX)
  CHECK(engine.Stats().keys_with_expiry == 1);
  REQUIRE(engine.Delete(b).ok());
  CHECK(engine.Stats().keys_with_expiry == 0);
  CHECK(engine.Stats().keys == 1);
}

TEST_CASE("the expiry index survives deletes from its middle") {
  uint64_t seed = test::TestSeed(0xE1);
  util::Random rnd(seed);
  MemoryEngine engine;
  Model model;
  for (int i = 0; i < 2000; i++) {
    std::string k = SKey("e:" + std::to_string(i));
    int64_t exp = i % 2 == 0 ? 1000 + i : 0;
    REQUIRE(engine.Put(k, "v", exp).ok());
    model[k] = {"v", exp};
  }
  for (int i = 0; i < 3000; i++) {
    std::string k = SKey("e:" + std::to_string(rnd.Uniform(2000)));
    switch (rnd.Uniform(3)) {
      case 0:
        REQUIRE(engine.Delete(k).ok());
        model.erase(k);
        break;
      case 1:
        REQUIRE(engine.Put(k, "w", 0).ok());
        model[k] = {"w", 0};
        break;
      default: {
        int64_t exp = static_cast<int64_t>(1 + rnd.Uniform(5000));
        REQUIRE(engine.Put(k, "x", exp).ok());
        model[k] = {"x", exp};
        break;
      }
    }
  }
  CheckAgainstModel(engine, model);
  // Expire everything: exactly the keys with an expiry go.
  size_t expected = 0;
  for (auto m = model.begin(); m != model.end();) {
    if (m->second.expire_at_ms != 0) {
      expected++;
      m = model.erase(m);
    } else {
      ++m;
    }
  }
  size_t deleted = 0, sampled = 0;
  while (engine.Stats().keys_with_expiry > 0) {
    deleted += engine.DeleteExpiredSample(1000000, 20, &sampled);
    CHECK(sampled <= 20);
  }
  CHECK(deleted == expected);
  CheckAgainstModel(engine, model);
}

TEST_CASE("DeleteExpiredSample deletes only expired keys and reports its counts") {
  MemoryEngine engine;
  Model model;
  for (int i = 0; i < 100; i++) {
    std::string early = SKey("early:" + std::to_string(i));
    std::string late = SKey("late:" + std::to_string(i));
    std::string never = SKey("never:" + std::to_string(i));
    REQUIRE(engine.Put(early, "e", 1000).ok());
    REQUIRE(engine.Put(late, "l", 5000).ok());
    REQUIRE(engine.Put(never, "n", 0).ok());
    model[late] = {"l", 5000};
    model[never] = {"n", 0};
  }
  size_t sampled = 99;
  // Nothing has expired yet.
  CHECK(engine.DeleteExpiredSample(999, 50, &sampled) == 0);
  CHECK(sampled == 50);
  CHECK(engine.Stats().keys == 300);
  // No samples asked for: nothing looked at.
  CHECK(engine.DeleteExpiredSample(1000000, 0, &sampled) == 0);
  CHECK(sampled == 0);
  // A small sample deletes at most that many, all of them expired.
  size_t first = engine.DeleteExpiredSample(1000, 10, &sampled);
  CHECK(sampled == 10);
  CHECK(first <= 10);
  CHECK(engine.Stats().keys == 300 - first);
  // Enough samples find every expired key (expiry at exactly now counts).
  size_t total = first;
  for (int i = 0; i < 100 && engine.Stats().keys_with_expiry > 100; i++) {
    total += engine.DeleteExpiredSample(1000, 1000, &sampled);
  }
  CHECK(total == 100);
  CheckAgainstModel(engine, model);
  // Now everything with an expiry is due.
  size_t rest = 0;
  while (engine.Stats().keys_with_expiry > 0)
    rest += engine.DeleteExpiredSample(5000, 64, &sampled);
  CHECK(rest == 100);
  CHECK(engine.Stats().keys == 100);
  // No key carries an expiry: nothing to sample.
  CHECK(engine.DeleteExpiredSample(1000000, 50, &sampled) == 0);
  CHECK(sampled == 0);
}

TEST_CASE("Clear empties everything and the engine stays usable") {
  MemoryEngine engine;
  for (int i = 0; i < 5000; i++) {
    REQUIRE(engine.Put(SKey("c:" + std::to_string(i)), "v", i % 3 == 0 ? 100 : 0).ok());
  }
  REQUIRE(engine.Clear().ok());
  EngineStats st = engine.Stats();
  CHECK(st.keys == 0);
  CHECK(st.keys_with_expiry == 0);
  CHECK(st.data_bytes == 0);
  auto it = engine.NewIterator();
  it->SeekToFirst();
  CHECK_FALSE(it->Valid());
  std::string_view v;
  std::string scratch;
  CHECK(engine.Get(SKey("c:1"), &v, &scratch).IsNotFound());
  size_t sampled = 7;
  CHECK(engine.DeleteExpiredSample(1000000, 10, &sampled) == 0);
  CHECK(sampled == 0);

  Model model;
  for (int i = 0; i < 3000; i++) {
    std::string k = SKey("after:" + std::to_string(i));
    REQUIRE(engine.Put(k, "w", i % 2 == 0 ? 7 : 0).ok());
    model[k] = {"w", i % 2 == 0 ? 7 : 0};
  }
  CheckAgainstModel(engine, model);
  REQUIRE(engine.Clear().ok());
  CheckAgainstModel(engine, Model());
}

}  // namespace
}  // namespace kv::storage
