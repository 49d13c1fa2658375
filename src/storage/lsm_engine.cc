#include "storage/lsm_engine.h"

#include <algorithm>
#include <cinttypes>
#include <map>
#include <set>

#include "storage/filename.h"
#include "storage/log_reader.h"
#include "storage/log_writer.h"
#include "storage/memtable.h"
#include "storage/merging_iterator.h"
#include "storage/record.h"
#include "storage/table/block_cache.h"
#include "storage/table/table.h"
#include "storage/table/table_builder.h"
#include "storage/table_cache.h"
#include "storage/version.h"
#include "storage/version_edit.h"
#include "storage/write_batch.h"
#include "util/clock.h"

namespace kv::storage {

using util::Status;

namespace {

// Level 0: newest file first (a newer flush shadows an older one). Other
// levels: by smallest key, for binary search.
void SortLevels(Version* v) {
  const InternalKeyComparator* cmp = GetInternalKeyComparator();
  std::sort(v->levels[0].begin(), v->levels[0].end(),
            [](const auto& a, const auto& b) { return a->number > b->number; });
  for (int level = 1; level < kNumLevels; level++) {
    auto& files = v->levels[static_cast<size_t>(level)];
    std::sort(files.begin(), files.end(), [cmp](const auto& a, const auto& b) {
      return cmp->Compare(a->smallest, b->smallest) < 0;
    });
  }
}

uint64_t MaxBytesForLevel(const LsmOptions& o, int level) {
  uint64_t n = o.level1_max_bytes;
  for (int l = 1; l < level; l++) n *= 10;
  return n;
}

std::string FileNumberText(uint64_t n) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%06" PRIu64, n);
  return buf;
}

// Inserts WAL batches into a memtable during recovery.
class MemTableInserter final : public WriteBatch::Handler {
 public:
  MemTableInserter(MemTable* mem, SequenceNumber seq) : mem_(mem), seq_(seq) {}
  void Put(std::string_view key, std::string_view value) override {
    mem_->Add(seq_++, kTypeValue, key, value);
  }
  void Delete(std::string_view key) override { mem_->Add(seq_++, kTypeDeletion, key, ""); }
  SequenceNumber next() const { return seq_; }

 private:
  MemTable* mem_;
  SequenceNumber seq_;
};

class LogReporter final : public log::Reader::Reporter {
 public:
  explicit LogReporter(std::string file) : file_(std::move(file)) {}
  void Corruption(size_t bytes, const Status& s) override {
    if (status.ok()) {
      status = Status::Corruption(file_ + ": " + std::to_string(bytes) +
                                  " bytes dropped: " + s.message());
    }
    dropped += bytes;
  }
  Status status;
  uint64_t dropped = 0;

 private:
  std::string file_;
};

// Refuses settings under which the engine could not work, rather than
// failing later in a way that is hard to trace back (a level-0 stop at or
// below the compaction trigger stalls writes with nothing to end the stall).
Status ValidateOptions(const LsmOptions& o) {
  auto bad = [](const std::string& what) { return Status::InvalidArgument(what); };
  if (o.dir.empty()) return bad("storage directory is empty");
  if (o.memtable_bytes < 4096) return bad("memtable size must be at least 4096 bytes");
  if (o.block_size < 64) return bad("block size must be at least 64 bytes");
  if (o.target_file_bytes < 4096) return bad("table file size must be at least 4096 bytes");
  if (o.level1_max_bytes < o.target_file_bytes) {
    return bad("level 1 size must be at least one table file");
  }
  if (o.level0_compaction_trigger < 1) return bad("level 0 compaction trigger must be >= 1");
  if (o.level0_stop_writes <= o.level0_compaction_trigger) {
    return bad("level 0 stop-writes count (" + std::to_string(o.level0_stop_writes) +
               ") must exceed the compaction trigger (" +
               std::to_string(o.level0_compaction_trigger) +
               "), or writes would stall with no compaction to end it");
  }
  if (o.table_cache_size < 1) return bad("table cache must hold at least 1 table");
  if (o.tombstone_gc_seconds < 0) return bad("tombstone-gc-seconds must be >= 0");
  return Status::OK();
}

}  // namespace

struct LsmEngine::Impl {
  LsmOptions opt;
  Env* env = nullptr;
  TableOptions topt;
  std::unique_ptr<BlockCache> cache;
  std::unique_ptr<TableCache> tables;
  int lock_fd = -1;
  LsmEngine* owner = nullptr;

  // Loop-thread state.
  std::shared_ptr<MemTable> mem;
  std::unique_ptr<WritableFile> log_file;
  std::unique_ptr<log::Writer> log;
  uint64_t log_number = 0;
  WriteBatch batch;
  std::shared_ptr<MemTable> held_imm;  // keeps a returned view alive
  std::shared_ptr<const Version> held_version;
  uint64_t held_generation = UINT64_MAX;
  // Bumped (under mu) whenever imm or current changes, so Get can skip the
  // lock and the reference-count traffic when nothing changed.
  std::atomic<uint64_t> generation{0};
  // Mirrors of imm != nullptr and current->levels[0].size(), published with
  // every generation bump, so WriteStalled() (called per client read on the
  // loop) needs no lock.
  std::atomic<bool> imm_present{false};
  std::atomic<int> level0_files{0};
  // REQUIRES: mu held, after imm or current changed.
  void PublishState() {
    imm_present.store(imm != nullptr, std::memory_order_release);
    level0_files.store(static_cast<int>(current->levels[0].size()), std::memory_order_release);
    generation++;
  }
  std::atomic<uint64_t> bloom_checked{0};
  std::atomic<uint64_t> bloom_useful{0};
  std::atomic<uint64_t> bloom_false_positives{0};
  std::atomic<SequenceNumber> flushed_sequence{0};
  uint64_t user_bytes = 0;
  uint64_t wal_bytes = 0;                  // ever written, for write amplification
  uint64_t log_bytes_current = 0;          // in the current log file
  std::atomic<uint64_t> imm_log_bytes{0};  // in the immutable memtable's log

  // WAL sync state: the handles a SyncWal must fsync (old logs first).
  std::mutex sync_mu;
  // (log number, second handle on that log) for every log that may hold
  // writes not yet fsynced; a log leaves once synced or flushed to a table.
  std::vector<std::pair<uint64_t, std::shared_ptr<WritableFile>>> sync_handles;

  // Shared with the background thread, guarded by mu.
  mutable std::mutex mu;
  std::condition_variable cv;
  std::shared_ptr<MemTable> imm;
  uint64_t imm_log_number = 0;  // first log not covered by imm once flushed
  uint64_t imm_own_log = 0;     // the log holding imm's writes
  SequenceNumber imm_last_sequence = 0;
  uint64_t current_log_number = 0;  // mirror of log_number for the bg thread
  std::shared_ptr<const Version> current;
  // Every table some Version (current or one a reader still holds) may
  // name. A table leaves the directory only once no Version names it: an
  // old Version's reader may have to reopen it through the table cache.
  std::map<uint64_t, std::weak_ptr<LiveFile>> referenced_files;
  uint64_t next_file_number = 2;
  bool bg_busy = false;
  bool shutting_down = false;
  bool paused = false;  // Clear runs: start no flush or compaction
  bool manual_compaction = false;
  Status bg_error;
  std::array<std::string, kNumLevels> compact_pointer;
  LsmStats stats;
  std::thread bg;

  // Manifest, written by the background thread (or the loop thread while
  // the background thread is idle and held off, in Open/Clear).
  std::unique_ptr<WritableFile> manifest_file;
  std::unique_ptr<log::Writer> manifest;
  uint64_t manifest_number = 0;

  ~Impl() {
    if (lock_fd >= 0) env->UnlockFile(lock_fd);
  }

  void Info(const std::string& s) {
    if (opt.info_log) opt.info_log(s);
  }

  uint64_t NewFileNumber() {
    std::lock_guard<std::mutex> l(mu);
    return next_file_number++;
  }

  // Opens f's table through the table cache, which checks its footer,
  // index and filter, and fills in what the version keeps about it.
  Status OpenTable(const std::shared_ptr<LiveFile>& f) {
    std::shared_ptr<Table> t;
    Status s = tables->Find(f->number, f->file_size, &t);
    if (!s.ok()) return s;
    f->num_entries = t->NumEntries();
    std::lock_guard<std::mutex> l(mu);
    referenced_files[f->number] = f;
    return Status::OK();
  }

  // Writes everything `it` yields to new tables of at most
  // target_file_bytes (split only between user keys), appending their
  // metadata to *outputs. `filter` decides per entry: keep, drop, or turn
  // into a deletion marker.
  Status WriteTables(
      Iterator* it, bool split, std::vector<std::shared_ptr<LiveFile>>* outputs,
      uint64_t* bytes_written,
      const std::function<int(std::string_view ikey, std::string_view value)>& filter) {
    std::unique_ptr<WritableFile> file;
    std::unique_ptr<TableBuilder> builder;
    std::shared_ptr<LiveFile> meta;
    std::string last_user_key;
    bool has_last = false;
    Status s;
    auto finish = [&]() -> Status {
      if (!builder) return Status::OK();
      Status fs = builder->Finish();
      if (fs.ok()) fs = file->Sync();
      if (fs.ok()) fs = file->Close();
      if (fs.ok()) {
        meta->file_size = builder->FileSize();
        *bytes_written += meta->file_size;
        fs = OpenTable(meta);
      }
      builder.reset();
      file.reset();
      if (fs.ok()) outputs->push_back(meta);
      meta.reset();
      return fs;
    };
    std::string marker_key;
    for (; it->Valid(); it->Next()) {
      std::string_view ikey = it->key();
      std::string_view value = it->value();
      int action = filter ? filter(ikey, value) : 0;  // 0 keep, 1 drop, 2 deletion marker
      if (action == 1) continue;
      std::string_view ukey = ExtractUserKey(ikey);
      if (action == 2) {
        ParsedInternalKey p;
        ParseInternalKey(ikey, &p);
        marker_key.clear();
        AppendInternalKey(&marker_key, ukey, p.sequence, kTypeDeletion);
        ikey = marker_key;
        value = std::string_view();
      }
      bool new_user_key = !has_last || ukey != last_user_key;
      if (builder && split && new_user_key && builder->FileSize() >= opt.target_file_bytes) {
        s = finish();
        if (!s.ok()) return s;
      }
      if (!builder) {
        meta = std::make_shared<LiveFile>();
        meta->number = NewFileNumber();
        s = env->NewWritableFile(TableFileName(opt.dir, meta->number), &file);
        if (!s.ok()) return s;
        builder = std::make_unique<TableBuilder>(topt, file.get());
        meta->smallest.assign(ikey.data(), ikey.size());
      }
      builder->Add(ikey, value);
      meta->largest.assign(ikey.data(), ikey.size());
      last_user_key.assign(ukey.data(), ukey.size());
      has_last = true;
    }
    if (!it->status().ok()) {
      if (builder) builder->Abandon();
      return it->status();
    }
    return finish();
  }

  // Appends `edit` to the manifest and syncs it. Background thread, or
  // loop thread while the background thread is held off.
  Status WriteManifest(const VersionEdit& edit) {
    std::string rec;
    edit.EncodeTo(&rec);
    Status s = manifest->AddRecord(rec);
    if (s.ok()) s = manifest_file->Sync();
    return s;
  }

  // Starts a new manifest holding a snapshot of `v`.
  Status NewManifest(const Version& v, uint64_t log_num, SequenceNumber last_seq) {
    uint64_t number = NewFileNumber();
    std::unique_ptr<WritableFile> file;
    Status s = env->NewWritableFile(DescriptorFileName(opt.dir, number), &file);
    if (!s.ok()) return s;
    auto writer = std::make_unique<log::Writer>(file.get(), 0);
    VersionEdit edit;
    edit.SetComparatorName(GetInternalKeyComparator()->Name());
    edit.SetLogNumber(log_num);
    {
      std::lock_guard<std::mutex> l(mu);
      edit.SetNextFileNumber(next_file_number);
    }
    edit.SetLastSequence(last_seq);
    for (int level = 0; level < kNumLevels; level++) {
      for (const auto& f : v.levels[static_cast<size_t>(level)]) {
        edit.AddFile(level, f->number, f->file_size, f->smallest, f->largest);
      }
    }
    std::string rec;
    edit.EncodeTo(&rec);
    s = writer->AddRecord(rec);
    if (s.ok()) s = file->Sync();
    if (s.ok()) s = SetCurrentFile(env, opt.dir, number);
    if (!s.ok()) return s;
    manifest_file = std::move(file);
    manifest = std::move(writer);
    manifest_number = number;
    return Status::OK();
  }

  bool manifest_broken = false;
  uint64_t persisted_log_number = 0;
  SequenceNumber edit_last_sequence(const VersionEdit* edit) {
    if (edit->has_last_sequence()) return edit->last_sequence();
    std::lock_guard<std::mutex> l(mu);
    return imm_last_sequence;
  }

  // Deletes tables a failed flush or compaction wrote; nothing refers to
  // them.
  void RemoveTables(const std::vector<std::shared_ptr<LiveFile>>& files) {
    for (const auto& f : files) {
      cache->EraseFile(f->number);
      tables->Evict(f->number);
      (void)env->RemoveFile(TableFileName(opt.dir, f->number));
    }
  }

  // Holds the background thread idle until ResumeBackground: it finishes
  // what it is running and starts nothing (Clear, file deletion from the
  // loop thread). REQUIRES: `l` holds mu.
  void HoldBackground(std::unique_lock<std::mutex>& l) {
    paused = true;
    cv.wait(l, [&] { return !bg_busy; });
  }
  void ResumeBackground() {
    std::lock_guard<std::mutex> l(mu);
    paused = false;
    cv.notify_all();
  }

  // True if a table some old Version named is named by none now.
  // REQUIRES: mu held.
  bool HasReleasedFiles() const {
    for (const auto& [number, f] : referenced_files) {
      if (f.expired()) return true;
    }
    return false;
  }

  // Removes files no live version, log or manifest needs.
  void DeleteObsoleteFiles() {
    // The manifest on disk may name tables of an edit that failed to sync;
    // they go once a new manifest exists without them.
    if (manifest_broken) return;
    std::set<uint64_t> live;
    uint64_t min_log;
    {
      std::lock_guard<std::mutex> l(mu);
      for (const auto& lvl : current->levels) {
        for (const auto& f : lvl) live.insert(f->number);
      }
      for (auto it = referenced_files.begin(); it != referenced_files.end();) {
        if (it->second.expired()) {
          it = referenced_files.erase(it);
        } else {
          live.insert(it->first);
          ++it;
        }
      }
      min_log = imm ? imm_own_log : current_log_number;
    }
    std::vector<std::string> names;
    if (!env->GetChildren(opt.dir, &names).ok()) return;
    for (const std::string& name : names) {
      uint64_t number;
      FileType type;
      if (!ParseFileName(name, &number, &type)) continue;
      bool keep = true;
      switch (type) {
        case FileType::kLogFile:
          keep = number >= min_log;
          break;
        case FileType::kDescriptorFile:
          keep = number >= manifest_number;
          break;
        case FileType::kTableFile:
          keep = live.count(number) > 0;
          // Its cached blocks age out of the LRU; erasing them here would
          // walk the whole block cache under its locks.
          if (!keep) tables->Evict(number);
          break;
        case FileType::kTempFile:
          keep = false;
          break;
        default:
          keep = true;
      }
      if (!keep) (void)env->RemoveFile(opt.dir + "/" + name);
    }
  }

  // ---- background work -------------------------------------------------

  double LevelScore(const Version& v, int level) const {
    if (level == 0) {
      return static_cast<double>(v.levels[0].size()) / opt.level0_compaction_trigger;
    }
    return static_cast<double>(v.LevelBytes(level)) /
           static_cast<double>(MaxBytesForLevel(opt, level));
  }

  bool NeedsCompaction(const Version& v, int* best_level) const {
    double best = 0;
    int lvl = -1;
    for (int level = 0; level < kNumLevels - 1; level++) {
      double s = LevelScore(v, level);
      if (s > best) {
        best = s;
        lvl = level;
      }
    }
    if (best_level) *best_level = lvl;
    return best >= 1.0;
  }

  void BackgroundLoop() {
    std::unique_lock<std::mutex> l(mu);
    bool last_failed = false;
    while (true) {
      int level = -1;
      bool has_imm = imm != nullptr;
      bool compact = manual_compaction || NeedsCompaction(*current, &level);
      // On shutdown, finish flushing imm unless that keeps failing: its WAL
      // is still on disk and recovery replays it.
      if (shutting_down && (!has_imm || last_failed)) break;
      if (paused || (!has_imm && !compact)) {
        bg_busy = false;
        cv.notify_all();
        // Wakes once a second to remove tables that only an old Version
        // held when the last compaction finished, now that its readers are
        // gone; otherwise an idle store would keep them on disk.
        if (cv.wait_for(l, std::chrono::seconds(1)) == std::cv_status::timeout && !paused &&
            !shutting_down && HasReleasedFiles()) {
          bg_busy = true;
          l.unlock();
          DeleteObsoleteFiles();
          l.lock();
          bg_busy = false;
          cv.notify_all();
        }
        continue;
      }
      bg_busy = true;
      stats.compaction_running = true;
      l.unlock();
      Status s;
      if (has_imm) {
        s = FlushImmutable();
      } else if (manual_compaction) {
        s = CompactEverything();
        l.lock();
        manual_compaction = false;
        l.unlock();
      } else {
        s = CompactLevel(level);
      }
      if (s.ok()) DeleteObsoleteFiles();
      l.lock();
      stats.compaction_running = false;
      last_failed = !s.ok();
      if (!s.ok()) {
        // Treated as transient (a full disk, an EIO): the inputs are kept
        // (imm and its WAL, or the compaction's input tables), and the work
        // is retried after a pause. Meanwhile writes stall if imm is stuck.
        bg_error = s;
        stats.last_background_error = s.ToString();
        Info("background error (will retry in 1 s): " + s.ToString());
        manual_compaction = false;
        bg_busy = false;
        cv.notify_all();
        l.unlock();
        if (opt.on_background_done) opt.on_background_done();
        l.lock();
        cv.wait_for(l, std::chrono::seconds(1), [&] { return shutting_down; });
        bg_error = Status::OK();
        continue;
      }
      l.unlock();
      if (opt.on_background_done) opt.on_background_done();
      l.lock();
      cv.notify_all();
    }
    bg_busy = false;
    cv.notify_all();
  }

  // Installs a new version built from `base` minus `removed` plus `added`
  // (level, file), after recording `edit` in the manifest.
  Status Install(VersionEdit* edit, const std::vector<std::pair<int, uint64_t>>& removed,
                 const std::vector<std::pair<int, std::shared_ptr<LiveFile>>>& added,
                 bool clear_imm) {
    std::shared_ptr<const Version> base;
    {
      std::lock_guard<std::mutex> l(mu);
      base = current;
      edit->SetNextFileNumber(next_file_number);
    }
    auto v = std::make_shared<Version>(*base);
    for (const auto& [level, number] : removed) {
      auto& files = v->levels[static_cast<size_t>(level)];
      files.erase(std::remove_if(
                      files.begin(), files.end(),
                      [n = number](const std::shared_ptr<LiveFile>& f) { return f->number == n; }),
                  files.end());
    }
    for (const auto& [level, f] : added) v->levels[static_cast<size_t>(level)].push_back(f);
    SortLevels(v.get());
    if (manifest_broken) {
      // The last edit may or may not be in the old manifest: start a new
      // one from the version we know is right, then apply this edit.
      Status ns = NewManifest(*base, persisted_log_number, edit_last_sequence(edit));
      if (!ns.ok()) return ns;
      manifest_broken = false;
    }
    Status s = WriteManifest(*edit);
    if (!s.ok()) {
      manifest_broken = true;
      return s;
    }
    if (edit->has_log_number()) persisted_log_number = edit->log_number();
    std::lock_guard<std::mutex> l(mu);
    current = v;
    if (clear_imm) imm.reset();
    PublishState();
    return Status::OK();
  }

  Status FlushImmutable() {
    std::shared_ptr<MemTable> m;
    uint64_t next_log;
    {
      std::lock_guard<std::mutex> l(mu);
      m = imm;
      next_log = imm_log_number;
    }
    std::vector<std::shared_ptr<LiveFile>> outputs;
    uint64_t written = 0;
    // Each key's newest entry only: nothing can read the older ones from
    // the new table (Get reads the newest version, and an iterator opened
    // before the flush holds the memtable itself and a Version without the
    // new table). With a hot key space rewritten many times per memtable
    // this shrinks the flush, and every compaction after it, several times
    // over.
    std::unique_ptr<Iterator> it = m->NewNewestIterator();
    it->SeekToFirst();
    Status s = WriteTables(it.get(), false, &outputs, &written, nullptr);
    if (!s.ok()) {
      RemoveTables(outputs);
      return s;
    }
    VersionEdit edit;
    edit.SetLogNumber(next_log);
    {
      std::lock_guard<std::mutex> l(mu);
      edit.SetLastSequence(imm_last_sequence);
    }
    std::vector<std::pair<int, std::shared_ptr<LiveFile>>> added;
    for (const auto& f : outputs) {
      edit.AddFile(0, f->number, f->file_size, f->smallest, f->largest);
      added.emplace_back(0, f);
    }
    SequenceNumber flushed_last;
    {
      std::lock_guard<std::mutex> l(mu);
      flushed_last = imm_last_sequence;
    }
    s = Install(&edit, {}, added, true);
    if (!s.ok()) {
      // After a failed manifest write the edit may be on disk: keep the
      // tables it names. They are deleted once a new manifest exists
      // without them.
      if (!manifest_broken) RemoveTables(outputs);
      return s;
    }
    {
      // The memtable's log is now redundant with a synced table.
      std::lock_guard<std::mutex> l(sync_mu);
      sync_handles.erase(std::remove_if(sync_handles.begin(), sync_handles.end(),
                                        [next_log](const auto& h) { return h.first < next_log; }),
                         sync_handles.end());
    }
    if (owner != nullptr) owner->AdvanceDurable(flushed_last);
    std::lock_guard<std::mutex> l(mu);
    stats.flushes++;
    stats.bytes_written_flush += written;
    return s;
  }

  // True if no level below `level` + 1 holds `user_key`, so a deletion or
  // an expired record of it can be dropped instead of kept as a marker.
  static bool IsBaseLevelForKey(const Version& v, int output_level, std::string_view user_key) {
    for (int l = output_level + 1; l < kNumLevels; l++) {
      for (const auto& f : v.levels[static_cast<size_t>(l)]) {
        if (user_key >= ExtractUserKey(f->smallest) && user_key <= ExtractUserKey(f->largest)) {
          return false;
        }
      }
    }
    return true;
  }

  // Merges `inputs` (level, file) into `output_level`.
  Status Compact(const Version& v,
                 const std::vector<std::pair<int, std::shared_ptr<LiveFile>>>& inputs,
                 int output_level) {
    std::vector<std::unique_ptr<Iterator>> children;
    for (const auto& [level, f] : inputs) {
      children.push_back(tables->NewIterator(f->number, f->file_size, /*compaction=*/true));
    }
    std::unique_ptr<Iterator> merged =
        NewMergingIterator(GetInternalKeyComparator(), std::move(children));
    merged->SeekToFirst();
    const int64_t now_ms = util::WallMs();
    const int64_t gc_ms = opt.tombstone_gc_seconds * 1000;
    std::string current_user_key;
    bool has_current = false;
    RecordView rec;
    auto filter = [&](std::string_view ikey, std::string_view value) -> int {
      ParsedInternalKey p;
      if (!ParseInternalKey(ikey, &p)) return 0;                    // keep what we cannot judge
      if (has_current && p.user_key == current_user_key) return 1;  // older version
      current_user_key.assign(p.user_key.data(), p.user_key.size());
      has_current = true;
      bool base = IsBaseLevelForKey(v, output_level, p.user_key);
      if (p.type == kTypeDeletion) return base ? 1 : 0;
      // DESIGN.md section 4: drop expired versions, and tombstones once
      // older than tombstone-gc-seconds. A dropped newest entry must not
      // uncover an older one below, hence a marker unless this is the
      // base level for the key.
      if (!DecodeRecord(value, &rec).ok()) return 0;
      const VersionView* w = rec.Winner();
      // Expired versions and tombstones stay tombstone-gc-seconds past
      // their expiry or deletion, so a replica that missed the change
      // cannot bring the old value back (DESIGN.md section 4).
      bool dead = w == nullptr || (w->expire_at_ms != 0 && w->expire_at_ms <= now_ms - gc_ms) ||
                  (w->tombstone && w->timestamp_ms <= now_ms - gc_ms);
      if (!dead) return 0;
      return base ? 1 : 2;
    };
    std::vector<std::shared_ptr<LiveFile>> outputs;
    uint64_t written = 0;
    Status s = WriteTables(merged.get(), true, &outputs, &written, filter);
    if (s.ok()) {
      VersionEdit edit;
      std::vector<std::pair<int, uint64_t>> removed;
      for (const auto& [level, f] : inputs) {
        edit.RemoveFile(level, f->number);
        removed.emplace_back(level, f->number);
      }
      std::vector<std::pair<int, std::shared_ptr<LiveFile>>> added;
      for (const auto& f : outputs) {
        edit.AddFile(output_level, f->number, f->file_size, f->smallest, f->largest);
        added.emplace_back(output_level, f);
      }
      s = Install(&edit, removed, added, false);
      if (s.ok()) {
        std::lock_guard<std::mutex> l(mu);
        stats.compactions++;
        stats.bytes_written_compaction += written;
      }
    }
    if (!s.ok() && !manifest_broken) RemoveTables(outputs);
    return s;
  }

  Status CompactLevel(int level) {
    std::shared_ptr<const Version> v;
    {
      std::lock_guard<std::mutex> l(mu);
      v = current;
    }
    std::vector<std::pair<int, std::shared_ptr<LiveFile>>> inputs;
    std::string smallest, largest;
    auto extend = [&](const std::shared_ptr<LiveFile>& f) {
      std::string_view s = ExtractUserKey(f->smallest), g = ExtractUserKey(f->largest);
      if (smallest.empty() && largest.empty()) {
        smallest = s;
        largest = g;
      } else {
        if (s < smallest) smallest = s;
        if (g > largest) largest = g;
      }
    };
    if (level == 0) {
      for (const auto& f : v->levels[0]) {
        inputs.emplace_back(0, f);
        extend(f);
      }
    } else {
      // Round robin through the level, LevelDB's compact pointer.
      const auto& files = v->levels[static_cast<size_t>(level)];
      std::shared_ptr<LiveFile> pick = files.front();
      for (const auto& f : files) {
        if (f->largest > compact_pointer[static_cast<size_t>(level)]) {
          pick = f;
          break;
        }
      }
      compact_pointer[static_cast<size_t>(level)] = pick->largest;
      inputs.emplace_back(level, pick);
      extend(pick);
    }
    std::vector<std::shared_ptr<LiveFile>> next = v->Overlapping(level + 1, smallest, largest);
    if (level > 0 && next.empty()) {
      // Trivial move: nothing to merge with, so relink the file one level
      // down without rewriting it.
      VersionEdit edit;
      edit.RemoveFile(level, inputs[0].second->number);
      const auto& f = inputs[0].second;
      edit.AddFile(level + 1, f->number, f->file_size, f->smallest, f->largest);
      return Install(&edit, {{level, f->number}}, {{level + 1, f}}, false);
    }
    for (const auto& f : next) inputs.emplace_back(level + 1, f);
    return Compact(*v, inputs, level + 1);
  }

  Status CompactEverything() {
    // One merge of every table into the deepest populated level (at least
    // level 1): drops every obsolete version, deletion and expired record.
    std::shared_ptr<const Version> v;
    {
      std::lock_guard<std::mutex> l(mu);
      v = current;
    }
    int last = 0;
    size_t files = 0;
    for (int level = 0; level < kNumLevels; level++) {
      if (!v->levels[static_cast<size_t>(level)].empty()) last = level;
      files += v->levels[static_cast<size_t>(level)].size();
    }
    if (files == 0) return Status::OK();
    int target = std::max(last, 1);
    std::vector<std::pair<int, std::shared_ptr<LiveFile>>> inputs;
    for (int level = 0; level <= target; level++) {
      for (const auto& f : v->levels[static_cast<size_t>(level)]) inputs.emplace_back(level, f);
    }
    return Compact(*v, inputs, target);
  }
};

namespace {

// Turns the merged stream of internal entries into the user's view: the
// newest entry of each storage key at the snapshot, deletions hidden.
class DbIterator final : public Iterator {
 public:
  DbIterator(std::unique_ptr<Iterator> internal, SequenceNumber snapshot,
             std::shared_ptr<MemTable> mem, std::shared_ptr<MemTable> imm,
             std::shared_ptr<const Version> version)
      : it_(std::move(internal)),
        snapshot_(snapshot),
        mem_(std::move(mem)),
        imm_(std::move(imm)),
        version_(std::move(version)) {}

  bool Valid() const override { return valid_; }
  void SeekToFirst() override {
    it_->SeekToFirst();
    FindNextUserEntry(false);
  }
  void Seek(std::string_view target) override {
    seek_key_.clear();
    AppendInternalKey(&seek_key_, target, snapshot_, kValueTypeForSeek);
    it_->Seek(seek_key_);
    FindNextUserEntry(false);
  }
  void Next() override {
    // Skip every remaining entry of the current key.
    FindNextUserEntry(true);
  }
  std::string_view key() const override { return key_; }
  std::string_view value() const override { return it_->value(); }
  util::Status status() const override { return it_->status(); }

 private:
  void FindNextUserEntry(bool skipping_current) {
    valid_ = false;
    if (skipping_current) it_->Next();
    while (it_->Valid()) {
      ParsedInternalKey p;
      if (!ParseInternalKey(it_->key(), &p)) {
        it_->Next();
        continue;
      }
      if (p.sequence > snapshot_ || (skipping_current && p.user_key == key_)) {
        it_->Next();
        continue;
      }
      key_.assign(p.user_key.data(), p.user_key.size());
      skipping_current = true;
      if (p.type == kTypeDeletion) {
        it_->Next();
        continue;
      }
      valid_ = true;
      return;
    }
  }

  std::unique_ptr<Iterator> it_;
  SequenceNumber snapshot_;
  std::shared_ptr<MemTable> mem_;
  std::shared_ptr<MemTable> imm_;
  std::shared_ptr<const Version> version_;
  std::string key_;
  std::string seek_key_;
  bool valid_ = false;
};

}  // namespace

LsmEngine::LsmEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LsmEngine::~LsmEngine() {
  Impl& d = *impl_;
  {
    std::lock_guard<std::mutex> l(d.mu);
    d.shutting_down = true;
    d.cv.notify_all();
  }
  if (d.bg.joinable()) d.bg.join();
  if (d.log_file) {
    (void)d.log_file->Flush();
    (void)d.log_file->Sync();
    (void)d.log_file->Close();
  }
  if (d.manifest_file) (void)d.manifest_file->Close();
}

Status LsmEngine::Open(const LsmOptions& options, std::unique_ptr<LsmEngine>* out) {
  Status valid = ValidateOptions(options);
  if (!valid.ok()) return valid;
  auto impl = std::make_unique<Impl>();
  Impl& d = *impl;
  d.opt = options;
  d.env = options.env ? options.env : Env::Default();
  d.topt.block_size = options.block_size;
  d.topt.bloom_bits_per_key = options.bloom_bits_per_key;
  d.topt.compression = options.compression;
  d.cache = std::make_unique<BlockCache>(options.block_cache_bytes);
  d.tables = std::make_unique<TableCache>(d.env, options.dir, d.topt, d.cache.get(),
                                          options.table_cache_size);
  const std::string& dir = options.dir;
  Status s = d.env->CreateDir(dir);
  if (!s.ok() && !d.env->FileExists(dir)) return s;
  s = d.env->LockFile(LockFileName(dir), &d.lock_fd);
  if (!s.ok()) {
    return Status::IOError("cannot lock " + LockFileName(dir) +
                           " (is another kv-server using this dir?): " + s.message());
  }

  // What is in the directory decides between a new store and recovery.
  std::vector<std::string> names;
  s = d.env->GetChildren(dir, &names);
  if (!s.ok()) return s;
  std::vector<uint64_t> logs;
  bool has_data = false;
  for (const std::string& name : names) {
    uint64_t number;
    FileType type;
    if (!ParseFileName(name, &number, &type)) continue;
    if (type == FileType::kLogFile) logs.push_back(number);
    if (type == FileType::kLogFile || type == FileType::kTableFile ||
        type == FileType::kDescriptorFile) {
      has_data = true;
    }
  }
  std::sort(logs.begin(), logs.end());

  auto version = std::make_shared<Version>();
  uint64_t log_number = 0;
  SequenceNumber last_sequence = 0;
  uint64_t next_file = 2;
  if (!d.env->FileExists(CurrentFileName(dir))) {
    if (has_data) {
      return Status::Corruption("CURRENT is missing in " + dir +
                                " but data files exist; refusing to start with an empty store. "
                                "Restore CURRENT (it names the newest MANIFEST-* file) or move "
                                "the directory away to start empty.");
    }
  } else {
    std::string manifest_name;
    s = ReadCurrentFile(d.env, dir, &manifest_name);
    if (!s.ok()) return s;
    std::unique_ptr<SequentialFile> mf;
    s = d.env->NewSequentialFile(dir + "/" + manifest_name, &mf);
    if (!s.ok()) return s;
    LogReporter reporter(manifest_name);
    log::Reader reader(mf.get(), &reporter, true);
    std::string_view rec;
    std::string scratch;
    std::map<uint64_t, std::pair<int, FileMetaData>> files;
    bool saw_comparator = false;
    while (reader.ReadRecord(&rec, &scratch)) {
      VersionEdit edit;
      s = edit.DecodeFrom(rec);
      if (!s.ok()) return Status::Corruption(manifest_name + ": " + s.message());
      if (edit.has_comparator()) {
        saw_comparator = true;
        if (edit.comparator() != GetInternalKeyComparator()->Name()) {
          return Status::InvalidArgument(manifest_name + " was written with comparator " +
                                         edit.comparator());
        }
      }
      if (edit.has_log_number()) log_number = edit.log_number();
      if (edit.has_next_file_number()) next_file = std::max(next_file, edit.next_file_number());
      if (edit.has_last_sequence()) last_sequence = std::max(last_sequence, edit.last_sequence());
      for (const auto& [level, number] : edit.deleted_files()) files.erase(number);
      for (const auto& [level, meta] : edit.new_files()) files[meta.number] = {level, meta};
    }
    if (!reporter.status.ok()) return reporter.status;
    if (!reader.status().ok()) {
      return Status::Corruption(manifest_name + ": " + reader.status().message());
    }
    if (!saw_comparator) return Status::Corruption(manifest_name + ": no comparator record");
    for (const auto& [number, lf] : files) {
      if (lf.first < 0 || lf.first >= kNumLevels) {
        return Status::Corruption(manifest_name + ": table " + FileNumberText(number) +
                                  " at level " + std::to_string(lf.first));
      }
      auto f = std::make_shared<LiveFile>();
      f->number = number;
      f->file_size = lf.second.file_size;
      f->smallest = lf.second.smallest;
      f->largest = lf.second.largest;
      s = d.OpenTable(f);
      if (!s.ok())
        return Status::Corruption("opening table " + FileNumberText(number) +
                                  ".sst: " + s.message());
      version->levels[static_cast<size_t>(lf.first)].push_back(f);
      next_file = std::max(next_file, number + 1);
    }
  }
  SortLevels(version.get());
  for (uint64_t n : logs) next_file = std::max(next_file, n + 1);
  d.next_file_number = next_file;
  d.current = version;

  // Replay the WALs the manifest does not cover, oldest first.
  auto recovered = std::make_shared<MemTable>(GetInternalKeyComparator());
  for (uint64_t number : logs) {
    if (number < log_number) continue;
    std::string path = LogFileName(dir, number);
    std::unique_ptr<SequentialFile> lf;
    s = d.env->NewSequentialFile(path, &lf);
    if (!s.ok()) return s;
    LogReporter reporter(path);
    log::Reader reader(lf.get(), &reporter, true);
    std::string_view rec;
    std::string scratch;
    WriteBatch batch;
    uint64_t records = 0;
    while (reader.ReadRecord(&rec, &scratch)) {
      if (rec.size() < 12) {
        reporter.Corruption(rec.size(), Status::Corruption("WAL record too small"));
        continue;
      }
      s = batch.SetContents(rec);
      MemTableInserter inserter(recovered.get(), batch.Sequence());
      if (s.ok()) s = batch.Iterate(&inserter);
      if (!s.ok()) {
        reporter.Corruption(rec.size(), s);
        continue;
      }
      last_sequence = std::max(last_sequence, inserter.next() - 1);
      records++;
    }
    if (!reporter.status.ok()) {
      // Records after the damage exist, so this is not a torn write: data
      // that was acknowledged is unreadable. Refuse rather than drop it.
      return Status::Corruption("WAL " + path + ": " + reporter.status.message() +
                                "; refusing to start. Move the file away to accept losing the "
                                "writes it holds after the damaged record.");
    }
    if (!reader.status().ok()) {
      // A read error or a record type from a newer format: never truncate
      // what we could not read.
      return Status::Corruption(path + ": " + reader.status().message());
    }
    uint64_t good_end = reader.LastRecordEndOffset();
    uint64_t size = 0;
    if (d.env->GetFileSize(path, &size).ok() && size > good_end) {
      d.Info("WAL " + path + ": torn tail of " + std::to_string(size - good_end) +
             " bytes after offset " + std::to_string(good_end) + " truncated");
      (void)d.env->TruncateFile(path, good_end);
    }
    d.Info("replayed " + std::to_string(records) + " WAL records from " + path);
  }

  // New WAL, then a fresh manifest that makes the recovered state durable.
  std::unique_ptr<LsmEngine> engine(new LsmEngine(std::move(impl)));
  Impl& e = *engine->impl_;
  e.owner = engine.get();
  engine->last_sequence_ = last_sequence;
  if (recovered->NumEntries() > 0) {
    std::vector<std::shared_ptr<LiveFile>> outputs;
    uint64_t written = 0;
    std::unique_ptr<Iterator> it = recovered->NewNewestIterator();  // as FlushImmutable
    it->SeekToFirst();
    s = e.WriteTables(it.get(), false, &outputs, &written, nullptr);
    if (!s.ok()) return s;
    auto v = std::make_shared<Version>(*e.current);
    for (const auto& f : outputs) v->levels[0].insert(v->levels[0].begin(), f);
    e.current = v;
    e.stats.bytes_written_flush += written;
  }
  e.log_number = e.NewFileNumber();
  e.current_log_number = e.log_number;
  s = e.env->NewWritableFile(LogFileName(dir, e.log_number), &e.log_file);
  if (!s.ok()) return s;
  e.log = std::make_unique<log::Writer>(e.log_file.get(), 0);
  std::shared_ptr<WritableFile> sync_handle;
  {
    std::unique_ptr<WritableFile> h;
    s = e.env->NewAppendableFile(LogFileName(dir, e.log_number), &h);
    if (!s.ok()) return s;
    sync_handle = std::move(h);
  }
  e.sync_handles.emplace_back(e.log_number, sync_handle);
  s = e.NewManifest(*e.current, e.log_number, last_sequence);
  if (!s.ok()) return s;
  e.persisted_log_number = e.log_number;
  (void)e.env->SyncDir(dir);
  e.DeleteObsoleteFiles();
  e.mem = std::make_shared<MemTable>(GetInternalKeyComparator());
  engine->durable_sequence_ = last_sequence;
  e.flushed_sequence = last_sequence;
  {
    std::lock_guard<std::mutex> l(e.mu);
    e.PublishState();
  }
  e.bg = std::thread([&e] { e.BackgroundLoop(); });
  *out = std::move(engine);
  return Status::OK();
}

Status LsmEngine::Get(std::string_view skey, std::string_view* value, std::string* scratch) {
  Impl& d = *impl_;
  bool deleted = false;
  if (d.mem->Get(skey, last_sequence_, value, &deleted)) {
    return deleted ? Status::NotFound("") : Status::OK();
  }
  uint64_t gen = d.generation.load(std::memory_order_acquire);
  if (gen != d.held_generation) {
    std::lock_guard<std::mutex> l(d.mu);
    d.held_imm = d.imm;
    d.held_version = d.current;
    d.held_generation = d.generation.load(std::memory_order_relaxed);
  }
  if (d.held_imm && d.held_imm->Get(skey, last_sequence_, value, &deleted)) {
    return deleted ? Status::NotFound("") : Status::OK();
  }
  std::string target;
  AppendInternalKey(&target, skey, last_sequence_, kValueTypeForSeek);
  std::string found_key;
  auto probe = [&](const LiveFile& f, bool* done) -> Status {
    bool found = false, bloom_skipped = false;
    std::shared_ptr<Table> table;
    Status s = d.tables->Find(f.number, f.file_size, &table);
    if (!s.ok()) return s;
    s = table->Get(target, &found, &found_key, scratch, &bloom_skipped);
    d.bloom_checked.fetch_add(1, std::memory_order_relaxed);
    if (bloom_skipped) d.bloom_useful.fetch_add(1, std::memory_order_relaxed);
    if (!found && !bloom_skipped) d.bloom_false_positives.fetch_add(1, std::memory_order_relaxed);
    if (!s.ok()) return s;
    if (!found) return Status::OK();
    ParsedInternalKey p;
    if (!ParseInternalKey(found_key, &p) || p.user_key != skey) return Status::OK();
    *done = true;
    if (p.type == kTypeDeletion) return Status::NotFound("");
    *value = *scratch;
    return Status::OK();
  };
  const Version& v = *d.held_version;
  for (const auto& f : v.levels[0]) {
    if (skey < ExtractUserKey(f->smallest) || skey > ExtractUserKey(f->largest)) continue;
    bool done = false;
    Status s = probe(*f, &done);
    if (!s.ok() || done) return s;
  }
  for (int level = 1; level < kNumLevels; level++) {
    const auto& files = v.levels[static_cast<size_t>(level)];
    auto it = std::lower_bound(files.begin(), files.end(), skey,
                               [](const std::shared_ptr<LiveFile>& f, std::string_view k) {
                                 return ExtractUserKey(f->largest) < k;
                               });
    if (it == files.end() || skey < ExtractUserKey((*it)->smallest)) continue;
    bool done = false;
    Status s = probe(**it, &done);
    if (!s.ok() || done) return s;
  }
  return Status::NotFound("");
}

void LsmEngine::Prefetch(const std::string_view* skeys, size_t n) {
  impl_->mem->Prefetch(skeys, n);
}

Status LsmEngine::Put(std::string_view skey, std::string_view value, int64_t) {
  Impl& d = *impl_;
  SequenceNumber seq = last_sequence_ + 1;
  d.batch.Clear();
  d.batch.Put(skey, value);
  d.batch.SetSequence(seq);
  Status s = d.log->AddRecord(d.batch.Contents());
  if (!s.ok()) return s;
  d.wal_bytes += d.batch.Contents().size();
  d.log_bytes_current += d.batch.Contents().size();
  d.mem->Add(seq, kTypeValue, skey, value);
  last_sequence_ = seq;
  d.user_bytes += skey.size() + value.size();
  return MakeRoomForWrite();
}

Status LsmEngine::Delete(std::string_view skey) {
  Impl& d = *impl_;
  SequenceNumber seq = last_sequence_ + 1;
  d.batch.Clear();
  d.batch.Delete(skey);
  d.batch.SetSequence(seq);
  Status s = d.log->AddRecord(d.batch.Contents());
  if (!s.ok()) return s;
  d.wal_bytes += d.batch.Contents().size();
  d.log_bytes_current += d.batch.Contents().size();
  d.mem->Add(seq, kTypeDeletion, skey, "");
  last_sequence_ = seq;
  d.user_bytes += skey.size();
  return MakeRoomForWrite();
}

Status LsmEngine::SwitchLog() {
  Impl& d = *impl_;
  uint64_t number = d.NewFileNumber();
  std::unique_ptr<WritableFile> file;
  Status s = d.env->NewWritableFile(LogFileName(d.opt.dir, number), &file);
  if (!s.ok()) return s;
  std::unique_ptr<WritableFile> handle;
  s = d.env->NewAppendableFile(LogFileName(d.opt.dir, number), &handle);
  if (!s.ok()) return s;
  // Everything in the old log reaches the OS before we stop writing it; a
  // pending SyncWal still fsyncs it through its own handle.
  s = d.log_file->Flush();
  if (!s.ok()) return s;
  d.flushed_sequence = last_sequence_;
  {
    std::lock_guard<std::mutex> l(d.sync_mu);
    d.sync_handles.emplace_back(number, std::shared_ptr<WritableFile>(std::move(handle)));
  }
  (void)d.log_file->Close();
  d.imm_log_bytes = d.log_bytes_current;
  d.log_bytes_current = 0;
  d.log_file = std::move(file);
  d.log = std::make_unique<log::Writer>(d.log_file.get(), 0);
  d.log_number = number;
  return Status::OK();
}

Status LsmEngine::MakeRoomForWrite() {
  Impl& d = *impl_;
  if (d.mem->ApproximateMemoryUsage() < d.opt.memtable_bytes) return Status::OK();
  {
    std::lock_guard<std::mutex> l(d.mu);
    if (d.imm) {
      // The previous memtable is still being flushed: keep writing into
      // this one; WriteStalled() tells the server to stop taking writes.
      return Status::OK();
    }
  }
  return FreezeMemtable();
}

Status LsmEngine::FreezeMemtable() {
  Impl& d = *impl_;
  uint64_t old_log = d.log_number;
  Status s = SwitchLog();
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> l(d.mu);
  d.imm = d.mem;
  d.imm_own_log = old_log;
  d.imm_log_number = d.log_number;
  d.imm_last_sequence = last_sequence_;
  d.current_log_number = d.log_number;
  d.mem = std::make_shared<MemTable>(GetInternalKeyComparator(), d.imm->NumKeys());
  d.PublishState();
  d.cv.notify_all();
  return Status::OK();
}

bool LsmEngine::WriteStalled() const {
  Impl& d = *impl_;
  if (d.imm_present.load(std::memory_order_acquire) &&
      d.mem->ApproximateMemoryUsage() >= d.opt.memtable_bytes) {
    return true;
  }
  return d.level0_files.load(std::memory_order_acquire) >= d.opt.level0_stop_writes;
}

Status LsmEngine::FlushWal() {
  Impl& d = *impl_;
  if (d.flushed_sequence.load(std::memory_order_relaxed) == last_sequence_) return Status::OK();
  Status s = d.log_file->Flush();
  if (s.ok()) d.flushed_sequence.store(last_sequence_, std::memory_order_release);
  return s;
}

Status LsmEngine::SyncWal(SequenceNumber* durable) {
  Impl& d = *impl_;
  SequenceNumber target = d.flushed_sequence.load(std::memory_order_acquire);
  std::vector<std::pair<uint64_t, std::shared_ptr<WritableFile>>> handles;
  {
    std::lock_guard<std::mutex> l(d.sync_mu);
    handles = d.sync_handles;
  }
  for (const auto& h : handles) {
    Status s = h.second->Sync();
    if (!s.ok()) return s;
  }
  if (handles.size() > 1) {
    // Logs older than the newest one are synced for good.
    uint64_t newest = handles.back().first;
    std::lock_guard<std::mutex> l(d.sync_mu);
    d.sync_handles.erase(std::remove_if(d.sync_handles.begin(), d.sync_handles.end(),
                                        [newest](const auto& h) { return h.first < newest; }),
                         d.sync_handles.end());
  }
  SequenceNumber prev = durable_sequence_.load();
  while (prev < target && !durable_sequence_.compare_exchange_weak(prev, target)) {
  }
  *durable = durable_sequence_.load();
  return Status::OK();
}

Status LsmEngine::Clear() {
  Impl& d = *impl_;
  WaitForBackgroundWork();
  std::shared_ptr<const Version> v;
  {
    // A failed flush or compaction may be waiting for its retry: hold the
    // background thread off so it cannot install anything between here
    // and the edit below.
    std::unique_lock<std::mutex> l(d.mu);
    d.HoldBackground(l);
    v = d.current;
  }
  struct Resume {
    Impl& d;
    ~Resume() { d.ResumeBackground(); }
  } resume{d};
  // Deletions must not come back after a crash: a new WAL and a manifest
  // edit removing every table, synced, before anything is deleted.
  Status s = SwitchLog();
  if (!s.ok()) return s;
  VersionEdit edit;
  std::vector<std::pair<int, uint64_t>> removed;
  for (int level = 0; level < kNumLevels; level++) {
    for (const auto& f : v->levels[static_cast<size_t>(level)]) {
      edit.RemoveFile(level, f->number);
      removed.emplace_back(level, f->number);
    }
  }
  edit.SetLogNumber(d.log_number);
  edit.SetLastSequence(last_sequence_);
  s = d.Install(&edit, removed, {}, false);
  if (!s.ok()) return s;
  v.reset();  // or its tables would outlive the clear
  {
    std::lock_guard<std::mutex> l(d.mu);
    d.mem = std::make_shared<MemTable>(GetInternalKeyComparator());
    // A memtable whose flush failed is cleared too; the edit above made its
    // log obsolete.
    d.imm.reset();
    d.PublishState();
    d.current_log_number = d.log_number;
  }
  ReleaseReadState();
  d.DeleteObsoleteFiles();
  return Status::OK();
}

std::unique_ptr<Iterator> LsmEngine::NewIterator() {
  Impl& d = *impl_;
  std::shared_ptr<MemTable> imm;
  std::shared_ptr<const Version> v;
  {
    std::lock_guard<std::mutex> l(d.mu);
    imm = d.imm;
    v = d.current;
  }
  std::vector<std::unique_ptr<Iterator>> children;
  // An empty memtable holds nothing this iterator may see (later writes get
  // sequences above its snapshot) but would put a merge step on every entry.
  if (d.mem->NumEntries() > 0) children.push_back(d.mem->NewIterator());
  if (imm) children.push_back(imm->NewIterator());
  for (const auto& f : v->levels[0]) {
    children.push_back(d.tables->NewIterator(f->number, f->file_size));
  }
  for (int level = 1; level < kNumLevels; level++) {
    if (!v->levels[static_cast<size_t>(level)].empty()) {
      children.push_back(NewLevelIterator(v->levels[static_cast<size_t>(level)], d.tables.get()));
    }
  }
  auto merged = NewMergingIterator(GetInternalKeyComparator(), std::move(children));
  return std::make_unique<DbIterator>(std::move(merged), last_sequence_, d.mem, imm, v);
}

EngineStats LsmEngine::Stats() const {
  LsmStats s = GetStats();
  EngineStats e;
  e.keys = s.estimated_keys;
  e.data_bytes = s.disk_bytes + s.memtable_bytes;
  return e;
}

size_t LsmEngine::DeleteExpiredSample(int64_t, size_t, size_t* sampled) {
  // Expired versions are dropped by compaction and hidden on read.
  *sampled = 0;
  return 0;
}

LsmStats LsmEngine::GetStats() const {
  Impl& d = *impl_;
  LsmStats s;
  {
    std::lock_guard<std::mutex> l(d.mu);
    s = d.stats;
    s.immutable_memtable_bytes = d.imm ? d.imm->ApproximateMemoryUsage() : 0;
    s.levels = kNumLevels;
    uint64_t entries = d.imm ? d.imm->NumEntries() : 0;
    for (int level = 0; level < kNumLevels; level++) {
      const auto& files = d.current->levels[static_cast<size_t>(level)];
      s.files_per_level.push_back(files.size());
      s.bytes_per_level.push_back(d.current->LevelBytes(level));
      s.disk_bytes += d.current->LevelBytes(level);
      for (const auto& f : files) entries += f->num_entries;
    }
    s.compaction_pending = d.imm != nullptr || d.NeedsCompaction(*d.current, nullptr);
    s.estimated_keys = entries;
  }
  s.memtable_bytes = d.mem->ApproximateMemoryUsage();
  s.estimated_keys += d.mem->NumEntries();
  s.user_bytes_written = d.user_bytes;
  s.wal_bytes = d.wal_bytes;
  s.disk_bytes += d.log_bytes_current + (s.immutable_memtable_bytes ? d.imm_log_bytes.load() : 0);
  s.write_stalled = WriteStalled();
  s.bloom_checked = d.bloom_checked.load();
  s.bloom_useful = d.bloom_useful.load();
  s.bloom_false_positives = d.bloom_false_positives.load();
  s.block_cache_hits = d.cache->hits();
  s.block_cache_misses = d.cache->misses();
  s.table_cache_open = d.tables->open_tables();
  s.table_cache_capacity = d.tables->capacity();
  s.table_cache_hits = d.tables->hits();
  s.table_cache_misses = d.tables->misses();
  s.table_cache_memory = d.tables->MemoryUsage();
  return s;
}

void LsmEngine::ReleaseReadState() {
  Impl& d = *impl_;
  d.held_version.reset();
  d.held_imm.reset();
  d.held_generation = UINT64_MAX;
}

void LsmEngine::WaitForBackgroundWork() {
  Impl& d = *impl_;
  // Tables replaced meanwhile leave the disk now rather than at the
  // background thread's next idle tick.
  ReleaseReadState();
  std::unique_lock<std::mutex> l(d.mu);
  d.cv.notify_all();
  d.cv.wait(l, [&] {
    if (!d.bg_error.ok() && !d.bg_busy) return true;  // failed; retrying later
    return !d.bg_busy && d.imm == nullptr && !d.manual_compaction &&
           !d.NeedsCompaction(*d.current, nullptr);
  });
  if (d.shutting_down || !d.HasReleasedFiles()) return;
  d.HoldBackground(l);
  l.unlock();
  d.DeleteObsoleteFiles();
  d.ResumeBackground();
}

Status LsmEngine::CompactAll() {
  Impl& d = *impl_;
  // Flush the memtable first so everything is in tables.
  if (d.mem->NumEntries() > 0) {
    WaitForBackgroundWork();
    {
      std::lock_guard<std::mutex> l(d.mu);
      // A flush that failed is still waiting for its retry: do not stack a
      // second memtable on it.
      if (d.imm) return d.bg_error.ok() ? Status::Busy("a flush is pending") : d.bg_error;
    }
    Status s = FreezeMemtable();
    if (!s.ok()) return s;
  }
  WaitForBackgroundWork();
  {
    std::lock_guard<std::mutex> l(d.mu);
    d.manual_compaction = true;
    d.cv.notify_all();
  }
  WaitForBackgroundWork();
  std::lock_guard<std::mutex> l(d.mu);
  return d.bg_error;
}

}  // namespace kv::storage
