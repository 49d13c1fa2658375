// BlockCache: LRU eviction by bytes, hit/miss counters, evicted blocks kept
// alive by their readers, EraseFile, SetCapacity, and concurrent use.
#include "storage/table/block_cache.h"

#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "storage/table/block_builder.h"

namespace kv::storage {
namespace {

// A valid block of exactly `size` bytes (one entry padded with its value).
std::shared_ptr<const Block> MakeBlock(size_t size, char fill = 'v') {
  BlockBuilder b(16);
  // Entry header (shared, non_shared, value_len varints) + 1-byte key +
  // value + 8-byte trailer; value_len takes 2 bytes from 128 on.
  size_t value_len = size - 3 - 1 - 8;
  if (value_len >= 128) value_len--;
  b.Add("k", std::string(value_len, fill));
  std::string contents(b.Finish());
  REQUIRE(contents.size() == size);
  return std::shared_ptr<const Block>(Block::Own(std::move(contents)));
}

TEST_CASE(
    "block cache evicts blocks not used since they last came by to stay within its capacity") {
  auto probe = MakeBlock(1000);
  const size_t charge = BlockCache::Charge(*probe);
  BlockCache cache(3 * charge, /*shard_bits=*/0);  // one shard: exact order
  cache.Insert(1, 0, MakeBlock(1000));
  cache.Insert(1, 1000, MakeBlock(1000));
  cache.Insert(1, 2000, MakeBlock(1000));
  CHECK(cache.entries() == 3);
  CHECK(cache.usage() == 3 * charge);

  // Touch the oldest, so the second becomes the least recently used.
  CHECK(cache.Lookup(1, 0) != nullptr);
  cache.Insert(1, 3000, MakeBlock(1000));
  CHECK(cache.usage() <= cache.capacity());
  CHECK(cache.Lookup(1, 1000) == nullptr);
  CHECK(cache.Lookup(1, 0) != nullptr);
  CHECK(cache.Lookup(1, 2000) != nullptr);
  CHECK(cache.Lookup(1, 3000) != nullptr);

  // A block twice the size evicts two.
  cache.Insert(2, 0, MakeBlock(2000));
  CHECK(cache.usage() <= cache.capacity());
  CHECK(cache.Lookup(2, 0) != nullptr);
  CHECK(cache.entries() == 2);

  // Larger than the whole cache: not cached, nothing evicted.
  cache.Insert(3, 0, MakeBlock(4 * charge));
  CHECK(cache.Lookup(3, 0) == nullptr);
  CHECK(cache.entries() == 2);
}

TEST_CASE("block cache gives a used block a second chance, and only one per use") {
  auto probe = MakeBlock(1000);
  const size_t charge = BlockCache::Charge(*probe);
  BlockCache cache(4 * charge, /*shard_bits=*/0);
  for (uint64_t off : {0, 1000, 2000, 3000}) cache.Insert(7, off, MakeBlock(1000));
  // The two oldest are used; the next two inserts evict the two unused
  // ones, although they are newer.
  REQUIRE(cache.Lookup(7, 0) != nullptr);
  REQUIRE(cache.Lookup(7, 1000) != nullptr);
  cache.Insert(7, 4000, MakeBlock(1000));
  cache.Insert(7, 5000, MakeBlock(1000));
  CHECK(cache.entries() == 4);
  CHECK(cache.Lookup(7, 2000) == nullptr);
  CHECK(cache.Lookup(7, 3000) == nullptr);
  // Their chance is spent: unused since, 0 and 1000 are now the oldest and
  // go first, before the newer (and also unused) 4000 and 5000.
  cache.Insert(7, 6000, MakeBlock(1000));
  cache.Insert(7, 7000, MakeBlock(1000));
  CHECK(cache.Lookup(7, 0) == nullptr);
  CHECK(cache.Lookup(7, 1000) == nullptr);
  CHECK(cache.Lookup(7, 4000) != nullptr);
  CHECK(cache.Lookup(7, 5000) != nullptr);
  CHECK(cache.Lookup(7, 6000) != nullptr);
  CHECK(cache.Lookup(7, 7000) != nullptr);
}

TEST_CASE("block cache finds every block while its hash table grows, and after erasing some") {
  // Thousands of entries in one shard make its bucket array double several
  // times; inserting the same key again keeps the first block.
  auto block = MakeBlock(100);
  BlockCache cache(size_t{1} << 30, /*shard_bits=*/0);
  constexpr uint64_t kFiles = 5, kBlocks = 2000;
  for (uint64_t f = 1; f <= kFiles; f++) {
    for (uint64_t b = 0; b < kBlocks; b++) cache.Insert(f, b * 4096, MakeBlock(100));
  }
  CHECK(cache.entries() == kFiles * kBlocks);
  CHECK(cache.usage() == kFiles * kBlocks * BlockCache::Charge(*block));
  const auto first = cache.Lookup(3, 4096);
  REQUIRE(first != nullptr);
  cache.Insert(3, 4096, MakeBlock(100, 'w'));
  CHECK(cache.Lookup(3, 4096) == first);
  CHECK(cache.entries() == kFiles * kBlocks);

  cache.EraseFile(2);
  cache.EraseFile(4);
  size_t wrong = 0;
  for (uint64_t f = 1; f <= kFiles; f++) {
    for (uint64_t b = 0; b < kBlocks; b++) {
      const bool erased = f == 2 || f == 4;
      wrong += (cache.Lookup(f, b * 4096) == nullptr) != erased;
    }
  }
  CHECK(wrong == 0);
  CHECK(cache.entries() == (kFiles - 2) * kBlocks);
  CHECK(cache.usage() == (kFiles - 2) * kBlocks * BlockCache::Charge(*block));
}

TEST_CASE("block cache counts hits and misses") {
  BlockCache cache(1 << 20);
  CHECK(cache.Lookup(7, 0) == nullptr);
  cache.Insert(7, 0, MakeBlock(100));
  CHECK(cache.Lookup(7, 0) != nullptr);
  CHECK(cache.Lookup(7, 0) != nullptr);
  CHECK(cache.Lookup(7, 1) == nullptr);
  CHECK(cache.hits() == 2);
  CHECK(cache.misses() == 2);
}

TEST_CASE("an evicted block stays valid while a reader holds it") {
  BlockCache cache(BlockCache::Charge(*MakeBlock(500)), 0);
  cache.Insert(1, 0, MakeBlock(500, 'x'));
  std::shared_ptr<const Block> held = cache.Lookup(1, 0);
  REQUIRE(held != nullptr);
  cache.Insert(1, 500, MakeBlock(500, 'y'));  // evicts the first
  CHECK(cache.Lookup(1, 0) == nullptr);
  auto it = held->NewIterator(BytewiseComparator());
  it->SeekToFirst();
  REQUIRE(it->Valid());
  CHECK(it->value() == std::string(500 - 13, 'x'));
}

TEST_CASE("block cache EraseFile drops one table's blocks and SetCapacity shrinks at once") {
  BlockCache cache(1 << 20);
  for (uint64_t off = 0; off < 10; off++) {
    cache.Insert(1, off, MakeBlock(100));
    cache.Insert(2, off, MakeBlock(100));
  }
  CHECK(cache.entries() == 20);
  cache.EraseFile(1);
  CHECK(cache.entries() == 10);
  for (uint64_t off = 0; off < 10; off++) {
    CHECK(cache.Lookup(1, off) == nullptr);
    CHECK(cache.Lookup(2, off) != nullptr);
  }
  CHECK(cache.usage() == 10 * BlockCache::Charge(*MakeBlock(100)));
  cache.SetCapacity(0);
  CHECK(cache.entries() == 0);
  CHECK(cache.usage() == 0);
  CHECK(cache.capacity() == 0);
}

TEST_CASE("block cache is safe under concurrent lookups, inserts and erases") {
  BlockCache cache(64 * 1024);
  const std::shared_ptr<const Block> block = MakeBlock(200);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&cache, &block, &wrong, t] {
      for (int i = 0; i < 20000; i++) {
        uint64_t file = static_cast<uint64_t>(i % 5);
        uint64_t off = static_cast<uint64_t>((i * 7 + t) % 50);
        auto b = cache.Lookup(file, off);
        if (!b) {
          cache.Insert(file, off, block);
        } else if (b->size() != 200) {
          wrong++;
        }
        if (i % 5000 == 0) cache.EraseFile(file);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(wrong.load() == 0);
  CHECK(cache.usage() <= cache.capacity());
  CHECK(cache.hits() + cache.misses() == 80000);
}

}  // namespace
}  // namespace kv::storage
