// FaultInjectionEnv: a test Env that wraps another (normally Env::Default()
// on a temporary directory) and injects the failures a storage engine must
// survive: power loss (unsynced bytes vanish), a torn last write (part of
// the unsynced tail survives, possibly as zeros), fsync failing with EIO and
// a full disk (ENOSPC part-way through an append).
//
// It tracks, for every file written through it, how many bytes were
// appended and how many of those a successful Sync made durable. Metadata
// operations (create, rename, remove, truncate) pass through and count as
// durable at once: directory entries lost by a crash are not simulated.
//
// Thread safety: Env methods and the fault controls are thread safe. A crash
// simulation (DropUnsyncedData, TearLastWrite) must not run while another
// thread is inside a file method.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "storage/env.h"
#include "util/status.h"

namespace kv::storage {

class FaultInjectionEnv final : public Env {
 public:
  // `base` is borrowed and must outlive this Env. Files opened through this
  // Env must be destroyed before it.
  explicit FaultInjectionEnv(Env* base);
  ~FaultInjectionEnv() override;

  FaultInjectionEnv(const FaultInjectionEnv&) = delete;
  FaultInjectionEnv& operator=(const FaultInjectionEnv&) = delete;

  // ---- crash simulation ----------------------------------------------------

  // Power loss: truncates every file written through this Env to the bytes
  // its last successful Sync covered. Files still open become dead: their
  // methods return IOError from then on (the process that held them is
  // gone). Files opened afterwards work normally (the restart). Returns the
  // first error of the underlying Env, if any.
  [[nodiscard]] util::Status DropUnsyncedData();

  // Power loss that tears the last write: like DropUnsyncedData, but each
  // file keeps a random prefix of its unsynced tail (length uniform in
  // [0, unsynced], drawn from `seed`, so a run replays). With `zero_fill`
  // the lost part becomes zeros instead of being cut off, so the file keeps
  // its length: what a crash leaves when the file size reached the disk but
  // its data did not.
  [[nodiscard]] util::Status TearLastWrite(uint64_t seed, bool zero_fill = false);

  // ---- fault controls ------------------------------------------------------

  // The next `n` WritableFile::Sync calls fail with IOError("<path>: EIO
  // ...") without syncing; their bytes stay unsynced.
  void FailNextSyncs(int n = 1);
  // The next `n` SyncDir calls fail the same way.
  void FailNextDirSyncs(int n = 1);
  // Disk full: after `bytes` more bytes are appended (over all files), an
  // Append writes only what still fits and fails with IOError("<path>: No
  // space left on device (ENOSPC ...)"); every later Append fails the same
  // way until ClearAppendLimit().
  void FailAppendsAfter(uint64_t bytes);
  void ClearAppendLimit();

  // ---- observation ---------------------------------------------------------

  // Bytes appended to / synced in `path` through this Env; 0 if untracked.
  uint64_t WrittenBytes(const std::string& path) const;
  uint64_t SyncedBytes(const std::string& path) const;
  // Successful WritableFile::Sync and SyncDir calls so far.
  uint64_t sync_count() const;
  uint64_t dir_sync_count() const;

  // ---- Env -----------------------------------------------------------------

  [[nodiscard]] util::Status NewSequentialFile(const std::string& path,
                                               std::unique_ptr<SequentialFile>* out) override;
  [[nodiscard]] util::Status NewRandomAccessFile(const std::string& path,
                                                 std::unique_ptr<RandomAccessFile>* out) override;
  [[nodiscard]] util::Status NewWritableFile(const std::string& path,
                                             std::unique_ptr<WritableFile>* out) override;
  [[nodiscard]] util::Status NewAppendableFile(const std::string& path,
                                               std::unique_ptr<WritableFile>* out) override;
  bool FileExists(const std::string& path) override;
  [[nodiscard]] util::Status GetChildren(const std::string& dir,
                                         std::vector<std::string>* names) override;
  [[nodiscard]] util::Status RemoveFile(const std::string& path) override;
  [[nodiscard]] util::Status CreateDir(const std::string& path) override;
  [[nodiscard]] util::Status GetFileSize(const std::string& path, uint64_t* size) override;
  [[nodiscard]] util::Status RenameFile(const std::string& from, const std::string& to) override;
  [[nodiscard]] util::Status TruncateFile(const std::string& path, uint64_t size) override;
  [[nodiscard]] util::Status SyncDir(const std::string& dir) override;
  [[nodiscard]] util::Status LockFile(const std::string& path, int* lock_fd) override;
  void UnlockFile(int lock_fd) override;

 private:
  class File;
  friend class File;

  struct FileState {
    std::string path;  // current name (follows renames)
    uint64_t written = 0;
    uint64_t synced = 0;
  };

  util::Status OpenWritable(const std::string& path, bool append,
                            std::unique_ptr<WritableFile>* out);
  util::Status Crash(uint64_t seed, bool tear, bool zero_fill);

  Env* const base_;
  // Guards everything below and every File's state. Held across a File's
  // calls into the base Env: this is a test Env, simplicity beats
  // concurrency.
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<FileState>> files_;  // by current path
  std::set<File*> open_;
  int fail_syncs_ = 0;
  int fail_dir_syncs_ = 0;
  bool append_limited_ = false;
  uint64_t append_budget_ = 0;
  uint64_t sync_count_ = 0;
  uint64_t dir_sync_count_ = 0;
};

}  // namespace kv::storage
