#include "storage/engine.h"

#include <cstring>

namespace kv::storage {

void MakeStorageKey(uint16_t slot, std::string_view user_key, std::string* out) {
  out->resize(2 + user_key.size());
  char* p = out->data();
  p[0] = static_cast<char>(slot >> 8);
  p[1] = static_cast<char>(slot & 0xff);
  if (!user_key.empty()) memcpy(p + 2, user_key.data(), user_key.size());
}

}  // namespace kv::storage
