#include "storage/table/format.h"

#include <snappy.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <utility>

#include "util/coding.h"
#include "util/crc32c.h"

namespace kv::storage {

namespace {

// Snappy's densest element is a 3-byte copy of 64 bytes (a ratio of about
// 21), so a valid block never claims more than 32 times its compressed size.
// The CRC already vouches for the bytes; this bound keeps a crafted file with
// a valid CRC from making us allocate gigabytes.
constexpr uint64_t kMaxSnappyExpansion = 32;

}  // namespace

void BlockHandle::EncodeTo(std::string* dst) const {
  util::PutVarint64(dst, offset);
  util::PutVarint64(dst, size);
}

bool BlockHandle::DecodeFrom(std::string_view* in) {
  return util::GetVarint64(in, &offset) && util::GetVarint64(in, &size);
}

void TableProperties::EncodeTo(std::string* dst) const {
  util::PutVarint64(dst, num_entries);
  util::PutVarint64(dst, num_data_blocks);
  util::PutVarint64(dst, raw_key_bytes);
  util::PutVarint64(dst, raw_value_bytes);
}

bool TableProperties::DecodeFrom(std::string_view in) {
  return util::GetVarint64(&in, &num_entries) && util::GetVarint64(&in, &num_data_blocks) &&
         util::GetVarint64(&in, &raw_key_bytes) && util::GetVarint64(&in, &raw_value_bytes);
}

void Footer::EncodeTo(std::string* dst) const {
  const size_t start = dst->size();
  metaindex.EncodeTo(dst);
  index.EncodeTo(dst);
  dst->resize(start + 2 * BlockHandle::kMaxEncodedLength, '\0');  // zero padding
  sst::PutFixed32(dst, kTableFormatVersion);
  uint32_t crc = util::crc32c::Value(dst->data() + start, dst->size() - start);
  sst::PutFixed32(dst, util::crc32c::Mask(crc));
  util::PutFixed64(dst, kTableMagicNumber);
}

util::Status Footer::DecodeFrom(std::string_view in) {
  if (in.size() != kEncodedLength) return util::Status::Corruption("footer has the wrong size");
  // Magic first: a file that is not a table at all gets the clearest message.
  const char* p = in.data();
  if (sst::DecodeFixed64(p + kEncodedLength - 8) != kTableMagicNumber) {
    return util::Status::Corruption("bad magic number (not an SSTable?)");
  }
  constexpr size_t kCrcOffset = 2 * BlockHandle::kMaxEncodedLength + 4;
  uint32_t stored = util::crc32c::Unmask(sst::DecodeFixed32(p + kCrcOffset));
  if (util::crc32c::Value(p, kCrcOffset) != stored) {
    return util::Status::Corruption("footer checksum mismatch");
  }
  uint32_t version = sst::DecodeFixed32(p + kCrcOffset - 4);
  if (version != kTableFormatVersion) {
    return util::Status::Corruption("unsupported table format version " + std::to_string(version));
  }
  std::string_view handles = in.substr(0, 2 * BlockHandle::kMaxEncodedLength);
  if (!metaindex.DecodeFrom(&handles) || !index.DecodeFrom(&handles)) {
    return util::Status::Corruption("bad block handle in footer");
  }
  for (char c : handles) {
    if (c != 0) return util::Status::Corruption("non-zero footer padding");
  }
  return util::Status::OK();
}

void AppendBlockWithTrailer(std::string_view contents, bool compress, std::string* scratch,
                            std::string* dst) {
  std::string_view stored = contents;
  auto type = BlockCompression::kRaw;
  if (compress) {
    snappy::Compress(contents.data(), contents.size(), scratch);
    // Keep the compressed form only if it saves at least 12.5%: below that,
    // decompressing on every cache miss costs more than the bytes save.
    if (scratch->size() < contents.size() - contents.size() / 8) {
      stored = *scratch;
      type = BlockCompression::kSnappy;
    }
  }
  dst->append(stored.data(), stored.size());
  char type_byte = static_cast<char>(type);
  dst->push_back(type_byte);
  uint32_t crc = util::crc32c::Value(stored.data(), stored.size());
  crc = util::crc32c::Extend(crc, &type_byte, 1);
  sst::PutFixed32(dst, util::crc32c::Mask(crc));
}

util::Status ReadBlockContents(const RandomAccessFile* file, uint64_t file_size,
                               const BlockHandle& handle, std::unique_ptr<char[]>* out,
                               size_t* out_size) {
  if (handle.size > file_size || file_size - handle.size < kBlockTrailerSize ||
      handle.offset > file_size - handle.size - kBlockTrailerSize) {
    return util::Status::Corruption("block extends past end of file (size " +
                                    std::to_string(handle.size) + ")");
  }
  const size_t n = static_cast<size_t>(handle.size);
  // A mapped file hands out its own bytes: a compressed block then goes
  // from the page cache through Snappy with no intermediate copy.
  std::unique_ptr<char[]> buf;
  if (file->NeedsScratch()) buf.reset(new char[n + kBlockTrailerSize]);
  std::string_view got;
  util::Status s = file->Read(handle.offset, n + kBlockTrailerSize, &got, buf.get());
  if (!s.ok()) return s;
  if (got.size() != n + kBlockTrailerSize) return util::Status::Corruption("truncated block read");
  // Checksum first: nothing below looks at bytes it does not cover. `got`
  // may point into the Env's own memory rather than buf.
  const char* data = got.data();
  uint32_t stored = util::crc32c::Unmask(sst::DecodeFixed32(data + n + 1));
  if (util::crc32c::Value(data, n + 1) != stored) {
    return util::Status::Corruption("checksum mismatch");
  }
  switch (static_cast<BlockCompression>(data[n])) {
    case BlockCompression::kRaw:
      if (data != buf.get()) {
        if (buf == nullptr) buf.reset(new char[n]);
        memcpy(buf.get(), data, n);
      }
      *out = std::move(buf);
      *out_size = n;
      return util::Status::OK();
    case BlockCompression::kSnappy: {
      size_t ulen = 0;
      if (!snappy::GetUncompressedLength(data, n, &ulen)) {
        return util::Status::Corruption("bad snappy length header");
      }
      if (ulen > kMaxSnappyExpansion * n + 64) {
        return util::Status::Corruption("implausible uncompressed size " + std::to_string(ulen));
      }
      std::unique_ptr<char[]> plain(new char[ulen]);
      if (!snappy::RawUncompress(data, n, plain.get())) {
        return util::Status::Corruption("snappy decompression failed");
      }
      *out = std::move(plain);
      *out_size = ulen;
      return util::Status::OK();
    }
  }
  return util::Status::Corruption("unknown compression type " +
                                  std::to_string(static_cast<uint8_t>(data[n])));
}

util::Status ReadBlockContents(const RandomAccessFile* file, uint64_t file_size,
                               const BlockHandle& handle, std::string* out) {
  std::unique_ptr<char[]> buf;
  size_t size = 0;
  util::Status s = ReadBlockContents(file, file_size, handle, &buf, &size);
  if (s.ok()) out->assign(buf.get(), size);
  return s;
}

std::string TableError(uint64_t file_number, std::string_view reason) {
  char name[48];
  snprintf(name, sizeof(name), "table %06" PRIu64 ".sst: ", file_number);
  std::string msg = name;
  msg.append(reason.data(), reason.size());
  return msg;
}

std::string TableBlockError(uint64_t file_number, uint64_t offset, std::string_view reason) {
  std::string r = "block at offset " + std::to_string(offset) + ": ";
  r.append(reason.data(), reason.size());
  return TableError(file_number, r);
}

}  // namespace kv::storage
