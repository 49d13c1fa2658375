// Redis-compatible glob matching for KEYS, SCAN MATCH and CONFIG GET:
// `*`, `?`, `[abc]`, `[^a-z]`, and `\` escapes. Binary safe.
//
// Thread safety: pure function.
#pragma once

#include <string_view>

namespace kv::util {

bool GlobMatch(std::string_view pattern, std::string_view text, bool nocase = false);

}  // namespace kv::util
