// The wire protocol: error texts for unknown commands and wrong arity, inline
// commands, pipelining, fragmented frames, and bad input over a raw socket.
// For bad input the check is Redis's: the same error reply, the connection
// closed exactly where Redis closes it, and a second client served
// throughout.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "helpers/raw_connection.h"
#include "helpers/reply.h"
#include "helpers/server_process.h"

using namespace kv::test;

namespace {

const char* const kServer = "protocol";

ServerProcess& Server() { return SharedServer(kServer); }

const Reply kOK = Status("OK");
const Reply kPong = Status("PONG");

// Sends `payload` on a fresh raw connection while another client is
// connected, and checks: the reply is `expected`; the connection is closed
// afterwards iff `closes`; the other client is served before and after.
void CheckBadInput(const std::string& payload, const Reply& expected, bool closes) {
  ServerProcess& server = Server();
  Conn bystander = server.Connect();
  REQUIRE(Call(bystander, {"PING"}) == kPong);
  {
    RawConnection raw(server.port());
    REQUIRE(raw.ok());
    raw.Send(payload);  // may fail part-way if the server closes first
    CHECK(raw.Read(5s) == expected);
    if (closes) {
      CHECK_MESSAGE(raw.WaitClosed(5s), "the server kept the connection open");
    } else {
      CHECK(raw.Call({"PING"}) == kPong);
    }
    CHECK(Call(bystander, {"PING"}) == kPong);
  }
  CHECK(Call(bystander, {"PING"}) == kPong);
  Conn fresh = server.Connect();
  CHECK(Call(fresh, {"PING"}) == kPong);
}

}  // namespace

TEST_CASE("unknown command: Redis's exact error text, connection stays open") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"foo", "a", "b"}) ==
        Error("ERR unknown command 'foo', with args beginning with: 'a' 'b' "));
  CHECK(Call(c, {"foo"}) == Error("ERR unknown command 'foo', with args beginning with: "));
  CHECK(Call(c, {"FooBar", "x"}) ==
        Error("ERR unknown command 'FooBar', with args beginning with: 'x' "));
  CHECK(Call(c, {""}) == Error("ERR unknown command '', with args beginning with: "));
  CHECK(Call(c, {"PING"}) == kPong);
}

TEST_CASE("unknown command: the quoted arguments stop at 128 characters") {
  Conn c = ConnectFlushed(Server());
  // Redis appends "'arg' " while the list is shorter than 128 characters,
  // cutting the argument being appended to what is left of the 128 (quotes
  // and spaces count: two 60-character arguments use 126).
  std::string long_arg(200, 'a');
  CHECK(Call(c, {"foo", long_arg, "b"}) ==
        Error("ERR unknown command 'foo', with args beginning with: '" + std::string(128, 'a') +
              "' "));
  CHECK(Call(c, {"foo", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}) ==
        Error("ERR unknown command 'foo', with args beginning with: '1' '2' '3' '4' '5' '6' "
              "'7' '8' '9' '10' "));
  std::string a60(60, 'x');
  CHECK(Call(c, {"foo", a60, a60, a60}) ==
        Error("ERR unknown command 'foo', with args beginning with: '" + a60 + "' '" + a60 + "' '" +
              std::string(2, 'x') + "' "));
}

TEST_CASE("wrong arity: Redis's exact error text with the lower-case name") {
  Conn c = ConnectFlushed(Server());
  CHECK(Call(c, {"get"}) == Error("ERR wrong number of arguments for 'get' command"));
  CHECK(Call(c, {"GET"}) == Error("ERR wrong number of arguments for 'get' command"));
  CHECK(Call(c, {"GET", "a", "b"}) == Error("ERR wrong number of arguments for 'get' command"));
  CHECK(Call(c, {"Set", "a"}) == Error("ERR wrong number of arguments for 'set' command"));
  CHECK(Call(c, {"INCRBY", "a"}) == Error("ERR wrong number of arguments for 'incrby' command"));
  CHECK(Call(c, {"DBSIZE", "x"}) == Error("ERR wrong number of arguments for 'dbsize' command"));
  CHECK(Call(c, {"PING"}) == kPong);
}

TEST_CASE("unknown command and wrong arity over a raw socket keep the connection") {
  CheckBadInput(EncodeCommand({"foo", "a", "b"}),
                Error("ERR unknown command 'foo', with args beginning with: 'a' 'b' "), false);
  CheckBadInput(EncodeCommand({"GET"}), Error("ERR wrong number of arguments for 'get' command"),
                false);
}

TEST_CASE("malformed bulk length: protocol error, then closed") {
  CheckBadInput("*1\r\n$x\r\n", Error("ERR Protocol error: invalid bulk length"), true);
  CheckBadInput("*1\r\n$-1\r\n", Error("ERR Protocol error: invalid bulk length"), true);
}

TEST_CASE("bulk length over the limit: protocol error, then closed") {
  CheckBadInput("*1\r\n$999999999999\r\n", Error("ERR Protocol error: invalid bulk length"), true);
}

TEST_CASE("huge multibulk count: protocol error, then closed") {
  CheckBadInput("*99999999999\r\n", Error("ERR Protocol error: invalid multibulk length"), true);
  CheckBadInput("*x\r\n", Error("ERR Protocol error: invalid multibulk length"), true);
}

TEST_CASE("a multibulk item without '$': protocol error, then closed") {
  CheckBadInput("*1\r\nPING\r\n", Error("ERR Protocol error: expected '$', got 'P'"), true);
}

TEST_CASE("64 KiB of inline garbage with no newline: too big inline request, then closed") {
  // Redis's limit is 64 KiB (PROTO_INLINE_MAX_SIZE): more than that without a
  // newline is an error.
  CheckBadInput(std::string(64 * 1024 + 1024, 'a'),
                Error("ERR Protocol error: too big inline request"), true);
}

TEST_CASE("unbalanced quotes in an inline command: protocol error, then closed") {
  CheckBadInput("SET k \"abc\r\n", Error("ERR Protocol error: unbalanced quotes in request"), true);
}

TEST_CASE("a protocol error after a good command: the good one is answered first") {
  CheckBadInput("*1\r\n$4\r\nPING\r\n*x\r\n", kPong, true);
}

TEST_CASE("inline commands work like telnet") {
  Conn cleaner = ConnectFlushed(Server());
  RawConnection raw(Server().port());
  REQUIRE(raw.ok());
  REQUIRE(raw.Send("PING\r\n"));
  CHECK(raw.Read() == kPong);
  REQUIRE(raw.Send("SET inline-key \"hello world\"\r\nGET inline-key\r\n"));
  CHECK(raw.Read() == kOK);
  CHECK(raw.Read() == Bulk("hello world"));
  REQUIRE(raw.Send("ECHO 'single quoted'\r\n"));
  CHECK(raw.Read() == Bulk("single quoted"));
  REQUIRE(raw.Send("ECHO \"esc\\x41\\n\"\r\n"));
  CHECK(raw.Read() == Bulk("escA\n"));
  // A bare \n ends a line too, and empty lines are ignored.
  REQUIRE(raw.Send("\r\n\r\nPING\n"));
  CHECK(raw.Read() == kPong);
  REQUIRE(raw.Send("nosuch a\r\n"));
  CHECK(raw.Read() == Error("ERR unknown command 'nosuch', with args beginning with: 'a' "));
  CHECK(raw.Call({"PING"}) == kPong);
  CHECK(raw.pending().empty());
}

TEST_CASE("empty and negative multibulk counts are ignored") {
  RawConnection raw(Server().port());
  REQUIRE(raw.ok());
  REQUIRE(raw.Send("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n"));
  CHECK(raw.Read() == kPong);
  CHECK(raw.Call({"ECHO", "next"}) == Bulk("next"));
  CHECK(raw.pending().empty());
}

TEST_CASE("a command split across many writes is answered once, when complete") {
  RawConnection raw(Server().port());
  REQUIRE(raw.ok());
  const std::string cmd = EncodeCommand({"ECHO", "fragmented"});
  for (size_t i = 0; i + 1 < cmd.size(); ++i) {
    REQUIRE(raw.Send(cmd.substr(i, 1)));
    if (i % 5 == 0) {
      // Nothing may come back before the frame is whole.
      Reply early = raw.Read(std::chrono::milliseconds(5));
      REQUIRE_MESSAGE(early == IoError("timed out"), early);
    }
  }
  REQUIRE(raw.Send(cmd.substr(cmd.size() - 1)));
  CHECK(raw.Read() == Bulk("fragmented"));
  CHECK(raw.Call({"PING"}) == kPong);
}

TEST_CASE("QUIT in a pipeline: later commands are not run") {
  Conn c = ConnectFlushed(Server());
  RawConnection raw(Server().port());
  REQUIRE(raw.ok());
  REQUIRE(raw.Send(EncodeCommand({"QUIT"}) + EncodeCommand({"SET", "after-quit", "1"})));
  CHECK(raw.Read() == kOK);
  CHECK(raw.WaitClosed(5s));
  CHECK(Call(c, {"EXISTS", "after-quit"}) == Int(0));
}

TEST_CASE("10,000 pipelined commands are all answered, in order") {
  Conn c = ConnectFlushed(Server());
  const int n = 10000;
  for (int i = 0; i < n; ++i) {
    if (i % 2 == 0) {
      redisAppendCommand(c.get(), "INCR counter");
    } else {
      std::string key = "pk:" + std::to_string(i);
      redisAppendCommand(c.get(), "SET %b %b", key.data(), key.size(), key.data(), key.size());
    }
  }
  int good = 0;
  long long expected_counter = 0;
  for (int i = 0; i < n; ++i) {
    void* raw = nullptr;
    REQUIRE(redisGetReply(c.get(), &raw) == REDIS_OK);
    Reply r = FromHiredis(static_cast<redisReply*>(raw), c.get());
    freeReplyObject(raw);
    Reply want = i % 2 == 0 ? Int(++expected_counter) : kOK;
    if (r == want) {
      ++good;
    } else if (n - good < 5) {
      CHECK_MESSAGE(r == want, "reply " << i);
    }
  }
  CHECK(good == n);
  CHECK(Call(c, {"GET", "counter"}) == Bulk(std::to_string(n / 2)));
  CHECK(Call(c, {"DBSIZE"}) == Int(n / 2 + 1));

  // Reads of what was written, pipelined again.
  for (int i = 1; i < n; i += 2) {
    std::string key = "pk:" + std::to_string(i);
    redisAppendCommand(c.get(), "GET %b", key.data(), key.size());
  }
  good = 0;
  for (int i = 1; i < n; i += 2) {
    void* raw = nullptr;
    REQUIRE(redisGetReply(c.get(), &raw) == REDIS_OK);
    Reply r = FromHiredis(static_cast<redisReply*>(raw), c.get());
    freeReplyObject(raw);
    if (r == Bulk("pk:" + std::to_string(i))) ++good;
  }
  CHECK(good == n / 2);
}

TEST_CASE("a client that does not read its replies does not stall other clients") {
  Conn c = ConnectFlushed(Server());
  const std::string value(1 << 20, 'x');
  REQUIRE(Call(c, {"SET", "big", value}) == kOK);
  RawConnection slow(Server().port());
  REQUIRE(slow.ok());
  const int n = 64;  // 64 MiB of replies that nobody reads for now
  std::string burst;
  for (int i = 0; i < n; ++i) burst += EncodeCommand({"GET", "big"});
  REQUIRE(slow.Send(burst));
  for (int i = 0; i < 20; ++i) CHECK(Call(c, {"INCR", "other"}) == Int(i + 1));
  // The slow client still gets every reply, intact and in order.
  int good = 0;
  for (int i = 0; i < n; ++i) {
    if (slow.Read(30s) == Bulk(value)) ++good;
  }
  CHECK(good == n);
  CHECK(slow.Call({"PING"}) == kPong);
}

TEST_CASE("clients that vanish mid-command or mid-reply do not disturb the server") {
  Conn c = ConnectFlushed(Server());
  const std::string value(256 * 1024, 'z');
  REQUIRE(Call(c, {"SET", "big", value}) == kOK);
  for (int round = 0; round < 5; ++round) {
    {
      RawConnection half(Server().port());
      REQUIRE(half.ok());
      half.Send("*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$10\r\nabc");  // then gone
    }
    {
      RawConnection greedy(Server().port());
      REQUIRE(greedy.ok());
      std::string burst;
      for (int i = 0; i < 32; ++i) burst += EncodeCommand({"GET", "big"});
      greedy.Send(burst);  // 8 MiB of replies nobody will read
    }
    CHECK(Call(c, {"PING"}) == kPong);
  }
  CHECK(Call(c, {"EXISTS", "half"}) == Int(0));
  CHECK(Call(c, {"STRLEN", "big"}) == Int(256 * 1024));
}

TEST_CASE("100 connections interleaving commands are all served") {
  Conn c = ConnectFlushed(Server());
  std::vector<std::unique_ptr<RawConnection>> conns;
  for (int i = 0; i < 100; ++i) {
    conns.push_back(std::make_unique<RawConnection>(Server().port()));
    REQUIRE(conns.back()->ok());
  }
  // Every connection sends before any reads, so the server has 100 clients
  // with work pending at once.
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < conns.size(); ++i) {
      REQUIRE(conns[i]->SendCommand({"INCR", "shared"}));
      REQUIRE(conns[i]->SendCommand({"SET", "conn:" + std::to_string(i), std::to_string(round)}));
    }
    for (size_t i = 0; i < conns.size(); ++i) {
      CHECK(conns[i]->Read().type == Reply::Type::kInteger);
      CHECK(conns[i]->Read() == kOK);
    }
  }
  CHECK(Call(c, {"GET", "shared"}) == Bulk("300"));
  CHECK(Call(c, {"DBSIZE"}) == Int(101));
  CHECK(Call(c, {"GET", "conn:42"}) == Bulk("2"));
}

TEST_CASE("a value over max-value-bytes is refused with an error (kv)") {
  if (Server().is_redis()) return;  // Redis allows up to proto-max-bulk-len (512 MB)
  Conn c = ConnectFlushed(Server());
  const std::string too_big((1 << 20) + 1, 'v');
  Reply r = Call(c, {"SET", "k", too_big});
  CHECK_MESSAGE(r.type == Reply::Type::kError, r);
  CHECK(Call(c, {"EXISTS", "k"}) == Int(0));
  REQUIRE(Call(c, {"SET", "k", std::string(1 << 20, 'v')}) == kOK);
  Reply append = Call(c, {"APPEND", "k", "x"});
  CHECK_MESSAGE(append.type == Reply::Type::kError, append);
  CHECK(Call(c, {"STRLEN", "k"}) == Int(1 << 20));
  CHECK(Call(c, {"PING"}) == kPong);
}

TEST_CASE("protocol: the shared server exits with status 0 on SIGTERM") {
  auto status = StopSharedServer(kServer);
  if (status) CHECK_MESSAGE((status->exited && status->code == 0), status->ToString());
}
