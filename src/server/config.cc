#include "server/config.h"

#include <fstream>
#include <sstream>

#include "util/split_args.h"
#include "util/strings.h"

namespace kv::server {

namespace {

using Args = std::vector<std::string>;
using Values = ConfigValues;

bool OneArg(const Args& a, std::string* err) {
  if (a.size() != 1) {
    *err = "wrong number of arguments";
    return false;
  }
  return true;
}

// An integer directive; `parse` reads the text (plain integers, or memory
// sizes with units).
Config::Directive NumberDirective(const char* name, const char* def, bool mut, int64_t Values::*f,
                                  int64_t min, int64_t max,
                                  bool (*parse)(std::string_view, int64_t*),
                                  const char* parse_error) {
  return Config::Directive{
      name, def, mut,
      [f, min, max, parse, parse_error](Values* v, const Args& a, std::string* err) {
        if (!OneArg(a, err)) return false;
        int64_t n;
        if (!parse(a[0], &n)) {
          *err = parse_error;
          return false;
        }
        if (n < min || n > max) {
          *err = "argument must be between " + std::to_string(min) + " and " + std::to_string(max) +
                 " inclusive";
          return false;
        }
        v->*f = n;
        return true;
      },
      [f](const Values& v) { return std::to_string(v.*f); }};
}

Config::Directive IntDirective(const char* name, const char* def, bool mut, int64_t Values::*f,
                               int64_t min, int64_t max) {
  return NumberDirective(name, def, mut, f, min, max, util::ParseInt64,
                         "argument couldn't be parsed into an integer");
}

Config::Directive MemDirective(const char* name, const char* def, bool mut, int64_t Values::*f,
                               int64_t min, int64_t max) {
  return NumberDirective(name, def, mut, f, min, max, util::ParseMemory,
                         "argument must be a memory value");
}

Config::Directive BoolDirective(const char* name, const char* def, bool mut, bool Values::*f) {
  return Config::Directive{name, def, mut,
                           [f](Values* v, const Args& a, std::string* err) {
                             if (!OneArg(a, err)) return false;
                             if (util::EqualsIgnoreCase(a[0], "yes")) {
                               v->*f = true;
                             } else if (util::EqualsIgnoreCase(a[0], "no")) {
                               v->*f = false;
                             } else {
                               *err = "argument must be 'yes' or 'no'";
                               return false;
                             }
                             return true;
                           },
                           [f](const Values& v) { return std::string(v.*f ? "yes" : "no"); }};
}

Config::Directive StringDirective(const char* name, const char* def, bool mut,
                                  std::string Values::*f) {
  return Config::Directive{name, def, mut,
                           [f](Values* v, const Args& a, std::string* err) {
                             if (!OneArg(a, err)) return false;
                             v->*f = a[0];
                             return true;
                           },
                           [f](const Values& v) { return v.*f; }};
}

Config::Directive EnumDirective(const char* name, const char* def, bool mut, std::string Values::*f,
                                std::vector<std::string> choices) {
  return Config::Directive{name, def, mut,
                           [f, choices](Values* v, const Args& a, std::string* err) {
                             if (!OneArg(a, err)) return false;
                             std::string lower = a[0];
                             util::ToLowerAscii(&lower);
                             for (const std::string& c : choices) {
                               if (c == lower) {
                                 v->*f = c;
                                 return true;
                               }
                             }
                             *err = "argument(s) must be one of the following: ";
                             for (size_t i = 0; i < choices.size(); i++)
                               *err += (i ? ", " : "") + choices[i];
                             return false;
                           },
                           [f](const Values& v) { return v.*f; }};
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); i++) out += (i ? " " : "") + v[i];
  return out;
}

}  // namespace

Config::Config() {
  constexpr int64_t kMaxInt = INT32_MAX;
  directives_.push_back(IntDirective("port", "6379", false, &Values::port, 0, 65535));
  directives_.push_back(Directive{"bind", "127.0.0.1", false,
                                  [](Values* v, const Args& a, std::string* err) {
                                    if (a.empty()) {
                                      *err = "wrong number of arguments";
                                      return false;
                                    }
                                    v->bind = a;
                                    v->bind_explicit = true;
                                    return true;
                                  },
                                  [](const Values& v) { return Join(v.bind); }});
  directives_.push_back(BoolDirective("protected-mode", "yes", true, &Values::protected_mode));
  directives_.push_back(StringDirective("requirepass", "\"\"", true, &Values::requirepass));
  directives_.push_back(IntDirective("timeout", "0", true, &Values::timeout, 0, kMaxInt));
  directives_.push_back(
      IntDirective("tcp-backlog", "511", false, &Values::tcp_backlog, 0, kMaxInt));
  directives_.push_back(IntDirective("maxclients", "10000", true, &Values::maxclients, 1, 1000000));
  directives_.push_back(StringDirective("dir", "./data", false, &Values::dir));
  directives_.push_back(StringDirective("logfile", "\"\"", false, &Values::logfile));
  directives_.push_back(EnumDirective("loglevel", "notice", true, &Values::loglevel,
                                      {"debug", "verbose", "notice", "warning"}));
  directives_.push_back(IntDirective("hz", "10", true, &Values::hz, 1, 500));
  directives_.push_back(
      EnumDirective("storage", "lsm", false, &Values::storage, {"lsm", "memory"}));
  directives_.push_back(EnumDirective("appendfsync", "everysec", true, &Values::appendfsync,
                                      {"always", "everysec", "no"}));
  directives_.push_back(MemDirective("memtable-size", "64mb", false, &Values::memtable_size,
                                     64 * 1024, 4LL * 1024 * 1024 * 1024));
  directives_.push_back(
      MemDirective("block-size", "4kb", false, &Values::block_size, 512, 1024 * 1024));
  directives_.push_back(
      IntDirective("bloom-bits-per-key", "10", false, &Values::bloom_bits_per_key, 0, 40));
  directives_.push_back(
      EnumDirective("compression", "snappy", false, &Values::compression, {"snappy", "none"}));
  directives_.push_back(
      MemDirective("block-cache-size", "64mb", false, &Values::block_cache_size, 0, INT64_MAX));
  directives_.push_back(
      IntDirective("table-cache-size", "1000", false, &Values::table_cache_size, 1, 1000000));
  directives_.push_back(IntDirective("tombstone-gc-seconds", "86400", false,
                                     &Values::tombstone_gc_seconds, 0, INT64_MAX));
  directives_.push_back(IntDirective("cluster-port", "0", false, &Values::cluster_port, 0, 65535));
  directives_.push_back(StringDirective("cluster-secret", "\"\"", false, &Values::cluster_secret));
  directives_.push_back(StringDirective("cluster-name", "kv", false, &Values::cluster_name));
  directives_.push_back(StringDirective("cluster-zone", "\"\"", false, &Values::cluster_zone));
  directives_.push_back(
      IntDirective("cluster-weight", "1", false, &Values::cluster_weight, 1, 65535));
  directives_.push_back(
      IntDirective("cluster-partitions", "256", false, &Values::cluster_partitions, 1, 16384));
  directives_.push_back(
      StringDirective("cluster-announce-ip", "\"\"", false, &Values::cluster_announce_ip));
  directives_.push_back(
      IntDirective("gossip-interval-ms", "100", false, &Values::gossip_interval_ms, 10, 60000));
  directives_.push_back(
      IntDirective("node-timeout-ms", "5000", false, &Values::node_timeout_ms, 100, 3600000));
  directives_.push_back(
      IntDirective("request-timeout-ms", "5000", true, &Values::request_timeout_ms, 10, 3600000));
  directives_.push_back(
      IntDirective("transfer-limit", "2", false, &Values::transfer_limit, 1, 1024));
  directives_.push_back(MemDirective("transfer-batch-bytes", "1mb", false,
                                     &Values::transfer_batch_bytes, 1024, 64LL * 1024 * 1024));
  directives_.push_back(MemDirective("proto-max-bulk-len", "512mb", true,
                                     &Values::proto_max_bulk_len, 1024 * 1024, INT64_MAX));
  directives_.push_back(MemDirective("max-value-bytes", "1mb", true, &Values::max_value_bytes, 1,
                                     512LL * 1024 * 1024));
  directives_.push_back(MemDirective("client-query-buffer-limit", "1gb", true,
                                     &Values::client_query_buffer_limit, 1024 * 1024, INT64_MAX));
  directives_.push_back(MemDirective("client-output-backpressure-bytes", "1mb", true,
                                     &Values::client_output_backpressure_bytes, 1024, INT64_MAX));
  directives_.push_back(Directive{
      "client-output-buffer-limit", "normal 0 0 0", true,
      [](Values* v, const Args& a, std::string* err) {
        // Redis takes "<class> <hard> <soft> <seconds>" groups; kv has only
        // normal clients, so other classes are accepted and ignored.
        if (a.empty() || a.size() % 4 != 0) {
          *err = "wrong number of arguments";
          return false;
        }
        for (size_t i = 0; i < a.size(); i += 4) {
          std::string cls = a[i];
          util::ToLowerAscii(&cls);
          OutputBufferLimit l;
          if ((cls != "normal" && cls != "replica" && cls != "slave" && cls != "pubsub") ||
              !util::ParseMemory(a[i + 1], &l.hard_bytes) ||
              !util::ParseMemory(a[i + 2], &l.soft_bytes) ||
              !util::ParseInt64(a[i + 3], &l.soft_seconds) || l.hard_bytes < 0 ||
              l.soft_bytes < 0 || l.soft_seconds < 0) {
            *err = "Invalid argument";
            return false;
          }
          if (cls == "normal") v->client_output_buffer_limit = l;
        }
        return true;
      },
      [](const Values& v) {
        const OutputBufferLimit& l = v.client_output_buffer_limit;
        return "normal " + std::to_string(l.hard_bytes) + " " + std::to_string(l.soft_bytes) + " " +
               std::to_string(l.soft_seconds);
      }});
  directives_.push_back(
      IntDirective("active-expire-effort", "1", true, &Values::active_expire_effort, 1, 10));
}

const Config::Directive* Config::Find(std::string_view name) const {
  for (const Directive& d : directives_) {
    if (util::EqualsIgnoreCase(d.name, name)) return &d;
  }
  return nullptr;
}

bool Config::Apply(const std::string& name, const std::vector<std::string>& args,
                   std::string* err) {
  const Directive* d = Find(name);
  if (d == nullptr) {
    *err = "Bad directive or wrong number of arguments";
    return false;
  }
  return d->set(&values_, args, err);
}

util::Status Config::LoadText(std::string_view text, const std::string& origin) {
  size_t line_no = 0;
  size_t pos = 0;
  std::vector<std::string> words;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    line_no++;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
      line.remove_suffix(1);
    }
    if (line.empty() || line[0] == '#') continue;
    std::string where =
        origin + ", line " + std::to_string(line_no) + ": '" + std::string(line) + "': ";
    if (!util::SplitArgs(line, &words)) {
      return util::Status::InvalidArgument(where + "Unbalanced quotes in configuration line");
    }
    if (words.empty()) continue;
    std::string name = words[0];
    util::ToLowerAscii(&name);
    words.erase(words.begin());
    std::string err;
    if (!Apply(name, words, &err)) return util::Status::InvalidArgument(where + err);
  }
  return util::Status::OK();
}

util::Status Config::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return util::Status::IOError("Fatal error, can't open config file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  config_file_ = path;
  return LoadText(ss.str(), path);
}

util::Status Config::LoadArgs(const std::vector<std::string>& args) {
  // "--port 7000 --bind 127.0.0.1 ::1" -> one line per "--name".
  std::string name;
  std::vector<std::string> values;
  auto flush = [&]() -> util::Status {
    if (name.empty()) return util::Status::OK();
    std::string err;
    std::string lower = name;
    util::ToLowerAscii(&lower);
    if (!Apply(lower, values, &err)) {
      return util::Status::InvalidArgument("argument --" + name + ": " + err);
    }
    return util::Status::OK();
  };
  for (const std::string& a : args) {
    if (a.size() > 2 && a[0] == '-' && a[1] == '-') {
      util::Status s = flush();
      if (!s.ok()) return s;
      name = a.substr(2);
      values.clear();
    } else if (name.empty()) {
      return util::Status::InvalidArgument("unexpected argument '" + a + "'");
    } else {
      values.push_back(a);
    }
  }
  return flush();
}

bool Config::SetAtRuntime(std::string_view name, std::string_view value, std::string* err) {
  const Directive* d = Find(name);
  if (d == nullptr) {
    *err = "ERR Unknown option or number of arguments for CONFIG SET - '" + std::string(name) + "'";
    return false;
  }
  if (!d->mutable_at_runtime) {
    *err = "ERR CONFIG SET failed (possibly related to argument '" + std::string(name) +
           "') - can't set immutable config";
    return false;
  }
  std::vector<std::string> args;
  if (d->name == "client-output-buffer-limit" || d->name == "bind") {
    if (!util::SplitArgs(value, &args)) args.clear();
  } else {
    args.emplace_back(value);
  }
  std::string why;
  ConfigValues saved = values_;
  if (!d->set(&values_, args, &why)) {
    values_ = saved;
    *err =
        "ERR CONFIG SET failed (possibly related to argument '" + std::string(name) + "') - " + why;
    return false;
  }
  return true;
}

}  // namespace kv::server
