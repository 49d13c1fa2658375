// The real clients users will point at kv: redis-cli (arguments, stdin,
// --pipe mass insert, --scan, -3), redis-benchmark, and redis-py.
#include <doctest/doctest.h>

#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "helpers/raw_connection.h"
#include "helpers/reply.h"
#include "helpers/run_process.h"
#include "helpers/server_process.h"

#ifndef KV_SOURCE_DIR
#error "KV_SOURCE_DIR must be defined (the repository root)"
#endif

using namespace kv::test;

namespace {

const char* const kServer = "clients";

ServerProcess& Server() { return SharedServer(kServer); }

std::vector<std::string> Cli(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"redis-cli", "-p", std::to_string(Server().port())};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// Splits on \n and \r (redis-benchmark -q redraws lines with \r).
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::string line;
  for (char ch : text) {
    if (ch == '\n' || ch == '\r') {
      if (!line.empty()) lines.push_back(line);
      line.clear();
    } else {
      line.push_back(ch);
    }
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::string Describe(const ProcessResult& r) {
  std::ostringstream os;
  os << "exit " << r.exit_code << " signal " << r.signal << (r.timed_out ? " TIMED OUT" : "")
     << "\n--- stdout ---\n"
     << r.out.substr(0, 4000) << "\n--- stderr ---\n"
     << r.err.substr(0, 4000);
  return os.str();
}

// Debian's python3 has python3-redis; a python3 earlier in PATH (pyenv, a
// venv) may not.
std::string Python() {
  if (IsExecutable("/usr/bin/python3")) return "/usr/bin/python3";
  return "python3";
}

}  // namespace

TEST_CASE("redis-cli: SET then GET round trip") {
  Conn c = ConnectFlushed(Server());
  ProcessResult set = RunProcess(Cli({"set", "cli-key", "cli value"}), "", 30s);
  CHECK_MESSAGE(set.exit_code == 0, Describe(set));
  CHECK(set.out == "OK\n");
  ProcessResult get = RunProcess(Cli({"get", "cli-key"}), "", 30s);
  CHECK_MESSAGE(get.exit_code == 0, Describe(get));
  CHECK(get.out == "cli value\n");
  CHECK(Call(c, {"GET", "cli-key"}) == Bulk("cli value"));
  ProcessResult incr = RunProcess(Cli({"incr", "cli-n"}), "", 30s);
  CHECK(incr.out == "1\n");
  ProcessResult missing = RunProcess(Cli({"get", "cli-missing"}), "", 30s);
  CHECK(missing.exit_code == 0);
  CHECK(missing.out == "\n");
  ProcessResult err = RunProcess(Cli({"nosuchcmd", "x"}), "", 30s);
  CHECK(Contains(err.out, "ERR unknown command 'nosuchcmd'"));
}

TEST_CASE("redis-cli: commands from stdin (non-tty mode)") {
  Conn c = ConnectFlushed(Server());
  ProcessResult r = RunProcess(Cli({}), "set a b\n", 30s);
  CHECK_MESSAGE(r.exit_code == 0, Describe(r));
  CHECK(r.out == "OK\n");
  CHECK(Call(c, {"GET", "a"}) == Bulk("b"));
  r = RunProcess(Cli({}), "set x 1\nincr x\nget x\nget a\n", 30s);
  CHECK_MESSAGE(r.exit_code == 0, Describe(r));
  CHECK(r.out == "OK\n2\n2\nb\n");
}

TEST_CASE("redis-cli -3 speaks RESP3 through HELLO 3") {
  Conn c = ConnectFlushed(Server());
  REQUIRE(Call(c, {"SET", "r3", "v3"}) == Status("OK"));
  ProcessResult r = RunProcess(Cli({"-3", "get", "r3"}), "", 30s);
  CHECK_MESSAGE(r.exit_code == 0, Describe(r));
  CHECK(r.out == "v3\n");
  r = RunProcess(Cli({"-3", "ping"}), "", 30s);
  CHECK(r.out == "PONG\n");
}

TEST_CASE("redis-cli --scan --pattern lists the matching keys") {
  Conn c = ConnectFlushed(Server());
  std::set<std::string> want;
  for (int i = 0; i < 300; ++i) {
    REQUIRE(Call(c, {"SET", "scan:" + std::to_string(i), "v"}) == Status("OK"));
    REQUIRE(Call(c, {"SET", "other:" + std::to_string(i), "v"}) == Status("OK"));
    want.insert("scan:" + std::to_string(i));
  }
  ProcessResult r = RunProcess(Cli({"--scan", "--pattern", "scan:*"}), "", 30s);
  CHECK_MESSAGE(r.exit_code == 0, Describe(r));
  std::vector<std::string> lines = Lines(r.out);
  CHECK(std::set<std::string>(lines.begin(), lines.end()) == want);
}

TEST_CASE("redis-cli info server shows redis_version") {
  ProcessResult r = RunProcess(Cli({"info", "server"}), "", 30s);
  CHECK_MESSAGE(r.exit_code == 0, Describe(r));
  CHECK(Contains(r.out, "redis_version:"));
}

TEST_CASE("redis-cli --pipe mass-inserts 10,000 SETs") {
  Conn c = ConnectFlushed(Server());
  std::string input;
  for (int i = 0; i < 10000; ++i) {
    input += EncodeCommand({"SET", "mass:" + std::to_string(i), "value-" + std::to_string(i)});
  }
  ProcessResult r = RunProcess(Cli({"--pipe"}), input, 60s);
  CHECK_MESSAGE(r.exit_code == 0, Describe(r));
  CHECK_MESSAGE(Contains(r.out, "errors: 0, replies: 10000"), Describe(r));
  CHECK(Call(c, {"DBSIZE"}) == Int(10000));
  CHECK(Call(c, {"GET", "mass:9999"}) == Bulk("value-9999"));
  CHECK(Call(c, {"GET", "mass:0"}) == Bulk("value-0"));
}

TEST_CASE("redis-benchmark smoke run: every test completes without errors") {
  ConnectFlushed(Server());
  ProcessResult r = RunProcess({"redis-benchmark", "-p", std::to_string(Server().port()), "-t",
                                "ping,set,get,incr,mset", "-n", "10000", "-q"},
                               "", 120s);
  CHECK_MESSAGE(r.exit_code == 0, Describe(r));
  for (const std::string& line : Lines(r.out + "\n" + r.err)) {
    CHECK_MESSAGE(!Contains(line, "ERR"), line);
    CHECK_MESSAGE(!Contains(line, "error"), line);
  }
  for (const char* test :
       {"PING_INLINE: ", "PING_MBULK: ", "SET: ", "GET: ", "INCR: ", "MSET (10 keys): "}) {
    bool done = false;
    for (const std::string& line : Lines(r.out)) {
      done = done || (line.rfind(test, 0) == 0 && Contains(line, "requests per second"));
    }
    CHECK_MESSAGE(done, "no result line for " << test << "\n" << Describe(r));
  }
}

TEST_CASE("redis-py: SET/GET, pipelines, MULTI/EXEC, scan_iter, RESP3 if supported") {
  const std::string script = std::string(KV_SOURCE_DIR) + "/tests/integration/redis_py_client.py";
  ProcessResult r = RunProcess({Python(), script, std::to_string(Server().port())}, "", 60s);
  CHECK_MESSAGE(r.exit_code == 0, Describe(r));
  MESSAGE(r.out);
}

TEST_CASE("clients: the shared server exits with status 0 on SIGTERM") {
  auto status = StopSharedServer(kServer);
  if (status) CHECK_MESSAGE((status->exited && status->code == 0), status->ToString());
}
