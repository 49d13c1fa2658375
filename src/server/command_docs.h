// Argument documentation for COMMAND DOCS, in Redis 7's shape (name, type,
// token, flags, nested arguments), built from each command's syntax line as
// Redis's docs print it ("key value [NX|XX] [EX seconds|PX milliseconds]").
// redis-cli builds its interactive hints from these.
//
// Thread safety: pure functions over static data.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "resp/reply.h"

namespace kv::server {

struct ArgSpec {
  std::string name;
  std::string type;  // key, string, integer, double, pattern, unix-time, pure-token, oneof, block
  std::string token;
  bool optional = false;
  bool multiple = false;
  std::vector<ArgSpec> args;  // for oneof and block
};

// Parses a syntax line. Grammar: items separated by spaces; "[...]" is
// optional, "(...)" groups into a block, "a|b" alternatives make a oneof,
// a trailing "..." repeats the previous item, an UPPERCASE word is a token
// (followed by a lowercase word it names that word's argument).
std::vector<ArgSpec> ParseSyntax(std::string_view syntax);

// The syntax line of `command` (lower case, "client|setname" for a
// subcommand), or nullptr if it has none.
const char* CommandSyntax(std::string_view command);

// Writes `args` as a RESP array of argument maps.
void WriteArgSpecs(resp::ReplyWriter& r, const std::vector<ArgSpec>& args);

}  // namespace kv::server
