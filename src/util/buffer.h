// Buffer: a growable byte buffer with a consumed prefix, used for socket
// input (append at the end, parse from the front) and reply output. Unlike
// std::string it never zero-fills on growth and compacts only when asked.
//
// Thread safety: not thread safe; owned by one connection.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <utility>

namespace kv::util {

class Buffer {
 public:
  Buffer() = default;
  ~Buffer() { free(data_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  // Unconsumed bytes.
  const char* data() const { return data_ + start_; }
  char* mutable_data() { return data_ + start_; }
  size_t size() const { return end_ - start_; }
  bool empty() const { return end_ == start_; }
  size_t capacity() const { return cap_; }
  std::string_view view() const { return {data(), size()}; }

  // Returns a pointer to at least n writable bytes after the data; call
  // Commit with how many were written.
  char* Reserve(size_t n) {
    if (cap_ - end_ < n) Grow(n);
    return data_ + end_;
  }
  size_t writable() const { return cap_ - end_; }
  void Commit(size_t n) { end_ += n; }

  void Append(const char* p, size_t n) {
    if (cap_ - end_ < n) Grow(n);
    memcpy(data_ + end_, p, n);
    end_ += n;
  }
  void Append(std::string_view s) { Append(s.data(), s.size()); }
  void Append(char c) {
    if (cap_ == end_) Grow(1);
    data_[end_++] = c;
  }

  // Drops n bytes from the front.
  void Consume(size_t n) {
    start_ += n;
    if (start_ == end_) start_ = end_ = 0;
  }
  void Clear() { start_ = end_ = 0; }
  // Moves the unconsumed bytes to the front so Reserve has room.
  void Compact() {
    if (start_ == 0) return;
    memmove(data_, data_ + start_, end_ - start_);
    end_ -= start_;
    start_ = 0;
  }
  void Swap(Buffer& o) {
    std::swap(data_, o.data_);
    std::swap(start_, o.start_);
    std::swap(end_, o.end_);
    std::swap(cap_, o.cap_);
  }
  // Frees memory beyond `keep` bytes of capacity when the buffer is empty.
  void ShrinkIfEmpty(size_t keep) {
    if (start_ == end_ && cap_ > keep) {
      free(data_);
      data_ = nullptr;
      cap_ = start_ = end_ = 0;
    }
  }

 private:
  void Grow(size_t n) {
    if (start_ > 0 && start_ >= (end_ - start_)) {
      Compact();
      if (cap_ - end_ >= n) return;
    }
    size_t need = end_ + n;
    size_t cap = cap_ < 1024 ? 1024 : cap_;
    while (cap < need) cap *= 2;
    char* p = static_cast<char*>(realloc(data_, cap));
    if (p == nullptr) abort();  // out of memory: nothing sane to do
    data_ = p;
    cap_ = cap;
  }

  char* data_ = nullptr;
  size_t start_ = 0;
  size_t end_ = 0;
  size_t cap_ = 0;
};

}  // namespace kv::util
