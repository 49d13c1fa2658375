#include "server/commands/common.h"

#include "util/strings.h"

namespace kv::server::commands {

bool ParseIntArg(Server& server, Client& client, std::string_view arg, int64_t* out) {
  if (util::ParseInt64(arg, out)) return true;
  server.ReplyError(client, kErrNotInteger);
  return false;
}

bool ParseExpireArg(Server& server, Client& client, std::string_view arg, int64_t unit_ms,
                    bool absolute, const char* command, int64_t* expire_at_ms) {
  int64_t n;
  if (!ParseIntArg(server, client, arg, &n)) return false;
  bool bad = n <= 0 || n > INT64_MAX / unit_ms;
  int64_t ms = bad ? 0 : n * unit_ms;
  if (!bad && !absolute) {
    int64_t now = server.keyspace().now_ms();
    if (ms > INT64_MAX - now) {
      bad = true;
    } else {
      ms += now;
    }
  }
  if (bad) {
    server.ReplyError(client, std::string("ERR invalid expire time in '") + command + "' command");
    return false;
  }
  *expire_at_ms = ms;
  return true;
}

bool CheckValueSize(Server& server, Client& client, size_t size) {
  if (static_cast<int64_t>(size) <= server.config().values().max_value_bytes) return true;
  server.ReplyError(client, "ERR string exceeds maximum allowed size (max-value-bytes)");
  return false;
}

bool CheckStorage(Server& server, Client& client, const util::Status& s) {
  if (s.ok()) return true;
  server.ReplyError(client, "ERR storage error: " + s.ToString());
  return false;
}

}  // namespace kv::server::commands
