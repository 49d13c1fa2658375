// Transfers: moving partitions between nodes when the ring changes
// (CLUSTER REBALANCE, LEAVE), and deleting what a node no longer owns. One
// object per node plays three roles (PROTOCOL.md, "Partition transfer"):
// - coordinator: walks the plan (the moves from the current ring to a
//   target ring), `transfer-limit` partitions at a time, each through the
//   phases clear, copy, catch-up and handoff at its new owner, then
//   installs a ring that gives it the partition (one epoch per partition,
//   so a plan interrupted anywhere leaves a valid ring) and tells the old
//   owner. Failed partitions start over after a backoff; the target is
//   persisted, so a restarted coordinator goes on where it was.
// - new owner: runs the steps, pulling batches from the old owner;
// - old owner: answers the batches, records which keys writes touch while
//   a partition is copied, and holds writes during the handoff.
// The storage side is the PartitionStore the server implements.
//
// Thread safety: loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/bus.h"
#include "cluster/messages.h"
#include "ring/ring.h"
#include "util/status.h"

namespace kv::cluster {

class ClusterNode;

// What moving partitions needs from the node's storage and request path.
// Slot ranges are [first_slot, end_slot). Storage keys are 2-byte slot +
// user key (storage/engine.h).
class PartitionStore {
 public:
  virtual ~PartitionStore() = default;
  // The stored records of the range in key order from `from` (empty: the
  // range's start), at least one and about `max_bytes`. *next is where the
  // next read goes on, empty when the range is exhausted.
  [[nodiscard]] virtual Status ReadRange(uint32_t first_slot, uint32_t end_slot,
                                         std::string_view from, size_t max_bytes,
                                         std::vector<TransferRecord>* out, std::string* next) = 0;
  // Stores each present record, deletes each absent one.
  [[nodiscard]] virtual Status Apply(const std::vector<TransferRecord>& records) = 0;
  // Deletes up to `max_records` records of the range; *empty once none are
  // left. *deleted counts what it deleted.
  [[nodiscard]] virtual Status ClearSome(uint32_t first_slot, uint32_t end_slot, size_t max_records,
                                         bool* empty, size_t* deleted) = 0;
  // Starts recording the keys writes touch in the range (forgetting what
  // was recorded before); Untrack stops.
  virtual void Track(uint32_t first_slot, uint32_t end_slot) = 0;
  virtual bool Tracking(uint32_t first_slot, uint32_t end_slot) const = 0;
  virtual void Untrack(uint32_t first_slot, uint32_t end_slot) = 0;
  // The current state (a record, or absent) of recorded keys, about
  // `max_bytes` of them (0: all), forgetting them; *done once none remain.
  [[nodiscard]] virtual Status TakeChanged(uint32_t first_slot, uint32_t end_slot, size_t max_bytes,
                                           std::vector<TransferRecord>* out, bool* done) = 0;
  // Calls `fn` once everything applied so far survives a crash (the new
  // owner, before it takes a partition over).
  virtual void WhenDurable(std::function<void()> fn) = 0;
  // Writes to the range wait, not run, until Thaw (then they are routed
  // again: to the new owner once the ring says so).
  virtual void Freeze(uint32_t first_slot, uint32_t end_slot) = 0;
  virtual void Thaw(uint32_t first_slot, uint32_t end_slot) = 0;
};

struct TransferOptions {
  int transfer_limit = 2;           // partitions moved at once (per coordinator)
  uint32_t batch_bytes = 1u << 20;  // per TRANSFER_READ
  int freeze_timeout_ms = 10000;    // an old owner's writes wait at most this for a commit
  int retry_ms = 1000;              // first backoff after a failed partition (doubles, max 4x)
  int sweep_delay_ms = 3000;        // after a ring change, before deleting what moved away
  int track_idle_ms = 60000;        // a recording nobody reads for this long is dropped
};

// One partition of a running plan, for CLUSTER REBALANCE STATUS.
struct MoveStatus {
  uint32_t partition = 0;
  uint64_t from = 0;
  uint64_t to = 0;
  TransferPhase phase = TransferPhase::kClear;
  uint64_t records = 0;
  uint64_t bytes = 0;
  int attempts = 0;
};

struct RebalanceStatus {
  bool running = false;
  uint64_t target_epoch = 0;  // the epoch the plan was made at
  uint64_t ring_epoch = 0;    // this node's ring now (one epoch per moved partition)
  size_t total = 0;           // partitions in the plan
  size_t done = 0;            // committed
  uint64_t records = 0;       // carried so far (all partitions, retries included)
  uint64_t bytes = 0;
  int64_t elapsed_ms = 0;
  std::string last_error;
  std::vector<MoveStatus> moving;
  // Totals of finished plans since start (INFO).
  uint64_t partitions_moved = 0;
  uint64_t records_swept = 0;
};

class Transfers {
 public:
  Transfers(ClusterNode* node, PartitionStore* store, TransferOptions options);
  ~Transfers();

  // Starts moving data toward `target` (a ring with the same partitions),
  // and installing it. Busy if a plan is running; OK with nothing to do if
  // target's owners are the current ones (the target is then installed at
  // once when its members differ).
  [[nodiscard]] Status Start(const ring::Ring& target);
  // Goes on with a target loaded from the state file (restart).
  void Resume(const ring::Ring& target);
  bool running() const { return running_; }
  const ring::Ring& target() const { return target_; }
  RebalanceStatus status() const;
  // True while this node may store records of partitions it does not own
  // (being filled here, or moved away and not swept yet): counts of this
  // node's keys must then leave those partitions out.
  bool MayHoldForeign() const { return sweep_due_ || !incoming_.empty(); }

  // Bus requests of the transfer frame types (ClusterNode routes them here).
  void OnFrame(uint64_t peer, const FrameView& frame, Bus::Responder reply);
  // The ring changed: writes to partitions we no longer own run again
  // (routed anew), and the sweep is due.
  void OnRingInstalled();
  // Periodic work (every gossip interval): freeze deadlines, idle
  // recordings, retries, the sweep.
  void Tick();

 private:
  struct Move {
    uint32_t partition = 0;
    uint64_t from = 0;
    uint64_t to = 0;
    TransferPhase phase = TransferPhase::kClear;
    std::string cursor;
    uint64_t records = 0;
    uint64_t bytes = 0;
    int attempts = 0;
    bool active = false;
    bool done = false;
    int64_t retry_at_ms = 0;
  };
  struct Range {
    uint32_t first = 0;
    uint32_t end = 0;
  };
  Range RangeOf(uint32_t partition, uint32_t partitions) const;
  void Log(const std::string& line) const;
  // Moves of the plan with `flag` set (active, done).
  size_t Count(bool Move::*flag) const;
  void Plan();
  void Pump();
  void Step(size_t index);
  void OnProgress(size_t index, uint64_t generation, Status s, const TransferProgress& p);
  void Fail(size_t index, const std::string& why);
  void Commit(size_t index);
  void Finish();
  // The new owner's side of a step; `done` gets the progress or an error.
  void RunStep(const TransferStep& step, std::function<void(Status, const TransferProgress&)> done);
  void ServeRead(uint64_t peer, const TransferRead& read, Bus::Responder reply);
  void ServeCommit(const TransferCommit& commit, Bus::Responder reply);
  // Old owner: the partition was handed over (or the handoff abandoned).
  void Release(uint32_t partition, uint32_t partitions);
  void Sweep();

  ClusterNode* node_;
  PartitionStore* store_;
  TransferOptions options_;
  // Coordinator.
  bool running_ = false;
  uint64_t generation_ = 0;  // bumps per plan: stale callbacks are ignored
  ring::Ring target_;
  std::vector<Move> moves_;
  uint64_t plan_records_ = 0;
  uint64_t plan_bytes_ = 0;
  int64_t plan_started_ms_ = 0;
  int64_t plan_finished_ms_ = 0;
  std::string last_error_;
  uint64_t partitions_moved_ = 0;
  // Old owner: partitions whose writes are recorded (last read time) and
  // frozen ones (deadline), keyed by partition at the ring's Q.
  std::map<uint32_t, int64_t> tracked_;
  std::map<uint32_t, int64_t> frozen_;
  uint32_t tracked_q_ = 0;
  // New owner: partitions being filled here (last step time): the sweep
  // leaves them alone.
  std::map<uint32_t, int64_t> incoming_;
  // Sweep.
  bool sweep_due_ = true;
  int64_t ring_changed_ms_ = 0;
  uint64_t records_swept_ = 0;
  uint64_t swept_this_round_ = 0;
};

}  // namespace kv::cluster
