// ServerPartitions (the server's side of partition transfers): a slot
// range read in batches and applied elsewhere reproduces it exactly, writes
// to a tracked range are recorded and caught up with their current state
// (deletes included), FLUSHALL stops tracking, clearing works in bounded
// batches, and freezing marks slots and reports the thaw.
#include "server/partition_store.h"

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "storage/memory_engine.h"
#include "util/crc16.h"

using kv::cluster::TransferRecord;
using kv::server::Keyspace;
using kv::server::ServerPartitions;

namespace {
constexpr int64_t kNow = 1'700'000'000'000;

struct Node {
  Keyspace ks{std::make_unique<kv::storage::MemoryEngine>(), 0x1234};
  int thaws = 0;
  ServerPartitions store{&ks, nullptr, [this] { thaws++; }};
  Node() { ks.set_now_ms(kNow); }

  // Every stored record, storage key -> record bytes.
  std::map<std::string, std::string> Dump() {
    std::map<std::string, std::string> out;
    std::unique_ptr<kv::storage::Iterator> it = ks.engine()->NewIterator();
    for (it->SeekToFirst(); it->Valid(); it->Next()) out[std::string(it->key())] = it->value();
    return out;
  }
};

std::string Key(int i) { return "key:" + std::to_string(i); }

// The storage keys of `all` whose slot is in [first, end).
std::map<std::string, std::string> InRange(const std::map<std::string, std::string>& all,
                                           uint32_t first, uint32_t end) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : all) {
    const uint32_t slot = kv::storage::StorageKeySlot(k);
    if (slot >= first && slot < end) out[k] = v;
  }
  return out;
}
}  // namespace

TEST_CASE("a slot range read in batches and applied elsewhere is reproduced exactly") {
  Node src, dst;
  for (int i = 0; i < 3000; i++) {
    REQUIRE(src.ks.Set(Key(i), std::string(50 + i % 70, 'v'), i % 5 == 0 ? kNow + 60000 : 0).ok());
  }
  const uint32_t first = 4096, end = 8192;
  std::string cursor;
  int batches = 0;
  do {
    std::vector<TransferRecord> batch;
    std::string next;
    REQUIRE(src.store.ReadRange(first, end, cursor, 4096, &batch, &next).ok());
    REQUIRE(!batch.empty());
    size_t bytes = 0;
    for (const TransferRecord& r : batch) bytes += r.key.size() + r.record.size();
    CHECK(bytes < 4096 + 200);  // about max_bytes: one record past it at most
    if (!cursor.empty()) CHECK(batch.front().key == cursor);
    REQUIRE(dst.store.Apply(batch).ok());
    cursor = next;
    batches++;
  } while (!cursor.empty());
  const auto want = InRange(src.Dump(), first, end);
  CHECK(batches > 10);
  CHECK(dst.Dump() == want);
  CHECK(dst.ks.KeyCount() == want.size());
  CHECK(dst.ks.KeysWithExpiry() > 0);
}

TEST_CASE("writes to a tracked range are caught up with their current state, deletes included") {
  Node src, dst;
  for (int i = 0; i < 500; i++) REQUIRE(src.ks.Set(Key(i), "old", 0).ok());
  const uint32_t first = 0, end = 8192;
  src.store.Track(first, end);
  CHECK(src.store.Tracking(first, end));
  CHECK(!src.store.Tracking(first, end + 1));
  std::vector<TransferRecord> all;
  std::string next;
  REQUIRE(src.store.ReadRange(first, end, "", 1 << 30, &all, &next).ok());
  CHECK(next.empty());
  REQUIRE(dst.store.Apply(all).ok());

  // After the copy: overwrites, deletes, new keys, inside and outside.
  int inside = 0;
  for (int i = 0; i < 500; i += 3) {
    if (kv::util::KeySlot(Key(i)) < end) inside++;
    if (i % 2 == 0) {
      REQUIRE(src.ks.Set(Key(i), "new", 0).ok());
    } else {
      CHECK(src.ks.Delete(Key(i)));
    }
  }
  for (int i = 500; i < 600; i++) REQUIRE(src.ks.Set(Key(i), "fresh", 0).ok());
  bool done = false;
  size_t caught = 0;
  while (!done) {
    std::vector<TransferRecord> changed;
    REQUIRE(src.store.TakeChanged(first, end, 512, &changed, &done).ok());
    for (const TransferRecord& r : changed) {
      CHECK(kv::storage::StorageKeySlot(r.key) < end);
      CHECK(r.present == (r.record.size() > 0));
    }
    caught += changed.size();
    REQUIRE(dst.store.Apply(changed).ok());
  }
  CHECK(caught >= static_cast<size_t>(inside));
  CHECK(dst.Dump() == InRange(src.Dump(), first, end));
  CHECK(dst.ks.KeyCount() == InRange(src.Dump(), first, end).size());
  // Drained: nothing more until the next write.
  std::vector<TransferRecord> none;
  REQUIRE(src.store.TakeChanged(first, end, 0, &none, &done).ok());
  CHECK(none.empty());
  CHECK(done);

  // FLUSHALL: tracking stops, so a transfer must start over.
  REQUIRE(src.ks.Clear().ok());
  CHECK(!src.store.Tracking(first, end));
  src.store.Untrack(first, end);
}

TEST_CASE("a range is cleared in bounded batches, leaving other slots alone") {
  Node n;
  for (int i = 0; i < 2000; i++) REQUIRE(n.ks.Set(Key(i), "v", 0).ok());
  const size_t outside = n.Dump().size() - InRange(n.Dump(), 0, 8192).size();
  bool empty = false;
  int rounds = 0;
  while (!empty) {
    size_t deleted = 0;
    REQUIRE(n.store.ClearSome(0, 8192, 100, &empty, &deleted).ok());
    CHECK(deleted <= 100);
    REQUIRE(++rounds < 100);
  }
  CHECK(rounds > 5);
  CHECK(InRange(n.Dump(), 0, 8192).empty());
  CHECK(n.Dump().size() == outside);
  CHECK(n.ks.KeyCount() == outside);
}

TEST_CASE("frozen slots are reported until thawed, and a thaw is announced once") {
  Node n;
  CHECK(!n.store.AnyFrozen());
  n.store.Freeze(100, 200);
  CHECK(n.store.AnyFrozen());
  CHECK(n.store.Frozen(100));
  CHECK(n.store.Frozen(199));
  CHECK(!n.store.Frozen(200));
  n.store.Thaw(100, 200);
  CHECK(!n.store.AnyFrozen());
  CHECK(n.thaws == 1);
  n.store.Thaw(100, 200);  // nothing was frozen
  CHECK(n.thaws == 1);
}
