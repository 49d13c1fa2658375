#include "storage/table/table.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>

#include "storage/dbformat.h"
#include "storage/table/bloom.h"

namespace kv::storage {

namespace {

// Every key in a table's data and index blocks is an internal key (the
// builder refuses shorter ones); a shorter one read back is damage.
constexpr size_t kMinTableKeySize = 8;

// `s` with `message` in place of its own, same code.
util::Status WithMessage(const util::Status& s, const std::string& message) {
  switch (s.code()) {
    case util::Status::Code::kOk:
      return s;
    case util::Status::Code::kNotFound:
      return util::Status::NotFound(message);
    case util::Status::Code::kInvalidArgument:
      return util::Status::InvalidArgument(message);
    case util::Status::Code::kIOError:
      return util::Status::IOError(message);
    case util::Status::Code::kBusy:
      return util::Status::Busy(message);
    case util::Status::Code::kCorruption:
      break;
  }
  return util::Status::Corruption(message);
}

}  // namespace

// The two-level iterator: an index block iterator whose entries point at data
// blocks, and an iterator over the current data block (kept alive by
// block_, whether or not the cache still holds it).
class SSTableIterator final : public Iterator {
 public:
  SSTableIterator(const Table* table, bool compaction)
      : table_(table),
        compaction_(compaction),
        index_iter_(table->index_block_.get(), table->options_.comparator, kMinTableKeySize) {}

  bool Valid() const override { return status_.ok() && data_iter_ && data_iter_->Valid(); }

  void SeekToFirst() override {
    if (!status_.ok()) return;
    index_iter_.SeekToFirst();
    LoadBlock();
    if (data_iter_) data_iter_->SeekToFirst();
    SkipEmptyBlocks();
  }

  // REQUIRES: target is an internal key (at least 8 bytes).
  void Seek(std::string_view target) override {
    if (!status_.ok()) return;
    if (target.size() < kMinTableKeySize) {
      Fail(util::Status::InvalidArgument("table seek target shorter than an internal key"));
      return;
    }
    index_iter_.Seek(target);
    LoadBlock();
    if (data_iter_) data_iter_->Seek(target);
    SkipEmptyBlocks();
  }

  void Next() override {
    if (!Valid()) return;
    data_iter_->Next();
    SkipEmptyBlocks();
  }

  std::string_view key() const override { return data_iter_->key(); }
  std::string_view value() const override { return data_iter_->value(); }
  util::Status status() const override { return status_; }

 private:
  // Errors are sticky: a reader that goes on after one would silently miss
  // the entries of the bad block.
  void Fail(util::Status s) {
    status_ = std::move(s);
    data_iter_.reset();
    block_.reset();
  }

  // Points data_iter_ at the block of the current index entry (or clears it
  // at the end of the index).
  void LoadBlock() {
    if (!index_iter_.Valid()) {
      if (!index_iter_.status().ok()) {
        Fail(util::Status::Corruption(
            TableError(table_->file_number_, "index block: " + index_iter_.status().message())));
        return;
      }
      data_iter_.reset();
      block_.reset();
      return;
    }
    if (data_iter_) {  // a Seek within the block already loaded: keep it
      BlockHandle handle;
      std::string_view v = index_iter_.value();
      if (handle.DecodeFrom(&v) && handle.offset == block_offset_) return;
    }
    std::shared_ptr<const Block> block;
    uint64_t offset = 0;
    util::Status s = table_->ReadDataBlock(index_iter_.value(), &block, &offset, compaction_);
    if (!s.ok()) {
      Fail(std::move(s));
      return;
    }
    block_offset_ = offset;
    data_iter_.reset();
    block_ = std::move(block);
    data_iter_.emplace(block_.get(), table_->options_.comparator, kMinTableKeySize);
  }

  // Moves past data blocks with nothing (left) in them.
  void SkipEmptyBlocks() {
    while (status_.ok() && data_iter_ && !data_iter_->Valid()) {
      if (!data_iter_->status().ok()) {
        Fail(util::Status::Corruption(
            TableBlockError(table_->file_number_, block_offset_, data_iter_->status().message())));
        return;
      }
      index_iter_.Next();
      LoadBlock();
      if (data_iter_) data_iter_->SeekToFirst();
    }
  }

  const Table* const table_;
  const bool compaction_;
  BlockIterator index_iter_;
  std::shared_ptr<const Block> block_;
  std::optional<BlockIterator> data_iter_;
  uint64_t block_offset_ = 0;
  util::Status status_;
};

Table::~Table() = default;

util::Status Table::ReadBlock(const BlockHandle& handle, std::shared_ptr<const Block>* out,
                              const RandomAccessFile* from) const {
  std::unique_ptr<char[]> contents;
  size_t size = 0;
  util::Status s = ReadBlockContents(from, blocks_end_, handle, &contents, &size);
  if (!s.ok()) return WithMessage(s, TableBlockError(file_number_, handle.offset, s.message()));
  auto block = Block::OwnShared(std::move(contents), size);
  if (!block->status().ok()) {
    return util::Status::Corruption(
        TableBlockError(file_number_, handle.offset, block->status().message()));
  }
  *out = std::move(block);
  return util::Status::OK();
}

util::Status Table::ReadDataBlock(std::string_view handle_value, std::shared_ptr<const Block>* out,
                                  uint64_t* offset, bool compaction) const {
  BlockHandle handle;
  if (!handle.DecodeFrom(&handle_value)) {
    return util::Status::Corruption(TableError(file_number_, "bad block handle in index"));
  }
  *offset = handle.offset;
  // Compaction streams each input once, and the table is deleted after:
  // its blocks would only evict hot ones from the cache, and reading it
  // through the mapping would leave it all in RSS until then. Other
  // iterators (SCAN, KEYS) use the mapping if lookups already made one.
  if (compaction) return ReadDataBlock(handle, out, file_.get(), false);
  return ReadDataBlock(handle, out, MappedOrFile(), true);
}

util::Status Table::ReadDataBlock(const BlockHandle& handle, std::shared_ptr<const Block>* out,
                                  const RandomAccessFile* from, bool fill_cache) const {
  if (cache_ != nullptr) {
    if (auto cached = cache_->Lookup(file_number_, handle.offset)) {
      *out = std::move(cached);
      return util::Status::OK();
    }
  }
  std::shared_ptr<const Block> block;
  util::Status s = ReadBlock(handle, &block, from);
  if (!s.ok()) return s;
  if (cache_ != nullptr && fill_cache) cache_->Insert(file_number_, handle.offset, block);
  *out = std::move(block);
  return util::Status::OK();
}

namespace {

// The big-endian value of user_key's 8 bytes from `from` on, zero-padded:
// for keys that share their first `from` bytes, a smaller value means a
// smaller key.
uint64_t KeyPrefix(std::string_view user_key, size_t from) {
  uint64_t v = 0;
  for (size_t i = from; i < from + 8; i++) {
    v = (v << 8) | (i < user_key.size() ? static_cast<uint8_t>(user_key[i]) : 0);
  }
  return v;
}

size_t CommonPrefix(std::string_view a, std::string_view b) {
  size_t n = 0;
  const size_t limit = std::min(a.size(), b.size());
  while (n < limit && a[n] == b[n]) n++;
  return n;
}

}  // namespace

util::Status Table::BuildIndex() {
  Index& x = index_;
  x.key_offsets.push_back(0);
  BlockIterator it(index_block_.get(), options_.comparator, kMinTableKeySize);
  for (it.SeekToFirst(); it.Valid(); it.Next()) {
    BlockHandle handle;
    std::string_view v = it.value();
    if (!handle.DecodeFrom(&v)) {
      return util::Status::Corruption(TableError(file_number_, "bad block handle in index"));
    }
    x.handles.push_back(handle);
    x.key_bytes.append(it.key());
    if (x.key_bytes.size() > UINT32_MAX) {
      return util::Status::Corruption(TableError(file_number_, "index block: keys too large"));
    }
    x.key_offsets.push_back(static_cast<uint32_t>(x.key_bytes.size()));
  }
  if (!it.status().ok()) {
    return util::Status::Corruption(
        TableError(file_number_, "index block: " + it.status().message()));
  }
  const size_t n = x.handles.size();
  if (options_.comparator != GetInternalKeyComparator() || n == 0) return util::Status::OK();
  // Sorted keys between two keys share those two's common prefix, so the
  // first entry and the last entry (or the one before it, if that gives a
  // longer prefix) bound the shared part.
  const std::string_view first = ExtractUserKey(x.Key(0));
  x.common = CommonPrefix(first, ExtractUserKey(x.Key(n - 1)));
  x.prefixed = n;
  if (n >= 2) {
    const size_t without_last = CommonPrefix(first, ExtractUserKey(x.Key(n - 2)));
    if (without_last > x.common) {
      x.common = without_last;
      x.prefixed = n - 1;
    }
  }
  x.prefixes.reserve(x.prefixed);
  for (size_t i = 0; i < x.prefixed; i++) {
    x.prefixes.push_back(KeyPrefix(ExtractUserKey(x.Key(i)), x.common));
  }
  return util::Status::OK();
}

size_t Table::FindIndexEntry(std::string_view target) const {
  const Index& x = index_;
  const Comparator* cmp = options_.comparator;
  const size_t n = x.handles.size();
  // Whole-key binary search over [from, n).
  auto search_from = [&](size_t from) {
    size_t lo = from, hi = n;
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (cmp->Compare(x.Key(mid), target) < 0) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  };
  if (x.prefixed == 0) return search_from(0);
  const std::string_view user = ExtractUserKey(target);
  const size_t k = std::min(x.common, user.size());
  const int c = k == 0 ? 0 : memcmp(user.data(), x.key_bytes.data(), k);
  if (c < 0 || (c == 0 && user.size() < x.common)) return 0;  // before every entry
  if (c > 0) return search_from(x.prefixed);                  // after the prefixed ones
  const uint64_t p = KeyPrefix(user, x.common);
  auto lo = std::lower_bound(x.prefixes.begin(), x.prefixes.end(), p);
  auto hi = std::upper_bound(lo, x.prefixes.end(), p);
  // Entries before lo are smaller than target, entries from hi on larger;
  // only the ties need whole keys.
  for (auto i = lo; i != hi; ++i) {
    const size_t e = static_cast<size_t>(i - x.prefixes.begin());
    if (cmp->Compare(x.Key(e), target) >= 0) return e;
  }
  const size_t e = static_cast<size_t>(hi - x.prefixes.begin());
  return e == x.prefixed ? search_from(e) : e;
}

util::Status Table::Open(const TableOptions& options, std::unique_ptr<RandomAccessFile> file,
                         uint64_t file_size, uint64_t file_number, BlockCache* cache,
                         std::unique_ptr<Table>* out) {
  if (file_size < Footer::kEncodedLength) {
    return util::Status::Corruption(TableError(
        file_number, "file too short to be an SSTable (" + std::to_string(file_size) + " bytes)"));
  }
  std::unique_ptr<Table> t(new Table());
  t->options_ = options;
  t->file_ = std::move(file);
  t->file_size_ = file_size;
  t->file_number_ = file_number;
  t->blocks_end_ = file_size - Footer::kEncodedLength;
  t->cache_ = cache;

  char footer_buf[Footer::kEncodedLength];
  std::string_view footer_bytes;
  util::Status s = t->file_->Read(t->blocks_end_, sizeof(footer_buf), &footer_bytes, footer_buf);
  if (!s.ok()) return WithMessage(s, TableError(file_number, "footer: " + s.message()));
  if (footer_bytes.size() != sizeof(footer_buf)) {
    return util::Status::Corruption(TableError(file_number, "footer: truncated read"));
  }
  Footer footer;
  s = footer.DecodeFrom(footer_bytes);
  if (!s.ok()) return util::Status::Corruption(TableError(file_number, "footer: " + s.message()));

  s = t->ReadBlock(footer.index, &t->index_block_, t->file_.get());
  if (!s.ok()) return s;

  std::shared_ptr<const Block> meta;
  s = t->ReadBlock(footer.metaindex, &meta, t->file_.get());
  if (!s.ok()) return s;
  bool have_comparator = false, have_props = false;
  BlockHandle filter_handle;
  BlockIterator it(meta.get(), BytewiseComparator());
  for (it.SeekToFirst(); it.Valid(); it.Next()) {
    if (it.key() == kMetaComparatorKey) {
      have_comparator = true;
      if (it.value() != options.comparator->Name()) {
        return util::Status::InvalidArgument(
            TableError(file_number, "built with comparator " + std::string(it.value()) +
                                        ", opened with " + options.comparator->Name()));
      }
    } else if (it.key() == kMetaFilterKey) {
      std::string_view v = it.value();
      if (!filter_handle.DecodeFrom(&v)) {
        return util::Status::Corruption(TableError(file_number, "bad filter handle"));
      }
      t->has_filter_ = true;
    } else if (it.key() == kMetaPropertiesKey) {
      if (!t->props_.DecodeFrom(it.value())) {
        return util::Status::Corruption(TableError(file_number, "bad properties"));
      }
      have_props = true;
    }
    // Other keys: written by a later version, ignored.
  }
  if (!it.status().ok()) {
    return util::Status::Corruption(TableBlockError(file_number, footer.metaindex.offset,
                                                    "metaindex: " + it.status().message()));
  }
  if (!have_comparator || !have_props) {
    return util::Status::Corruption(TableError(file_number, "metaindex lacks required entries"));
  }
  if (t->has_filter_) {
    s = ReadBlockContents(t->file_.get(), t->blocks_end_, filter_handle, &t->filter_);
    if (!s.ok()) {
      return WithMessage(
          s, TableBlockError(file_number, filter_handle.offset, "filter: " + s.message()));
    }
  }
  s = t->BuildIndex();
  if (!s.ok()) return s;
  *out = std::move(t);
  return util::Status::OK();
}

util::Status Table::Get(std::string_view internal_target, bool* found, std::string* found_key,
                        std::string* value, bool* bloom_skipped) const {
  *found = false;
  if (bloom_skipped != nullptr) *bloom_skipped = false;
  if (internal_target.size() < 8) {
    return util::Status::InvalidArgument("table lookup key shorter than an internal key");
  }
  const std::string_view user_key = ExtractUserKey(internal_target);
  if (has_filter_ && !BloomFilterPolicy::HashMayMatch(BloomFilterPolicy::Hash(user_key), filter_)) {
    if (bloom_skipped != nullptr) *bloom_skipped = true;
    return util::Status::OK();
  }
  const Comparator* cmp = options_.comparator;
  // The first index entry >= target names the block holding the first key >=
  // target, unless that block ends before target (its separator sits between
  // blocks): then that key is the next block's first.
  const RandomAccessFile* from = LookupFile();
  for (size_t i = FindIndexEntry(internal_target); i < index_.handles.size(); i++) {
    std::shared_ptr<const Block> block;
    util::Status s = ReadDataBlock(index_.handles[i], &block, from, true);
    if (!s.ok()) return s;
    BlockIterator it(block.get(), cmp, kMinTableKeySize);
    it.Seek(internal_target);
    if (it.Valid()) {
      if (ExtractUserKey(it.key()) == user_key) {
        *found = true;
        if (found_key != nullptr) found_key->assign(it.key().data(), it.key().size());
        if (value != nullptr) value->assign(it.value().data(), it.value().size());
      }
      return util::Status::OK();
    }
    if (!it.status().ok()) {
      return util::Status::Corruption(
          TableBlockError(file_number_, index_.handles[i].offset, it.status().message()));
    }
  }
  return util::Status::OK();
}

void Table::MapForLookups(Env* env, std::string path, uint32_t after_reads) {
  map_env_ = env;
  map_path_ = std::move(path);
  map_after_reads_ = after_reads;
}

const RandomAccessFile* Table::LookupFile() const {
  const RandomAccessFile* current = MappedOrFile();
  if (current != file_.get() || map_env_ == nullptr) return current;
  // Counts every Get that gets this far, cache hit or not: cheap, and a
  // table probed often enough to pass the bar is worth a mapping. The
  // counter hands each caller a distinct value, so exactly one maps.
  if (lookup_reads_.fetch_add(1, std::memory_order_relaxed) + 1 != map_after_reads_) return current;
  lookup_file_ = map_env_->MapFile(map_path_);
  if (lookup_file_ == nullptr) return current;  // stay with pread for good
  lookup_view_.store(lookup_file_.get(), std::memory_order_release);
  return lookup_file_.get();
}

std::unique_ptr<Iterator> Table::NewIterator(bool compaction) const {
  return std::make_unique<SSTableIterator>(this, compaction);
}

size_t Table::MemoryUsage() const {
  return index_block_->size() + filter_.size() + sizeof(*this) + index_.key_bytes.size() +
         index_.key_offsets.size() * sizeof(uint32_t) +
         index_.handles.size() * sizeof(BlockHandle) + index_.prefixes.size() * sizeof(uint64_t);
}

}  // namespace kv::storage
