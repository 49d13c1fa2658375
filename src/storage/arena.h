// Arena: a bump allocator for the memtable. Memory comes from 4 KiB blocks
// (an allocation larger than a quarter block gets a block of its own, so a
// big value does not waste the tail of the current block) and is freed all
// at once when the arena is destroyed. Nothing is freed individually, which
// is what lets a skiplist hand out pointers into the arena to lock-free
// readers: a pointer stays valid for the arena's whole life.
//
// Thread safety: Allocate and AllocateAligned are for one thread (the
// memtable's writer). MemoryUsage may be called from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <vector>

namespace kv::storage {

class Arena {
 public:
  // Alignment of AllocateAligned: enough for pointers, atomics and 64-bit
  // integers, which is all the skiplist stores.
  static constexpr size_t kAlignment = alignof(void*) > 8 ? alignof(void*) : 8;
  static_assert((kAlignment & (kAlignment - 1)) == 0, "alignment must be a power of two");
  static constexpr size_t kBlockSize = 4096;

  Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena();

  // Returns `bytes` bytes of uninitialised memory with no alignment promise,
  // valid until the arena is destroyed. REQUIRES: bytes > 0.
  char* Allocate(size_t bytes) {
    if (bytes <= remaining_) {
      char* p = ptr_;
      ptr_ += bytes;
      remaining_ -= bytes;
      return p;
    }
    return AllocateSlow(bytes);
  }

  // Like Allocate, but the result is a multiple of kAlignment.
  char* AllocateAligned(size_t bytes);

  // Bytes obtained from the system so far (blocks plus bookkeeping), a
  // little more than the sum of the allocations. Relaxed: a reader on
  // another thread sees a recent value, never a torn one.
  size_t MemoryUsage() const { return usage_.load(std::memory_order_relaxed); }

 private:
  char* AllocateSlow(size_t bytes);
  char* NewBlock(size_t bytes);

  char* ptr_ = nullptr;  // next free byte of the current block
  size_t remaining_ = 0;
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::atomic<size_t> usage_{0};
};

}  // namespace kv::storage
