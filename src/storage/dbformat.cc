#include "storage/dbformat.h"

namespace kv::storage {

namespace {
class Bytewise final : public Comparator {
 public:
  int Compare(std::string_view a, std::string_view b) const override {
    int r = a.compare(b);
    return r < 0 ? -1 : (r > 0 ? 1 : 0);
  }
  const char* Name() const override { return "kv.Bytewise"; }
};
}  // namespace

const Comparator* BytewiseComparator() {
  static const Bytewise kInstance;
  return &kInstance;
}

const InternalKeyComparator* GetInternalKeyComparator() {
  static const InternalKeyComparator kInstance;
  return &kInstance;
}

}  // namespace kv::storage
