// Clocks. WallMs is Unix time (for TTLs and version timestamps); MonotonicUs
// never goes backwards (for durations and timeouts).
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>

namespace kv::util {

int64_t WallMs();
int64_t WallUs();
int64_t MonotonicUs();

}  // namespace kv::util
