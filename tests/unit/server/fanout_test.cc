// Fanout: multi-key commands split by owner and their replies reassembled in
// the client's key order.
#include "server/fanout.h"

#include <doctest/doctest.h>

#include <string>

namespace kv::server {
namespace {

// Owner = first byte of the key ('a' keys on node 1, 'b' keys on node 2...).
uint64_t OwnerByFirstByte(std::string_view key) { return static_cast<uint64_t>(key[0] - 'a' + 1); }

TEST_CASE("MGET over three owners is split by owner and reassembled in key order") {
  CommandTable table;
  const Command* mget = table.Find("mget");
  Argv argv = {"MGET", "a1", "b1", "a2", "c1", "b2"};
  FanoutPlan plan;
  std::string error;
  REQUIRE(PlanFanout(*mget, argv, OwnerByFirstByte, &plan, &error));
  REQUIRE(plan.parts.size() == 3);
  CHECK(plan.merge == Merge::kArrayInOrder);
  CHECK(plan.parts[0].owner == 1);
  CHECK(plan.parts[0].argv == std::vector<std::string>{"MGET", "a1", "a2"});
  CHECK(plan.parts[1].argv == std::vector<std::string>{"MGET", "b1", "b2"});
  CHECK(plan.parts[2].argv == std::vector<std::string>{"MGET", "c1"});
  std::string out;
  REQUIRE(MergeReplies(
      plan, {"*2\r\n$2\r\nA1\r\n$-1\r\n", "*2\r\n$2\r\nB1\r\n$2\r\nB2\r\n", "*1\r\n$2\r\nC1\r\n"},
      &out));
  CHECK(out == "*5\r\n$2\r\nA1\r\n$2\r\nB1\r\n$-1\r\n$2\r\nC1\r\n$2\r\nB2\r\n");
  // A part with the wrong number of elements is an error, not a wrong answer.
  CHECK(!MergeReplies(plan, {"*1\r\n$2\r\nA1\r\n", "*0\r\n", "*0\r\n"}, &out));
  CHECK(out.rfind("-ERR", 0) == 0);
}

TEST_CASE("MSET keeps key-value pairs together; DEL and EXISTS sum; errors pass through") {
  CommandTable table;
  FanoutPlan plan;
  std::string error, out;
  REQUIRE(PlanFanout(*table.Find("mset"), {"MSET", "a1", "1", "b1", "2", "a2", "3"},
                     OwnerByFirstByte, &plan, &error));
  REQUIRE(plan.parts.size() == 2);
  CHECK(plan.parts[0].argv == std::vector<std::string>{"MSET", "a1", "1", "a2", "3"});
  CHECK(plan.parts[1].argv == std::vector<std::string>{"MSET", "b1", "2"});
  REQUIRE(MergeReplies(plan, {"+OK\r\n", "+OK\r\n"}, &out));
  CHECK(out == "+OK\r\n");
  REQUIRE(MergeReplies(plan, {"+OK\r\n", "-ERR boom\r\n"}, &out));
  CHECK(out == "-ERR boom\r\n");

  REQUIRE(PlanFanout(*table.Find("del"), {"DEL", "a1", "b1", "c1", "a2"}, OwnerByFirstByte, &plan,
                     &error));
  REQUIRE(plan.parts.size() == 3);
  REQUIRE(MergeReplies(plan, {":2\r\n", ":0\r\n", ":1\r\n"}, &out));
  CHECK(out == ":3\r\n");
  REQUIRE(
      PlanFanout(*table.Find("exists"), {"EXISTS", "a1", "b1"}, OwnerByFirstByte, &plan, &error));
  CHECK(plan.merge == Merge::kSumIntegers);
}

TEST_CASE("one owner: the command goes whole; MSETNX across owners is refused") {
  CommandTable table;
  FanoutPlan plan;
  std::string error;
  REQUIRE(PlanFanout(*table.Find("set"), {"SET", "a1", "v", "EX", "10"}, OwnerByFirstByte, &plan,
                     &error));
  REQUIRE(plan.parts.size() == 1);
  CHECK(plan.merge == Merge::kSingle);
  CHECK(plan.parts[0].argv == std::vector<std::string>{"SET", "a1", "v", "EX", "10"});
  REQUIRE(PlanFanout(*table.Find("msetnx"), {"MSETNX", "a1", "1", "a2", "2"}, OwnerByFirstByte,
                     &plan, &error));
  CHECK(plan.parts.size() == 1);
  CHECK(!PlanFanout(*table.Find("msetnx"), {"MSETNX", "a1", "1", "b1", "2"}, OwnerByFirstByte,
                    &plan, &error));
  CHECK(error.rfind("CROSSSLOT", 0) == 0);
}

}  // namespace
}  // namespace kv::server
