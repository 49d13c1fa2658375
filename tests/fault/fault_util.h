// Shared pieces of the fault tests: seeds and scaling, values that can be
// checked from their key alone, pipelined hiredis calls, and a keyspace
// walk.
//
// Values: ValueFor(key, version) is "<version>:" followed by bytes from a
// PRNG seeded by the key and version (binary, incompressible, length derived
// from the same seed). A value read back is either exactly ValueFor(key, v)
// for the version v it names, or something that was never written.
//
// Thread safety: functions are pure or take their own connection; Log() may
// be called from any thread.
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "helpers/reply.h"
#include "helpers/server_process.h"

namespace kv::test::fault {

using Clock = std::chrono::steady_clock;

// The seed of a randomised test: $KV_FAULT_SEED if set, else random. Printed
// with the test's name so a failure can be replayed.
uint64_t TestSeed(const char* test_name);

// Whether the server under test is a sanitizer build (slower): counts are
// scaled down. $KV_FAULT_SCALE (a factor, e.g. 0.5) overrides the guess.
bool SlowServer();
// `release` scaled for the server in use (never below `min`).
long long Scaled(long long release, double slow_factor, long long min = 1);

// A double from an environment variable, or `fallback`.
double EnvDouble(const char* name, double fallback);

// Prints a line to stdout, prefixed "[fault] ", flushed (tests print their
// seeds, timings and measured numbers this way).
void Log(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// 64-bit mixing (splitmix64) and a string hash (FNV-1a), for values.
uint64_t Mix64(uint64_t x);
uint64_t HashString(std::string_view s);

// The value written as version `version` of `key`, `min_len`..`max_len`
// bytes long (the length is derived from key and version too).
std::string ValueFor(std::string_view key, uint64_t version, size_t min_len, size_t max_len);
// The version a value claims to be ("<version>:..."), or nullopt if it does
// not parse. The caller then compares with ValueFor for that version.
std::optional<uint64_t> VersionOf(std::string_view value);

// Sends every command in `cmds` in one pipeline and reads the replies. On an
// I/O error the remaining replies are IoError replies.
std::vector<Reply> Pipeline(redisContext* c, const std::vector<std::vector<std::string>>& cmds);

// Every key in the keyspace (SCAN to the end, COUNT 1000). Fails the test
// case (REQUIRE) if a reply is not what SCAN returns.
std::vector<std::string> ScanAll(redisContext* c);

// MGET of `keys`, in batches. An absent key is nullopt.
std::vector<std::optional<std::string>> MGetAll(redisContext* c,
                                                const std::vector<std::string>& keys);

// One field of INFO <section> ("disk_bytes"), or "" if missing.
std::string InfoField(redisContext* c, const std::string& section, const std::string& field);

// The data files in a store's dir (*.log, *.sst, MANIFEST-*, CURRENT) with
// their sizes, sorted by name, e.g. "000005.log=1234".
std::vector<std::string> DataFiles(const std::string& dir);
// The highest-numbered *.log in `dir`, or "" if none.
std::string NewestWal(const std::string& dir);
// Appends `bytes` to the file at `path` (REQUIREs success).
void AppendToFile(const std::string& path, std::string_view bytes);
// Replaces the file's contents.
void WriteFile(const std::string& path, std::string_view bytes);
std::string ReadFile(const std::string& path);

// Kills the server with SIGKILL and waits (with a deadline) until it is
// gone; CHECKs it died by that signal.
void KillHard(ServerProcess& server);

// Milliseconds since the Unix epoch (wall clock, as the server's TTLs).
int64_t NowUnixMs();

// Lower-case copy.
std::string Lower(std::string s);

}  // namespace kv::test::fault
