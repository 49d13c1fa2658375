// Declarations of every command handler, grouped as in Redis's docs. Each
// handler validates its arguments (beyond arity, which the dispatcher has
// checked), does its work through the Server, and writes exactly one reply.
#pragma once

#include "server/command_table.h"

namespace kv::server::commands {

#define KV_COMMAND(fn) void fn(Server& server, Client& client, const Argv& argv)

// strings.cc
KV_COMMAND(Get);
KV_COMMAND(Set);
KV_COMMAND(SetNx);
KV_COMMAND(SetEx);
KV_COMMAND(PSetEx);
KV_COMMAND(GetSet);
KV_COMMAND(GetDel);
KV_COMMAND(GetEx);
KV_COMMAND(MGet);
KV_COMMAND(MSet);
KV_COMMAND(MSetNx);
KV_COMMAND(Append);
KV_COMMAND(StrLen);
KV_COMMAND(Incr);
KV_COMMAND(Decr);
KV_COMMAND(IncrBy);
KV_COMMAND(DecrBy);
KV_COMMAND(IncrByFloat);

// keys.cc
KV_COMMAND(Del);
KV_COMMAND(Exists);
KV_COMMAND(Expire);
KV_COMMAND(PExpire);
KV_COMMAND(ExpireAt);
KV_COMMAND(PExpireAt);
KV_COMMAND(Ttl);
KV_COMMAND(PTtl);
KV_COMMAND(ExpireTime);
KV_COMMAND(PExpireTime);
KV_COMMAND(Persist);
KV_COMMAND(Type);
KV_COMMAND(Scan);
KV_COMMAND(Keys);
KV_COMMAND(DbSize);
KV_COMMAND(FlushAll);

// connection.cc
KV_COMMAND(Ping);
KV_COMMAND(Echo);
KV_COMMAND(Quit);
KV_COMMAND(Reset);
KV_COMMAND(Hello);
KV_COMMAND(Auth);
KV_COMMAND(Select);
KV_COMMAND(ReadOnly);
KV_COMMAND(ReadWrite);
KV_COMMAND(ClientCmd);

// cluster.cc
KV_COMMAND(ClusterCmd);

// server.cc
KV_COMMAND(Info);
KV_COMMAND(Time);
KV_COMMAND(CommandCmd);
KV_COMMAND(ConfigCmd);
KV_COMMAND(Shutdown);

// multi.cc
KV_COMMAND(Multi);
KV_COMMAND(Exec);
KV_COMMAND(Discard);

#undef KV_COMMAND

}  // namespace kv::server::commands
