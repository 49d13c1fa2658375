// Generic keyspace commands: DEL, EXISTS, TTLs, TYPE, SCAN, KEYS, DBSIZE,
// FLUSHALL.
#include "cluster/cluster_node.h"
#include "server/commands/commands.h"
#include "server/commands/common.h"
#include "server/server.h"
#include "util/crc16.h"
#include "util/glob.h"
#include "util/strings.h"

namespace kv::server::commands {

void Del(Server& server, Client& client, const Argv& argv) {
  int64_t n = 0;
  for (size_t i = 1; i < argv.size(); i++) {
    if (server.keyspace().Delete(argv[i])) n++;
  }
  client.reply().Integer(n);
}

void Exists(Server& server, Client& client, const Argv& argv) {
  int64_t n = 0;
  for (size_t i = 1; i < argv.size(); i++) {
    if (server.keyspace().Exists(argv[i])) n++;
  }
  client.reply().Integer(n);
}

namespace {

// EXPIRE family (Redis 7 semantics, NX/XX/GT/LT included).
void ExpireGeneric(Server& server, Client& client, const Argv& argv, int64_t unit_ms, bool absolute,
                   const char* name) {
  int64_t n;
  if (!ParseIntArg(server, client, argv[2], &n)) return;
  bool nx = false, xx = false, gt = false, lt = false;
  for (size_t i = 3; i < argv.size(); i++) {
    if (util::EqualsIgnoreCase(argv[i], "NX")) {
      nx = true;
    } else if (util::EqualsIgnoreCase(argv[i], "XX")) {
      xx = true;
    } else if (util::EqualsIgnoreCase(argv[i], "GT")) {
      gt = true;
    } else if (util::EqualsIgnoreCase(argv[i], "LT")) {
      lt = true;
    } else {
      server.ReplyError(client, "ERR Unsupported option " + std::string(argv[i]));
      return;
    }
  }
  if (nx && (xx || gt || lt)) {
    server.ReplyError(client,
                      "ERR NX and XX, GT or LT options at the same time are not compatible");
    return;
  }
  if (gt && lt) {
    server.ReplyError(client, "ERR GT and LT options at the same time are not compatible");
    return;
  }
  Keyspace& ks = server.keyspace();
  int64_t when;
  bool bad = n > INT64_MAX / unit_ms || n < INT64_MIN / unit_ms;
  when = bad ? 0 : n * unit_ms;
  if (!bad && !absolute) {
    if ((when > 0 && when > INT64_MAX - ks.now_ms()) ||
        (when < 0 && when < INT64_MIN + ks.now_ms())) {
      bad = true;
    } else {
      when += ks.now_ms();
    }
  }
  if (bad) {
    server.ReplyError(client, std::string("ERR invalid expire time in '") + name + "' command");
    return;
  }
  std::string_view value;
  int64_t current;
  if (!ks.Get(argv[1], &value, &current, false)) {
    client.reply().Integer(0);
    return;
  }
  // A key without a TTL counts as an infinite TTL for GT and LT.
  if ((nx && current != 0) || (xx && current == 0) || (gt && (current == 0 || when <= current)) ||
      (lt && current != 0 && when >= current)) {
    client.reply().Integer(0);
    return;
  }
  if (when <= ks.now_ms()) {
    ks.Delete(argv[1]);
  } else {
    ks.SetExpire(argv[1], when);
  }
  client.reply().Integer(1);
}

void TtlGeneric(Server& server, Client& client, const Argv& argv, bool ms, bool absolute) {
  Keyspace& ks = server.keyspace();
  std::string_view value;
  int64_t expire;
  if (!ks.Get(argv[1], &value, &expire, false)) {
    client.reply().Integer(-2);
    return;
  }
  if (expire == 0) {
    client.reply().Integer(-1);
    return;
  }
  if (absolute) {
    client.reply().Integer(ms ? expire : expire / 1000);
    return;
  }
  int64_t left = expire - ks.now_ms();
  if (left < 0) left = 0;
  client.reply().Integer(ms ? left : (left + 500) / 1000);
}

}  // namespace

void Expire(Server& s, Client& c, const Argv& a) { ExpireGeneric(s, c, a, 1000, false, "expire"); }
void PExpire(Server& s, Client& c, const Argv& a) { ExpireGeneric(s, c, a, 1, false, "pexpire"); }
void ExpireAt(Server& s, Client& c, const Argv& a) {
  ExpireGeneric(s, c, a, 1000, true, "expireat");
}
void PExpireAt(Server& s, Client& c, const Argv& a) {
  ExpireGeneric(s, c, a, 1, true, "pexpireat");
}
void Ttl(Server& s, Client& c, const Argv& a) { TtlGeneric(s, c, a, false, false); }
void PTtl(Server& s, Client& c, const Argv& a) { TtlGeneric(s, c, a, true, false); }
void ExpireTime(Server& s, Client& c, const Argv& a) { TtlGeneric(s, c, a, false, true); }
void PExpireTime(Server& s, Client& c, const Argv& a) { TtlGeneric(s, c, a, true, true); }

void Persist(Server& server, Client& client, const Argv& argv) {
  Keyspace& ks = server.keyspace();
  std::string_view value;
  int64_t expire;
  if (!ks.Get(argv[1], &value, &expire, false) || expire == 0) {
    client.reply().Integer(0);
    return;
  }
  ks.SetExpire(argv[1], 0);
  client.reply().Integer(1);
}

void Type(Server& server, Client& client, const Argv& argv) {
  client.reply().Simple(server.keyspace().Exists(argv[1]) ? "string" : "none");
}

void Scan(Server& server, Client& client, const Argv& argv) {
  uint64_t cursor;
  if (!util::ParseUint64(argv[1], &cursor)) {
    server.ReplyError(client, "ERR invalid cursor");
    return;
  }
  std::string_view pattern;
  bool has_pattern = false;
  int64_t count = 10;
  bool type_matches = true;
  for (size_t i = 2; i < argv.size(); i++) {
    bool has_next = i + 1 < argv.size();
    if (util::EqualsIgnoreCase(argv[i], "COUNT") && has_next) {
      if (!ParseIntArg(server, client, argv[i + 1], &count)) return;
      if (count < 1) {
        server.ReplyError(client, kErrSyntax);
        return;
      }
      i++;
    } else if (util::EqualsIgnoreCase(argv[i], "MATCH") && has_next) {
      pattern = argv[i + 1];
      has_pattern = !(pattern.size() == 1 && pattern[0] == '*');
      i++;
    } else if (util::EqualsIgnoreCase(argv[i], "TYPE") && has_next) {
      // Every kv value is a string.
      type_matches = util::EqualsIgnoreCase(argv[i + 1], "string");
      i++;
    } else {
      server.ReplyError(client, kErrSyntax);
      return;
    }
  }
  // In a cluster the cursor's slot names the node to scan: its owner walks
  // the run of slots it owns from there and hands back the cursor of the
  // next run, so one client-side SCAN loop covers every node in slot order.
  uint32_t end_slot = util::kSlotCount;
  if (server.cluster().ring().members().size() > 1) {
    const uint32_t slot = static_cast<uint32_t>((cursor >> 48) & 0x3fff);
    for (const cluster::OwnedSlots& run : server.cluster().SlotRuns()) {
      if (slot < run.first || slot > run.last) continue;
      if (run.owner != server.cluster().id() && !client.execute_locally) {
        server.ForwardWhole(client, run.owner, argv);
        return;
      }
      end_slot = run.last + 1;
    }
  }
  std::vector<std::string> keys;
  uint64_t next = server.keyspace().Scan(
      cursor, static_cast<size_t>(count),
      [&](std::string_view k) {
        if (!type_matches) return;
        if (has_pattern && !util::GlobMatch(pattern, k)) return;
        keys.emplace_back(k);
      },
      end_slot);
  resp::ReplyWriter& r = client.reply();
  r.ArrayHeader(2);
  char buf[24];
  r.Bulk(std::string_view(buf, util::FormatUint64(next, buf)));
  r.ArrayHeader(keys.size());
  for (const std::string& k : keys) r.Bulk(k);
}

namespace {
// True if this node may store keys of partitions it does not own (moving
// in, or moved away and not swept yet): DBSIZE and KEYS, which add up the
// nodes' answers, must then count only what this node owns.
bool MayHoldForeign(Server& server) {
  const cluster::Transfers* t = server.cluster().transfers();
  return t != nullptr && t->MayHoldForeign();
}
}  // namespace

void Keys(Server& server, Client& client, const Argv& argv) {
  std::string_view pattern = argv[1];
  bool all = pattern.size() == 1 && pattern[0] == '*';
  std::vector<std::string> keys;
  const bool only_owned = MayHoldForeign(server);
  const cluster::ClusterNode& node = server.cluster();
  server.keyspace().ForEachKey([&](std::string_view k) {
    if (only_owned && !node.OwnsSlot(util::KeySlot(k))) return;
    if (all || util::GlobMatch(pattern, k)) keys.emplace_back(k);
  });
  client.reply().ArrayHeader(keys.size());
  for (const std::string& k : keys) client.reply().Bulk(k);
}

void DbSize(Server& server, Client& client, const Argv&) {
  uint64_t n = server.keyspace().KeyCount();
  if (MayHoldForeign(server)) {
    const cluster::ClusterNode& node = server.cluster();
    for (const cluster::OwnedSlots& run : node.SlotRuns()) {
      if (run.owner == node.id()) continue;
      n -= std::min(n, server.keyspace().CountRecordsInSlots(run.first, run.last + 1));
    }
  }
  client.reply().Integer(static_cast<int64_t>(n));
}

void FlushAll(Server& server, Client& client, const Argv& argv) {
  if (argv.size() > 2 || (argv.size() == 2 && !util::EqualsIgnoreCase(argv[1], "ASYNC") &&
                          !util::EqualsIgnoreCase(argv[1], "SYNC"))) {
    server.ReplyError(client, kErrSyntax);
    return;
  }
  if (CheckStorage(server, client, server.keyspace().Clear())) client.reply().Ok();
}

}  // namespace kv::server::commands
