// Measures the choice documented in src/storage/README.md: MemoryEngine
// (hash table + per-slot sorted arrays) against an ordered-only structure
// (std::map, standing in for a tree or skiplist memtable) on the same 1M
// keys: random puts, hit and miss lookups, and a full ordered scan.
// Run: build/kv_memory_engine_bench [keys]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "storage/engine.h"
#include "storage/memory_engine.h"
#include "util/crc16.h"
#include "util/random.h"

namespace {
using Clock = std::chrono::steady_clock;

double NsPerOp(Clock::time_point start, size_t ops) {
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count() /
         static_cast<double>(ops);
}

std::string Key(uint64_t i) {
  char buf[32];
  snprintf(buf, sizeof(buf), "key:%012llu", static_cast<unsigned long long>(i));
  std::string skey;
  kv::storage::MakeStorageKey(kv::util::KeySlot(buf), buf, &skey);
  return skey;
}
}  // namespace

int main(int argc, char** argv) {
  size_t n = argc > 1 ? static_cast<size_t>(atol(argv[1])) : 1000000;
  std::vector<std::string> keys, missing;
  kv::util::Random rnd(42);
  for (size_t i = 0; i < n; i++) keys.push_back(Key(rnd.Next() % (n * 10)));
  for (size_t i = 0; i < n; i++) missing.push_back(Key(n * 10 + i));
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; i++) order[i] = rnd.Uniform(n);
  const std::string value(130, 'v');  // a 100-byte value plus record header

  kv::storage::MemoryEngine engine;
  std::map<std::string, std::string> tree;
  printf("%zu keys, %zu-byte records\n", n, value.size());
  printf("%-12s %14s %14s\n", "phase", "MemoryEngine", "std::map");

  auto t = Clock::now();
  for (const std::string& k : keys) (void)engine.Put(k, value, 0);
  double e_put = NsPerOp(t, n);
  t = Clock::now();
  for (const std::string& k : keys) tree[k] = value;
  double m_put = NsPerOp(t, n);
  printf("%-12s %11.0f ns %11.0f ns\n", "put", e_put, m_put);

  size_t found = 0;
  std::string scratch;
  std::string_view v;
  t = Clock::now();
  for (size_t i : order) found += engine.Get(keys[i], &v, &scratch).ok();
  double e_get = NsPerOp(t, n);
  t = Clock::now();
  for (size_t i : order) found += tree.count(keys[i]);
  double m_get = NsPerOp(t, n);
  printf("%-12s %11.0f ns %11.0f ns\n", "get (hit)", e_get, m_get);

  t = Clock::now();
  for (const std::string& k : missing) found += engine.Get(k, &v, &scratch).ok();
  double e_miss = NsPerOp(t, n);
  t = Clock::now();
  for (const std::string& k : missing) found += tree.count(k);
  double m_miss = NsPerOp(t, n);
  printf("%-12s %11.0f ns %11.0f ns\n", "get (miss)", e_miss, m_miss);

  size_t walked = 0;
  t = Clock::now();
  auto it = engine.NewIterator();
  for (it->SeekToFirst(); it->Valid(); it->Next()) walked += it->value().size() > 0;
  double e_scan = NsPerOp(t, engine.Stats().keys);
  t = Clock::now();
  for (const auto& [k, val] : tree) walked += val.size() > 0;
  double m_scan = NsPerOp(t, tree.size());
  printf("%-12s %11.0f ns %11.0f ns   (per key)\n", "scan", e_scan, m_scan);
  printf("(checksum %zu)\n", found + walked);
  return 0;
}
