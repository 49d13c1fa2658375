// LsmEngine at the engine level, on real files in a temporary directory:
// point operations and reopen at every stage of a key's life (WAL only,
// flushed, compacted, cleared), iteration and Seek across every layer,
// what compaction drops and what it must not resurrect, manifest replay,
// recovery from damaged files, and durability under injected power loss.
// Options are tiny (64 KiB memtables and tables, 256 KiB level 1) so
// flushes and compactions happen with a few thousand keys.
#include "storage/lsm_engine.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../test_util.h"
#include "storage/fault_env.h"
#include "storage/filename.h"
#include "storage/record.h"
#include "util/clock.h"
#include "util/random.h"

namespace kv::storage {
namespace {

namespace fs = std::filesystem;
using test::Escape;
using util::Status;

#define LSMT_REQUIRE_OK(expr)                                    \
  do {                                                           \
    const Status lsmt_status_ = (expr);                          \
    REQUIRE_MESSAGE(lsmt_status_.ok(), lsmt_status_.ToString()); \
  } while (0)

// ---- helpers ---------------------------------------------------------------

// A temp dir: $TMPDIR if set, else tmpfs when there is one (these tests
// fsync thousands of times, milliseconds each on a real disk; durability
// itself is checked with FaultInjectionEnv), else /tmp.
class TempDir {
 public:
  TempDir() {
    std::string base = "/tmp";
    if (const char* t = getenv("TMPDIR"); t != nullptr && *t != '\0') {
      base = t;
    } else if (access("/dev/shm", W_OK) == 0) {
      base = "/dev/shm";
    }
    std::string tmpl = base + "/kv-lsm-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // The engine's data directory (created by Open).
  std::string db() const { return path_ + "/db"; }

 private:
  std::string path_;
};

LsmOptions SmallOptions(const std::string& dir) {
  LsmOptions o;
  o.dir = dir;
  o.memtable_bytes = 64 << 10;
  o.target_file_bytes = 64 << 10;
  o.level1_max_bytes = 256 << 10;
  o.block_cache_bytes = 256 << 10;
  return o;
}

uint64_t MaxBytesForLevel(const LsmOptions& o, int level) {
  uint64_t n = o.level1_max_bytes;
  for (int l = 1; l < level; l++) n *= 10;
  return n;
}

// Storage keys ordered like i: the slot grows with i, the user key too.
std::string Key(uint64_t i) {
  char buf[32];
  snprintf(buf, sizeof(buf), "key:%08" PRIu64, i);
  std::string out;
  MakeStorageKey(static_cast<uint16_t>((i / 1024) % 16384), buf, &out);
  return out;
}

// `n` printable pseudo-random bytes (snappy barely shrinks them, so table
// sizes follow the data).
std::string Payload(util::Random& rnd, size_t n) {
  std::string s(n, ' ');
  for (auto& c : s) c = static_cast<char>('a' + rnd.Uniform(26));
  return s;
}

// An encoded record (record.h) as the keyspace stores it: one sibling.
std::string Record(std::string_view payload, int64_t expire_at_ms = 0, bool tombstone = false,
                   int64_t timestamp_ms = 0) {
  static uint64_t counter = 0;
  VersionView v;
  v.dot = Dot{7, ++counter};
  v.timestamp_ms = timestamp_ms != 0 ? timestamp_ms : util::WallMs();
  v.expire_at_ms = expire_at_ms;
  v.tombstone = tombstone;
  v.value = payload;
  std::string out;
  EncodeSingleVersion({v.dot}, v, &out);
  return out;
}

std::string ExpiredRecord(std::string_view payload) {
  return Record(payload, util::WallMs() - 60'000);
}
std::string OldTombstone() { return Record("", 0, true, util::WallMs() - 60'000); }

std::string Short(std::string_view s) {
  if (s.size() <= 40) return Escape(s);
  return Escape(s.substr(0, 40)) + "...(" + std::to_string(s.size()) + " bytes)";
}

struct Got {
  Status status;
  std::string value;
};

Got GetValue(LsmEngine& db, std::string_view key) {
  std::string_view v;
  std::string scratch;
  Got g;
  g.status = db.Get(key, &v, &scratch);
  if (g.status.ok()) g.value.assign(v.data(), v.size());
  return g;
}

std::string Describe(const Got& g) {
  return g.status.ok() ? "value " + Short(g.value) : g.status.ToString();
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

using Model = std::map<std::string, std::string>;

// Every touched key by Get (NotFound if not in the model), then a full
// iteration, against the exact model.
void CheckExact(LsmEngine& db, const Model& model, const std::set<std::string>& touched) {
  std::vector<std::string> errors;
  auto err = [&](std::string e) {
    if (errors.size() < 12) errors.push_back(std::move(e));
  };
  for (const auto& k : touched) {
    Got g = GetValue(db, k);
    auto it = model.find(k);
    if (it == model.end()) {
      if (!g.status.IsNotFound()) err("Get " + Short(k) + ": want NotFound, got " + Describe(g));
    } else if (!g.status.ok() || g.value != it->second) {
      err("Get " + Short(k) + ": want " + Short(it->second) + ", got " + Describe(g));
    }
  }
  std::unique_ptr<Iterator> it = db.NewIterator();
  it->SeekToFirst();
  auto m = model.begin();
  for (; it->Valid(); it->Next()) {
    if (m == model.end()) {
      err("iterator yields extra key " + Short(it->key()));
      break;
    }
    if (it->key() != m->first) {
      err("iterator yields " + Short(it->key()) + ", want " + Short(m->first));
      break;
    }
    if (it->value() != m->second) {
      err("iterator value of " + Short(m->first) + " is " + Short(it->value()) + ", want " +
          Short(m->second));
    }
    ++m;
  }
  if (!it->status().ok()) err("iterator status " + it->status().ToString());
  if (m != model.end() && errors.empty()) err("iterator ended early, missing " + Short(m->first));
  CHECK_MESSAGE(errors.empty(), Join(errors));
}

// Seek(target) lands on the model's first key >= target; a few Next()s too.
void CheckSeek(LsmEngine& db, const Model& model, const std::string& target) {
  std::unique_ptr<Iterator> it = db.NewIterator();
  it->Seek(target);
  auto m = model.lower_bound(target);
  for (int step = 0; step < 4; step++) {
    if (m == model.end()) {
      CHECK_MESSAGE(!it->Valid(), "Seek " << Short(target) << " step " << step << ": extra key "
                                          << Short(it->key()));
      break;
    }
    REQUIRE_MESSAGE(it->Valid(), "Seek " << Short(target) << " step " << step << ": want "
                                         << Short(m->first) << ", status "
                                         << it->status().ToString());
    REQUIRE_MESSAGE(it->key() == m->first, "Seek " << Short(target) << " step " << step << ": got "
                                                   << Short(it->key()) << ", want "
                                                   << Short(m->first));
    CHECK(it->value() == m->second);
    it->Next();
    ++m;
  }
  CHECK(it->status().ok());
}

bool PollUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

struct DirFile {
  std::string name;
  uint64_t number = 0;
  FileType type = FileType::kLockFile;
  uint64_t size = 0;
};

std::vector<DirFile> ListDir(const std::string& dir) {
  std::vector<DirFile> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    DirFile f;
    f.name = e.path().filename().string();
    if (!ParseFileName(f.name, &f.number, &f.type)) continue;
    f.size = e.file_size();
    out.push_back(f);
  }
  std::sort(out.begin(), out.end(),
            [](const DirFile& a, const DirFile& b) { return a.name < b.name; });
  return out;
}

std::vector<DirFile> FilesOfType(const std::string& dir, FileType type) {
  std::vector<DirFile> out;
  for (const auto& f : ListDir(dir)) {
    if (f.type == type) out.push_back(f);
  }
  std::sort(out.begin(), out.end(),
            [](const DirFile& a, const DirFile& b) { return a.number < b.number; });
  return out;
}

uint64_t BytesOfType(const std::string& dir, FileType type) {
  uint64_t n = 0;
  for (const auto& f : FilesOfType(dir, type)) n += f.size;
  return n;
}

uint64_t Sum(const std::vector<uint64_t>& v) {
  uint64_t n = 0;
  for (uint64_t x : v) n += x;
  return n;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteWholeFile(const std::string& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// A store in a temp dir with its exact model.
struct Store {
  TempDir tmp;
  LsmOptions opt;
  std::unique_ptr<LsmEngine> db;
  Model model;
  std::set<std::string> touched;
  uint64_t filler = 0;
  bool honor_stall = true;

  Store() : opt(SmallOptions(tmp.db())) {}

  void Open() {
    db.reset();
    Status s = LsmEngine::Open(opt, &db);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
  }
  void Close() { db.reset(); }
  void Reopen() {
    Close();
    Open();
  }
  // Like the server: no writes while the engine says WriteStalled().
  void WaitWhileStalled() {
    if (!honor_stall || !db->WriteStalled()) return;
    REQUIRE_MESSAGE(PollUntil([&] { return !db->WriteStalled(); }, std::chrono::seconds(20)),
                    "writes stalled for 20 s: " << db->GetStats().last_background_error);
  }
  void Put(const std::string& k, const std::string& v) {
    WaitWhileStalled();
    LSMT_REQUIRE_OK(db->Put(k, v, 0));
    model[k] = v;
    touched.insert(k);
  }
  void Del(const std::string& k) {
    WaitWhileStalled();
    LSMT_REQUIRE_OK(db->Delete(k));
    model.erase(k);
    touched.insert(k);
  }
  void Check() { CheckExact(*db, model, touched); }

  // Writes filler records (in their own slot, part of the model) until the
  // memtable is switched, then waits for the flush and any compaction.
  void ForceFlush(bool wait = true) {
    util::Random rnd(filler + 1);
    uint64_t flushes = db->GetStats().flushes;
    size_t before = db->GetStats().memtable_bytes;
    for (int i = 0; i < 100000; i++) {
      char buf[32];
      snprintf(buf, sizeof(buf), "fill:%08" PRIu64, filler++);
      std::string k;
      MakeStorageKey(9000, buf, &k);
      Put(k, Record(Payload(rnd, 200)));
      LsmStats s = db->GetStats();
      if (s.memtable_bytes < before || s.flushes > flushes || s.immutable_memtable_bytes > 0) break;
      before = s.memtable_bytes;
    }
    if (wait) db->WaitForBackgroundWork();
  }
  std::string dir() const { return opt.dir; }
};

// An Env over Env::Default() with test controls: gates that hold every
// creation of a table (so a flush stays in progress and an immutable
// memtable exists) or of a WAL file (so the loop thread stops inside a
// log switch), and an injected fsync failure for MANIFEST files only.
class ControlledEnv final : public Env {
 public:
  void CloseGate() {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
  }
  void OpenGate() {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = false;
    cv_.notify_all();
  }
  void CloseLogGate() {
    std::lock_guard<std::mutex> l(mu_);
    log_closed_ = true;
  }
  void OpenLogGate() {
    std::lock_guard<std::mutex> l(mu_);
    log_closed_ = false;
    cv_.notify_all();
  }
  int blocked() const {
    std::lock_guard<std::mutex> l(mu_);
    return blocked_;
  }
  void FailManifestSyncs(int n) { fail_manifest_syncs_ = n; }
  int manifest_sync_failures() const { return manifest_sync_failures_; }

  Status NewSequentialFile(const std::string& path, std::unique_ptr<SequentialFile>* out) override {
    return base_->NewSequentialFile(path, out);
  }
  Status NewRandomAccessFile(const std::string& path,
                             std::unique_ptr<RandomAccessFile>* out) override {
    return base_->NewRandomAccessFile(path, out);
  }
  Status NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* out) override {
    auto ends_with = [&](std::string_view suffix) {
      return path.size() > suffix.size() &&
             path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    const bool sst = ends_with(".sst"), log = ends_with(".log");
    if (sst || log) {
      std::unique_lock<std::mutex> l(mu_);
      blocked_++;
      cv_.wait(l, [&] { return !(sst && closed_) && !(log && log_closed_); });
      blocked_--;
    }
    Status s = base_->NewWritableFile(path, out);
    if (s.ok() && path.find("/MANIFEST-") != std::string::npos) {
      *out = std::make_unique<ManifestFile>(this, std::move(*out));
    }
    return s;
  }
  Status NewAppendableFile(const std::string& path, std::unique_ptr<WritableFile>* out) override {
    return base_->NewAppendableFile(path, out);
  }
  bool FileExists(const std::string& path) override { return base_->FileExists(path); }
  Status GetChildren(const std::string& dir, std::vector<std::string>* names) override {
    return base_->GetChildren(dir, names);
  }
  Status RemoveFile(const std::string& path) override { return base_->RemoveFile(path); }
  Status CreateDir(const std::string& path) override { return base_->CreateDir(path); }
  Status GetFileSize(const std::string& path, uint64_t* size) override {
    return base_->GetFileSize(path, size);
  }
  Status RenameFile(const std::string& from, const std::string& to) override {
    return base_->RenameFile(from, to);
  }
  Status TruncateFile(const std::string& path, uint64_t size) override {
    return base_->TruncateFile(path, size);
  }
  Status SyncDir(const std::string& dir) override { return base_->SyncDir(dir); }
  Status LockFile(const std::string& path, int* lock_fd) override {
    return base_->LockFile(path, lock_fd);
  }
  void UnlockFile(int lock_fd) override { base_->UnlockFile(lock_fd); }

 private:
  class ManifestFile final : public WritableFile {
   public:
    ManifestFile(ControlledEnv* env, std::unique_ptr<WritableFile> base)
        : env_(env), base_(std::move(base)) {}
    Status Append(std::string_view data) override { return base_->Append(data); }
    Status Flush() override { return base_->Flush(); }
    Status Sync() override {
      if (env_->fail_manifest_syncs_.load() > 0) {
        env_->fail_manifest_syncs_--;
        env_->manifest_sync_failures_++;
        // Like a failed fsync: the bytes reached the file, durability is unknown.
        (void)base_->Flush();
        return Status::IOError("MANIFEST: EIO (fsync failure injected by the test)");
      }
      return base_->Sync();
    }
    Status Close() override { return base_->Close(); }

   private:
    ControlledEnv* env_;
    std::unique_ptr<WritableFile> base_;
  };

  Env* const base_ = Env::Default();
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool closed_ = false;
  bool log_closed_ = false;
  int blocked_ = 0;
  std::atomic<int> fail_manifest_syncs_{0};
  std::atomic<int> manifest_sync_failures_{0};
};

// Engines (and what their blocked threads reference) that a test had to
// abandon because a call never returned; kept reachable so a leak checker
// stays quiet, never destroyed.
std::vector<std::unique_ptr<LsmEngine>>& Abandoned() {
  static auto* v = new std::vector<std::unique_ptr<LsmEngine>>();
  return *v;
}

// ---- point operations and reopen -------------------------------------------

TEST_CASE("put, get, overwrite and delete, and reopen from the WAL alone returns the same") {
  Store st;
  st.Open();
  st.Put(Key(1), Record("one"));
  st.Put(Key(2), Record("two"));
  st.Put(Key(3), Record("three"));
  st.Check();
  st.Put(Key(2), Record("two, overwritten"));
  st.Del(Key(3));
  st.Del(Key(4));      // never existed: OK
  st.Put(Key(5), "");  // an empty (non-record) value is a value
  st.Put(std::string("\x00\x00", 2), Record("slot 0, empty user key"));
  st.Check();
  LsmStats s = st.db->GetStats();
  CHECK(s.flushes == 0);
  CHECK(Sum(s.files_per_level) == 0);

  st.Reopen();  // everything comes back from the WAL
  st.Check();
  st.Put(Key(3), Record("three, again"));
  st.Del(Key(1));
  st.Reopen();  // now in a level-0 table (the replayed WAL) plus a new WAL
  st.Check();
  st.Reopen();
  st.Check();
}

TEST_CASE("reopen after memtable flushes returns the newest version of every key") {
  const uint64_t seed = test::TestSeed(1101);
  util::Random rnd(seed);
  Store st;
  // Keep every flush in level 0, so a key has versions in several L0 files.
  st.opt.level0_compaction_trigger = 100;
  st.opt.level0_stop_writes = 200;
  st.Open();
  for (int i = 0; i < 3000; i++) {
    uint64_t k = rnd.Uniform(600);
    if (rnd.Uniform(100) < 15) {
      st.Del(Key(k));
    } else {
      st.Put(Key(k), Record(Payload(rnd, 60 + rnd.Uniform(120))));
    }
  }
  st.db->WaitForBackgroundWork();
  LsmStats s = st.db->GetStats();
  CHECK(s.flushes >= 3);
  CHECK(s.files_per_level[0] >= 3);
  CHECK(s.compactions == 0);
  st.Check();
  st.Reopen();
  st.Check();
  st.Reopen();
  st.Check();
}

TEST_CASE("reopen keeps the newest version of a key held by several level-0 files") {
  Store st;
  st.opt.level0_compaction_trigger = 100;
  st.opt.level0_stop_writes = 200;
  st.Open();
  const std::string k = Key(42);
  st.Put(k, Record("version 1 (oldest table)"));
  st.ForceFlush();
  st.Put(k, Record("version 2"));
  st.ForceFlush();
  st.Put(k, Record("version 3 (newest table)"));
  st.ForceFlush();
  REQUIRE(st.db->GetStats().files_per_level[0] >= 3);
  st.Check();
  st.Reopen();
  Got g = GetValue(*st.db, k);
  CHECK_MESSAGE(g.value == st.model[k], "after reopen Get returns " << Describe(g));
  st.Check();
}

TEST_CASE("reopen finds every key of a level whose file numbers are not in key order") {
  // Level 1 gets files [a][b][c][d] numbered in key order by CompactAll; a
  // later level-0 compaction rewrites only [a], which gets the highest
  // number. The reopened level must still be searched in key order.
  util::Random rnd(1102);
  Store st;
  st.Open();
  for (uint64_t i = 0; i < 1500; i++) st.Put(Key(i), Record(Payload(rnd, 100)));
  LSMT_REQUIRE_OK(st.db->CompactAll());
  LsmStats s = st.db->GetStats();
  REQUIRE(s.files_per_level[1] >= 3);
  for (int l = 2; l < s.levels; l++) REQUIRE(s.files_per_level[static_cast<size_t>(l)] == 0);
  // Overwrite only the lowest keys until level 0 compacts into level 1.
  uint64_t compactions = s.compactions;
  for (int round = 0; round < 200 && st.db->GetStats().compactions == compactions; round++) {
    for (uint64_t i = 0; i < 100; i++) st.Put(Key(i), Record(Payload(rnd, 100)));
    st.db->WaitForBackgroundWork();
  }
  REQUIRE(st.db->GetStats().compactions > compactions);
  st.db->WaitForBackgroundWork();
  st.Check();
  st.Reopen();
  st.Check();
  CheckSeek(*st.db, st.model, Key(0));
  CheckSeek(*st.db, st.model, Key(700));
}

TEST_CASE("reopen after CompactAll returns everything") {
  const uint64_t seed = test::TestSeed(1103);
  util::Random rnd(seed);
  Store st;
  st.Open();
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 2500; i++) {
      uint64_t k = rnd.Uniform(1500);
      if (rnd.Uniform(100) < 20) {
        st.Del(Key(k));
      } else {
        st.Put(Key(k), Record(Payload(rnd, rnd.Uniform(200))));
      }
    }
    LSMT_REQUIRE_OK(st.db->CompactAll());
    LsmStats s = st.db->GetStats();
    int populated = 0;
    for (uint64_t n : s.files_per_level) populated += n > 0 ? 1 : 0;
    CHECK(populated <= 1);
    CHECK(s.memtable_bytes < st.opt.memtable_bytes);
    st.Check();
    st.Reopen();
    st.Check();
  }
}

TEST_CASE("Clear removes everything, durably, and later writes survive reopen") {
  util::Random rnd(1104);
  Store st;
  st.Open();
  for (uint64_t i = 0; i < 2000; i++) st.Put(Key(i), Record(Payload(rnd, 100)));
  LSMT_REQUIRE_OK(st.db->CompactAll());
  for (uint64_t i = 1000; i < 2500; i++) st.Put(Key(i), Record(Payload(rnd, 100)));
  st.ForceFlush(false);  // a flush may still be running when Clear starts
  st.Put(Key(7), Record("in the memtable"));
  LSMT_REQUIRE_OK(st.db->Clear());
  st.model.clear();
  st.Check();
  LsmStats s = st.db->GetStats();
  CHECK(Sum(s.files_per_level) == 0);
  CHECK(FilesOfType(st.dir(), FileType::kTableFile).empty());
  st.Reopen();
  st.Check();
  CHECK(Sum(st.db->GetStats().files_per_level) == 0);

  st.Put(Key(3), Record("after clear"));
  st.Put(Key(2100), Record("after clear too"));
  st.Reopen();
  st.Check();
  LSMT_REQUIRE_OK(st.db->CompactAll());
  st.Reopen();
  st.Check();
}

// ---- iteration ---------------------------------------------------------------

TEST_CASE("the iterator merges memtable, immutable memtable, level 0 and deeper levels in order") {
  const uint64_t seed = test::TestSeed(1105);
  util::Random rnd(seed);
  ControlledEnv env;
  Store st;
  st.opt.env = &env;
  st.opt.level0_compaction_trigger = 8;
  st.opt.level0_stop_writes = 20;
  st.Open();
  auto random_ops = [&](int n, uint64_t key_space) {
    for (int i = 0; i < n; i++) {
      uint64_t k = rnd.Uniform(key_space);
      if (rnd.Uniform(100) < 25) {
        st.Del(Key(k));
      } else {
        st.Put(Key(k), Record(Payload(rnd, rnd.Uniform(150))));
      }
    }
  };
  // Deep levels.
  random_ops(4000, 3000);
  LSMT_REQUIRE_OK(st.db->CompactAll());
  // Two level-0 tables with overwrites and deletions of deep keys.
  random_ops(300, 3000);
  st.ForceFlush();
  random_ops(300, 3000);
  st.ForceFlush();
  // An immutable memtable whose flush is held at the gate.
  env.CloseGate();
  random_ops(200, 3000);
  for (int i = 0; i < 100000 && st.db->GetStats().immutable_memtable_bytes == 0; i++) {
    random_ops(1, 3000);
  }
  REQUIRE(PollUntil([&] { return env.blocked() == 1; }, std::chrono::seconds(10)));
  // And the memtable on top.
  random_ops(150, 3000);

  LsmStats s = st.db->GetStats();
  CHECK(s.memtable_bytes > 0);
  CHECK(s.immutable_memtable_bytes > 0);
  CHECK(s.files_per_level[0] >= 2);
  uint64_t deep = 0;
  for (int l = 1; l < s.levels; l++) deep += s.files_per_level[static_cast<size_t>(l)];
  CHECK(deep > 0);

  st.Check();
  std::vector<std::string> targets = {
      "", std::string("\x00", 1), std::string("\xff\xff", 2), Key(0), Key(2999), Key(3000)};
  for (int i = 0; i < 200; i++) {
    std::string t = Key(rnd.Uniform(3100));
    switch (rnd.Uniform(4)) {
      case 0:
        t.pop_back();  // a prefix: before the key
        break;
      case 1:
        t.push_back('\0');  // just after the key
        break;
      case 2:
        t.resize(2);  // a bare slot
        break;
      default:
        break;
    }
    targets.push_back(t);
  }
  for (const auto& t : targets) CheckSeek(*st.db, st.model, t);

  env.OpenGate();
  st.db->WaitForBackgroundWork();
  st.Check();
  st.Reopen();
  st.Check();
  for (size_t i = 0; i < targets.size(); i += 5) CheckSeek(*st.db, st.model, targets[i]);
}

// ---- compaction --------------------------------------------------------------

TEST_CASE("compaction drops obsolete versions: disk bytes shrink after overwrites and CompactAll") {
  util::Random rnd(1106);
  Store st;
  st.opt.level0_compaction_trigger = 1000;  // let the garbage pile up in level 0
  st.opt.level0_stop_writes = 2000;
  st.Open();
  for (int round = 0; round < 25; round++) {
    for (uint64_t i = 0; i < 400; i++) st.Put(Key(i), Record(Payload(rnd, 120)));
  }
  st.db->WaitForBackgroundWork();
  const uint64_t before = BytesOfType(st.dir(), FileType::kTableFile);
  LSMT_REQUIRE_OK(st.db->CompactAll());
  const uint64_t after = BytesOfType(st.dir(), FileType::kTableFile);
  MESSAGE("table bytes before CompactAll " << before << ", after " << after);
  CHECK(before > 1000000);
  CHECK(after * 10 < before);
  CHECK(after < 400 * 200);
  CHECK(st.db->GetStats().estimated_keys == 400);
  st.Check();
  st.Reopen();
  st.Check();
}

TEST_CASE("compaction drops deletions at the bottom level") {
  util::Random rnd(1107);
  Store st;
  st.Open();
  for (uint64_t i = 0; i < 1000; i++) st.Put(Key(i), Record(Payload(rnd, 100)));
  st.ForceFlush();
  for (uint64_t i = 0; i < 1000; i++) st.Del(Key(i));
  for (const auto& [k, v] : Model(st.model)) st.Del(k);  // the filler too
  LSMT_REQUIRE_OK(st.db->CompactAll());
  LsmStats s = st.db->GetStats();
  CHECK(Sum(s.files_per_level) == 0);
  CHECK(s.estimated_keys == 0);
  CHECK(FilesOfType(st.dir(), FileType::kTableFile).empty());
  st.Check();
  st.Reopen();
  st.Check();
}

TEST_CASE("CompactAll rewrites a store held in one level-0 file into the last level") {
  // Everything fits in one memtable, so CompactAll's flush makes a single
  // level-0 file holding puts, deletions and expired records. "Compacts
  // everything into the last level" must still drop what is dead.
  Store st;
  st.opt.tombstone_gc_seconds = 0;
  st.Open();
  for (uint64_t i = 0; i < 150; i++) st.Put(Key(i), Record("live " + std::to_string(i)));
  for (uint64_t i = 0; i < 50; i++) st.Del(Key(i));
  for (uint64_t i = 1000; i < 1030; i++) st.Put(Key(i), ExpiredRecord("expired"));
  LSMT_REQUIRE_OK(st.db->CompactAll());
  for (uint64_t i = 1000; i < 1030; i++) st.model.erase(Key(i));
  LsmStats s = st.db->GetStats();
  CHECK(s.files_per_level[0] == 0);
  CHECK(s.estimated_keys == 100);
  st.Check();
}

TEST_CASE("compaction drops records whose expiry has passed and keeps the rest") {
  util::Random rnd(1108);
  Store st;
  st.opt.tombstone_gc_seconds = 0;
  st.Open();
  const int64_t future = util::WallMs() + 3600'000;
  for (uint64_t i = 0; i < 600; i++) {
    st.Put(Key(i), i % 3 == 0 ? Record(Payload(rnd, 80), future) : Record(Payload(rnd, 80)));
  }
  st.ForceFlush();
  // Newer expired versions over some keys, and expired keys of their own.
  for (uint64_t i = 0; i < 600; i += 4) st.Put(Key(i), ExpiredRecord(Payload(rnd, 80)));
  for (uint64_t i = 2000; i < 2200; i++) st.Put(Key(i), ExpiredRecord(Payload(rnd, 80)));
  LSMT_REQUIRE_OK(st.db->CompactAll());
  for (uint64_t i = 0; i < 600; i += 4) st.model.erase(Key(i));
  for (uint64_t i = 2000; i < 2200; i++) st.model.erase(Key(i));
  st.Check();
  CHECK(st.db->GetStats().estimated_keys == st.model.size());
  st.Reopen();
  st.Check();
}

TEST_CASE("expired records are kept tombstone_gc_seconds past their expiry, then dropped") {
  // DESIGN.md section 4: "Tombstones and expired versions are kept
  // tombstone-gc-seconds ... before compaction drops them, so a delete
  // cannot be resurrected by a stale replica" (one holding an older live
  // version without the expiry would hand it back through anti-entropy).
  util::Random rnd(1126);
  Store st;
  st.opt.tombstone_gc_seconds = 3600;
  st.Open();
  for (uint64_t i = 0; i < 300; i++) st.Put(Key(i), Record(Payload(rnd, 80)));
  st.ForceFlush();
  const int64_t now = util::WallMs();
  for (uint64_t i = 0; i < 100; i++) {  // expired a minute ago: kept
    st.Put(Key(i), Record(Payload(rnd, 80), now - 60'000));
  }
  for (uint64_t i = 100; i < 200; i++) {  // expired two hours ago: dropped
    st.Put(Key(i), Record(Payload(rnd, 80), now - 7200'000));
  }
  LSMT_REQUIRE_OK(st.db->CompactAll());
  for (uint64_t i = 100; i < 200; i++) st.model.erase(Key(i));
  st.Check();
}

TEST_CASE("tombstone siblings are dropped once older than tombstone_gc_seconds, kept before") {
  util::Random rnd(1109);
  Store st;
  SUBCASE("tombstone_gc_seconds 0 drops them") { st.opt.tombstone_gc_seconds = 0; }
  SUBCASE("tombstone_gc_seconds 3600 keeps them") { st.opt.tombstone_gc_seconds = 3600; }
  st.Open();
  for (uint64_t i = 0; i < 500; i++) st.Put(Key(i), Record(Payload(rnd, 80)));
  st.ForceFlush();
  for (uint64_t i = 0; i < 500; i += 2) st.Put(Key(i), OldTombstone());
  // A fresh tombstone is kept either way.
  st.Put(Key(9999), Record("", 0, true, util::WallMs() + 60'000));
  LSMT_REQUIRE_OK(st.db->CompactAll());
  if (st.opt.tombstone_gc_seconds == 0) {
    for (uint64_t i = 0; i < 500; i += 2) st.model.erase(Key(i));
  }
  st.Check();
  st.Reopen();
  st.Check();
}

// Puts 4000 keys (the even ones of [100000, 108000)) so level 2 or deeper
// holds data, then CompactAll empties levels 0 and 1.
void PushDataDeep(Store& st, util::Random& rnd) {
  for (uint64_t i = 100000; i < 108000; i += 2) st.Put(Key(i), Record(Payload(rnd, 150)));
  st.db->WaitForBackgroundWork();
  LSMT_REQUIRE_OK(st.db->CompactAll());
}

TEST_CASE("an expired or tombstoned newest version never resurrects an older one from deeper") {
  util::Random rnd(1110);
  Store st;
  st.opt.tombstone_gc_seconds = 0;
  std::string dead;
  SUBCASE("expired newest version") { dead = ExpiredRecord("v2, expired"); }
  SUBCASE("tombstone newest version") { dead = OldTombstone(); }
  st.Open();
  const std::string k = Key(101001);  // inside the deep data's key range
  const std::string v1 = Record("v1, old and live");
  st.Put(k, v1);
  PushDataDeep(st, rnd);
  LsmStats s = st.db->GetStats();
  REQUIRE(s.files_per_level[0] == 0);
  REQUIRE(s.files_per_level[1] == 0);
  int deepest = 0;
  for (int l = 0; l < s.levels; l++) {
    if (s.files_per_level[static_cast<size_t>(l)] > 0) deepest = l;
  }
  REQUIRE(deepest >= 2);
  REQUIRE(GetValue(*st.db, k).value == v1);

  auto check_not_v1 = [&](const char* when, bool must_be_gone) {
    Got g = GetValue(*st.db, k);
    CHECK_MESSAGE(g.value != v1, when << ": the old version came back");
    if (must_be_gone) CHECK_MESSAGE(g.status.IsNotFound(), when << ": " << Describe(g));
    if (!must_be_gone && g.status.ok()) CHECK(g.value == dead);
    std::unique_ptr<Iterator> it = st.db->NewIterator();
    it->Seek(k);
    if (it->Valid() && it->key() == k) CHECK_MESSAGE(it->value() != v1, when << ": iterator");
  };

  // The dead version lands in one level-0 file; three more level-0 files
  // trigger a compaction of level 0 into the (empty) level 1 only.
  st.Put(k, dead);
  st.ForceFlush();
  check_not_v1("dead version in level 0", false);
  for (int i = 0; i < 3; i++) st.ForceFlush();
  st.db->WaitForBackgroundWork();
  s = st.db->GetStats();
  CHECK(s.files_per_level[0] < static_cast<uint64_t>(st.opt.level0_compaction_trigger));
  CHECK(s.files_per_level[static_cast<size_t>(deepest)] > 0);
  check_not_v1("after level-0 compaction into level 1", true);
  st.Reopen();
  check_not_v1("after reopen", true);
  LSMT_REQUIRE_OK(st.db->CompactAll());
  check_not_v1("after CompactAll", true);
  st.Reopen();
  check_not_v1("after CompactAll and reopen", true);
}

// ---- manifest replay -----------------------------------------------------------

TEST_CASE("a store with several levels reopens with identical contents and sane level stats") {
  const uint64_t seed = test::TestSeed(1111);
  util::Random rnd(seed);
  Store st;
  st.Open();
  auto check_stats = [&](const char* when) {
    INFO(when);
    st.db->WaitForBackgroundWork();
    LsmStats s = st.db->GetStats();
    REQUIRE(s.levels == 7);
    REQUIRE(s.files_per_level.size() == 7);
    REQUIRE(s.bytes_per_level.size() == 7);
    CHECK(Sum(s.files_per_level) == FilesOfType(st.dir(), FileType::kTableFile).size());
    CHECK(Sum(s.bytes_per_level) == BytesOfType(st.dir(), FileType::kTableFile));
    CHECK(s.files_per_level[0] < static_cast<uint64_t>(st.opt.level0_compaction_trigger));
    for (int l = 1; l < 6; l++) {
      CHECK_MESSAGE(s.bytes_per_level[static_cast<size_t>(l)] <= MaxBytesForLevel(st.opt, l),
                    "level " << l);
    }
    for (int l = 0; l < 7; l++) {
      CHECK((s.files_per_level[static_cast<size_t>(l)] == 0) ==
            (s.bytes_per_level[static_cast<size_t>(l)] == 0));
    }
    CHECK(!s.compaction_pending);
    CHECK(s.last_background_error.empty());
    return s;
  };
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 5000; i++) {
      uint64_t k = rnd.Uniform(6000);
      if (rnd.Uniform(100) < 10) {
        st.Del(Key(k));
      } else {
        st.Put(Key(k), Record(Payload(rnd, 80 + rnd.Uniform(150))));
      }
    }
    LsmStats before = check_stats("before reopen");
    int populated = 0;
    for (uint64_t n : before.files_per_level) populated += n > 0 ? 1 : 0;
    CHECK(populated >= 2);
    st.Check();
    st.Reopen();
    LsmStats after = st.db->GetStats();
    // The replayed WAL adds at most one level-0 file; unless that starts a
    // compaction at once, the levels are as they were.
    if (before.files_per_level[0] + 1 < static_cast<uint64_t>(st.opt.level0_compaction_trigger)) {
      for (size_t l = 1; l < 7; l++) CHECK(after.files_per_level[l] == before.files_per_level[l]);
      CHECK(after.files_per_level[0] >= before.files_per_level[0]);
      CHECK(after.files_per_level[0] <= before.files_per_level[0] + 1);
    }
    st.Check();
    check_stats("after reopen");
  }
}

// ---- recovery ------------------------------------------------------------------

TEST_CASE("a torn WAL tail is truncated and every complete record is recovered") {
  util::Random rnd(1112);
  Store st;
  std::vector<std::string> infos;
  st.opt.info_log = [&](const std::string& line) { infos.push_back(line); };
  st.Open();
  for (uint64_t i = 0; i < 200; i++) st.Put(Key(i), Record(Payload(rnd, 50)));
  st.Del(Key(3));
  const std::string last = Key(500);
  st.Put(last, Record(Payload(rnd, 3000)));
  st.Close();
  std::vector<DirFile> logs = FilesOfType(st.dir(), FileType::kLogFile);
  REQUIRE(!logs.empty());
  const std::string log_path = st.dir() + "/" + logs.back().name;
  const uint64_t size = logs.back().size;
  REQUIRE(size > 3000);

  SUBCASE("garbage appended after the last record") {
    std::ofstream out(log_path, std::ios::binary | std::ios::app);
    out << Payload(rnd, 37);
  }
  SUBCASE("zeros appended after the last record") {
    std::ofstream out(log_path, std::ios::binary | std::ios::app);
    out << std::string(100, '\0');
  }
  SUBCASE("the last record cut short") {
    fs::resize_file(log_path, size - 100);
    st.model.erase(last);
  }
  SUBCASE("cut inside the last record's header") {
    // The last record's payload is 3000+ bytes; its 7-byte header starts
    // before that. Cut 3 bytes into it.
    std::string data = ReadWholeFile(log_path);
    std::string payload_start = st.model[last].substr(0, 16);
    size_t at = data.rfind(payload_start);
    REQUIRE(at != std::string::npos);
    REQUIRE(at > 40);
    // Before the value: 30 bytes of batch framing for this key, and before
    // those the 7-byte record header; keep 3 bytes of the header.
    fs::resize_file(log_path, at - 34);
    st.model.erase(last);
  }
  infos.clear();
  st.Open();
  st.Check();
  bool noted = false;
  for (const auto& l : infos) noted = noted || l.find("truncat") != std::string::npos;
  CHECK_MESSAGE(noted, "info log:\n" << Join(infos));
  // The store keeps working and later records are not lost behind the tear.
  st.Put(Key(600), Record("after recovery"));
  st.Reopen();
  st.Check();
}

TEST_CASE("a corrupt record in the middle of the WAL is an error naming the file, not skipped") {
  // DESIGN.md section 6: a torn tail is truncated, but damage followed by
  // good records means acknowledged writes were lost: refuse to start
  // rather than come up without them (a lost delete would resurrect a key).
  util::Random rnd(1122);
  Store st;
  st.opt.memtable_bytes = 1 << 20;  // keep every record in the one WAL
  st.Open();
  for (uint64_t i = 0; i < 1000; i++) st.Put(Key(i), Record(Payload(rnd, 60)));
  st.Close();
  std::vector<DirFile> logs = FilesOfType(st.dir(), FileType::kLogFile);
  REQUIRE(logs.size() == 1);
  REQUIRE(logs[0].size > 3 * 32768);
  const std::string path = st.dir() + "/" + logs[0].name;
  std::string data = ReadWholeFile(path);
  data[1000] = static_cast<char>(data[1000] ^ 0x01);  // inside the first block
  WriteWholeFile(path, data);
  std::unique_ptr<LsmEngine> db;
  Status s = LsmEngine::Open(st.opt, &db);
  CHECK_MESSAGE(s.IsCorruption(), s.ToString());
  CHECK_MESSAGE(s.message().find(logs[0].name) != std::string::npos, s.ToString());
}

TEST_CASE("a torn MANIFEST tail (a crash mid-append) opens with the last complete edit") {
  util::Random rnd(1123);
  Store st;
  st.Open();
  for (uint64_t i = 0; i < 500; i++) st.Put(Key(i), Record(Payload(rnd, 100)));
  st.ForceFlush();
  st.Close();
  std::vector<DirFile> manifests = FilesOfType(st.dir(), FileType::kDescriptorFile);
  REQUIRE(manifests.size() == 1);
  {
    // A record header promising 200 bytes, and only 20 of them.
    std::ofstream out(st.dir() + "/" + manifests[0].name, std::ios::binary | std::ios::app);
    out << std::string("\x12\x34\x56\x78\xc8\x00\x01", 7) << Payload(rnd, 20);
  }
  st.Open();
  st.Check();
  st.Reopen();
  st.Check();
}

TEST_CASE("a missing CURRENT with data files present refuses to open") {
  Store st;
  st.Open();
  for (uint64_t i = 0; i < 100; i++) st.Put(Key(i), Record("x"));
  st.ForceFlush();
  st.Close();
  fs::remove(CurrentFileName(st.dir()));
  const std::vector<DirFile> listing = ListDir(st.dir());
  std::unique_ptr<LsmEngine> db;
  Status s = LsmEngine::Open(st.opt, &db);
  CHECK(db == nullptr);
  CHECK(s.IsCorruption());
  CHECK_MESSAGE(s.message().find("CURRENT") != std::string::npos, s.ToString());
  std::vector<DirFile> now = ListDir(st.dir());
  CHECK(now.size() == listing.size());  // nothing deleted, nothing created
}

TEST_CASE("a corrupt CURRENT refuses to open and deletes nothing") {
  Store st;
  st.Open();
  for (uint64_t i = 0; i < 100; i++) st.Put(Key(i), Record("x"));
  st.ForceFlush();
  st.Close();
  std::string bad;
  SUBCASE("garbage") { bad = "\x01\x02garbage\n"; }
  SUBCASE("empty") { bad = ""; }
  SUBCASE("no trailing newline") {
    bad = ReadWholeFile(CurrentFileName(st.dir()));
    bad.pop_back();
  }
  SUBCASE("names a manifest that does not exist") { bad = "MANIFEST-999999\n"; }
  SUBCASE("names a non-manifest file") { bad = "LOCK\n"; }
  WriteWholeFile(CurrentFileName(st.dir()), bad);
  std::vector<std::string> names;
  for (const auto& f : ListDir(st.dir())) names.push_back(f.name);
  std::unique_ptr<LsmEngine> db;
  Status s = LsmEngine::Open(st.opt, &db);
  CHECK(db == nullptr);
  CHECK_MESSAGE(s.IsCorruption(), s.ToString());
  CHECK_MESSAGE(s.message().find("CURRENT") != std::string::npos, s.ToString());
  std::vector<std::string> now;
  for (const auto& f : ListDir(st.dir())) now.push_back(f.name);
  CHECK(test::Show(now) == test::Show(names));
}

TEST_CASE("a failed Open releases the directory lock") {
  Store st;
  st.Open();
  for (uint64_t i = 0; i < 100; i++) st.Put(Key(i), Record("x"));
  st.Close();
  const std::string current = ReadWholeFile(CurrentFileName(st.dir()));
  WriteWholeFile(CurrentFileName(st.dir()), "garbage\n");
  std::unique_ptr<LsmEngine> db;
  REQUIRE(!LsmEngine::Open(st.opt, &db).ok());
  WriteWholeFile(CurrentFileName(st.dir()), current);  // the operator repairs it
  Status s = LsmEngine::Open(st.opt, &db);
  CHECK_MESSAGE(s.ok(), s.ToString());
  if (s.ok()) CheckExact(*db, st.model, st.touched);
}

TEST_CASE("a flipped byte in a table's data block reads as Corruption naming the file") {
  util::Random rnd(1113);
  Store st;
  st.Open();
  for (uint64_t i = 0; i < 1500; i++) st.Put(Key(i), Record(Payload(rnd, 100)));
  LSMT_REQUIRE_OK(st.db->CompactAll());
  st.db->WaitForBackgroundWork();
  st.Close();
  std::vector<DirFile> tables = FilesOfType(st.dir(), FileType::kTableFile);
  REQUIRE(tables.size() >= 2);
  const DirFile& victim = tables[tables.size() / 2];
  {
    // Offset 100 is inside the first data block (blocks start at 0).
    std::string data = ReadWholeFile(st.dir() + "/" + victim.name);
    data[100] = static_cast<char>(data[100] ^ 0x5a);
    WriteWholeFile(st.dir() + "/" + victim.name, data);
  }
  st.Open();
  int corrupt = 0;
  std::vector<std::string> errors;
  for (const auto& [k, v] : st.model) {
    Got g = GetValue(*st.db, k);
    if (g.status.ok()) {
      if (g.value != v) errors.push_back("wrong data for " + Short(k));
    } else if (g.status.IsCorruption()) {
      corrupt++;
      if (g.status.message().find(victim.name) == std::string::npos) {
        errors.push_back("message does not name " + victim.name + ": " + g.status.ToString());
      }
    } else {
      errors.push_back("Get " + Short(k) + ": " + g.status.ToString());
    }
    if (errors.size() > 5) break;
  }
  CHECK_MESSAGE(errors.empty(), Join(errors));
  CHECK(corrupt > 0);
  CHECK(corrupt < static_cast<int>(st.model.size()));

  // Iteration yields correct data, then stops with the error.
  std::unique_ptr<Iterator> it = st.db->NewIterator();
  auto m = st.model.begin();
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++m) {
    REQUIRE(m != st.model.end());
    REQUIRE(it->key() == m->first);
    REQUIRE(it->value() == m->second);
  }
  CHECK(m != st.model.end());
  CHECK(it->status().IsCorruption());
  CHECK_MESSAGE(it->status().message().find(victim.name) != std::string::npos,
                it->status().ToString());
  // Seeking to the last key (in an intact table) works.
  it = st.db->NewIterator();
  it->Seek(st.model.rbegin()->first);
  if (victim.number != tables.back().number) {
    REQUIRE(it->Valid());
    CHECK(it->value() == st.model.rbegin()->second);
  }
  // The engine keeps working for everything else.
  st.Put(Key(5000), Record("still works"));
  CHECK(GetValue(*st.db, Key(5000)).value == st.model[Key(5000)]);
  st.Close();
}

TEST_CASE("a second Open of an open directory fails on LOCK") {
  Store st;
  st.Open();
  st.Put(Key(1), Record("x"));
  std::unique_ptr<LsmEngine> second;
  Status s = LsmEngine::Open(st.opt, &second);
  CHECK(!s.ok());
  CHECK(second == nullptr);
  CHECK_MESSAGE(s.message().find("LOCK") != std::string::npos, s.ToString());
  st.Check();  // the first one is untouched
  st.Reopen();
  st.Check();
}

// ---- durability under injected faults ----------------------------------------

// One operation of a crash round; the state after a crash must equal the
// model after some prefix of the round's operations.
struct Op {
  std::string key;
  std::optional<std::string> value;  // nullopt = delete
};

TEST_CASE("after SyncWal a power loss keeps every synced write and a prefix of the rest") {
  const uint64_t seed = test::TestSeed(1114);
  util::Random rnd(seed);
  FaultInjectionEnv env(Env::Default());
  Store st;
  st.opt.env = &env;
  std::string mode;
  SUBCASE("unsynced bytes dropped") { mode = "drop"; }
  SUBCASE("last write torn") { mode = "tear"; }
  SUBCASE("last write torn, rest zero-filled") { mode = "zero"; }
  st.Open();
  for (int round = 0; round < 4; round++) {
    CAPTURE(round);
    // Synced part.
    for (int i = 0; i < 300; i++) {
      uint64_t k = rnd.Uniform(1000);
      if (rnd.Uniform(10) == 0) {
        st.Del(Key(k));
      } else {
        st.Put(Key(k), Record(Payload(rnd, rnd.Uniform(200))));
      }
    }
    LSMT_REQUIRE_OK(st.db->FlushWal());
    SequenceNumber durable = 0;
    LSMT_REQUIRE_OK(st.db->SyncWal(&durable));
    CHECK(durable == st.db->LastSequence());
    CHECK(st.db->DurableSequence() == durable);
    // Unsynced part (with memtable switches, WAL flushes and more syncs).
    Model base = st.model;
    std::vector<Op> ops;
    size_t must = 0;  // ops known durable
    const int n = 500 + static_cast<int>(rnd.Uniform(1500));
    for (int i = 0; i < n; i++) {
      Op op;
      op.key = Key(rnd.Uniform(1200));
      if (rnd.Uniform(8) == 0) {
        st.Del(op.key);
      } else {
        op.value = Record(Payload(rnd, rnd.Uniform(200)));
        st.Put(op.key, *op.value);
      }
      ops.push_back(op);
      if (rnd.Uniform(100) == 0) LSMT_REQUIRE_OK(st.db->FlushWal());
      if (rnd.Uniform(400) == 0) {
        LSMT_REQUIRE_OK(st.db->FlushWal());
        LSMT_REQUIRE_OK(st.db->SyncWal(&durable));
        CHECK(durable == st.db->LastSequence());
        must = ops.size();
      }
    }
    st.db->WaitForBackgroundWork();
    if (mode == "drop") {
      LSMT_REQUIRE_OK(env.DropUnsyncedData());
    } else {
      LSMT_REQUIRE_OK(env.TearLastWrite(seed + static_cast<uint64_t>(round), mode == "zero"));
    }
    st.Reopen();

    // What survived, by a full iteration (checked against Get below).
    Model got;
    {
      std::unique_ptr<Iterator> it = st.db->NewIterator();
      for (it->SeekToFirst(); it->Valid(); it->Next()) got[std::string(it->key())] = it->value();
      REQUIRE_MESSAGE(it->status().ok(), it->status().ToString());
    }
    // Find a prefix p of ops with base + ops[0..p) == got, counting keys
    // that differ and updating the count one op at a time.
    Model m = base;
    auto differs = [&](const std::string& k) {
      auto a = m.find(k);
      auto b = got.find(k);
      if (a == m.end() || b == got.end()) return (a == m.end()) != (b == got.end());
      return a->second != b->second;
    };
    std::set<std::string> keys;
    for (const auto& [k, v] : m) keys.insert(k);
    for (const auto& [k, v] : got) keys.insert(k);
    size_t diff = 0;
    for (const auto& k : keys) diff += differs(k) ? 1 : 0;
    std::optional<size_t> match;
    if (diff == 0) match = 0;
    for (size_t p = 0; p < ops.size(); p++) {
      const Op& op = ops[p];
      diff -= differs(op.key) ? 1 : 0;
      if (op.value) {
        m[op.key] = *op.value;
      } else {
        m.erase(op.key);
      }
      diff += differs(op.key) ? 1 : 0;
      if (diff == 0) match = p + 1;
      if (match && *match == p + 1 && p + 1 >= must) break;
    }
    REQUIRE_MESSAGE(match.has_value(), "the recovered state is no prefix of the writes");
    m = base;
    for (size_t p = 0; p < *match; p++) {
      if (ops[p].value) {
        m[ops[p].key] = *ops[p].value;
      } else {
        m.erase(ops[p].key);
      }
    }
    CHECK_MESSAGE(*match >= must, "lost synced writes: kept " << *match << " of " << ops.size()
                                                              << ", synced " << must);
    MESSAGE("round " << round << ": " << *match << " of " << ops.size() << " unsynced ops kept ("
                     << must << " synced)");
    st.model = m;
    st.Check();
  }
}

TEST_CASE("SyncWal on a worker thread while the loop thread writes: durable sequence only grows") {
  util::Random rnd(1115);
  FaultInjectionEnv env(Env::Default());
  Store st;
  st.opt.env = &env;
  st.Open();
  LsmEngine* db = st.db.get();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> syncs{0};
  std::string thread_error;  // read after join
  std::thread syncer([&] {
    SequenceNumber last = 0;
    while (!stop.load()) {
      SequenceNumber d = 0;
      Status s = db->SyncWal(&d);
      if (!s.ok()) {
        thread_error = s.ToString();
        return;
      }
      if (d < last) {
        thread_error =
            "SyncWal went backwards: " + std::to_string(d) + " after " + std::to_string(last);
        return;
      }
      if (db->DurableSequence() < d) {
        thread_error = "DurableSequence below what SyncWal returned";
        return;
      }
      last = d;
      syncs++;
    }
  });
  SequenceNumber last_durable = 0;
  bool monotonic = true, bounded = true;
  for (int i = 0; i < 20000; i++) {
    st.Put(Key(rnd.Uniform(2000)), Record(Payload(rnd, 100)));
    if (i % 37 == 0) LSMT_REQUIRE_OK(db->FlushWal());
    SequenceNumber d = db->DurableSequence();
    monotonic = monotonic && d >= last_durable;
    bounded = bounded && d <= db->LastSequence();
    last_durable = d;
  }
  stop = true;
  syncer.join();
  CHECK_MESSAGE(thread_error.empty(), thread_error);
  CHECK(monotonic);
  CHECK(bounded);
  CHECK(syncs.load() > 0);
  CHECK(st.db->GetStats().flushes > 0);  // logs were switched under the syncer
  LSMT_REQUIRE_OK(db->FlushWal());
  SequenceNumber durable = 0;
  LSMT_REQUIRE_OK(db->SyncWal(&durable));
  CHECK(durable == db->LastSequence());
  st.db->WaitForBackgroundWork();
  LSMT_REQUIRE_OK(env.DropUnsyncedData());
  st.Reopen();
  st.Check();
}

TEST_CASE("a failed WAL fsync does not advance DurableSequence; the next good one does") {
  util::Random rnd(1124);
  FaultInjectionEnv env(Env::Default());
  Store st;
  st.opt.env = &env;
  st.Open();
  for (uint64_t i = 0; i < 50; i++) st.Put(Key(i), Record(Payload(rnd, 50)));
  LSMT_REQUIRE_OK(st.db->FlushWal());
  SequenceNumber durable = 0;
  LSMT_REQUIRE_OK(st.db->SyncWal(&durable));
  const SequenceNumber synced = durable;
  for (uint64_t i = 50; i < 100; i++) st.Put(Key(i), Record(Payload(rnd, 50)));
  LSMT_REQUIRE_OK(st.db->FlushWal());
  env.FailNextSyncs(1);
  Status s = st.db->SyncWal(&durable);
  CHECK_MESSAGE(s.IsIOError(), s.ToString());
  CHECK(st.db->DurableSequence() == synced);
  LSMT_REQUIRE_OK(st.db->SyncWal(&durable));
  CHECK(durable == st.db->LastSequence());
  LSMT_REQUIRE_OK(env.DropUnsyncedData());
  st.Reopen();
  st.Check();
}

TEST_CASE("a WAL append that fails (disk full) fails the Put and loses no acknowledged write") {
  util::Random rnd(1125);
  FaultInjectionEnv env(Env::Default());
  Store st;
  st.opt.env = &env;
  st.Open();
  for (uint64_t i = 0; i < 100; i++) st.Put(Key(i), Record(Payload(rnd, 50)));
  env.FailAppendsAfter(40);
  Status s = st.db->Put(Key(1000), Record(Payload(rnd, 500)), 0);
  CHECK_MESSAGE(s.IsIOError(), s.ToString());
  st.touched.insert(Key(1000));  // not acknowledged: must not appear
  env.ClearAppendLimit();
  // Later writes either fail (the WAL is poisoned until restart) or
  // succeed and are then durable like any other.
  int accepted = 0;
  for (uint64_t i = 2000; i < 2100; i++) {
    std::string v = Record(Payload(rnd, 50));
    if (st.db->Put(Key(i), v, 0).ok()) {
      st.model[Key(i)] = v;
      accepted++;
    }
    st.touched.insert(Key(i));
  }
  MESSAGE(accepted << " of 100 writes accepted after the disk-full error");
  st.Check();
  st.Reopen();
  st.Check();
  st.Put(Key(3000), Record("after restart"));
  st.Reopen();
  st.Check();
}

TEST_CASE("WriteStalled while the memtable is full and the previous one is still flushing") {
  util::Random rnd(1116);
  ControlledEnv env;
  Store st;
  st.opt.env = &env;
  std::atomic<int> done{0};
  st.opt.on_background_done = [&] { done++; };
  st.Open();
  env.CloseGate();
  for (int i = 0; i < 100000 && st.db->GetStats().immutable_memtable_bytes == 0; i++) {
    st.Put(Key(rnd.Uniform(3000)), Record(Payload(rnd, 100)));
  }
  REQUIRE(PollUntil([&] { return env.blocked() == 1; }, std::chrono::seconds(10)));
  CHECK(!st.db->WriteStalled());
  st.honor_stall = false;
  int writes = 0;
  while (!st.db->WriteStalled() && writes < 100000) {
    st.Put(Key(rnd.Uniform(3000)), Record(Payload(rnd, 100)));
    writes++;
  }
  CHECK(st.db->WriteStalled());
  CHECK(st.db->GetStats().write_stalled);
  st.Check();  // reads still work
  st.honor_stall = true;
  const int done_before = done.load();
  env.OpenGate();
  CHECK(PollUntil([&] { return !st.db->WriteStalled(); }, std::chrono::seconds(10)));
  CHECK(PollUntil([&] { return done.load() > done_before; }, std::chrono::seconds(10)));
  st.db->WaitForBackgroundWork();
  st.Check();
  st.Reopen();
  st.Check();
}

TEST_CASE("a failed MANIFEST fsync during a flush leaves a store that reopens with its data") {
  util::Random rnd(1117);
  ControlledEnv env;
  Store st;
  st.opt.env = &env;
  st.Open();
  for (uint64_t i = 0; i < 200; i++) st.Put(Key(i), Record(Payload(rnd, 100)));
  // Written to the OS, as the server does before it acknowledges (the copy
  // below sees what a crash leaves: a write still in the engine's buffer
  // would be lost by both), and any flush the 200 puts started is done, so
  // the flush whose manifest sync fails is the one ForceFlush starts, after
  // a log switch that writes out every fill key.
  LSMT_REQUIRE_OK(st.db->FlushWal());
  st.db->WaitForBackgroundWork();
  env.FailManifestSyncs(1);
  st.ForceFlush();  // the flush fails once, then is retried
  CHECK(env.manifest_sync_failures() == 1);
  for (uint64_t i = 200; i < 300; i++) st.Put(Key(i), Record(Payload(rnd, 100)));
  st.Check();
  st.Close();
  Status s = LsmEngine::Open(st.opt, &st.db);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  st.Check();
}

// Copies every file of `from` into a new directory `to` (the disk as a
// crash at this instant would leave it, taking the fsync that failed as
// having written its bytes anyway, which Linux allows).
void SnapshotDir(const std::string& from, const std::string& to) {
  fs::create_directories(to);
  for (const auto& e : fs::directory_iterator(from)) {
    fs::copy_file(e.path(), to + "/" + e.path().filename().string(),
                  fs::copy_options::overwrite_existing);
  }
}

TEST_CASE("a crash right after a failed MANIFEST write leaves a store that opens with its data") {
  // The failed edit may be in the manifest (fsync failed after the write):
  // until a new manifest is written, nothing it names may be deleted.
  util::Random rnd(1127);
  ControlledEnv env;
  Store st;
  st.opt.env = &env;
  const std::string snapshot = st.dir() + "-crash";
  std::atomic<bool> copied{false};
  st.opt.on_background_done = [&] {
    if (env.manifest_sync_failures() > 0 && !copied.load()) {
      SnapshotDir(st.dir(), snapshot);
      copied = true;
    }
  };
  st.Open();
  for (uint64_t i = 0; i < 200; i++) st.Put(Key(i), Record(Payload(rnd, 100)));
  // Written to the OS, as the server does before it acknowledges (the copy
  // below sees what a crash leaves: a write still in the engine's buffer
  // would be lost by both), and any flush the 200 puts started is done, so
  // the flush whose manifest sync fails is the one ForceFlush starts, after
  // a log switch that writes out every fill key.
  LSMT_REQUIRE_OK(st.db->FlushWal());
  st.db->WaitForBackgroundWork();
  env.FailManifestSyncs(1);
  st.honor_stall = false;
  st.ForceFlush(false);
  REQUIRE(PollUntil([&] { return copied.load(); }, std::chrono::seconds(10)));
  st.db->WaitForBackgroundWork();
  st.Close();
  LsmOptions o = SmallOptions(snapshot);
  std::unique_ptr<LsmEngine> db;
  Status s = LsmEngine::Open(o, &db);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  CheckExact(*db, st.model, st.touched);
}

TEST_CASE("closing the engine returns while a flush keeps failing, and the WAL keeps the data") {
  util::Random rnd(1128);
  ControlledEnv env;
  Store st;
  st.opt.env = &env;
  st.Open();
  for (uint64_t i = 0; i < 200; i++) st.Put(Key(i), Record(Payload(rnd, 100)));
  env.FailManifestSyncs(1 << 30);
  st.honor_stall = false;
  st.ForceFlush(false);
  REQUIRE(PollUntil([&] { return env.manifest_sync_failures() > 0; }, std::chrono::seconds(10)));
  std::atomic<bool> closed{false};
  std::thread closer([&] {
    st.db.reset();
    closed = true;
  });
  const bool returned = PollUntil([&] { return closed.load(); }, std::chrono::seconds(5));
  CHECK_MESSAGE(returned, "the destructor is still retrying the flush after 5 s ("
                              << env.manifest_sync_failures() << " failed MANIFEST fsyncs)");
  env.FailManifestSyncs(0);  // let a stuck destructor finish
  closer.join();
  st.Open();
  st.Check();
}

// Makes the next flush fail once on its MANIFEST fsync and returns once the
// engine has recorded the error (the flush is then waiting to be retried,
// its immutable memtable still pending).
void FailOneFlush(Store& st, ControlledEnv& env) {
  env.FailManifestSyncs(1);
  st.honor_stall = false;
  st.ForceFlush(false);
  REQUIRE(PollUntil([&] { return !st.db->GetStats().last_background_error.empty(); },
                    std::chrono::seconds(10)));
  st.honor_stall = true;
}

// Waits until the failed flush has been retried (WaitForBackgroundWork
// returns at once while a retry is pending).
void WaitForFlushRetry(Store& st) {
  CHECK(PollUntil([&] { return st.db->GetStats().immutable_memtable_bytes == 0; },
                  std::chrono::seconds(10)));
  st.db->WaitForBackgroundWork();
}

TEST_CASE("CompactAll while a failed flush waits for its retry loses no write") {
  util::Random rnd(1129);
  ControlledEnv env;
  Store st;
  st.opt.env = &env;
  st.Open();
  for (uint64_t i = 0; i < 200; i++) st.Put(Key(i), Record(Payload(rnd, 100)));
  FailOneFlush(st, env);
  for (uint64_t i = 200; i < 220; i++) st.Put(Key(i), Record(Payload(rnd, 100)));
  Status s = st.db->CompactAll();
  MESSAGE("CompactAll returned " << s.ToString());
  st.Check();
  WaitForFlushRetry(st);
  LSMT_REQUIRE_OK(st.db->CompactAll());
  st.Check();
  st.Reopen();
  st.Check();
}

TEST_CASE("Clear while a failed flush waits for its retry clears that memtable too") {
  util::Random rnd(1130);
  ControlledEnv env;
  Store st;
  st.opt.env = &env;
  st.Open();
  for (uint64_t i = 0; i < 200; i++) st.Put(Key(i), Record(Payload(rnd, 100)));
  FailOneFlush(st, env);
  Status s = st.db->Clear();
  MESSAGE("Clear returned " << s.ToString());
  if (s.ok()) st.model.clear();  // else it must have changed nothing
  st.Check();
  WaitForFlushRetry(st);  // the retried flush must not bring it back
  st.Check();
  st.Reopen();
  st.Check();
}

TEST_CASE("a flush retried while Clear runs does not bring the cleared data back") {
  // Clear starts while a failed flush waits for its retry; the loop thread
  // is held inside Clear's log switch until the retry has flushed the
  // memtable to a table. Clear must still remove everything (or fail and
  // change nothing), and never run alongside the background thread.
  util::Random rnd(1132);
  ControlledEnv env;
  Store st;
  st.opt.env = &env;
  std::atomic<int> done{0};
  st.opt.on_background_done = [&] { done++; };
  st.Open();
  for (uint64_t i = 0; i < 200; i++) st.Put(Key(i), Record(Payload(rnd, 100)));
  FailOneFlush(st, env);
  const int done_before = done.load();
  env.CloseLogGate();
  Status clear_status;
  std::atomic<bool> cleared{false};
  LsmEngine* db = st.db.get();
  std::thread loop([&] {  // the loop thread, for the length of Clear
    clear_status = db->Clear();
    cleared = true;
  });
  // Either Clear holds the background thread off (no retry while it is
  // stuck) or the retry finishes first: wait for one or the other.
  PollUntil([&] { return done.load() > done_before; }, std::chrono::seconds(2));
  env.OpenLogGate();
  loop.join();
  MESSAGE("Clear returned " << clear_status.ToString());
  if (clear_status.ok()) st.model.clear();
  WaitForFlushRetry(st);
  st.Check();
  st.Reopen();
  st.Check();
}

TEST_CASE("compactions resume after a transient background error") {
  util::Random rnd(1118);
  FaultInjectionEnv env(Env::Default());
  Store st;
  st.opt.env = &env;
  st.Open();
  for (uint64_t i = 0; i < 200; i++) st.Put(Key(i), Record(Payload(rnd, 100)));
  env.FailNextSyncs(1);  // the next sync is the flush's table
  st.ForceFlush();       // fails once, retried
  // Enough flushes for a level-0 compaction.
  for (int i = 0; i < st.opt.level0_compaction_trigger + 1; i++) st.ForceFlush();
  const bool compacted = PollUntil(
      [&] {
        return st.db->GetStats().files_per_level[0] <
               static_cast<uint64_t>(st.opt.level0_compaction_trigger);
      },
      std::chrono::seconds(3));
  LsmStats s = st.db->GetStats();
  CHECK_MESSAGE(compacted, "level 0 still has " << s.files_per_level[0] << " files, "
                                                << s.compactions << " compactions, error "
                                                << s.last_background_error);
  st.Check();
  st.Reopen();
  st.Check();
}

TEST_CASE("CompactAll returns instead of blocking forever after a background error") {
  util::Random rnd(1119);
  auto env = std::make_unique<FaultInjectionEnv>(Env::Default());
  auto st = std::make_unique<Store>();
  st->opt.env = env.get();
  st->Open();
  for (uint64_t i = 0; i < 200; i++) st->Put(Key(i), Record(Payload(rnd, 100)));
  env->FailNextSyncs(1);  // CompactAll's flush fails once, then is retried
  struct Call {
    std::atomic<bool> done{false};
    Status status;
  };
  auto* call = new Call();
  LsmEngine* db = st->db.get();
  std::thread t([call, db] {
    call->status = db->CompactAll();
    call->done = true;
  });
  const bool returned = PollUntil([&] { return call->done.load(); }, std::chrono::seconds(5));
  CHECK_MESSAGE(returned, "CompactAll still blocked after 5 s");
  if (!returned) {
    // Unrecoverable: keep the engine, its Env and the blocked thread alive
    // forever.
    t.detach();
    Abandoned().push_back(std::move(st->db));
    (void)env.release();
    return;
  }
  t.join();
  MESSAGE("CompactAll returned " << call->status.ToString());
  delete call;
  st->Check();
  st->Reopen();
  st->Check();
}

TEST_CASE("without SyncWal, WAL segments of flushed memtables are not kept open") {
  util::Random rnd(1120);
  Store st;
  st.Open();
  for (int i = 0; i < 30; i++) st.ForceFlush();
  st.db->WaitForBackgroundWork();
  int open_logs = 0;
  for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    fs::path target = fs::read_symlink(e.path(), ec);
    if (ec) continue;
    std::string t = target.string();
    if (t.find(st.dir()) == 0 && t.find(".log") != std::string::npos) open_logs++;
  }
  CHECK_MESSAGE(open_logs <= 4, open_logs << " descriptors of WAL files are open after 30 flushes");
  st.Check();
}

TEST_CASE("Bloom filters answer Gets of absent keys and repeated reads hit the block cache") {
  util::Random rnd(1131);
  Store st;
  st.Open();
  for (uint64_t i = 0; i < 2000; i += 2) st.Put(Key(i), Record(Payload(rnd, 100)));
  LSMT_REQUIRE_OK(st.db->CompactAll());
  LsmStats before = st.db->GetStats();
  for (uint64_t i = 1; i < 2000; i += 2) CHECK(GetValue(*st.db, Key(i)).status.IsNotFound());
  LsmStats absent = st.db->GetStats();
  const uint64_t checked = absent.bloom_checked - before.bloom_checked;
  const uint64_t useful = absent.bloom_useful - before.bloom_useful;
  MESSAGE("absent keys: " << checked << " filter checks, " << useful << " answered by the filter");
  CHECK(checked >= 900);                // about one table per key (none past the ends)
  CHECK(useful * 100 >= checked * 90);  // ~1% false positives at 10 bits/key
  for (int pass = 0; pass < 2; pass++) {
    for (uint64_t i = 0; i < 2000; i += 2) CHECK(GetValue(*st.db, Key(i)).status.ok());
  }
  LsmStats after = st.db->GetStats();
  CHECK(after.block_cache_hits > absent.block_cache_hits + 900);
}

TEST_CASE("GetStats().disk_bytes counts the files on disk, not every byte ever logged") {
  util::Random rnd(1121);
  Store st;
  st.Open();
  for (int round = 0; round < 20; round++) {
    for (uint64_t i = 0; i < 300; i++) st.Put(Key(i), Record(Payload(rnd, 150)));
  }
  LSMT_REQUIRE_OK(st.db->CompactAll());
  LSMT_REQUIRE_OK(st.db->FlushWal());
  uint64_t on_disk =
      BytesOfType(st.dir(), FileType::kTableFile) + BytesOfType(st.dir(), FileType::kLogFile);
  LsmStats s = st.db->GetStats();
  MESSAGE("disk_bytes " << s.disk_bytes << ", files " << on_disk);
  CHECK(s.disk_bytes <= on_disk + (64 << 10));
  CHECK(s.disk_bytes + (64 << 10) >= on_disk);
}

// ---- table cache and options ----------------------------------------------

TEST_CASE("a store of many tables with a table cache of 3 keeps 3 open and reads everything") {
  util::Random rnd(1122);
  Store st;
  st.opt.table_cache_size = 3;
  st.Open();
  for (uint64_t i = 0; i < 6000; i++) st.Put(Key(i), Record(Payload(rnd, 100)));
  st.db->WaitForBackgroundWork();
  const size_t tables = FilesOfType(st.dir(), FileType::kTableFile).size();
  MESSAGE(tables << " tables");
  REQUIRE(tables > 6);
  st.Check();
  for (const auto& k : {Key(0), Key(2999), Key(5999)}) CHECK(GetValue(*st.db, k).status.ok());
  LsmStats s = st.db->GetStats();
  CHECK(s.table_cache_open <= 3);
  CHECK(s.table_cache_capacity == 3);
  CHECK(s.table_cache_misses > tables);  // evicted tables were reopened
  CHECK(kv::test::OpenSstDescriptors() <= 3);
  st.Reopen();
  CHECK(st.db->GetStats().table_cache_open <= 3);
  st.Check();
}

TEST_CASE(
    "an iterator reads its snapshot's tables after compaction replaced them and the cache "
    "closed them") {
  util::Random rnd(1123);
  Store st;
  st.opt.table_cache_size = 1;
  st.Open();
  for (uint64_t i = 0; i < 3000; i++) st.Put(Key(i), Record(Payload(rnd, 100)));
  st.ForceFlush();
  const Model snapshot = st.model;
  std::unique_ptr<Iterator> it = st.db->NewIterator();
  for (uint64_t i = 0; i < 3000; i += 3) st.Del(Key(i));
  LSMT_REQUIRE_OK(st.db->CompactAll());
  // The snapshot's tables are out of the version but still on disk.
  CHECK(FilesOfType(st.dir(), FileType::kTableFile).size() >
        Sum(st.db->GetStats().files_per_level));
  auto m = snapshot.begin();
  size_t n = 0;
  for (it->SeekToFirst(); it->Valid() && m != snapshot.end(); it->Next(), ++m, ++n) {
    REQUIRE_MESSAGE(it->key() == m->first,
                    "got " << Short(it->key()) << ", want " << Short(m->first));
    CHECK(it->value() == m->second);
  }
  CHECK_MESSAGE(it->status().ok(), it->status().ToString());
  CHECK(n == snapshot.size());
  CHECK(!it->Valid());
  it.reset();
  st.db->WaitForBackgroundWork();  // now nothing holds them: they go
  LsmStats s = st.db->GetStats();
  CHECK(Sum(s.files_per_level) == FilesOfType(st.dir(), FileType::kTableFile).size());
  st.Check();
}

TEST_CASE("options under which the engine could not work are refused at Open") {
  TempDir tmp;
  auto open_with = [&](const std::function<void(LsmOptions*)>& change) {
    LsmOptions o = SmallOptions(tmp.db());
    change(&o);
    std::unique_ptr<LsmEngine> db;
    return LsmEngine::Open(o, &db);
  };
  Status s = open_with([](LsmOptions* o) { o->level0_stop_writes = o->level0_compaction_trigger; });
  CHECK(s.IsInvalidArgument());
  CHECK(s.message().find("stall") != std::string::npos);
  CHECK(open_with([](LsmOptions* o) { o->table_cache_size = 0; }).IsInvalidArgument());
  CHECK(open_with([](LsmOptions* o) { o->memtable_bytes = 100; }).IsInvalidArgument());
  CHECK(open_with([](LsmOptions* o) { o->dir.clear(); }).IsInvalidArgument());
  CHECK(open_with([](LsmOptions*) {}).ok());
}

TEST_CASE("a flush writes each key's newest version only; an older iterator still sees its own") {
  util::Random rnd(1124);
  Store st;
  st.opt.memtable_bytes = 1 << 20;  // every version below in one memtable
  st.Open();
  for (int round = 0; round < 5; round++) {
    for (uint64_t i = 0; i < 100; i++) st.Put(Key(i), Record(Payload(rnd, 10)));
  }
  const Model before = st.model;
  std::unique_ptr<Iterator> old_it = st.db->NewIterator();
  for (uint64_t i = 0; i < 100; i++) st.Put(Key(i), Record("newer"));
  st.ForceFlush();
  const uint64_t entries = st.db->GetStats().estimated_keys;
  MESSAGE(entries << " entries after flushing 600 versions of 100 keys and " << st.filler
                  << " filler keys");
  CHECK(entries >= 100 + st.filler - 1);
  CHECK(entries <= 100 + st.filler + 1);
  st.Check();
  size_t n = 0;
  auto m = before.begin();
  for (old_it->SeekToFirst(); old_it->Valid() && m != before.end(); old_it->Next(), ++m, ++n) {
    REQUIRE(old_it->key() == m->first);
    CHECK(old_it->value() == m->second);
  }
  CHECK(n == before.size());
  st.Reopen();
  st.Check();
}

}  // namespace
}  // namespace kv::storage
