// Data-directory file names (made and parsed in one place) and CURRENT:
// written atomically, and a missing, empty, torn or dangling CURRENT is a
// clear error.
#include "storage/filename.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "../test_util.h"
#include "storage/fault_env.h"

namespace kv::storage {
namespace {

class ScratchDir {
 public:
  ScratchDir() {
    const char* base = getenv("TMPDIR");
    std::string tmpl =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/kv-filename-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string Base(const std::string& path) { return path.substr(path.rfind('/') + 1); }

TEST_CASE("file names have the documented form") {
  CHECK(LogFileName("/d", 12) == "/d/000012.log");
  CHECK(TableFileName("/d", 12) == "/d/000012.sst");
  CHECK(TempFileName("/d", 12) == "/d/000012.dbtmp");
  CHECK(DescriptorFileName("/d", 3) == "/d/MANIFEST-000003");
  CHECK(CurrentFileName("/d") == "/d/CURRENT");
  CHECK(LockFileName("/d") == "/d/LOCK");
  CHECK(NodeIdFileName("/d") == "/d/node.id");
  CHECK(LogFileName("d", 1234567) == "d/1234567.log");  // wider past six digits
}

TEST_CASE("file names parse and round-trip") {
  struct Case {
    std::string path;
    uint64_t number;
    FileType type;
  };
  const uint64_t big = UINT64_MAX;
  const Case cases[] = {
      {LogFileName("x", 0), 0, FileType::kLogFile},
      {LogFileName("x", 12), 12, FileType::kLogFile},
      {TableFileName("x", 999999), 999999, FileType::kTableFile},
      {TableFileName("x", big), big, FileType::kTableFile},
      {TempFileName("x", 1000000), 1000000, FileType::kTempFile},
      {DescriptorFileName("x", 3), 3, FileType::kDescriptorFile},
      {DescriptorFileName("x", big), big, FileType::kDescriptorFile},
      {CurrentFileName("x"), 0, FileType::kCurrentFile},
      {LockFileName("x"), 0, FileType::kLockFile},
      {NodeIdFileName("x"), 0, FileType::kNodeIdFile},
  };
  for (const Case& c : cases) {
    CAPTURE(c.path);
    uint64_t number = 77;
    FileType type = FileType::kLockFile;
    REQUIRE(ParseFileName(Base(c.path), &number, &type));
    CHECK(number == c.number);
    CHECK(type == c.type);
  }
  uint64_t number;
  FileType type;
  CHECK(ParseFileName("12.log", &number, &type));  // fewer digits than we write: still ours
  CHECK(number == 12);
  for (const char* bad : {"",
                          "CURRENT.bak",
                          "current",
                          "LOCK2",
                          "node.id.tmp",
                          "MANIFEST",
                          "MANIFEST-",
                          "MANIFEST-12x",
                          "MANIFEST--1",
                          "MANIFEST-+1",
                          ".log",
                          "x.log",
                          "12.log.bak",
                          "12.LOG",
                          "1 2.sst",
                          "-1.sst",
                          "000012.dbtmp~",
                          "18446744073709551616.log",  // 2^64
                          "99999999999999999999999.sst",
                          "LOG",
                          "000012"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseFileName(bad, &number, &type));
  }
}

TEST_CASE("SetCurrentFile writes CURRENT atomically and ReadCurrentFile reads it back") {
  ScratchDir dir;
  FaultInjectionEnv env(Env::Default());
  REQUIRE(WriteStringToFileSync(&env, "m3", DescriptorFileName(dir.path(), 3)).ok());
  REQUIRE(SetCurrentFile(&env, dir.path(), 3).ok());
  std::string data;
  REQUIRE(ReadFileToString(&env, CurrentFileName(dir.path()), &data).ok());
  CHECK(data == "MANIFEST-000003\n");
  CHECK_FALSE(env.FileExists(TempFileName(dir.path(), 3)));
  CHECK(env.dir_sync_count() == 2);  // before and after the rename

  std::string name;
  REQUIRE(ReadCurrentFile(&env, dir.path(), &name).ok());
  CHECK(name == "MANIFEST-000003");

  // Survives a power loss right after.
  REQUIRE(env.DropUnsyncedData().ok());
  REQUIRE(ReadCurrentFile(&env, dir.path(), &name).ok());
  CHECK(name == "MANIFEST-000003");

  // A failed switch leaves the old CURRENT and no temp file behind.
  REQUIRE(WriteStringToFileSync(&env, "m4", DescriptorFileName(dir.path(), 4)).ok());
  env.FailNextSyncs(1);
  CHECK(SetCurrentFile(&env, dir.path(), 4).IsIOError());
  CHECK_FALSE(env.FileExists(TempFileName(dir.path(), 4)));
  env.FailNextDirSyncs(1);
  CHECK(SetCurrentFile(&env, dir.path(), 4).IsIOError());
  CHECK_FALSE(env.FileExists(TempFileName(dir.path(), 4)));
  REQUIRE(ReadCurrentFile(&env, dir.path(), &name).ok());
  CHECK(name == "MANIFEST-000003");

  REQUIRE(SetCurrentFile(&env, dir.path(), 4).ok());
  REQUIRE(ReadCurrentFile(&env, dir.path(), &name).ok());
  CHECK(name == "MANIFEST-000004");
}

TEST_CASE("CURRENT missing, empty, torn or naming a missing manifest is a clear error") {
  ScratchDir dir;
  Env* env = Env::Default();
  const std::string current = CurrentFileName(dir.path());
  std::string name = "untouched";

  util::Status s = ReadCurrentFile(env, dir.path(), &name);
  CHECK(s.IsNotFound());  // a new directory, not a damaged one
  CHECK(s.message().find(current) != std::string::npos);

  auto read_with = [&](const std::string& contents) {
    REQUIRE(WriteStringToFileSync(env, contents, current).ok());
    util::Status r = ReadCurrentFile(env, dir.path(), &name);
    CHECK(name == "untouched");
    return r;
  };

  s = read_with("");
  CHECK(s.IsCorruption());
  CHECK(s.message() == "CURRENT file " + current + " is empty");

  s = read_with("MANIFEST-000007");
  CHECK(s.IsCorruption());
  CHECK(s.message().find("without its trailing newline") != std::string::npos);

  s = read_with("MANIFEST-000007\n");
  CHECK(s.IsCorruption());
  CHECK(s.message() == "CURRENT file " + current + " names MANIFEST-000007 which does not exist");

  for (const char* junk : {"\n", "000007.log\n", "MANIFEST-000007\n\n", " MANIFEST-000007\n",
                           "MANIFEST-000007\r\n", "\x01\x02garbage\n"}) {
    CAPTURE(test::Escape(junk));
    s = read_with(junk);
    CHECK(s.IsCorruption());
    CHECK(s.message().find("not a manifest name") != std::string::npos);
  }

  s = read_with(std::string(1000, 'M') + "\n");
  CHECK(s.IsCorruption());
  CHECK(s.message().find("larger than") != std::string::npos);
}

}  // namespace
}  // namespace kv::storage
