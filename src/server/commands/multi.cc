// MULTI/EXEC/DISCARD: commands queue on the receiving node and run in order,
// with no other client's command in between (one loop thread). Not atomic
// across replicas once replication lands (DESIGN.md section 7).
#include "server/commands/commands.h"
#include "server/commands/common.h"

namespace kv::server::commands {

void Multi(Server& server, Client& client, const Argv&) {
  if (client.in_multi) {
    server.ReplyError(client, "ERR MULTI calls can not be nested");
    return;
  }
  client.in_multi = true;
  client.multi_error = false;
  client.multi_queue.clear();
  client.reply().Ok();
}

void Exec(Server& server, Client& client, const Argv&) {
  if (!client.in_multi) {
    server.ReplyError(client, "ERR EXEC without MULTI");
    return;
  }
  std::vector<std::vector<std::string>> queue = std::move(client.multi_queue);
  bool failed = client.multi_error;
  client.in_multi = false;
  client.multi_error = false;
  client.multi_queue.clear();
  if (failed) {
    server.ReplyError(client, "EXECABORT Transaction discarded because of previous errors.");
    return;
  }
  client.reply().ArrayHeader(queue.size());
  Argv args;
  client.in_exec = true;
  for (const std::vector<std::string>& cmd : queue) {
    args.assign(cmd.begin(), cmd.end());
    server.Dispatch(client, args);
  }
  client.in_exec = false;
}

void Discard(Server& server, Client& client, const Argv&) {
  if (!client.in_multi) {
    server.ReplyError(client, "ERR DISCARD without MULTI");
    return;
  }
  client.in_multi = false;
  client.multi_error = false;
  client.multi_queue.clear();
  client.reply().Ok();
}

}  // namespace kv::server::commands
