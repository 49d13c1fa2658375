// Env::Default() (POSIX) basics and FaultInjectionEnv: unsynced bytes vanish
// on a simulated power loss, torn writes keep a prefix, and Sync / Append /
// SyncDir fail on demand.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "../test_util.h"
#include "storage/env.h"
#include "storage/fault_env.h"

namespace kv::storage {
namespace {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = getenv("TMPDIR");
    std::string tmpl =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/kv-env-test-XXXXXX";
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
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string ReadAll(Env* env, const std::string& path) {
  std::unique_ptr<SequentialFile> f;
  util::Status s = env->NewSequentialFile(path, &f);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  std::string out;
  char buf[4096];
  while (true) {
    std::string_view got;
    s = f->Read(sizeof(buf), &got, buf);
    REQUIRE_MESSAGE(s.ok(), s.ToString());
    if (got.empty()) return out;
    out.append(got.data(), got.size());
  }
}

void WriteFile(Env* env, const std::string& path, std::string_view data, bool sync) {
  std::unique_ptr<WritableFile> f;
  REQUIRE(env->NewWritableFile(path, &f).ok());
  REQUIRE(f->Append(data).ok());
  if (sync) REQUIRE(f->Sync().ok());
  REQUIRE(f->Close().ok());
}

uint64_t SizeOf(Env* env, const std::string& path) {
  uint64_t size = 0;
  util::Status s = env->GetFileSize(path, &size);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  return size;
}

TEST_CASE("posix env writes, syncs and reads back through every file kind") {
  ScratchDir dir;
  Env* env = Env::Default();
  const std::string path = dir.File("a");

  // Bigger than the 64 KiB write buffer, in pieces of awkward sizes, so
  // appends that fit, overflow and bypass the buffer are all exercised.
  std::string expected;
  std::unique_ptr<WritableFile> w;
  REQUIRE(env->NewWritableFile(path, &w).ok());
  for (size_t i = 0; i < 40; i++) {
    std::string piece((i * 7919) % 20000 + (i == 20 ? 200000 : 0), static_cast<char>('a' + i % 26));
    REQUIRE(w->Append(piece).ok());
    expected += piece;
  }
  REQUIRE(w->Flush().ok());
  CHECK(SizeOf(env, path) == expected.size());  // Flush hands everything to the OS
  REQUIRE(w->Append("tail").ok());
  expected += "tail";
  REQUIRE(w->Sync().ok());
  REQUIRE(w->Close().ok());
  CHECK(w->Append("x").IsIOError());  // closed

  CHECK(ReadAll(env, path) == expected);

  std::unique_ptr<RandomAccessFile> r;
  REQUIRE(env->NewRandomAccessFile(path, &r).ok());
  std::string scratch(100, '\0');
  std::string_view got;
  REQUIRE(r->Read(70000, 10, &got, scratch.data()).ok());
  CHECK(got == expected.substr(70000, 10));
  REQUIRE(r->Read(expected.size() - 3, 10, &got, scratch.data()).ok());
  CHECK(got == "ail");  // short read at end of file

  std::unique_ptr<SequentialFile> seq;
  REQUIRE(env->NewSequentialFile(path, &seq).ok());
  REQUIRE(seq->Skip(expected.size() - 4).ok());
  REQUIRE(seq->Read(100, &got, scratch.data()).ok());
  CHECK(got == "tail");

  // Appendable files continue where the file ends.
  std::unique_ptr<WritableFile> a;
  REQUIRE(env->NewAppendableFile(path, &a).ok());
  REQUIRE(a->Append("+more").ok());
  REQUIRE(a->Close().ok());
  CHECK(SizeOf(env, path) == expected.size() + 5);

  // A writable file truncates.
  WriteFile(env, path, "new", true);
  CHECK(ReadAll(env, path) == "new");

  REQUIRE(env->TruncateFile(path, 1).ok());
  CHECK(ReadAll(env, path) == "n");
}

TEST_CASE(
    "posix env random access reads are short at the end, survive unlink, and work on empty files") {
  ScratchDir dir;
  Env* env = Env::Default();
  const std::string path = dir.File("t");
  std::string data;
  for (int i = 0; data.size() < 10000; i++) data += std::to_string(i) + ",";
  WriteFile(env, path, data, true);
  std::unique_ptr<RandomAccessFile> r;
  REQUIRE(env->NewRandomAccessFile(path, &r).ok());
  std::string scratch(200, '\0');
  std::string_view got;
  REQUIRE(r->Read(0, 100, &got, scratch.data()).ok());
  CHECK(got == data.substr(0, 100));
  REQUIRE(r->Read(data.size() - 10, 100, &got, scratch.data()).ok());
  CHECK(got == data.substr(data.size() - 10));
  REQUIRE(r->Read(data.size(), 100, &got, scratch.data()).ok());
  CHECK(got.empty());
  REQUIRE(r->Read(data.size() + 4096, 100, &got, scratch.data()).ok());
  CHECK(got.empty());
  // Unlinking a file does not disturb its open reader (tables are deleted
  // while old versions still read them).
  REQUIRE(env->RemoveFile(path).ok());
  REQUIRE(r->Read(4000, 100, &got, scratch.data()).ok());
  CHECK(got == data.substr(4000, 100));

  const std::string empty = dir.File("empty");
  WriteFile(env, empty, "", true);
  std::unique_ptr<RandomAccessFile> e;
  REQUIRE(env->NewRandomAccessFile(empty, &e).ok());
  REQUIRE(e->Read(0, 10, &got, scratch.data()).ok());
  CHECK(got.empty());
}

TEST_CASE("posix env maps files for point reads: no scratch, short at the end, survives unlink") {
  ScratchDir dir;
  Env* env = Env::Default();
  const std::string path = dir.File("m");
  std::string data;
  for (int i = 0; data.size() < 20000; i++) data += std::to_string(i) + ";";
  WriteFile(env, path, data, true);
  std::unique_ptr<RandomAccessFile> m = env->MapFile(path);
  REQUIRE(m != nullptr);
  CHECK(!m->NeedsScratch());
  std::string_view got;
  REQUIRE(m->Read(5000, 100, &got, nullptr).ok());
  CHECK(got == data.substr(5000, 100));
  REQUIRE(m->Read(data.size() - 7, 100, &got, nullptr).ok());
  CHECK(got == data.substr(data.size() - 7));
  REQUIRE(m->Read(data.size(), 1, &got, nullptr).ok());
  CHECK(got.empty());
  REQUIRE(m->Read(data.size() + 1000000, 1, &got, nullptr).ok());
  CHECK(got.empty());
  // Deleted tables are still read by lookups in flight.
  REQUIRE(env->RemoveFile(path).ok());
  REQUIRE(m->Read(12345, 50, &got, nullptr).ok());
  CHECK(got == data.substr(12345, 50));

  // Nothing to map: callers fall back to NewRandomAccessFile.
  const std::string empty = dir.File("empty");
  WriteFile(env, empty, "", true);
  CHECK(env->MapFile(empty) == nullptr);
  CHECK(env->MapFile(dir.File("missing")) == nullptr);
  std::unique_ptr<RandomAccessFile> plain;
  REQUIRE(env->NewRandomAccessFile(empty, &plain).ok());
  CHECK(plain->NeedsScratch());
}

TEST_CASE("posix env renames, lists, removes and reports missing files as NotFound") {
  ScratchDir dir;
  Env* env = Env::Default();
  WriteFile(env, dir.File("one"), "1", false);
  WriteFile(env, dir.File("two"), "2", false);
  REQUIRE(env->RenameFile(dir.File("two"), dir.File("three")).ok());
  REQUIRE(env->SyncDir(dir.path()).ok());
  CHECK_FALSE(env->FileExists(dir.File("two")));
  CHECK(env->FileExists(dir.File("three")));

  REQUIRE(env->CreateDir(dir.File("sub")).ok());
  CHECK(env->CreateDir(dir.File("sub")).ok());         // already there: fine
  CHECK(env->CreateDir(dir.File("one")).IsIOError());  // a file is in the way

  std::vector<std::string> names;
  REQUIRE(env->GetChildren(dir.path(), &names).ok());
  std::sort(names.begin(), names.end());
  CHECK(test::Show(names) == test::Show(std::vector<std::string>{"one", "sub", "three"}));

  REQUIRE(env->RemoveFile(dir.File("one")).ok());
  util::Status s = env->RemoveFile(dir.File("one"));
  CHECK(s.IsNotFound());
  CHECK(s.message().find(dir.File("one")) != std::string::npos);  // "<path>: <strerror>"

  std::unique_ptr<SequentialFile> seq;
  CHECK(env->NewSequentialFile(dir.File("missing"), &seq).IsNotFound());
  uint64_t size;
  CHECK(env->GetFileSize(dir.File("missing"), &size).IsNotFound());
  CHECK(env->GetChildren(dir.File("missing"), &names).IsNotFound());
  CHECK(env->SyncDir(dir.File("missing")).IsIOError());
  std::unique_ptr<WritableFile> w;
  s = env->NewWritableFile(dir.File("missing/x"), &w);
  CHECK(s.IsIOError());
  CHECK(s.message() == dir.File("missing/x") + ": No such file or directory");
}

TEST_CASE("posix env lock is exclusive: locking twice fails until unlocked") {
  ScratchDir dir;
  Env* env = Env::Default();
  const std::string lock = dir.File("LOCK");
  int fd1 = -1, fd2 = -1;
  REQUIRE(env->LockFile(lock, &fd1).ok());
  CHECK(fd1 >= 0);
  util::Status s = env->LockFile(lock, &fd2);
  CHECK(s.IsIOError());
  CHECK(s.message().find("already locked") != std::string::npos);
  CHECK(fd2 == -1);
  env->UnlockFile(fd1);
  REQUIRE(env->LockFile(lock, &fd2).ok());
  env->UnlockFile(fd2);
}

TEST_CASE("fault env: a power loss drops exactly the unsynced bytes of every file") {
  ScratchDir dir;
  FaultInjectionEnv env(Env::Default());
  const std::string a = dir.File("a"), b = dir.File("b"), c = dir.File("c");

  std::unique_ptr<WritableFile> fa, fb;
  REQUIRE(env.NewWritableFile(a, &fa).ok());
  REQUIRE(env.NewWritableFile(b, &fb).ok());
  REQUIRE(fa->Append("synced-").ok());
  REQUIRE(fa->Sync().ok());
  REQUIRE(fa->Append("flushed-but-not-synced").ok());
  REQUIRE(fa->Flush().ok());
  REQUIRE(fb->Append("never synced").ok());
  CHECK(env.WrittenBytes(a) == 29);
  CHECK(env.SyncedBytes(a) == 7);
  // A closed file keeps its bookkeeping; a rename carries it along.
  WriteFile(&env, c + ".tmp", "renamed and synced", true);
  REQUIRE(env.RenameFile(c + ".tmp", c).ok());
  CHECK(env.SyncedBytes(c) == 18);

  REQUIRE(env.DropUnsyncedData().ok());
  CHECK(ReadAll(&env, a) == "synced-");
  CHECK(ReadAll(&env, b).empty());
  CHECK(ReadAll(&env, c) == "renamed and synced");

  // Files open at the crash are dead; new ones work (the restart).
  CHECK(fa->Append("x").IsIOError());
  CHECK(fb->Sync().IsIOError());
  fa.reset();
  fb.reset();
  CHECK(ReadAll(&env, a) == "synced-");  // destroying a dead file writes nothing
  REQUIRE(env.NewAppendableFile(a, &fa).ok());
  REQUIRE(fa->Append("after").ok());
  REQUIRE(fa->Sync().ok());
  REQUIRE(fa->Append(" lost").ok());
  REQUIRE(fa->Close().ok());
  REQUIRE(env.DropUnsyncedData().ok());
  CHECK(ReadAll(&env, a) == "synced-after");
}

TEST_CASE("fault env: a torn last write keeps a random prefix of the unsynced tail") {
  ScratchDir dir;
  const uint64_t seed = test::TestSeed(20240611);
  const std::string path = dir.File("wal");
  const std::string synced = "0123456789";
  const std::string unsynced = "abcdefghijklmnopqrstuvwxyz";
  bool saw_partial = false;
  for (uint64_t round = 0; round < 20; round++) {
    for (bool zero_fill : {false, true}) {
      CAPTURE(round);
      CAPTURE(zero_fill);
      FaultInjectionEnv env(Env::Default());
      std::unique_ptr<WritableFile> f;
      REQUIRE(env.NewWritableFile(path, &f).ok());
      REQUIRE(f->Append(synced).ok());
      REQUIRE(f->Sync().ok());
      REQUIRE(f->Append(unsynced).ok());
      REQUIRE(env.TearLastWrite(seed + round, zero_fill).ok());
      f.reset();
      std::string got = ReadAll(&env, path);
      if (zero_fill) {
        REQUIRE(got.size() == synced.size() + unsynced.size());
        size_t keep = got.find('\0', synced.size());
        if (keep == std::string::npos) keep = got.size();
        CHECK(got.substr(0, keep) == (synced + unsynced).substr(0, keep));
        CHECK(got.substr(keep) == std::string(got.size() - keep, '\0'));
      } else {
        REQUIRE(got.size() >= synced.size());
        REQUIRE(got.size() <= synced.size() + unsynced.size());
        CHECK(got == (synced + unsynced).substr(0, got.size()));
        if (got.size() > synced.size() && got.size() < synced.size() + unsynced.size()) {
          saw_partial = true;
        }
      }
    }
  }
  CHECK(saw_partial);
}

TEST_CASE("fault env: Sync fails with EIO on demand and the bytes stay unsynced") {
  ScratchDir dir;
  FaultInjectionEnv env(Env::Default());
  const std::string path = dir.File("f");
  std::unique_ptr<WritableFile> f;
  REQUIRE(env.NewWritableFile(path, &f).ok());
  REQUIRE(f->Append("abc").ok());
  env.FailNextSyncs(1);
  util::Status s = f->Sync();
  CHECK(s.IsIOError());
  CHECK(s.message().find("EIO") != std::string::npos);
  CHECK(s.message().find(path) != std::string::npos);
  CHECK(env.SyncedBytes(path) == 0);
  CHECK(env.sync_count() == 0);
  REQUIRE(f->Sync().ok());  // only the next one failed
  CHECK(env.SyncedBytes(path) == 3);
  CHECK(env.sync_count() == 1);

  env.FailNextDirSyncs(1);
  CHECK(env.SyncDir(dir.path()).IsIOError());
  CHECK(env.SyncDir(dir.path()).ok());
  CHECK(env.dir_sync_count() == 1);
}

TEST_CASE("fault env: a full disk fails Append part-way, after N more bytes") {
  ScratchDir dir;
  FaultInjectionEnv env(Env::Default());
  const std::string path = dir.File("f");
  std::unique_ptr<WritableFile> f;
  REQUIRE(env.NewWritableFile(path, &f).ok());
  env.FailAppendsAfter(10);
  REQUIRE(f->Append("12345").ok());
  REQUIRE(f->Append("6789").ok());
  util::Status s = f->Append("abc");  // one byte fits
  CHECK(s.IsIOError());
  CHECK(s.message().find("ENOSPC") != std::string::npos);
  CHECK(f->Append("d").IsIOError());  // still full
  REQUIRE(f->Flush().ok());
  CHECK(ReadAll(&env, path) == "123456789a");
  env.ClearAppendLimit();
  REQUIRE(f->Append("bc").ok());
  REQUIRE(f->Close().ok());
  CHECK(ReadAll(&env, path) == "123456789abc");
}

}  // namespace
}  // namespace kv::storage
