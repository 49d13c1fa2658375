// Persistence: drives the LSM's write-ahead log from the event loop with
// Redis's appendfsync semantics. Once per loop iteration the WAL's buffered
// records are written to the OS (like Redis's AOF in beforeSleep). With
// `always` the replies of that iteration are held until a worker thread has
// fdatasync'ed the WAL past every write they may have seen; one fsync
// covers everything written before it (group commit). With `everysec` a
// worker fsyncs once a second; with `no` the OS decides. The loop thread
// never calls fsync.
//
// Thread safety: loop thread only (the worker touches only the engine's
// SyncWal, which is safe to run beside the loop).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "storage/lsm_engine.h"

namespace kv::server {

enum class FsyncMode { kAlways, kEverySec, kNo };
FsyncMode ParseFsyncMode(const std::string& s);

struct PersistenceStats {
  uint64_t fsyncs = 0;
  uint64_t fsync_errors = 0;
  uint64_t write_errors = 0;
  int64_t last_fsync_us = 0;
  int64_t max_fsync_us = 0;
  std::string last_error;
};

class Persistence {
 public:
  // `on_synced` runs on the loop after each completed fsync (to release
  // held replies); `on_background_done` after each flush or compaction
  // (to resume clients stalled on writes).
  Persistence(uv_loop_t* loop, storage::LsmEngine* engine, FsyncMode mode,
              std::function<void()> on_synced, std::function<void()> on_background_done);
  ~Persistence();
  Persistence(const Persistence&) = delete;
  Persistence& operator=(const Persistence&) = delete;

  void set_mode(FsyncMode m) { mode_ = m; }
  FsyncMode mode() const { return mode_; }

  // Writes buffered WAL records to the OS. Returns false (and counts) on a
  // write error, in which case replies must not claim success.
  bool FlushToOs();
  // True if replies produced so far must wait for an fsync (always mode
  // with writes not yet durable). Starts that fsync if none is running.
  bool HoldReplies();
  // Calls `fn` (on the loop) once everything written so far is on disk,
  // whatever the fsync mode: now if it already is, else after an fsync
  // started for it. A failed fsync calls it too, after the error is logged
  // and counted (the caller cannot do better than the WAL can).
  void WhenDurable(std::function<void()> fn);
  // Thread-safe hook for the engine's background thread.
  void NotifyBackgroundDone();
  // Stops timers and waits for an in-flight fsync (shutdown).
  void Close();

  const PersistenceStats& stats() const { return stats_; }
  // An fsync failed in always mode: acknowledged writes can no longer be
  // promised durable. Like Redis, the server then shuts down.
  bool fatal() const { return fatal_; }
  bool sync_in_flight() const { return sync_in_flight_; }

 private:
  void StartSync();
  static void SyncWork(uv_work_t* req);
  static void SyncDone(uv_work_t* req, int status);

  uv_loop_t* loop_;
  storage::LsmEngine* engine_;
  FsyncMode mode_;
  std::function<void()> on_synced_;
  std::function<void()> on_background_done_;
  // WhenDurable callbacks with the sequence each waits for.
  std::vector<std::pair<storage::SequenceNumber, std::function<void()>>> durable_waiters_;
  uv_work_t work_{};
  bool sync_in_flight_ = false;
  util::Status work_status_;
  int64_t work_us_ = 0;
  uv_timer_t* timer_ = nullptr;
  uv_async_t* async_ = nullptr;
  PersistenceStats stats_;
  bool fatal_ = false;
};

}  // namespace kv::server
