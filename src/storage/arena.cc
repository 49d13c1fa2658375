#include "storage/arena.h"

#include <cassert>
#include <cstdint>

namespace kv::storage {

namespace {
// An allocation above this gets its own block: putting it in a fresh 4 KiB
// block would throw away the rest of the current one, up to a quarter
// block each time.
constexpr size_t kOwnBlockThreshold = Arena::kBlockSize / 4;
// Blocks from operator new[] are aligned for any fundamental type, so a
// block's first byte already satisfies kAlignment.
static_assert(__STDCPP_DEFAULT_NEW_ALIGNMENT__ >= Arena::kAlignment);
}  // namespace

Arena::Arena() = default;
Arena::~Arena() = default;

char* Arena::AllocateAligned(size_t bytes) {
  size_t misalign = reinterpret_cast<uintptr_t>(ptr_) & (kAlignment - 1);
  size_t pad = misalign == 0 ? 0 : kAlignment - misalign;
  if (bytes + pad <= remaining_) {
    char* p = ptr_ + pad;
    ptr_ += bytes + pad;
    remaining_ -= bytes + pad;
    return p;
  }
  // A new block starts aligned (see the static_assert above).
  char* p = AllocateSlow(bytes);
  assert((reinterpret_cast<uintptr_t>(p) & (kAlignment - 1)) == 0);
  return p;
}

char* Arena::AllocateSlow(size_t bytes) {
  assert(bytes > 0);
  if (bytes > kOwnBlockThreshold) {
    // The current block keeps its tail for later small allocations.
    return NewBlock(bytes);
  }
  // The tail of the current block (< bytes, so at most a quarter block) is
  // abandoned.
  ptr_ = NewBlock(kBlockSize);
  remaining_ = kBlockSize;
  char* p = ptr_;
  ptr_ += bytes;
  remaining_ -= bytes;
  return p;
}

char* Arena::NewBlock(size_t bytes) {
  // Without exceptions a failed new[] terminates the process, which is the
  // only sane answer to being out of memory halfway through an insert.
  blocks_.push_back(std::unique_ptr<char[]>(new char[bytes]));
  usage_.store(MemoryUsage() + bytes + sizeof(std::unique_ptr<char[]>), std::memory_order_relaxed);
  return blocks_.back().get();
}

}  // namespace kv::storage
