// String commands: GET/SET and friends, counters, APPEND.
#include <cmath>

#include "server/commands/commands.h"
#include "server/commands/common.h"
#include "util/strings.h"

namespace kv::server::commands {

namespace {

// Shared body of SET and its variants. `expire_at_ms` 0 = no expiry unless
// keep_ttl. Replies per Redis: OK / nil on a failed NX/XX, or the old value
// with GET.
void DoSet(Server& server, Client& client, std::string_view key, std::string_view value, bool nx,
           bool xx, bool get, bool keep_ttl, int64_t expire_at_ms) {
  if (!CheckValueSize(server, client, value.size())) return;
  Keyspace& ks = server.keyspace();
  if (!nx && !xx && !get && !keep_ttl && expire_at_ms == 0) {
    // Plain SET, the hot path: one lookup inside Set.
    if (CheckStorage(server, client, ks.Set(key, value, 0))) client.reply().Ok();
    return;
  }
  std::string_view old;
  int64_t old_expire = 0;
  bool exists = ks.Get(key, &old, &old_expire, false);
  if (get) {
    if (exists) {
      client.reply().Bulk(old);  // copied out before the write below
    } else {
      client.reply().Null();
    }
  }
  if ((nx && exists) || (xx && !exists)) {
    if (!get) client.reply().Null();
    return;
  }
  if (keep_ttl && exists) expire_at_ms = old_expire;
  if (expire_at_ms != 0 && expire_at_ms <= ks.now_ms()) {
    // An absolute time in the past: the write happens and expires at once.
    ks.Delete(key);
    if (!get) client.reply().Ok();
    return;
  }
  util::Status s = ks.Set(key, value, expire_at_ms);
  if (!get) {
    if (CheckStorage(server, client, s)) client.reply().Ok();
  }
}

bool IsOption(std::string_view arg, const char* name) { return util::EqualsIgnoreCase(arg, name); }

}  // namespace

void Get(Server& server, Client& client, const Argv& argv) {
  std::string_view value;
  int64_t expire;
  if (server.keyspace().Get(argv[1], &value, &expire)) {
    client.reply().Bulk(value);
  } else {
    client.reply().Null();
  }
}

namespace {

// Expiry option kinds of SET/GETEX. Redis accepts an option repeated (the
// last value wins) but not two different kinds together.
enum ExpireKind { kNoExpire, kEx, kPx, kExAt, kPxAt, kKeepTtl, kPersist };

ExpireKind ExpireKindOf(std::string_view a) {
  if (IsOption(a, "EX")) return kEx;
  if (IsOption(a, "PX")) return kPx;
  if (IsOption(a, "EXAT")) return kExAt;
  if (IsOption(a, "PXAT")) return kPxAt;
  return kNoExpire;
}

// Parses the value after an EX/PX/EXAT/PXAT option.
bool ParseExpireOption(Server& server, Client& client, ExpireKind kind, std::string_view arg,
                       const char* command, int64_t* expire_at) {
  bool seconds = kind == kEx || kind == kExAt;
  bool absolute = kind == kExAt || kind == kPxAt;
  return ParseExpireArg(server, client, arg, seconds ? 1000 : 1, absolute, command, expire_at);
}

}  // namespace

void Set(Server& server, Client& client, const Argv& argv) {
  bool nx = false, xx = false, get = false;
  ExpireKind kind = kNoExpire;
  int64_t expire_at = 0;
  for (size_t i = 3; i < argv.size(); i++) {
    std::string_view a = argv[i];
    bool has_next = i + 1 < argv.size();
    ExpireKind k = ExpireKindOf(a);
    if (IsOption(a, "NX") && !xx) {
      nx = true;
    } else if (IsOption(a, "XX") && !nx) {
      xx = true;
    } else if (IsOption(a, "GET")) {
      get = true;
    } else if (IsOption(a, "KEEPTTL") && (kind == kNoExpire || kind == kKeepTtl)) {
      kind = kKeepTtl;
    } else if (k != kNoExpire && has_next && (kind == kNoExpire || kind == k)) {
      if (!ParseExpireOption(server, client, k, argv[i + 1], "set", &expire_at)) return;
      kind = k;
      i++;
    } else {
      server.ReplyError(client, kErrSyntax);
      return;
    }
  }
  DoSet(server, client, argv[1], argv[2], nx, xx, get, kind == kKeepTtl, expire_at);
}

void SetNx(Server& server, Client& client, const Argv& argv) {
  if (!CheckValueSize(server, client, argv[2].size())) return;
  Keyspace& ks = server.keyspace();
  if (ks.Exists(argv[1])) {
    client.reply().Integer(0);
    return;
  }
  if (CheckStorage(server, client, ks.Set(argv[1], argv[2], 0))) client.reply().Integer(1);
}

void SetEx(Server& server, Client& client, const Argv& argv) {
  int64_t at;
  if (!ParseExpireArg(server, client, argv[2], 1000, false, "setex", &at)) return;
  DoSet(server, client, argv[1], argv[3], false, false, false, false, at);
}

void PSetEx(Server& server, Client& client, const Argv& argv) {
  int64_t at;
  if (!ParseExpireArg(server, client, argv[2], 1, false, "psetex", &at)) return;
  DoSet(server, client, argv[1], argv[3], false, false, false, false, at);
}

void GetSet(Server& server, Client& client, const Argv& argv) {
  DoSet(server, client, argv[1], argv[2], false, false, true, false, 0);
}

void GetDel(Server& server, Client& client, const Argv& argv) {
  Keyspace& ks = server.keyspace();
  std::string_view value;
  int64_t expire;
  if (!ks.Get(argv[1], &value, &expire)) {
    client.reply().Null();
    return;
  }
  client.reply().Bulk(value);
  ks.Delete(argv[1]);
}

void GetEx(Server& server, Client& client, const Argv& argv) {
  ExpireKind kind = kNoExpire;
  int64_t expire_at = 0;
  for (size_t i = 2; i < argv.size(); i++) {
    std::string_view a = argv[i];
    bool has_next = i + 1 < argv.size();
    ExpireKind k = ExpireKindOf(a);
    if (IsOption(a, "PERSIST") && (kind == kNoExpire || kind == kPersist)) {
      kind = kPersist;
    } else if (k != kNoExpire && has_next && (kind == kNoExpire || kind == k)) {
      if (!ParseExpireOption(server, client, k, argv[i + 1], "getex", &expire_at)) return;
      kind = k;
      i++;
    } else {
      server.ReplyError(client, kErrSyntax);
      return;
    }
  }
  bool has_expire = kind != kNoExpire && kind != kPersist;
  bool persist = kind == kPersist;
  Keyspace& ks = server.keyspace();
  std::string_view value;
  int64_t old_expire;
  if (!ks.Get(argv[1], &value, &old_expire)) {
    client.reply().Null();
    return;
  }
  client.reply().Bulk(value);
  if (has_expire) {
    if (expire_at <= ks.now_ms()) {
      ks.Delete(argv[1]);
    } else {
      ks.SetExpire(argv[1], expire_at);
    }
  } else if (persist && old_expire != 0) {
    ks.SetExpire(argv[1], 0);
  }
}

void MGet(Server& server, Client& client, const Argv& argv) {
  client.reply().ArrayHeader(argv.size() - 1);
  std::string_view value;
  int64_t expire;
  for (size_t i = 1; i < argv.size(); i++) {
    if (server.keyspace().Get(argv[i], &value, &expire)) {
      client.reply().Bulk(value);
    } else {
      client.reply().Null();
    }
  }
}

void MSet(Server& server, Client& client, const Argv& argv) {
  if (argv.size() % 2 == 0) {
    server.ReplyError(client, "ERR wrong number of arguments for 'mset' command");
    return;
  }
  for (size_t i = 2; i < argv.size(); i += 2) {
    if (!CheckValueSize(server, client, argv[i].size())) return;
  }
  for (size_t i = 1; i < argv.size(); i += 2) {
    if (!CheckStorage(server, client, server.keyspace().Set(argv[i], argv[i + 1], 0))) return;
  }
  client.reply().Ok();
}

void MSetNx(Server& server, Client& client, const Argv& argv) {
  if (argv.size() % 2 == 0) {
    server.ReplyError(client, "ERR wrong number of arguments for 'msetnx' command");
    return;
  }
  for (size_t i = 2; i < argv.size(); i += 2) {
    if (!CheckValueSize(server, client, argv[i].size())) return;
  }
  for (size_t i = 1; i < argv.size(); i += 2) {
    if (server.keyspace().Exists(argv[i])) {
      client.reply().Integer(0);
      return;
    }
  }
  for (size_t i = 1; i < argv.size(); i += 2) {
    if (!CheckStorage(server, client, server.keyspace().Set(argv[i], argv[i + 1], 0))) return;
  }
  client.reply().Integer(1);
}

void Append(Server& server, Client& client, const Argv& argv) {
  Keyspace& ks = server.keyspace();
  std::string_view old;
  int64_t expire = 0;
  std::string value;
  if (ks.Get(argv[1], &old, &expire, false)) {
    if (!CheckValueSize(server, client, old.size() + argv[2].size())) return;
    value.reserve(old.size() + argv[2].size());
    value.append(old);
  } else if (!CheckValueSize(server, client, argv[2].size())) {
    return;
  }
  value.append(argv[2]);
  if (CheckStorage(server, client, ks.Set(argv[1], value, expire))) {
    client.reply().Integer(static_cast<int64_t>(value.size()));
  }
}

void StrLen(Server& server, Client& client, const Argv& argv) {
  std::string_view value;
  int64_t expire;
  bool found = server.keyspace().Get(argv[1], &value, &expire);
  client.reply().Integer(found ? static_cast<int64_t>(value.size()) : 0);
}

namespace {
void IncrDecr(Server& server, Client& client, std::string_view key, int64_t by) {
  Keyspace& ks = server.keyspace();
  std::string_view old;
  int64_t expire = 0;
  int64_t current = 0;
  if (ks.Get(key, &old, &expire, false) && !util::ParseInt64(old, &current)) {
    server.ReplyError(client, kErrNotInteger);
    return;
  }
  if ((by < 0 && current < 0 && by < INT64_MIN - current) ||
      (by > 0 && current > 0 && by > INT64_MAX - current)) {
    server.ReplyError(client, kErrOverflow);
    return;
  }
  int64_t result = current + by;
  char buf[24];
  size_t n = util::FormatInt64(result, buf);
  // INCR keeps the key's TTL, as Redis does.
  if (CheckStorage(server, client, ks.Set(key, std::string_view(buf, n), expire))) {
    client.reply().Integer(result);
  }
}
}  // namespace

void Incr(Server& server, Client& client, const Argv& argv) {
  IncrDecr(server, client, argv[1], 1);
}
void Decr(Server& server, Client& client, const Argv& argv) {
  IncrDecr(server, client, argv[1], -1);
}
void IncrBy(Server& server, Client& client, const Argv& argv) {
  int64_t by;
  if (!ParseIntArg(server, client, argv[2], &by)) return;
  IncrDecr(server, client, argv[1], by);
}
void DecrBy(Server& server, Client& client, const Argv& argv) {
  int64_t by;
  if (!ParseIntArg(server, client, argv[2], &by)) return;
  if (by == INT64_MIN) {
    server.ReplyError(client, "ERR decrement would overflow");
    return;
  }
  IncrDecr(server, client, argv[1], -by);
}

void IncrByFloat(Server& server, Client& client, const Argv& argv) {
  Keyspace& ks = server.keyspace();
  std::string_view old;
  int64_t expire = 0;
  long double current = 0, by = 0;
  if (ks.Get(argv[1], &old, &expire, false) && !util::ParseLongDouble(old, &current)) {
    server.ReplyError(client, kErrNotFloat);
    return;
  }
  if (!util::ParseLongDouble(argv[2], &by)) {
    server.ReplyError(client, kErrNotFloat);
    return;
  }
  long double result = current + by;
  if (std::isnan(result) || std::isinf(result)) {
    server.ReplyError(client, "ERR increment would produce NaN or Infinity");
    return;
  }
  std::string text = util::LongDoubleToString(result);
  if (CheckStorage(server, client, ks.Set(argv[1], text, expire))) client.reply().Bulk(text);
}

}  // namespace kv::server::commands
