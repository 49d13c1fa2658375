#include "storage/table/table_builder.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "storage/dbformat.h"
#include "storage/table/bloom.h"

namespace kv::storage {

namespace {

// Restart offsets are 32-bit, and a single Redis value is at most 512 MiB.
constexpr uint64_t kMaxEntryBytes = uint64_t{1} << 30;

// The smallest user key u with a < u < b if one is one byte longer than
// their common prefix, else empty (no shorter key found).
std::string ShortUserSeparator(std::string_view a, std::string_view b) {
  size_t diff = 0;
  const size_t n = std::min(a.size(), b.size());
  while (diff < n && a[diff] == b[diff]) diff++;
  if (diff >= n) return {};  // one is a prefix of the other
  const auto byte = static_cast<uint8_t>(a[diff]);
  if (byte == 0xff || byte + 1 >= static_cast<uint8_t>(b[diff])) return {};
  std::string sep(a.substr(0, diff + 1));
  sep[diff] = static_cast<char>(byte + 1);
  return sep;
}

// The shortest user key > a made by incrementing a byte and truncating, or
// empty if `a` is all 0xff.
std::string ShortUserSuccessor(std::string_view a) {
  for (size_t i = 0; i < a.size(); i++) {
    const auto byte = static_cast<uint8_t>(a[i]);
    if (byte != 0xff) {
      std::string s(a.substr(0, i + 1));
      s[i] = static_cast<char>(byte + 1);
      return s;
    }
  }
  return {};
}

}  // namespace

TableBuilder::TableBuilder(const TableOptions& options, WritableFile* file)
    : options_(options), file_(file), data_block_(options.restart_interval), index_block_(1) {}

TableBuilder::~TableBuilder() { assert(closed_); }

void TableBuilder::Append(std::string_view bytes) {
  if (!status_.ok()) return;
  status_ = file_->Append(bytes);
  if (status_.ok()) offset_ += bytes.size();
}

void TableBuilder::IndexKey(std::string_view next, std::string* out) const {
  out->assign(last_key_);
  // Shortening knows the internal key layout, so only for that comparator.
  if (options_.comparator != GetInternalKeyComparator()) return;
  std::string_view last_user = ExtractUserKey(last_key_);
  std::string user = next.empty() ? ShortUserSuccessor(last_user)
                                  : ShortUserSeparator(last_user, ExtractUserKey(next));
  if (user.empty() || user.size() >= last_user.size()) return;
  // The highest sequence sorts first among entries of `user`, so the
  // separator is above every key of the block and below `next`.
  std::string sep;
  AppendInternalKey(&sep, user, kMaxSequenceNumber, kValueTypeForSeek);
  assert(options_.comparator->Compare(last_key_, sep) < 0);
  assert(next.empty() || options_.comparator->Compare(sep, next) < 0);
  *out = std::move(sep);
}

void TableBuilder::Add(std::string_view internal_key, std::string_view value) {
  assert(!closed_);
  if (!status_.ok() || closed_) return;
  if (internal_key.size() < 8) {
    status_ = util::Status::InvalidArgument("table key shorter than an internal key");
    return;
  }
  if (internal_key.size() + value.size() > kMaxEntryBytes) {
    status_ = util::Status::InvalidArgument("table entry larger than 1 GiB");
    return;
  }
  const bool first = props_.num_entries == 0;
  if (!first && options_.comparator->Compare(last_key_, internal_key) >= 0) {
    status_ = util::Status::InvalidArgument("table keys added out of order");
    return;
  }
  if (pending_index_entry_) {
    IndexKey(internal_key, &index_key_);
    std::string handle;
    pending_handle_.EncodeTo(&handle);
    index_block_.Add(index_key_, handle);
    pending_index_entry_ = false;
  }
  if (options_.bloom_bits_per_key > 0) {
    std::string_view user = ExtractUserKey(internal_key);
    // Versions of one user key are adjacent; the filter needs it once.
    if (first || user != ExtractUserKey(last_key_)) {
      key_hashes_.push_back(BloomFilterPolicy::Hash(user));
    }
  }
  last_key_.assign(internal_key.data(), internal_key.size());
  data_block_.Add(internal_key, value);
  props_.num_entries++;
  props_.raw_key_bytes += internal_key.size();
  props_.raw_value_bytes += value.size();
  if (data_block_.CurrentSizeEstimate() >= options_.block_size) FlushDataBlock();
}

void TableBuilder::FlushDataBlock() {
  if (data_block_.empty() || !status_.ok()) return;
  WriteBlock(data_block_.Finish(), options_.compression, &pending_handle_);
  data_block_.Reset();
  if (status_.ok()) {
    pending_index_entry_ = true;
    props_.num_data_blocks++;
  }
}

void TableBuilder::WriteBlock(std::string_view contents, bool compress, BlockHandle* handle) {
  block_out_.clear();
  AppendBlockWithTrailer(contents, compress, &compressed_, &block_out_);
  handle->offset = offset_;
  handle->size = block_out_.size() - kBlockTrailerSize;
  Append(block_out_);
}

util::Status TableBuilder::Finish() {
  assert(!closed_);
  FlushDataBlock();
  closed_ = true;
  if (!status_.ok()) return status_;

  // Filter block, stored raw: its bits look random to a compressor.
  BlockHandle filter_handle;
  const bool has_filter = options_.bloom_bits_per_key > 0;
  if (has_filter) {
    std::string filter;
    BloomFilterPolicy(options_.bloom_bits_per_key).CreateFilterFromHashes(key_hashes_, &filter);
    key_hashes_.clear();
    key_hashes_.shrink_to_fit();
    WriteBlock(filter, false, &filter_handle);
  }

  // Metaindex, keys in bytewise order.
  BlockHandle metaindex_handle;
  {
    BlockBuilder meta(1);
    meta.Add(kMetaComparatorKey, options_.comparator->Name());
    if (has_filter) {
      std::string handle;
      filter_handle.EncodeTo(&handle);
      meta.Add(kMetaFilterKey, handle);
    }
    std::string props;
    props_.EncodeTo(&props);
    meta.Add(kMetaPropertiesKey, props);
    WriteBlock(meta.Finish(), false, &metaindex_handle);
  }

  BlockHandle index_handle;
  if (pending_index_entry_) {
    IndexKey({}, &index_key_);
    std::string handle;
    pending_handle_.EncodeTo(&handle);
    index_block_.Add(index_key_, handle);
    pending_index_entry_ = false;
  }
  WriteBlock(index_block_.Finish(), options_.compression, &index_handle);

  Footer footer;
  footer.metaindex = metaindex_handle;
  footer.index = index_handle;
  std::string encoded;
  footer.EncodeTo(&encoded);
  Append(encoded);
  return status_;
}

void TableBuilder::Abandon() {
  assert(!closed_);
  closed_ = true;
}

}  // namespace kv::storage
