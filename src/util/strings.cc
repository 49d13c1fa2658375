#include "util/strings.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace kv::util {

bool ParseUint64(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  if (s.size() == 1 && s[0] == '0') {
    *out = 0;
    return true;
  }
  if (s[0] < '1' || s[0] > '9') return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

bool ParseInt64(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  bool negative = false;
  if (s[0] == '-') {
    negative = true;
    s.remove_prefix(1);
    if (s == "0") return false;  // Redis rejects "-0"
  }
  uint64_t v;
  if (!ParseUint64(s, &v)) return false;
  if (negative) {
    if (v > static_cast<uint64_t>(INT64_MAX) + 1) return false;
    *out = static_cast<int64_t>(0 - v);
  } else {
    if (v > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

namespace {
// strtold wants a NUL-terminated string; numbers longer than this are junk.
constexpr size_t kMaxNumberText = 5120;

bool LooksNumeric(std::string_view s) {
  if (s.empty() || s.size() >= kMaxNumberText) return false;
  if (isspace(static_cast<unsigned char>(s[0]))) return false;
  return true;
}
}  // namespace

bool ParseLongDouble(std::string_view s, long double* out) {
  if (!LooksNumeric(s)) return false;
  char buf[kMaxNumberText];
  memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  char* end = nullptr;
  errno = 0;
  long double v = strtold(buf, &end);
  if (end != buf + s.size() || (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0)) ||
      std::isnan(v)) {
    return false;
  }
  *out = v;
  return true;
}

bool ParseDouble(std::string_view s, double* out) {
  if (!LooksNumeric(s)) return false;
  char buf[kMaxNumberText];
  memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  char* end = nullptr;
  errno = 0;
  double v = strtod(buf, &end);
  // Like Redis's getDoubleFromObject: overflow ("1e400") is an error, not
  // an infinity; only the text "inf" means infinity.
  if (end != buf + s.size() || (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || v == 0)) ||
      std::isnan(v)) {
    return false;
  }
  *out = v;
  return true;
}

size_t FormatUint64(uint64_t v, char* buf) {
  char tmp[21];
  size_t n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (size_t i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
  return n;
}

size_t FormatInt64(int64_t v, char* buf) {
  if (v < 0) {
    buf[0] = '-';
    return 1 + FormatUint64(0 - static_cast<uint64_t>(v), buf + 1);
  }
  return FormatUint64(static_cast<uint64_t>(v), buf);
}

std::string Int64ToString(int64_t v) {
  char buf[24];
  return std::string(buf, FormatInt64(v, buf));
}

std::string LongDoubleToString(long double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[5200];
  int n = snprintf(buf, sizeof(buf), "%.17Lf", v);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof(buf)) return "0";
  std::string s(buf, static_cast<size_t>(n));
  if (s.find('.') != std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

std::string DoubleToString(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  int n = snprintf(buf, sizeof(buf), "%.17g", v);
  return std::string(buf, static_cast<size_t>(n));
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++) {
    unsigned char x = static_cast<unsigned char>(a[i]);
    unsigned char y = static_cast<unsigned char>(b[i]);
    if (x != y && tolower(x) != tolower(y)) return false;
  }
  return true;
}

void ToLowerAscii(std::string* s) {
  for (char& c : *s) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
}

bool ParseMemory(std::string_view s, int64_t* out) {
  size_t digits = 0;
  while (digits < s.size() &&
         (isdigit(static_cast<unsigned char>(s[digits])) || (digits == 0 && s[digits] == '-'))) {
    digits++;
  }
  int64_t n;
  if (!ParseInt64(s.substr(0, digits), &n)) return false;
  std::string unit(s.substr(digits));
  ToLowerAscii(&unit);
  int64_t mul = 1;
  if (unit.empty() || unit == "b") {
    mul = 1;
  } else if (unit == "k") {
    mul = 1000;
  } else if (unit == "kb") {
    mul = 1024;
  } else if (unit == "m") {
    mul = 1000 * 1000;
  } else if (unit == "mb") {
    mul = 1024 * 1024;
  } else if (unit == "g") {
    mul = 1000LL * 1000 * 1000;
  } else if (unit == "gb") {
    mul = 1024LL * 1024 * 1024;
  } else {
    return false;
  }
  if (n > INT64_MAX / mul || n < INT64_MIN / mul) return false;
  *out = n * mul;
  return true;
}

}  // namespace kv::util
