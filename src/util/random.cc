#include "util/random.h"

#include <sys/random.h>

#include <ctime>

namespace kv::util {

uint64_t OsRandom64() {
  uint64_t v = 0;
  if (getrandom(&v, sizeof(v), 0) != sizeof(v)) {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    v = static_cast<uint64_t>(ts.tv_nsec) ^ (static_cast<uint64_t>(ts.tv_sec) << 32);
  }
  return v;
}

}  // namespace kv::util
