#include "storage/record.h"

#include "util/coding.h"

namespace kv::storage {

const VersionView* RecordView::Winner() const {
  const VersionView* best = nullptr;
  for (const VersionView& v : siblings) {
    if (best == nullptr || v.timestamp_ms > best->timestamp_ms ||
        (v.timestamp_ms == best->timestamp_ms &&
         (v.dot.node > best->dot.node ||
          (v.dot.node == best->dot.node && v.value > best->value)))) {
      best = &v;
    }
  }
  return best;
}

namespace {
void EncodeVersion(const VersionView& v, std::string* dst) {
  util::PutFixed64(dst, v.dot.node);
  util::PutVarint64(dst, v.dot.counter);
  util::PutVarint64(dst, static_cast<uint64_t>(v.timestamp_ms));
  util::PutVarint64(dst, static_cast<uint64_t>(v.expire_at_ms));
  dst->push_back(v.tombstone ? 1 : 0);
  util::PutLengthPrefixed(dst, v.tombstone ? std::string_view() : v.value);
}

void EncodeContext(const std::vector<Dot>& context, std::string* dst) {
  dst->push_back(static_cast<char>(kRecordFormatV1));
  util::PutVarint64(dst, context.size());
  for (const Dot& d : context) {
    util::PutFixed64(dst, d.node);
    util::PutVarint64(dst, d.counter);
  }
}
}  // namespace

void EncodeRecord(const std::vector<Dot>& context, const std::vector<VersionView>& siblings,
                  std::string* dst) {
  EncodeContext(context, dst);
  util::PutVarint64(dst, siblings.size());
  for (const VersionView& v : siblings) EncodeVersion(v, dst);
}

void EncodeSingleVersion(const std::vector<Dot>& context, const VersionView& version,
                         std::string* dst) {
  EncodeContext(context, dst);
  dst->push_back(1);
  EncodeVersion(version, dst);
}

util::Status DecodeRecord(std::string_view in, RecordView* out) {
  out->context.clear();
  out->siblings.clear();
  if (in.empty() || static_cast<uint8_t>(in[0]) != kRecordFormatV1) {
    return util::Status::Corruption("record: unknown format version");
  }
  in.remove_prefix(1);
  uint64_t n;
  if (!util::GetVarint64(&in, &n) || n > in.size() / 9) {
    return util::Status::Corruption("record: bad context length");
  }
  for (uint64_t i = 0; i < n; i++) {
    Dot d;
    if (!util::GetFixed64(&in, &d.node) || !util::GetVarint64(&in, &d.counter)) {
      return util::Status::Corruption("record: truncated context");
    }
    out->context.push_back(d);
  }
  if (!util::GetVarint64(&in, &n) || n > in.size() / 13) {
    return util::Status::Corruption("record: bad sibling count");
  }
  for (uint64_t i = 0; i < n; i++) {
    VersionView v;
    uint64_t ts, exp;
    if (!util::GetFixed64(&in, &v.dot.node) || !util::GetVarint64(&in, &v.dot.counter) ||
        !util::GetVarint64(&in, &ts) || !util::GetVarint64(&in, &exp) || in.empty()) {
      return util::Status::Corruption("record: truncated sibling");
    }
    uint8_t flags = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    if (flags > 1 || !util::GetLengthPrefixed(&in, &v.value)) {
      return util::Status::Corruption("record: bad sibling value");
    }
    v.timestamp_ms = static_cast<int64_t>(ts);
    v.expire_at_ms = static_cast<int64_t>(exp);
    v.tombstone = flags == 1;
    out->siblings.push_back(v);
  }
  if (!in.empty()) return util::Status::Corruption("record: trailing bytes");
  return util::Status::OK();
}

int64_t RecordExpireAt(const RecordView& record) {
  const VersionView* w = record.Winner();
  return w == nullptr ? 0 : w->expire_at_ms;
}

}  // namespace kv::storage
