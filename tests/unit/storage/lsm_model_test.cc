// LsmEngine against a std::map model: long random runs of puts (records
// with and without expiry, tombstone records, raw values), deletes,
// flushes, CompactAll, background waits and reopens, with tiny options so
// every layer (memtable, immutable memtable, level 0, deeper levels) and
// every compaction path is exercised. Checked by Get of random keys all the
// time, and by every Get, a full iteration and random Seeks after each
// reopen and every ~20,000 operations.
//
// Expired records and old tombstone records (tombstone_gc_seconds is 0)
// may be dropped by any compaction, so for those keys the engine may say
// either NotFound or exactly the last record written; never anything else
// (an older version coming back is the bug this guards against).
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../test_util.h"
#include "storage/filename.h"
#include "storage/lsm_engine.h"
#include "storage/record.h"
#include "util/clock.h"
#include "util/random.h"

namespace kv::storage {
namespace {

namespace fs = std::filesystem;
using test::Escape;
using util::Status;

// A temp dir on tmpfs when there is one (these tests fsync thousands of
// times; durability itself is simulated elsewhere with FaultInjectionEnv),
// $TMPDIR if set.
class ModelTempDir {
 public:
  ModelTempDir() {
    std::string base = "/tmp";
    if (const char* t = getenv("TMPDIR"); t != nullptr && *t != '\0') {
      base = t;
    } else if (access("/dev/shm", W_OK) == 0) {
      base = "/dev/shm";
    }
    std::string tmpl = base + "/kv-lsm-model-XXXXXX";
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~ModelTempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ModelTempDir(const ModelTempDir&) = delete;
  ModelTempDir& operator=(const ModelTempDir&) = delete;
  std::string db() const { return path_ + "/db"; }

 private:
  std::string path_;
};

std::string ModelKey(uint64_t i) {
  char buf[32];
  snprintf(buf, sizeof(buf), "k%" PRIu64, i);
  std::string out;
  MakeStorageKey(static_cast<uint16_t>((i * 7919) % 16384), buf, &out);
  return out;
}

std::string Bytes(util::Random& rnd, size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rnd.Uniform(256));
  return s;
}

std::string EncodedRecord(util::Random& rnd, size_t payload, int64_t expire_at_ms, bool tombstone,
                          int64_t timestamp_ms) {
  VersionView v;
  v.dot = Dot{1 + rnd.Uniform(3), 1 + rnd.Uniform(1u << 30)};
  v.timestamp_ms = timestamp_ms;
  v.expire_at_ms = expire_at_ms;
  v.tombstone = tombstone;
  std::string value = Bytes(rnd, payload);
  v.value = value;
  std::string out;
  EncodeSingleVersion({v.dot}, v, &out);
  return out;
}

struct Entry {
  std::string value;
  bool may_vanish = false;  // expired or an old tombstone: compaction may drop it
};
using Model = std::map<std::string, Entry>;

std::string Short(std::string_view s) {
  if (s.size() <= 24) return Escape(s);
  return Escape(s.substr(0, 24)) + "...(" + std::to_string(s.size()) + " bytes)";
}

// "" if Get(key) agrees with the model, else what is wrong.
std::string CheckGet(LsmEngine& db, const Model& model, const std::string& key) {
  std::string_view v;
  std::string scratch;
  Status s = db.Get(key, &v, &scratch);
  auto it = model.find(key);
  if (it == model.end()) {
    if (s.IsNotFound()) return "";
    return "Get " + Short(key) + ": want NotFound, got " +
           (s.ok() ? "value " + Short(v) : s.ToString());
  }
  if (s.ok() && v == it->second.value) return "";
  if (s.IsNotFound() && it->second.may_vanish) return "";
  return "Get " + Short(key) + ": want " + Short(it->second.value) +
         (it->second.may_vanish ? " or NotFound" : "") + ", got " +
         (s.ok() ? "value " + Short(v) : s.ToString());
}

// Every model key by Get, a full iteration, and random Seeks.
void CheckAll(LsmEngine& db, const Model& model, uint64_t key_space, util::Random& rnd,
              const char* when) {
  INFO(when);
  std::vector<std::string> errors;
  for (uint64_t i = 0; i < key_space && errors.size() < 10; i++) {
    std::string e = CheckGet(db, model, ModelKey(i));
    if (!e.empty()) errors.push_back(e);
  }
  // Full iteration: strictly increasing keys, every one in the model with
  // its value, every key that must exist present.
  std::unique_ptr<Iterator> it = db.NewIterator();
  auto m = model.begin();
  std::string prev;
  bool first = true;
  for (it->SeekToFirst(); it->Valid() && errors.size() < 10; it->Next()) {
    std::string k(it->key());
    if (!first && k <= prev)
      errors.push_back("iterator order: " + Short(k) + " after " + Short(prev));
    first = false;
    prev = k;
    while (m != model.end() && m->first < k) {
      if (!m->second.may_vanish) errors.push_back("iterator skipped " + Short(m->first));
      ++m;
    }
    if (m == model.end() || m->first != k) {
      errors.push_back("iterator yields deleted key " + Short(k));
      continue;
    }
    if (it->value() != m->second.value) {
      errors.push_back("iterator value of " + Short(k) + " is " + Short(it->value()) + ", want " +
                       Short(m->second.value));
    }
    ++m;
  }
  if (!it->status().ok()) errors.push_back("iterator: " + it->status().ToString());
  for (; m != model.end() && errors.size() < 10; ++m) {
    if (!m->second.may_vanish) errors.push_back("iterator ended before " + Short(m->first));
  }
  // Seeks: the first key at or after the target, skipping keys that may
  // have vanished.
  for (int i = 0; i < 100 && errors.size() < 10; i++) {
    std::string target = ModelKey(rnd.Uniform(key_space));
    if (rnd.Uniform(2) == 0) target.pop_back();
    it = db.NewIterator();
    it->Seek(target);
    auto want = model.lower_bound(target);
    while (want != model.end() && want->second.may_vanish &&
           !(it->Valid() && it->key() == want->first)) {
      ++want;
    }
    if (want == model.end()) {
      if (it->Valid()) errors.push_back("Seek " + Short(target) + ": extra " + Short(it->key()));
    } else if (!it->Valid()) {
      errors.push_back("Seek " + Short(target) + ": invalid, want " + Short(want->first) + " " +
                       it->status().ToString());
    } else if (it->key() != want->first || it->value() != want->second.value) {
      errors.push_back("Seek " + Short(target) + ": got " + Short(it->key()) + ", want " +
                       Short(want->first));
    }
  }
  std::string all;
  for (const auto& e : errors) all += e + "\n";
  CHECK_MESSAGE(errors.empty(), all);
}

struct RunConfig {
  uint64_t ops = 200000;
  uint64_t keys = 5000;
  uint64_t reopen_every = 10000;  // on average
  bool compression = true;
  size_t block_size = 4096;
  int bloom_bits = 10;
};

void RunModel(uint64_t seed, const RunConfig& cfg) {
  util::Random rnd(seed);
  ModelTempDir tmp;
  LsmOptions opt;
  opt.dir = tmp.db();
  opt.memtable_bytes = 128 << 10;
  opt.target_file_bytes = 64 << 10;
  opt.level1_max_bytes = 256 << 10;
  opt.block_cache_bytes = 512 << 10;
  opt.block_size = cfg.block_size;
  opt.compression = cfg.compression;
  opt.bloom_bits_per_key = cfg.bloom_bits;
  opt.tombstone_gc_seconds = 0;
  std::unique_ptr<LsmEngine> db;
  uint64_t flushes = 0, compactions = 0;
  using Clock = std::chrono::steady_clock;
  Clock::duration stalled{0}, reopening{0}, compacting{0}, checking{0};
  auto open = [&] {
    auto t0 = Clock::now();
    if (db) {
      LsmStats st = db->GetStats();
      flushes += st.flushes;
      compactions += st.compactions;
    }
    db.reset();
    Status s = LsmEngine::Open(opt, &db);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    reopening += Clock::now() - t0;
  };
  open();
  Model model;
  uint64_t reopens = 0, compact_alls = 0, full_checks = 0, gets = 0;
  for (uint64_t op = 1; op <= cfg.ops; op++) {
    // Like the server: no writes while the engine stalls them.
    if (db->WriteStalled()) {
      auto t0 = Clock::now();
      while (db->WriteStalled()) {
        REQUIRE_MESSAGE(Clock::now() - t0 < std::chrono::seconds(20),
                        "stalled for 20 s: " << db->GetStats().last_background_error);
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      stalled += Clock::now() - t0;
    }
    const std::string key = ModelKey(rnd.Uniform(cfg.keys));
    const uint64_t dice = rnd.Uniform(100);
    const int64_t now = util::WallMs();
    std::string value;
    bool may_vanish = false;
    if (dice < 52) {  // a live record
      value = EncodedRecord(rnd, rnd.Uniform(301), 0, false, now);
    } else if (dice < 60) {  // expires in the future: live
      value = EncodedRecord(rnd, rnd.Uniform(301), now + 3600'000 + static_cast<int64_t>(op), false,
                            now);
    } else if (dice < 67) {  // already expired
      value = EncodedRecord(rnd, rnd.Uniform(301),
                            now - 1 - static_cast<int64_t>(rnd.Uniform(1000)), false, now - 5000);
      may_vanish = true;
    } else if (dice < 70) {  // a tombstone record older than tombstone_gc_seconds (0)
      value = EncodedRecord(rnd, 0, 0, true, now - 1000);
      may_vanish = true;
    } else if (dice < 72) {  // a raw value (not a record; compaction keeps it as is)
      value = "r" + Bytes(rnd, rnd.Uniform(301));
      if (rnd.Uniform(4) == 0) value.clear();
    } else if (dice < 87) {
      Status s = db->Delete(key);
      REQUIRE_MESSAGE(s.ok(), s.ToString());
      model.erase(key);
    } else {
      gets++;
      std::string e = CheckGet(*db, model, key);
      REQUIRE_MESSAGE(e.empty(), "op " << op << ": " << e);
    }
    if (dice < 72) {
      Status s = db->Put(key, value, 0);
      REQUIRE_MESSAGE(s.ok(), s.ToString());
      model[key] = Entry{value, may_vanish};
    }
    if (rnd.Uniform(64) == 0) {
      Status s = db->FlushWal();
      REQUIRE_MESSAGE(s.ok(), s.ToString());
    }
    if (rnd.Uniform(cfg.ops / 8) == 0) {
      auto t0 = Clock::now();
      Status s = db->CompactAll();
      REQUIRE_MESSAGE(s.ok(), s.ToString());
      compact_alls++;
      compacting += Clock::now() - t0;
    }
    if (rnd.Uniform(3000) == 0) db->WaitForBackgroundWork();
    if (rnd.Uniform(cfg.reopen_every) == 0) {
      open();
      reopens++;
      auto t0 = Clock::now();
      CheckAll(*db, model, cfg.keys, rnd, "after reopen");
      full_checks++;
      checking += Clock::now() - t0;
    }
    if (op % 20000 == 0) {
      auto t0 = Clock::now();
      CheckAll(*db, model, cfg.keys, rnd, "periodic check");
      full_checks++;
      checking += Clock::now() - t0;
    }
  }
  db->WaitForBackgroundWork();
  CheckAll(*db, model, cfg.keys, rnd, "at the end");
  LsmStats st = db->GetStats();
  flushes += st.flushes;
  compactions += st.compactions;
  uint64_t files = 0, tables_on_disk = 0;
  for (uint64_t n : st.files_per_level) files += n;
  for (const auto& e : fs::directory_iterator(opt.dir)) {
    uint64_t number;
    FileType type;
    if (ParseFileName(e.path().filename().string(), &number, &type) &&
        type == FileType::kTableFile) {
      tables_on_disk++;
    }
  }
  CHECK(files == tables_on_disk);  // no table leaked, none missing
  CHECK(st.last_background_error.empty());
  std::string levels;
  for (uint64_t n : st.files_per_level) levels += std::to_string(n) + " ";
  auto ms = [](Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  MESSAGE(cfg.ops << " ops: " << reopens << " reopens (" << ms(reopening) << " ms), "
                  << compact_alls << " CompactAll (" << ms(compacting) << " ms), " << full_checks
                  << " full checks (" << ms(checking) << " ms), " << gets << " checked Gets, "
                  << flushes << " flushes, " << compactions << " compactions, stalled "
                  << ms(stalled) << " ms, files per level " << levels);
  open();
  CheckAll(*db, model, cfg.keys, rnd, "final reopen");
}

TEST_CASE("LsmEngine matches a std::map model over 200,000 random operations and reopens") {
  const uint64_t seed = test::TestSeed(20240917);
  RunModel(seed, RunConfig{});
}

TEST_CASE("LsmEngine matches the model with tiny uncompressed blocks and no Bloom filter") {
  const uint64_t seed = test::TestSeed(20240918);
  RunConfig cfg;
  cfg.ops = 40000;
  cfg.keys = 2000;
  cfg.reopen_every = 5000;
  cfg.compression = false;
  cfg.block_size = 256;
  cfg.bloom_bits = 0;
  RunModel(seed, cfg);
}

}  // namespace
}  // namespace kv::storage
