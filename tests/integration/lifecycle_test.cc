// Connection limits and the server's life: maxclients, the idle timeout,
// SHUTDOWN, SIGTERM. Each case starts its own server with its own settings.
#include <doctest/doctest.h>

#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "helpers/raw_connection.h"
#include "helpers/reply.h"
#include "helpers/server_process.h"

using namespace kv::test;

namespace {

const Reply kPong = Status("PONG");

// Number of lines in CLIENT LIST, i.e. connected clients as the server sees
// them.
int ClientCount(RawConnection& conn) {
  Reply list = conn.Call({"CLIENT", "LIST"});
  int lines = 0;
  for (char ch : list.str) lines += ch == '\n';
  return lines;
}

}  // namespace

TEST_CASE("maxclients 2: the third connection gets an error and is closed") {
  ServerProcess server({"--maxclients", "2"});
  RawConnection first(server.port());
  REQUIRE(first.ok());
  REQUIRE(first.Call({"PING"}) == kPong);
  // The start-up PING connection may not be reaped yet.
  REQUIRE(WaitFor([&] { return ClientCount(first) == 1; }, 5s));
  RawConnection second(server.port());
  REQUIRE(second.ok());
  CHECK(second.Call({"PING"}) == kPong);

  RawConnection third(server.port());
  REQUIRE(third.ok());  // the kernel accepts; the server answers and closes
  CHECK(third.Read(5s) == Error("ERR max number of clients reached"));
  CHECK(third.WaitClosed(5s));

  CHECK(first.Call({"PING"}) == kPong);
  CHECK(second.Call({"PING"}) == kPong);
  // A slot that frees up can be used again.
  second.Call({"QUIT"});
  CHECK(second.WaitClosed(5s));
  CHECK(WaitFor([&] { return ClientCount(first) == 1; }, 5s));
  RawConnection fourth(server.port());
  REQUIRE(fourth.ok());
  CHECK(fourth.Call({"PING"}) == kPong);
}

TEST_CASE("timeout 1: an idle connection is closed within a few seconds") {
  ServerProcess server({"--timeout", "1"});
  RawConnection idle(server.port());
  REQUIRE(idle.ok());
  REQUIRE(idle.Call({"PING"}) == kPong);
  RawConnection busy(server.port());
  REQUIRE(busy.ok());
  // `busy` keeps talking every 100 ms while `idle` says nothing.
  bool idle_closed = WaitFor(
      [&] {
        if (busy.Call({"PING"}) != kPong) return true;  // stop; checked below
        return idle.ClosedNow();
      },
      6s, 100ms);
  CHECK_MESSAGE(idle_closed, "the idle connection was still open after 6 s");
  CHECK(busy.Call({"PING"}) == kPong);
}

TEST_CASE("SHUTDOWN stops the server with exit status 0") {
  ServerProcess server;
  Conn c = server.Connect();
  REQUIRE(Call(c, {"SET", "k", "v"}) == Status("OK"));
  RawConnection raw(server.port());
  REQUIRE(raw.ok());
  REQUIRE(raw.SendCommand({"SHUTDOWN"}));
  // Redis closes the connection without a reply.
  CHECK(raw.WaitClosed(10s));
  auto status = server.WaitExit(10s);
  REQUIRE_MESSAGE(status.has_value(), "server still running 10 s after SHUTDOWN");
  CHECK_MESSAGE((status->exited && status->code == 0), status->ToString());
  // Stop() and the destructor are fine with a server that is already gone.
  CHECK(server.Stop().exited);
}

TEST_CASE("SIGTERM with clients connected and a workload done: exit status 0") {
  ServerProcess server;
  std::vector<Conn> conns;
  for (int i = 0; i < 5; ++i) conns.push_back(server.Connect());
  for (int i = 0; i < 200; ++i) {
    Conn& c = conns[static_cast<size_t>(i) % conns.size()];
    REQUIRE(Call(c, {"SET", "k" + std::to_string(i), std::string(100, 'v'), "PX", "100000"}) ==
            Status("OK"));
  }
  RawConnection half(server.port());
  REQUIRE(half.Send("*2\r\n$3\r\nGET\r\n$2\r\nk"));  // a half-sent command
  ExitStatus status = server.Stop(10s);
  CHECK_MESSAGE((status.exited && status.code == 0), status.ToString());
}

TEST_CASE("a server killed with SIGKILL is cleaned up without complaint") {
  ServerProcess server;
  server.Kill(SIGKILL);
  auto status = server.WaitExit(5s);
  REQUIRE(status.has_value());
  CHECK(status->signal == SIGKILL);
}
