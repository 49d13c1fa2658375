// Block: the read side of BlockBuilder. Holds one block's contents (owned or
// borrowed) and hands out iterators that binary search its restart points.
// Contents come from disk, so nothing is trusted: the trailer is checked when
// the block is made, every varint and length against the end of the entry
// area while iterating. Bad contents make the block or iterator report
// Corruption and go !Valid; nothing is ever read outside the contents.
//
// Thread safety: a Block is immutable after construction, so any number of
// threads may iterate it at once; each iterator is used by one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "storage/dbformat.h"
#include "storage/engine.h"
#include "util/status.h"

namespace kv::storage {

class Block {
 public:
  // A block over `contents`, which it takes over.
  static std::unique_ptr<Block> Own(std::string contents);
  // A block over the `size` bytes of `data`, which it takes over. Lets a
  // reader fill a buffer it never had to zero (std::string can only grow
  // with a fill).
  static std::unique_ptr<Block> Own(std::unique_ptr<char[]> data, size_t size);
  // The same as a shared block, made with std::make_shared: the block and
  // its reference count share one allocation, so a cache miss allocates
  // once less and a cache hit touches one cache line less.
  static std::shared_ptr<const Block> OwnShared(std::unique_ptr<char[]> data, size_t size);
  // A block over `contents`, which must outlive it.
  static std::unique_ptr<Block> Borrow(std::string_view contents);

  // Only Block's factories can make a Passkey, so only they construct,
  // while std::make_shared still reaches the constructor.
  class Passkey {
    friend class Block;
    Passkey() = default;
  };
  explicit Block(Passkey) {}
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;

  // Corruption if the trailer is malformed (too short, restart count that
  // does not fit); such a block iterates as empty with that status.
  const util::Status& status() const { return status_; }
  // Bytes of contents (for cache accounting).
  size_t size() const { return data_.size(); }
  std::string_view contents() const { return data_; }

  // An iterator over the entries, ordered by `cmp` (which must be the order
  // they were built in). A key shorter than `min_key_size` is Corruption
  // (tables pass 8 so a damaged block cannot hand the internal-key
  // comparator a key without a trailer). REQUIRES: the block and `cmp`
  // outlive the iterator.
  std::unique_ptr<Iterator> NewIterator(const Comparator* cmp, size_t min_key_size = 0) const;

 private:
  friend class BlockIterator;
  void ParseTrailer();  // sets the restart fields or status_ from data_

  std::string owned_;
  std::unique_ptr<char[]> owned_buffer_;
  std::string_view data_;
  uint32_t restarts_offset_ = 0;  // where the restart array starts = end of entries
  uint32_t num_restarts_ = 0;
  util::Status status_;
};

// The iterator Block::NewIterator returns, public so table code can hold one
// by value. Seek is a binary search over restart points (each restart entry
// stores its whole key) followed by a linear scan of at most
// restart_interval entries.
class BlockIterator final : public Iterator {
 public:
  // REQUIRES: block and cmp outlive the iterator. See Block::NewIterator.
  BlockIterator(const Block* block, const Comparator* cmp, size_t min_key_size = 0);

  bool Valid() const override { return current_ < block_->restarts_offset_ && status_.ok(); }
  void Seek(std::string_view target) override;
  void SeekToFirst() override;
  void Next() override;
  std::string_view key() const override { return key_; }
  std::string_view value() const override { return value_; }
  util::Status status() const override { return status_; }

 private:
  // Decodes the entry at next_ (which must be < restarts_offset_), building
  // key_ from the previous key. False (and Corruption) if it is malformed.
  bool ParseNextEntry();
  void SeekToRestart(uint32_t index);
  // The whole key stored at restart point `index`, without copying; false
  // (and Corruption) if the entry is malformed or shares a prefix.
  bool RestartKey(uint32_t index, std::string_view* key);
  // Reads restart point `index`'s offset; false (and Corruption) if invalid.
  bool RestartOffset(uint32_t index, uint32_t* offset);
  void MarkCorrupt(const char* why);

  const Block* const block_;
  const Comparator* const cmp_;
  const size_t min_key_size_;
  uint32_t current_;  // offset of the current entry; == restarts_offset_ when !Valid
  uint32_t next_;     // offset just past the current entry
  std::string key_;
  std::string_view value_;
  util::Status status_;
};

}  // namespace kv::storage
