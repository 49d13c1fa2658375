// Storage engine benchmark: kv's LSM (src/storage/lsm_engine.h) against
// LevelDB and RocksDB on the same workload, LevelDB db_bench style
// (DESIGN.md section 9: kv >= LevelDB on every phase). One engine per
// process, so the peak RSS it reports belongs to that engine alone;
// tests/bench/storage_bench.sh runs the three and prints the comparison.
//
//   kv_storage_bench --engine=kv|leveldb|rocksdb --dir=DIR [--num=1000000]
//                    [--quick] [--phases=fillseq,fillrandom,...] [--kv-records]
//   kv_storage_bench --list-engines | --versions | --help
//
// Workload (identical for every engine): 16-byte keys ("%016d" of the key
// number), 100-byte values that Snappy compresses about 2:1 (db_bench's
// generator: 50 random printable bytes, then the same 50 again), Snappy
// on, 10-bit Bloom filters, 4 KiB blocks, 64 MiB block cache, 64 MiB write
// buffer, no fsync (each write is handed to the OS with write(2)).
// Phases: fillseq (fresh db), fillrandom (fresh db, every key once in random
// order), overwrite (num random keys over the fillrandom db), then a full
// compaction (timed, not a phase), readrandom (num random existing keys),
// readmissing (num absent keys: the same format plus "."), scan (every entry
// in order). Machine-readable "RESULT engine name value" lines close the
// output; storage_bench.sh builds its tables from them.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#if KV_BENCH_HAVE_KV
#include "storage/lsm_engine.h"
#include "storage/record.h"
#endif
#include "util/random.h"

#if KV_BENCH_HAVE_LEVELDB
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <leveldb/cache.h>
#include <leveldb/db.h>
#include <leveldb/filter_policy.h>
#include <leveldb/options.h>
#pragma GCC diagnostic pop
#endif

#if KV_BENCH_HAVE_ROCKSDB
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/version.h>
#pragma GCC diagnostic pop
#endif

#if KV_BENCH_HAVE_SNAPPY
#include <snappy.h>
#endif

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kKeySize = 16;
constexpr size_t kValueSize = 100;
constexpr size_t kBlockSize = 4096;
constexpr int kBloomBitsPerKey = 10;
constexpr size_t kBlockCacheBytes = 64 << 20;
constexpr size_t kWriteBufferBytes = 64 << 20;

[[noreturn]] void Die(const std::string& what) {
  fprintf(stderr, "kv_storage_bench: %s\n", what.c_str());
  exit(1);
}

// Deterministic (splitmix64), so every engine sees the same key sequence.
using Rng = kv::util::Random;

// db_bench's RandomGenerator with compression_ratio 0.5: 1 MiB of 100-byte
// pieces, each 50 random printable bytes followed by the same 50 bytes.
// Value i is piece i mod 10,485 (values are piece-aligned).
class ValueGen {
 public:
  ValueGen() {
    Rng rng(301);
    constexpr size_t kPieces = (1 << 20) / kValueSize;
    data_.reserve(kPieces * kValueSize);
    for (size_t p = 0; p < kPieces; p++) {
      char raw[kValueSize / 2];
      for (char& c : raw) c = static_cast<char>(' ' + rng.Uniform(95));
      data_.append(raw, sizeof(raw));
      data_.append(raw, sizeof(raw));
    }
  }
  std::string_view Next() {
    if (pos_ + kValueSize > data_.size()) pos_ = 0;
    std::string_view v(data_.data() + pos_, kValueSize);
    pos_ += kValueSize;
    return v;
  }
  const std::string& data() const { return data_; }

 private:
  std::string data_;
  size_t pos_ = 0;
};

// Snappy ratio of the value stream compressed in 4 KiB pieces (the block
// size), or 0 without snappy.
double ValueCompressionRatio(const std::string& data) {
#if KV_BENCH_HAVE_SNAPPY
  size_t in = 0, out = 0;
  std::string compressed;
  for (size_t off = 0; off + kBlockSize <= data.size(); off += kBlockSize) {
    snappy::Compress(data.data() + off, kBlockSize, &compressed);
    in += kBlockSize;
    out += compressed.size();
  }
  return out ? static_cast<double>(in) / static_cast<double>(out) : 0;
#else
  (void)data;
  return 0;
#endif
}

void MakeKey(uint64_t k, char* buf) {  // 16 bytes, not NUL-terminated
  char tmp[32];
  snprintf(tmp, sizeof(tmp), "%016llu", static_cast<unsigned long long>(k));
  memcpy(buf, tmp, kKeySize);
}

// ---- the engines ------------------------------------------------------------

class BenchDb {
 public:
  virtual ~BenchDb() = default;
  virtual void Open(const std::string& dir) = 0;  // fresh directory; dies on error
  virtual void Close() = 0;
  virtual void Put(std::string_view key, std::string_view value) = 0;
  // True if found; *value_size gets the value's length.
  virtual bool Get(std::string_view key, size_t* value_size) = 0;
  // Walks everything in key order; returns the entry count.
  virtual uint64_t Scan(uint64_t* bytes) = 0;
  // Flushes the memtable, compacts everything, waits for background work.
  virtual void CompactAndWait() = 0;
  virtual std::string Settings() const = 0;
  virtual std::string LevelSummary() = 0;     // files per level, after compaction
  virtual std::string Extra() { return ""; }  // engine-specific notes
};

#if KV_BENCH_HAVE_KV
class KvDb final : public BenchDb {
 public:
  explicit KvDb(bool records) : records_(records) {}
  void Open(const std::string& dir) override {
    kv::storage::LsmOptions o;
    o.dir = dir;
    o.memtable_bytes = kWriteBufferBytes;
    o.block_size = kBlockSize;
    o.bloom_bits_per_key = kBloomBitsPerKey;
    o.compression = true;
    o.block_cache_bytes = kBlockCacheBytes;
    o.on_background_done = [this] {
      std::lock_guard<std::mutex> l(mu_);
      background_done_++;
      cv_.notify_all();
    };
    options_ = o;
    kv::util::Status s = kv::storage::LsmEngine::Open(o, &db_);
    if (!s.ok()) Die("kv open " + dir + ": " + s.ToString());
  }
  void Close() override { db_.reset(); }
  void Put(std::string_view key, std::string_view value) override {
    if (records_) {
      // What the server stores: a single-version record around the value.
      record_.clear();
      kv::storage::VersionView v;
      v.dot = {1, ++counter_};
      v.timestamp_ms = 1700000000000;
      v.value = value;
      kv::storage::EncodeSingleVersion({v.dot}, v, &record_);
      value = record_;
    }
    for (;;) {
      WaitWhileStalled();
      kv::util::Status s = db_->Put(key, value, 0);
      if (s.ok()) break;
      if (s.code() != kv::util::Status::Code::kBusy) Die("kv put: " + s.ToString());
    }
    // LevelDB and RocksDB with sync=false write(2) each record; so does this.
    kv::util::Status s = db_->FlushWal();
    if (!s.ok()) Die("kv flush wal: " + s.ToString());
  }
  bool Get(std::string_view key, size_t* value_size) override {
    std::string_view v;
    kv::util::Status s = db_->Get(key, &v, &scratch_);
    if (s.IsNotFound()) return false;
    if (!s.ok()) Die("kv get: " + s.ToString());
    *value_size = v.size();
    return true;
  }
  uint64_t Scan(uint64_t* bytes) override {
    uint64_t n = 0;
    std::unique_ptr<kv::storage::Iterator> it = db_->NewIterator();
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      n++;
      *bytes += it->key().size() + it->value().size();
    }
    if (!it->status().ok()) Die("kv scan: " + it->status().ToString());
    return n;
  }
  void CompactAndWait() override {
    kv::util::Status s = db_->CompactAll();
    if (!s.ok()) Die("kv compact: " + s.ToString());
    db_->WaitForBackgroundWork();
  }
  std::string Settings() const override {
    char buf[512];
    snprintf(buf, sizeof(buf),
             "memtable %zu MiB, block %zu B, bloom %d bits/key, compression %s, "
             "block cache %zu MiB, target file %zu MiB, L1 %llu MiB, L0 trigger %d, "
             "L0 stop %d, 1 background thread, FlushWal() (write(2)) after every Put, "
             "no fsync%s",
             options_.memtable_bytes >> 20, options_.block_size, options_.bloom_bits_per_key,
             options_.compression ? "snappy" : "none", options_.block_cache_bytes >> 20,
             options_.target_file_bytes >> 20,
             static_cast<unsigned long long>(options_.level1_max_bytes >> 20),
             options_.level0_compaction_trigger, options_.level0_stop_writes,
             records_ ? ", values wrapped in single-version records (--kv-records)" : "");
    return buf;
  }
  std::string LevelSummary() override {
    kv::storage::LsmStats st = db_->GetStats();
    std::string out;
    for (size_t l = 0; l < st.files_per_level.size(); l++) {
      if (!out.empty()) out += " ";
      out += std::to_string(st.files_per_level[l]);
    }
    return out;
  }
  std::string Extra() override {
    kv::storage::LsmStats st = db_->GetStats();
    char buf[512];
    snprintf(buf, sizeof(buf),
             "kv stats: flushes %llu, compactions %llu, flush %.1f MiB, compaction %.1f MiB, "
             "user %.1f MiB, stalls %llu (%.2f s waited), bloom useful %llu / checked %llu, "
             "block cache hits %llu misses %llu",
             static_cast<unsigned long long>(st.flushes),
             static_cast<unsigned long long>(st.compactions),
             static_cast<double>(st.bytes_written_flush) / (1 << 20),
             static_cast<double>(st.bytes_written_compaction) / (1 << 20),
             static_cast<double>(st.user_bytes_written) / (1 << 20),
             static_cast<unsigned long long>(st.stall_count), stall_seconds_,
             static_cast<unsigned long long>(st.bloom_useful),
             static_cast<unsigned long long>(st.bloom_checked),
             static_cast<unsigned long long>(st.block_cache_hits),
             static_cast<unsigned long long>(st.block_cache_misses));
    return buf;
  }

 private:
  // LevelDB and RocksDB block a writer while the memtable cannot be
  // switched; kv leaves that to its owner (the server stops reading
  // clients), so the bench waits here until a background job finished.
  void WaitWhileStalled() {
    if (!db_->WriteStalled()) return;
    Clock::time_point t0 = Clock::now();
    for (;;) {
      uint64_t seen;
      {
        std::lock_guard<std::mutex> l(mu_);
        seen = background_done_;
      }
      // Never call into the engine holding mu_: the callback takes mu_ from
      // the engine's thread.
      if (!db_->WriteStalled()) break;
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait_for(l, std::chrono::milliseconds(10), [&] { return background_done_ != seen; });
    }
    stall_seconds_ += std::chrono::duration<double>(Clock::now() - t0).count();
  }

  bool records_;
  kv::storage::LsmOptions options_;
  std::unique_ptr<kv::storage::LsmEngine> db_;
  std::string scratch_;
  std::string record_;
  uint64_t counter_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t background_done_ = 0;
  double stall_seconds_ = 0;
};
#endif  // KV_BENCH_HAVE_KV

#if KV_BENCH_HAVE_LEVELDB
class LevelDb final : public BenchDb {
 public:
  LevelDb()
      : cache_(leveldb::NewLRUCache(kBlockCacheBytes)),
        filter_(leveldb::NewBloomFilterPolicy(kBloomBitsPerKey)) {}
  ~LevelDb() override {
    db_.reset();  // before the cache and the filter it uses
  }
  void Open(const std::string& dir) override {
    options_.create_if_missing = true;
    options_.error_if_exists = true;
    options_.write_buffer_size = kWriteBufferBytes;  // default 4 MiB; kv's is 64
    options_.block_size = kBlockSize;
    options_.block_cache = cache_.get();
    options_.filter_policy = filter_.get();
    options_.compression = leveldb::kSnappyCompression;
    leveldb::DB* db = nullptr;
    leveldb::Status s = leveldb::DB::Open(options_, dir, &db);
    if (!s.ok()) Die("leveldb open " + dir + ": " + s.ToString());
    db_.reset(db);
  }
  void Close() override { db_.reset(); }
  void Put(std::string_view key, std::string_view value) override {
    leveldb::Status s = db_->Put(write_options_, leveldb::Slice(key.data(), key.size()),
                                 leveldb::Slice(value.data(), value.size()));
    if (!s.ok()) Die("leveldb put: " + s.ToString());
  }
  bool Get(std::string_view key, size_t* value_size) override {
    leveldb::Status s =
        db_->Get(leveldb::ReadOptions(), leveldb::Slice(key.data(), key.size()), &value_);
    if (s.IsNotFound()) return false;
    if (!s.ok()) Die("leveldb get: " + s.ToString());
    *value_size = value_.size();
    return true;
  }
  uint64_t Scan(uint64_t* bytes) override {
    uint64_t n = 0;
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      n++;
      *bytes += it->key().size() + it->value().size();
    }
    if (!it->status().ok()) Die("leveldb scan: " + it->status().ToString());
    return n;
  }
  void CompactAndWait() override { db_->CompactRange(nullptr, nullptr); }
  std::string Settings() const override {
    char buf[512];
    snprintf(buf, sizeof(buf),
             "write buffer %zu MiB (default 4), block %zu B, bloom %d bits/key "
             "(NewBloomFilterPolicy), compression snappy, block cache %zu MiB, max file "
             "%zu MiB (default), L1 10 MiB (fixed), L0 trigger 4, slowdown 8, stop 12 (fixed), "
             "max open files %d, 1 background thread, sync=false",
             options_.write_buffer_size >> 20, options_.block_size, kBloomBitsPerKey,
             kBlockCacheBytes >> 20, options_.max_file_size >> 20, options_.max_open_files);
    return buf;
  }
  std::string LevelSummary() override {
    std::string out, v;
    for (int l = 0; l < 7; l++) {
      if (!db_->GetProperty("leveldb.num-files-at-level" + std::to_string(l), &v)) break;
      if (!out.empty()) out += " ";
      out += v;
    }
    return out;
  }

 private:
  std::unique_ptr<leveldb::Cache> cache_;
  std::unique_ptr<const leveldb::FilterPolicy> filter_;
  leveldb::Options options_;
  leveldb::WriteOptions write_options_;  // sync = false
  std::unique_ptr<leveldb::DB> db_;
  std::string value_;
};
#endif  // KV_BENCH_HAVE_LEVELDB

#if KV_BENCH_HAVE_ROCKSDB
class RocksDb final : public BenchDb {
 public:
  void Open(const std::string& dir) override {
    rocksdb::BlockBasedTableOptions t;
    t.block_size = kBlockSize;
    t.block_cache = rocksdb::NewLRUCache(kBlockCacheBytes);
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(kBloomBitsPerKey, false));
    options_ = rocksdb::Options();
    options_.create_if_missing = true;
    options_.error_if_exists = true;
    options_.compression = rocksdb::kSnappyCompression;
    options_.write_buffer_size = kWriteBufferBytes;  // the default too
    options_.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(options_, dir, &db);
    if (!s.ok()) Die("rocksdb open " + dir + ": " + s.ToString());
    db_.reset(db);
  }
  void Close() override { db_.reset(); }
  void Put(std::string_view key, std::string_view value) override {
    rocksdb::Status s = db_->Put(write_options_, rocksdb::Slice(key.data(), key.size()),
                                 rocksdb::Slice(value.data(), value.size()));
    if (!s.ok()) Die("rocksdb put: " + s.ToString());
  }
  bool Get(std::string_view key, size_t* value_size) override {
    value_.Reset();
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(),
                                 rocksdb::Slice(key.data(), key.size()), &value_);
    if (s.IsNotFound()) return false;
    if (!s.ok()) Die("rocksdb get: " + s.ToString());
    *value_size = value_.size();
    return true;
  }
  uint64_t Scan(uint64_t* bytes) override {
    uint64_t n = 0;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      n++;
      *bytes += it->key().size() + it->value().size();
    }
    if (!it->status().ok()) Die("rocksdb scan: " + it->status().ToString());
    return n;
  }
  void CompactAndWait() override {
    rocksdb::Status s = db_->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr);
    if (!s.ok()) Die("rocksdb compact: " + s.ToString());
    // 7.8 has no WaitForCompact: poll until nothing is pending or running.
    for (;;) {
      uint64_t pending = 0, compactions = 0, flushes = 0;
      db_->GetIntProperty("rocksdb.compaction-pending", &pending);
      db_->GetIntProperty("rocksdb.num-running-compactions", &compactions);
      db_->GetIntProperty("rocksdb.num-running-flushes", &flushes);
      if (pending + compactions + flushes == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::string Settings() const override {
    char buf[512];
    snprintf(buf, sizeof(buf),
             "write buffer %zu MiB, block %zu B, bloom %d bits/key (NewBloomFilterPolicy, "
             "full filters), compression snappy, block cache %zu MiB (LRU), target file %llu "
             "MiB, L1 %llu MiB, L0 trigger %d, slowdown %d, stop %d, max background jobs %d "
             "(defaults except write buffer/block/bloom/cache/compression), sync=false",
             options_.write_buffer_size >> 20, kBlockSize, kBloomBitsPerKey, kBlockCacheBytes >> 20,
             static_cast<unsigned long long>(options_.target_file_size_base >> 20),
             static_cast<unsigned long long>(options_.max_bytes_for_level_base >> 20),
             options_.level0_file_num_compaction_trigger, options_.level0_slowdown_writes_trigger,
             options_.level0_stop_writes_trigger, options_.max_background_jobs);
    return buf;
  }
  std::string LevelSummary() override {
    std::string out, v;
    for (int l = 0; l < options_.num_levels; l++) {
      if (!db_->GetProperty("rocksdb.num-files-at-level" + std::to_string(l), &v)) break;
      if (!out.empty()) out += " ";
      out += v;
    }
    return out;
  }

 private:
  rocksdb::Options options_;
  rocksdb::WriteOptions write_options_;  // sync = false, WAL on
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::PinnableSlice value_;
};
#endif  // KV_BENCH_HAVE_ROCKSDB

std::vector<std::string> AvailableEngines() {
  std::vector<std::string> e;
#if KV_BENCH_HAVE_KV
  e.push_back("kv");
#endif
#if KV_BENCH_HAVE_LEVELDB
  e.push_back("leveldb");
#endif
#if KV_BENCH_HAVE_ROCKSDB
  e.push_back("rocksdb");
#endif
  return e;
}

std::string EngineVersion(const std::string& engine) {
#if KV_BENCH_HAVE_LEVELDB
  if (engine == "leveldb") {
    return "LevelDB " + std::to_string(leveldb::kMajorVersion) + "." +
           std::to_string(leveldb::kMinorVersion);
  }
#endif
#if KV_BENCH_HAVE_ROCKSDB
  if (engine == "rocksdb") {
    // The header's version; the linked library's is the same on Debian.
    return "RocksDB " + rocksdb::GetRocksVersionAsString(true);
  }
#endif
  if (engine == "kv") {
#if KV_BENCH_HAVE_KV
    return "kv LSM (this tree)";
#endif
  }
  return engine + " (not built in)";
}

std::unique_ptr<BenchDb> NewDb(const std::string& engine, bool kv_records) {
  (void)engine;
  (void)kv_records;
#if KV_BENCH_HAVE_KV
  if (engine == "kv") return std::make_unique<KvDb>(kv_records);
#endif
#if KV_BENCH_HAVE_LEVELDB
  if (engine == "leveldb") return std::make_unique<LevelDb>();
#endif
#if KV_BENCH_HAVE_ROCKSDB
  if (engine == "rocksdb") return std::make_unique<RocksDb>();
#endif
  return nullptr;
}

// ---- measuring ----------------------------------------------------------------

double CpuSeconds() {  // user + system, all threads (background work counts)
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

long PeakRssKb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

// Bytes this process handed to write(2)/pwrite(2) so far (/proc/self/io
// wchar): WAL, tables, manifest, logs. Exact and engine-independent.
uint64_t BytesWritten() {
  std::ifstream f("/proc/self/io");
  std::string name;
  uint64_t v = 0;
  while (f >> name >> v) {
    if (name == "wchar:") return v;
  }
  return 0;
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  }
  return total;
}

struct Measure {
  Clock::time_point t0 = Clock::now();
  double cpu0 = CpuSeconds();
  uint64_t w0 = BytesWritten();
};

class Reporter {
 public:
  explicit Reporter(std::string engine) : engine_(std::move(engine)) {}
  void Phase(const char* name, uint64_t ops, const Measure& m, const std::string& note) {
    double secs = std::chrono::duration<double>(Clock::now() - m.t0).count();
    double cpu = CpuSeconds() - m.cpu0;
    uint64_t written = BytesWritten() - m.w0;
    double ops_s = static_cast<double>(ops) / secs;
    printf(
        "%-12s %9llu ops %8.3f s %11.0f ops/s %7.2f us/op  cpu %6.2f us/op  written %7.1f MiB  "
        "%s\n",
        name, static_cast<unsigned long long>(ops), secs, ops_s,
        secs * 1e6 / static_cast<double>(ops), cpu * 1e6 / static_cast<double>(ops),
        static_cast<double>(written) / (1 << 20), note.c_str());
    fflush(stdout);
    results_ += "RESULT " + engine_ + " " + name + ".ops_per_sec " + Num(ops_s) + "\n";
    results_ += "RESULT " + engine_ + " " + name + ".cpu_us_per_op " +
                Num(cpu * 1e6 / static_cast<double>(ops)) + "\n";
    results_ += "RESULT " + engine_ + " " + name + ".secs " + Num(secs) + "\n";
    results_ +=
        "RESULT " + engine_ + " " + name + ".written_bytes " + std::to_string(written) + "\n";
  }
  void Value(const std::string& name, const std::string& v) {
    results_ += "RESULT " + engine_ + " " + name + " " + v + "\n";
  }
  const std::string& results() const { return results_; }
  static std::string Num(double v) {
    char buf[64];
    snprintf(buf, sizeof(buf), "%.4f", v);
    return buf;
  }

 private:
  std::string engine_;
  std::string results_;
};

// ---- the comparison table (--report) -------------------------------------------

// Reads "RESULT engine metric value" lines (any number of runs of each
// engine, in any order) and prints medians side by side.
int Report(const std::vector<std::string>& files) {
  std::map<std::pair<std::string, std::string>, std::vector<double>> v;
  std::map<std::string, std::string> versions;
  for (const std::string& path : files) {
    std::ifstream f(path);
    if (!f) Die("cannot read " + path);
    std::string line;
    while (std::getline(f, line)) {
      std::istringstream ls(line);
      std::string tag, engine, metric, value;
      if (!(ls >> tag >> engine >> metric) || tag != "RESULT") continue;
      std::getline(ls >> std::ws, value);
      if (metric == "version") {
        if (value.size() >= 2 && value.front() == '"') value = value.substr(1, value.size() - 2);
        versions[engine] = value;
      } else if (!value.empty() && value[0] != '"') {
        v[{engine, metric}].push_back(strtod(value.c_str(), nullptr));
      }
    }
  }
  auto median = [&](const std::string& e, const std::string& m, double* out) {
    auto it = v.find({e, m});
    if (it == v.end() || it->second.empty()) return false;
    std::vector<double> x = it->second;
    std::sort(x.begin(), x.end());
    size_t n = x.size();
    *out = n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
    return true;
  };
  const char* engines[] = {"kv", "leveldb", "rocksdb"};
  size_t rounds = 0;
  for (const char* e : engines) {
    auto it = v.find({e, "num"});
    if (it != v.end()) rounds = std::max(rounds, it->second.size());
  }
  auto row = [&](const std::string& label, const std::function<bool(const char*, double*)>& get,
                 const char* fmt) {
    double x[3];
    bool have[3];
    printf("%-22s", label.c_str());
    for (int i = 0; i < 3; i++) {
      have[i] = get(engines[i], &x[i]);
      char cell[64] = "-";
      if (have[i]) snprintf(cell, sizeof(cell), fmt, x[i]);
      printf(" %12s", cell);
    }
    for (int i = 1; i < 3; i++) {
      char cell[64] = "-";
      if (have[0] && have[i] && x[i] != 0) snprintf(cell, sizeof(cell), "%.2f", x[0] / x[i]);
      printf(" %12s", cell);
    }
    printf("\n");
  };
  auto metric = [&](const std::string& m, double scale) {
    return [&, m, scale](const char* e, double* out) {
      if (!median(e, m, out)) return false;
      *out *= scale;
      return true;
    };
  };
  auto header = [&](const char* title) {
    printf("%-22s %12s %12s %12s %12s %12s\n", title, "kv", "LevelDB", "RocksDB", "kv/LevelDB",
           "kv/RocksDB");
  };
  for (const char* e : engines) {
    auto it = versions.find(e);
    if (it != versions.end()) printf("%-8s %s\n", e, it->second.c_str());
  }
  printf("medians of %zu run(s) per engine\n\n", rounds);
  const char* phases[] = {"fillseq",    "fillrandom",  "overwrite",
                          "readrandom", "readmissing", "scan"};
  header("ops/s (higher wins)");
  for (const char* p : phases) row(p, metric(std::string(p) + ".ops_per_sec", 1), "%.0f");
  printf("\n");
  header("CPU us/op (lower wins)");
  for (const char* p : phases) row(p, metric(std::string(p) + ".cpu_us_per_op", 1), "%.2f");
  printf("\n");
  header("other (lower wins)");
  row("compaction s", metric("compact.secs", 1), "%.2f");
  row("disk MiB compacted", metric("disk_bytes", 1.0 / (1 << 20)), "%.1f");
  row("peak RSS MiB", metric("peak_rss_kb", 1.0 / 1024), "%.1f");
  // Everything written with write(2) while loading the random db (WAL,
  // flushes, compactions, the final full compaction) over the user bytes.
  row(
      "write amplification",
      [&](const char* e, double* out) {
        double num = 0, a = 0, b = 0, c = 0;
        if (!median(e, "num", &num) || !median(e, "fillrandom.written_bytes", &a) ||
            !median(e, "overwrite.written_bytes", &b) || !median(e, "compact.written_bytes", &c)) {
          return false;
        }
        *out = (a + b + c) / (2 * num * static_cast<double>(kKeySize + kValueSize));
        return true;
      },
      "%.2f");
  return 0;
}

void Usage(FILE* f) {
  fprintf(f,
          "usage: kv_storage_bench --engine=kv|leveldb|rocksdb --dir=DIR [--num=N] [--quick]\n"
          "                        [--phases=LIST] [--kv-records]\n"
          "       kv_storage_bench --list-engines | --versions | --report FILE...\n"
          "  --num=N        keys (default 1000000; --quick: 100000)\n"
          "  --dir=DIR      a directory for the databases (created; must not hold them yet)\n"
          "  --phases=LIST  subset of fillseq,fillrandom,overwrite,readrandom,readmissing,scan\n"
          "                 (default all; any phase after fillrandom also runs fillrandom)\n"
          "  --kv-records   kv only: wrap each value in a single-version record, as the\n"
          "                 server stores it (adds ~30 bytes per value)\n"
          "  --report FILE... print the comparison table (medians) of the RESULT lines in\n"
          "                 the files (outputs of runs of any engines)\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string engine, dir;
  uint64_t num = 1000000;
  bool num_set = false, quick = false, kv_records = false;
  std::set<std::string> phases = {"fillseq",    "fillrandom",  "overwrite",
                                  "readrandom", "readmissing", "scan"};
  for (int i = 1; i < argc; i++) {
    std::string_view a = argv[i];
    auto value = [&](std::string_view flag) -> const char* {
      return a.substr(0, flag.size()) == flag ? argv[i] + flag.size() : nullptr;
    };
    if (const char* v = value("--engine=")) {
      engine = v;
    } else if (const char* d = value("--dir=")) {
      dir = d;
    } else if (const char* n = value("--num=")) {
      num = strtoull(n, nullptr, 10);
      num_set = true;
    } else if (const char* p = value("--phases=")) {
      phases.clear();
      std::stringstream ss(p);
      std::string item;
      while (std::getline(ss, item, ',')) {
        if (!item.empty()) phases.insert(item);
      }
    } else if (a == "--quick") {
      quick = true;
    } else if (a == "--kv-records") {
      kv_records = true;
    } else if (a == "--list-engines") {
      for (const std::string& e : AvailableEngines()) printf("%s\n", e.c_str());
      return 0;
    } else if (a == "--versions") {
      for (const char* e : {"kv", "leveldb", "rocksdb"})
        printf("%s: %s\n", e, EngineVersion(e).c_str());
      return 0;
    } else if (a == "--report") {
      return Report(std::vector<std::string>(argv + i + 1, argv + argc));
    } else if (a == "--help" || a == "-h") {
      Usage(stdout);
      return 0;
    } else {
      Usage(stderr);
      return 2;
    }
  }
  if (quick && !num_set) num = 100000;
  if (engine.empty() || dir.empty() || num == 0) {
    Usage(stderr);
    return 2;
  }
  for (const std::string& p : phases) {
    if (p != "fillseq" && p != "fillrandom" && p != "overwrite" && p != "readrandom" &&
        p != "readmissing" && p != "scan") {
      Die("unknown phase " + p);
    }
  }
  bool need_random_db = phases.size() > phases.count("fillseq");
  if (need_random_db) phases.insert("fillrandom");

  std::unique_ptr<BenchDb> db = NewDb(engine, kv_records);
  if (!db) Die("engine '" + engine + "' is not built into this binary (see --list-engines)");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) Die("cannot create " + dir + ": " + ec.message());

  ValueGen values;
  Reporter rep(engine);
  printf("engine: %s\n", EngineVersion(engine).c_str());
  printf("keys: %llu x %zu bytes; values: %zu bytes, snappy ratio %.2f:1 (4 KiB pieces)%s\n",
         static_cast<unsigned long long>(num), kKeySize, kValueSize,
         ValueCompressionRatio(values.data()),
         kv_records && engine == "kv" ? " (+record header)" : "");
  printf("dir: %s\n", dir.c_str());
  fflush(stdout);
  rep.Value("version", "\"" + EngineVersion(engine) + "\"");
  rep.Value("num", std::to_string(num));

  char key[kKeySize + 1];
  auto put_all = [&](const char* name, auto&& key_of) {
    Measure m;
    for (uint64_t i = 0; i < num; i++) {
      MakeKey(key_of(i), key);
      db->Put(std::string_view(key, kKeySize), values.Next());
    }
    rep.Phase(name, num, m, "");
  };

  if (phases.count("fillseq")) {
    std::string d = dir + "/fillseq";
    db->Open(d);
    printf("settings: %s\n", db->Settings().c_str());
    put_all("fillseq", [](uint64_t i) { return i; });
    db->Close();
    std::filesystem::remove_all(d, ec);
  }
  if (!need_random_db) {
    printf("peak RSS: %ld KiB\n", PeakRssKb());
    rep.Value("peak_rss_kb", std::to_string(PeakRssKb()));
    fputs(rep.results().c_str(), stdout);
    return 0;
  }

  std::string d = dir + "/random";
  db->Open(d);
  if (!phases.count("fillseq")) printf("settings: %s\n", db->Settings().c_str());
  // Every key exactly once, in a random order (Fisher-Yates).
  std::vector<uint32_t> perm(num);
  for (uint64_t i = 0; i < num; i++) perm[i] = static_cast<uint32_t>(i);
  Rng rng(1000);
  for (uint64_t i = num - 1; i > 0; i--) std::swap(perm[i], perm[rng.Uniform(i + 1)]);
  put_all("fillrandom", [&](uint64_t i) { return perm[i]; });
  std::vector<uint32_t>().swap(perm);

  if (phases.count("overwrite")) {
    Rng r(2000);
    put_all("overwrite", [&](uint64_t) { return r.Uniform(num); });
  }

  {
    Measure m;
    db->CompactAndWait();
    double secs = std::chrono::duration<double>(Clock::now() - m.t0).count();
    uint64_t written = BytesWritten() - m.w0;
    uint64_t bytes = DirBytes(d);
    printf(
        "compact      %.3f s, cpu %.3f s, written %.1f MiB; disk size after compaction %llu "
        "bytes (%.1f MiB); files per level: %s\n",
        secs, CpuSeconds() - m.cpu0, static_cast<double>(written) / (1 << 20),
        static_cast<unsigned long long>(bytes), static_cast<double>(bytes) / (1 << 20),
        db->LevelSummary().c_str());
    fflush(stdout);
    rep.Value("compact.secs", Reporter::Num(secs));
    rep.Value("compact.written_bytes", std::to_string(written));
    rep.Value("disk_bytes", std::to_string(bytes));
    rep.Value("levels", "\"" + db->LevelSummary() + "\"");
  }

  if (phases.count("readrandom")) {
    Rng r(3000);
    uint64_t found = 0, bytes = 0;
    Measure m;
    for (uint64_t i = 0; i < num; i++) {
      MakeKey(r.Uniform(num), key);
      size_t n = 0;
      if (db->Get(std::string_view(key, kKeySize), &n)) {
        found++;
        bytes += n;
      }
    }
    rep.Phase("readrandom", num, m,
              "(" + std::to_string(found) + " of " + std::to_string(num) + " found)");
    if (found != num)
      Die("readrandom found " + std::to_string(found) + " of " + std::to_string(num));
    if (bytes < num * kValueSize) Die("readrandom: short values");
  }
  if (phases.count("readmissing")) {
    Rng r(4000);
    uint64_t found = 0;
    char missing[kKeySize + 1];
    Measure m;
    for (uint64_t i = 0; i < num; i++) {
      MakeKey(r.Uniform(num), missing);
      missing[kKeySize] = '.';  // db_bench's readmissing: "%016d."
      size_t n = 0;
      found += db->Get(std::string_view(missing, kKeySize + 1), &n);
    }
    rep.Phase("readmissing", num, m, "(" + std::to_string(found) + " found)");
    if (found != 0) Die("readmissing found " + std::to_string(found) + " keys");
  }
  if (phases.count("scan")) {
    uint64_t bytes = 0;
    Measure m;
    uint64_t n = db->Scan(&bytes);
    rep.Phase("scan", n, m, "(" + std::to_string(n) + " entries)");
    if (n != num)
      Die("scan walked " + std::to_string(n) + " entries, expected " + std::to_string(num));
  }
  std::string extra = db->Extra();
  if (!extra.empty()) printf("%s\n", extra.c_str());
  db->Close();
  printf("peak RSS: %ld KiB\n", PeakRssKb());
  rep.Value("peak_rss_kb", std::to_string(PeakRssKb()));
  fputs(rep.results().c_str(), stdout);
  return 0;
}
