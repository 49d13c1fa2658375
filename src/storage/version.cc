#include "storage/version.h"

#include <algorithm>

namespace kv::storage {

namespace {

class LevelIterator final : public Iterator {
 public:
  LevelIterator(std::vector<std::shared_ptr<LiveFile>> files, TableCache* tables)
      : files_(std::move(files)), tables_(tables) {}

  bool Valid() const override { return current_ && current_->Valid(); }
  void SeekToFirst() override {
    index_ = 0;
    Open();
    if (current_) current_->SeekToFirst();
    SkipEmpty();
  }
  void Seek(std::string_view target) override {
    const InternalKeyComparator* cmp = GetInternalKeyComparator();
    // First file whose largest key is >= target.
    auto it = std::lower_bound(files_.begin(), files_.end(), target,
                               [cmp](const std::shared_ptr<LiveFile>& f, std::string_view t) {
                                 return cmp->Compare(f->largest, t) < 0;
                               });
    index_ = static_cast<size_t>(it - files_.begin());
    Open();
    if (current_) current_->Seek(target);
    SkipEmpty();
  }
  void Next() override {
    current_->Next();
    SkipEmpty();
  }
  std::string_view key() const override { return current_->key(); }
  std::string_view value() const override { return current_->value(); }
  util::Status status() const override {
    if (!status_.ok()) return status_;
    return current_ ? current_->status() : util::Status::OK();
  }

 private:
  void Open() {
    current_.reset();
    if (index_ < files_.size()) {
      current_ = tables_->NewIterator(files_[index_]->number, files_[index_]->file_size);
    }
  }
  void SkipEmpty() {
    while (current_ && !current_->Valid()) {
      if (!current_->status().ok()) {
        status_ = current_->status();
        current_.reset();
        return;
      }
      index_++;
      Open();
      if (current_) current_->SeekToFirst();
    }
  }

  std::vector<std::shared_ptr<LiveFile>> files_;
  TableCache* const tables_;
  size_t index_ = 0;
  std::unique_ptr<Iterator> current_;
  util::Status status_;
};

}  // namespace

std::unique_ptr<Iterator> NewLevelIterator(std::vector<std::shared_ptr<LiveFile>> files,
                                           TableCache* tables) {
  return std::make_unique<LevelIterator>(std::move(files), tables);
}

}  // namespace kv::storage
