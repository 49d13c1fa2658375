// Helpers for the SSTable tests: files over a std::string (a WritableFile
// that appends to it, a RandomAccessFile that reads it and counts reads),
// internal key construction, and a temp dir removed at scope exit.
//
// Thread safety: StringSource::Read is thread safe (the string is not
// modified while sources read it); everything else is single-threaded.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "storage/dbformat.h"
#include "storage/env.h"
#include "util/status.h"

namespace kv::storage::test {

class StringSink final : public WritableFile {
 public:
  explicit StringSink(std::string* dst) : dst_(dst) {}
  util::Status Append(std::string_view data) override {
    dst_->append(data.data(), data.size());
    return util::Status::OK();
  }
  util::Status Flush() override { return util::Status::OK(); }
  util::Status Sync() override { return util::Status::OK(); }
  util::Status Close() override { return util::Status::OK(); }

 private:
  std::string* dst_;
};

class StringSource final : public RandomAccessFile {
 public:
  // Reads from *src, which must outlive the source and not change while it
  // is read.
  explicit StringSource(const std::string* src, std::atomic<uint64_t>* reads = nullptr)
      : src_(src), reads_(reads) {}
  util::Status Read(uint64_t offset, size_t n, std::string_view* result,
                    char* scratch) const override {
    if (reads_ != nullptr) reads_->fetch_add(1);
    if (offset > src_->size()) {
      *result = {};
      return util::Status::OK();
    }
    size_t avail = std::min<uint64_t>(n, src_->size() - offset);
    memcpy(scratch, src_->data() + offset, avail);
    *result = std::string_view(scratch, avail);
    return util::Status::OK();
  }

 private:
  const std::string* src_;
  std::atomic<uint64_t>* reads_;
};

inline std::string IKey(std::string_view user, SequenceNumber seq, ValueType type = kTypeValue) {
  std::string k;
  AppendInternalKey(&k, user, seq, type);
  return k;
}

// The seek target for "newest version of `user` visible at `seq`".
inline std::string LookupKey(std::string_view user, SequenceNumber seq) {
  return IKey(user, seq, kValueTypeForSeek);
}

// A fresh directory under $TMPDIR (or /tmp), removed with its contents when
// the object goes out of scope.
class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base ? base : "/tmp") + "/kv-table-XXXXXX";
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace kv::storage::test
