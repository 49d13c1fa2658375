#include "storage/table/block_cache.h"

#include <utility>

#include "util/hash.h"

namespace kv::storage {

namespace {
// Approximate memory of one entry besides the block's bytes: the Block
// object, the handle, its bucket slot and the shared_ptr control block.
constexpr size_t kEntryOverhead = sizeof(Block) + 96;
constexpr size_t kInitialBuckets = 64;
}  // namespace

uint64_t BlockCache::Hash(const Key& k) {
  return util::Mix64(k.file_number * 0x9e3779b97f4a7c15ULL ^ k.offset);
}

size_t BlockCache::Charge(const Block& block) { return block.size() + kEntryOverhead; }

BlockCache::Shard::Shard() : buckets(kInitialBuckets, nullptr) { lru.prev = lru.next = &lru; }

BlockCache::Shard::~Shard() {
  for (Handle* h = lru.next; h != &lru;) {
    Handle* next = h->next;
    delete h;
    h = next;
  }
}

BlockCache::Handle** BlockCache::Shard::FindSlot(const Key& key, uint64_t hash) {
  Handle** slot = &buckets[hash & (buckets.size() - 1)];
  while (*slot != nullptr && ((*slot)->hash != hash || !((*slot)->key == key))) {
    slot = &(*slot)->next_hash;
  }
  return slot;
}

void BlockCache::Shard::Remove(Handle* h) {
  Handle** slot = FindSlot(h->key, h->hash);
  *slot = h->next_hash;
  h->prev->next = h->next;
  h->next->prev = h->prev;
  usage -= h->charge;
  count--;
  delete h;  // the block lives on while readers hold it
}

void BlockCache::Shard::Grow() {
  std::vector<Handle*> grown(buckets.size() * 2, nullptr);
  const size_t mask = grown.size() - 1;
  for (Handle* head : buckets) {
    while (head != nullptr) {
      Handle* next = head->next_hash;
      Handle** slot = &grown[head->hash & mask];
      head->next_hash = *slot;
      *slot = head;
      head = next;
    }
  }
  buckets.swap(grown);
}

void BlockCache::Shard::EvictTo(size_t limit) {
  while (usage > limit && lru.prev != &lru) {
    Handle* oldest = lru.prev;
    if (!oldest->referenced) {
      Remove(oldest);
      continue;
    }
    // Used since it last came by: back to the front, unmarked. Each pass
    // unmarks what it moves, so the loop ends within two laps.
    oldest->referenced = false;
    oldest->prev->next = &lru;
    lru.prev = oldest->prev;
    oldest->next = lru.next;
    oldest->prev = &lru;
    lru.next->prev = oldest;
    lru.next = oldest;
  }
}

BlockCache::BlockCache(size_t capacity_bytes, int shard_bits)
    : shard_bits_(shard_bits), capacity_(capacity_bytes) {
  const size_t n = size_t{1} << shard_bits_;
  shards_.reserve(n);
  for (size_t i = 0; i < n; i++) {
    shards_.push_back(std::make_unique<Shard>());
    shards_.back()->capacity = capacity_bytes / n;
  }
}

BlockCache::~BlockCache() = default;

BlockCache::Shard& BlockCache::ShardFor(uint64_t hash) {
  // High bits pick the shard, low bits the bucket inside it.
  return *shards_[shard_bits_ == 0 ? 0 : static_cast<size_t>(hash >> (64 - shard_bits_))];
}

std::shared_ptr<const Block> BlockCache::Lookup(uint64_t file_number, uint64_t offset) {
  const Key key{file_number, offset};
  const uint64_t hash = Hash(key);
  Shard& shard = ShardFor(hash);
  std::shared_ptr<const Block> result;
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    Handle* h = *shard.FindSlot(key, hash);
    if (h != nullptr) {
      // Marked, not moved: eviction gives it a second chance (EvictTo). A
      // move to the front touched both list neighbours, two cache misses
      // per hit on a cache of many blocks.
      h->referenced = true;
      result = h->block;
    }
  }
  (result ? hits_ : misses_).fetch_add(1, std::memory_order_relaxed);
  return result;
}

void BlockCache::Insert(uint64_t file_number, uint64_t offset, std::shared_ptr<const Block> block) {
  const Key key{file_number, offset};
  const uint64_t hash = Hash(key);
  const size_t charge = Charge(*block);
  Shard& shard = ShardFor(hash);
  std::lock_guard<std::mutex> lock(shard.mu);
  if (charge > shard.capacity) return;
  Handle* h = *shard.FindSlot(key, hash);
  if (h != nullptr) {
    h->prev->next = h->next;
    h->next->prev = h->prev;
  } else {
    shard.EvictTo(shard.capacity - charge);
    h = new Handle{key, hash, std::move(block), charge, false, nullptr, nullptr, nullptr};
    // Found again after eviction, which may have unlinked a chain neighbour.
    Handle** slot = shard.FindSlot(key, hash);
    *slot = h;
    shard.usage += charge;
    if (++shard.count > shard.buckets.size()) shard.Grow();
  }
  h->next = shard.lru.next;
  h->prev = &shard.lru;
  h->next->prev = h;
  shard.lru.next = h;
}

void BlockCache::EraseFile(uint64_t file_number) {
  for (auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    for (Handle* h = shard->lru.next; h != &shard->lru;) {
      Handle* next = h->next;
      if (h->key.file_number == file_number) shard->Remove(h);
      h = next;
    }
  }
}

void BlockCache::SetCapacity(size_t capacity_bytes) {
  capacity_.store(capacity_bytes, std::memory_order_relaxed);
  const size_t per_shard = capacity_bytes / shards_.size();
  for (auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    shard->capacity = per_shard;
    shard->EvictTo(per_shard);
  }
}

size_t BlockCache::usage() const {
  size_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    total += shard->usage;
  }
  return total;
}

size_t BlockCache::entries() const {
  size_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    total += shard->count;
  }
  return total;
}

}  // namespace kv::storage
