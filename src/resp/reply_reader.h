// ReplyReader: walks RESP2/RESP3 *replies* (what a server writes, not what a
// client sends), without copying. A node that forwards a multi-key command
// to several owners gets one reply per owner and must take them apart (the
// elements of each MGET array, each DEL count) to build the one reply its
// client expects. Replies come from other kv nodes over an authenticated
// bus, but are still checked: a malformed one is an error, never a crash.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace kv::resp {

// The length of the one complete reply at the start of `in` (nested
// aggregates included), or 0 if `in` does not start with a complete,
// well-formed reply. Aggregates nest at most 64 deep.
size_t ReplyLength(std::string_view in);

// If `reply` is exactly one array (RESP2 '*', RESP3 '*' / '~' / '>') of n
// elements, sets *elements to the n element replies (views into `reply`)
// and returns true. False for anything else (a null array included).
bool ArrayElements(std::string_view reply, std::vector<std::string_view>* elements);

// If `reply` is exactly one integer (":<n>\r\n"), sets *v and returns true.
bool IntegerValue(std::string_view reply, int64_t* v);

// True if `reply` is an error ('-' or RESP3 '!').
inline bool IsErrorReply(std::string_view reply) {
  return !reply.empty() && (reply[0] == '-' || reply[0] == '!');
}

}  // namespace kv::resp
