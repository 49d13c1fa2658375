// Small helpers shared by the unit tests: the seed for randomised tests,
// printable forms of binary strings for failure messages, random bytes, and
// a count of the table files this process holds open.
//
// Thread safety: TestSeed reads the environment; call from the test thread.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "util/random.h"

namespace kv::test {

// Lower-case hex of every byte (golden encodings in tests).
inline std::string Hex(std::string_view s) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

// 0 to max_len random bytes.
inline std::string RandomBytes(util::Random* rnd, size_t max_len) {
  std::string s(rnd->Uniform(max_len + 1), '\0');
  for (char& c : s) c = static_cast<char>(rnd->Next());
  return s;
}

// The seed for a randomised test: KV_TEST_SEED if set, `fallback` otherwise.
// Printed so a failure can be replayed with KV_TEST_SEED=<seed>.
inline uint64_t TestSeed(uint64_t fallback) {
  uint64_t seed = fallback;
  if (const char* env = getenv("KV_TEST_SEED"); env != nullptr && *env != '\0') {
    seed = strtoull(env, nullptr, 0);
  }
  MESSAGE("seed " << seed << " (replay with KV_TEST_SEED=" << seed << ")");
  return seed;
}

// Bytes with C escapes for anything unprintable, in double quotes.
inline std::string Escape(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  out += '"';
  return out;
}

// An argument vector as one printable string, for CHECK(Show(a) == Show(b)).
template <typename Container>
std::string Show(const Container& args) {
  std::string out = "[";
  for (const auto& a : args) {
    if (out.size() > 1) out += ' ';
    out += Escape(std::string_view(a));
  }
  out += ']';
  return out;
}

// Descriptors this process holds on .sst files (from /proc/self/fd).
inline int OpenSstDescriptors() {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink(e.path(), ec);
    if (!ec && target.extension() == ".sst") n++;
  }
  return n;
}

}  // namespace kv::test
