// Config: every directive kv-server understands, in one table, with its
// default, parser and printer. Sources, in order: built-in defaults, the
// config file (redis.conf syntax), then `--name value` arguments, then
// CONFIG SET at runtime for directives marked mutable. conf/kv.conf
// documents every entry of this table (a unit test keeps the two in step).
//
// Thread safety: loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace kv::server {

struct OutputBufferLimit {
  int64_t hard_bytes = 0;  // 0 = no limit
  int64_t soft_bytes = 0;
  int64_t soft_seconds = 0;
};

// The typed values. Field names follow the directive names.
struct ConfigValues {
  int64_t port = 6379;
  std::vector<std::string> bind = {"127.0.0.1"};
  bool bind_explicit = false;  // bind came from the file or the command line
  bool protected_mode = true;
  std::string requirepass;
  int64_t timeout = 0;
  int64_t tcp_backlog = 511;
  int64_t maxclients = 10000;
  std::string dir = "./data";
  std::string logfile;
  std::string loglevel = "notice";
  int64_t hz = 10;
  std::string storage = "lsm";
  std::string appendfsync = "everysec";
  int64_t memtable_size = 64LL * 1024 * 1024;
  int64_t block_size = 4096;
  int64_t bloom_bits_per_key = 10;
  std::string compression = "snappy";
  int64_t block_cache_size = 64LL * 1024 * 1024;
  int64_t table_cache_size = 1000;
  int64_t tombstone_gc_seconds = 86400;
  int64_t proto_max_bulk_len = 512LL * 1024 * 1024;
  int64_t max_value_bytes = 1024 * 1024;
  int64_t client_query_buffer_limit = 1024LL * 1024 * 1024;
  int64_t client_output_backpressure_bytes = 1024 * 1024;
  OutputBufferLimit client_output_buffer_limit;
  int64_t active_expire_effort = 1;
  int64_t cluster_port = 0;  // 0: port + 10000
  std::string cluster_secret;
  std::string cluster_name = "kv";
  std::string cluster_zone;
  int64_t cluster_weight = 1;
  int64_t cluster_partitions = 256;
  std::string cluster_announce_ip;
  int64_t gossip_interval_ms = 100;
  int64_t node_timeout_ms = 5000;
  int64_t request_timeout_ms = 5000;
  int64_t transfer_limit = 2;
  int64_t transfer_batch_bytes = 1 << 20;
};

class Config {
 public:
  struct Directive {
    std::string name;
    std::string default_text;
    bool mutable_at_runtime;
    // Parses args into values; error text (Redis wording) on failure.
    std::function<bool(ConfigValues*, const std::vector<std::string>&, std::string*)> set;
    std::function<std::string(const ConfigValues&)> get;
  };

  Config();

  const ConfigValues& values() const { return values_; }
  ConfigValues* mutable_values() { return &values_; }
  const std::vector<Directive>& directives() const { return directives_; }
  const Directive* Find(std::string_view name) const;

  // Loads a config file (redis.conf syntax). InvalidArgument with
  // "line N: ..." on the first bad line; IOError if unreadable.
  [[nodiscard]] util::Status LoadFile(const std::string& path);
  // Applies text in redis.conf syntax (used for the file and for argv).
  [[nodiscard]] util::Status LoadText(std::string_view text, const std::string& origin);
  // Applies `--name value ...` arguments (after an optional file name).
  [[nodiscard]] util::Status LoadArgs(const std::vector<std::string>& args);
  // CONFIG SET name value. Error text in *err (Redis's wording).
  bool SetAtRuntime(std::string_view name, std::string_view value, std::string* err);
  std::string Get(const Directive& d) const { return d.get(values_); }

  const std::string& config_file() const { return config_file_; }

 private:
  bool Apply(const std::string& name, const std::vector<std::string>& args, std::string* err);
  ConfigValues values_;
  std::vector<Directive> directives_;
  std::string config_file_;
};

}  // namespace kv::server
