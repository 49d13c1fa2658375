#include "storage/merging_iterator.h"

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

namespace kv::storage {

namespace {

class EmptyIterator final : public Iterator {
 public:
  bool Valid() const override { return false; }
  void Seek(std::string_view) override {}
  void SeekToFirst() override {}
  void Next() override { assert(false); }
  std::string_view key() const override {
    assert(false);
    return {};
  }
  std::string_view value() const override {
    assert(false);
    return {};
  }
};

// A binary min-heap of the valid children, keyed by (current key, child
// index). The top is the merged iterator's position. Each heap item caches
// its child's key() so sifting costs no virtual calls besides Compare; the
// cached view stays valid because a child moves only when it is the top,
// and then its item is refreshed.
class MergingIterator final : public Iterator {
 public:
  MergingIterator(const Comparator* cmp, std::vector<std::unique_ptr<Iterator>> children)
      : cmp_(cmp), children_(std::move(children)) {
    heap_.reserve(children_.size());
  }

  bool Valid() const override { return !heap_.empty(); }

  void SeekToFirst() override {
    for (auto& c : children_) c->SeekToFirst();
    Rebuild();
  }

  void Seek(std::string_view target) override {
    for (auto& c : children_) c->Seek(target);
    Rebuild();
  }

  void Next() override {
    assert(Valid());
    Item& top = heap_[0];
    Iterator* child = children_[top.child].get();
    child->Next();
    if (child->Valid()) {
      top.key = child->key();
    } else if (!child->status().ok()) {
      heap_.clear();  // see the header: an error stops the merge
      return;
    } else {
      heap_[0] = heap_.back();
      heap_.pop_back();
      if (heap_.empty()) return;
    }
    SiftDown(0);
  }

  std::string_view key() const override {
    assert(Valid());
    return heap_[0].key;
  }

  std::string_view value() const override {
    assert(Valid());
    return children_[heap_[0].child]->value();
  }

  util::Status status() const override {
    for (const auto& c : children_) {
      util::Status s = c->status();
      if (!s.ok()) return s;
    }
    return util::Status::OK();
  }

 private:
  struct Item {
    std::string_view key;
    uint32_t child;
  };

  // True if a comes out before b.
  bool Before(const Item& a, const Item& b) const {
    int r = cmp_->Compare(a.key, b.key);
    if (r != 0) return r < 0;
    return a.child < b.child;
  }

  void SiftDown(size_t i) {
    const size_t n = heap_.size();
    Item moving = heap_[i];
    while (true) {
      size_t smallest = 2 * i + 1;
      if (smallest >= n) break;
      if (smallest + 1 < n && Before(heap_[smallest + 1], heap_[smallest])) smallest++;
      if (!Before(heap_[smallest], moving)) break;
      heap_[i] = heap_[smallest];
      i = smallest;
    }
    heap_[i] = moving;
  }

  // After every child was positioned: collects the valid ones into the
  // heap, or leaves it empty if any child failed.
  void Rebuild() {
    heap_.clear();
    for (size_t i = 0; i < children_.size(); i++) {
      Iterator* c = children_[i].get();
      if (c->Valid()) {
        heap_.push_back(Item{c->key(), static_cast<uint32_t>(i)});
      } else if (!c->status().ok()) {
        heap_.clear();
        return;
      }
    }
    for (size_t i = heap_.size() / 2; i-- > 0;) SiftDown(i);
  }

  const Comparator* const cmp_;
  std::vector<std::unique_ptr<Iterator>> children_;
  std::vector<Item> heap_;
};

}  // namespace

std::unique_ptr<Iterator> NewMergingIterator(const Comparator* cmp,
                                             std::vector<std::unique_ptr<Iterator>> children) {
  if (children.empty()) return std::make_unique<EmptyIterator>();
  if (children.size() == 1) return std::move(children[0]);
  return std::make_unique<MergingIterator>(cmp, std::move(children));
}

}  // namespace kv::storage
