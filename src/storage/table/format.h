// The SSTable's physical layout (FORMAT.md "SSTable"): block handles, the
// 5-byte block trailer (compression type + masked CRC32C), the fixed-size
// footer, and ReadBlock, which turns a handle into verified, uncompressed
// block contents. Everything that knows where bytes sit in a table file is
// here; block.h knows what is inside a block.
//
// Thread safety: pure functions and values; ReadBlock only calls the
// thread-safe RandomAccessFile::Read.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "storage/env.h"
#include "util/coding.h"
#include "util/status.h"

namespace kv::storage {

// The fixed-width codecs of util/coding.h, under the names the table code
// uses.
namespace sst {
using util::DecodeFixed32;
using util::DecodeFixed64;
using util::PutFixed32;
}  // namespace sst

// DO NOT CHANGE: identifies a kv SSTable. The last 8 bytes of every table;
// stored little-endian they read "kvsstabl" in a hex dump.
constexpr uint64_t kTableMagicNumber = 0x6c6261747373766bULL;
// DO NOT CHANGE: the footer's format version. Readers refuse other versions.
constexpr uint32_t kTableFormatVersion = 1;

// DO NOT CHANGE: the compression type byte of a block trailer.
enum class BlockCompression : uint8_t { kRaw = 0, kSnappy = 1 };
// type:uint8 + masked crc32c:fixed32. DO NOT CHANGE.
constexpr size_t kBlockTrailerSize = 5;

// Where a block sits: `offset` of its first byte, `size` of its contents
// (excluding the trailer that follows them).
struct BlockHandle {
  uint64_t offset = 0;
  uint64_t size = 0;

  // Two varint64s.
  void EncodeTo(std::string* dst) const;
  // Reads a handle from the front of *in and advances it. False if *in does
  // not start with two valid varints.
  [[nodiscard]] bool DecodeFrom(std::string_view* in);
  static constexpr size_t kMaxEncodedLength = 20;
};

// The last kFooterSize bytes of a table: where the metaindex and index
// blocks are, a version, a checksum of the footer itself, and the magic.
struct Footer {
  BlockHandle metaindex;
  BlockHandle index;

  // DO NOT CHANGE: 2 padded handles (40) + version (4) + crc (4) + magic (8).
  static constexpr size_t kEncodedLength = 2 * BlockHandle::kMaxEncodedLength + 4 + 4 + 8;

  // Appends exactly kEncodedLength bytes.
  void EncodeTo(std::string* dst) const;
  // Parses kEncodedLength bytes. Corruption (with a reason, no file name) on
  // a bad magic, checksum, version, non-zero padding or malformed handle.
  [[nodiscard]] util::Status DecodeFrom(std::string_view in);
};

// DO NOT CHANGE: keys of the metaindex block.
constexpr std::string_view kMetaComparatorKey = "comparator";
constexpr std::string_view kMetaFilterKey = "filter.bloom";
constexpr std::string_view kMetaPropertiesKey = "kv.properties";

// Counts kept in the metaindex under "kv.properties".
struct TableProperties {
  uint64_t num_entries = 0;
  uint64_t num_data_blocks = 0;
  uint64_t raw_key_bytes = 0;    // sum of internal key sizes
  uint64_t raw_value_bytes = 0;  // sum of value sizes

  // Four varint64s in the order above. Later versions may append fields;
  // decoding ignores bytes after the ones it knows.
  void EncodeTo(std::string* dst) const;
  [[nodiscard]] bool DecodeFrom(std::string_view in);
};

// Appends `contents` to *dst as a stored block: the contents, Snappy
// compressed when `compress` is set and that saves at least 1/8 of the
// bytes, then the trailer. `scratch` is reused for the compressed bytes.
void AppendBlockWithTrailer(std::string_view contents, bool compress, std::string* scratch,
                            std::string* dst);

// Reads the block at `handle` from `file` (of `file_size` bytes), verifies
// its checksum, decompresses it and stores the contents in *out. Corruption
// with a reason ("checksum mismatch", "block extends past end of file", ...)
// that does not yet name the file or offset: callers prefix that. IOError if
// the read fails.
[[nodiscard]] util::Status ReadBlockContents(const RandomAccessFile* file, uint64_t file_size,
                                             const BlockHandle& handle, std::string* out);
// The same, into a fresh heap buffer (*out_size bytes): the data-block read
// path, which must not pay for zero-filling a buffer it overwrites at once.
[[nodiscard]] util::Status ReadBlockContents(const RandomAccessFile* file, uint64_t file_size,
                                             const BlockHandle& handle,
                                             std::unique_ptr<char[]>* out, size_t* out_size);

// "table 000123.sst: block at offset 4096: " + reason, the message of every
// error about a table block.
std::string TableBlockError(uint64_t file_number, uint64_t offset, std::string_view reason);
// "table 000123.sst: " + reason.
std::string TableError(uint64_t file_number, std::string_view reason);

}  // namespace kv::storage
