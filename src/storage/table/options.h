// TableOptions: how SSTables are written and read (FORMAT.md "SSTable" for
// what each knob does to the bytes and why the defaults are what they are).
//
// Thread safety: a plain value.
#pragma once

#include <cstddef>

#include "storage/dbformat.h"

namespace kv::storage {

struct TableOptions {
  // Uncompressed bytes per data block before it is cut. Larger blocks
  // compress better and shrink the index; smaller ones make a point read
  // decompress and cache less.
  size_t block_size = 4096;
  // Entries between full keys in a data block (index blocks use 1).
  int restart_interval = 16;
  // Bloom filter bits per distinct user key; <= 0 writes no filter.
  int bloom_bits_per_key = 10;
  // Snappy-compress blocks (kept raw where it saves under 12.5%).
  bool compression = true;
  // Order of the keys (internal keys); its Name() is stored in the table and
  // must match when the table is opened.
  const Comparator* comparator = GetInternalKeyComparator();
};

}  // namespace kv::storage
