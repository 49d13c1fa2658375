// Helpers shared by command handlers: Redis's error texts and the parsing
// of integer and expiry arguments.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "server/client.h"
#include "server/server.h"

namespace kv::server::commands {

inline constexpr std::string_view kErrSyntax = "ERR syntax error";
inline constexpr std::string_view kErrNotInteger = "ERR value is not an integer or out of range";
inline constexpr std::string_view kErrNotFloat = "ERR value is not a valid float";
inline constexpr std::string_view kErrOverflow = "ERR increment or decrement would overflow";

// Parses argv[i] as int64, replying kErrNotInteger on failure.
bool ParseIntArg(Server& server, Client& client, std::string_view arg, int64_t* out);

// Converts a relative or absolute expiry argument to an absolute Unix time
// in ms. `unit_ms` is 1000 for seconds, 1 for ms; `absolute` for EXAT/PXAT.
// Replies "ERR invalid expire time in '<cmd>' command" and returns false on
// a non-positive (for relative forms) or overflowing value.
bool ParseExpireArg(Server& server, Client& client, std::string_view arg, int64_t unit_ms,
                    bool absolute, const char* command, int64_t* expire_at_ms);

// Replies "ERR string exceeds maximum allowed size (max-value-bytes)" and
// returns false if `size` is over the configured limit.
bool CheckValueSize(Server& server, Client& client, size_t size);

// Replies with a storage error; true if `s` was OK.
bool CheckStorage(Server& server, Client& client, const util::Status& s);

}  // namespace kv::server::commands
