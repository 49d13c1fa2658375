// Number <-> text conversions with Redis's exact acceptance rules: "12" is an
// integer, " 12", "+12", "012" and "1e3" are not; a double may be "1e3" or
// "inf" but never "nan". Used by the command layer and the config parser.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kv::util {

// Strict base-10 int64 (Redis string2ll). False on anything else, overflow
// included.
bool ParseInt64(std::string_view s, int64_t* out);
// Strict base-10 uint64 with the same rules, no sign allowed.
bool ParseUint64(std::string_view s, uint64_t* out);
// A long double the way INCRBYFLOAT reads it (Redis string2ld): no spaces,
// no nan, finite or +-inf.
bool ParseLongDouble(std::string_view s, long double* out);
// A double for RESP3 / ZADD-style arguments: no spaces, no nan.
bool ParseDouble(std::string_view s, double* out);

// Writes v in base 10 to buf (at least 21 bytes); returns the length.
size_t FormatInt64(int64_t v, char* buf);
size_t FormatUint64(uint64_t v, char* buf);
std::string Int64ToString(int64_t v);
// INCRBYFLOAT's output: %.17Lf with trailing zeros (and a trailing '.')
// removed, so 10.5 prints as "10.5" and 3 as "3".
std::string LongDoubleToString(long double v);
// A RESP3 double / INFO ratio: shortest %.17g form, "inf"/"-inf".
std::string DoubleToString(double v);

// Case-insensitive ASCII equality, for command names and options.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
void ToLowerAscii(std::string* s);

// "1gb", "64mb", "100k", "1024" -> bytes (redis.conf memtoll). False on junk.
bool ParseMemory(std::string_view s, int64_t* out);

}  // namespace kv::util
