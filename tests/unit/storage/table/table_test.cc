// SSTables end to end (FORMAT.md "SSTable"): TableBuilder -> file -> Table.
// Round trips of 100k internal keys with several versions per user key
// (compression on and off, real files through Env::Default), Get's
// newest-visible-version rule and Bloom skips, iteration and Seek, the
// block cache, concurrent readers, and every kind of damage (a flipped bit
// anywhere, a truncated file) reported as Corruption naming the file.
#include "storage/table/table.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../../test_util.h"
#include "storage/env.h"
#include "storage/table/table_builder.h"
#include "table_test_util.h"
#include "util/random.h"

namespace kv::storage {
namespace {

using test::IKey;
using test::LookupKey;
using test::StringSink;
using test::StringSource;
using test::TempDir;

struct Entry {
  std::string ikey;
  std::string value;
};

// A storage-key-like user key: two slot-ish bytes (may be zero), then text.
// Increasing in id for id < 2^20.
std::string UserKey(uint64_t id) {
  std::string k;
  k.push_back(static_cast<char>(id >> 14 & 0x3f));
  k.push_back(static_cast<char>(id >> 6 & 0xff));
  char buf[32];
  snprintf(buf, sizeof(buf), "key:%010llu", static_cast<unsigned long long>(id));
  return k + buf;
}

// Storage-key-like user keys (2-byte slot, then text), each with 1-4
// versions of distinct sequence numbers (newest first, as the table orders
// them), about 1 in 10 a deletion; values alternate between compressible
// text and random bytes.
std::vector<Entry> MakeEntries(size_t n, util::Random* rnd, uint64_t key_stride = 2) {
  std::vector<Entry> out;
  out.reserve(n);
  for (uint64_t u = 0; out.size() < n; u++) {
    const std::string user = UserKey(u * key_stride);  // stride 2: odd ids are never present
    const int versions = 1 + static_cast<int>(rnd->Uniform(4));
    SequenceNumber seq = 1000 + rnd->Uniform(1000000);
    for (int v = 0; v < versions && out.size() < n; v++) {
      const bool del = rnd->Uniform(10) == 0;
      std::string value;
      if (!del) {
        const size_t len = 10 + rnd->Uniform(150);
        if (rnd->Uniform(2) == 0) {
          while (value.size() < len) value += "value-" + std::to_string(u) + "-";
          value.resize(len);
        } else {
          for (size_t i = 0; i < len; i++) value.push_back(static_cast<char>(rnd->Next()));
        }
      }
      out.push_back({IKey(user, seq, del ? kTypeDeletion : kTypeValue), value});
      seq -= 1 + rnd->Uniform(100);  // older versions have lower sequences
    }
  }
  return out;
}

util::Status BuildTable(const TableOptions& options, const std::vector<Entry>& entries,
                        WritableFile* file, uint64_t* size) {
  TableBuilder builder(options, file);
  for (const auto& e : entries) builder.Add(e.ikey, e.value);
  util::Status s = builder.Finish();
  CHECK(builder.NumEntries() == entries.size());
  *size = builder.FileSize();
  return s;
}

std::string BuildInMemory(const TableOptions& options, const std::vector<Entry>& entries) {
  std::string contents;
  StringSink sink(&contents);
  uint64_t size = 0;
  REQUIRE(BuildTable(options, entries, &sink, &size).ok());
  REQUIRE(size == contents.size());
  return contents;
}

// Writes `contents` (a table built in memory) to `path` and returns path.
std::string WriteTableFile(Env* env, const std::string& path, const std::string& contents) {
  std::unique_ptr<WritableFile> file;
  REQUIRE(env->NewWritableFile(path, &file).ok());
  REQUIRE(file->Append(contents).ok());
  REQUIRE(file->Close().ok());
  return path;
}

util::Status OpenInMemory(const TableOptions& options, const std::string* contents, uint64_t number,
                          BlockCache* cache, std::unique_ptr<Table>* out,
                          std::atomic<uint64_t>* reads = nullptr) {
  return Table::Open(options, std::make_unique<StringSource>(contents, reads), contents->size(),
                     number, cache, out);
}

// For each user key, its versions (sequence, index into entries), newest
// first: the model Get is checked against.
using Model = std::map<std::string, std::vector<std::pair<SequenceNumber, size_t>>>;
Model MakeModel(const std::vector<Entry>& entries) {
  Model m;
  for (size_t i = 0; i < entries.size(); i++) {
    ParsedInternalKey p;
    REQUIRE(ParseInternalKey(entries[i].ikey, &p));
    m[std::string(p.user_key)].emplace_back(p.sequence, i);
  }
  return m;
}

// The entry Get must return for (user, seq), or -1.
long Expected(const Model& model, const std::string& user, SequenceNumber seq) {
  auto it = model.find(user);
  if (it == model.end()) return -1;
  for (const auto& [s, idx] : it->second) {
    if (s <= seq) return static_cast<long>(idx);
  }
  return -1;
}

bool Contains(const util::Status& s, const std::string& what) {
  return s.message().find(what) != std::string::npos;
}

void CheckRoundTrip(const Table& table, const std::vector<Entry>& entries, util::Random* rnd) {
  CHECK(table.NumEntries() == entries.size());
  // Full scan, in order.
  {
    auto it = table.NewIterator();
    size_t i = 0;
    bool same = true;
    for (it->SeekToFirst(); it->Valid(); it->Next(), i++) {
      if (i >= entries.size() || it->key() != entries[i].ikey || it->value() != entries[i].value) {
        same = false;
        break;
      }
    }
    CHECK(same);
    CHECK(i == entries.size());
    CHECK(it->status().ok());
  }
  // Seek to existing keys and to a user key's newest version.
  {
    auto it = table.NewIterator();
    for (int t = 0; t < 3000; t++) {
      const size_t i = rnd->Uniform(entries.size());
      it->Seek(entries[i].ikey);
      REQUIRE(it->Valid());
      CHECK(it->key() == entries[i].ikey);
      it->Next();
      if (i + 1 < entries.size()) {
        REQUIRE(it->Valid());
        CHECK(it->key() == entries[i + 1].ikey);
      }
    }
    it->Seek(IKey("\xff\xff", kMaxSequenceNumber));
    CHECK(!it->Valid());
    CHECK(it->status().ok());
  }
  // Get at the newest sequence, between versions, below all versions.
  const Model model = MakeModel(entries);
  size_t checked = 0, mismatches = 0;
  std::string found_key, value;
  for (const auto& [user, versions] : model) {
    std::vector<SequenceNumber> probes = {kMaxSequenceNumber, versions.back().first - 1};
    for (const auto& [s, idx] : versions) {
      probes.push_back(s);
      probes.push_back(s + 1);
    }
    for (SequenceNumber seq : probes) {
      bool found = false, skipped = true;
      util::Status s = table.Get(LookupKey(user, seq), &found, &found_key, &value, &skipped);
      REQUIRE(s.ok());
      CHECK(!skipped);  // the key is in the table: the filter must not skip it
      const long want = Expected(model, user, seq);
      checked++;
      if (want < 0) {
        mismatches += found;
      } else {
        const Entry& e = entries[static_cast<size_t>(want)];
        mismatches += !found || found_key != e.ikey || value != e.value;
      }
    }
  }
  CHECK(mismatches == 0);
  MESSAGE("checked " << checked << " Gets of present keys");
}

// Absent user keys: never found by Get, and Seek lands on the next present
// entry (which may be in the next block: separators sit between blocks).
// Returns how many Gets the filter skipped.
size_t CheckAbsent(const Table& table, const std::vector<Entry>& entries, size_t probes) {
  const Model model = MakeModel(entries);
  const Comparator* cmp = GetInternalKeyComparator();
  auto it = table.NewIterator();
  size_t skipped_count = 0, seek_mismatches = 0;
  for (size_t i = 0; i < probes; i++) {
    const std::string buf = UserKey(2 * i + 1);  // odd ids are absent (MakeEntries stride 2)
    REQUIRE(model.count(buf) == 0);
    const std::string target = LookupKey(buf, kMaxSequenceNumber);
    bool found = true, skipped = false;
    REQUIRE(table.Get(target, &found, nullptr, nullptr, &skipped).ok());
    CHECK(!found);
    skipped_count += skipped;
    auto next = std::lower_bound(
        entries.begin(), entries.end(), target,
        [cmp](const Entry& e, const std::string& t) { return cmp->Compare(e.ikey, t) < 0; });
    it->Seek(target);
    if (next == entries.end()) {
      seek_mismatches += it->Valid();
    } else {
      seek_mismatches += !it->Valid() || it->key() != next->ikey;
    }
  }
  CHECK(seek_mismatches == 0);
  CHECK(it->status().ok());
  return skipped_count;
}

TEST_CASE(
    "table round trip of 100k internal keys, compression on and off: iteration, Seek, and "
    "Get returns the newest version at or below the target sequence") {
  util::Random rnd(kv::test::TestSeed(2024));
  const std::vector<Entry> entries = MakeEntries(100000, &rnd);
  TempDir dir;
  Env* env = Env::Default();
  uint64_t sizes[2] = {0, 0};
  for (bool compression : {true, false}) {
    CAPTURE(compression);
    TableOptions options;
    options.compression = compression;
    const std::string path = dir.path() + (compression ? "/000007.sst" : "/000008.sst");
    {
      std::unique_ptr<WritableFile> file;
      REQUIRE(env->NewWritableFile(path, &file).ok());
      uint64_t size = 0;
      REQUIRE(BuildTable(options, entries, file.get(), &size).ok());
      REQUIRE(file->Sync().ok());
      REQUIRE(file->Close().ok());
      uint64_t on_disk = 0;
      REQUIRE(env->GetFileSize(path, &on_disk).ok());
      CHECK(on_disk == size);
      sizes[compression ? 0 : 1] = size;
    }
    uint64_t size = 0;
    REQUIRE(env->GetFileSize(path, &size).ok());
    std::unique_ptr<RandomAccessFile> file;
    REQUIRE(env->NewRandomAccessFile(path, &file).ok());
    BlockCache cache(8 << 20);
    std::unique_ptr<Table> table;
    REQUIRE(Table::Open(options, std::move(file), size, 7, &cache, &table).ok());
    CHECK(table->has_filter());
    CHECK(table->properties().num_data_blocks > 100);
    CheckRoundTrip(*table, entries, &rnd);
    const size_t skipped = CheckAbsent(*table, entries, 20000);
    MESSAGE("bloom skipped " << skipped << " of 20000 absent-key Gets");
    CHECK(skipped > 19000);

    // The same through a mapping for Gets (as the table cache opens
    // tables), with a cache too small to hide the reads.
    std::unique_ptr<RandomAccessFile> again;
    REQUIRE(env->NewRandomAccessFile(path, &again).ok());
    BlockCache tiny(64 << 10);
    std::unique_ptr<Table> mapped;
    REQUIRE(Table::Open(options, std::move(again), size, 7, &tiny, &mapped).ok());
    mapped->MapForLookups(env, path, 3);
    CHECK(!mapped->lookups_mapped());
    CheckRoundTrip(*mapped, entries, &rnd);
    CHECK(mapped->lookups_mapped());
    CHECK(tiny.misses() > 1000);
  }
  MESSAGE("table of 100k entries: " << sizes[0] << " bytes compressed, " << sizes[1]
                                    << " bytes uncompressed");
  CHECK(sizes[0] < sizes[1]);
}

TEST_CASE("table round trip with small blocks, restart interval 1, no bloom filter") {
  util::Random rnd(kv::test::TestSeed(99));
  const std::vector<Entry> entries = MakeEntries(5000, &rnd);
  TableOptions options;
  options.block_size = 256;
  options.restart_interval = 1;
  options.bloom_bits_per_key = 0;
  const std::string contents = BuildInMemory(options, entries);
  std::unique_ptr<Table> table;
  REQUIRE(OpenInMemory(options, &contents, 1, nullptr, &table).ok());
  CHECK(!table->has_filter());
  CheckRoundTrip(*table, entries, &rnd);
  CHECK(CheckAbsent(*table, entries, 1000) == 0);  // no filter, nothing skipped
}

TEST_CASE("a table of zero entries opens and is empty") {
  TableOptions options;
  const std::string contents = BuildInMemory(options, {});
  std::unique_ptr<Table> table;
  REQUIRE(OpenInMemory(options, &contents, 3, nullptr, &table).ok());
  CHECK(table->NumEntries() == 0);
  auto it = table->NewIterator();
  it->SeekToFirst();
  CHECK(!it->Valid());
  it->Seek(IKey("a", 1));
  CHECK(!it->Valid());
  CHECK(it->status().ok());
  bool found = true, skipped = false;
  REQUIRE(table->Get(LookupKey("a", 5), &found, nullptr, nullptr, &skipped).ok());
  CHECK(!found);
  CHECK(skipped);
}

TEST_CASE("values larger than block_size get a block of their own") {
  std::vector<Entry> entries;
  for (int i = 0; i < 5; i++) {
    entries.push_back(
        {IKey("big" + std::to_string(i), 10),
         std::string(static_cast<size_t>(100000 * (i + 1)), static_cast<char>('a' + i))});
  }
  TableOptions options;
  const std::string contents = BuildInMemory(options, entries);
  CHECK(contents.size() < 100000);  // runs of one byte compress well
  std::unique_ptr<Table> table;
  REQUIRE(OpenInMemory(options, &contents, 4, nullptr, &table).ok());
  CHECK(table->properties().num_data_blocks == 5);
  util::Random rnd(1);
  CheckRoundTrip(*table, entries, &rnd);
}

TEST_CASE("a table is refused when opened with another comparator") {
  const std::string contents = BuildInMemory(TableOptions{}, {{IKey("a", 1), "x"}});
  TableOptions other;
  other.comparator = BytewiseComparator();
  std::unique_ptr<Table> table;
  util::Status s = OpenInMemory(other, &contents, 5, nullptr, &table);
  CHECK(s.IsInvalidArgument());
  CHECK(Contains(s, "000005.sst"));
  CHECK(Contains(s, "kv.InternalKeyComparator"));
}

TEST_CASE("table builder rejects out-of-order, duplicate and malformed keys") {
  std::string contents;
  StringSink sink(&contents);
  {
    TableBuilder b(TableOptions{}, &sink);
    b.Add(IKey("b", 5), "1");
    b.Add(IKey("a", 5), "2");
    CHECK(b.status().IsInvalidArgument());
    b.Add(IKey("c", 5), "3");  // ignored after an error
    CHECK(b.NumEntries() == 1);
    CHECK(!b.Finish().ok());
  }
  {
    TableBuilder b(TableOptions{}, &sink);
    b.Add(IKey("a", 5), "1");
    b.Add(IKey("a", 5), "1");
    CHECK(b.status().IsInvalidArgument());
    b.Abandon();
  }
  {
    TableBuilder b(TableOptions{}, &sink);
    b.Add("short", "1");
    CHECK(b.status().IsInvalidArgument());
    b.Abandon();
  }
  {
    // Same user key, newer sequence after older: out of internal-key order.
    TableBuilder b(TableOptions{}, &sink);
    b.Add(IKey("a", 5), "old");
    b.Add(IKey("a", 6), "new");
    CHECK(b.status().IsInvalidArgument());
    b.Abandon();
  }
}

TEST_CASE("repeated Gets are served by the block cache without reading the file") {
  util::Random rnd(5);
  const std::vector<Entry> entries = MakeEntries(2000, &rnd);
  TableOptions options;
  const std::string contents = BuildInMemory(options, entries);
  BlockCache cache(1 << 20);
  std::atomic<uint64_t> reads{0};
  std::unique_ptr<Table> table;
  REQUIRE(OpenInMemory(options, &contents, 9, &cache, &table, &reads).ok());
  const uint64_t after_open = reads.load();
  ParsedInternalKey p;
  REQUIRE(ParseInternalKey(entries[1000].ikey, &p));
  const std::string target = LookupKey(p.user_key, kMaxSequenceNumber);
  bool found = false;
  std::string key, value;
  REQUIRE(table->Get(target, &found, &key, &value, nullptr).ok());
  CHECK(found);
  CHECK(reads.load() == after_open + 1);
  CHECK(cache.misses() == 1);
  for (int i = 0; i < 10; i++) {
    REQUIRE(table->Get(target, &found, &key, &value, nullptr).ok());
    CHECK(found);
  }
  CHECK(reads.load() == after_open + 1);
  CHECK(cache.hits() == 10);

  // Without a cache every Get reads its block.
  std::unique_ptr<Table> uncached;
  std::atomic<uint64_t> reads2{0};
  REQUIRE(OpenInMemory(options, &contents, 10, nullptr, &uncached, &reads2).ok());
  const uint64_t base = reads2.load();
  for (int i = 0; i < 3; i++) REQUIRE(uncached->Get(target, &found, &key, &value, nullptr).ok());
  CHECK(reads2.load() == base + 3);

  // Dropping the table's blocks from the cache makes the next Get read again.
  cache.EraseFile(9);
  REQUIRE(table->Get(target, &found, &key, &value, nullptr).ok());
  CHECK(reads.load() == after_open + 2);

  // An iterator Seeking within the block it holds does not read it again.
  auto it = uncached->NewIterator();
  const uint64_t before = reads2.load();
  it->Seek(entries[1000].ikey);
  REQUIRE(it->Valid());
  CHECK(reads2.load() == before + 1);
  for (int i = 0; i < 3; i++) {
    it->Seek(entries[1000].ikey);
    REQUIRE(it->Valid());
    CHECK(it->key() == entries[1000].ikey);
  }
  CHECK(reads2.load() == before + 1);

  // A compaction pass reads every block but leaves the cache as it was;
  // a SCAN-style iterator fills it.
  cache.EraseFile(9);
  REQUIRE(cache.entries() == 0);
  size_t n = 0;
  auto compaction = table->NewIterator(/*compaction=*/true);
  for (compaction->SeekToFirst(); compaction->Valid(); compaction->Next()) n++;
  CHECK(n == entries.size());
  CHECK(cache.entries() == 0);
  auto scan = table->NewIterator();
  for (scan->SeekToFirst(); scan->Valid(); scan->Next()) {
  }
  CHECK(cache.entries() == table->properties().num_data_blocks);
}

TEST_CASE("concurrent Gets and iteration from several threads on one table are correct") {
  util::Random rnd(kv::test::TestSeed(77));
  const std::vector<Entry> entries = MakeEntries(30000, &rnd);
  TableOptions options;
  const std::string contents = BuildInMemory(options, entries);
  BlockCache cache(256 << 10);  // smaller than the table: blocks are evicted while in use
  std::unique_ptr<Table> table;
  REQUIRE(OpenInMemory(options, &contents, 11, &cache, &table).ok());
  // The same bytes on disk, mapped for Gets while the threads run: the
  // switch from the in-memory file to the mapping happens under load.
  TempDir dir;
  Env* env = Env::Default();
  const std::string path = WriteTableFile(env, dir.path() + "/000011.sst", contents);
  table->MapForLookups(env, path, 5000);
  const Model model = MakeModel(entries);
  std::vector<const std::string*> users;
  for (const auto& [u, v] : model) users.push_back(&u);

  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&, t] {
      util::Random r(1000 + static_cast<uint64_t>(t));
      std::string key, value;
      for (int i = 0; i < 20000; i++) {
        const std::string& user = *users[r.Uniform(users.size())];
        const SequenceNumber seq = r.Uniform(2) ? kMaxSequenceNumber : r.Uniform(1001000);
        bool found = false;
        if (!table->Get(LookupKey(user, seq), &found, &key, &value, nullptr).ok()) {
          errors++;
          continue;
        }
        const long want = Expected(model, user, seq);
        if (want < 0 ? found
                     : (!found || key != entries[static_cast<size_t>(want)].ikey ||
                        value != entries[static_cast<size_t>(want)].value)) {
          errors++;
        }
      }
    });
  }
  threads.emplace_back([&] {  // a compaction-like reader
    for (int pass = 0; pass < 2; pass++) {
      auto it = table->NewIterator();
      size_t i = 0;
      for (it->SeekToFirst(); it->Valid(); it->Next(), i++) {
        if (i >= entries.size() || it->key() != entries[i].ikey) {
          errors++;
          break;
        }
      }
      if (i != entries.size() || !it->status().ok()) errors++;
    }
  });
  for (auto& th : threads) th.join();
  CHECK(errors.load() == 0);
  CHECK(table->lookups_mapped());
  CHECK(cache.usage() <= cache.capacity());
  MESSAGE("cache hits " << cache.hits() << ", misses " << cache.misses());
}

// ---- damage ---------------------------------------------------------------

struct Layout {
  Footer footer;
  std::vector<BlockHandle> data_blocks;
};

Layout ReadLayout(const std::string& contents) {
  Layout l;
  REQUIRE(
      l.footer
          .DecodeFrom(std::string_view(contents).substr(contents.size() - Footer::kEncodedLength))
          .ok());
  StringSource src(&contents);
  std::string index;
  REQUIRE(ReadBlockContents(&src, contents.size(), l.footer.index, &index).ok());
  auto block = Block::Own(index);
  auto it = block->NewIterator(GetInternalKeyComparator());
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view v = it->value();
    BlockHandle h;
    REQUIRE(h.DecodeFrom(&v));
    l.data_blocks.push_back(h);
  }
  REQUIRE(it->status().ok());
  return l;
}

// The user keys stored in one data block.
std::vector<std::string> KeysOfBlock(const std::string& contents, const BlockHandle& h) {
  StringSource src(&contents);
  std::string data;
  REQUIRE(ReadBlockContents(&src, contents.size(), h, &data).ok());
  auto block = Block::Own(data);
  std::vector<std::string> users;
  auto it = block->NewIterator(GetInternalKeyComparator());
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    users.emplace_back(ExtractUserKey(it->key()));
  }
  return users;
}

TEST_CASE("shortened index separators route Get and Seek of absent keys to the right block") {
  // Random lowercase keys differ early, so most separators are shortened
  // (e.g. "fo..." | "fz..." -> "fp"); a target between a block's last key
  // and its separator belongs to the next block.
  util::Random rnd(kv::test::TestSeed(31));
  auto random_key = [&rnd] {
    std::string k(10 + rnd.Uniform(20), 'a');
    for (char& c : k) c = static_cast<char>('a' + rnd.Uniform(26));
    return k;
  };
  std::map<std::string, std::string> present;
  while (present.size() < 3000) present[random_key()] = random_key();
  std::vector<Entry> entries;
  for (const auto& [k, v] : present) entries.push_back({IKey(k, 100), v});
  TableOptions options;
  options.block_size = 256;
  options.bloom_bits_per_key = 0;  // every absent Get reaches the index
  const std::string contents = BuildInMemory(options, entries);

  // Count the shortened separators (user key shorter than the block's last).
  const Layout layout = ReadLayout(contents);
  StringSource src(&contents);
  std::string index;
  REQUIRE(ReadBlockContents(&src, contents.size(), layout.footer.index, &index).ok());
  auto index_block = Block::Own(index);
  auto ii = index_block->NewIterator(GetInternalKeyComparator());
  size_t shortened = 0, blocks = 0;
  for (ii->SeekToFirst(); ii->Valid(); ii->Next(), blocks++) {
    ParsedInternalKey p;
    REQUIRE(ParseInternalKey(ii->key(), &p));
    shortened += p.sequence == kMaxSequenceNumber;
  }
  MESSAGE(shortened << " of " << blocks << " separators shortened");
  CHECK(shortened > blocks / 2);

  std::unique_ptr<Table> table;
  REQUIRE(OpenInMemory(options, &contents, 12, nullptr, &table).ok());
  auto it = table->NewIterator();
  size_t wrong = 0;
  for (int i = 0; i < 20000; i++) {
    const std::string user = random_key();
    bool found = false;
    std::string key, value;
    REQUIRE(table->Get(LookupKey(user, 200), &found, &key, &value, nullptr).ok());
    const auto want = present.find(user);
    wrong += found != (want != present.end());
    it->Seek(LookupKey(user, 200));
    const auto next = present.lower_bound(user);
    if (next == present.end()) {
      wrong += it->Valid();
    } else {
      wrong += !it->Valid() || ExtractUserKey(it->key()) != next->first;
    }
  }
  CHECK(wrong == 0);
  // And every present key is found through its (shortened) separator.
  for (const auto& e : entries) {
    bool found = false;
    std::string key, value;
    REQUIRE(table->Get(LookupKey(ExtractUserKey(e.ikey), 200), &found, &key, &value, nullptr).ok());
    wrong += !found || key != e.ikey || value != e.value;
  }
  CHECK(wrong == 0);
}

TEST_CASE("Get routes keys that share a long prefix through the decoded index") {
  // db_bench-style keys ("%016d") share their first ten or so bytes, so the
  // index's 8-byte prefixes must be taken after the shared part; the last
  // index entry is a short successor ("1") that shares none of it.
  auto user_key = [](uint64_t id) {
    char buf[32];
    snprintf(buf, sizeof(buf), "%016llu", static_cast<unsigned long long>(id));
    return std::string(buf);
  };
  std::vector<Entry> entries;
  std::map<std::string, std::string> present;
  for (uint64_t id = 100000; id < 140000; id += 2) {
    const std::string user = user_key(id);
    entries.push_back({IKey(user, 100), "v" + std::to_string(id)});
    present[user] = entries.back().value;
  }
  for (size_t block_size : {size_t{256}, size_t{4096}}) {
    CAPTURE(block_size);
    TableOptions options;
    options.block_size = block_size;
    options.bloom_bits_per_key = 0;  // every Get reaches the index
    const std::string contents = BuildInMemory(options, entries);
    std::unique_ptr<Table> table;
    REQUIRE(OpenInMemory(options, &contents, 13, nullptr, &table).ok());
    std::vector<std::string> probes = {"",
                                       "0",
                                       "0000",
                                       "0000000000",
                                       user_key(0),
                                       user_key(99999),
                                       user_key(140000),
                                       user_key(999999),
                                       "1",
                                       "2",
                                       "\xff\xff"};
    for (uint64_t id = 99990; id < 140010; id++) {
      probes.push_back(user_key(id));
      probes.push_back(user_key(id) + "x");          // longer than any key
      probes.push_back(user_key(id).substr(0, 15));  // a proper prefix of keys
    }
    size_t wrong = 0;
    for (const std::string& user : probes) {
      bool found = false;
      std::string key, value;
      REQUIRE(table->Get(LookupKey(user, 200), &found, &key, &value, nullptr).ok());
      const auto want = present.find(user);
      if (want == present.end()) {
        wrong += found;
      } else {
        wrong += !found || value != want->second || ExtractUserKey(key) != user;
      }
      // At exactly the stored sequence, the target can equal an index key
      // (a separator that could not be shortened is the block's last key).
      REQUIRE(table->Get(LookupKey(user, 100), &found, nullptr, &value, nullptr).ok());
      wrong += found != (want != present.end());
      // Older than every version: nothing visible.
      REQUIRE(table->Get(LookupKey(user, 99), &found, nullptr, nullptr, nullptr).ok());
      wrong += found;
    }
    CHECK(wrong == 0);
  }
}

TEST_CASE("Get on a one-entry table finds only that entry") {
  std::vector<Entry> entries = {{IKey("key", 7), "value"}};
  TableOptions options;
  options.bloom_bits_per_key = 0;
  const std::string contents = BuildInMemory(options, entries);
  std::unique_ptr<Table> table;
  REQUIRE(OpenInMemory(options, &contents, 14, nullptr, &table).ok());
  for (const char* user : {"", "a", "ke", "key", "key!", "kez", "z"}) {
    CAPTURE(user);
    bool found = false;
    std::string key, value;
    REQUIRE(table->Get(LookupKey(user, 10), &found, &key, &value, nullptr).ok());
    CHECK(found == (std::string(user) == "key"));
    if (found) CHECK(value == "value");
  }
}

// Opens the table and reads everything in it. OK only if every block
// verified; the first error otherwise. A table that opens and scans must
// return exactly `entries`.
util::Status ReadAll(const std::string& contents, const std::vector<Entry>& entries,
                     uint64_t number) {
  std::unique_ptr<Table> table;
  util::Status s = OpenInMemory(TableOptions{}, &contents, number, nullptr, &table);
  if (!s.ok()) return s;
  auto it = table->NewIterator();
  size_t i = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next(), i++) {
    REQUIRE(i < entries.size());
    REQUIRE(it->key() == entries[i].ikey);
    REQUIRE(it->value() == entries[i].value);
  }
  if (!it->status().ok()) {
    CHECK(!it->Valid());
    return it->status();
  }
  REQUIRE(i == entries.size());
  return util::Status::OK();
}

// A Get of bad_key (in a block with a flipped bit) is Corruption naming
// the table and the block's offset, the bad block is not cached, and
// good_key (another block's) is still found.
void CheckBadBlock(const Table& table, const BlockCache& cache, const std::string& bad_key,
                   const std::string& table_name, uint64_t offset, const std::string& good_key) {
  bool found = true;
  std::string key, value;
  util::Status s = table.Get(LookupKey(bad_key, kMaxSequenceNumber), &found, &key, &value, nullptr);
  CHECK(s.IsCorruption());
  CHECK(!found);
  CHECK(Contains(s, table_name));
  CHECK(Contains(s, "block at offset " + std::to_string(offset)));
  CHECK(Contains(s, "checksum mismatch"));
  MESSAGE(s.ToString());
  CHECK(cache.entries() == 0);  // a bad block is never cached
  REQUIRE(table.Get(LookupKey(good_key, kMaxSequenceNumber), &found, &key, &value, nullptr).ok());
  CHECK(found);
}

TEST_CASE(
    "a flipped bit in a data block is Corruption from Get and iteration, naming the file "
    "and block offset") {
  util::Random rnd(3);
  const std::vector<Entry> entries = MakeEntries(600, &rnd);
  TableOptions options;
  options.block_size = 1024;
  const std::string good = BuildInMemory(options, entries);
  const Layout layout = ReadLayout(good);
  REQUIRE(layout.data_blocks.size() >= 4);
  const BlockHandle victim = layout.data_blocks[2];
  const std::vector<std::string> victim_keys = KeysOfBlock(good, victim);
  REQUIRE(!victim_keys.empty());

  std::string bad = good;
  bad[victim.offset + victim.size / 2] ^= 0x10;
  BlockCache cache(1 << 20);
  std::unique_ptr<Table> table;
  REQUIRE(OpenInMemory(options, &bad, 123, &cache, &table).ok());  // data blocks are lazy

  CheckBadBlock(*table, cache, victim_keys[0], "table 000123.sst", victim.offset,
                KeysOfBlock(good, layout.data_blocks[0])[0]);

  // Iteration stops at the bad block with the same error, for good.
  auto it = table->NewIterator();
  size_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) n++;
  CHECK(n > 0);
  CHECK(n < entries.size());
  CHECK(it->status().IsCorruption());
  CHECK(Contains(it->status(), "000123.sst"));
  it->SeekToFirst();
  CHECK(!it->Valid());
  CHECK(it->status().IsCorruption());
  // Seek straight into the bad block.
  auto it2 = table->NewIterator();
  it2->Seek(LookupKey(victim_keys[0], kMaxSequenceNumber));
  CHECK(!it2->Valid());
  CHECK(it2->status().IsCorruption());
}

TEST_CASE("a flipped bit in a data block on disk is Corruption from a Get through the mapping") {
  util::Random rnd(31);
  const std::vector<Entry> entries = MakeEntries(600, &rnd);
  TableOptions options;
  options.block_size = 1024;
  std::string bad = BuildInMemory(options, entries);
  const Layout layout = ReadLayout(bad);
  REQUIRE(layout.data_blocks.size() >= 4);
  const BlockHandle victim = layout.data_blocks[1];
  const std::vector<std::string> victim_keys = KeysOfBlock(bad, victim);
  REQUIRE(!victim_keys.empty());
  bad[victim.offset + 5] ^= 0x04;

  TempDir dir;
  Env* env = Env::Default();
  const std::string path = WriteTableFile(env, dir.path() + "/000321.sst", bad);
  std::unique_ptr<RandomAccessFile> file;
  REQUIRE(env->NewRandomAccessFile(path, &file).ok());
  BlockCache cache(1 << 20);
  std::unique_ptr<Table> table;
  REQUIRE(Table::Open(options, std::move(file), bad.size(), 321, &cache, &table).ok());
  table->MapForLookups(env, path, 1);

  CheckBadBlock(*table, cache, victim_keys[0], "table 000321.sst", victim.offset,
                KeysOfBlock(bad, layout.data_blocks[0])[0]);
  CHECK(table->lookups_mapped());
}

TEST_CASE(
    "a flipped bit in the index or the footer, or a truncated file, fails Open with "
    "Corruption naming the file") {
  util::Random rnd(4);
  const std::vector<Entry> entries = MakeEntries(600, &rnd);
  TableOptions options;
  options.block_size = 1024;
  const std::string good = BuildInMemory(options, entries);
  const Layout layout = ReadLayout(good);
  std::unique_ptr<Table> table;

  SUBCASE("index block") {
    std::string bad = good;
    bad[layout.footer.index.offset + 3] ^= 0x01;
    util::Status s = OpenInMemory(options, &bad, 456, nullptr, &table);
    CHECK(s.IsCorruption());
    CHECK(Contains(s, "table 000456.sst"));
    CHECK(Contains(s, "block at offset " + std::to_string(layout.footer.index.offset)));
    MESSAGE(s.ToString());
  }
  SUBCASE("every bit of the footer") {
    const size_t start = good.size() - Footer::kEncodedLength;
    for (size_t i = start; i < good.size(); i++) {
      for (int bit = 0; bit < 8; bit++) {
        std::string bad = good;
        bad[i] ^= static_cast<char>(1 << bit);
        util::Status s = OpenInMemory(options, &bad, 456, nullptr, &table);
        CAPTURE(i);
        CHECK(s.IsCorruption());
        CHECK(Contains(s, "table 000456.sst"));
      }
    }
  }
  SUBCASE("truncated file") {
    for (size_t len : {size_t{0}, size_t{1}, size_t{55}, good.size() / 2, good.size() - 1}) {
      const std::string bad = good.substr(0, len);
      util::Status s = OpenInMemory(options, &bad, 456, nullptr, &table);
      CAPTURE(len);
      CHECK(s.IsCorruption());
      CHECK(Contains(s, "table 000456.sst"));
    }
  }
  SUBCASE("a file that is not a table") {
    const std::string junk(4096, 'x');
    util::Status s = OpenInMemory(options, &junk, 456, nullptr, &table);
    CHECK(s.IsCorruption());
    CHECK(Contains(s, "bad magic number"));
  }
}

TEST_CASE("every single-byte corruption anywhere in a table is detected by Open or a full scan") {
  util::Random rnd(kv::test::TestSeed(5));
  const std::vector<Entry> entries = MakeEntries(60, &rnd);
  TableOptions options;
  options.block_size = 512;
  const std::string good = BuildInMemory(options, entries);
  REQUIRE(ReadAll(good, entries, 77).ok());
  size_t undetected = 0;
  for (size_t i = 0; i < good.size(); i++) {
    std::string bad = good;
    bad[i] ^= static_cast<char>(1 + rnd.Uniform(255));
    util::Status s = ReadAll(bad, entries, 77);
    if (s.ok()) {
      undetected++;
    } else {
      CHECK(s.IsCorruption());
      CHECK(Contains(s, "000077.sst"));
    }
  }
  MESSAGE("table of " << good.size() << " bytes: every byte damaged once, " << undetected
                      << " undetected");
  CHECK(undetected == 0);
}

// ---- the worked example in FORMAT.md ---------------------------------------

std::string Hex(std::string_view s) {
  std::string out;
  char buf[4];
  for (size_t i = 0; i < s.size(); i++) {
    snprintf(buf, sizeof(buf), "%02x", static_cast<uint8_t>(s[i]));
    out += buf;
  }
  return out;
}

TEST_CASE("golden bytes: the tiny table of FORMAT.md's worked example") {
  TableOptions options;
  options.compression = false;
  const std::vector<Entry> entries = {{IKey("apple", 3), "red"},
                                      {IKey("apricot", 2), "orange"},
                                      {IKey("banana", 1, kTypeDeletion), ""}};
  const std::string contents = BuildInMemory(options, entries);
  // DO NOT CHANGE unless the format version changes: tables written by
  // earlier builds must stay readable, and this is what they look like.
  // clang-format off
  const std::string expected =
      // data block @0, 66 bytes: 3 entries, restart [0], count 1; trailer
      "000d036170706c650103000000000000726564"
      "020d067269636f7401020000000000006f72616e6765"
      "000e0062616e616e610001000000000000"
      "0000000001000000" "00c2302132"
      // filter block @71, 9 bytes: 64 bits + k=7; trailer
      "2140013ac9922604" "07" "00fcbf0151"
      // metaindex block @85, 90 bytes; trailer
      "000a18636f6d70617261746f726b762e496e7465726e616c4b6579436f6d70617261746f72"
      "000c0266696c7465722e626c6f6f6d4709"
      "000d046b762e70726f7065727469657303012a09"
      "000000002500000036000000" "03000000" "00646ca66a"
      // index block @180, 22 bytes: "c"@max-seq -> (0, 66); trailer
      "000902" "6301ffffffffffffff" "0042" "00000000" "01000000" "007f07bfbe"
      // footer @207, 56 bytes
      "555ab40116" "0000000000000000000000000000000000000000000000000000000000000000000000"
      "01000000" "6833cef1" "6b7673737461626c";
  // clang-format on
  CHECK(Hex(contents) == expected);
  std::unique_ptr<Table> table;
  REQUIRE(OpenInMemory(options, &contents, 1, nullptr, &table).ok());
  util::Random rnd(1);
  CheckRoundTrip(*table, entries, &rnd);
}

// ---- throughput (manual) ----------------------------------------------------

TEST_CASE("table throughput, 1M keys (manual: -tc='*throughput*' --no-skip)" * doctest::skip()) {
  util::Random rnd(11);
  const size_t n = 1000000;
  std::vector<Entry> entries;
  entries.reserve(n);
  char buf[32];
  for (size_t i = 0; i < n; i++) {
    snprintf(buf, sizeof(buf), "\x01\x02key%012zu", 2 * i);
    std::string value(100, '\0');
    for (size_t j = 0; j < value.size(); j++) {
      value[j] = j < 50 ? static_cast<char>('a' + (i + j) % 4) : static_cast<char>(rnd.Next());
    }
    entries.push_back({IKey(buf, i + 1), std::move(value)});
  }
  TempDir dir;
  Env* env = Env::Default();
  const std::string path = dir.path() + "/000001.sst";
  TableOptions options;
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  uint64_t size = 0;
  {
    std::unique_ptr<WritableFile> file;
    REQUIRE(env->NewWritableFile(path, &file).ok());
    REQUIRE(BuildTable(options, entries, file.get(), &size).ok());
    REQUIRE(file->Sync().ok());
    REQUIRE(file->Close().ok());
  }
  auto t1 = Clock::now();
  std::unique_ptr<RandomAccessFile> file;
  REQUIRE(env->NewRandomAccessFile(path, &file).ok());
  BlockCache cache(256 << 20);
  std::unique_ptr<Table> table;
  REQUIRE(Table::Open(options, std::move(file), size, 1, &cache, &table).ok());
  std::string key, value;
  bool found = false;
  auto t2 = Clock::now();
  size_t hits = 0;
  for (size_t i = 0; i < n; i++) {
    const size_t k = rnd.Uniform(n);
    snprintf(buf, sizeof(buf), "\x01\x02key%012zu", 2 * k);
    REQUIRE(table->Get(LookupKey(buf, kMaxSequenceNumber), &found, &key, &value, nullptr).ok());
    hits += found;
  }
  auto t3 = Clock::now();
  for (size_t i = 0; i < n; i++) {
    const size_t k = rnd.Uniform(n);
    snprintf(buf, sizeof(buf), "\x01\x02key%012zu", 2 * k);
    REQUIRE(table->Get(LookupKey(buf, kMaxSequenceNumber), &found, &key, &value, nullptr).ok());
  }
  auto t3b = Clock::now();
  size_t skipped = 0;
  for (size_t i = 0; i < n; i++) {
    snprintf(buf, sizeof(buf), "\x01\x02key%012zu", 2 * rnd.Uniform(n) + 1);
    bool sk = false;
    REQUIRE(table->Get(LookupKey(buf, kMaxSequenceNumber), &found, &key, &value, &sk).ok());
    skipped += sk;
  }
  auto t4 = Clock::now();
  auto it = table->NewIterator();
  size_t scanned = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) scanned++;
  auto t5 = Clock::now();
  auto secs = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  CHECK(hits == n);
  CHECK(scanned == n);
  MESSAGE("1M entries (16-byte keys, 100-byte values), file " << size << " bytes");
  MESSAGE("build+sync: " << n / secs(t1 - t0) << " entries/s");
  MESSAGE("Get present, cold cache (first pass): " << n / secs(t3 - t2) << " ops/s");
  MESSAGE("Get present, warm cache: " << n / secs(t3b - t3) << " ops/s");
  MESSAGE("Get absent: " << n / secs(t4 - t3b) << " ops/s, bloom skipped " << skipped);
  MESSAGE("full scan: " << n / secs(t5 - t4) << " entries/s");
}

}  // namespace
}  // namespace kv::storage
