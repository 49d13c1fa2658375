#include "storage/table_cache.h"

#include <utility>

#include "storage/filename.h"

namespace kv::storage {

namespace {

// Lookups a table serves before Get maps it (Table::MapForLookups): enough
// that a table opened for a probe or two by a churning cache stays unmapped.
constexpr uint32_t kMapAfterLookups = 8;

// Owns the table alongside an iterator over it: the table must outlive the
// iterator even if the cache closes it meanwhile.
class TableIterator final : public Iterator {
 public:
  TableIterator(std::shared_ptr<Table> table, bool compaction)
      : table_(std::move(table)), it_(table_->NewIterator(compaction)) {}
  bool Valid() const override { return it_->Valid(); }
  void Seek(std::string_view target) override { it_->Seek(target); }
  void SeekToFirst() override { it_->SeekToFirst(); }
  void Next() override { it_->Next(); }
  std::string_view key() const override { return it_->key(); }
  std::string_view value() const override { return it_->value(); }
  util::Status status() const override { return it_->status(); }

 private:
  std::shared_ptr<Table> table_;
  std::unique_ptr<Iterator> it_;
};

// What NewIterator returns for a table that would not open: positioning
// it never yields data, and its status says why.
class FailedIterator final : public Iterator {
 public:
  explicit FailedIterator(util::Status s) : status_(std::move(s)) {}
  bool Valid() const override { return false; }
  void Seek(std::string_view) override {}
  void SeekToFirst() override {}
  void Next() override {}
  std::string_view key() const override { return {}; }
  std::string_view value() const override { return {}; }
  util::Status status() const override { return status_; }

 private:
  util::Status status_;
};

}  // namespace

TableCache::TableCache(Env* env, std::string dir, const TableOptions& options,
                       BlockCache* block_cache, size_t capacity)
    : env_(env),
      dir_(std::move(dir)),
      options_(options),
      block_cache_(block_cache),
      capacity_(capacity < 1 ? 1 : capacity) {}

util::Status TableCache::Find(uint64_t number, uint64_t file_size, std::shared_ptr<Table>* out) {
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = tables_.find(number);
    if (it != tables_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru_pos);
      hits_++;
      *out = it->second.table;
      return util::Status::OK();
    }
    misses_++;
  }
  // Opening reads the footer, index and filter: done outside the lock so
  // lookups of open tables on other threads do not wait for the disk.
  const std::string path = TableFileName(dir_, number);
  std::unique_ptr<RandomAccessFile> file;
  util::Status s = env_->NewRandomAccessFile(path, &file);
  if (!s.ok()) return s;
  std::unique_ptr<Table> opened;
  s = Table::Open(options_, std::move(file), file_size, number, block_cache_, &opened);
  if (!s.ok()) return s;
  opened->MapForLookups(env_, path, kMapAfterLookups);
  std::shared_ptr<Table> table(std::move(opened));

  std::lock_guard<std::mutex> l(mu_);
  auto it = tables_.find(number);
  if (it != tables_.end()) {  // another thread opened it meanwhile: use theirs
    *out = it->second.table;
    return util::Status::OK();
  }
  lru_.push_front(number);
  tables_.emplace(number, Entry{table, lru_.begin()});
  memory_ += table->MemoryUsage();
  while (tables_.size() > capacity_) {
    uint64_t victim = lru_.back();
    lru_.pop_back();
    auto v = tables_.find(victim);
    memory_ -= v->second.table->MemoryUsage();
    tables_.erase(v);
  }
  *out = std::move(table);
  return util::Status::OK();
}

std::unique_ptr<Iterator> TableCache::NewIterator(uint64_t number, uint64_t file_size,
                                                  bool compaction) {
  std::shared_ptr<Table> table;
  util::Status s = Find(number, file_size, &table);
  if (!s.ok()) return std::make_unique<FailedIterator>(std::move(s));
  return std::make_unique<TableIterator>(std::move(table), compaction);
}

void TableCache::Evict(uint64_t number) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = tables_.find(number);
  if (it == tables_.end()) return;
  memory_ -= it->second.table->MemoryUsage();
  lru_.erase(it->second.lru_pos);
  tables_.erase(it);
}

size_t TableCache::open_tables() const {
  std::lock_guard<std::mutex> l(mu_);
  return tables_.size();
}

uint64_t TableCache::hits() const {
  std::lock_guard<std::mutex> l(mu_);
  return hits_;
}

uint64_t TableCache::misses() const {
  std::lock_guard<std::mutex> l(mu_);
  return misses_;
}

size_t TableCache::MemoryUsage() const {
  std::lock_guard<std::mutex> l(mu_);
  return memory_;
}

}  // namespace kv::storage
