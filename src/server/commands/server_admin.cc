// Server commands: TIME, COMMAND, CONFIG, SHUTDOWN.
#include <sys/time.h>

#include <algorithm>
#include <set>

#include "server/command_docs.h"
#include "server/commands/commands.h"
#include "server/commands/common.h"
#include "util/glob.h"
#include "util/log.h"
#include "util/strings.h"

namespace kv::server::commands {

namespace {

// Values reported by CONFIG GET so clients and tools that probe them
// (redis-benchmark asks for save and appendonly) get Redis's answers. They
// are not kv directives and cannot be set.
const std::pair<const char*, const char*> kCompatConfig[] = {
    {"save", ""},
    {"appendonly", "no"},
    {"databases", "1"},
    {"maxmemory", "0"},
    {"maxmemory-policy", "noeviction"},
    {"cluster-enabled", "yes"},
};

std::vector<std::string> AclCategories(const Command& cmd) {
  std::vector<std::string> cats;
  if (cmd.flags & kCmdWrite) cats.push_back("@write");
  if (cmd.flags & kCmdReadonly) cats.push_back("@read");
  std::string group = cmd.group;
  if (group == "generic") group = "keyspace";
  if (group == "server") cats.push_back("@admin");
  if (group != "cluster") cats.push_back("@" + group);
  if (cmd.flags & kCmdFast) {
    cats.push_back("@fast");
  } else {
    cats.push_back("@slow");
  }
  if (cmd.flags & kCmdAdmin) cats.push_back("@dangerous");
  return cats;
}

void WriteCommandInfo(resp::ReplyWriter& r, const std::string& name, int arity, uint32_t flags,
                      int first, int last, int step, const std::vector<std::string>& cats,
                      const Command* parent) {
  r.ArrayHeader(10);
  r.Bulk(name);
  r.Integer(arity);
  std::vector<const char*> names = CommandTable::FlagNames(flags);
  r.SetHeader(names.size());
  for (const char* f : names) r.Simple(f);
  r.Integer(first);
  r.Integer(last);
  r.Integer(step);
  r.SetHeader(cats.size());
  for (const std::string& c : cats) r.Simple(c);
  r.ArrayHeader(0);  // tips
  if (first > 0) {
    // One key spec in Redis 7's shape, derived from the legacy range.
    r.ArrayHeader(1);
    r.MapHeader(4);
    r.Bulk("flags");
    r.SetHeader(1);
    r.Simple((flags & kCmdWrite) ? "RW" : "RO");
    r.Bulk("begin_search");
    r.MapHeader(2);
    r.Bulk("type");
    r.Bulk("index");
    r.Bulk("spec");
    r.MapHeader(1);
    r.Bulk("index");
    r.Integer(first);
    r.Bulk("find_keys");
    r.MapHeader(2);
    r.Bulk("type");
    r.Bulk("range");
    r.Bulk("spec");
    r.MapHeader(3);
    r.Bulk("lastkey");
    r.Integer(last < 0 ? last : last - first);
    r.Bulk("keystep");
    r.Integer(step);
    r.Bulk("limit");
    r.Integer(0);
    r.Bulk("notes");
    r.Bulk("");
  } else {
    r.ArrayHeader(0);
  }
  if (parent != nullptr && !parent->subcommands.empty()) {
    r.ArrayHeader(parent->subcommands.size());
    for (const SubcommandInfo& s : parent->subcommands) {
      WriteCommandInfo(r, std::string(parent->name) + "|" + s.name, s.arity, s.flags, 0, 0, 0, cats,
                       nullptr);
    }
  } else {
    r.ArrayHeader(0);
  }
}

void WriteInfo(resp::ReplyWriter& r, const Command& cmd) {
  WriteCommandInfo(r, cmd.name, cmd.arity, cmd.flags, cmd.first_key, cmd.last_key, cmd.key_step,
                   AclCategories(cmd), &cmd);
}

void WriteDoc(resp::ReplyWriter& r, const Command& cmd) {
  r.Bulk(cmd.name);
  bool subs = !cmd.subcommands.empty();
  const char* syntax = CommandSyntax(cmd.name);
  r.MapHeader(4 + (subs ? 1 : 0) + (syntax ? 1 : 0));
  r.Bulk("summary");
  r.Bulk(cmd.summary);
  r.Bulk("since");
  r.Bulk(cmd.since);
  r.Bulk("group");
  r.Bulk(cmd.group);
  r.Bulk("complexity");
  r.Bulk(cmd.complexity);
  if (syntax != nullptr) {
    r.Bulk("arguments");
    WriteArgSpecs(r, ParseSyntax(syntax));
  }
  if (subs) {
    r.Bulk("subcommands");
    r.MapHeader(cmd.subcommands.size());
    for (const SubcommandInfo& s : cmd.subcommands) {
      std::string full = std::string(cmd.name) + "|" + s.name;
      const char* sub_syntax = CommandSyntax(full);
      r.Bulk(full);
      r.MapHeader(sub_syntax ? 4 : 3);
      if (sub_syntax != nullptr) {
        r.Bulk("arguments");
        WriteArgSpecs(r, ParseSyntax(sub_syntax));
      }
      r.Bulk("summary");
      r.Bulk(s.summary);
      r.Bulk("since");
      r.Bulk(cmd.since);
      r.Bulk("group");
      r.Bulk(cmd.group);
    }
  }
}

void UnknownSubcommand(Server& server, Client& client, std::string_view sub, const char* parent) {
  server.ReplyError(client, "ERR unknown subcommand '" + std::string(sub.substr(0, 128)) +
                                "'. Try " + parent + " HELP.");
}

void SubArity(Server& server, Client& client, const char* parent, std::string_view sub) {
  std::string name = std::string(parent) + "|" + std::string(sub);
  util::ToLowerAscii(&name);
  server.ReplyError(client, "ERR wrong number of arguments for '" + name + "' command");
}

void HelpReply(Client& client, std::initializer_list<const char*> lines) {
  client.reply().ArrayHeader(lines.size());
  for (const char* l : lines) client.reply().Simple(l);
}

}  // namespace

void Time(Server&, Client& client, const Argv&) {
  timeval tv;
  gettimeofday(&tv, nullptr);
  client.reply().ArrayHeader(2);
  client.reply().Bulk(std::to_string(tv.tv_sec));
  client.reply().Bulk(std::to_string(tv.tv_usec));
}

void CommandCmd(Server& server, Client& client, const Argv& argv) {
  const CommandTable& table = server.commands();
  resp::ReplyWriter& r = client.reply();
  if (argv.size() == 1) {
    r.ArrayHeader(table.all().size());
    for (const Command& c : table.all()) WriteInfo(r, c);
    return;
  }
  std::string_view sub = argv[1];
  if (util::EqualsIgnoreCase(sub, "COUNT")) {
    if (argv.size() != 2) return SubArity(server, client, "command", sub);
    r.Integer(static_cast<int64_t>(table.all().size()));
  } else if (util::EqualsIgnoreCase(sub, "INFO")) {
    if (argv.size() == 2) {
      r.ArrayHeader(table.all().size());
      for (const Command& c : table.all()) WriteInfo(r, c);
      return;
    }
    r.ArrayHeader(argv.size() - 2);
    for (size_t i = 2; i < argv.size(); i++) {
      const Command* c = table.Find(argv[i]);
      if (c == nullptr) {
        r.NullArray();
      } else {
        WriteInfo(r, *c);
      }
    }
  } else if (util::EqualsIgnoreCase(sub, "DOCS")) {
    std::vector<const Command*> list;
    if (argv.size() == 2) {
      for (const Command& c : table.all()) list.push_back(&c);
    } else {
      for (size_t i = 2; i < argv.size(); i++) {
        const Command* c = table.Find(argv[i]);
        if (c != nullptr) list.push_back(c);
      }
    }
    r.MapHeader(list.size());
    for (const Command* c : list) WriteDoc(r, *c);
  } else if (util::EqualsIgnoreCase(sub, "LIST")) {
    r.ArrayHeader(table.all().size());
    for (const Command& c : table.all()) r.Bulk(c.name);
  } else if (util::EqualsIgnoreCase(sub, "HELP")) {
    HelpReply(client,
              {"COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
               "(no subcommand)", "    Return details about all commands.", "COUNT",
               "    Return the total number of commands in this server.", "LIST",
               "    Return a list of all commands in this server.", "INFO [<command-name> ...]",
               "    Return details about multiple commands.", "DOCS [<command-name> ...]",
               "    Return documentation details about multiple commands.", "HELP",
               "    Print this help."});
  } else {
    UnknownSubcommand(server, client, sub, "COMMAND");
  }
}

void ConfigCmd(Server& server, Client& client, const Argv& argv) {
  std::string_view sub = argv[1];
  Config& config = server.config();
  resp::ReplyWriter& r = client.reply();
  if (util::EqualsIgnoreCase(sub, "GET")) {
    if (argv.size() < 3) return SubArity(server, client, "config", sub);
    std::vector<std::pair<std::string, std::string>> out;
    std::set<std::string> seen;
    for (size_t i = 2; i < argv.size(); i++) {
      for (const Config::Directive& d : config.directives()) {
        if (util::GlobMatch(argv[i], d.name, true) && seen.insert(d.name).second) {
          out.emplace_back(d.name, config.Get(d));
        }
      }
      for (const auto& [name, value] : kCompatConfig) {
        if (util::GlobMatch(argv[i], name, true) && seen.insert(name).second) {
          out.emplace_back(name, value);
        }
      }
    }
    r.MapHeader(out.size());
    for (const auto& [name, value] : out) {
      r.Bulk(name);
      r.Bulk(value);
    }
  } else if (util::EqualsIgnoreCase(sub, "SET")) {
    if (argv.size() < 4 || argv.size() % 2 != 0) return SubArity(server, client, "config", sub);
    // All or nothing, as Redis 7 does for multi-parameter CONFIG SET.
    Config backup = config;
    for (size_t i = 2; i < argv.size(); i += 2) {
      std::string err;
      if (!config.SetAtRuntime(argv[i], argv[i + 1], &err)) {
        config = backup;
        server.ReplyError(client, err);
        return;
      }
    }
    server.ApplyConfig();
    r.Ok();
  } else if (util::EqualsIgnoreCase(sub, "RESETSTAT")) {
    if (argv.size() != 2) return SubArity(server, client, "config", sub);
    server.ResetStats();
    r.Ok();
  } else if (util::EqualsIgnoreCase(sub, "HELP")) {
    HelpReply(client,
              {"CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", "GET <pattern>",
               "    Return parameters matching the glob-like <pattern> and their values.",
               "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
               "RESETSTAT", "    Reset statistics reported by the INFO command.", "HELP",
               "    Print this help."});
  } else {
    UnknownSubcommand(server, client, sub, "CONFIG");
  }
}

void Shutdown(Server& server, Client& client, const Argv& argv) {
  for (size_t i = 1; i < argv.size(); i++) {
    std::string_view a = argv[i];
    if (util::EqualsIgnoreCase(a, "ABORT")) {
      server.ReplyError(client, "ERR No shutdown in progress.");
      return;
    }
    if (!util::EqualsIgnoreCase(a, "NOSAVE") && !util::EqualsIgnoreCase(a, "SAVE") &&
        !util::EqualsIgnoreCase(a, "NOW") && !util::EqualsIgnoreCase(a, "FORCE")) {
      server.ReplyError(client, kErrSyntax);
      return;
    }
  }
  KV_LOG_WARNING("User requested shutdown...");
  // Like Redis, no reply: the connection closes when the process exits.
  client.close_requested = true;
  server.RequestShutdown("Shutdown requested by client");
}

}  // namespace kv::server::commands
