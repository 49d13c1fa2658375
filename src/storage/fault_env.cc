#include "storage/fault_env.h"

#include <utility>

#include "util/random.h"

namespace kv::storage {

using util::Status;

// A WritableFile of the base Env plus the bookkeeping for crash simulation.
class FaultInjectionEnv::File final : public WritableFile {
 public:
  File(FaultInjectionEnv* env, std::shared_ptr<FileState> state, std::unique_ptr<WritableFile> base)
      : env_(env), state_(std::move(state)), base_(std::move(base)) {}

  ~File() override {
    std::lock_guard<std::mutex> l(env_->mu_);
    env_->open_.erase(this);
    base_.reset();  // flushes and closes, still under the lock
  }

  Status Append(std::string_view data) override {
    std::lock_guard<std::mutex> l(env_->mu_);
    if (base_ == nullptr) return Dead();
    size_t allowed = data.size();
    Status full;
    if (env_->append_limited_) {
      if (env_->append_budget_ < allowed) {
        allowed = static_cast<size_t>(env_->append_budget_);
        full = Status::IOError(state_->path +
                               ": No space left on device (ENOSPC injected by FaultInjectionEnv)");
      }
      env_->append_budget_ -= allowed;
    }
    if (allowed > 0) {
      Status s = base_->Append(data.substr(0, allowed));
      if (!s.ok()) return s;
      state_->written += allowed;
    }
    return full;
  }

  Status Flush() override {
    std::lock_guard<std::mutex> l(env_->mu_);
    if (base_ == nullptr) return Dead();
    return base_->Flush();
  }

  Status Sync() override {
    std::lock_guard<std::mutex> l(env_->mu_);
    if (base_ == nullptr) return Dead();
    if (env_->fail_syncs_ > 0) {
      env_->fail_syncs_--;
      return Status::IOError(state_->path + ": EIO (fsync failure injected by FaultInjectionEnv)");
    }
    Status s = base_->Sync();
    if (s.ok()) {
      state_->synced = state_->written;
      env_->sync_count_++;
    }
    return s;
  }

  Status Close() override {
    std::lock_guard<std::mutex> l(env_->mu_);
    if (base_ == nullptr) return Dead();
    return base_->Close();
  }

  // REQUIRES: env_->mu_ held. The process holding this file "died": close
  // the base file (its buffered bytes reach the file and are then cut off
  // like any unsynced bytes) and fail every later call.
  void KillLocked() {
    if (base_ != nullptr) (void)base_->Close();
    base_.reset();
  }

 private:
  Status Dead() const {
    return Status::IOError(state_->path + ": file system crashed (FaultInjectionEnv)");
  }

  FaultInjectionEnv* const env_;
  const std::shared_ptr<FileState> state_;
  std::unique_ptr<WritableFile> base_;  // null once dead
};

FaultInjectionEnv::FaultInjectionEnv(Env* base) : base_(base) {}

// Files must not outlive their Env; by then open_ is empty.
FaultInjectionEnv::~FaultInjectionEnv() = default;

Status FaultInjectionEnv::DropUnsyncedData() { return Crash(0, /*tear=*/false, false); }

Status FaultInjectionEnv::TearLastWrite(uint64_t seed, bool zero_fill) {
  return Crash(seed, /*tear=*/true, zero_fill);
}

Status FaultInjectionEnv::Crash(uint64_t seed, bool tear, bool zero_fill) {
  std::lock_guard<std::mutex> l(mu_);
  for (File* f : open_) f->KillLocked();
  util::Random rnd(seed);
  Status first;
  // std::map iterates in path order, so a seed replays the same tears.
  for (auto& [path, st] : files_) {
    if (st->written > st->synced) {
      uint64_t keep = st->synced;
      if (tear) keep += rnd.Uniform(st->written - st->synced + 1);
      Status s = base_->TruncateFile(path, keep);
      if (s.ok() && zero_fill && keep < st->written) {
        std::unique_ptr<WritableFile> f;
        s = base_->NewAppendableFile(path, &f);
        if (s.ok()) s = f->Append(std::string(st->written - keep, '\0'));
        if (s.ok()) s = f->Close();
      }
      if (!s.ok() && first.ok()) first = s;
      if (!zero_fill) st->written = keep;
    }
    // After the "restart" whatever is on disk is what there is.
    st->synced = st->written;
  }
  return first;
}

void FaultInjectionEnv::FailNextSyncs(int n) {
  std::lock_guard<std::mutex> l(mu_);
  fail_syncs_ = n;
}

void FaultInjectionEnv::FailNextDirSyncs(int n) {
  std::lock_guard<std::mutex> l(mu_);
  fail_dir_syncs_ = n;
}

void FaultInjectionEnv::FailAppendsAfter(uint64_t bytes) {
  std::lock_guard<std::mutex> l(mu_);
  append_limited_ = true;
  append_budget_ = bytes;
}

void FaultInjectionEnv::ClearAppendLimit() {
  std::lock_guard<std::mutex> l(mu_);
  append_limited_ = false;
  append_budget_ = 0;
}

uint64_t FaultInjectionEnv::WrittenBytes(const std::string& path) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = files_.find(path);
  return it == files_.end() ? 0 : it->second->written;
}

uint64_t FaultInjectionEnv::SyncedBytes(const std::string& path) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = files_.find(path);
  return it == files_.end() ? 0 : it->second->synced;
}

uint64_t FaultInjectionEnv::sync_count() const {
  std::lock_guard<std::mutex> l(mu_);
  return sync_count_;
}

uint64_t FaultInjectionEnv::dir_sync_count() const {
  std::lock_guard<std::mutex> l(mu_);
  return dir_sync_count_;
}

Status FaultInjectionEnv::OpenWritable(const std::string& path, bool append,
                                       std::unique_ptr<WritableFile>* out) {
  std::lock_guard<std::mutex> l(mu_);
  std::unique_ptr<WritableFile> base;
  Status s = append ? base_->NewAppendableFile(path, &base) : base_->NewWritableFile(path, &base);
  if (!s.ok()) return s;
  uint64_t size = 0;
  if (append) {
    s = base_->GetFileSize(path, &size);
    if (!s.ok()) return s;
  }
  std::shared_ptr<FileState>& st = files_[path];
  if (st == nullptr || !append) {
    // A new file, or one truncated by opening: what was there before counts
    // as durable (it was written before this Env knew it, or is gone).
    st = std::make_shared<FileState>();
    st->path = path;
    st->synced = size;
  }
  st->written = size;
  if (st->synced > size) st->synced = size;
  auto f = std::make_unique<File>(this, st, std::move(base));
  open_.insert(f.get());
  *out = std::move(f);
  return Status::OK();
}

Status FaultInjectionEnv::NewSequentialFile(const std::string& path,
                                            std::unique_ptr<SequentialFile>* out) {
  return base_->NewSequentialFile(path, out);
}

Status FaultInjectionEnv::NewRandomAccessFile(const std::string& path,
                                              std::unique_ptr<RandomAccessFile>* out) {
  return base_->NewRandomAccessFile(path, out);
}

Status FaultInjectionEnv::NewWritableFile(const std::string& path,
                                          std::unique_ptr<WritableFile>* out) {
  return OpenWritable(path, /*append=*/false, out);
}

Status FaultInjectionEnv::NewAppendableFile(const std::string& path,
                                            std::unique_ptr<WritableFile>* out) {
  return OpenWritable(path, /*append=*/true, out);
}

bool FaultInjectionEnv::FileExists(const std::string& path) { return base_->FileExists(path); }

Status FaultInjectionEnv::GetChildren(const std::string& dir, std::vector<std::string>* names) {
  return base_->GetChildren(dir, names);
}

Status FaultInjectionEnv::RemoveFile(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  Status s = base_->RemoveFile(path);
  if (s.ok()) files_.erase(path);
  return s;
}

Status FaultInjectionEnv::CreateDir(const std::string& path) { return base_->CreateDir(path); }

Status FaultInjectionEnv::GetFileSize(const std::string& path, uint64_t* size) {
  return base_->GetFileSize(path, size);
}

Status FaultInjectionEnv::RenameFile(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> l(mu_);
  Status s = base_->RenameFile(from, to);
  if (!s.ok()) return s;
  files_.erase(to);
  auto node = files_.extract(from);
  if (!node.empty()) {
    node.key() = to;
    node.mapped()->path = to;
    files_.insert(std::move(node));
  }
  return s;
}

Status FaultInjectionEnv::TruncateFile(const std::string& path, uint64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  Status s = base_->TruncateFile(path, size);
  if (!s.ok()) return s;
  auto it = files_.find(path);
  if (it != files_.end()) {
    it->second->written = size;
    if (it->second->synced > size) it->second->synced = size;
  }
  return s;
}

Status FaultInjectionEnv::SyncDir(const std::string& dir) {
  std::lock_guard<std::mutex> l(mu_);
  if (fail_dir_syncs_ > 0) {
    fail_dir_syncs_--;
    return Status::IOError(dir + ": EIO (directory fsync failure injected by FaultInjectionEnv)");
  }
  Status s = base_->SyncDir(dir);
  if (s.ok()) dir_sync_count_++;
  return s;
}

Status FaultInjectionEnv::LockFile(const std::string& path, int* lock_fd) {
  return base_->LockFile(path, lock_fd);
}

void FaultInjectionEnv::UnlockFile(int lock_fd) { base_->UnlockFile(lock_fd); }

}  // namespace kv::storage
