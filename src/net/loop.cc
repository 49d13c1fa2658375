#include "net/loop.h"

namespace kv::net {

namespace {
template <typename T>
void CloseAndFree(T* h) {
  h->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(h),
           [](uv_handle_t* p) { delete reinterpret_cast<T*>(p); });
}
}  // namespace

Timer::Timer(uv_loop_t* loop, std::function<void()> fn)
    : handle_(new uv_timer_t), fn_(std::move(fn)) {
  uv_timer_init(loop, handle_);
  handle_->data = this;
}
Timer::~Timer() { CloseAndFree(handle_); }
void Timer::Start(uint64_t first_ms, uint64_t repeat_ms) {
  uv_timer_start(
      handle_,
      [](uv_timer_t* t) {
        if (t->data != nullptr) static_cast<Timer*>(t->data)->fn_();
      },
      first_ms, repeat_ms);
}
void Timer::Stop() { uv_timer_stop(handle_); }

CheckHook::CheckHook(uv_loop_t* loop, std::function<void()> fn)
    : handle_(new uv_check_t), fn_(std::move(fn)) {
  uv_check_init(loop, handle_);
  handle_->data = this;
  uv_check_start(handle_, [](uv_check_t* c) {
    if (c->data != nullptr) static_cast<CheckHook*>(c->data)->fn_();
  });
  // A check handle alone does not keep the loop from blocking in poll; it
  // runs after every poll, which is exactly when replies are pending.
}
CheckHook::~CheckHook() { CloseAndFree(handle_); }

PrepareHook::PrepareHook(uv_loop_t* loop, std::function<void()> fn)
    : handle_(new uv_prepare_t), fn_(std::move(fn)) {
  uv_prepare_init(loop, handle_);
  handle_->data = this;
}

PrepareHook::~PrepareHook() { CloseAndFree(handle_); }

void PrepareHook::Arm() {
  if (armed_) return;
  armed_ = true;
  uv_prepare_start(handle_, [](uv_prepare_t* p) {
    auto* self = static_cast<PrepareHook*>(p->data);
    if (self == nullptr) return;
    uv_prepare_stop(p);
    self->armed_ = false;
    self->fn_();  // may Arm again
  });
}

SignalWatcher::SignalWatcher(uv_loop_t* loop, int signum, std::function<void(int)> fn)
    : handle_(new uv_signal_t), fn_(std::move(fn)) {
  uv_signal_init(loop, handle_);
  handle_->data = this;
  uv_signal_start(
      handle_,
      [](uv_signal_t* s, int sig) {
        if (s->data != nullptr) static_cast<SignalWatcher*>(s->data)->fn_(sig);
      },
      signum);
}
SignalWatcher::~SignalWatcher() { CloseAndFree(handle_); }

void CloseAllHandles(uv_loop_t* loop) {
  uv_walk(
      loop,
      [](uv_handle_t* h, void*) {
        if (!uv_is_closing(h)) uv_close(h, nullptr);
      },
      nullptr);
  uv_run(loop, UV_RUN_DEFAULT);
}

}  // namespace kv::net
