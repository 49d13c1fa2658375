// The log format shared by the write-ahead log (WAL) and the manifest: a
// file is a sequence of 32 KiB blocks, and each logical record is cut into
// fragments that never cross a block boundary. Every fragment carries its own
// header (masked CRC32C, length, type), so a reader that meets a damaged
// region drops at most the rest of that block and resumes at the next block
// boundary, where a fragment header always starts. The scheme is LevelDB's;
// the byte-level grammar, a worked example and the recovery rules are in
// FORMAT.md, "WAL".
//
// Thread safety: constants only.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kv::storage::log {

// DO NOT CHANGE: on disk. A fragment's type byte.
enum RecordType : uint8_t {
  // Never written as a real fragment. A header of seven zero bytes is what a
  // preallocated or zero-filled (crashed) region looks like.
  kZeroType = 0,
  kFullType = 1,    // a whole record in one fragment
  kFirstType = 2,   // first fragment of a record
  kMiddleType = 3,  // interior fragment
  kLastType = 4,    // final fragment
};
// The highest type this build understands. A later format change introduces
// new types above it, so an older binary stops with "unknown record type"
// instead of misreading the file (FORMAT.md, "WAL", versioning).
constexpr uint8_t kMaxRecordType = kLastType;

// DO NOT CHANGE: on disk.
constexpr size_t kBlockSize = 32768;
// checksum (4 bytes, masked CRC32C of type byte + payload), length (2 bytes,
// little-endian), type (1 byte).
constexpr size_t kHeaderSize = 4 + 2 + 1;

}  // namespace kv::storage::log
