// requirepass: nothing but AUTH, HELLO ... AUTH and QUIT before
// authenticating, Redis's NOAUTH/WRONGPASS texts, and RESET dropping the
// authentication again.
#include <doctest/doctest.h>

#include <string>

#include "helpers/raw_connection.h"
#include "helpers/reply.h"
#include "helpers/run_process.h"
#include "helpers/server_process.h"

using namespace kv::test;

namespace {

const char* const kServer = "auth";

ServerProcess& Server() { return SharedServer(kServer, {"--requirepass", "secret"}); }

const Reply kOK = Status("OK");
const Reply kNoAuth = Error("NOAUTH Authentication required.");
const Reply kWrongPass = Error("WRONGPASS invalid username-password pair or user is disabled.");

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

TEST_CASE("with requirepass, commands before AUTH get NOAUTH") {
  Conn c = Server().Connect();
  REQUIRE(c->err == 0);
  CHECK(Call(c, {"PING"}) == kNoAuth);
  CHECK(Call(c, {"GET", "k"}) == kNoAuth);
  CHECK(Call(c, {"SET", "k", "v"}) == kNoAuth);
  CHECK(Call(c, {"FLUSHALL"}) == kNoAuth);
  CHECK(Call(c, {"AUTH", "secret"}) == kOK);
  CHECK(Call(c, {"GET", "k"}) == Nil());  // the SET before AUTH did nothing
}

TEST_CASE("a wrong password gets WRONGPASS; the right one OK") {
  Conn c = Server().Connect();
  CHECK(Call(c, {"AUTH", "wrong"}) == kWrongPass);
  CHECK(Call(c, {"PING"}) == kNoAuth);
  CHECK(Call(c, {"AUTH", "default", "wrong"}) == kWrongPass);
  CHECK(Call(c, {"AUTH", "nosuchuser", "secret"}) == kWrongPass);
  CHECK(Call(c, {"AUTH", "secret"}) == kOK);
  CHECK(Call(c, {"PING"}) == Status("PONG"));
  CHECK(Call(c, {"AUTH", "wrong"}) == kWrongPass);  // a failed re-AUTH...
  CHECK(Call(c, {"PING"}) == Status("PONG"));       // ...keeps the session
}

TEST_CASE("AUTH default <password> works") {
  Conn c = Server().Connect();
  CHECK(Call(c, {"AUTH", "default", "secret"}) == kOK);
  CHECK(Call(c, {"SET", "k", "v"}) == kOK);
  CHECK(Call(c, {"GET", "k"}) == Bulk("v"));
  CHECK(Call(c, {"DEL", "k"}) == Int(1));
}

TEST_CASE("HELLO 3 AUTH default <password> authenticates and switches to RESP3") {
  RawConnection raw(Server().port());
  REQUIRE(raw.ok());
  Reply noauth = raw.Call({"HELLO", "3"});
  CHECK(noauth.type == Reply::Type::kError);
  CHECK_MESSAGE(StartsWith(noauth.str, "NOAUTH "), noauth);
  CHECK(raw.Call({"HELLO", "3", "AUTH", "default", "wrong"}) == kWrongPass);
  CHECK(raw.Call({"PING"}) == kNoAuth);
  Reply hello = raw.Call({"HELLO", "3", "AUTH", "default", "secret"});
  REQUIRE_MESSAGE(hello.type == Reply::Type::kMap, hello);
  const Reply* proto = hello.Find("proto");
  REQUIRE(proto != nullptr);
  CHECK(*proto == Int(3));
  CHECK(raw.Call({"GET", "auth-missing"}).type == Reply::Type::kNull);
}

TEST_CASE("HELLO 2 AUTH works too") {
  RawConnection raw(Server().port());
  REQUIRE(raw.ok());
  Reply hello = raw.Call({"HELLO", "2", "AUTH", "default", "secret"});
  REQUIRE_MESSAGE(hello.type == Reply::Type::kArray, hello);
  CHECK(raw.Call({"PING"}) == Status("PONG"));
}

TEST_CASE("QUIT works before AUTH") {
  RawConnection raw(Server().port());
  REQUIRE(raw.ok());
  CHECK(raw.Call({"QUIT"}) == kOK);
  CHECK(raw.WaitClosed(5s));
}

TEST_CASE("RESET drops the authentication") {
  Conn c = Server().Connect();
  CHECK(Call(c, {"AUTH", "secret"}) == kOK);
  CHECK(Call(c, {"PING"}) == Status("PONG"));
  CHECK(Call(c, {"RESET"}) == Status("RESET"));
  CHECK(Call(c, {"PING"}) == kNoAuth);
}

TEST_CASE("redis-cli -a authenticates") {
  ProcessResult r = RunProcess({"redis-cli", "-p", std::to_string(Server().port()), "-a", "secret",
                                "--no-auth-warning", "ping"},
                               "", 30s);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "PONG\n");
}

TEST_CASE("auth: the shared server exits with status 0 on SIGTERM") {
  auto status = StopSharedServer(kServer);
  if (status) CHECK_MESSAGE((status->exited && status->code == 0), status->ToString());
}
