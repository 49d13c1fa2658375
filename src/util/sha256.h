// SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), written from the
// standards because kv links no crypto library. They authenticate cluster
// bus links: each side proves it knows the shared cluster-secret by an HMAC
// over both sides' fresh nonces (cluster/PROTOCOL.md). Not tuned for bulk
// hashing; a handshake hashes a few hundred bytes.
//
// Thread safety: Sha256 is a value, one instance per thread; the free
// functions are pure.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kv::util {

using Sha256Digest = std::array<uint8_t, 32>;

// Incremental SHA-256: Update any number of times, then Finish once.
class Sha256 {
 public:
  static constexpr size_t kBlockSize = 64;
  static constexpr size_t kDigestSize = 32;

  Sha256();
  void Update(const void* data, size_t n);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  // Pads, returns the digest. REQUIRES: not called before on this instance.
  Sha256Digest Finish();

 private:
  void Compress(const uint8_t* block);

  uint32_t h_[8];
  uint8_t block_[kBlockSize];
  size_t block_len_ = 0;
  uint64_t total_len_ = 0;  // bytes hashed so far
};

Sha256Digest Sha256Of(std::string_view data);

// HMAC-SHA256 (RFC 2104 with H = SHA-256, B = 64): keys longer than the
// block are hashed first, as the RFC says.
Sha256Digest HmacSha256(std::string_view key, std::string_view message);

// True if a[0, n) == b[0, n), in time that depends only on n, so comparing
// a received MAC with the expected one leaks nothing about where they differ.
bool ConstantTimeEqual(const void* a, const void* b, size_t n);

}  // namespace kv::util
