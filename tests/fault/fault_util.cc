#include "fault/fault_util.h"

#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <cctype>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>

namespace kv::test::fault {

uint64_t TestSeed(const char* test_name) {
  uint64_t seed;
  const char* env = std::getenv("KV_FAULT_SEED");
  if (env != nullptr && *env != '\0') {
    seed = std::strtoull(env, nullptr, 0);
  } else {
    std::random_device rd;
    seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }
  Log("%s: seed %llu (replay with KV_FAULT_SEED=%llu)", test_name,
      static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  return seed;
}

double EnvDouble(const char* name, double fallback) {
  const char* env = std::getenv(name);
  if (env == nullptr || *env == '\0') return fallback;
  return std::strtod(env, nullptr);
}

bool SlowServer() { return ServerProcess::ServerIsSanitized(); }

long long Scaled(long long release, double slow_factor, long long min) {
  double factor = EnvDouble("KV_FAULT_SCALE", SlowServer() ? slow_factor : 1.0);
  return std::max(min, static_cast<long long>(static_cast<double>(release) * factor));
}

void Log(const char* fmt, ...) {
  static std::mutex mu;
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  std::lock_guard<std::mutex> lock(mu);
  std::fprintf(stdout, "[fault] %s\n", buf);
  std::fflush(stdout);
}

uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t HashString(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char ch : s) {
    h ^= ch;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string ValueFor(std::string_view key, uint64_t version, size_t min_len, size_t max_len) {
  uint64_t state = Mix64(HashString(key) ^ Mix64(version));
  std::string v = std::to_string(version) + ":";
  size_t len = min_len + static_cast<size_t>(state % (max_len - min_len + 1));
  if (len < v.size()) len = v.size();
  v.reserve(len + 8);
  while (v.size() < len) {
    state = Mix64(state);
    uint64_t word = state;
    for (int i = 0; i < 8 && v.size() < len; ++i) {
      v.push_back(static_cast<char>(word & 0xff));
      word >>= 8;
    }
  }
  return v;
}

std::optional<uint64_t> VersionOf(std::string_view value) {
  size_t colon = value.find(':');
  if (colon == 0 || colon == std::string_view::npos || colon > 20) return std::nullopt;
  uint64_t v = 0;
  for (size_t i = 0; i < colon; ++i) {
    if (value[i] < '0' || value[i] > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(value[i] - '0');
  }
  return v;
}

std::vector<Reply> Pipeline(redisContext* c, const std::vector<std::vector<std::string>>& cmds) {
  std::vector<Reply> out;
  out.reserve(cmds.size());
  std::vector<const char*> argv;
  std::vector<size_t> argvlen;
  for (const auto& cmd : cmds) {
    argv.clear();
    argvlen.clear();
    for (const auto& a : cmd) {
      argv.push_back(a.data());
      argvlen.push_back(a.size());
    }
    if (redisAppendCommandArgv(c, static_cast<int>(cmd.size()), argv.data(), argvlen.data()) !=
        REDIS_OK) {
      break;
    }
  }
  for (size_t i = 0; i < cmds.size(); ++i) {
    void* r = nullptr;
    if (c->err != 0 || redisGetReply(c, &r) != REDIS_OK) {
      out.push_back(FromHiredis(nullptr, c));
      continue;
    }
    out.push_back(FromHiredis(static_cast<redisReply*>(r), c));
    freeReplyObject(r);
  }
  return out;
}

std::vector<std::string> ScanAll(redisContext* c) {
  std::vector<std::string> keys;
  std::string cursor = "0";
  do {
    Reply r = Call(c, {"SCAN", cursor, "COUNT", "1000"});
    REQUIRE_MESSAGE((r.is_array() && r.size() == 2), r);
    cursor = r[0].str;
    for (const Reply& k : r[1].elements) keys.push_back(k.str);
  } while (cursor != "0");
  return keys;
}

std::vector<std::optional<std::string>> MGetAll(redisContext* c,
                                                const std::vector<std::string>& keys) {
  std::vector<std::optional<std::string>> out;
  out.reserve(keys.size());
  const size_t kBatch = 500;
  for (size_t i = 0; i < keys.size(); i += kBatch) {
    std::vector<std::string> cmd = {"MGET"};
    for (size_t j = i; j < std::min(keys.size(), i + kBatch); ++j) cmd.push_back(keys[j]);
    Reply r = Call(c, cmd);
    REQUIRE_MESSAGE((r.is_array() && r.size() == cmd.size() - 1), r.type, " ", r.str);
    for (const Reply& v : r.elements) {
      if (v.type == Reply::Type::kBulk) {
        out.emplace_back(v.str);
      } else {
        REQUIRE_MESSAGE(v.type == Reply::Type::kNil, v);
        out.emplace_back(std::nullopt);
      }
    }
  }
  return out;
}

std::string InfoField(redisContext* c, const std::string& section, const std::string& field) {
  Reply r = Call(c, {"INFO", section});
  if (r.type != Reply::Type::kBulk) return "";
  std::istringstream in(r.str);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind(field + ":", 0) == 0) return line.substr(field.size() + 1);
  }
  return "";
}

namespace {
bool IsDataFile(const std::string& name) {
  auto ends = [&](const std::string& suffix) {
    return name.size() > suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (name == "server.log" || name == "stdio.log") return false;  // ServerProcess's logs
  return ends(".log") || ends(".sst") || name.rfind("MANIFEST-", 0) == 0 || name == "CURRENT";
}
}  // namespace

std::vector<std::string> DataFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (!IsDataFile(name)) continue;
    std::error_code ec;
    auto size = std::filesystem::file_size(e.path(), ec);
    out.push_back(name + "=" + std::to_string(ec ? 0 : size));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string NewestWal(const std::string& dir) {
  std::string best;
  unsigned long long best_num = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.size() <= 4 || name.substr(name.size() - 4) != ".log") continue;
    std::string stem = name.substr(0, name.size() - 4);
    if (stem.empty() || stem.find_first_not_of("0123456789") != std::string::npos) continue;
    unsigned long long num = std::stoull(stem);
    if (best.empty() || num > best_num) {
      best = e.path().string();
      best_num = num;
    }
  }
  return best;
}

void AppendToFile(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  REQUIRE_MESSAGE(out.good(), "cannot open ", path);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  REQUIRE_MESSAGE(!out.fail(), "cannot append to ", path);
}

void WriteFile(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  REQUIRE_MESSAGE(out.good(), "cannot open ", path);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  REQUIRE_MESSAGE(!out.fail(), "cannot write ", path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void KillHard(ServerProcess& server) {
  server.Kill(SIGKILL);
  std::optional<ExitStatus> st = server.WaitExit(10s);
  REQUIRE_MESSAGE(st.has_value(), "server still running 10 s after SIGKILL");
  CHECK_MESSAGE((!st->exited && st->signal == SIGKILL), st->ToString());
}

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

}  // namespace kv::test::fault
