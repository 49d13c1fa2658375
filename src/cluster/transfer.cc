#include "cluster/transfer.h"

#include <algorithm>

#include "cluster/cluster_node.h"
#include "cluster/node_id.h"
#include "ring/partition.h"
#include "util/clock.h"

namespace kv::cluster {

namespace {
int64_t NowMs() { return util::MonotonicUs() / 1000; }

uint64_t RecordBytes(const std::vector<TransferRecord>& records) {
  uint64_t n = 0;
  for (const TransferRecord& r : records) n += r.key.size() + r.record.size();
  return n;
}

// A response of type `want` decoded into *out; an ERROR response becomes
// IOError with the peer's message.
template <typename Msg>
Status DecodeResponse(const FrameView& frame, FrameType want, Msg* out) {
  if (frame.type == static_cast<uint8_t>(FrameType::kError)) {
    ErrorMsg e;
    Status s = Bus::DecodeError(frame, &e);
    return Status::IOError(s.ok() ? e.message : s.message());
  }
  if (frame.type != static_cast<uint8_t>(want)) {
    return Status::Corruption("expected " + FrameTypeName(static_cast<uint8_t>(want)) + ", got " +
                              FrameTypeName(frame.type));
  }
  return out->Decode(frame.payload);
}

// TRANSFER_COMMITTED's payload: nothing (later fields are ignored).
struct Committed {
  Status Decode(std::string_view) { return Status::OK(); }
};

// Clear steps delete at most this many records each (bounded loop time).
constexpr size_t kClearBatch = 20000;
constexpr size_t kSweepBatch = 5000;
}  // namespace

Transfers::Transfers(ClusterNode* node, PartitionStore* store, TransferOptions options)
    : node_(node), store_(store), options_(options) {
  if (options_.transfer_limit < 1) options_.transfer_limit = 1;
  ring_changed_ms_ = NowMs();
}

Transfers::~Transfers() = default;

void Transfers::Log(const std::string& line) const { node_->LogLine(line); }

Transfers::Range Transfers::RangeOf(uint32_t partition, uint32_t partitions) const {
  ring::SlotRange r = ring::SlotsOfPartition(partition, partitions);
  return Range{r.begin, r.end};
}

// ---- coordinator ----

Status Transfers::Start(const ring::Ring& target) {
  if (running_) {
    return Status::Busy("a rebalance is already running (CLUSTER REBALANCE STATUS shows it)");
  }
  if (target.partitions() != node_->ring().partitions()) {
    return Status::InvalidArgument("the target ring has a different number of partitions");
  }
  Resume(target);
  return Status::OK();
}

void Transfers::Resume(const ring::Ring& target) {
  target_ = target;
  running_ = true;
  generation_++;
  last_error_.clear();
  plan_records_ = plan_bytes_ = 0;
  plan_started_ms_ = NowMs();
  Plan();
  node_->PersistSoon();
  Log("rebalance toward ring epoch " + std::to_string(target_.epoch()) + ": " +
      std::to_string(moves_.size()) + " partitions to move, " +
      std::to_string(options_.transfer_limit) + " at a time");
  if (moves_.empty()) {
    Finish();
    return;
  }
  Pump();
}

void Transfers::Plan() {
  moves_.clear();
  for (const ring::Move& m : ring::Moves(node_->ring(), target_)) {
    Move move;
    move.partition = m.partition;
    move.from = m.from;
    move.to = m.to;
    moves_.push_back(move);
  }
}

size_t Transfers::Count(bool Move::*flag) const {
  return static_cast<size_t>(
      std::count_if(moves_.begin(), moves_.end(), [flag](const Move& m) { return m.*flag; }));
}

void Transfers::Pump() {
  if (!running_) return;
  const int64_t now = NowMs();
  size_t active = Count(&Move::active);
  for (size_t i = 0; i < moves_.size() && active < static_cast<size_t>(options_.transfer_limit);
       i++) {
    Move& m = moves_[i];
    if (m.done || m.active || m.retry_at_ms > now) continue;
    m.active = true;
    m.phase = TransferPhase::kClear;
    m.cursor.clear();
    m.attempts++;
    Step(i);
    active = Count(&Move::active);  // the step may have ended at once
  }
}

void Transfers::Step(size_t index) {
  Move& m = moves_[index];
  TransferStep step;
  step.partition = m.partition;
  step.partitions = target_.partitions();
  step.source = m.from;
  step.phase = m.phase;
  step.cursor = m.cursor;
  step.max_bytes = options_.batch_bytes;
  const uint64_t generation = generation_;
  if (m.to == node_->id()) {
    RunStep(step, [this, index, generation](Status s, const TransferProgress& p) {
      OnProgress(index, generation, s, p);
    });
    return;
  }
  std::string payload;
  step.EncodeTo(&payload);
  node_->Request(m.to, FrameType::kTransferStep, payload,
                 [this, index, generation](Status s, const FrameView* response) {
                   TransferProgress p;
                   if (s.ok()) s = DecodeResponse(*response, FrameType::kTransferProgress, &p);
                   OnProgress(index, generation, s, p);
                 });
}

void Transfers::OnProgress(size_t index, uint64_t generation, Status s, const TransferProgress& p) {
  if (generation != generation_ || !running_ || index >= moves_.size()) return;
  Move& m = moves_[index];
  if (!m.active) return;
  if (!s.ok()) {
    Fail(index, std::string(TransferPhaseName(m.phase)) + ": " + s.message());
    return;
  }
  m.records += p.records;
  m.bytes += p.bytes;
  plan_records_ += p.records;
  plan_bytes_ += p.bytes;
  if (!p.done) {
    m.cursor = p.cursor;
  } else if (m.phase == TransferPhase::kHandoff) {
    Commit(index);
    return;
  } else {
    m.phase = static_cast<TransferPhase>(static_cast<uint8_t>(m.phase) + 1);
    m.cursor.clear();
  }
  if (m.to == node_->id() && m.phase == TransferPhase::kClear) {
    // A local clear answers synchronously: go on from the next tick, not
    // by recursion.
    m.active = false;
    m.attempts--;  // not a retry
    m.retry_at_ms = 0;
    return;
  }
  Step(index);
}

void Transfers::Fail(size_t index, const std::string& why) {
  Move& m = moves_[index];
  const int shift = std::min(m.attempts - 1, 2);
  const int64_t backoff = static_cast<int64_t>(options_.retry_ms) << std::max(shift, 0);
  last_error_ = "partition " + std::to_string(m.partition) + " " + NodeIdHex(m.from) + "->" +
                NodeIdHex(m.to) + ": " + why;
  Log("transfer of " + last_error_ + "; starting it over in " + std::to_string(backoff) + " ms");
  m.active = false;
  m.retry_at_ms = NowMs() + backoff;
  Pump();
}

void Transfers::Commit(size_t index) {
  Move& m = moves_[index];
  const ring::Ring& current = node_->ring();
  if (current.partitions() != target_.partitions() || current.Owner(m.partition) != m.from) {
    // Someone else changed the ring under the plan: stop rather than undo it.
    last_error_ = "the ring changed during the rebalance (partition " +
                  std::to_string(m.partition) + " is no longer " + NodeIdHex(m.from) +
                  "'s); stopped";
    Log(last_error_);
    running_ = false;
    plan_finished_ms_ = NowMs();
    generation_++;
    node_->PersistSoon();
    return;
  }
  std::vector<ring::Member> members = current.members();
  if (current.FindMember(m.to) == nullptr) members.push_back(*target_.FindMember(m.to));
  std::vector<uint64_t> owners = current.Owners();
  owners[m.partition] = m.to;
  ring::Ring next;
  Status s = ring::Ring::Build(node_->NextEpoch(), node_->id(), members, owners, &next);
  if (!s.ok()) {
    Fail(index, "can't build the ring: " + s.message());
    return;
  }
  // The new owner holds everything and the old one holds the writes: the
  // ring can switch here now; the old owner learns it by the commit (or
  // gossip, should the commit be lost).
  node_->InstallRing(next);
  m.done = true;
  m.active = false;
  partitions_moved_++;
  Log("moved partition " + std::to_string(m.partition) + " from " + NodeIdHex(m.from) + " to " +
      NodeIdHex(m.to) + ": " + std::to_string(m.records) + " records, " + std::to_string(m.bytes) +
      " bytes (" + std::to_string(Count(&Move::done)) + " of " + std::to_string(moves_.size()) +
      ")");
  TransferCommit commit;
  commit.partition = m.partition;
  ring::EncodeRing(next, &commit.ring);
  if (m.from == node_->id()) {
    Release(m.partition, next.partitions());
  } else {
    std::string payload;
    commit.EncodeTo(&payload);
    const uint64_t from = m.from;
    node_->Request(from, FrameType::kTransferCommit, payload,
                   [this, from](Status st, const FrameView* response) {
                     if (st.ok()) {
                       Committed unused;
                       st = DecodeResponse(*response, FrameType::kTransferCommitted, &unused);
                     }
                     if (!st.ok()) {
                       Log("commit to " + NodeIdHex(from) + " not acknowledged (" + st.message() +
                           "); it will learn the ring by gossip");
                     }
                   });
  }
  if (Count(&Move::done) == moves_.size()) {
    Finish();
    return;
  }
  Pump();
}

void Transfers::Finish() {
  // Members leave the ring only now, when they own nothing.
  const ring::Ring& current = node_->ring();
  if (current.Owners() == target_.Owners() && current.members() != target_.members()) {
    ring::Ring next;
    Status s = ring::Ring::Build(node_->NextEpoch(), node_->id(), target_.members(),
                                 target_.Owners(), &next);
    if (s.ok()) {
      node_->InstallRing(next);
    } else {
      last_error_ = "can't install the final ring: " + s.message();
      Log(last_error_);
    }
  }
  Log("rebalance finished: " + std::to_string(Count(&Move::done)) + " partitions, " +
      std::to_string(plan_records_) + " records, " + std::to_string(plan_bytes_) + " bytes in " +
      std::to_string(NowMs() - plan_started_ms_) + " ms");
  running_ = false;
  plan_finished_ms_ = NowMs();
  generation_++;
  node_->PersistSoon();
}

RebalanceStatus Transfers::status() const {
  RebalanceStatus st;
  st.running = running_;
  st.target_epoch = target_.epoch();
  st.total = moves_.size();
  st.done = Count(&Move::done);
  st.records = plan_records_;
  st.bytes = plan_bytes_;
  st.elapsed_ms = plan_started_ms_ == 0 ? 0
                  : running_            ? NowMs() - plan_started_ms_
                                        : plan_finished_ms_ - plan_started_ms_;
  st.ring_epoch = node_->ring().epoch();
  st.last_error = last_error_;
  for (const Move& m : moves_) {
    if (!m.active) continue;
    st.moving.push_back(
        MoveStatus{m.partition, m.from, m.to, m.phase, m.records, m.bytes, m.attempts});
  }
  st.partitions_moved = partitions_moved_;
  st.records_swept = records_swept_;
  return st;
}

// ---- bus requests ----

void Transfers::OnFrame(uint64_t peer, const FrameView& frame, Bus::Responder reply) {
  if (!reply) return;
  // Decodes the request into `msg`, or answers ERROR malformed.
  auto decoded = [&frame, &reply](auto* msg) {
    Status s = msg->Decode(frame.payload);
    if (!s.ok()) Bus::ReplyError(reply, ErrorCode::kMalformed, s.message());
    return s.ok();
  };
  switch (static_cast<FrameType>(frame.type)) {
    case FrameType::kTransferStep: {
      TransferStep step;
      if (!decoded(&step)) return;
      RunStep(step, [reply](Status st, const TransferProgress& p) {
        if (!st.ok()) {
          Bus::ReplyError(reply, ErrorCode::kNotReady, st.message());
          return;
        }
        std::string payload;
        p.EncodeTo(&payload);
        reply(FrameType::kTransferProgress, payload);
      });
      return;
    }
    case FrameType::kTransferRead: {
      TransferRead read;
      if (decoded(&read)) ServeRead(peer, read, reply);
      return;
    }
    case FrameType::kTransferCommit: {
      TransferCommit commit;
      if (decoded(&commit)) ServeCommit(commit, reply);
      return;
    }
    default:
      Bus::ReplyError(reply, ErrorCode::kUnknownType, "not a request");
  }
}

void Transfers::RunStep(const TransferStep& step,
                        std::function<void(Status, const TransferProgress&)> done) {
  const ring::Ring& ring = node_->ring();
  if (step.partitions != ring.partitions() || step.partition >= step.partitions) {
    done(Status::InvalidArgument("partition " + std::to_string(step.partition) + " of " +
                                 std::to_string(step.partitions) + " is not in this ring"),
         {});
    return;
  }
  // A node still alone (its own one-node ring) is joining: what it holds
  // gives way. A member of a real cluster that owns the partition must not
  // clear it on a stale plan.
  const bool alone = ring.members().size() == 1 && ring.members()[0].id == node_->id();
  if (!alone && ring.Owner(step.partition) == node_->id()) {
    done(Status::InvalidArgument("partition " + std::to_string(step.partition) +
                                 " is already owned here"),
         {});
    return;
  }
  const Range r = RangeOf(step.partition, step.partitions);
  incoming_[step.partition] = NowMs();
  if (step.phase == TransferPhase::kClear) {
    TransferProgress p;
    size_t deleted = 0;
    Status s = store_->ClearSome(r.first, r.end, kClearBatch, &p.done, &deleted);
    done(s, p);
    return;
  }
  TransferRead read;
  read.partition = step.partition;
  read.partitions = step.partitions;
  read.phase = step.phase;
  read.cursor = step.cursor;
  read.max_bytes = step.max_bytes;
  std::string payload;
  read.EncodeTo(&payload);
  const uint32_t partition = step.partition;
  const TransferPhase phase = step.phase;
  node_->Request(step.source, FrameType::kTransferRead, payload,
                 [this, partition, phase, done](Status s, const FrameView* response) {
                   TransferData data;
                   if (s.ok()) s = DecodeResponse(*response, FrameType::kTransferData, &data);
                   if (!s.ok()) {
                     done(s, {});
                     return;
                   }
                   incoming_[partition] = NowMs();
                   s = store_->Apply(data.records);
                   TransferProgress p;
                   p.done = data.done;
                   p.cursor = std::move(data.cursor);
                   p.records = data.records.size();
                   p.bytes = RecordBytes(data.records);
                   if (!s.ok() || !(p.done && phase == TransferPhase::kHandoff)) {
                     done(s, p);
                     return;
                   }
                   // The partition becomes ours with this answer and the
                   // old owner will delete its copy: on disk first.
                   store_->WhenDurable([done, p] { done(Status::OK(), p); });
                 });
}

void Transfers::ServeRead(uint64_t peer, const TransferRead& read, Bus::Responder reply) {
  const ring::Ring& ring = node_->ring();
  auto refuse = [&reply](const std::string& why) {
    Bus::ReplyError(reply, ErrorCode::kNotReady, why);
  };
  if (read.partitions != ring.partitions() || read.partition >= read.partitions) {
    refuse("partition " + std::to_string(read.partition) + " of " +
           std::to_string(read.partitions) + " is not in this ring");
    return;
  }
  if (ring.Owner(read.partition) != node_->id()) {
    refuse("partition " + std::to_string(read.partition) + " is not owned here");
    return;
  }
  const Range r = RangeOf(read.partition, read.partitions);
  TransferData data;
  Status s;
  if (read.phase == TransferPhase::kCopy && read.cursor.empty()) {
    // A new attempt: record writes from now on; a handoff of an abandoned
    // attempt no longer holds anything.
    if (frozen_.erase(read.partition) > 0) store_->Thaw(r.first, r.end);
    store_->Track(r.first, r.end);
    tracked_q_ = read.partitions;
    Log("copying partition " + std::to_string(read.partition) + " to " + NodeIdHex(peer));
  } else if (!store_->Tracking(r.first, r.end) || tracked_.count(read.partition) == 0) {
    refuse("writes to partition " + std::to_string(read.partition) +
           " are not recorded here (restarted?); the transfer must start over");
    return;
  }
  tracked_[read.partition] = NowMs();
  switch (read.phase) {
    case TransferPhase::kCopy:
      s = store_->ReadRange(r.first, r.end, read.cursor, read.max_bytes, &data.records,
                            &data.cursor);
      data.done = data.cursor.empty();
      break;
    case TransferPhase::kCatchUp:
      s = store_->TakeChanged(r.first, r.end, read.max_bytes, &data.records, &data.done);
      break;
    case TransferPhase::kHandoff:
      // Writes wait from here until the commit (or the freeze timeout).
      store_->Freeze(r.first, r.end);
      frozen_[read.partition] = NowMs() + options_.freeze_timeout_ms;
      s = store_->TakeChanged(r.first, r.end, 0, &data.records, &data.done);
      data.done = true;
      break;
    default:
      refuse("phase " + std::string(TransferPhaseName(read.phase)) + " is not read");
      return;
  }
  if (!s.ok()) {
    Bus::ReplyError(reply, ErrorCode::kInternal, s.message());
    return;
  }
  std::string payload;
  data.EncodeTo(&payload);
  reply(FrameType::kTransferData, payload);
}

void Transfers::ServeCommit(const TransferCommit& commit, Bus::Responder reply) {
  ring::Ring ring;
  Status s = ring::DecodeRing(commit.ring, &ring);
  if (!s.ok()) {
    Bus::ReplyError(reply, ErrorCode::kMalformed, s.message());
    return;
  }
  if (ring::IsNewerRing(ring, node_->ring()) && ring.FindMember(node_->id()) != nullptr) {
    node_->InstallRing(ring);  // releases the partition (OnRingInstalled)
  }
  reply(FrameType::kTransferCommitted, "");
}

void Transfers::Release(uint32_t partition, uint32_t partitions) {
  const Range r = RangeOf(partition, partitions);
  if (frozen_.erase(partition) > 0) store_->Thaw(r.first, r.end);
  if (tracked_.erase(partition) > 0) store_->Untrack(r.first, r.end);
}

void Transfers::OnRingInstalled() {
  ring_changed_ms_ = NowMs();
  sweep_due_ = true;
  const ring::Ring& ring = node_->ring();
  std::vector<uint32_t> gone;
  for (const auto& [p, t] : tracked_) {
    if (ring.partitions() != tracked_q_ || ring.Owner(p) != node_->id()) gone.push_back(p);
  }
  for (const auto& [p, t] : frozen_) {
    if (ring.partitions() != tracked_q_ || ring.Owner(p) != node_->id()) gone.push_back(p);
  }
  for (uint32_t p : gone) Release(p, tracked_q_);
  for (auto it = incoming_.begin(); it != incoming_.end();) {
    it = ring.Owner(it->first) == node_->id() ? incoming_.erase(it) : std::next(it);
  }
}

// ---- periodic work ----

void Transfers::Tick() {
  const int64_t now = NowMs();
  std::vector<uint32_t> expired;
  for (const auto& [p, deadline] : frozen_) {
    if (deadline <= now) expired.push_back(p);
  }
  for (uint32_t p : expired) {
    Log("no commit for partition " + std::to_string(p) + " within " +
        std::to_string(options_.freeze_timeout_ms) + " ms; its writes run here again");
    const Range r = RangeOf(p, tracked_q_);
    frozen_.erase(p);
    store_->Thaw(r.first, r.end);
  }
  expired.clear();
  for (const auto& [p, last] : tracked_) {
    if (now - last > options_.track_idle_ms && frozen_.count(p) == 0) expired.push_back(p);
  }
  for (uint32_t p : expired) Release(p, tracked_q_);
  for (auto it = incoming_.begin(); it != incoming_.end();) {
    it = now - it->second > options_.track_idle_ms ? incoming_.erase(it) : std::next(it);
  }
  if (running_) Pump();
  Sweep();
}

// Deletes the records of partitions this node does not own, once every
// live member announces our ring epoch (a node restarted with an old ring
// must not delete what it was given since) and a few seconds have passed
// (the new owner's everysec fsync has covered what it was sent).
void Transfers::Sweep() {
  if (!sweep_due_ || running_) return;
  if (NowMs() - ring_changed_ms_ < options_.sweep_delay_ms ||
      !(node_->HasLeft() || node_->RingAgreed()))
    return;
  const ring::Ring& ring = node_->ring();
  size_t budget = kSweepBatch;
  for (uint32_t p = 0; p < ring.partitions() && budget > 0; p++) {
    if (ring.Owner(p) == node_->id() || incoming_.count(p) > 0) continue;
    const Range r = RangeOf(p, ring.partitions());
    bool empty = false;
    size_t deleted = 0;
    Status s = store_->ClearSome(r.first, r.end, budget, &empty, &deleted);
    if (!s.ok()) {
      Log("sweep of partition " + std::to_string(p) + " failed: " + s.message());
      return;
    }
    records_swept_ += deleted;
    swept_this_round_ += deleted;
    budget -= std::min(budget, deleted);
    if (!empty) return;  // more next tick
  }
  if (budget == 0) return;
  sweep_due_ = false;
  if (swept_this_round_ > 0) {
    Log("deleted " + std::to_string(swept_this_round_) +
        " records of partitions that moved to other nodes");
  }
  swept_this_round_ = 0;
}

}  // namespace kv::cluster
