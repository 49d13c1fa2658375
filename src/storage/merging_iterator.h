// MergingIterator: one sorted view over several sorted iterators (the
// memtables and SSTables a read or a compaction walks). It yields every
// entry of every child, duplicates included, in comparator order; hiding
// shadowed versions and deletions is the caller's job (the DB wraps it).
//
// Thread safety: like its children; one thread at a time.
#pragma once

#include <memory>
#include <vector>

#include "storage/dbformat.h"
#include "storage/engine.h"

namespace kv::storage {

// Returns an iterator over the union of `children` ordered by `cmp`, which
// must outlive it. The children are owned by the result. Keys that compare
// equal come out in the order of their children in `children` (pass the
// newest source first if that matters), so the output is deterministic.
//
// Positioning (Seek, SeekToFirst) moves every child; Next moves one. Cost
// per Next: O(log k) comparisons for k children (a binary min-heap).
//
// Errors: status() is the first non-OK status among the children, in
// `children` order. As soon as any child is found !Valid() with a non-OK
// status, the merged iterator becomes !Valid() too (a merge that silently
// skipped an unreadable table would return wrong data); re-positioning
// retries.
//
// With no children the result is always !Valid() with an OK status; with
// one child it is that child.
std::unique_ptr<Iterator> NewMergingIterator(const Comparator* cmp,
                                             std::vector<std::unique_ptr<Iterator>> children);

}  // namespace kv::storage
