#include "cluster/state_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

#include "util/coding.h"
#include "util/crc32c.h"

namespace kv::cluster {

namespace {

constexpr char kMagic[4] = {'K', 'V', 'C', 'S'};
constexpr uint8_t kVersion = 1;        // DO NOT CHANGE the meaning of a written version
constexpr size_t kHeader = 4 + 1 + 4;  // magic, version, masked crc32c of the rest

util::Status Errno(const std::string& what) {
  return util::Status::IOError(what + ": " + strerror(errno));
}

util::Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno(path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return util::Status::OK();
}

}  // namespace

void EncodeState(const ClusterStateData& state, std::string* dst) {
  std::string body;
  std::string ring;
  if (state.ring.partitions() > 0) ring::EncodeRing(state.ring, &ring);
  util::PutLengthPrefixed(&body, ring);
  util::PutLengthPrefixed(&body, state.members);
  std::string target;
  if (state.rebalance_target.partitions() > 0) ring::EncodeRing(state.rebalance_target, &target);
  util::PutLengthPrefixed(&body, target);
  dst->append(kMagic, sizeof(kMagic));
  dst->push_back(static_cast<char>(kVersion));
  util::PutFixed32(dst, util::crc32c::Mask(util::crc32c::Value(body.data(), body.size())));
  dst->append(body);
}

util::Status DecodeState(std::string_view bytes, ClusterStateData* state) {
  auto bad = [](const std::string& what) {
    return util::Status::Corruption(std::string(kStateFileName) + ": " + what);
  };
  if (bytes.size() < kHeader) return bad("truncated header");
  if (memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) return bad("bad magic");
  const uint8_t version = static_cast<uint8_t>(bytes[4]);
  if (version != kVersion) {
    return bad("unsupported version " + std::to_string(version) + " (this build reads 1)");
  }
  const uint32_t crc = util::DecodeFixed32(bytes.data() + 5);
  std::string_view body = bytes.substr(kHeader);
  if (util::crc32c::Mask(util::crc32c::Value(body.data(), body.size())) != crc) {
    return bad("checksum mismatch");
  }
  std::string_view ring_bytes, members;
  if (!util::GetLengthPrefixed(&body, &ring_bytes)) return bad("truncated ring");
  if (!util::GetLengthPrefixed(&body, &members)) return bad("truncated members");
  // Appended within version 1: absent in files of older builds.
  std::string_view target_bytes;
  if (!body.empty() && !util::GetLengthPrefixed(&body, &target_bytes)) {
    return bad("truncated rebalance target");
  }
  // Fields appended by a later version 1 writer are ignored.
  ClusterStateData out;
  if (!target_bytes.empty()) {
    util::Status s = ring::DecodeRing(target_bytes, &out.rebalance_target);
    if (!s.ok()) return bad("rebalance target: " + s.message());
  }
  if (!ring_bytes.empty()) {
    util::Status s = ring::DecodeRing(ring_bytes, &out.ring);
    if (!s.ok()) return bad("ring: " + s.message());
  }
  out.members.assign(members.data(), members.size());
  *state = std::move(out);
  return util::Status::OK();
}

util::Status SaveState(const std::string& dir, const ClusterStateData& state) {
  std::string bytes;
  EncodeState(state, &bytes);
  return WriteStateFile(dir, bytes, 0);
}

util::Status WriteStateFile(const std::string& dir, const std::string& bytes, uint64_t generation) {
  // One writer at a time (they share the temp file), newest generation wins.
  static std::mutex mu;
  static std::map<std::string, uint64_t> written;
  std::lock_guard<std::mutex> lock(mu);
  uint64_t& last = written[dir];
  if (generation != 0 && generation < last) return util::Status::OK();
  if (generation != 0) last = generation;
  const std::string path = dir + "/" + kStateFileName;
  const std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno(tmp);
  util::Status s = WriteAll(fd, bytes, tmp);
  if (s.ok() && fsync(fd) != 0) s = Errno(tmp);
  if (close(fd) != 0 && s.ok()) s = Errno(tmp);
  if (s.ok() && rename(tmp.c_str(), path.c_str()) != 0) s = Errno(path);
  if (!s.ok()) {
    unlink(tmp.c_str());
    return s;
  }
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Errno(dir);
  s = fsync(dfd) == 0 ? util::Status::OK() : Errno(dir);
  close(dfd);
  return s;
}

util::Status LoadState(const std::string& dir, ClusterStateData* state) {
  const std::string path = dir + "/" + kStateFileName;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return util::Status::NotFound(path);
    return Errno(path);
  }
  std::string bytes;
  char buf[65536];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      util::Status s = Errno(path);
      close(fd);
      return s;
    }
    if (n == 0) break;
    bytes.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  util::Status s = DecodeState(bytes, state);
  if (!s.ok()) return util::Status::Corruption(dir + "/" + s.message());
  return util::Status::OK();
}

}  // namespace kv::cluster
