// Env::Default(): the POSIX file system. Plain file descriptors opened with
// O_CLOEXEC (the server may spawn processes; they must not inherit data
// files or the LOCK), pread for random access so concurrent readers share
// one descriptor, read-only mappings on request (MapFile) for point
// lookups, and a 64 KiB user-space buffer in WritableFile so the many small
// appends of a table build become few write(2) calls.
//
// Thread safety: as env.h says. The Env's only state is the count of mapped
// files.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "storage/env.h"

namespace kv::storage {

using util::Status;

namespace {

Status PosixError(const std::string& context, int err) {
  return Status::IOError(context + ": " + std::strerror(err));
}

class PosixSequentialFile final : public SequentialFile {
 public:
  PosixSequentialFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixSequentialFile() override { ::close(fd_); }

  Status Read(size_t n, std::string_view* result, char* scratch) override {
    // Loops so a short read means end of file (or an error), never a signal.
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::read(fd_, scratch + got, n - got);
      if (r < 0) {
        if (errno == EINTR) continue;
        *result = {};
        return PosixError(path_, errno);
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    *result = std::string_view(scratch, got);
    return Status::OK();
  }

  Status Skip(uint64_t n) override {
    if (::lseek(fd_, static_cast<off_t>(n), SEEK_CUR) == static_cast<off_t>(-1)) {
      return PosixError(path_, errno);
    }
    return Status::OK();
  }

 private:
  const std::string path_;
  const int fd_;
};

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixRandomAccessFile() override { ::close(fd_); }

  Status Read(uint64_t offset, size_t n, std::string_view* result, char* scratch) const override {
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::pread(fd_, scratch + got, n - got, static_cast<off_t>(offset + got));
      if (r < 0) {
        if (errno == EINTR) continue;
        *result = {};
        return PosixError(path_, errno);
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    *result = std::string_view(scratch, got);
    return Status::OK();
  }

 private:
  const std::string path_;
  const int fd_;
};

// Mappings cost address space and a kernel VMA each; LevelDB stops at 1000
// on 64-bit hosts too. Past this, files are read with pread.
constexpr int kMaxMappedFiles = 1000;
std::atomic<int> mapped_files{0};

// A whole file mapped read-only. The caller must not truncate the file while
// it is mapped (touching pages past the new end raises SIGBUS); the storage
// engine only maps finished tables, which are never written again.
class PosixMappedFile final : public RandomAccessFile {
 public:
  PosixMappedFile(const char* base, size_t size) : base_(base), size_(size) {}
  ~PosixMappedFile() override {
    ::munmap(const_cast<char*>(base_), size_);
    mapped_files.fetch_sub(1, std::memory_order_relaxed);
  }

  Status Read(uint64_t offset, size_t n, std::string_view* result,
              char* /*scratch*/) const override {
    if (offset >= size_) {
      *result = {};
      return Status::OK();
    }
    *result = std::string_view(base_ + offset, std::min<uint64_t>(n, size_ - offset));
    return Status::OK();
  }

  bool NeedsScratch() const override { return false; }

 private:
  const char* const base_;
  const size_t size_;
};

// Maps fd's file if it is not empty and the budget allows; nullptr otherwise.
// Closes nothing: the mapping outlives the descriptor.
std::unique_ptr<RandomAccessFile> TryMap(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0 || st.st_size <= 0) return nullptr;
  if (mapped_files.fetch_add(1, std::memory_order_relaxed) >= kMaxMappedFiles) {
    mapped_files.fetch_sub(1, std::memory_order_relaxed);
    return nullptr;
  }
  const auto size = static_cast<size_t>(st.st_size);
  void* base = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    mapped_files.fetch_sub(1, std::memory_order_relaxed);
    return nullptr;
  }
  // Point lookups jump around: a fault on a page not in the page cache
  // should read that page, not the default readahead window after it.
  (void)::madvise(base, size, MADV_RANDOM);
  return std::make_unique<PosixMappedFile>(static_cast<const char*>(base), size);
}

class PosixWritableFile final : public WritableFile {
 public:
  static constexpr size_t kBufferSize = 64 * 1024;

  PosixWritableFile(std::string path, int fd)
      : path_(std::move(path)), fd_(fd), buf_(new char[kBufferSize]) {}
  ~PosixWritableFile() override {
    // Best effort, like close(2) on a FILE*: the owner who cares about
    // errors calls Close() itself.
    if (fd_ >= 0) (void)Close();
  }

  Status Append(std::string_view data) override {
    if (fd_ < 0) return Status::IOError(path_ + ": append after close");
    size_t fit = std::min(data.size(), kBufferSize - used_);
    std::memcpy(buf_.get() + used_, data.data(), fit);
    used_ += fit;
    data.remove_prefix(fit);
    if (data.empty()) return Status::OK();
    // The buffer is full and more remains: write the buffer, then either
    // buffer the rest or, if it is large, write it straight from the caller.
    Status s = FlushBuffer();
    if (!s.ok()) return s;
    if (data.size() < kBufferSize) {
      std::memcpy(buf_.get(), data.data(), data.size());
      used_ = data.size();
      return Status::OK();
    }
    return WriteAll(data.data(), data.size());
  }

  Status Flush() override {
    if (fd_ < 0) return Status::IOError(path_ + ": flush after close");
    return FlushBuffer();
  }

  Status Sync() override {
    if (fd_ < 0) return Status::IOError(path_ + ": sync after close");
    Status s = FlushBuffer();
    if (!s.ok()) return s;
    if (::fdatasync(fd_) != 0) return PosixError(path_, errno);
    return Status::OK();
  }

  Status Close() override {
    if (fd_ < 0) return Status::OK();
    Status s = FlushBuffer();
    if (::close(fd_) != 0 && s.ok()) s = PosixError(path_, errno);
    fd_ = -1;
    return s;
  }

 private:
  Status FlushBuffer() {
    Status s = WriteAll(buf_.get(), used_);
    used_ = 0;  // on error the bytes are lost either way; the file is suspect
    return s;
  }

  Status WriteAll(const char* p, size_t n) {
    while (n > 0) {
      ssize_t r = ::write(fd_, p, n);
      if (r < 0) {
        if (errno == EINTR) continue;
        return PosixError(path_, errno);
      }
      p += r;
      n -= static_cast<size_t>(r);
    }
    return Status::OK();
  }

  const std::string path_;
  int fd_;
  std::unique_ptr<char[]> buf_;
  size_t used_ = 0;
};

int OpenRetry(const char* path, int flags, mode_t mode = 0644) {
  while (true) {
    int fd = ::open(path, flags | O_CLOEXEC, mode);
    if (fd >= 0 || errno != EINTR) return fd;
  }
}

class PosixEnv final : public Env {
 public:
  Status NewSequentialFile(const std::string& path, std::unique_ptr<SequentialFile>* out) override {
    int fd = OpenRetry(path.c_str(), O_RDONLY);
    if (fd < 0) return OpenError(path, errno);
    *out = std::make_unique<PosixSequentialFile>(path, fd);
    return Status::OK();
  }

  Status NewRandomAccessFile(const std::string& path,
                             std::unique_ptr<RandomAccessFile>* out) override {
    int fd = OpenRetry(path.c_str(), O_RDONLY);
    if (fd < 0) return OpenError(path, errno);
    *out = std::make_unique<PosixRandomAccessFile>(path, fd);
    return Status::OK();
  }

  std::unique_ptr<RandomAccessFile> MapFile(const std::string& path) override {
    int fd = OpenRetry(path.c_str(), O_RDONLY);
    if (fd < 0) return nullptr;
    auto mapped = TryMap(fd);
    ::close(fd);
    return mapped;
  }

  Status NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* out) override {
    int fd = OpenRetry(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC);
    if (fd < 0) return PosixError(path, errno);
    *out = std::make_unique<PosixWritableFile>(path, fd);
    return Status::OK();
  }

  Status NewAppendableFile(const std::string& path, std::unique_ptr<WritableFile>* out) override {
    int fd = OpenRetry(path.c_str(), O_WRONLY | O_CREAT | O_APPEND);
    if (fd < 0) return PosixError(path, errno);
    *out = std::make_unique<PosixWritableFile>(path, fd);
    return Status::OK();
  }

  bool FileExists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

  Status GetChildren(const std::string& dir, std::vector<std::string>* names) override {
    names->clear();
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return OpenError(dir, errno);
    while (true) {
      errno = 0;
      struct dirent* e = ::readdir(d);
      if (e == nullptr) {
        int err = errno;
        ::closedir(d);
        if (err != 0) return PosixError(dir, err);
        return Status::OK();
      }
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      names->emplace_back(e->d_name);
    }
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return OpenError(path, errno);
    return Status::OK();
  }

  Status CreateDir(const std::string& path) override {
    if (::mkdir(path.c_str(), 0755) == 0) return Status::OK();
    int err = errno;
    struct stat st;
    if (err == EEXIST && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      return Status::OK();
    }
    return PosixError(path, err);
  }

  Status GetFileSize(const std::string& path, uint64_t* size) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      *size = 0;
      return OpenError(path, errno);
    }
    *size = static_cast<uint64_t>(st.st_size);
    return Status::OK();
  }

  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return PosixError(from + " -> " + to, errno);
    return Status::OK();
  }

  Status TruncateFile(const std::string& path, uint64_t size) override {
    int fd = OpenRetry(path.c_str(), O_WRONLY);
    if (fd < 0) return OpenError(path, errno);
    Status s;
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
      s = PosixError(path, errno);
    } else if (::fdatasync(fd) != 0) {
      // The truncation is part of recovery (cutting a torn WAL tail); make
      // it durable before new records are appended after it.
      s = PosixError(path, errno);
    }
    ::close(fd);
    return s;
  }

  Status SyncDir(const std::string& dir) override {
    int fd = OpenRetry(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return PosixError(dir, errno);
    Status s;
    if (::fsync(fd) != 0) s = PosixError(dir, errno);
    ::close(fd);
    return s;
  }

  Status LockFile(const std::string& path, int* lock_fd) override {
    *lock_fd = -1;
    int fd = OpenRetry(path.c_str(), O_RDWR | O_CREAT);
    if (fd < 0) return PosixError(path, errno);
    // flock locks belong to the open file description, so a second open of
    // the same LOCK conflicts even inside one process.
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return Status::IOError(path +
                               ": already locked (is another kv-server using this data "
                               "directory?)");
      }
      return PosixError(path, err);
    }
    *lock_fd = fd;
    return Status::OK();
  }

  void UnlockFile(int lock_fd) override {
    if (lock_fd < 0) return;
    (void)::flock(lock_fd, LOCK_UN);
    ::close(lock_fd);
  }

 private:
  // ENOENT becomes NotFound so callers can tell "missing" from "broken".
  static Status OpenError(const std::string& path, int err) {
    if (err == ENOENT) return Status::NotFound(path + ": " + std::strerror(err));
    return PosixError(path, err);
  }
};

}  // namespace

Env* Env::Default() {
  // Never destroyed: files may still be closed during static destruction.
  static PosixEnv* env = new PosixEnv;
  return env;
}

}  // namespace kv::storage
