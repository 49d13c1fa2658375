#include "server/command_docs.h"

#include <cctype>
#include <unordered_map>

namespace kv::server {

namespace {

const std::unordered_map<std::string_view, const char*>& SyntaxTable() {
  static const std::unordered_map<std::string_view, const char*> table = {
      {"get", "key"},
      {"set",
       "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT "
       "unix-time-milliseconds|KEEPTTL]"},
      {"setnx", "key value"},
      {"setex", "key seconds value"},
      {"psetex", "key milliseconds value"},
      {"getset", "key value"},
      {"getdel", "key"},
      {"getex",
       "key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|"
       "PERSIST]"},
      {"mget", "key..."},
      {"mset", "(key value)..."},
      {"msetnx", "(key value)..."},
      {"append", "key value"},
      {"strlen", "key"},
      {"incr", "key"},
      {"decr", "key"},
      {"incrby", "key increment"},
      {"decrby", "key decrement"},
      {"incrbyfloat", "key increment"},
      {"del", "key..."},
      {"unlink", "key..."},
      {"exists", "key..."},
      {"expire", "key seconds [NX|XX|GT|LT]"},
      {"pexpire", "key milliseconds [NX|XX|GT|LT]"},
      {"expireat", "key unix-time-seconds [NX|XX|GT|LT]"},
      {"pexpireat", "key unix-time-milliseconds [NX|XX|GT|LT]"},
      {"ttl", "key"},
      {"pttl", "key"},
      {"expiretime", "key"},
      {"pexpiretime", "key"},
      {"persist", "key"},
      {"type", "key"},
      {"scan", "cursor [MATCH pattern] [COUNT count] [TYPE type]"},
      {"keys", "pattern"},
      {"flushall", "[ASYNC|SYNC]"},
      {"flushdb", "[ASYNC|SYNC]"},
      {"ping", "[message]"},
      {"echo", "message"},
      {"hello", "[protover [AUTH username password] [SETNAME clientname]]"},
      {"auth", "[username] password"},
      {"select", "index"},
      {"info", "[section...]"},
      {"shutdown", "[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]"},
      {"client|setname", "connection-name"},
      {"client|setinfo", "LIB-NAME libname|LIB-VER libver"},
      {"client|list", "[TYPE type] [ID client-id...]"},
      {"client|kill",
       "ip:port|([ID client-id] [TYPE type] [USER username] [ADDR ip:port] [LADDR ip:port] "
       "[SKIPME yes/no])"},
      {"command|info", "[command-name...]"},
      {"command|docs", "[command-name...]"},
      {"config|get", "parameter..."},
      {"config|set", "(parameter value)..."},
  };
  return table;
}

bool IsToken(std::string_view w) {
  bool has_upper = false;
  for (char c : w) {
    if (islower(static_cast<unsigned char>(c))) return false;
    if (isupper(static_cast<unsigned char>(c))) has_upper = true;
  }
  return has_upper;
}

std::string TypeOf(std::string_view name) {
  if (name == "key") return "key";
  if (name == "pattern") return "pattern";
  if (name.find("unix-time") != std::string_view::npos) return "unix-time";
  if (name == "seconds" || name == "milliseconds" || name == "count" || name == "cursor" ||
      name == "index" || name == "protover" || name == "decrement" || name == "client-id") {
    return "integer";
  }
  if (name == "increment") return "integer";
  return "string";
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return out;
}

class SyntaxParser {
 public:
  explicit SyntaxParser(std::string_view s) : s_(s) {}

  // seq := item*, stopping at ']' ')' '|' or the end.
  std::vector<ArgSpec> Sequence() {
    std::vector<ArgSpec> items;
    while (true) {
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] == ']' || s_[pos_] == ')' || s_[pos_] == '|') break;
      ArgSpec item = Item();
      // A token followed by a plain word names that word's argument.
      if (item.type == "pure-token" && !item.optional && !item.multiple) {
        size_t save = pos_;
        SkipSpace();
        if (pos_ < s_.size() && s_[pos_] != '[' && s_[pos_] != '(' && s_[pos_] != ']' &&
            s_[pos_] != ')' && s_[pos_] != '|') {
          std::string_view w = PeekWord();
          if (!IsToken(w)) {
            ArgSpec named = Item();
            named.token = item.token;
            item = std::move(named);
          } else {
            pos_ = save;
          }
        } else {
          pos_ = save;
        }
      }
      items.push_back(std::move(item));
    }
    return items;
  }

 private:
  // alts := seq ('|' seq)*; returns one spec (oneof if several).
  ArgSpec Alternatives(const std::string& group_name) {
    std::vector<ArgSpec> alts;
    while (true) {
      std::vector<ArgSpec> seq = Sequence();
      alts.push_back(AsOne(std::move(seq), group_name));
      SkipSpace();
      if (pos_ < s_.size() && s_[pos_] == '|') {
        pos_++;
        continue;
      }
      break;
    }
    if (alts.size() == 1) return std::move(alts[0]);
    ArgSpec oneof;
    oneof.type = "oneof";
    oneof.name = group_name.empty() ? "choice" : group_name;
    oneof.args = std::move(alts);
    return oneof;
  }

  static ArgSpec AsOne(std::vector<ArgSpec> seq, const std::string& group_name) {
    if (seq.size() == 1) return std::move(seq[0]);
    ArgSpec block;
    block.type = "block";
    block.name = group_name.empty() ? (seq.empty() ? "block" : seq[0].name) : group_name;
    block.args = std::move(seq);
    return block;
  }

  ArgSpec Item() {
    ArgSpec spec;
    char c = s_[pos_];
    if (c == '[' || c == '(') {
      pos_++;
      spec = Alternatives("");
      SkipSpace();
      if (pos_ < s_.size()) pos_++;  // closing bracket
      if (c == '[') spec.optional = true;
      if (c == '(' && spec.type != "block" && spec.type != "oneof") {
        // "(x)" is just x.
      } else if (c == '(' && spec.type == "block") {
        spec.name = "data";
      }
    } else {
      std::string_view w = Word();
      if (IsToken(w)) {
        spec.type = "pure-token";
        spec.token = std::string(w);
        spec.name = Lower(w);
      } else {
        spec.name = std::string(w);
        spec.type = TypeOf(w);
      }
    }
    if (s_.substr(pos_, 3) == "...") {
      spec.multiple = true;
      pos_ += 3;
    }
    return spec;
  }

  std::string_view PeekWord() {
    size_t end = pos_;
    while (end < s_.size() && s_[end] != ' ' && s_[end] != '[' && s_[end] != ']' &&
           s_[end] != '(' && s_[end] != ')' && s_[end] != '|' && s_.substr(end, 3) != "...") {
      end++;
    }
    return s_.substr(pos_, end - pos_);
  }
  std::string_view Word() {
    std::string_view w = PeekWord();
    pos_ += w.size();
    if (w.empty()) pos_++;  // never loop on an unexpected character
    return w;
  }
  void SkipSpace() {
    while (pos_ < s_.size() && s_[pos_] == ' ') pos_++;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

std::vector<ArgSpec> ParseSyntax(std::string_view syntax) {
  return SyntaxParser(syntax).Sequence();
}

const char* CommandSyntax(std::string_view command) {
  const auto& t = SyntaxTable();
  auto it = t.find(command);
  return it == t.end() ? nullptr : it->second;
}

void WriteArgSpecs(resp::ReplyWriter& r, const std::vector<ArgSpec>& args) {
  r.ArrayHeader(args.size());
  for (const ArgSpec& a : args) {
    size_t fields = 2 + (a.token.empty() ? 0 : 1) + ((a.optional || a.multiple) ? 1 : 0) +
                    (a.args.empty() ? 0 : 1);
    r.MapHeader(fields);
    r.Bulk("name");
    r.Bulk(a.name);
    r.Bulk("type");
    r.Bulk(a.type);
    if (!a.token.empty()) {
      r.Bulk("token");
      r.Bulk(a.token);
    }
    if (a.optional || a.multiple) {
      r.Bulk("flags");
      r.SetHeader((a.optional ? 1 : 0) + (a.multiple ? 1 : 0));
      if (a.optional) r.Simple("optional");
      if (a.multiple) r.Simple("multiple");
    }
    if (!a.args.empty()) {
      r.Bulk("arguments");
      WriteArgSpecs(r, a.args);
    }
  }
}

}  // namespace kv::server
