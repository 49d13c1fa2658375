// Arena: alignment of AllocateAligned, allocations that never overlap, and
// MemoryUsage accounting (blocks, large allocations in their own block).
#include "storage/arena.h"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <thread>
#include <utility>
#include <vector>

#include "../test_util.h"
#include "util/random.h"

namespace kv::storage {
namespace {

bool Aligned(const char* p) {
  return (reinterpret_cast<uintptr_t>(p) & (Arena::kAlignment - 1)) == 0;
}

TEST_CASE("arena: a new arena uses no memory") {
  Arena arena;
  CHECK(arena.MemoryUsage() == 0);
}

TEST_CASE("arena: AllocateAligned is aligned after odd-sized Allocate calls") {
  Arena arena;
  for (size_t odd = 1; odd < 64; odd++) {
    CAPTURE(odd);
    arena.Allocate(odd);
    char* p = arena.AllocateAligned(odd * 3);
    CHECK(Aligned(p));
  }
  // Large (own block) and block-crossing aligned allocations too.
  arena.Allocate(3);
  CHECK(Aligned(arena.AllocateAligned(Arena::kBlockSize * 2 + 1)));
  arena.Allocate(Arena::kBlockSize / 4 - 1);
  for (int i = 0; i < 100; i++) CHECK(Aligned(arena.AllocateAligned(1000)));
}

TEST_CASE("arena: allocations of random sizes never overlap and keep their bytes") {
  util::Random rnd(test::TestSeed(301));
  Arena arena;
  std::vector<std::pair<char*, size_t>> allocs;
  size_t total = 0;
  for (int i = 0; i < 20000; i++) {
    size_t n;
    if (i % 1000 == 0) {
      n = 1 + rnd.Uniform(3 * Arena::kBlockSize);  // sometimes large
    } else {
      n = 1 + rnd.Uniform(i % 10 == 0 ? 400 : 20);
    }
    char* p = (i % 2 == 0) ? arena.Allocate(n) : arena.AllocateAligned(n);
    memset(p, static_cast<int>(i & 0xff), n);
    allocs.push_back({p, n});
    total += n;
    REQUIRE(arena.MemoryUsage() >= total);
  }
  for (size_t i = 0; i < allocs.size(); i++) {
    auto [p, n] = allocs[i];
    for (size_t j = 0; j < n; j++) {
      if (static_cast<uint8_t>(p[j]) != (i & 0xff)) {
        FAIL("allocation " << i << " overwritten at byte " << j);
      }
    }
  }
  // Slack is bounded: at most a quarter block lost per block, plus
  // alignment padding and bookkeeping.
  CHECK(arena.MemoryUsage() < total + total / 3 + Arena::kBlockSize);
}

TEST_CASE("arena: small allocations share 4 KiB blocks") {
  Arena arena;
  arena.Allocate(1);
  size_t one_block = arena.MemoryUsage();
  CHECK(one_block >= Arena::kBlockSize);
  CHECK(one_block < Arena::kBlockSize + 64);
  // The rest of the block serves further small allocations.
  for (size_t used = 1; used + 100 <= Arena::kBlockSize; used += 100) arena.Allocate(100);
  CHECK(arena.MemoryUsage() == one_block);
  arena.Allocate(100);  // does not fit: a second block
  CHECK(arena.MemoryUsage() > one_block + Arena::kBlockSize - 1);
  CHECK(arena.MemoryUsage() < 2 * one_block + 64);
}

TEST_CASE("arena: a large allocation gets its own block and keeps the current one") {
  Arena arena;
  char* first = arena.Allocate(16);
  size_t before = arena.MemoryUsage();
  const size_t big = 100000;
  char* large = arena.Allocate(big);
  CHECK(arena.MemoryUsage() >= before + big);
  CHECK(arena.MemoryUsage() < before + big + 64);
  // The next small allocation continues right after the first one.
  size_t after_large = arena.MemoryUsage();
  char* next = arena.Allocate(16);
  CHECK(next == first + 16);
  CHECK(arena.MemoryUsage() == after_large);
  CHECK((large + big <= first || large >= first + 32));

  // Just above a quarter block, and no longer fitting in the current
  // block, is "large" too: the current block's tail stays in use.
  char* filler = arena.Allocate(Arena::kBlockSize - 32 - 100);  // 100 bytes left
  CHECK(filler == first + 32);
  size_t u = arena.MemoryUsage();
  arena.Allocate(Arena::kBlockSize / 4 + 1);
  CHECK(arena.MemoryUsage() >= u + Arena::kBlockSize / 4 + 1);
  CHECK(arena.MemoryUsage() < u + Arena::kBlockSize);
  CHECK(arena.Allocate(100) == filler + Arena::kBlockSize - 32 - 100);
  // A quarter block or less that does not fit starts a new shared block.
  u = arena.MemoryUsage();
  arena.Allocate(1);
  CHECK(arena.MemoryUsage() >= u + Arena::kBlockSize);
}

TEST_CASE("arena: MemoryUsage can be read from another thread while allocating") {
  Arena arena;
  std::atomic<bool> done{false};
  std::atomic<int> went_backwards{0};
  std::thread reader([&] {
    size_t last = 0;
    while (!done.load(std::memory_order_acquire)) {
      size_t u = arena.MemoryUsage();
      if (u < last) went_backwards.fetch_add(1);
      last = u;
    }
  });
  for (int i = 0; i < 200000; i++) arena.Allocate(1 + (i % 50));
  done.store(true, std::memory_order_release);
  reader.join();
  CHECK(went_backwards.load() == 0);
  CHECK(arena.MemoryUsage() >= 200000);
}

}  // namespace
}  // namespace kv::storage
