#include "server/persistence.h"

#include "util/clock.h"
#include "util/log.h"

namespace kv::server {

FsyncMode ParseFsyncMode(const std::string& s) {
  if (s == "always") return FsyncMode::kAlways;
  if (s == "no") return FsyncMode::kNo;
  return FsyncMode::kEverySec;
}

Persistence::Persistence(uv_loop_t* loop, storage::LsmEngine* engine, FsyncMode mode,
                         std::function<void()> on_synced, std::function<void()> on_background_done)
    : loop_(loop),
      engine_(engine),
      mode_(mode),
      on_synced_(std::move(on_synced)),
      on_background_done_(std::move(on_background_done)) {
  work_.data = this;
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  uv_timer_start(
      timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Persistence*>(t->data);
        if (self == nullptr || self->mode_ != FsyncMode::kEverySec) return;
        if (self->engine_->DurableSequence() < self->engine_->LastSequence()) {
          self->FlushToOs();
          self->StartSync();
        }
      },
      1000, 1000);
  async_ = new uv_async_t;
  uv_async_init(loop_, async_, [](uv_async_t* a) {
    auto* self = static_cast<Persistence*>(a->data);
    if (self != nullptr && self->on_background_done_) self->on_background_done_();
  });
  async_->data = this;
}

Persistence::~Persistence() { Close(); }

void Persistence::Close() {
  if (timer_ != nullptr) {
    timer_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
  }
  if (async_ != nullptr) {
    async_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(async_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
    async_ = nullptr;
  }
  // An in-flight fsync completes on its own; SyncDone sees closed_ state
  // through on_synced_ being cleared.
  on_synced_ = nullptr;
}

bool Persistence::FlushToOs() {
  util::Status s = engine_->FlushWal();
  if (s.ok()) return true;
  stats_.write_errors++;
  stats_.last_error = s.ToString();
  KV_LOG_WARNING("WAL write failed: %s", s.ToString().c_str());
  return false;
}

bool Persistence::HoldReplies() {
  if (mode_ != FsyncMode::kAlways) return false;
  if (engine_->DurableSequence() >= engine_->LastSequence()) return false;
  if (!sync_in_flight_) StartSync();
  return true;
}

void Persistence::NotifyBackgroundDone() {
  // Called from the engine's thread: uv_async_send is the one libuv call
  // that is safe there.
  if (async_ != nullptr) uv_async_send(async_);
}

void Persistence::WhenDurable(std::function<void()> fn) {
  FlushToOs();
  const storage::SequenceNumber want = engine_->LastSequence();
  if (engine_->DurableSequence() >= want) {
    fn();
    return;
  }
  durable_waiters_.emplace_back(want, std::move(fn));
  StartSync();
}

void Persistence::StartSync() {
  if (sync_in_flight_) return;
  sync_in_flight_ = true;
  if (uv_queue_work(loop_, &work_, SyncWork, SyncDone) != 0) {
    sync_in_flight_ = false;
    KV_LOG_WARNING("could not queue a WAL fsync");
  }
}

void Persistence::SyncWork(uv_work_t* req) {
  auto* self = static_cast<Persistence*>(req->data);
  int64_t start = util::MonotonicUs();
  storage::SequenceNumber durable = 0;
  self->work_status_ = self->engine_->SyncWal(&durable);
  self->work_us_ = util::MonotonicUs() - start;
}

void Persistence::SyncDone(uv_work_t* req, int) {
  auto* self = static_cast<Persistence*>(req->data);
  self->sync_in_flight_ = false;
  if (self->work_status_.ok()) {
    self->stats_.fsyncs++;
    self->stats_.last_fsync_us = self->work_us_;
    if (self->work_us_ > self->stats_.max_fsync_us) self->stats_.max_fsync_us = self->work_us_;
  } else {
    self->stats_.fsync_errors++;
    self->stats_.last_error = self->work_status_.ToString();
    KV_LOG_WARNING("WAL fsync failed: %s", self->work_status_.ToString().c_str());
    if (self->mode_ == FsyncMode::kAlways) self->fatal_ = true;
  }
  if (!self->durable_waiters_.empty()) {
    const storage::SequenceNumber durable = self->engine_->DurableSequence();
    std::vector<std::function<void()>> ready;
    auto& waiters = self->durable_waiters_;
    for (auto it = waiters.begin(); it != waiters.end();) {
      if (it->first <= durable || !self->work_status_.ok()) {
        ready.push_back(std::move(it->second));
        it = waiters.erase(it);
      } else {
        ++it;
      }
    }
    // Writes after the fsync began need another.
    if (!waiters.empty()) self->StartSync();
    for (auto& fn : ready) fn();
  }
  if (self->on_synced_) self->on_synced_();
}

}  // namespace kv::server
