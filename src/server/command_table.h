// CommandTable: every command kv-server answers, with Redis's metadata
// (arity, flags, key positions, group, summary) so COMMAND, COMMAND INFO and
// COMMAND DOCS describe them the way Redis does, and the dispatcher can check
// arity and auth before calling the handler.
//
// Thread safety: built once at startup, then read-only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kv::server {

class Server;
class Client;

using Argv = std::vector<std::string_view>;
using CommandHandler = void (*)(Server& server, Client& client, const Argv& argv);

enum CommandFlag : uint32_t {
  kCmdWrite = 1 << 0,
  kCmdReadonly = 1 << 1,
  kCmdFast = 1 << 2,
  kCmdAdmin = 1 << 3,
  kCmdNoAuth = 1 << 4,   // allowed before AUTH
  kCmdNoMulti = 1 << 5,  // runs immediately even inside MULTI
  kCmdLoading = 1 << 6,
  kCmdStale = 1 << 7,
  kCmdDenyOom = 1 << 8,
  kCmdNoScript = 1 << 9,
};

struct SubcommandInfo {
  const char* name;  // lower case, e.g. "get"
  int arity;
  uint32_t flags;
  const char* summary;
};

struct Command {
  const char* name;  // lower case
  int arity;         // > 0 exact argc, < 0 at least -arity
  uint32_t flags;
  int first_key;
  int last_key;
  int key_step;
  CommandHandler handler;
  const char* group;
  const char* since;
  const char* summary;
  const char* complexity;
  std::vector<SubcommandInfo> subcommands;
};

class CommandTable {
 public:
  CommandTable();
  // Case-insensitive lookup; nullptr if unknown.
  const Command* Find(std::string_view name) const;
  const std::vector<Command>& all() const { return commands_; }
  // Redis's flag names for COMMAND INFO ("write", "readonly", "fast", ...).
  static std::vector<const char*> FlagNames(uint32_t flags);

 private:
  std::vector<Command> commands_;
  std::unordered_map<std::string_view, const Command*> by_name_;
};

}  // namespace kv::server
