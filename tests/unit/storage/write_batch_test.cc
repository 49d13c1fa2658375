// WriteBatch (the WAL payload): round trips, the byte layout FORMAT.md
// documents, and every malformed batch rejected as Corruption before the
// handler sees any op.
#include "storage/write_batch.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "../test_util.h"
#include "util/random.h"

namespace kv::storage {
namespace {

using namespace std::string_literals;

// Records ops as "Put(k, v)" / "Delete(k)".
class Recorder final : public WriteBatch::Handler {
 public:
  void Put(std::string_view key, std::string_view value) override {
    ops.push_back("Put(" + test::Escape(key) + ", " + test::Escape(value) + ")");
  }
  void Delete(std::string_view key) override { ops.push_back("Delete(" + test::Escape(key) + ")"); }
  std::vector<std::string> ops;
};

std::vector<std::string> Ops(const WriteBatch& b) {
  Recorder r;
  util::Status s = b.Iterate(&r);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  return r.ops;
}

TEST_CASE("write batch round trip through its contents") {
  WriteBatch b;
  CHECK(b.Count() == 0);
  CHECK(b.Sequence() == 0);
  CHECK(b.ApproximateSize() == WriteBatch::kHeaderSize);
  b.Put("k1", "v1");
  b.Delete("k2");
  b.Put("", "");
  b.Put("bin\0key"s, std::string(300, 'x'));
  b.SetSequence(kMaxSequenceNumber - 10);
  CHECK(b.Count() == 4);
  CHECK(b.Sequence() == kMaxSequenceNumber - 10);
  std::vector<std::string> want = {"Put(\"k1\", \"v1\")", "Delete(\"k2\")", "Put(\"\", \"\")",
                                   "Put(\"bin\\x00key\", \"" + std::string(300, 'x') + "\")"};
  CHECK(test::Show(Ops(b)) == test::Show(want));

  WriteBatch copy;
  REQUIRE(copy.SetContents(b.Contents()).ok());
  CHECK(copy.Count() == 4);
  CHECK(copy.Sequence() == kMaxSequenceNumber - 10);
  CHECK(test::Show(Ops(copy)) == test::Show(want));
  CHECK(copy.ApproximateSize() == b.Contents().size());

  b.Clear();
  CHECK(b.Count() == 0);
  CHECK(b.Sequence() == 0);
  CHECK(Ops(b).empty());
}

TEST_CASE("write batch encoding matches FORMAT.md byte for byte") {
  WriteBatch b;
  b.SetSequence(0x0102030405060708ULL);
  b.Put("ab", "xyz");
  b.Delete("c");
  const std::string want =
      "\x08\x07\x06\x05\x04\x03\x02\x01"  // sequence
      "\x02\x00\x00\x00"                  // count
      "\x01\x02"
      "ab"
      "\x03"
      "xyz"  // Put
      "\x00\x01"
      "c"s;  // Delete
  CHECK(test::Escape(b.Contents()) == test::Escape(want));
}

TEST_CASE("write batch Append concatenates ops and keeps the first sequence") {
  WriteBatch a, b;
  a.SetSequence(100);
  a.Put("a", "1");
  b.SetSequence(7);
  b.Delete("b");
  b.Put("c", "3");
  a.Append(b);
  CHECK(a.Count() == 3);
  CHECK(a.Sequence() == 100);
  CHECK(test::Show(Ops(a)) == test::Show(std::vector<std::string>{
                                  "Put(\"a\", \"1\")", "Delete(\"b\")", "Put(\"c\", \"3\")"}));
}

TEST_CASE(
    "write batch: every truncation and malformed batch is Corruption, the handler sees nothing") {
  WriteBatch b;
  b.SetSequence(42);
  b.Put("key", "value");
  b.Delete("gone");
  b.Put(std::string(200, 'k'), std::string(1000, 'v'));  // two-byte varints
  const std::string full(b.Contents());

  for (size_t n = 0; n < full.size(); n++) {
    CAPTURE(n);
    WriteBatch t;
    util::Status s = t.SetContents(std::string_view(full).substr(0, n));
    if (n < WriteBatch::kHeaderSize) {
      CHECK(s.IsCorruption());
      continue;
    }
    REQUIRE(s.ok());
    Recorder r;
    CHECK(t.Iterate(&r).IsCorruption());
    CHECK(r.ops.empty());
  }

  auto corrupt = [](std::string bytes) {
    WriteBatch t;
    REQUIRE(t.SetContents(bytes).ok());
    Recorder r;
    util::Status s = t.Iterate(&r);
    CHECK(r.ops.empty());
    return s;
  };
  // Unknown tag.
  std::string bad = full;
  bad[WriteBatch::kHeaderSize] = 7;
  CHECK(corrupt(bad).message().find("unknown op tag 7") != std::string::npos);
  // Count larger and smaller than the ops present.
  bad = full;
  bad[8] = 4;
  CHECK(corrupt(bad).IsCorruption());
  bad[8] = 2;
  CHECK(corrupt(bad).IsCorruption());
  // Trailing garbage that is not a whole op, and a whole extra op.
  CHECK(corrupt(full + "\x01").IsCorruption());
  CHECK(corrupt(full + "\x00\x01x"s).IsCorruption());
  // A length that claims more than is there (a huge varint).
  bad = full.substr(0, WriteBatch::kHeaderSize) + "\x01\xff\xff\xff\xff\xff\xff\xff\xff\x7f"s;
  bad[8] = 1;
  CHECK(corrupt(bad).IsCorruption());
  // A varint longer than 10 bytes.
  bad = full.substr(0, WriteBatch::kHeaderSize) + "\x00"s + std::string(11, '\x80');
  bad[8] = 1;
  CHECK(corrupt(bad).IsCorruption());
}

TEST_CASE("write batch survives random bytes without reading out of bounds") {
  const uint64_t seed = test::TestSeed(1234);
  util::Random rnd(seed);
  WriteBatch b;
  for (int i = 0; i < 20; i++) {
    if (rnd.Uniform(3) == 0) {
      b.Delete(std::string(rnd.Uniform(20), 'd'));
    } else {
      b.Put(std::string(rnd.Uniform(20), 'k'), std::string(rnd.Uniform(300), 'v'));
    }
  }
  const std::string full(b.Contents());
  for (int round = 0; round < 2000; round++) {
    std::string bytes = full;
    for (int e = 0; e < 3; e++) {
      bytes[rnd.Uniform(bytes.size())] = static_cast<char>(rnd.Next());
    }
    WriteBatch t;
    REQUIRE(t.SetContents(bytes).ok());
    Recorder r;
    util::Status s = t.Iterate(&r);
    if (s.ok()) {
      CHECK(r.ops.size() == t.Count());
    } else {
      CHECK(s.IsCorruption());
      CHECK(r.ops.empty());
    }
  }
}

}  // namespace
}  // namespace kv::storage
