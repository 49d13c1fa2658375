#include "storage/memory_engine.h"

#include <algorithm>

#include "util/crc16.h"
#include "util/hash.h"

namespace kv::storage {

namespace {
constexpr size_t kInitialBuckets = 1024;
bool EntryLess(const MemoryEngine::Entry* a, std::string_view key) { return a->key < key; }
}  // namespace

MemoryEngine::MemoryEngine()
    : table_(kInitialBuckets, Bucket{0, nullptr}),
      mask_(kInitialBuckets - 1),
      slots_(util::kSlotCount),
      random_(util::OsRandom64()) {}

MemoryEngine::~MemoryEngine() { FreeAll(); }

void MemoryEngine::FreeAll() {
  for (Bucket& b : table_) {
    delete b.entry;
    b.entry = nullptr;
  }
}

size_t MemoryEngine::FindBucket(std::string_view skey, uint64_t hash) const {
  size_t i = hash & mask_;
  while (true) {
    const Bucket& b = table_[i];
    if (b.entry == nullptr) return i;
    if (b.hash == hash && b.entry->key == skey) return i;
    i = (i + 1) & mask_;
  }
}

void MemoryEngine::GrowTable() {
  std::vector<Bucket> old(table_.size() * 2, Bucket{0, nullptr});
  old.swap(table_);
  mask_ = table_.size() - 1;
  for (const Bucket& b : old) {
    if (b.entry == nullptr) continue;
    size_t i = b.hash & mask_;
    while (table_[i].entry != nullptr) i = (i + 1) & mask_;
    table_[i] = b;
  }
}

void MemoryEngine::RemoveBucket(size_t hole) {
  // Backward-shift deletion keeps every probe chain unbroken without
  // tombstones.
  size_t i = hole;
  while (true) {
    i = (i + 1) & mask_;
    Bucket& b = table_[i];
    if (b.entry == nullptr) break;
    size_t home = b.hash & mask_;
    // Move b into the hole if its home is not in (hole, i].
    bool in_range = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
    if (!in_range) {
      table_[hole] = b;
      hole = i;
    }
  }
  table_[hole] = Bucket{0, nullptr};
}

void MemoryEngine::SlotInsert(Entry* e) {
  std::vector<Entry*>& v = slots_[StorageKeySlot(e->key)];
  auto it = std::lower_bound(v.begin(), v.end(), std::string_view(e->key), EntryLess);
  v.insert(it, e);
}

void MemoryEngine::SlotRemove(Entry* e) {
  std::vector<Entry*>& v = slots_[StorageKeySlot(e->key)];
  auto it = std::lower_bound(v.begin(), v.end(), std::string_view(e->key), EntryLess);
  if (it != v.end() && *it == e) v.erase(it);
  if (v.empty()) v.shrink_to_fit();
}

void MemoryEngine::SetExpire(Entry* e, int64_t expire_at_ms) {
  if (e->expire_at_ms != 0 && expire_at_ms == 0) {
    // Swap-remove from the expiry index.
    Entry* last = expiring_.back();
    expiring_[e->expire_index] = last;
    last->expire_index = e->expire_index;
    expiring_.pop_back();
  } else if (e->expire_at_ms == 0 && expire_at_ms != 0) {
    e->expire_index = static_cast<uint32_t>(expiring_.size());
    expiring_.push_back(e);
  }
  e->expire_at_ms = expire_at_ms;
}

util::Status MemoryEngine::Get(std::string_view skey, std::string_view* value, std::string*) {
  size_t i = FindBucket(skey, util::Hash64(skey));
  Entry* e = table_[i].entry;
  if (e == nullptr) return util::Status::NotFound("");
  *value = e->value;
  return util::Status::OK();
}

util::Status MemoryEngine::Put(std::string_view skey, std::string_view value,
                               int64_t expire_at_ms) {
  if (skey.size() < 2) return util::Status::InvalidArgument("storage key shorter than a slot");
  uint64_t h = util::Hash64(skey);
  size_t i = FindBucket(skey, h);
  Entry* e = table_[i].entry;
  if (e != nullptr) {
    data_bytes_ -= e->value.size();
    e->value.assign(value.data(), value.size());
  } else {
    e = new Entry;
    e->key.assign(skey.data(), skey.size());
    e->value.assign(value.data(), value.size());
    table_[i] = Bucket{h, e};
    count_++;
    data_bytes_ += skey.size();
    SlotInsert(e);
    if (count_ * 10 > table_.size() * 7) GrowTable();
  }
  data_bytes_ += value.size();
  SetExpire(e, expire_at_ms);
  return util::Status::OK();
}

util::Status MemoryEngine::Delete(std::string_view skey) {
  size_t i = FindBucket(skey, util::Hash64(skey));
  Entry* e = table_[i].entry;
  if (e == nullptr) return util::Status::OK();
  SetExpire(e, 0);
  SlotRemove(e);
  RemoveBucket(i);
  count_--;
  data_bytes_ -= e->key.size() + e->value.size();
  delete e;
  return util::Status::OK();
}

util::Status MemoryEngine::Clear() {
  FreeAll();
  std::vector<Bucket>(kInitialBuckets, Bucket{0, nullptr}).swap(table_);
  mask_ = kInitialBuckets - 1;
  for (auto& v : slots_) std::vector<Entry*>().swap(v);
  std::vector<Entry*>().swap(expiring_);
  count_ = 0;
  data_bytes_ = 0;
  return util::Status::OK();
}

EngineStats MemoryEngine::Stats() const {
  EngineStats s;
  s.keys = count_;
  s.keys_with_expiry = expiring_.size();
  s.data_bytes = data_bytes_;
  return s;
}

size_t MemoryEngine::DeleteExpiredSample(int64_t now_ms, size_t max_samples, size_t* sampled) {
  size_t deleted = 0, looked = 0;
  while (looked < max_samples && !expiring_.empty()) {
    looked++;
    Entry* e = expiring_[random_.Uniform(expiring_.size())];
    if (e->expire_at_ms <= now_ms) {
      std::string key = e->key;
      (void)Delete(key);
      deleted++;
    }
  }
  *sampled = looked;
  return deleted;
}

class MemoryIterator final : public Iterator {
 public:
  explicit MemoryIterator(const MemoryEngine* engine) : engine_(engine) {}
  bool Valid() const override { return slot_ < util::kSlotCount; }
  void SeekToFirst() override {
    slot_ = 0;
    pos_ = 0;
    SkipEmpty();
  }
  void Seek(std::string_view target) override {
    pos_ = 0;
    if (target.size() < 2) {
      // Every key has a 2-byte slot prefix, so a shorter target sorts just
      // before the first key of slot (target[0] << 8).
      slot_ = target.empty() ? 0 : static_cast<uint32_t>(static_cast<uint8_t>(target[0])) << 8;
    } else {
      slot_ = StorageKeySlot(target);
    }
    if (slot_ >= util::kSlotCount) {
      slot_ = util::kSlotCount;  // past the last slot: nothing is >= target
      return;
    }
    if (target.size() >= 2) {
      const auto& v = engine_->slots_[slot_];
      pos_ =
          static_cast<size_t>(std::lower_bound(v.begin(), v.end(), target, EntryLess) - v.begin());
    }
    SkipEmpty();
  }
  void Next() override {
    pos_++;
    SkipEmpty();
  }
  std::string_view key() const override { return engine_->slots_[slot_][pos_]->key; }
  std::string_view value() const override { return engine_->slots_[slot_][pos_]->value; }

 private:
  void SkipEmpty() {
    while (slot_ < util::kSlotCount && pos_ >= engine_->slots_[slot_].size()) {
      slot_++;
      pos_ = 0;
    }
  }
  const MemoryEngine* engine_;
  uint32_t slot_ = util::kSlotCount;
  size_t pos_ = 0;
};

std::unique_ptr<Iterator> MemoryEngine::NewIterator() {
  return std::make_unique<MemoryIterator>(this);
}

}  // namespace kv::storage
