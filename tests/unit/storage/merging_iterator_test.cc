// MergingIterator: the union of its children in comparator order, every
// duplicate kept, Seek, empty children, and child errors that stop the
// merge and surface through status().
#include "storage/merging_iterator.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../test_util.h"
#include "storage/dbformat.h"
#include "storage/memtable.h"
#include "util/random.h"

namespace kv::storage {
namespace {

using Entry = std::pair<std::string, std::string>;  // key, value

// A child over a sorted vector. With fail_at set, the iterator turns
// !Valid() with a Corruption status when it would reach that index (so
// fail_at = 0 fails on every positioning).
class VectorIterator final : public Iterator {
 public:
  VectorIterator(const Comparator* cmp, std::vector<Entry> entries, size_t fail_at = SIZE_MAX,
                 std::string error = "bad block")
      : cmp_(cmp), entries_(std::move(entries)), fail_at_(fail_at), error_(std::move(error)) {
    pos_ = entries_.size();
  }
  bool Valid() const override { return pos_ < entries_.size(); }
  void SeekToFirst() override { Move(0); }
  void Seek(std::string_view target) override {
    size_t i = 0;
    while (i < entries_.size() && cmp_->Compare(entries_[i].first, target) < 0) i++;
    Move(i);
  }
  void Next() override {
    REQUIRE(Valid());
    Move(pos_ + 1);
  }
  std::string_view key() const override {
    REQUIRE(Valid());
    return entries_[pos_].first;
  }
  std::string_view value() const override {
    REQUIRE(Valid());
    return entries_[pos_].second;
  }
  util::Status status() const override {
    return failed_ ? util::Status::Corruption(error_) : util::Status::OK();
  }

 private:
  void Move(size_t i) {
    failed_ = i >= fail_at_;
    pos_ = failed_ ? entries_.size() : i;
  }
  const Comparator* cmp_;
  std::vector<Entry> entries_;
  size_t pos_;
  size_t fail_at_;
  std::string error_;
  bool failed_ = false;
};

std::unique_ptr<Iterator> Child(std::vector<Entry> entries, const Comparator* cmp,
                                size_t fail_at = SIZE_MAX, std::string error = "bad block") {
  std::sort(entries.begin(), entries.end(),
            [cmp](const Entry& a, const Entry& b) { return cmp->Compare(a.first, b.first) < 0; });
  return std::make_unique<VectorIterator>(cmp, std::move(entries), fail_at, std::move(error));
}

std::vector<Entry> Drain(Iterator* it) {
  std::vector<Entry> out;
  for (; it->Valid(); it->Next())
    out.emplace_back(std::string(it->key()), std::string(it->value()));
  return out;
}

std::string IKey(std::string_view user_key, SequenceNumber seq, ValueType t = kTypeValue) {
  std::string k;
  AppendInternalKey(&k, user_key, seq, t);
  return k;
}

TEST_CASE("merging iterator: 5 overlapping children yield the sorted merge of all entries") {
  uint64_t seed = test::TestSeed(555);
  util::Random rnd(seed);
  const Comparator* cmp = GetInternalKeyComparator();
  std::vector<std::vector<Entry>> parts(5);
  std::vector<Entry> all;
  // 40 user keys, each written several times across children (unique
  // sequences, so every internal key is distinct).
  for (SequenceNumber seq = 1; seq <= 3000; seq++) {
    std::string user_key = "user" + std::to_string(rnd.Uniform(40));
    ValueType t = rnd.Uniform(6) == 0 ? kTypeDeletion : kTypeValue;
    Entry e{IKey(user_key, seq, t), "v" + std::to_string(seq)};
    size_t child = rnd.Uniform(5);
    parts[child].push_back(e);
    all.push_back(e);
  }
  std::sort(all.begin(), all.end(),
            [cmp](const Entry& a, const Entry& b) { return cmp->Compare(a.first, b.first) < 0; });
  std::vector<std::unique_ptr<Iterator>> children;
  for (auto& p : parts) children.push_back(Child(p, cmp));
  auto it = NewMergingIterator(cmp, std::move(children));

  it->SeekToFirst();
  std::vector<Entry> got = Drain(it.get());
  REQUIRE(got.size() == all.size());
  CHECK(got == all);
  CHECK(it->status().ok());

  // Seek to random internal keys (some exact, some between entries), then
  // a few steps: the same as the sorted list from its lower bound.
  for (int i = 0; i < 500; i++) {
    std::string target = rnd.Uniform(2) == 0 ? all[rnd.Uniform(all.size())].first
                                             : IKey("user" + std::to_string(rnd.Uniform(45)),
                                                    rnd.Uniform(3100), kValueTypeForSeek);
    auto lb = std::lower_bound(
        all.begin(), all.end(), target,
        [cmp](const Entry& e, const std::string& t) { return cmp->Compare(e.first, t) < 0; });
    it->Seek(target);
    for (int step = 0; step < 5; step++, ++lb) {
      if (lb == all.end()) {
        CHECK(!it->Valid());
        break;
      }
      REQUIRE(it->Valid());
      CHECK(it->key() == lb->first);
      CHECK(it->value() == lb->second);
      it->Next();
    }
  }
  it->Seek(IKey("zzz", kMaxSequenceNumber, kValueTypeForSeek));
  CHECK(!it->Valid());
  it->Seek(IKey("", kMaxSequenceNumber, kValueTypeForSeek));
  REQUIRE(it->Valid());
  CHECK(it->key() == all.front().first);
}

TEST_CASE("merging iterator: equal keys are all yielded, in the order of the children") {
  const Comparator* cmp = BytewiseComparator();
  std::vector<std::unique_ptr<Iterator>> children;
  children.push_back(Child({{"b", "0"}, {"d", "0"}}, cmp));
  children.push_back(Child({{"a", "1"}, {"b", "1"}}, cmp));
  children.push_back(Child({{"b", "2"}, {"c", "2"}, {"d", "2"}}, cmp));
  auto it = NewMergingIterator(cmp, std::move(children));
  it->SeekToFirst();
  std::vector<Entry> want = {{"a", "1"}, {"b", "0"}, {"b", "1"}, {"b", "2"},
                             {"c", "2"}, {"d", "0"}, {"d", "2"}};
  CHECK(Drain(it.get()) == want);
  it->Seek("b");
  want.erase(want.begin());
  CHECK(Drain(it.get()) == want);
}

TEST_CASE("merging iterator: an empty child is skipped") {
  const Comparator* cmp = BytewiseComparator();
  std::vector<std::unique_ptr<Iterator>> children;
  children.push_back(Child({}, cmp));
  children.push_back(Child({{"a", "1"}, {"c", "1"}}, cmp));
  children.push_back(Child({}, cmp));
  children.push_back(Child({{"b", "2"}}, cmp));
  auto it = NewMergingIterator(cmp, std::move(children));
  it->SeekToFirst();
  CHECK(Drain(it.get()) == std::vector<Entry>{{"a", "1"}, {"b", "2"}, {"c", "1"}});
  it->Seek("bb");
  CHECK(Drain(it.get()) == std::vector<Entry>{{"c", "1"}});
  CHECK(it->status().ok());
}

TEST_CASE("merging iterator: all-empty children and no children are never valid") {
  const Comparator* cmp = BytewiseComparator();
  std::vector<std::unique_ptr<Iterator>> children;
  for (int i = 0; i < 3; i++) children.push_back(Child({}, cmp));
  auto it = NewMergingIterator(cmp, std::move(children));
  CHECK(!it->Valid());
  it->SeekToFirst();
  CHECK(!it->Valid());
  it->Seek("a");
  CHECK(!it->Valid());
  CHECK(it->status().ok());

  auto none = NewMergingIterator(cmp, {});
  CHECK(!none->Valid());
  none->SeekToFirst();
  CHECK(!none->Valid());
  none->Seek("a");
  CHECK(!none->Valid());
  CHECK(none->status().ok());
}

TEST_CASE("merging iterator: a single child is passed through") {
  const Comparator* cmp = BytewiseComparator();
  std::vector<std::unique_ptr<Iterator>> children;
  children.push_back(Child({{"x", "1"}, {"y", "2"}}, cmp));
  auto it = NewMergingIterator(cmp, std::move(children));
  it->SeekToFirst();
  CHECK(Drain(it.get()) == std::vector<Entry>{{"x", "1"}, {"y", "2"}});
}

TEST_CASE("merging iterator: a child that fails mid-way stops the merge and surfaces its status") {
  const Comparator* cmp = BytewiseComparator();
  std::vector<std::unique_ptr<Iterator>> children;
  children.push_back(Child({{"a", "0"}, {"d", "0"}, {"g", "0"}}, cmp));
  // Fails when moving to its third entry ("f").
  children.push_back(Child({{"b", "1"}, {"e", "1"}, {"f", "1"}}, cmp, 2, "table 7 offset 4096"));
  auto it = NewMergingIterator(cmp, std::move(children));
  it->SeekToFirst();
  std::vector<Entry> got = Drain(it.get());
  // Everything before the failure, in order, and nothing after it.
  CHECK(got == std::vector<Entry>{{"a", "0"}, {"b", "1"}, {"d", "0"}, {"e", "1"}});
  CHECK(!it->Valid());
  util::Status s = it->status();
  CHECK(s.IsCorruption());
  CHECK(s.message() == "table 7 offset 4096");
}

TEST_CASE("merging iterator: a child failing on Seek leaves the merge invalid; first error wins") {
  const Comparator* cmp = BytewiseComparator();
  std::vector<std::unique_ptr<Iterator>> children;
  children.push_back(Child({{"a", "0"}}, cmp));
  children.push_back(Child({{"b", "1"}}, cmp, 0, "first failure"));
  children.push_back(Child({{"c", "2"}}, cmp, 0, "second failure"));
  auto it = NewMergingIterator(cmp, std::move(children));
  it->SeekToFirst();
  CHECK(!it->Valid());
  CHECK(it->status().message() == "first failure");
  it->Seek("a");
  CHECK(!it->Valid());
  CHECK(it->status().IsCorruption());
}

TEST_CASE("merging iterator: over memtable iterators it yields every version of every key") {
  const InternalKeyComparator* cmp = GetInternalKeyComparator();
  MemTable older(cmp), newer(cmp);
  older.Add(1, kTypeValue, "a", "a1");
  older.Add(2, kTypeValue, "b", "b2");
  older.Add(3, kTypeValue, "c", "c3");
  newer.Add(4, kTypeDeletion, "b", "");
  newer.Add(5, kTypeValue, "a", "a5");
  newer.Add(6, kTypeValue, "d", "d6");
  std::vector<std::unique_ptr<Iterator>> children;
  children.push_back(newer.NewIterator());
  children.push_back(older.NewIterator());
  auto it = NewMergingIterator(cmp, std::move(children));
  it->SeekToFirst();
  std::vector<Entry> want = {
      {IKey("a", 5), "a5"}, {IKey("a", 1), "a1"}, {IKey("b", 4, kTypeDeletion), ""},
      {IKey("b", 2), "b2"}, {IKey("c", 3), "c3"}, {IKey("d", 6), "d6"}};
  CHECK(Drain(it.get()) == want);
  it->Seek(IKey("b", 3, kValueTypeForSeek));
  REQUIRE(it->Valid());
  CHECK(it->key() == IKey("b", 2));
}

}  // namespace
}  // namespace kv::storage
