#include "server/command_table.h"

#include <cctype>

#include "server/commands/commands.h"

namespace kv::server {

namespace c = commands;

namespace {
constexpr uint32_t W = kCmdWrite;
constexpr uint32_t R = kCmdReadonly;
constexpr uint32_t F = kCmdFast;
constexpr uint32_t A = kCmdAdmin;
constexpr uint32_t NA = kCmdNoAuth;
constexpr uint32_t NM = kCmdNoMulti;
constexpr uint32_t L = kCmdLoading;
constexpr uint32_t S = kCmdStale;
constexpr uint32_t OOM = kCmdDenyOom;
constexpr uint32_t NS = kCmdNoScript;
}  // namespace

CommandTable::CommandTable() {
  commands_ = {
      // Strings.
      {"get", 2, R | F, 1, 1, 1, c::Get, "string", "1.0.0", "Returns the string value of a key.", "O(1)", {}},
      {"set", -3, W | OOM, 1, 1, 1, c::Set, "string", "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", "O(1)", {}},
      {"setnx", 3, W | OOM | F, 1, 1, 1, c::SetNx, "string", "1.0.0", "Set the string value of a key only when the key doesn't exist.", "O(1)", {}},
      {"setex", 4, W | OOM, 1, 1, 1, c::SetEx, "string", "2.0.0", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", "O(1)", {}},
      {"psetex", 4, W | OOM, 1, 1, 1, c::PSetEx, "string", "2.6.0", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", "O(1)", {}},
      {"getset", 3, W | OOM | F, 1, 1, 1, c::GetSet, "string", "1.0.0", "Returns the previous string value of a key after setting it to a new value.", "O(1)", {}},
      {"getdel", 2, W | F, 1, 1, 1, c::GetDel, "string", "6.2.0", "Returns the string value of a key after deleting the key.", "O(1)", {}},
      {"getex", -2, W | F, 1, 1, 1, c::GetEx, "string", "6.2.0", "Returns the string value of a key after setting its expiration time.", "O(1)", {}},
      {"mget", -2, R | F, 1, -1, 1, c::MGet, "string", "1.0.0", "Atomically returns the string values of one or more keys.", "O(N) where N is the number of keys to retrieve.", {}},
      {"mset", -3, W | OOM, 1, -1, 2, c::MSet, "string", "1.0.1", "Atomically creates or modifies the string values of one or more keys.", "O(N) where N is the number of keys to set.", {}},
      {"msetnx", -3, W | OOM, 1, -1, 2, c::MSetNx, "string", "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist.", "O(N) where N is the number of keys to set.", {}},
      {"append", 3, W | OOM | F, 1, 1, 1, c::Append, "string", "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist.", "O(1).", {}},
      {"strlen", 2, R | F, 1, 1, 1, c::StrLen, "string", "2.2.0", "Returns the length of a string value.", "O(1)", {}},
      {"incr", 2, W | OOM | F, 1, 1, 1, c::Incr, "string", "1.0.0", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "O(1)", {}},
      {"decr", 2, W | OOM | F, 1, 1, 1, c::Decr, "string", "1.0.0", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "O(1)", {}},
      {"incrby", 3, W | OOM | F, 1, 1, 1, c::IncrBy, "string", "1.0.0", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "O(1)", {}},
      {"decrby", 3, W | OOM | F, 1, 1, 1, c::DecrBy, "string", "1.0.0", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", "O(1)", {}},
      {"incrbyfloat", 3, W | OOM | F, 1, 1, 1, c::IncrByFloat, "string", "2.6.0", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "O(1)", {}},
      // Generic keyspace.
      {"del", -2, W, 1, -1, 1, c::Del, "generic", "1.0.0", "Deletes one or more keys.", "O(N) where N is the number of keys that will be removed.", {}},
      {"unlink", -2, W | F, 1, -1, 1, c::Del, "generic", "4.0.0", "Asynchronously deletes one or more keys.", "O(1) for each key removed regardless of its size.", {}},
      {"exists", -2, R | F, 1, -1, 1, c::Exists, "generic", "1.0.0", "Determines whether one or more keys exist.", "O(N) where N is the number of keys to check.", {}},
      {"expire", -3, W | F, 1, 1, 1, c::Expire, "generic", "1.0.0", "Sets the expiration time of a key in seconds.", "O(1)", {}},
      {"pexpire", -3, W | F, 1, 1, 1, c::PExpire, "generic", "2.6.0", "Sets the expiration time of a key in milliseconds.", "O(1)", {}},
      {"expireat", -3, W | F, 1, 1, 1, c::ExpireAt, "generic", "1.2.0", "Sets the expiration time of a key to a Unix timestamp.", "O(1)", {}},
      {"pexpireat", -3, W | F, 1, 1, 1, c::PExpireAt, "generic", "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp.", "O(1)", {}},
      {"ttl", 2, R | F, 1, 1, 1, c::Ttl, "generic", "1.0.0", "Returns the expiration time in seconds of a key.", "O(1)", {}},
      {"pttl", 2, R | F, 1, 1, 1, c::PTtl, "generic", "2.6.0", "Returns the expiration time in milliseconds of a key.", "O(1)", {}},
      {"expiretime", 2, R | F, 1, 1, 1, c::ExpireTime, "generic", "7.0.0", "Returns the expiration time of a key as a Unix timestamp.", "O(1)", {}},
      {"pexpiretime", 2, R | F, 1, 1, 1, c::PExpireTime, "generic", "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp.", "O(1)", {}},
      {"persist", 2, W | F, 1, 1, 1, c::Persist, "generic", "2.2.0", "Removes the expiration time of a key.", "O(1)", {}},
      {"type", 2, R | F, 1, 1, 1, c::Type, "generic", "1.0.0", "Determines the type of value stored at a key.", "O(1)", {}},
      {"scan", -2, R, 0, 0, 0, c::Scan, "generic", "2.8.0", "Iterates over the key names in the database.", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", {}},
      {"keys", 2, R, 0, 0, 0, c::Keys, "generic", "1.0.0", "Returns all key names that match a pattern.", "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.", {}},
      {"dbsize", 1, R | F, 0, 0, 0, c::DbSize, "server", "1.0.0", "Returns the number of keys in the database.", "O(1)", {}},
      {"flushall", -1, W, 0, 0, 0, c::FlushAll, "server", "1.0.0", "Removes all keys from all databases.", "O(N) where N is the total number of keys in all databases", {}},
      {"flushdb", -1, W, 0, 0, 0, c::FlushAll, "server", "1.0.0", "Remove all keys from the current database.", "O(N) where N is the number of keys in the selected database", {}},
      // Connection.
      {"ping", -1, F | S, 0, 0, 0, c::Ping, "connection", "1.0.0", "Returns the server's liveliness response.", "O(1)", {}},
      {"echo", 2, F | L | S, 0, 0, 0, c::Echo, "connection", "1.0.0", "Returns the given string.", "O(1)", {}},
      {"quit", -1, NA | L | S | F | NM, 0, 0, 0, c::Quit, "connection", "1.0.0", "Closes the connection.", "O(1)", {}},
      {"reset", 1, NA | L | S | F | NM, 0, 0, 0, c::Reset, "connection", "6.2.0", "Resets the connection.", "O(1)", {}},
      {"hello", -1, NA | L | S | F | NM, 0, 0, 0, c::Hello, "connection", "6.0.0", "Handshakes with the Redis server.", "O(1)", {}},
      {"auth", -2, NA | L | S | F | NM, 0, 0, 0, c::Auth, "connection", "1.0.0", "Authenticates the connection.", "O(N) where N is the number of passwords defined for the user", {}},
      {"select", 2, L | S | F, 0, 0, 0, c::Select, "connection", "1.0.0", "Changes the selected database.", "O(1)", {}},
      {"readonly", 1, L | S | F, 0, 0, 0, c::ReadOnly, "cluster", "3.0.0", "Enables read-only queries for a connection to a Redis Cluster replica node.", "O(1)", {}},
      {"readwrite", 1, L | S | F, 0, 0, 0, c::ReadWrite, "cluster", "3.0.0", "Enables read-write queries for a connection to a Redis Cluster replica node.", "O(1)", {}},
      {"client", -2, NS | L | S, 0, 0, 0, c::ClientCmd, "connection", "2.4.0", "A container for client connection commands.", "Depends on subcommand.",
       {{"id", 2, NS | L | S, "Returns the unique client ID of the connection."},
        {"getname", 2, NS | L | S, "Returns the name of the connection."},
        {"setname", 3, NS | L | S, "Sets the connection name."},
        {"setinfo", 4, NS | L | S, "Sets information specific to the client or connection."},
        {"list", -2, A | NS | L | S, "Lists open connections."},
        {"info", 2, NS | L | S, "Returns information about the connection."},
        {"kill", -3, A | NS | L | S, "Terminates open connections."},
        {"help", 2, L | S, "Returns helpful text about the different subcommands."}}},
      // Server.
      {"info", -1, L | S, 0, 0, 0, c::Info, "server", "1.0.0", "Returns information and statistics about the server.", "O(1)", {}},
      {"time", 1, L | S | F, 0, 0, 0, c::Time, "server", "2.6.0", "Returns the server time.", "O(1)", {}},
      {"command", -1, L | S, 0, 0, 0, c::CommandCmd, "server", "2.8.13", "Returns detailed information about all commands.", "O(N) where N is the total number of Redis commands",
       {{"count", 2, L | S, "Returns a count of commands."},
        {"info", -2, L | S, "Returns information about one, multiple or all commands."},
        {"docs", -2, L | S, "Returns documentary information about one, multiple or all commands."},
        {"list", -2, L | S, "Returns a list of command names."},
        {"help", 2, L | S, "Returns helpful text about the different subcommands."}}},
      {"config", -2, 0, 0, 0, 0, c::ConfigCmd, "server", "2.0.0", "A container for server configuration commands.", "Depends on subcommand.",
       {{"get", -3, A | NS | L | S, "Returns the effective values of configuration parameters."},
        {"set", -4, A | NS | L | S, "Sets configuration parameters in-flight."},
        {"resetstat", 2, A | NS | L | S, "Resets the server's statistics."},
        {"help", 2, L | S, "Returns helpful text about the different subcommands."}}},
      {"shutdown", -1, A | NS | L | S | NM, 0, 0, 0, c::Shutdown, "server", "1.0.0", "Synchronously saves the database(s) to disk and shuts down the Redis server.", "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)", {}},
      // Transactions.
      {"multi", 1, NS | L | S | F | NM, 0, 0, 0, c::Multi, "transactions", "1.2.0", "Starts a transaction.", "O(1)", {}},
      {"exec", 1, NS | L | S | NM, 0, 0, 0, c::Exec, "transactions", "1.2.0", "Executes all commands in a transaction.", "Depends on commands in the transaction", {}},
      {"discard", 1, NS | L | S | F | NM, 0, 0, 0, c::Discard, "transactions", "2.0.0", "Discards a transaction.", "O(N), when N is the number of queued commands", {}},
  };
  for (const Command& cmd : commands_) by_name_.emplace(cmd.name, &cmd);
}

const Command* CommandTable::Find(std::string_view name) const {
  char lower[32];
  if (name.size() >= sizeof(lower)) return nullptr;
  for (size_t i = 0; i < name.size(); i++) {
    lower[i] = static_cast<char>(tolower(static_cast<unsigned char>(name[i])));
  }
  auto it = by_name_.find(std::string_view(lower, name.size()));
  return it == by_name_.end() ? nullptr : it->second;
}

std::vector<const char*> CommandTable::FlagNames(uint32_t flags) {
  std::vector<const char*> out;
  if (flags & kCmdWrite) out.push_back("write");
  if (flags & kCmdReadonly) out.push_back("readonly");
  if (flags & kCmdDenyOom) out.push_back("denyoom");
  if (flags & kCmdAdmin) out.push_back("admin");
  if (flags & kCmdNoScript) out.push_back("noscript");
  if (flags & kCmdLoading) out.push_back("loading");
  if (flags & kCmdStale) out.push_back("stale");
  if (flags & kCmdNoAuth) out.push_back("no_auth");
  if (flags & kCmdFast) out.push_back("fast");
  if (flags & kCmdNoMulti) out.push_back("no_multi");
  return out;
}

}  // namespace kv::server
