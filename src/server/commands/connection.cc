// Connection commands: PING, ECHO, QUIT, RESET, HELLO, AUTH, SELECT,
// READONLY/READWRITE and CLIENT.
#include <algorithm>
#include <cctype>

#include "server/commands/commands.h"
#include "server/commands/common.h"
#include "util/strings.h"

namespace kv::server::commands {

namespace {
constexpr std::string_view kWrongPass =
    "WRONGPASS invalid username-password pair or user is disabled.";

// Checks a username/password pair against requirepass. With no password
// configured the default user is "nopass" and any password is accepted, as
// in Redis.
bool CheckCredentials(Server& server, std::string_view user, std::string_view pass) {
  if (!util::EqualsIgnoreCase(user, "default")) return false;
  const std::string& required = server.config().values().requirepass;
  return required.empty() || pass == required;
}

std::string ClientInfoLine(Server& server, Client& c) {
  int64_t now = server.keyspace().now_ms();
  net::Connection* conn = c.conn();
  std::string flags;
  if (c.in_multi) flags += "x";
  if (c.readonly) flags += "r";
  if (flags.empty()) flags = "N";
  std::string line;
  line.reserve(256);
  line += "id=" + std::to_string(c.id());
  line += " addr=" + c.peer();
  line += " laddr=" + c.local();
  line += " fd=" + std::to_string(conn->fd());
  line += " name=" + c.name;
  line += " age=" + std::to_string((now - c.created_ms()) / 1000);
  line += " idle=" + std::to_string((now - c.last_interaction_ms) / 1000);
  line += " flags=" + flags;
  line += " db=0 sub=0 psub=0 ssub=0";
  line += " multi=" + std::to_string(c.in_multi ? static_cast<int64_t>(c.multi_queue.size()) : -1);
  line += " qbuf=" + std::to_string(conn->input().size());
  line += " qbuf-free=" + std::to_string(conn->input().writable());
  line += " argv-mem=0 multi-mem=0";
  line += " rbs=" + std::to_string(conn->input().capacity());
  line += " rbp=0";
  line += " obl=" + std::to_string(conn->output().size());
  line += " oll=0";
  line += " omem=" + std::to_string(conn->pending_output());
  line += " tot-mem=" + std::to_string(conn->input().capacity() + conn->output().capacity());
  line += " events=r";
  if (conn->pending_output() > 0) line += "w";
  line += " cmd=";
  line += c.last_command;
  line += " user=default redir=-1 resp=" + std::to_string(c.protocol());
  line += " lib-name=" + c.lib_name;
  line += " lib-ver=" + c.lib_ver;
  line += "\n";
  return line;
}

bool ValidClientName(std::string_view name) {
  for (char ch : name) {
    if (ch < '!' || ch > '~') return false;  // spaces, newlines, control bytes
  }
  return true;
}

void ClientKill(Server& server, Client& client, const Argv& argv) {
  std::vector<Client*> victims;
  if (argv.size() == 3) {
    // Old form: CLIENT KILL addr:port.
    for (const auto& [id, c] : server.clients()) {
      if (c->peer() == argv[2]) victims.push_back(c.get());
    }
    if (victims.empty()) {
      server.ReplyError(client, "ERR No such client");
      return;
    }
    for (Client* c : victims) {
      if (c == &client) {
        server.CloseClientAfterReply(client);
      } else {
        server.KillClient(*c);
      }
    }
    client.reply().Ok();
    return;
  }
  if (argv.size() % 2 != 0) {
    server.ReplyError(client, kErrSyntax);
    return;
  }
  bool skipme = true;
  int64_t want_id = -1;
  std::string addr, laddr, user;
  bool type_normal = true;
  for (size_t i = 2; i < argv.size(); i += 2) {
    std::string_view opt = argv[i], val = argv[i + 1];
    if (util::EqualsIgnoreCase(opt, "ID")) {
      if (!util::ParseInt64(val, &want_id) || want_id <= 0) {
        server.ReplyError(client, "ERR client-id should be greater than 0");
        return;
      }
    } else if (util::EqualsIgnoreCase(opt, "ADDR")) {
      addr = val;
    } else if (util::EqualsIgnoreCase(opt, "LADDR")) {
      laddr = val;
    } else if (util::EqualsIgnoreCase(opt, "USER")) {
      user = val;
    } else if (util::EqualsIgnoreCase(opt, "TYPE")) {
      type_normal = util::EqualsIgnoreCase(val, "normal");
      if (!type_normal && !util::EqualsIgnoreCase(val, "master") &&
          !util::EqualsIgnoreCase(val, "replica") && !util::EqualsIgnoreCase(val, "slave") &&
          !util::EqualsIgnoreCase(val, "pubsub")) {
        server.ReplyError(client, "ERR Unknown client type '" + std::string(val) + "'");
        return;
      }
    } else if (util::EqualsIgnoreCase(opt, "SKIPME")) {
      if (util::EqualsIgnoreCase(val, "yes")) {
        skipme = true;
      } else if (util::EqualsIgnoreCase(val, "no")) {
        skipme = false;
      } else {
        server.ReplyError(client, kErrSyntax);
        return;
      }
    } else {
      server.ReplyError(client, kErrSyntax);
      return;
    }
  }
  for (const auto& [id, c] : server.clients()) {
    if (!type_normal) continue;
    if (want_id > 0 && static_cast<int64_t>(id) != want_id) continue;
    if (!addr.empty() && c->peer() != addr) continue;
    if (!laddr.empty() && c->local() != laddr) continue;
    if (!user.empty() && user != "default") continue;
    if (skipme && c.get() == &client) continue;
    if (c->close_requested) continue;
    victims.push_back(c.get());
  }
  for (Client* c : victims) {
    if (c == &client) {
      server.CloseClientAfterReply(client);
    } else {
      server.KillClient(*c);
    }
  }
  client.reply().Integer(static_cast<int64_t>(victims.size()));
}

void SubcommandArityError(Server& server, Client& client, std::string_view parent,
                          std::string_view sub) {
  std::string name(parent);
  name += "|";
  name.append(sub);
  util::ToLowerAscii(&name);
  server.ReplyError(client, "ERR wrong number of arguments for '" + name + "' command");
}

}  // namespace

void Ping(Server& server, Client& client, const Argv& argv) {
  if (argv.size() > 2) {
    server.ReplyError(client, "ERR wrong number of arguments for 'ping' command");
  } else if (argv.size() == 2) {
    client.reply().Bulk(argv[1]);
  } else {
    client.reply().Raw("+PONG\r\n");
  }
}

void Echo(Server&, Client& client, const Argv& argv) { client.reply().Bulk(argv[1]); }

void Quit(Server& server, Client& client, const Argv&) {
  client.reply().Ok();
  server.CloseClientAfterReply(client);
}

void Reset(Server& server, Client& client, const Argv&) {
  client.in_multi = false;
  client.multi_error = false;
  client.multi_queue.clear();
  client.set_protocol(2);
  client.name.clear();
  client.readonly = false;
  client.authenticated = server.config().values().requirepass.empty();
  client.reply().Simple("RESET");
}

void Hello(Server& server, Client& client, const Argv& argv) {
  int64_t proto = client.protocol();
  size_t i = 1;
  if (argv.size() >= 2) {
    if (!util::ParseInt64(argv[1], &proto)) {
      server.ReplyError(client, "ERR Protocol version is not an integer or out of range");
      return;
    }
    if (proto < 2 || proto > 3) {
      server.ReplyError(client, "NOPROTO unsupported protocol version");
      return;
    }
    i = 2;
  }
  std::string_view setname;
  bool has_setname = false;
  for (; i < argv.size(); i++) {
    bool more = i + 1 < argv.size();
    if (util::EqualsIgnoreCase(argv[i], "AUTH") && i + 2 < argv.size()) {
      if (!CheckCredentials(server, argv[i + 1], argv[i + 2])) {
        server.ReplyError(client, kWrongPass);
        return;
      }
      client.authenticated = true;
      i += 2;
    } else if (util::EqualsIgnoreCase(argv[i], "SETNAME") && more) {
      setname = argv[i + 1];
      has_setname = true;
      i++;
    } else {
      server.ReplyError(client, "ERR Syntax error in HELLO option '" + std::string(argv[i]) + "'");
      return;
    }
  }
  if (!client.authenticated) {
    server.ReplyError(client,
                      "NOAUTH HELLO must be called with the client already authenticated, "
                      "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                      "authenticate the client and select the RESP protocol version at the same "
                      "time");
    return;
  }
  if (has_setname) {
    if (!ValidClientName(setname)) {
      server.ReplyError(client,
                        "ERR Client names cannot contain spaces, newlines or special characters.");
      return;
    }
    client.name = setname;
  }
  client.set_protocol(static_cast<int>(proto));
  resp::ReplyWriter& r = client.reply();
  r.MapHeader(7);
  r.Bulk("server");
  r.Bulk("kv");
  r.Bulk("version");
  r.Bulk(kRedisCompatVersion);
  r.Bulk("proto");
  r.Integer(proto);
  r.Bulk("id");
  r.Integer(static_cast<int64_t>(client.id()));
  r.Bulk("mode");
  r.Bulk("standalone");
  r.Bulk("role");
  r.Bulk("master");
  r.Bulk("modules");
  r.ArrayHeader(0);
}

void Auth(Server& server, Client& client, const Argv& argv) {
  if (argv.size() > 3) {
    server.ReplyError(client, kErrSyntax);
    return;
  }
  if (argv.size() == 2 && server.config().values().requirepass.empty()) {
    server.ReplyError(client,
                      "ERR AUTH <password> called without any password configured for the "
                      "default user. Are you sure your configuration is correct?");
    return;
  }
  std::string_view user = argv.size() == 3 ? argv[1] : std::string_view("default");
  std::string_view pass = argv.size() == 3 ? argv[2] : argv[1];
  if (!CheckCredentials(server, user, pass)) {
    server.ReplyError(client, kWrongPass);
    return;
  }
  client.authenticated = true;
  client.reply().Ok();
}

void Select(Server& server, Client& client, const Argv& argv) {
  int64_t db;
  if (!util::ParseInt64(argv[1], &db)) {
    server.ReplyError(client, kErrNotInteger);
    return;
  }
  if (db != 0) {
    server.ReplyError(client, "ERR DB index is out of range");
    return;
  }
  client.reply().Ok();
}

void ReadOnly(Server&, Client& client, const Argv&) {
  client.readonly = true;
  client.reply().Ok();
}

void ReadWrite(Server&, Client& client, const Argv&) {
  client.readonly = false;
  client.reply().Ok();
}

void ClientCmd(Server& server, Client& client, const Argv& argv) {
  std::string_view sub = argv[1];
  size_t n = argv.size();
  auto is = [&](const char* name) { return util::EqualsIgnoreCase(sub, name); };
  if (is("ID")) {
    if (n != 2) return SubcommandArityError(server, client, "client", sub);
    client.reply().Integer(static_cast<int64_t>(client.id()));
  } else if (is("GETNAME")) {
    if (n != 2) return SubcommandArityError(server, client, "client", sub);
    if (client.name.empty()) {
      client.reply().Null();
    } else {
      client.reply().Bulk(client.name);
    }
  } else if (is("SETNAME")) {
    if (n != 3) return SubcommandArityError(server, client, "client", sub);
    if (!ValidClientName(argv[2])) {
      server.ReplyError(client,
                        "ERR Client names cannot contain spaces, newlines or special characters.");
      return;
    }
    client.name = argv[2];
    client.reply().Ok();
  } else if (is("SETINFO")) {
    if (n != 4) return SubcommandArityError(server, client, "client", sub);
    if (!ValidClientName(argv[3])) {
      server.ReplyError(client, "ERR " + std::string(argv[2]) +
                                    " cannot contain spaces, newlines or special characters.");
      return;
    }
    if (util::EqualsIgnoreCase(argv[2], "LIB-NAME")) {
      client.lib_name = argv[3];
    } else if (util::EqualsIgnoreCase(argv[2], "LIB-VER")) {
      client.lib_ver = argv[3];
    } else {
      server.ReplyError(client, "ERR Unrecognized option '" + std::string(argv[2]) + "'");
      return;
    }
    client.reply().Ok();
  } else if (is("LIST")) {
    std::vector<int64_t> ids;
    for (size_t i = 2; i < n; i++) {
      if (util::EqualsIgnoreCase(argv[i], "TYPE") && i + 1 < n) {
        i++;
      } else if (util::EqualsIgnoreCase(argv[i], "ID")) {
        for (i++; i < n; i++) {
          int64_t id;
          if (!util::ParseInt64(argv[i], &id) || id <= 0) {
            server.ReplyError(client, "ERR Invalid client ID");
            return;
          }
          ids.push_back(id);
        }
      } else {
        server.ReplyError(client, kErrSyntax);
        return;
      }
    }
    std::string text;
    for (const auto& [id, c] : server.clients()) {
      if (c->close_requested) continue;
      if (!ids.empty() &&
          std::find(ids.begin(), ids.end(), static_cast<int64_t>(id)) == ids.end()) {
        continue;
      }
      text += ClientInfoLine(server, *c);
    }
    client.reply().Verbatim(text);
  } else if (is("INFO")) {
    if (n != 2) return SubcommandArityError(server, client, "client", sub);
    client.reply().Verbatim(ClientInfoLine(server, client));
  } else if (is("KILL")) {
    if (n < 3) return SubcommandArityError(server, client, "client", sub);
    ClientKill(server, client, argv);
  } else if (is("HELP")) {
    const char* lines[] = {
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are: ID, ADDR, LADDR, USER, TYPE, SKIPME.",
        "LIST [TYPE <type>] [ID <id> [<id> ...]]",
        "    Return information about client connections.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <LIB-NAME|LIB-VER> <value>",
        "    Set client library name or version.",
        "HELP",
        "    Print this help."};
    client.reply().ArrayHeader(sizeof(lines) / sizeof(lines[0]));
    for (const char* l : lines) client.reply().Simple(l);
  } else {
    server.ReplyError(client,
                      "ERR unknown subcommand '" + std::string(sub) + "'. Try CLIENT HELP.");
  }
}

}  // namespace kv::server::commands
