// VersionEdit (a manifest record): round trips, the documented encoding,
// skippable optional fields, and Corruption for unknown required tags,
// truncation and out-of-range fields.
#include "storage/version_edit.h"

#include <doctest/doctest.h>

#include <string>

#include "../test_util.h"
#include "util/coding.h"

namespace kv::storage {
namespace {

using namespace std::string_literals;

std::string IKey(std::string_view user_key, SequenceNumber seq, ValueType t) {
  std::string k;
  AppendInternalKey(&k, user_key, seq, t);
  return k;
}

VersionEdit FullEdit() {
  VersionEdit e;
  e.SetComparatorName("kv.InternalKeyComparator");
  e.SetLogNumber(12);
  e.SetNextFileNumber(1ULL << 40);
  e.SetLastSequence(kMaxSequenceNumber);
  e.SetCompactPointer(3, IKey("m", 77, kTypeValue));
  e.RemoveFile(1, 5);
  e.RemoveFile(0, 9);
  e.AddFile(2, 31, 4096, IKey("a", 5, kTypeValue), IKey("z\xff"s, 1, kTypeDeletion));
  e.AddFile(0, FileMetaData{32, 0, IKey("", 0, kTypeDeletion), IKey("", 0, kTypeDeletion)});
  return e;
}

std::string Encode(const VersionEdit& e) {
  std::string s;
  e.EncodeTo(&s);
  return s;
}

TEST_CASE("version edit round trip keeps every field") {
  VersionEdit e = FullEdit();
  std::string enc = Encode(e);
  VersionEdit d;
  util::Status s = d.DecodeFrom(enc);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  CHECK(d.has_comparator());
  CHECK(d.comparator() == "kv.InternalKeyComparator");
  CHECK(d.log_number() == 12);
  CHECK(d.next_file_number() == 1ULL << 40);
  CHECK(d.last_sequence() == kMaxSequenceNumber);
  REQUIRE(d.compact_pointers().size() == 1);
  CHECK(d.compact_pointers()[0].first == 3);
  CHECK(d.deleted_files() == e.deleted_files());
  REQUIRE(d.new_files().size() == 2);
  CHECK(d.new_files()[0].first == 2);
  CHECK(d.new_files()[0].second.number == 31);
  CHECK(d.new_files()[0].second.file_size == 4096);
  CHECK(d.new_files()[0].second.smallest == IKey("a", 5, kTypeValue));
  CHECK(d.new_files()[0].second.largest == IKey("z\xff"s, 1, kTypeDeletion));
  CHECK(d.new_files()[1].second.number == 32);
  CHECK(Encode(d) == enc);
  CHECK(d.DebugString() == e.DebugString());
  CHECK(
      d.DebugString().find("add file: level 2 #31 4096 bytes ['a' @ 5 put .. 'z\\xff' @ 1 del]") !=
      std::string::npos);

  // An empty edit encodes to nothing and decodes back to empty; decoding
  // replaces what was there.
  VersionEdit empty;
  CHECK(Encode(empty).empty());
  REQUIRE(d.DecodeFrom("").ok());
  CHECK_FALSE(d.has_log_number());
  CHECK(d.new_files().empty());
}

TEST_CASE("version edit encoding matches FORMAT.md byte for byte") {
  VersionEdit e;
  e.SetLogNumber(5);
  e.RemoveFile(1, 300);
  e.AddFile(0, 7, 1000, IKey("a", 1, kTypeValue), IKey("b", 2, kTypeValue));
  const std::string want =
      "\x02\x05"              // log number 5
      "\x06\x01\xac\x02"      // remove level 1 #300
      "\x07\x00\x07\xe8\x07"  // add level 0 #7 1000 bytes
      "\x09"
      "a\x01\x01\x00\x00\x00\x00\x00\x00"  // smallest a@1 put
      "\x09"
      "b\x01\x02\x00\x00\x00\x00\x00\x00"s;  // largest b@2 put
  CHECK(test::Escape(Encode(e)) == test::Escape(want));
}

TEST_CASE("version edit: unknown required tag and every truncation are Corruption") {
  std::string enc = Encode(FullEdit());
  VersionEdit d;
  int ok_cuts = 0;
  for (size_t n = 0; n < enc.size(); n++) {
    CAPTURE(n);
    util::Status s = d.DecodeFrom(std::string_view(enc).substr(0, n));
    // A cut between fields is a shorter valid edit (the log record's
    // checksum is what catches a cut edit); a cut inside a field must fail.
    if (s.ok()) {
      CHECK(Encode(d) == enc.substr(0, n));
      ok_cuts++;
    } else {
      CHECK(s.IsCorruption());
    }
  }
  CHECK(ok_cuts == 9);  // before each of FullEdit's 9 fields
  // A cut inside a field fails, naming the field.
  util::Status s = d.DecodeFrom(std::string_view(enc).substr(0, enc.size() - 1));
  CHECK(s.IsCorruption());
  CHECK(s.message() == "manifest record: bad new file field");

  std::string unknown = enc;
  util::PutVarint64(&unknown, 99);
  util::PutVarint64(&unknown, 1);
  s = d.DecodeFrom(unknown);
  CHECK(s.IsCorruption());
  CHECK(s.message().find("unknown field tag 99") != std::string::npos);
}

TEST_CASE("version edit skips optional fields it does not know") {
  std::string enc = Encode(FullEdit());
  std::string with_optional;
  util::PutVarint64(&with_optional, VersionEdit::kOptionalTagBit | 1);
  util::PutLengthPrefixed(&with_optional, "a future field");
  with_optional += enc;
  util::PutVarint64(&with_optional, VersionEdit::kOptionalTagBit | 77);
  util::PutLengthPrefixed(&with_optional, "");
  VersionEdit d;
  REQUIRE(d.DecodeFrom(with_optional).ok());
  CHECK(Encode(d) == enc);

  // A truncated optional field is still corruption.
  std::string cut;
  util::PutVarint64(&cut, VersionEdit::kOptionalTagBit | 1);
  util::PutVarint64(&cut, 10);
  cut += "short";
  CHECK(d.DecodeFrom(cut).IsCorruption());
}

TEST_CASE("version edit rejects out-of-range levels, short internal keys and bad sequences") {
  VersionEdit d;
  std::string level;
  util::PutVarint64(&level, 6);  // deleted file
  util::PutVarint64(&level, kMaxEncodedLevel);
  util::PutVarint64(&level, 1);
  CHECK(d.DecodeFrom(level).IsCorruption());

  std::string short_key;
  util::PutVarint64(&short_key, 5);  // compact pointer
  util::PutVarint64(&short_key, 1);
  util::PutLengthPrefixed(&short_key, "1234567");
  CHECK(d.DecodeFrom(short_key).IsCorruption());

  std::string bad_type;
  util::PutVarint64(&bad_type, 5);
  util::PutVarint64(&bad_type, 1);
  std::string key = IKey("k", 1, kTypeValue);
  key[1] = 2;  // type byte 2 is unknown
  util::PutLengthPrefixed(&bad_type, key);
  CHECK(d.DecodeFrom(bad_type).IsCorruption());

  std::string seq;
  util::PutVarint64(&seq, 4);
  util::PutVarint64(&seq, kMaxSequenceNumber + 1);
  CHECK(d.DecodeFrom(seq).IsCorruption());
}

}  // namespace
}  // namespace kv::storage
