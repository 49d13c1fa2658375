// TableCache on real table files: the number of open tables stays within
// capacity (counted by the cache and by the process's open descriptors),
// evicted tables reopen on demand, a table in use outlives its eviction,
// and a table that cannot be opened is an error (never cached) rather than
// a crash or an empty answer.
#include "storage/table_cache.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "../test_util.h"
#include "storage/filename.h"
#include "storage/table/table_builder.h"
#include "table/table_test_util.h"

namespace kv::storage {
namespace {

using test::IKey;
using test::LookupKey;
using test::TempDir;

constexpr int kKeysPerTable = 500;

std::string UserKey(int table, int i) {
  char buf[32];
  snprintf(buf, sizeof(buf), "t%02d:key:%06d", table, i);
  return buf;
}

// Writes table `number` holding kKeysPerTable keys; returns its size.
uint64_t BuildTable(const std::string& dir, uint64_t number, int table) {
  std::unique_ptr<WritableFile> file;
  REQUIRE(Env::Default()->NewWritableFile(TableFileName(dir, number), &file).ok());
  TableOptions options;
  TableBuilder builder(options, file.get());
  for (int i = 0; i < kKeysPerTable; i++) {
    builder.Add(IKey(UserKey(table, i), 1), "value-" + UserKey(table, i));
  }
  REQUIRE(builder.Finish().ok());
  REQUIRE(file->Close().ok());
  return builder.FileSize();
}

std::string GetFrom(const Table& t, const std::string& user_key) {
  bool found = false, skipped = false;
  std::string key, value;
  util::Status s = t.Get(LookupKey(user_key, 10), &found, &key, &value, &skipped);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  return found ? value : "<absent>";
}

TEST_CASE("the table cache keeps at most capacity tables open and reopens evicted ones") {
  TempDir tmp;
  BlockCache blocks(1 << 20);
  std::vector<uint64_t> sizes;
  for (int t = 0; t < 6; t++) sizes.push_back(BuildTable(tmp.path(), 10 + t, t));
  const int fds_before = kv::test::OpenSstDescriptors();
  TableCache cache(Env::Default(), tmp.path(), TableOptions(), &blocks, 2);
  for (int round = 0; round < 3; round++) {
    for (int t = 0; t < 6; t++) {
      std::shared_ptr<Table> table;
      util::Status s = cache.Find(10 + t, sizes[t], &table);
      REQUIRE_MESSAGE(s.ok(), s.ToString());
      CHECK(GetFrom(*table, UserKey(t, 7)) == "value-" + UserKey(t, 7));
      CHECK(GetFrom(*table, UserKey(t + 1, 7)) == "<absent>");
      table.reset();
      CHECK(cache.open_tables() <= 2);
      CHECK(kv::test::OpenSstDescriptors() - fds_before <= 2);
    }
  }
  CHECK(cache.misses() == 18);  // cycling 6 tables through 2 slots: every lookup opens
  std::shared_ptr<Table> table;
  REQUIRE(cache.Find(15, sizes[5], &table).ok());
  CHECK(cache.hits() == 1);
  CHECK(cache.MemoryUsage() > 0);
}

TEST_CASE("a table in use survives its eviction, and Evict closes a table for good") {
  TempDir tmp;
  uint64_t size0 = BuildTable(tmp.path(), 20, 0);
  uint64_t size1 = BuildTable(tmp.path(), 21, 1);
  TableCache cache(Env::Default(), tmp.path(), TableOptions(), nullptr, 1);
  std::unique_ptr<Iterator> it = cache.NewIterator(20, size0);
  std::shared_ptr<Table> other;
  REQUIRE(cache.Find(21, size1, &other).ok());  // evicts table 20
  CHECK(cache.open_tables() == 1);
  // The file itself goes too, as after a compaction: the iterator reads on.
  std::filesystem::remove(TableFileName(tmp.path(), 20));
  int n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) n++;
  CHECK(it->status().ok());
  CHECK(n == kKeysPerTable);

  cache.Evict(21);
  CHECK(cache.open_tables() == 0);
  CHECK(GetFrom(*other, UserKey(1, 3)) == "value-" + UserKey(1, 3));  // still held here
}

TEST_CASE("a table that cannot be opened is an error naming it, and is not cached") {
  TempDir tmp;
  uint64_t size = BuildTable(tmp.path(), 30, 0);
  TableCache cache(Env::Default(), tmp.path(), TableOptions(), nullptr, 4);

  std::shared_ptr<Table> table;
  util::Status s = cache.Find(31, size, &table);  // no such file
  CHECK(!s.ok());
  std::unique_ptr<Iterator> missing = cache.NewIterator(31, size);
  missing->SeekToFirst();
  CHECK(!missing->Valid());
  CHECK(!missing->status().ok());

  // A truncated table: the footer is gone.
  std::filesystem::resize_file(TableFileName(tmp.path(), 30), size - 10);
  s = cache.Find(30, size - 10, &table);
  CHECK(s.IsCorruption());
  CHECK(s.message().find("000030") != std::string::npos);
  CHECK(cache.open_tables() == 0);
  CHECK(cache.misses() == 3);
}

}  // namespace
}  // namespace kv::storage
