#include "storage/write_batch.h"

#include "util/coding.h"

namespace kv::storage {

using util::Status;

WriteBatch::WriteBatch() { Clear(); }

void WriteBatch::Clear() { rep_.assign(kHeaderSize, '\0'); }

uint32_t WriteBatch::Count() const { return util::DecodeFixed32(rep_.data() + 8); }

void WriteBatch::SetCount(uint32_t n) { util::EncodeFixed32(rep_.data() + 8, n); }

SequenceNumber WriteBatch::Sequence() const {
  std::string_view in = rep_;
  uint64_t seq = 0;
  (void)util::GetFixed64(&in, &seq);  // rep_ always holds a header
  return seq;
}

void WriteBatch::SetSequence(SequenceNumber seq) {
  for (int i = 0; i < 8; i++) rep_[static_cast<size_t>(i)] = static_cast<char>(seq >> (8 * i));
}

void WriteBatch::Put(std::string_view key, std::string_view value) {
  SetCount(Count() + 1);
  rep_.push_back(static_cast<char>(kTypeValue));
  util::PutLengthPrefixed(&rep_, key);
  util::PutLengthPrefixed(&rep_, value);
}

void WriteBatch::Delete(std::string_view key) {
  SetCount(Count() + 1);
  rep_.push_back(static_cast<char>(kTypeDeletion));
  util::PutLengthPrefixed(&rep_, key);
}

void WriteBatch::Append(const WriteBatch& other) {
  SetCount(Count() + other.Count());
  rep_.append(other.rep_, kHeaderSize, std::string::npos);
}

Status WriteBatch::SetContents(std::string_view contents) {
  if (contents.size() < kHeaderSize) {
    return Status::Corruption("write batch of " + std::to_string(contents.size()) +
                              " bytes is shorter than its 12-byte header");
  }
  rep_.assign(contents.data(), contents.size());
  return Status::OK();
}

Status WriteBatch::Iterate(Handler* handler) const {
  Status s = Walk(nullptr);
  if (!s.ok()) return s;
  return Walk(handler);
}

Status WriteBatch::Walk(Handler* handler) const {
  if (rep_.size() < kHeaderSize) return Status::Corruption("write batch shorter than its header");
  std::string_view in(rep_);
  in.remove_prefix(kHeaderSize);
  const uint32_t count = Count();
  uint32_t found = 0;
  while (!in.empty()) {
    const auto tag = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    std::string_view key, value;
    switch (tag) {
      case kTypeValue:
        if (!util::GetLengthPrefixed(&in, &key) || !util::GetLengthPrefixed(&in, &value)) {
          return Status::Corruption("write batch: bad Put op " + std::to_string(found));
        }
        if (handler != nullptr) handler->Put(key, value);
        break;
      case kTypeDeletion:
        if (!util::GetLengthPrefixed(&in, &key)) {
          return Status::Corruption("write batch: bad Delete op " + std::to_string(found));
        }
        if (handler != nullptr) handler->Delete(key);
        break;
      default:
        return Status::Corruption("write batch: unknown op tag " + std::to_string(tag) + " at op " +
                                  std::to_string(found));
    }
    found++;
    if (found > count) break;  // reported below; stops a runaway walk early
  }
  if (found != count || !in.empty()) {
    return Status::Corruption("write batch: header says " + std::to_string(count) + " ops, found " +
                              std::to_string(found) + (in.empty() ? "" : " and trailing bytes"));
  }
  return Status::OK();
}

}  // namespace kv::storage
