#include "server/keyspace.h"

#include "util/clock.h"
#include "util/crc16.h"
#include "util/log.h"

namespace kv::server {

Keyspace::Keyspace(std::unique_ptr<storage::Engine> engine, uint64_t node_id)
    : engine_(std::move(engine)),
      tracks_keys_(engine_->TracksKeys()),
      node_id_(node_id),
      now_ms_(util::WallMs()) {
  // Dot counters must never repeat for this node id, also across restarts
  // of a persistent engine: start from the wall clock in microseconds, which
  // is ahead of any counter an earlier run could have reached unless it
  // sustained more than a million writes per second.
  counter_ = static_cast<uint64_t>(util::WallUs());
}

storage::EngineStats Keyspace::EngineStats() const {
  storage::EngineStats s = engine_->Stats();
  if (!tracks_keys_) {
    s.keys = live_keys_;
    s.keys_with_expiry = expiry_index_.size();
  }
  return s;
}

util::Status Keyspace::Clear() {
  if (tracker_ != nullptr) tracker_->Reset();
  live_keys_ = 0;
  expiry_index_.clear();
  return engine_->Clear();
}

void Keyspace::NoteWritten(bool existed, int64_t expire_at_ms) {
  if (tracks_keys_) return;
  if (!existed) live_keys_++;
  if (expire_at_ms != 0) {
    expiry_index_[skey_] = expire_at_ms;
  } else if (!expiry_index_.empty()) {
    expiry_index_.erase(skey_);
  }
}

void Keyspace::NoteRemoved() {
  if (tracks_keys_) return;
  if (live_keys_ > 0) live_keys_--;
  if (!expiry_index_.empty()) expiry_index_.erase(skey_);
}

void Keyspace::ExpireNow(std::string_view skey) {
  (void)engine_->Delete(skey);
  NoteChange(skey);
  stats_.expired++;
  if (tracks_keys_) return;
  if (live_keys_ > 0) live_keys_--;
  expiry_index_.erase(std::string(skey));
}

util::Status Keyspace::LoadKeyIndex() {
  live_keys_ = 0;
  expiry_index_.clear();
  if (tracks_keys_) return util::Status::OK();
  std::unique_ptr<storage::Iterator> it = engine_->NewIterator();
  storage::RecordView rec;
  std::vector<std::string> expired;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!storage::DecodeRecord(it->value(), &rec).ok()) continue;
    const storage::VersionView* w = rec.Winner();
    if (w == nullptr || w->tombstone) continue;
    if (w->ExpiredAt(now_ms_)) {
      expired.emplace_back(it->key());
      continue;
    }
    live_keys_++;
    if (w->expire_at_ms != 0) expiry_index_.emplace(std::string(it->key()), w->expire_at_ms);
  }
  if (!it->status().ok()) return it->status();
  it.reset();
  for (const std::string& k : expired) (void)engine_->Delete(k);
  stats_.expired += expired.size();
  return util::Status::OK();
}

void Keyspace::Prefetch(const std::string_view* keys, size_t n) {
  if (n > kMaxPrefetch) n = kMaxPrefetch;
  std::string_view skeys[kMaxPrefetch];
  for (size_t i = 0; i < n; i++) {
    storage::MakeStorageKey(util::KeySlot(keys[i]), keys[i], &prefetch_skeys_[i]);
    skeys[i] = prefetch_skeys_[i];
  }
  prefetched_ = n;
  prefetch_next_ = 0;
  engine_->Prefetch(skeys, n);
}

void Keyspace::SetStorageKey(std::string_view key) {
  // The batch's commands look their keys up in the order Prefetch saw
  // them; one that did not is skipped over. A match is safe whatever the
  // order: every entry is a whole storage key, a function of its user key.
  for (size_t i = prefetch_next_; i < prefetched_; i++) {
    if (storage::StorageKeyUserKey(prefetch_skeys_[i]) == key) {
      skey_.swap(prefetch_skeys_[i]);
      prefetch_next_ = i + 1;
      return;
    }
  }
  storage::MakeStorageKey(util::KeySlot(key), key, &skey_);
}

const storage::VersionView* Keyspace::Lookup(std::string_view key) {
  SetStorageKey(key);
  std::string_view stored;
  util::Status s = engine_->Get(skey_, &stored, &scratch_);
  if (!s.ok()) {
    record_.context.clear();
    record_.siblings.clear();
    if (!s.IsNotFound()) {
      KV_LOG_WARNING("storage read failed: %s", s.ToString().c_str());
    } else if (!tracks_keys_ && !expiry_index_.empty()) {
      // Compaction drops expired records on its own; settle the count.
      auto it = expiry_index_.find(skey_);
      if (it != expiry_index_.end()) {
        expiry_index_.erase(it);
        if (live_keys_ > 0) live_keys_--;
        stats_.expired++;
      }
    }
    return nullptr;
  }
  s = storage::DecodeRecord(stored, &record_);
  if (!s.ok()) {
    KV_LOG_WARNING("undecodable record for key of %zu bytes: %s", key.size(), s.ToString().c_str());
    record_.context.clear();
    record_.siblings.clear();
    return nullptr;
  }
  const storage::VersionView* w = record_.Winner();
  if (w == nullptr || w->tombstone) return nullptr;
  if (w->ExpiredAt(now_ms_)) {
    ExpireNow(skey_);
    record_.context.clear();
    record_.siblings.clear();
    return nullptr;
  }
  return w;
}

bool Keyspace::Get(std::string_view key, std::string_view* value, int64_t* expire_at_ms,
                   bool count_stats) {
  const storage::VersionView* w = Lookup(key);
  if (w == nullptr) {
    if (count_stats) stats_.misses++;
    return false;
  }
  if (count_stats) stats_.hits++;
  *value = w->value;
  *expire_at_ms = w->expire_at_ms;
  return true;
}

bool Keyspace::Exists(std::string_view key) { return Lookup(key) != nullptr; }

util::Status Keyspace::WriteVersion(std::string_view value, int64_t expire_at_ms, bool had_record) {
  // The new context is what this replica holds plus the new dot: a plain
  // write supersedes every sibling stored here (DESIGN.md section 4).
  counter_++;
  bool found = false;
  for (storage::Dot& d : record_.context) {
    if (d.node == node_id_) {
      d.counter = counter_;
      found = true;
    }
  }
  if (!found) record_.context.push_back(storage::Dot{node_id_, counter_});
  storage::VersionView v;
  v.dot = storage::Dot{node_id_, counter_};
  v.timestamp_ms = now_ms_;
  v.expire_at_ms = expire_at_ms;
  v.value = value;
  encoded_.clear();
  storage::EncodeSingleVersion(record_.context, v, &encoded_);
  util::Status s = engine_->Put(skey_, encoded_, expire_at_ms);
  if (s.ok()) NoteWritten(had_record, expire_at_ms);
  NoteChange(skey_);
  return s;
}

util::Status Keyspace::Set(std::string_view key, std::string_view value, int64_t expire_at_ms) {
  const storage::VersionView* w = Lookup(key);
  return WriteVersion(value, expire_at_ms, w != nullptr);
}

bool Keyspace::Delete(std::string_view key) {
  if (Lookup(key) == nullptr) return false;
  // With one replica a delete can drop the record outright; replication
  // will turn this into a tombstone version (DESIGN.md section 4).
  (void)engine_->Delete(skey_);
  NoteRemoved();
  NoteChange(skey_);
  return true;
}

bool Keyspace::IsLive(const storage::RecordView& rec, int64_t* expire_at_ms) const {
  const storage::VersionView* w = rec.Winner();
  if (w == nullptr || w->tombstone || w->ExpiredAt(now_ms_)) return false;
  *expire_at_ms = w->expire_at_ms;
  return true;
}

bool Keyspace::StoredLive(std::string_view skey) {
  if (tracks_keys_) return false;  // the engine counts keys itself
  std::string_view stored;
  storage::RecordView rec;
  int64_t expiry = 0;
  return engine_->Get(skey, &stored, &scratch_).ok() && storage::DecodeRecord(stored, &rec).ok() &&
         IsLive(rec, &expiry);
}

util::Status Keyspace::PutRecord(std::string_view skey, std::string_view record) {
  storage::RecordView rec;
  util::Status s = storage::DecodeRecord(record, &rec);
  if (!s.ok()) return s;
  skey_.assign(skey.data(), skey.size());
  const bool existed = StoredLive(skey_);
  int64_t expiry = 0;
  const bool live = IsLive(rec, &expiry);
  s = engine_->Put(skey_, record, storage::RecordExpireAt(rec));
  if (!s.ok()) return s;
  if (live) {
    NoteWritten(existed, expiry);
  } else if (existed) {
    NoteRemoved();
  }
  NoteChange(skey_);
  return util::Status::OK();
}

util::Status Keyspace::DeleteRecord(std::string_view skey) {
  skey_.assign(skey.data(), skey.size());
  const bool existed = StoredLive(skey_);
  util::Status s = engine_->Delete(skey_);
  if (!s.ok()) return s;
  if (existed) NoteRemoved();
  NoteChange(skey_);
  return util::Status::OK();
}

bool Keyspace::SetExpire(std::string_view key, int64_t expire_at_ms) {
  const storage::VersionView* w = Lookup(key);
  if (w == nullptr) return false;
  util::Status s = WriteVersion(w->value, expire_at_ms, true);
  if (!s.ok()) KV_LOG_WARNING("storage write failed: %s", s.ToString().c_str());
  return s.ok();
}

namespace {
constexpr int kCursorPrefixBytes = 6;

uint64_t CursorOf(std::string_view skey) {
  uint64_t c = static_cast<uint64_t>(storage::StorageKeySlot(skey)) << 48;
  std::string_view user = storage::StorageKeyUserKey(skey);
  for (int i = 0; i < kCursorPrefixBytes; i++) {
    uint64_t b =
        i < static_cast<int>(user.size()) ? static_cast<uint8_t>(user[static_cast<size_t>(i)]) : 0;
    c |= b << (8 * (kCursorPrefixBytes - 1 - i));
  }
  return c;
}

// The smallest storage key whose cursor is `cursor`: the prefix without
// trailing zero bytes (they may be padding), so no key is skipped.
std::string SeekTargetOf(uint64_t cursor) {
  std::string t;
  t.push_back(static_cast<char>((cursor >> 56) & 0x3f));
  t.push_back(static_cast<char>((cursor >> 48) & 0xff));
  for (int i = 0; i < kCursorPrefixBytes; i++) {
    t.push_back(static_cast<char>((cursor >> (8 * (kCursorPrefixBytes - 1 - i))) & 0xff));
  }
  while (t.size() > 2 && t.back() == '\0') t.pop_back();
  return t;
}
}  // namespace

uint64_t Keyspace::Scan(uint64_t cursor, size_t count,
                        const std::function<void(std::string_view)>& emit, uint32_t end_slot) {
  if (count == 0) count = 1;
  std::unique_ptr<storage::Iterator> it = engine_->NewIterator();
  it->Seek(SeekTargetOf(cursor));
  size_t visited = 0;
  uint64_t last_cursor = 0;
  std::vector<std::string> expired;
  storage::RecordView rec;
  while (it->Valid()) {
    if (storage::StorageKeySlot(it->key()) >= end_slot) {
      it.reset();
      for (const std::string& k : expired) ExpireNow(k);
      return end_slot >= util::kSlotCount ? 0 : static_cast<uint64_t>(end_slot) << 48;
    }
    uint64_t here = CursorOf(it->key());
    if (visited >= count && here != last_cursor) {
      // Finish keys that share the last prefix first, so the cursor always
      // moves strictly forward.
      for (const std::string& k : expired) ExpireNow(k);
      return here;
    }
    visited++;
    last_cursor = here;
    if (storage::DecodeRecord(it->value(), &rec).ok()) {
      const storage::VersionView* w = rec.Winner();
      if (w != nullptr && !w->tombstone) {
        if (w->ExpiredAt(now_ms_)) {
          expired.emplace_back(it->key());
        } else {
          emit(storage::StorageKeyUserKey(it->key()));
        }
      }
    }
    it->Next();
  }
  it.reset();
  for (const std::string& k : expired) ExpireNow(k);
  // Nothing left here; in a cluster the next node's run continues.
  return end_slot >= util::kSlotCount ? 0 : static_cast<uint64_t>(end_slot) << 48;
}

uint64_t Keyspace::CountRecordsInSlots(uint32_t first_slot, uint32_t end_slot, uint64_t* bytes) {
  std::unique_ptr<storage::Iterator> it = engine_->NewIterator();
  std::string start;
  storage::MakeStorageKey(static_cast<uint16_t>(first_slot), "", &start);
  uint64_t n = 0, size = 0;
  for (it->Seek(start); it->Valid() && storage::StorageKeySlot(it->key()) < end_slot; it->Next()) {
    n++;
    if (bytes != nullptr) size += it->key().size() + it->value().size();
  }
  if (bytes != nullptr) *bytes = size;
  return n;
}

void Keyspace::ForEachKey(const std::function<void(std::string_view)>& emit) {
  std::unique_ptr<storage::Iterator> it = engine_->NewIterator();
  storage::RecordView rec;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!storage::DecodeRecord(it->value(), &rec).ok()) continue;
    const storage::VersionView* w = rec.Winner();
    if (w == nullptr || w->tombstone || w->ExpiredAt(now_ms_)) continue;
    emit(storage::StorageKeyUserKey(it->key()));
  }
}

size_t Keyspace::ActiveExpireCycle(int64_t budget_us, int effort) {
  int64_t start = util::MonotonicUs();
  size_t total = 0;
  const size_t per_round = 20 * static_cast<size_t>(effort);
  while (true) {
    size_t sampled = 0;
    size_t deleted = tracks_keys_ ? engine_->DeleteExpiredSample(now_ms_, per_round, &sampled)
                                  : SampleExpiryIndex(per_round, &sampled);
    total += deleted;
    // Keep going while more than a quarter of the sample was expired, as
    // Redis does: the keyspace is likely full of expired keys.
    if (sampled == 0 || deleted * 4 <= sampled) break;
    if (util::MonotonicUs() - start > budget_us) break;
  }
  if (tracks_keys_) stats_.expired += total;
  return total;
}

size_t Keyspace::SampleExpiryIndex(size_t max_samples, size_t* sampled) {
  // Random buckets of the hash map are a cheap uniform-enough sample.
  size_t looked = 0, deleted = 0;
  std::vector<std::string> victims;
  size_t buckets = expiry_index_.bucket_count();
  for (size_t tries = 0; looked < max_samples && tries < max_samples * 4 && !expiry_index_.empty();
       tries++) {
    size_t b = static_cast<size_t>(sample_random_.Uniform(buckets));
    for (auto it = expiry_index_.begin(b); it != expiry_index_.end(b); ++it) {
      looked++;
      if (it->second <= now_ms_) victims.push_back(it->first);
    }
  }
  for (const std::string& k : victims) {
    if (expiry_index_.count(k) == 0) continue;
    ExpireNow(k);
    deleted++;
  }
  *sampled = looked;
  return deleted;
}

}  // namespace kv::server
