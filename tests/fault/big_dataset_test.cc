// A dataset much larger than the memory the server is given: written with
// pipelining through `--memtable-size 8mb --block-cache-size 64mb`, then the
// server restarts with `--block-cache-size 64mb` and
//
//   - 1,000 random GETs return exactly what was written;
//   - INFO storage's disk_bytes is about the bytes written (values are
//     incompressible, nothing was overwritten);
//   - the resident set stays well under the dataset (< 1 GB, and < half
//     the dataset once it is 1 GB or more), while writing and after the
//     restart.
//
// Size: $KV_FAULT_BIG_GB (GiB of keys + values; default 2, 0.2 under a
// sanitizer build). Values are 1-4 KiB from ValueFor (fault_util.h), so
// they do not compress to nothing. Timings, rates, sizes and GET latencies
// are printed.
#include <doctest/doctest.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fault/fault_util.h"
#include "helpers/reply.h"
#include "helpers/server_process.h"

namespace kv::test::fault {
namespace {

constexpr size_t kMinValue = 1024;
constexpr size_t kMaxValue = 4096;
constexpr double kMiB = 1024.0 * 1024.0;

std::string BigKey(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "big:%010" PRIu64, i);
  return buf;
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::error_code ec;
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  }
  return total;
}

// Descriptors process `pid` holds on .sst files, and .sst files in `dir`.
int OpenSstDescriptors(pid_t pid) {
  int n = 0;
  std::error_code ec;
  for (const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    auto target = std::filesystem::read_symlink(e.path(), ec);
    if (!ec && target.extension() == ".sst") n++;
  }
  return n;
}
int SstFiles(const std::string& dir) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".sst") n++;
  }
  return n;
}

uint64_t ParseU64(const std::string& s) { return s.empty() ? 0 : std::stoull(s); }

}  // namespace

TEST_CASE(
    "big_dataset: a dataset far larger than the caches reads back right after a restart "
    "and memory stays bounded" *
    doctest::skip(TestingAgainstRedis())) {
  const uint64_t seed = TestSeed("big_dataset");
  const double gib = EnvDouble("KV_FAULT_BIG_GB", SlowServer() ? 0.2 : 2.0);
  const uint64_t target = static_cast<uint64_t>(gib * 1024 * kMiB);
  if (target == 0) {
    Log("big_dataset: KV_FAULT_BIG_GB=0, skipped");
    return;
  }
  // The resident set must stay under this (bytes).
  const long long rss_limit = gib >= 1.0 ? std::min<long long>(1LL << 30, target / 2) : 1LL << 30;

  ServerProcess server({"--memtable-size", "8mb", "--block-cache-size", "64mb"});
  server.set_start_timeout(SlowServer() ? 600s : 300s);
  Conn c = server.Connect();
  REQUIRE(c->err == 0);
  timeval io{300, 0};  // a write stall behind compaction may be long
  redisSetTimeout(c.get(), io);

  // ---- write: two batches of 64 SETs in flight -------------------------
  const auto write_start = Clock::now();
  uint64_t keys = 0, bytes = 0, acked = 0;
  long long peak_rss_seen = 0;
  auto last_sample = Clock::now();
  const int kBatch = 64;
  auto append_batch = [&] {
    for (int i = 0; i < kBatch; ++i) {
      std::string k = BigKey(keys);
      std::string v = ValueFor(k, 1, kMinValue, kMaxValue);
      const char* argv[] = {"SET", k.data(), v.data()};
      size_t argvlen[] = {3, k.size(), v.size()};
      REQUIRE(redisAppendCommandArgv(c.get(), 3, argv, argvlen) == REDIS_OK);
      keys++;
      bytes += k.size() + v.size();
    }
  };
  auto read_batch = [&] {
    for (int i = 0; i < kBatch; ++i) {
      void* r = nullptr;
      REQUIRE_MESSAGE(redisGetReply(c.get(), &r) == REDIS_OK, "after ", acked,
                      " acknowledged SETs: ", c->errstr);
      Reply rep = FromHiredis(static_cast<redisReply*>(r), c.get());
      freeReplyObject(r);
      REQUIRE_MESSAGE(rep == Status("OK"), "SET number ", acked, ": ", rep);
      acked++;
    }
  };
  append_batch();
  while (bytes < target) {
    append_batch();
    read_batch();
    if (Clock::now() - last_sample > 1s) {
      last_sample = Clock::now();
      peak_rss_seen = std::max(peak_rss_seen, server.RssBytes());
    }
  }
  read_batch();
  const double write_s = std::chrono::duration<double>(Clock::now() - write_start).count();
  const long long write_peak_rss = std::max(peak_rss_seen, server.PeakRssBytes());
  Log("big_dataset: wrote %" PRIu64
      " keys, %.1f MiB in %.1f s: %.1f MiB/s, %.0f SET/s; peak "
      "RSS while writing %.1f MiB",
      keys, static_cast<double>(bytes) / kMiB, write_s, static_cast<double>(bytes) / kMiB / write_s,
      static_cast<double>(keys) / write_s, static_cast<double>(write_peak_rss) / kMiB);
  {
    // INFO's disk_bytes must describe the files, also before a restart.
    const uint64_t live_disk = ParseU64(InfoField(c.get(), "storage", "disk_bytes"));
    const uint64_t dir_bytes = DirBytes(server.dir());
    Log("big_dataset: after writing: disk_bytes %.1f MiB, dir %.1f MiB, write_amplification %s, "
        "flushes %s, compactions %s",
        static_cast<double>(live_disk) / kMiB, static_cast<double>(dir_bytes) / kMiB,
        InfoField(c.get(), "storage", "write_amplification").c_str(),
        InfoField(c.get(), "storage", "flushes").c_str(),
        InfoField(c.get(), "storage", "compactions").c_str());
    CHECK_MESSAGE(live_disk <= dir_bytes * 5 / 4, "INFO storage disk_bytes ", live_disk,
                  " while the dir holds ", dir_bytes, " bytes");
  }
  CHECK_MESSAGE(write_peak_rss < rss_limit, "peak RSS while writing ", write_peak_rss,
                " bytes, limit ", rss_limit);
  c.reset();

  // ---- restart ----------------------------------------------------------
  auto t = Clock::now();
  ExitStatus st = server.Stop(120s);
  CHECK_MESSAGE((st.exited && st.code == 0), st.ToString());
  const double stop_s = std::chrono::duration<double>(Clock::now() - t).count();
  t = Clock::now();
  // A table cache far smaller than the table count: reads reopen tables.
  const int kTableCache = 16;
  server.Restart(std::vector<std::string>{"--block-cache-size", "64mb", "--table-cache-size",
                                          std::to_string(kTableCache)});
  const double start_s = std::chrono::duration<double>(Clock::now() - t).count();
  const long long rss_after_start = server.RssBytes();
  Log("big_dataset: SIGTERM took %.2f s, restart (to PING) %.2f s, RSS after restart %.1f MiB",
      stop_s, start_s, static_cast<double>(rss_after_start) / kMiB);
  c = server.Connect();
  REQUIRE(c->err == 0);
  redisSetTimeout(c.get(), io);

  // ---- random reads -----------------------------------------------------
  std::mt19937_64 rng(seed);
  std::vector<double> lat_us;
  size_t wrong = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::string k = BigKey(rng() % keys);
    const auto g0 = Clock::now();
    Reply r = Call(c, {"GET", k});
    lat_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - g0).count());
    if (r.type != Reply::Type::kBulk || r.str != ValueFor(k, 1, kMinValue, kMaxValue)) {
      if (++wrong <= 5) {
        FAIL_CHECK("GET " << k << ": "
                          << (r.type == Reply::Type::kBulk
                                  ? "wrong value of " + std::to_string(r.str.size()) + " bytes"
                                  : std::string(TypeName(r.type)) + " " + r.str));
      }
    }
  }
  CHECK_MESSAGE(wrong == 0, wrong, " of 1000 random GETs were wrong");
  {
    // A running compaction holds its input tables open besides the cache:
    // count descriptors once the store is quiet.
    const auto quiet_deadline = Clock::now() + 120s;
    while (Clock::now() < quiet_deadline &&
           (InfoField(c.get(), "storage", "compaction_running") != "0" ||
            InfoField(c.get(), "storage", "compaction_pending") != "0")) {
      std::this_thread::sleep_for(100ms);
    }
    const uint64_t open = ParseU64(InfoField(c.get(), "storage", "table_cache_open"));
    const int fds = OpenSstDescriptors(server.pid());
    Log("big_dataset: tables open %" PRIu64
        " (.sst descriptors %d) of %d on disk, limit %d; "
        "table cache hits %s misses %s",
        open, fds, SstFiles(server.dir()), kTableCache,
        InfoField(c.get(), "storage", "table_cache_hits").c_str(),
        InfoField(c.get(), "storage", "table_cache_misses").c_str());
    CHECK(open <= static_cast<uint64_t>(kTableCache));
    CHECK(fds <= kTableCache);
  }
  std::sort(lat_us.begin(), lat_us.end());
  double sum = 0;
  for (double l : lat_us) sum += l;
  Log("big_dataset: 1000 random GETs after the restart: mean %.0f us, p50 %.0f us, p99 %.0f us, "
      "max %.0f us; block cache hits %s misses %s",
      sum / 1000, lat_us[499], lat_us[989], lat_us.back(),
      InfoField(c.get(), "storage", "block_cache_hits").c_str(),
      InfoField(c.get(), "storage", "block_cache_misses").c_str());

  // ---- size on disk and memory -----------------------------------------
  const uint64_t disk = ParseU64(InfoField(c.get(), "storage", "disk_bytes"));
  const long long rss = server.RssBytes();
  const long long peak = server.PeakRssBytes();
  Log("big_dataset: written %.1f MiB, disk_bytes %.1f MiB (%.2fx), dir %.1f MiB; RSS %.1f MiB, "
      "peak since restart %.1f MiB; DBSIZE %lld",
      static_cast<double>(bytes) / kMiB, static_cast<double>(disk) / kMiB,
      static_cast<double>(disk) / static_cast<double>(bytes),
      static_cast<double>(DirBytes(server.dir())) / kMiB, static_cast<double>(rss) / kMiB,
      static_cast<double>(peak) / kMiB, CallInt(c, {"DBSIZE"}));
  CHECK(disk >= bytes * 9 / 10);
  CHECK(disk <= bytes * 3 / 2);
  CHECK(CallInt(c, {"DBSIZE"}) == static_cast<long long>(keys));
  CHECK_MESSAGE(peak < rss_limit, "peak RSS after the restart ", peak, " bytes, limit ", rss_limit);
  CHECK_MESSAGE(rss < rss_limit, "RSS ", rss, " bytes, limit ", rss_limit);
  c.reset();
  st = server.Stop(120s);
  CHECK_MESSAGE((st.exited && st.code == 0), st.ToString());
}

}  // namespace kv::test::fault
