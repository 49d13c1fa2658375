// Small RAII wrappers over libuv handles the server needs besides sockets: a
// repeating Timer, a Check hook that runs once per loop iteration after I/O
// (where replies are flushed, one write per client per iteration), and a
// Signal watcher. Each frees its handle in the close callback, as libuv
// requires.
//
// Thread safety: loop thread only.
#pragma once

#include <uv.h>

#include <functional>

namespace kv::net {

class Timer {
 public:
  Timer(uv_loop_t* loop, std::function<void()> fn);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  void Start(uint64_t first_ms, uint64_t repeat_ms);
  void Stop();

 private:
  uv_timer_t* handle_;
  std::function<void()> fn_;
};

class CheckHook {
 public:
  CheckHook(uv_loop_t* loop, std::function<void()> fn);
  ~CheckHook();
  CheckHook(const CheckHook&) = delete;
  CheckHook& operator=(const CheckHook&) = delete;

 private:
  uv_check_t* handle_;
  std::function<void()> fn_;
};

// Runs `fn` once just before the loop next blocks in poll, each time it is
// armed: for work that must happen after everything this iteration did
// (flushing output written by timers, check hooks and callbacks alike).
// Not armed, it does not keep the loop alive.
class PrepareHook {
 public:
  PrepareHook(uv_loop_t* loop, std::function<void()> fn);
  ~PrepareHook();
  PrepareHook(const PrepareHook&) = delete;
  PrepareHook& operator=(const PrepareHook&) = delete;
  void Arm();

 private:
  uv_prepare_t* handle_;
  std::function<void()> fn_;
  bool armed_ = false;
};

class SignalWatcher {
 public:
  SignalWatcher(uv_loop_t* loop, int signum, std::function<void(int)> fn);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

 private:
  uv_signal_t* handle_;
  std::function<void(int)> fn_;
};

// Closes every handle still open on `loop` and runs it until they are
// freed, so a clean shutdown leaks nothing.
void CloseAllHandles(uv_loop_t* loop);

}  // namespace kv::net
