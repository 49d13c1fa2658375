// Keyspace: versions written on every write, lazy and active expiry, and
// SCAN cursors that make progress and never skip a key.
#include "server/keyspace.h"

#include <doctest/doctest.h>

#include <map>
#include <set>

#include "../test_util.h"
#include "storage/memory_engine.h"
#include "storage/record.h"
#include "util/crc16.h"

using kv::server::Keyspace;

namespace {
constexpr uint64_t kNode = 0xabcdef;
constexpr int64_t kNow = 1'700'000'000'000;

struct Fixture {
  kv::storage::MemoryEngine* engine = new kv::storage::MemoryEngine();
  Keyspace ks{std::unique_ptr<kv::storage::Engine>(engine), kNode};
  Fixture() { ks.set_now_ms(kNow); }

  kv::storage::RecordView Record(std::string_view key, std::string* holder) {
    std::string skey;
    kv::storage::MakeStorageKey(kv::util::KeySlot(key), key, &skey);
    std::string_view raw;
    std::string scratch;
    REQUIRE(engine->Get(skey, &raw, &scratch).ok());
    *holder = std::string(raw);
    kv::storage::RecordView rec;
    REQUIRE(kv::storage::DecodeRecord(*holder, &rec).ok());
    return rec;
  }
};
}  // namespace

TEST_CASE("every write stores a new version whose dot and context advance") {
  Fixture f;
  REQUIRE(f.ks.Set("k", "v1", 0).ok());
  std::string h1;
  kv::storage::RecordView r1 = f.Record("k", &h1);
  REQUIRE(r1.siblings.size() == 1);
  CHECK(r1.siblings[0].dot.node == kNode);
  CHECK(r1.siblings[0].timestamp_ms == kNow);
  CHECK(r1.siblings[0].value == "v1");
  REQUIRE(r1.context.size() == 1);
  CHECK(r1.context[0] == r1.siblings[0].dot);

  REQUIRE(f.ks.Set("k", "v2", kNow + 5000).ok());
  std::string h2;
  kv::storage::RecordView r2 = f.Record("k", &h2);
  REQUIRE(r2.siblings.size() == 1);
  CHECK(r2.siblings[0].dot.counter > r1.siblings[0].dot.counter);
  CHECK(r2.siblings[0].expire_at_ms == kNow + 5000);
  REQUIRE(r2.context.size() == 1);
  CHECK(r2.context[0].counter == r2.siblings[0].dot.counter);
}

TEST_CASE("an expired key reads as missing and is deleted on access") {
  Fixture f;
  REQUIRE(f.ks.Set("short", "x", kNow + 100).ok());
  REQUIRE(f.ks.Set("long", "y", kNow + 100000).ok());
  std::string_view v;
  int64_t exp = 0;
  CHECK(f.ks.Get("short", &v, &exp));
  CHECK(exp == kNow + 100);
  f.ks.set_now_ms(kNow + 100);  // expiry is inclusive: at expire_at it is gone
  CHECK_FALSE(f.ks.Get("short", &v, &exp));
  CHECK(f.ks.KeyCount() == 1);
  CHECK(f.ks.stats().expired == 1);
  CHECK(f.ks.Get("long", &v, &exp));
  CHECK(v == "y");
}

TEST_CASE("SetExpire keeps the value and PERSIST-style 0 clears the TTL") {
  Fixture f;
  REQUIRE(f.ks.Set("k", "val", 0).ok());
  CHECK(f.ks.SetExpire("k", kNow + 10));
  CHECK(f.ks.KeysWithExpiry() == 1);
  std::string_view v;
  int64_t exp;
  REQUIRE(f.ks.Get("k", &v, &exp));
  CHECK(v == "val");
  CHECK(exp == kNow + 10);
  CHECK(f.ks.SetExpire("k", 0));
  CHECK(f.ks.KeysWithExpiry() == 0);
  CHECK_FALSE(f.ks.SetExpire("missing", kNow + 10));
}

TEST_CASE("the active expiry cycle reclaims expired keys nobody reads") {
  Fixture f;
  for (int i = 0; i < 5000; i++) {
    REQUIRE(f.ks.Set("tmp:" + std::to_string(i), "x", kNow + 10).ok());
  }
  for (int i = 0; i < 100; i++) REQUIRE(f.ks.Set("keep:" + std::to_string(i), "x", 0).ok());
  for (int i = 0; i < 100; i++) {
    REQUIRE(f.ks.Set("later:" + std::to_string(i), "x", kNow + 1000000).ok());
  }
  f.ks.set_now_ms(kNow + 20);
  size_t rounds = 0;
  while (f.ks.KeyCount() > 200 && rounds < 1000) {
    f.ks.ActiveExpireCycle(1000000, 1);
    rounds++;
  }
  CHECK(f.ks.KeyCount() == 200);
  CHECK(f.ks.KeysWithExpiry() == 100);
  CHECK(f.ks.stats().expired == 5000);
}

TEST_CASE("SCAN visits every key at least once, terminates, and tolerates writes between calls") {
  Fixture f;
  kv::util::Random rnd(kv::test::TestSeed(7));
  std::set<std::string> present;
  // Many keys share long prefixes, the hard case for a prefix cursor.
  for (int i = 0; i < 3000; i++) {
    std::string k = "user:0000" + std::to_string(rnd.Uniform(100000));
    if (i % 7 == 0) k = std::string("\0\0bin", 5) + std::to_string(i);
    REQUIRE(f.ks.Set(k, "v", 0).ok());
    present.insert(k);
  }
  std::set<std::string> stable = present;  // never deleted during the scan
  std::set<std::string> seen;
  uint64_t cursor = 0;
  int calls = 0;
  do {
    cursor = f.ks.Scan(cursor, 10, [&](std::string_view k) { seen.emplace(k); });
    calls++;
    // Churn between calls: add new keys and delete ones not in `stable`.
    std::string extra = "churn:" + std::to_string(calls);
    REQUIRE(f.ks.Set(extra, "v", 0).ok());
    if (calls % 3 == 0) f.ks.Delete("churn:" + std::to_string(calls - 1));
  } while (cursor != 0 && calls < 100000);
  CHECK(cursor == 0);
  for (const std::string& k : stable) CHECK_MESSAGE(seen.count(k) == 1, kv::test::Escape(k));
  // About COUNT keys per call, not the whole keyspace at once.
  CHECK(calls > static_cast<int>(stable.size() / 20));
}

TEST_CASE("a SCAN cursor is a key position, so it resumes identically in a new keyspace") {
  Fixture a, b;
  for (int i = 0; i < 500; i++) {
    REQUIRE(a.ks.Set("k" + std::to_string(i), "v", 0).ok());
    REQUIRE(b.ks.Set("k" + std::to_string(i), "v", 0).ok());
  }
  std::vector<std::string> first_a, second_a, second_b;
  uint64_t c = a.ks.Scan(0, 50, [&](std::string_view k) { first_a.emplace_back(k); });
  REQUIRE(c != 0);
  a.ks.Scan(c, 50, [&](std::string_view k) { second_a.emplace_back(k); });
  b.ks.Scan(c, 50, [&](std::string_view k) { second_b.emplace_back(k); });
  CHECK(second_a == second_b);
}

TEST_CASE("after Prefetch, commands in any order store under their own storage keys") {
  Fixture f;
  // Hash tags give keys of one slot and keys of another; one key is not
  // prefetched, one is looked up twice, and the order is not the peek order.
  const std::string_view peeked[] = {"{user1}:a", "b", "{user1}:c", "d", "b"};
  f.ks.Prefetch(peeked, 5);
  for (std::string_view key : {"d", "{user1}:a", "b", "not-peeked", "{user1}:c", "b"}) {
    REQUIRE(f.ks.Set(key, "v:" + std::string(key), 0).ok());
  }
  // A stale batch: later commands still find their own keys.
  REQUIRE(f.ks.Set("{user1}:a", "again", 0).ok());
  for (std::string_view key : {"d", "b", "not-peeked", "{user1}:c"}) {
    CAPTURE(key);
    std::string holder;
    kv::storage::RecordView rec = f.Record(key, &holder);  // looked up by its own storage key
    REQUIRE(rec.siblings.size() == 1);
    CHECK(rec.siblings[0].value == "v:" + std::string(key));
  }
  std::string holder;
  CHECK(f.Record("{user1}:a", &holder).siblings[0].value == "again");
  CHECK(f.ks.engine()->Stats().keys == 5);
}
