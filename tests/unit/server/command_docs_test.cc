#include "server/command_docs.h"

#include <doctest/doctest.h>

#include "server/command_table.h"

using kv::server::ArgSpec;
using kv::server::ParseSyntax;

TEST_CASE("SET's syntax line becomes Redis 7's COMMAND DOCS argument tree") {
  std::vector<ArgSpec> args = ParseSyntax(kv::server::CommandSyntax("set"));
  REQUIRE(args.size() == 5);
  CHECK(args[0].name == "key");
  CHECK(args[0].type == "key");
  CHECK(args[1].type == "string");
  CHECK(args[2].type == "oneof");
  CHECK(args[2].optional);
  REQUIRE(args[2].args.size() == 2);
  CHECK(args[2].args[0].type == "pure-token");
  CHECK(args[2].args[0].token == "NX");
  CHECK(args[3].token == "GET");
  CHECK(args[3].optional);
  REQUIRE(args[4].args.size() == 5);
  CHECK(args[4].args[0].token == "EX");
  CHECK(args[4].args[0].name == "seconds");
  CHECK(args[4].args[0].type == "integer");
  CHECK(args[4].args[2].type == "unix-time");
  CHECK(args[4].args[4].type == "pure-token");
}

TEST_CASE("repeated groups and nested optional blocks parse") {
  std::vector<ArgSpec> mset = ParseSyntax("(key value)...");
  REQUIRE(mset.size() == 1);
  CHECK(mset[0].type == "block");
  CHECK(mset[0].multiple);
  CHECK(mset[0].args.size() == 2);
  std::vector<ArgSpec> hello = ParseSyntax(kv::server::CommandSyntax("hello"));
  REQUIRE(hello.size() == 1);
  CHECK(hello[0].optional);
  CHECK(hello[0].type == "block");
  CHECK(hello[0].args.size() == 3);
  CHECK(ParseSyntax("").empty());
  CHECK(ParseSyntax("key...")[0].multiple);
}

TEST_CASE("every command with arguments has a syntax line that parses") {
  kv::server::CommandTable table;
  for (const auto& cmd : table.all()) {
    bool takes_args = cmd.arity < -1 || cmd.arity > 1;
    if (!takes_args || !cmd.subcommands.empty()) continue;
    const char* syntax = kv::server::CommandSyntax(cmd.name);
    CHECK_MESSAGE(syntax != nullptr, "no syntax for " << cmd.name);
    if (syntax != nullptr) CHECK_FALSE(ParseSyntax(syntax).empty());
  }
}
