// Env: how the storage engine reaches the file system. Everything in
// src/storage opens, writes, syncs, renames and deletes files only through
// an Env, so tests can substitute one that drops unsynced data, tears the
// last write, fails fsync with EIO or reports a full disk.
//
// Thread safety: Env methods are thread safe. A file object is used by one
// thread at a time, except RandomAccessFile::Read, which is thread safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace kv::storage {

class SequentialFile {
 public:
  virtual ~SequentialFile() = default;
  // Reads up to n bytes into scratch; *result points at what was read
  // (empty at end of file).
  [[nodiscard]] virtual util::Status Read(size_t n, std::string_view* result, char* scratch) = 0;
  [[nodiscard]] virtual util::Status Skip(uint64_t n) = 0;
};

class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to n bytes at offset; *result may point into scratch.
  [[nodiscard]] virtual util::Status Read(uint64_t offset, size_t n, std::string_view* result,
                                          char* scratch) const = 0;
  // False when Read never uses scratch (the file is mapped: *result points
  // into the mapping, valid while this object lives); callers may then pass
  // nullptr and skip allocating one.
  virtual bool NeedsScratch() const { return true; }
};

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  [[nodiscard]] virtual util::Status Append(std::string_view data) = 0;
  // Hands buffered bytes to the OS (write(2)); no durability.
  [[nodiscard]] virtual util::Status Flush() = 0;
  // Makes everything appended durable (fdatasync).
  [[nodiscard]] virtual util::Status Sync() = 0;
  [[nodiscard]] virtual util::Status Close() = 0;
};

class Env {
 public:
  virtual ~Env() = default;
  // The real file system (POSIX). Never deleted.
  static Env* Default();

  [[nodiscard]] virtual util::Status NewSequentialFile(const std::string& path,
                                                       std::unique_ptr<SequentialFile>* out) = 0;
  [[nodiscard]] virtual util::Status NewRandomAccessFile(
      const std::string& path, std::unique_ptr<RandomAccessFile>* out) = 0;
  // The whole file mapped read-only for random point reads: Read hands out
  // the mapping's bytes (NeedsScratch() is false) and costs no system call
  // once a page is mapped. Null when this Env cannot map, the file cannot
  // be opened or is empty, or too many files are mapped: callers then use
  // NewRandomAccessFile, whose errors they report. The file must not be
  // truncated while mapped.
  virtual std::unique_ptr<RandomAccessFile> MapFile(const std::string& /*path*/) { return nullptr; }
  // Creates or truncates.
  [[nodiscard]] virtual util::Status NewWritableFile(const std::string& path,
                                                     std::unique_ptr<WritableFile>* out) = 0;
  // Opens for appending, creating if missing.
  [[nodiscard]] virtual util::Status NewAppendableFile(const std::string& path,
                                                       std::unique_ptr<WritableFile>* out) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  [[nodiscard]] virtual util::Status GetChildren(const std::string& dir,
                                                 std::vector<std::string>* names) = 0;
  [[nodiscard]] virtual util::Status RemoveFile(const std::string& path) = 0;
  [[nodiscard]] virtual util::Status CreateDir(const std::string& path) = 0;
  [[nodiscard]] virtual util::Status GetFileSize(const std::string& path, uint64_t* size) = 0;
  [[nodiscard]] virtual util::Status RenameFile(const std::string& from, const std::string& to) = 0;
  [[nodiscard]] virtual util::Status TruncateFile(const std::string& path, uint64_t size) = 0;
  // fsyncs a directory so a rename or create in it is durable.
  [[nodiscard]] virtual util::Status SyncDir(const std::string& dir) = 0;
  // Exclusive lock on a file (flock), so two processes never open one data
  // dir. *lock_fd receives a handle for UnlockFile.
  [[nodiscard]] virtual util::Status LockFile(const std::string& path, int* lock_fd) = 0;
  virtual void UnlockFile(int lock_fd) = 0;
};

}  // namespace kv::storage
