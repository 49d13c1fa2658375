// Splits a line into arguments the way redis.conf and redis-cli do
// (sdssplitargs): whitespace separated, "double quoted" with \n \r \t \b \a
// \\ \" and \xHH escapes, 'single quoted' with only \' escaped. Used by the
// config file parser and for inline commands.
//
// Thread safety: pure function.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kv::util {

// False on unbalanced quotes or a closing quote not followed by a space.
bool SplitArgs(std::string_view line, std::vector<std::string>* out);

}  // namespace kv::util
