// Every file name in a data directory is made and parsed here, and CURRENT
// (which manifest is live) is written and read here, so the directory's
// layout is defined in one place (FORMAT.md, "Files in the data
// directory"):
//
//   000012.log        WAL segment 12
//   000012.sst        SSTable 12
//   000012.dbtmp      a file being written, renamed into place when complete
//   MANIFEST-000003   manifest 3 (a log of VersionEdits)
//   CURRENT           "MANIFEST-000003\n": the live manifest
//   LOCK              flock'd while a process has the directory open
//   node.id           this node's identity (kept by the server)
//
// Numbers come from one counter (the manifest's next file number) and are
// printed with at least six digits, more when they grow.
//
// Thread safety: pure functions, except that the Env calls are as
// thread safe as the Env.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "storage/env.h"
#include "util/status.h"

namespace kv::storage {

enum class FileType {
  kLogFile,
  kTableFile,
  kTempFile,
  kDescriptorFile,
  kCurrentFile,
  kLockFile,
  kNodeIdFile,
};

// Full paths: `dir` + "/" + name. `dir` has no trailing slash.
std::string LogFileName(const std::string& dir, uint64_t number);
std::string TableFileName(const std::string& dir, uint64_t number);
std::string TempFileName(const std::string& dir, uint64_t number);
std::string DescriptorFileName(const std::string& dir, uint64_t number);
std::string CurrentFileName(const std::string& dir);
std::string LockFileName(const std::string& dir);
std::string NodeIdFileName(const std::string& dir);

// Parses a base name (no directory) made by the functions above: true and
// *number (0 for CURRENT, LOCK and node.id) and *type set, or false for any
// other name (e.g. "000012.log.bak", "MANIFEST-", "12x.sst", a number that
// overflows 64 bits), leaving the outputs unspecified.
bool ParseFileName(const std::string& name, uint64_t* number, FileType* type);

// Points CURRENT at MANIFEST-<descriptor_number>, atomically: writes
// "MANIFEST-<number>\n" to a temp file, syncs it, syncs the directory (so
// the manifest's and the temp file's entries are durable first), renames it
// over CURRENT, syncs the directory again. After a crash CURRENT names
// either the old or the new manifest, never a mix. REQUIRES: the manifest
// exists and is synced. On error the temp file is removed.
[[nodiscard]] util::Status SetCurrentFile(Env* env, const std::string& dir,
                                          uint64_t descriptor_number);

// Reads CURRENT and sets *manifest_name to the base name it holds (e.g.
// "MANIFEST-000003"; join with `dir` to open it). NotFound if there is no
// CURRENT (a new directory); Corruption, with a message naming the file,
// if CURRENT is empty, lacks its trailing newline, holds anything but a
// manifest name, or names a manifest that does not exist.
[[nodiscard]] util::Status ReadCurrentFile(Env* env, const std::string& dir,
                                           std::string* manifest_name);

// Small whole-file helpers for the directory's metadata files (CURRENT,
// node.id). ReadFileToString fails with Corruption past `max_size` bytes so
// a damaged file cannot make it allocate without bound.
[[nodiscard]] util::Status ReadFileToString(Env* env, const std::string& path, std::string* data,
                                            size_t max_size = 1 << 20);
// Creates or truncates `path`, writes `data`, Syncs and closes it.
[[nodiscard]] util::Status WriteStringToFileSync(Env* env, std::string_view data,
                                                 const std::string& path);

}  // namespace kv::storage
