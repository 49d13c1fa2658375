#include "storage/table/block_cache.h"

#include <utility>

#include "util/hash.h"

namespace kv::storage {

namespace {
// Approximate memory of one entry besides the block's bytes: the Block
// object, the list node, the hash map node and the shared_ptr control block.
constexpr size_t kEntryOverhead = sizeof(Block) + 96;
}  // namespace

size_t BlockCache::KeyHash::operator()(const Key& k) const {
  return static_cast<size_t>(util::Mix64(k.file_number * 0x9e3779b97f4a7c15ULL ^ k.offset));
}

size_t BlockCache::Charge(const Block& block) { return block.size() + kEntryOverhead; }

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

BlockCache::Shard& BlockCache::ShardFor(const Key& key) {
  // High bits pick the shard; the map inside uses the whole hash.
  const uint64_t h = KeyHash()(key);
  return *shards_[shard_bits_ == 0 ? 0 : static_cast<size_t>(h >> (64 - shard_bits_))];
}

void BlockCache::Shard::EvictTo(size_t limit) {
  while (usage > limit && !lru.empty()) {
    Entry& victim = lru.back();
    usage -= victim.charge;
    index.erase(victim.key);
    lru.pop_back();  // the block lives on while readers hold it
  }
}

std::shared_ptr<const Block> BlockCache::Lookup(uint64_t file_number, uint64_t offset) {
  const Key key{file_number, offset};
  Shard& shard = ShardFor(key);
  std::shared_ptr<const Block> result;
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    auto it = shard.index.find(key);
    if (it != shard.index.end()) {
      shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
      result = it->second->block;
    }
  }
  (result ? hits_ : misses_).fetch_add(1, std::memory_order_relaxed);
  return result;
}

void BlockCache::Insert(uint64_t file_number, uint64_t offset, std::shared_ptr<const Block> block) {
  const Key key{file_number, offset};
  const size_t charge = Charge(*block);
  Shard& shard = ShardFor(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  if (charge > shard.capacity) return;
  auto it = shard.index.find(key);
  if (it != shard.index.end()) {
    shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
    return;
  }
  shard.EvictTo(shard.capacity - charge);
  shard.lru.push_front(Entry{key, std::move(block), charge});
  shard.index.emplace(key, shard.lru.begin());
  shard.usage += charge;
}

void BlockCache::EraseFile(uint64_t file_number) {
  for (auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    for (auto it = shard->lru.begin(); it != shard->lru.end();) {
      if (it->key.file_number == file_number) {
        shard->usage -= it->charge;
        shard->index.erase(it->key);
        it = shard->lru.erase(it);
      } else {
        ++it;
      }
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
    total += shard->lru.size();
  }
  return total;
}

}  // namespace kv::storage
