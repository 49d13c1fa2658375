#include "server/config.h"

#include <doctest/doctest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "util/split_args.h"

using kv::server::Config;

namespace {
std::string ReadConf() {
  std::ifstream in(std::string(KV_SOURCE_DIR) + "/conf/kv.conf");
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

TEST_CASE("conf/kv.conf documents exactly the directives the code knows, with their defaults") {
  std::string text = ReadConf();
  std::set<std::string> in_file;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> words;
    REQUIRE(kv::util::SplitArgs(line, &words));
    if (words.empty()) continue;
    CHECK_MESSAGE(in_file.insert(words[0]).second, "directive listed twice: " << words[0]);
  }
  Config defaults;
  std::set<std::string> in_code;
  for (const auto& d : defaults.directives()) in_code.insert(d.name);
  for (const std::string& name : in_code) {
    CHECK_MESSAGE(in_file.count(name) == 1, "directive missing from conf/kv.conf: " << name);
  }
  for (const std::string& name : in_file) {
    CHECK_MESSAGE(in_code.count(name) == 1, "conf/kv.conf lists an unknown directive: " << name);
  }
  // The file shows the defaults: loading it changes nothing.
  Config loaded;
  REQUIRE(loaded.LoadText(text, "kv.conf").ok());
  for (const auto& d : defaults.directives()) {
    CHECK_MESSAGE(loaded.Get(*loaded.Find(d.name)) == defaults.Get(d),
                  "conf/kv.conf value differs from the default for " << d.name);
  }
}

TEST_CASE("config text, arguments and CONFIG SET parse Redis syntax and reject bad values") {
  Config c;
  REQUIRE(
      c.LoadText("port 7000\n# comment\n  bind 127.0.0.1 -::1\nrequirepass \"a b\"\n", "t").ok());
  CHECK(c.values().port == 7000);
  CHECK(c.values().bind.size() == 2);
  CHECK(c.values().bind_explicit);
  CHECK(c.values().requirepass == "a b");
  CHECK(c.LoadArgs({"--port", "7001", "--max-value-bytes", "2mb"}).ok());
  CHECK(c.values().port == 7001);
  CHECK(c.values().max_value_bytes == 2 * 1024 * 1024);

  kv::util::Status s = c.LoadText("port 99999\n", "t");
  CHECK(s.IsInvalidArgument());
  CHECK(s.message().find("line 1") != std::string::npos);
  CHECK(c.LoadText("nosuchthing 1\n", "t").IsInvalidArgument());
  CHECK(c.LoadText("protected-mode maybe\n", "t").IsInvalidArgument());
  CHECK(c.LoadText("requirepass \"unbalanced\n", "t").IsInvalidArgument());
  CHECK(c.LoadArgs({"stray"}).IsInvalidArgument());

  std::string err;
  CHECK(c.SetAtRuntime("timeout", "30", &err));
  CHECK(c.values().timeout == 30);
  CHECK_FALSE(c.SetAtRuntime("port", "1", &err));
  CHECK(err.find("immutable") != std::string::npos);
  CHECK_FALSE(c.SetAtRuntime("timeout", "-1", &err));
  CHECK(c.values().timeout == 30);
  CHECK_FALSE(c.SetAtRuntime("nope", "1", &err));
  CHECK(err == "ERR Unknown option or number of arguments for CONFIG SET - 'nope'");
  CHECK(c.SetAtRuntime("client-output-buffer-limit", "normal 10mb 5mb 60", &err));
  CHECK(c.values().client_output_buffer_limit.hard_bytes == 10 * 1024 * 1024);
  CHECK(c.Get(*c.Find("client-output-buffer-limit")) == "normal 10485760 5242880 60");
}
