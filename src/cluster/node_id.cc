#include "cluster/node_id.h"

#include <cinttypes>
#include <cstdio>

namespace kv::cluster {

std::string NodeIdHex(uint64_t id) {
  char buf[24];
  snprintf(buf, sizeof(buf), "%016" PRIx64, id);
  return buf;
}

std::string NodeIdText(uint64_t id) { return NodeIdHex(id) + "000000000000000000000000"; }

bool ParseNodeId(std::string_view text, uint64_t* id) {
  if (text.size() != 16 && text.size() != 40) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < text.size(); i++) {
    char c = text[i];
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    if (i < 16) {
      v = v << 4 | static_cast<uint64_t>(d);
    } else if (d != 0) {
      return false;
    }
  }
  if (v == 0) return false;
  *id = v;
  return true;
}

}  // namespace kv::cluster
