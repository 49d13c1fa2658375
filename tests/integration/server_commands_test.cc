// Server and connection commands: PING ECHO QUIT RESET HELLO AUTH SELECT INFO
// TIME COMMAND CONFIG CLIENT READONLY READWRITE MULTI/EXEC/DISCARD, with the
// reply shapes client libraries depend on in their handshakes.
#include <doctest/doctest.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "helpers/raw_connection.h"
#include "helpers/reply.h"
#include "helpers/server_process.h"

using namespace kv::test;

namespace {

const char* const kServer = "server_commands";

ServerProcess& Server() { return SharedServer(kServer); }

const Reply kOK = Status("OK");
const Reply kQueued = Status("QUEUED");

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

bool IsDigits(const std::string& s) {
  if (s.empty()) return false;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return false;
  }
  return true;
}

// The value of `field` in an INFO text ("field:value\r\n"), or "" if absent.
std::string InfoField(const std::string& info, const std::string& field) {
  size_t pos = 0;
  while (pos < info.size()) {
    size_t end = info.find("\r\n", pos);
    if (end == std::string::npos) end = info.size();
    std::string line = info.substr(pos, end - pos);
    if (StartsWith(line, field + ":")) return line.substr(field.size() + 1);
    pos = end + 2;
  }
  return "";
}

// Checks the HELLO reply fields shared by RESP2 (flat array) and RESP3 (map).
void CheckHelloFields(const Reply& hello, long long proto) {
  std::set<std::string> keys;
  for (size_t i = 0; i + 1 < hello.size(); i += 2) keys.insert(hello[i].str);
  CHECK(keys ==
        std::set<std::string>{"server", "version", "proto", "id", "mode", "role", "modules"});
  const Reply* server = hello.Find("server");
  REQUIRE(server != nullptr);
  CHECK(server->type == Reply::Type::kBulk);
  CHECK(!server->str.empty());
  const Reply* version = hello.Find("version");
  REQUIRE(version != nullptr);
  CHECK(version->type == Reply::Type::kBulk);
  const Reply* p = hello.Find("proto");
  REQUIRE(p != nullptr);
  CHECK(*p == Int(proto));
  const Reply* id = hello.Find("id");
  REQUIRE(id != nullptr);
  CHECK(id->type == Reply::Type::kInteger);
  CHECK(id->integer > 0);
  const Reply* mode = hello.Find("mode");
  REQUIRE(mode != nullptr);
  CHECK(mode->type == Reply::Type::kBulk);
  const Reply* role = hello.Find("role");
  REQUIRE(role != nullptr);
  CHECK(*role == Bulk("master"));
  const Reply* modules = hello.Find("modules");
  REQUIRE(modules != nullptr);
  CHECK(modules->type == Reply::Type::kArray);
}

}  // namespace

TEST_CASE("PING and ECHO") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"PING"}) == Status("PONG"));
  CHECK(Call(c, {"ping", "hello world"}) == Bulk("hello world"));
  CHECK(Call(c, {"PING", "a", "b"}) == Error("ERR wrong number of arguments for 'ping' command"));
  CHECK(Call(c, {"ECHO", "hi"}) == Bulk("hi"));
  CHECK(Call(c, {"ECHO", ""}) == Bulk(""));
  CHECK(Call(c, {"ECHO"}) == Error("ERR wrong number of arguments for 'echo' command"));
  CHECK(Call(c, {"ECHO", "a", "b"}) == Error("ERR wrong number of arguments for 'echo' command"));
}

TEST_CASE("QUIT replies OK and closes the connection") {
  ServerProcess& server = Server();
  RawConnection raw(server.port());
  REQUIRE(raw.ok());
  CHECK(raw.Call({"QUIT"}) == kOK);
  CHECK(raw.WaitClosed(5s));
  Conn c = server.Connect();
  CHECK(Call(c, {"PING"}) == Status("PONG"));
}

TEST_CASE("HELLO 3 returns the full map; RESP3 replies follow") {
  RawConnection raw(Server().port());
  REQUIRE(raw.ok());
  Reply hello = raw.Call({"HELLO", "3"});
  REQUIRE_MESSAGE(hello.type == Reply::Type::kMap, hello);
  CHECK(hello.size() == 14);
  CheckHelloFields(hello, 3);
  Reply id = raw.Call({"CLIENT", "ID"});
  CHECK(id == *hello.Find("id"));
  // RESP3 null for a missing key, maps for CONFIG GET.
  CHECK(raw.Call({"GET", "hello-test-missing-key"}).type == Reply::Type::kNull);
  CHECK(raw.Call({"SET", "hello-test-key", "v"}) == kOK);
  CHECK(raw.Call({"GET", "hello-test-key"}) == Bulk("v"));
  CHECK(raw.Call({"DEL", "hello-test-key"}) == Int(1));
  CHECK(raw.Call({"PING"}) == Status("PONG"));
  // HELLO 2 switches back: a flat array, and nil as $-1.
  Reply hello2 = raw.Call({"HELLO", "2"});
  REQUIRE_MESSAGE(hello2.type == Reply::Type::kArray, hello2);
  CHECK(hello2.size() == 14);
  CheckHelloFields(hello2, 2);
  CHECK(raw.Call({"GET", "hello-test-missing-key"}) == Nil());
}

TEST_CASE("HELLO without a version reports the current protocol") {
  RawConnection raw(Server().port());
  REQUIRE(raw.ok());
  Reply hello = raw.Call({"HELLO"});
  REQUIRE_MESSAGE(hello.type == Reply::Type::kArray, hello);
  CheckHelloFields(hello, 2);
}

TEST_CASE("HELLO with an unsupported version is NOPROTO; junk is an error") {
  RawConnection raw(Server().port());
  REQUIRE(raw.ok());
  Reply r = raw.Call({"HELLO", "4"});
  CHECK(r.type == Reply::Type::kError);
  CHECK_MESSAGE(StartsWith(r.str, "NOPROTO"), r);
  CHECK(r == Error("NOPROTO unsupported protocol version"));
  CHECK(raw.Call({"HELLO", "1"}) == Error("NOPROTO unsupported protocol version"));
  CHECK(raw.Call({"HELLO", "abc"}) ==
        Error("ERR Protocol version is not an integer or out of range"));
  // The connection stays on RESP2.
  CHECK(raw.Call({"GET", "missing"}) == Nil());
}

TEST_CASE("HELLO 3 SETNAME names the connection") {
  RawConnection raw(Server().port());
  REQUIRE(raw.ok());
  Reply hello = raw.Call({"HELLO", "3", "SETNAME", "handshake-name"});
  REQUIRE_MESSAGE(hello.type == Reply::Type::kMap, hello);
  CHECK(raw.Call({"CLIENT", "GETNAME"}) == Bulk("handshake-name"));
}

TEST_CASE("AUTH without a configured password is an error") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"AUTH", "foo"}) ==
        Error("ERR AUTH <password> called without any password configured for the default "
              "user. Are you sure your configuration is correct?"));
  CHECK(Call(c, {"PING"}) == Status("PONG"));
}

TEST_CASE("RESET returns RESET and restores the connection's defaults") {
  RawConnection raw(Server().port());
  REQUIRE(raw.ok());
  REQUIRE(raw.Call({"HELLO", "3"}).type == Reply::Type::kMap);
  CHECK(raw.Call({"CLIENT", "SETNAME", "before-reset"}) == kOK);
  CHECK(raw.Call({"MULTI"}) == kOK);
  CHECK(raw.Call({"RESET"}) == Status("RESET"));
  CHECK(raw.Call({"CLIENT", "GETNAME"}) == Nil());  // RESP2 nil: protocol is 2 again
  CHECK(raw.Call({"EXEC"}) == Error("ERR EXEC without MULTI"));
}

TEST_CASE("SELECT 0 works; other databases do not exist") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"SELECT", "0"}) == kOK);
  Reply r = Call(c, {"SELECT", "1"});
  CHECK(r.type == Reply::Type::kError);
  CHECK(r == Error("ERR DB index is out of range"));
  CHECK(Call(c, {"SELECT", "abc"}) == Error("ERR value is not an integer or out of range"));
  CHECK(Call(c, {"SET", "k", "v"}) == kOK);
  CHECK(Call(c, {"GET", "k"}) == Bulk("v"));
}

TEST_CASE("INFO has a Server section with redis_version") {
  Conn c = ConnectFlushed(Server());
  Reply info = Call(c, {"INFO"});
  REQUIRE_MESSAGE(info.type == Reply::Type::kBulk, info);
  CHECK(Contains(info.str, "# Server\r\n"));
  std::string version = InfoField(info.str, "redis_version");
  CHECK_MESSAGE(StartsWith(version, "7."), version);
  CHECK(Contains(info.str, "# Keyspace\r\n"));
  if (!Server().is_redis()) {
    CHECK_MESSAGE(!InfoField(info.str, "kv_version").empty(), "INFO has no kv_version");
  }

  Reply server = Call(c, {"INFO", "server"});
  REQUIRE_MESSAGE(server.type == Reply::Type::kBulk, server);
  CHECK(StartsWith(server.str, "# Server\r\n"));
  CHECK(!InfoField(server.str, "redis_version").empty());
  CHECK(!Contains(server.str, "# Keyspace"));
  if (!Server().is_redis()) CHECK(!InfoField(server.str, "kv_version").empty());
  // Section names are case-insensitive.
  Reply upper = Call(c, {"INFO", "SERVER"});
  CHECK(StartsWith(upper.str, "# Server\r\n"));
}

TEST_CASE("INFO keyspace counts keys and keys with a TTL") {
  Conn c = ConnectFlushed(Server());
  Reply empty = Call(c, {"INFO", "keyspace"});
  REQUIRE_MESSAGE(empty.type == Reply::Type::kBulk, empty);
  CHECK(StartsWith(empty.str, "# Keyspace\r\n"));
  CHECK(!Contains(empty.str, "db0:"));
  CHECK(Call(c, {"SET", "a", "1"}) == kOK);
  CHECK(Call(c, {"SET", "b", "1", "EX", "100"}) == kOK);
  Reply ks = Call(c, {"INFO", "keyspace"});
  CHECK_MESSAGE(StartsWith(InfoField(ks.str, "db0"), "keys=2,expires=1,"), ks);
}

TEST_CASE("TIME returns seconds and microseconds as bulk strings") {
  Conn c = ConnectFlushed(Server());
  Reply t = Call(c, {"TIME"});
  REQUIRE_MESSAGE(t.type == Reply::Type::kArray, t);
  REQUIRE(t.size() == 2);
  CHECK(t[0].type == Reply::Type::kBulk);
  CHECK(t[1].type == Reply::Type::kBulk);
  REQUIRE(IsDigits(t[0].str));
  REQUIRE(IsDigits(t[1].str));
  long long now = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  CHECK(std::llabs(std::stoll(t[0].str) - now) <= 5);
  CHECK(std::stoll(t[1].str) < 1000000);
  CHECK(Call(c, {"TIME", "x"}) == Error("ERR wrong number of arguments for 'time' command"));
}

TEST_CASE("COMMAND COUNT and COMMAND agree; entries have Redis's shape") {
  Conn c = ConnectFlushed(Server());
  Reply count = Call(c, {"COMMAND", "COUNT"});
  REQUIRE_MESSAGE(count.type == Reply::Type::kInteger, count);
  CHECK(count.integer > 0);
  Reply all = Call(c, {"COMMAND"});
  REQUIRE_MESSAGE(all.type == Reply::Type::kArray, all.type);
  CHECK(static_cast<long long>(all.size()) == count.integer);
  std::set<std::string> names;
  for (const Reply& e : all.elements) {
    REQUIRE(e.type == Reply::Type::kArray);
    REQUIRE(e.size() >= 6);
    CHECK(e[0].type == Reply::Type::kBulk);
    CHECK(e[1].type == Reply::Type::kInteger);
    CHECK(e[2].type == Reply::Type::kArray);
    CHECK(e[3].type == Reply::Type::kInteger);
    CHECK(e[4].type == Reply::Type::kInteger);
    CHECK(e[5].type == Reply::Type::kInteger);
    names.insert(e[0].str);
  }
  for (const char* name : {"get", "set", "ping", "hello", "info", "scan", "incrbyfloat", "exec"}) {
    CHECK_MESSAGE(names.count(name) == 1, name);
  }
}

TEST_CASE("COMMAND INFO get") {
  Conn c = ConnectFlushed(Server());
  Reply r = Call(c, {"COMMAND", "INFO", "get", "nosuchcommand"});
  REQUIRE_MESSAGE(r.type == Reply::Type::kArray, r);
  REQUIRE(r.size() == 2);
  const Reply& get = r[0];
  REQUIRE_MESSAGE(get.type == Reply::Type::kArray, get);
  REQUIRE(get.size() >= 6);
  CHECK(get[0] == Bulk("get"));
  CHECK(get[1] == Int(2));
  REQUIRE(get[2].type == Reply::Type::kArray);
  std::set<std::string> flags;
  for (const Reply& f : get[2].elements) {
    CHECK(f.type == Reply::Type::kStatus);
    flags.insert(f.str);
  }
  CHECK(flags.count("readonly") == 1);
  CHECK(get[3] == Int(1));
  CHECK(get[4] == Int(1));
  CHECK(get[5] == Int(1));
  CHECK(r[1] == Nil());

  Reply set = Call(c, {"COMMAND", "INFO", "SET"});
  REQUIRE(set.type == Reply::Type::kArray);
  REQUIRE(set.size() == 1);
  REQUIRE(set[0].type == Reply::Type::kArray);
  CHECK(set[0][0] == Bulk("set"));
  CHECK(set[0][1] == Int(-3));
}

TEST_CASE("COMMAND DOCS get has Redis's shape (or is an error)") {
  // Redis's docs nest deeper than hiredis 0.14 can parse (7 levels).
  RawConnection c(Server().port());
  REQUIRE(c.ok());
  Reply r = c.Call({"COMMAND", "DOCS", "get"});
  if (r.type == Reply::Type::kError) {
    MESSAGE("COMMAND DOCS is an error: " << r);
    return;
  }
  REQUIRE_MESSAGE(r.type == Reply::Type::kArray, r);
  REQUIRE(r.size() == 2);
  CHECK(r[0] == Bulk("get"));
  const Reply& doc = r[1];
  REQUIRE_MESSAGE(doc.type == Reply::Type::kArray, doc);
  CHECK(doc.size() % 2 == 0);
  for (size_t i = 0; i < doc.size(); i += 2) CHECK(doc[i].type == Reply::Type::kBulk);
  const Reply* summary = doc.Find("summary");
  if (summary != nullptr) CHECK(summary->type == Reply::Type::kBulk);

  Reply none = c.Call({"COMMAND", "DOCS", "nosuchcommand"});
  CHECK(none == Array({}));
  Reply all = c.Call({"COMMAND", "DOCS"});
  REQUIRE(all.type == Reply::Type::kArray);
  CHECK(all.size() % 2 == 0);
  for (size_t i = 0; i + 1 < all.size(); i += 2) {
    CHECK(all[i].type == Reply::Type::kBulk);
    CHECK(all[i + 1].type == Reply::Type::kArray);
  }
}

TEST_CASE("CONFIG GET always returns an array of name/value pairs") {
  Conn c = ConnectFlushed(Server());
  Reply mm = Call(c, {"CONFIG", "GET", "maxmemory"});
  REQUIRE_MESSAGE(mm.type == Reply::Type::kArray, mm);
  REQUIRE(mm.size() == 2);
  CHECK(mm[0] == Bulk("maxmemory"));
  CHECK(mm[1].type == Reply::Type::kBulk);
  CHECK(IsDigits(mm[1].str));
  CHECK(Call(c, {"CONFIG", "GET", "nonexistent"}) == Array({}));
  CHECK(Call(c, {"CONFIG", "GET", "nonexistent*"}) == Array({}));
  Reply star = Call(c, {"CONFIG", "GET", "*"});
  REQUIRE(star.type == Reply::Type::kArray);
  CHECK(star.size() >= 2);
  CHECK(star.size() % 2 == 0);
  CHECK(star.Find("maxmemory") != nullptr);
  CHECK(star.Find("port") != nullptr);
  Reply pattern = Call(c, {"CONFIG", "GET", "maxmem*"});
  REQUIRE(pattern.type == Reply::Type::kArray);
  CHECK(pattern.Find("maxmemory") != nullptr);
  CHECK(Call(c, {"CONFIG", "GET", "port"}) == BulkArray({"port", std::to_string(Server().port())}));
  CHECK(Call(c, {"CONFIG", "GET"}) ==
        Error("ERR wrong number of arguments for 'config|get' command"));
}

TEST_CASE("CONFIG SET then GET round trips; RESETSTAT is OK") {
  Conn c = ConnectFlushed(Server());
  Reply before = Call(c, {"CONFIG", "GET", "timeout"});
  REQUIRE_MESSAGE(before.size() == 2, before);
  CHECK(Call(c, {"CONFIG", "SET", "timeout", "300"}) == kOK);
  CHECK(Call(c, {"CONFIG", "GET", "timeout"}) == BulkArray({"timeout", "300"}));
  CHECK(Call(c, {"config", "set", "TIMEOUT", before[1].str}) == kOK);  // case-insensitive
  CHECK(Call(c, {"CONFIG", "GET", "timeout"}) == before);
  Reply bad = Call(c, {"CONFIG", "SET", "no-such-directive", "1"});
  CHECK(bad.type == Reply::Type::kError);
  CHECK_MESSAGE(StartsWith(bad.str, "ERR "), bad);
  Reply bad_value = Call(c, {"CONFIG", "SET", "timeout", "not-a-number"});
  CHECK(bad_value.type == Reply::Type::kError);
  CHECK(Call(c, {"CONFIG", "GET", "timeout"}) == before);
  CHECK(Call(c, {"CONFIG", "RESETSTAT"}) == kOK);
  CHECK(Call(c, {"SET", "k", "v"}) == kOK);  // still serving
}

TEST_CASE("CLIENT SETNAME GETNAME ID") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"CLIENT", "GETNAME"}) == Nil());
  CHECK(Call(c, {"CLIENT", "SETNAME", "my-conn"}) == kOK);
  CHECK(Call(c, {"CLIENT", "GETNAME"}) == Bulk("my-conn"));
  CHECK(Call(c, {"CLIENT", "SETNAME", "a b"}) ==
        Error("ERR Client names cannot contain spaces, newlines or special characters."));
  CHECK(Call(c, {"CLIENT", "GETNAME"}) == Bulk("my-conn"));
  CHECK(Call(c, {"CLIENT", "SETNAME", ""}) == kOK);
  CHECK(Call(c, {"CLIENT", "GETNAME"}) == Nil());
  Reply id1 = Call(c, {"CLIENT", "ID"});
  REQUIRE(id1.type == Reply::Type::kInteger);
  CHECK(id1.integer > 0);
  CHECK(Call(c, {"CLIENT", "ID"}) == id1);
  Conn other = Server().Connect();
  Reply id2 = Call(other, {"CLIENT", "ID"});
  REQUIRE(id2.type == Reply::Type::kInteger);
  CHECK(id2.integer > id1.integer);
  CHECK(Call(c, {"CLIENT", "NOSUCH"}) ==
        Error("ERR unknown subcommand 'NOSUCH'. Try CLIENT HELP."));
}

TEST_CASE("CLIENT LIST and CLIENT INFO describe connections") {
  Conn c = ConnectFlushed(Server());
  Conn other = Server().Connect();
  CHECK(Call(other, {"CLIENT", "SETNAME", "the-other"}) == kOK);
  long long my_id = CallInt(c, {"CLIENT", "ID"});
  long long other_id = CallInt(other, {"CLIENT", "ID"});

  Reply info = Call(c, {"CLIENT", "INFO"});
  REQUIRE_MESSAGE(info.type == Reply::Type::kBulk, info);
  CHECK(StartsWith(info.str, "id=" + std::to_string(my_id) + " "));
  CHECK(info.str.back() == '\n');
  CHECK(info.str.find('\n') == info.str.size() - 1);  // one line
  CHECK(Contains(info.str, " addr=127.0.0.1:"));
  CHECK(Contains(info.str, " name= "));

  Reply list = Call(c, {"CLIENT", "LIST"});
  REQUIRE_MESSAGE(list.type == Reply::Type::kBulk, list);
  CHECK(list.str.back() == '\n');
  CHECK(Contains(list.str, "id=" + std::to_string(my_id) + " "));
  CHECK(Contains(list.str, "id=" + std::to_string(other_id) + " "));
  CHECK(Contains(list.str, " name=the-other "));
}

TEST_CASE("CLIENT KILL ID closes that connection") {
  Conn c = ConnectFlushed(Server());
  Conn victim = Server().Connect();
  long long victim_id = CallInt(victim, {"CLIENT", "ID"});
  REQUIRE(victim_id > 0);
  CHECK(Call(c, {"CLIENT", "KILL", "ID", std::to_string(victim_id)}) == Int(1));
  CHECK(Call(victim, {"PING"}).type == Reply::Type::kIoError);
  CHECK(Call(c, {"CLIENT", "KILL", "ID", std::to_string(victim_id)}) == Int(0));
  CHECK(Call(c, {"CLIENT", "KILL", "ID", "999999999"}) == Int(0));
  CHECK(Call(c, {"PING"}) == Status("PONG"));
  Reply list = Call(c, {"CLIENT", "LIST"});
  CHECK(!Contains(list.str, "id=" + std::to_string(victim_id) + " "));
}

TEST_CASE("CLIENT SETINFO is accepted (kv)") {
  if (Server().is_redis()) return;  // Redis 7.0 has no CLIENT SETINFO (7.2 does)
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"CLIENT", "SETINFO", "lib-name", "redis-py"}) == kOK);
  CHECK(Call(c, {"CLIENT", "SETINFO", "lib-ver", "5.0.1"}) == kOK);
}

TEST_CASE("READONLY and READWRITE reply OK (kv)") {
  if (Server().is_redis()) return;  // Redis without cluster mode refuses them
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"READONLY"}) == kOK);
  CHECK(Call(c, {"READWRITE"}) == kOK);
  CHECK(Call(c, {"SET", "k", "v"}) == kOK);
}

TEST_CASE("MULTI queues commands and EXEC runs them in order") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"MULTI"}) == kOK);
  CHECK(Call(c, {"SET", "k", "1"}) == kQueued);
  CHECK(Call(c, {"INCR", "k"}) == kQueued);
  CHECK(Call(c, {"GET", "k"}) == kQueued);
  CHECK(Call(c, {"GET", "missing"}) == kQueued);
  CHECK(Call(c, {"PING"}) == kQueued);
  CHECK(Call(c, {"EXEC"}) == Array({kOK, Int(2), Bulk("2"), Nil(), Status("PONG")}));
  CHECK(Call(c, {"GET", "k"}) == Bulk("2"));
  // An empty transaction.
  CHECK(Call(c, {"MULTI"}) == kOK);
  CHECK(Call(c, {"EXEC"}) == Array({}));
}

TEST_CASE("a runtime error inside EXEC does not stop the other commands") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"SET", "s", "abc"}) == kOK);
  CHECK(Call(c, {"MULTI"}) == kOK);
  CHECK(Call(c, {"INCR", "s"}) == kQueued);
  CHECK(Call(c, {"SET", "t", "1"}) == kQueued);
  CHECK(Call(c, {"EXEC"}) == Array({Error("ERR value is not an integer or out of range"), kOK}));
  CHECK(Call(c, {"GET", "t"}) == Bulk("1"));
}

TEST_CASE("DISCARD drops the queue") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"MULTI"}) == kOK);
  CHECK(Call(c, {"SET", "k", "v"}) == kQueued);
  CHECK(Call(c, {"DISCARD"}) == kOK);
  CHECK(Call(c, {"GET", "k"}) == Nil());
  CHECK(Call(c, {"DISCARD"}) == Error("ERR DISCARD without MULTI"));
}

TEST_CASE("an unknown command or wrong arity inside MULTI aborts EXEC") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"MULTI"}) == kOK);
  CHECK(Call(c, {"SET", "k", "v"}) == kQueued);
  CHECK(Call(c, {"NOSUCHCMD", "x"}) ==
        Error("ERR unknown command 'NOSUCHCMD', with args beginning with: 'x' "));
  CHECK(Call(c, {"EXEC"}) == Error("EXECABORT Transaction discarded because of previous errors."));
  CHECK(Call(c, {"GET", "k"}) == Nil());

  CHECK(Call(c, {"MULTI"}) == kOK);
  CHECK(Call(c, {"SET", "k", "v"}) == kQueued);
  CHECK(Call(c, {"GET"}) == Error("ERR wrong number of arguments for 'get' command"));
  Reply exec = Call(c, {"EXEC"});
  CHECK(exec.type == Reply::Type::kError);
  CHECK_MESSAGE(StartsWith(exec.str, "EXECABORT"), exec);
  CHECK(Call(c, {"EXISTS", "k"}) == Int(0));
  CHECK(Call(c, {"EXEC"}) == Error("ERR EXEC without MULTI"));  // state was cleared
}

TEST_CASE("MULTI cannot nest; EXEC and DISCARD need MULTI") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"EXEC"}) == Error("ERR EXEC without MULTI"));
  CHECK(Call(c, {"MULTI"}) == kOK);
  CHECK(Call(c, {"MULTI"}) == Error("ERR MULTI calls can not be nested"));
  CHECK(Call(c, {"SET", "k", "v"}) == kQueued);
  CHECK(Call(c, {"EXEC"}) == Array({kOK}));  // the nested MULTI did not abort it
}

TEST_CASE("other clients are served while one is inside MULTI") {
  Conn c = ConnectFlushed(Server());
  Conn other = Server().Connect();
  CHECK(Call(c, {"MULTI"}) == kOK);
  CHECK(Call(c, {"SET", "k", "from-multi"}) == kQueued);
  CHECK(Call(other, {"SET", "k", "from-other"}) == kOK);
  CHECK(Call(other, {"GET", "k"}) == Bulk("from-other"));
  CHECK(Call(c, {"EXEC"}) == Array({kOK}));
  CHECK(Call(other, {"GET", "k"}) == Bulk("from-multi"));
}

TEST_CASE("server_commands: the shared server exits with status 0 on SIGTERM") {
  auto status = StopSharedServer(kServer);
  if (status) CHECK_MESSAGE((status->exited && status->code == 0), status->ToString());
}
