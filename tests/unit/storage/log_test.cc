// The log format (WAL and manifest): round trips across blocks, and recovery
// telling a torn tail (stop cleanly, truncate there) from corruption (report
// the offset, skip, keep reading).
#include <doctest/doctest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "../test_util.h"
#include "storage/env.h"
#include "storage/fault_env.h"
#include "storage/log_format.h"
#include "storage/log_reader.h"
#include "storage/log_writer.h"
#include "util/crc32c.h"
#include "util/random.h"

namespace kv::storage::log {
namespace {

using util::Status;

// In-memory files, so a test can cut or damage the log at any byte.
class StringSink final : public WritableFile {
 public:
  Status Append(std::string_view data) override {
    contents.append(data.data(), data.size());
    return Status::OK();
  }
  Status Flush() override { return Status::OK(); }
  Status Sync() override { return Status::OK(); }
  Status Close() override { return Status::OK(); }
  std::string contents;
};

class StringSource final : public SequentialFile {
 public:
  // Reads return at most `max_read` bytes, to exercise the reader's refill
  // loop; `fail_at` makes the read that reaches that offset fail.
  explicit StringSource(std::string_view data, size_t max_read = SIZE_MAX,
                        size_t fail_at = SIZE_MAX)
      : data_(data), max_read_(max_read), fail_at_(fail_at) {}
  Status Read(size_t n, std::string_view* result, char* scratch) override {
    n = std::min({n, max_read_, data_.size() - pos_});
    if (pos_ + n > fail_at_) return Status::IOError("injected read error");
    std::memcpy(scratch, data_.data() + pos_, n);
    *result = std::string_view(scratch, n);
    pos_ += n;
    return Status::OK();
  }
  Status Skip(uint64_t n) override {
    pos_ = std::min(data_.size(), pos_ + static_cast<size_t>(n));
    return Status::OK();
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
  size_t max_read_;
  size_t fail_at_;
};

class CollectingReporter final : public Reader::Reporter {
 public:
  void Corruption(size_t bytes, const Status& status) override {
    dropped += bytes;
    messages.push_back(status.ToString());
  }
  size_t dropped = 0;
  std::vector<std::string> messages;
};

struct ReadResult {
  std::vector<std::string> records;
  bool torn_tail = false;
  uint64_t torn_tail_bytes = 0;
  uint64_t last_end = 0;
  uint64_t corruption_count = 0;
  CollectingReporter reporter;
  Status status;
};

void ReadLog(std::string_view contents, ReadResult* r, bool verify = true,
             size_t max_read = SIZE_MAX) {
  StringSource src(contents, max_read);
  Reader reader(&src, &r->reporter, verify);
  std::string_view record;
  std::string scratch;
  while (reader.ReadRecord(&record, &scratch)) {
    r->records.emplace_back(record);
    CHECK(reader.LastRecordEndOffset() <= contents.size());
  }
  CHECK_FALSE(reader.ReadRecord(&record, &scratch));  // stays at the end
  r->torn_tail = reader.torn_tail();
  r->torn_tail_bytes = reader.torn_tail_bytes();
  r->last_end = reader.LastRecordEndOffset();
  r->corruption_count = reader.corruption_count();
  r->status = reader.status();
}

// Deterministic payload of `n` bytes, different for each `id`.
std::string Payload(size_t n, uint64_t id) {
  util::Random rnd(id * 0x9e3779b97f4a7c15ULL + n);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rnd.Next());
  return s;
}

// Writes `sizes` as records; ends[i] = the writer's offset after record i.
std::string WriteLog(const std::vector<size_t>& sizes, std::vector<std::string>* records,
                     std::vector<uint64_t>* ends) {
  StringSink sink;
  Writer w(&sink, 0);
  for (size_t i = 0; i < sizes.size(); i++) {
    records->push_back(Payload(sizes[i], i));
    REQUIRE(w.AddRecord(records->back()).ok());
    ends->push_back(w.offset());
    REQUIRE(w.offset() == sink.contents.size());
  }
  return sink.contents;
}

// Where record i's first header really is: its writer offset, or the next
// block if fewer than a header's bytes were left (the writer pads those).
uint64_t HeaderStart(uint64_t writer_offset) {
  uint64_t left = kBlockSize - writer_offset % kBlockSize;
  return left < kHeaderSize ? writer_offset + left : writer_offset;
}

bool SameRecords(const std::vector<std::string>& got, const std::vector<std::string>& want) {
  if (got.size() != want.size()) return false;
  for (size_t i = 0; i < got.size(); i++) {
    if (got[i] != want[i]) return false;
  }
  return true;
}

TEST_CASE("log round trip: records of 0 bytes to 100 KB spanning blocks") {
  std::vector<size_t> sizes = {0,
                               1,
                               100,
                               kBlockSize - kHeaderSize,  // exactly one block
                               kBlockSize - kHeaderSize + 1,
                               kBlockSize,
                               3 * kBlockSize,
                               100000,
                               0,
                               7};
  const uint64_t seed = test::TestSeed(7);
  util::Random rnd(seed);
  for (int i = 0; i < 200; i++) sizes.push_back(rnd.Uniform(i % 10 == 0 ? 100001 : 2000));
  std::vector<std::string> records;
  std::vector<uint64_t> ends;
  std::string log = WriteLog(sizes, &records, &ends);

  for (size_t max_read : {SIZE_MAX, size_t{1000}, size_t{7}}) {
    CAPTURE(max_read);
    ReadResult r;
    ReadLog(log, &r, true, max_read);
    CHECK(r.status.ok());
    CHECK(SameRecords(r.records, records));
    CHECK_FALSE(r.torn_tail);
    CHECK(r.corruption_count == 0);
    CHECK(r.reporter.messages.empty());
    CHECK(r.last_end == log.size());
  }

  // LastRecordEndOffset after each record is the writer's offset after it.
  StringSource src(log);
  Reader reader(&src, nullptr, true);
  std::string_view record;
  std::string scratch;
  for (size_t i = 0; i < records.size(); i++) {
    REQUIRE(reader.ReadRecord(&record, &scratch));
    CHECK(reader.LastRecordEndOffset() == ends[i]);
  }
}

TEST_CASE("log record encoding matches FORMAT.md's worked example byte for byte") {
  using namespace std::string_literals;
  // The write batch "sequence 1, Put a = b".
  const std::string payload =
      "\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x01\x01"
      "a"
      "\x01"
      "b"s;
  StringSink sink;
  Writer w(&sink, 0);
  REQUIRE(w.AddRecord(payload).ok());
  const std::string want = "\xd3\x1c\x3e\xc7\x11\x00\x01"s + payload;
  CHECK(test::Escape(sink.contents) == test::Escape(want));
  CHECK(w.offset() == 24);
}

TEST_CASE("log writer pads a block tail shorter than a header with zeros") {
  using namespace std::string_literals;
  for (size_t left = 0; left <= kHeaderSize; left++) {
    CAPTURE(left);
    StringSink sink;
    Writer w(&sink, 0);
    REQUIRE(w.AddRecord(std::string(kBlockSize - kHeaderSize - left, 'x')).ok());
    REQUIRE(sink.contents.size() == kBlockSize - left);
    REQUIRE(w.AddRecord("next").ok());
    if (left < kHeaderSize) {
      CHECK(sink.contents.substr(kBlockSize - left, left) == std::string(left, '\0'));
      CHECK(sink.contents.size() == kBlockSize + kHeaderSize + 4);
    } else {
      // Room for exactly a header: an empty FIRST fragment, then the LAST.
      CHECK(sink.contents.substr(kBlockSize - kHeaderSize + 4, 3) == "\0\0\x02"s);
      CHECK(sink.contents.size() == kBlockSize + kHeaderSize + 4);
    }
    CHECK(w.offset() == sink.contents.size());
    ReadResult r;
    ReadLog(sink.contents, &r);
    REQUIRE(r.records.size() == 2);
    CHECK(r.records[1] == "next");
    CHECK_FALSE(r.torn_tail);
  }
}

TEST_CASE("log writer reopened at an initial offset keeps the block boundaries") {
  // Second writer starts at every interesting distance from a block end.
  for (size_t left : {size_t{0}, size_t{3}, size_t{7}, size_t{100}}) {
    CAPTURE(left);
    StringSink sink;
    Writer first(&sink, 0);
    REQUIRE(first.AddRecord(std::string(kBlockSize - kHeaderSize - left, 'a')).ok());
    Writer second(&sink, first.offset());
    REQUIRE(second.AddRecord(std::string(50000, 'b')).ok());
    REQUIRE(second.AddRecord("c").ok());
    CHECK(second.offset() == sink.contents.size());
    ReadResult r;
    ReadLog(sink.contents, &r);
    REQUIRE(r.records.size() == 3);
    CHECK(r.records[1] == std::string(50000, 'b'));
    CHECK(r.records[2] == "c");
    CHECK(r.corruption_count == 0);
    CHECK_FALSE(r.torn_tail);
  }
}

TEST_CASE("log writer errors are sticky") {
  class FailingSink final : public WritableFile {
   public:
    Status Append(std::string_view data) override {
      if (fail) return Status::IOError("disk full");
      size += data.size();
      return Status::OK();
    }
    Status Flush() override { return Status::OK(); }
    Status Sync() override { return Status::OK(); }
    Status Close() override { return Status::OK(); }
    bool fail = false;
    size_t size = 0;
  };
  FailingSink sink;
  Writer w(&sink, 0);
  REQUIRE(w.AddRecord("ok").ok());
  sink.fail = true;
  CHECK(w.AddRecord("lost").IsIOError());
  sink.fail = false;
  CHECK(w.AddRecord("after").IsIOError());  // the block position is unknown now
  CHECK(sink.size == kHeaderSize + 2);
}

// Cuts the log at every byte of its last record: all earlier records come
// back, the rest is a torn tail ending where the last good record ends.
void CheckEveryCutOfLastRecord(const std::vector<size_t>& sizes) {
  std::vector<std::string> records;
  std::vector<uint64_t> ends;
  std::string log = WriteLog(sizes, &records, &ends);
  const uint64_t start = ends.size() > 1 ? ends[ends.size() - 2] : 0;
  std::vector<std::string> earlier(records.begin(), records.end() - 1);
  // Every byte; for a record over 20 KB every byte near its ends and the
  // block boundaries and a sample of the rest (a cut reads the whole log, so
  // every byte would be slow under the sanitizers).
  auto near_edge = [&](uint64_t cut) {
    return log.size() - start < 20000 || cut - start < 300 || log.size() - cut < 300 ||
           cut % kBlockSize < 20 || kBlockSize - cut % kBlockSize < 20;
  };
  for (uint64_t cut = start; cut <= log.size(); cut += near_edge(cut) ? 1 : 97) {
    CAPTURE(cut);
    ReadResult r;
    ReadLog(std::string_view(log).substr(0, cut), &r);
    REQUIRE(r.status.ok());
    CHECK(r.corruption_count == 0);
    CHECK(r.reporter.messages.empty());
    if (cut == log.size()) {
      CHECK(SameRecords(r.records, records));
      CHECK_FALSE(r.torn_tail);
      CHECK(r.last_end == log.size());
    } else {
      CHECK(SameRecords(r.records, earlier));
      CHECK(r.torn_tail == (cut > start));
      CHECK(r.torn_tail_bytes == cut - start);
      CHECK(r.last_end == start);
    }
  }
}

TEST_CASE("torn WAL tail: a cut anywhere in the last record is a torn tail, not corruption") {
  SUBCASE("last record in one fragment") { CheckEveryCutOfLastRecord({10, 300, 0, 500}); }
  SUBCASE("last record fragmented across a block boundary") {
    // 32704 + 7 ends at 32711; 20 + 7 ends at 32738; the last record's
    // FIRST fragment holds 23 bytes, its LAST fragment the other 177.
    CheckEveryCutOfLastRecord({kBlockSize - kHeaderSize - 57, 20, 200});
  }
  SUBCASE("last record begins with block padding") {
    CheckEveryCutOfLastRecord({kBlockSize - kHeaderSize - 3, 40});
  }
  SUBCASE("last record spans three blocks") {
    CheckEveryCutOfLastRecord({kBlockSize - kHeaderSize - 20, kBlockSize + 100});
  }
  SUBCASE("only record") { CheckEveryCutOfLastRecord({1000}); }
}

TEST_CASE("zero-filled WAL tail (preallocation or a crash) is a torn tail") {
  std::vector<std::string> records;
  std::vector<uint64_t> ends;
  std::string log = WriteLog({100, kBlockSize, 5}, &records, &ends);
  for (size_t zeros : {size_t{1}, size_t{6}, size_t{7}, size_t{100},
                       kBlockSize - log.size() % kBlockSize, size_t{70000}}) {
    CAPTURE(zeros);
    ReadResult r;
    ReadLog(log + std::string(zeros, '\0'), &r);
    CHECK(SameRecords(r.records, records));
    CHECK(r.torn_tail);
    CHECK(r.torn_tail_bytes == zeros);
    CHECK(r.last_end == log.size());
    CHECK(r.corruption_count == 0);
    CHECK(r.status.ok());
  }
  // The last record's own bytes zeroed from some point on.
  for (size_t keep : {size_t{0}, size_t{3}, size_t{7}, size_t{8}}) {
    CAPTURE(keep);
    std::string damaged = log;
    std::fill(damaged.begin() + static_cast<long>(ends[1] + keep), damaged.end(), '\0');
    ReadResult r;
    ReadLog(damaged, &r);
    CHECK(SameRecords(r.records, {records[0], records[1]}));
    CHECK(r.torn_tail);
    CHECK(r.last_end == ends[1]);
    CHECK(r.corruption_count == 0);
  }
}

TEST_CASE("WAL corruption: a flipped bit in a middle record is reported, later records are read") {
  // ~1000-byte records over five blocks.
  std::vector<size_t> sizes(160, 1000);
  std::vector<std::string> records;
  std::vector<uint64_t> ends;
  std::string log = WriteLog(sizes, &records, &ends);
  REQUIRE(log.size() > 4 * kBlockSize);

  // Damage record 40 (in block 1) at several places of its first fragment.
  const size_t victim = 40;
  const uint64_t start = HeaderStart(ends[victim - 1]);
  REQUIRE(start / kBlockSize == 1);
  const uint64_t block_end = (start / kBlockSize + 1) * kBlockSize;
  for (uint64_t pos : {start, start + 4, start + 5, start + 6, start + kHeaderSize + 500}) {
    CAPTURE(pos - start);
    std::string damaged = log;
    damaged[pos] = static_cast<char>(damaged[pos] ^ 0x10);
    ReadResult r;
    ReadLog(damaged, &r);
    // Lost: the victim and every record with a fragment in the rest of its
    // block (the reader cannot trust anything there).
    std::vector<std::string> want;
    for (size_t i = 0; i < records.size(); i++) {
      uint64_t s = HeaderStart(i == 0 ? 0 : ends[i - 1]);
      if (s < start || s >= block_end) want.push_back(records[i]);
    }
    CHECK(want.size() < records.size());
    CHECK(want.size() > victim);
    CHECK(SameRecords(r.records, want));
    CHECK(r.corruption_count == 1);
    REQUIRE(r.reporter.messages.size() == 1);
    CHECK(r.reporter.messages[0].find("at offset " + std::to_string(start)) != std::string::npos);
    CHECK(r.reporter.dropped > 0);
    CHECK_FALSE(r.torn_tail);
    CHECK(r.last_end == log.size());
    CHECK(r.status.ok());

    // Without checksums a payload flip goes unnoticed.
    if (pos == start + kHeaderSize + 500) {
      ReadResult unchecked;
      ReadLog(damaged, &unchecked, /*verify=*/false);
      CHECK(unchecked.records.size() == records.size());
      CHECK(unchecked.corruption_count == 0);
    }
  }
}

TEST_CASE(
    "WAL corruption: damage at the very end is a torn tail, damage with records after it is not") {
  std::vector<std::string> records;
  std::vector<uint64_t> ends;
  std::string log = WriteLog({kBlockSize, 30, 30}, &records, &ends);
  {
    std::string damaged = log;
    damaged[ends[1] + kHeaderSize + 1] ^= 1;  // inside the last record
    ReadResult r;
    ReadLog(damaged, &r);
    CHECK(SameRecords(r.records, {records[0], records[1]}));
    CHECK(r.torn_tail);
    CHECK(r.corruption_count == 0);
    CHECK(r.last_end == ends[1]);
  }
  {
    // The first record's FIRST fragment: the record is lost, so is the rest
    // of block 0, and the orphaned LAST fragment in block 1; the small
    // records after it survive.
    std::string damaged = log;
    damaged[kHeaderSize + 10] ^= 1;
    ReadResult r;
    ReadLog(damaged, &r);
    CHECK(SameRecords(r.records, {records[1], records[2]}));
    CHECK_FALSE(r.torn_tail);
    CHECK(r.corruption_count == 1);
    CHECK(r.reporter.dropped == ends[0]);
    REQUIRE(r.reporter.messages.size() == 1);
    CHECK(r.reporter.messages[0] == "Corruption: checksum mismatch at offset 0, " +
                                        std::to_string(ends[0]) + " bytes dropped");
  }
}

TEST_CASE("a log record of an unknown type stops reading with an error, never a torn tail") {
  std::vector<std::string> records;
  std::vector<uint64_t> ends;
  std::string log = WriteLog({10, 20}, &records, &ends);
  // A well-formed fragment of type 9, as a newer format might write.
  std::string payload = "future";
  std::string frag(kHeaderSize, '\0');
  char type = 9;
  uint32_t crc = util::crc32c::Mask(
      util::crc32c::Extend(util::crc32c::Value(&type, 1), payload.data(), payload.size()));
  for (int i = 0; i < 4; i++) frag[static_cast<size_t>(i)] = static_cast<char>(crc >> (8 * i));
  frag[4] = static_cast<char>(payload.size());
  frag[6] = type;
  ReadResult r;
  ReadLog(log + frag + payload, &r);
  CHECK(SameRecords(r.records, records));
  CHECK(r.status.IsCorruption());
  CHECK(r.status.message().find("unknown type 9") != std::string::npos);
  CHECK_FALSE(r.torn_tail);
  CHECK(r.last_end == log.size());
}

TEST_CASE("a read error stops the log reader with the IOError, not a torn tail") {
  std::vector<std::string> records;
  std::vector<uint64_t> ends;
  std::string log = WriteLog({kBlockSize, 10}, &records, &ends);
  StringSource src(log, SIZE_MAX, kBlockSize + 1);
  Reader reader(&src, nullptr, true);
  std::string_view record;
  std::string scratch;
  CHECK_FALSE(reader.ReadRecord(&record, &scratch));
  CHECK(reader.status().IsIOError());
  CHECK_FALSE(reader.torn_tail());
  CHECK(reader.LastRecordEndOffset() == 0);
}

TEST_CASE("an empty log has no records and no torn tail") {
  ReadResult r;
  ReadLog("", &r);
  CHECK(r.records.empty());
  CHECK_FALSE(r.torn_tail);
  CHECK(r.last_end == 0);
}

TEST_CASE("log reader survives random damage and returns only records that were written") {
  const uint64_t seed = test::TestSeed(99);
  util::Random rnd(seed);
  std::vector<size_t> sizes;
  for (int i = 0; i < 60; i++) sizes.push_back(rnd.Uniform(i % 7 == 0 ? 40000 : 3000));
  std::vector<std::string> records;
  std::vector<uint64_t> ends;
  const std::string log = WriteLog(sizes, &records, &ends);
  for (int round = 0; round < 200; round++) {
    CAPTURE(round);
    std::string damaged = log;
    int edits = 1 + static_cast<int>(rnd.Uniform(4));
    for (int e = 0; e < edits && !damaged.empty(); e++) {
      size_t pos = rnd.Uniform(damaged.size());
      switch (rnd.Uniform(3)) {
        case 0:
          damaged[pos] = static_cast<char>(damaged[pos] ^ (1 << rnd.Uniform(8)));
          break;
        case 1:
          std::fill_n(damaged.begin() + static_cast<long>(pos),
                      std::min<size_t>(rnd.Uniform(5000), damaged.size() - pos), '\0');
          break;
        default:
          damaged.resize(pos);
          break;
      }
    }
    ReadResult r;
    ReadLog(damaged, &r);
    // Every record returned is one of the written ones, in order.
    size_t next = 0;
    for (const std::string& got : r.records) {
      while (next < records.size() && records[next] != got) next++;
      REQUIRE(next < records.size());
      next++;
    }
    CHECK(r.last_end <= damaged.size());
    CHECK(r.status.ok());
  }
}

TEST_CASE("WAL through FaultInjectionEnv: after a torn power loss every synced record is read") {
  const char* base = getenv("TMPDIR");
  std::string dir =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/kv-log-test-XXXXXX";
  REQUIRE(mkdtemp(dir.data()) != nullptr);
  const std::string path = dir + "/000001.log";
  const uint64_t seed = test::TestSeed(4242);
  util::Random rnd(seed);
  for (int round = 0; round < 30; round++) {
    CAPTURE(round);
    FaultInjectionEnv env(Env::Default());
    std::unique_ptr<WritableFile> file;
    REQUIRE(env.NewWritableFile(path, &file).ok());
    Writer w(file.get(), 0);
    std::vector<std::string> written;
    size_t synced_records = 0;
    for (int i = 0; i < 40; i++) {
      written.push_back(Payload(rnd.Uniform(i % 9 == 0 ? 50000 : 500), rnd.Next()));
      REQUIRE(w.AddRecord(written.back()).ok());
      if (rnd.Uniform(4) == 0) {
        REQUIRE(file->Sync().ok());
        synced_records = written.size();
      }
    }
    bool zero_fill = rnd.Uniform(2) == 0;
    REQUIRE(env.TearLastWrite(rnd.Next(), zero_fill).ok());
    file.reset();

    std::unique_ptr<SequentialFile> src;
    REQUIRE(env.NewSequentialFile(path, &src).ok());
    CollectingReporter reporter;
    Reader reader(src.get(), &reporter, true);
    std::string_view record;
    std::string scratch;
    size_t n = 0;
    while (reader.ReadRecord(&record, &scratch)) {
      REQUIRE(n < written.size());
      CHECK(record == written[n]);
      n++;
    }
    CHECK(n >= synced_records);
    CHECK(reader.corruption_count() == 0);
    CHECK(reader.status().ok());
    uint64_t size = 0;
    REQUIRE(env.GetFileSize(path, &size).ok());
    CHECK(reader.torn_tail() == (reader.LastRecordEndOffset() < size));

    // Recovery: truncate at the last good record, append more, read all.
    REQUIRE(env.TruncateFile(path, reader.LastRecordEndOffset()).ok());
    REQUIRE(env.NewAppendableFile(path, &file).ok());
    Writer again(file.get(), reader.LastRecordEndOffset());
    REQUIRE(again.AddRecord("after recovery").ok());
    REQUIRE(file->Close().ok());
    file.reset();
    REQUIRE(env.NewSequentialFile(path, &src).ok());
    Reader reread(src.get(), nullptr, true);
    size_t m = 0;
    std::string_view last;
    while (reread.ReadRecord(&record, &scratch)) {
      m++;
      last = record;
      if (m == n + 1) CHECK(last == "after recovery");
    }
    CHECK(m == n + 1);
    CHECK_FALSE(reread.torn_tail());
    CHECK(reread.corruption_count() == 0);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace kv::storage::log
