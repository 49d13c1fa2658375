#include "storage/filename.h"

#include <cstdio>
#include <memory>

namespace kv::storage {

using util::Status;

namespace {

// DO NOT CHANGE: these names are the on-disk layout.
constexpr std::string_view kLogSuffix = ".log";
constexpr std::string_view kTableSuffix = ".sst";
constexpr std::string_view kTempSuffix = ".dbtmp";
constexpr std::string_view kManifestPrefix = "MANIFEST-";
constexpr std::string_view kCurrentName = "CURRENT";
constexpr std::string_view kLockName = "LOCK";
constexpr std::string_view kNodeIdName = "node.id";

std::string NumberName(const std::string& dir, uint64_t number, std::string_view suffix) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "/%06llu", static_cast<unsigned long long>(number));
  std::string r = dir + buf;
  r.append(suffix);
  return r;
}

// A non-empty run of decimal digits that fits 64 bits, and nothing else.
bool ParseNumber(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

// Printable, bounded form of untrusted file contents for an error message.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  size_t n = 0;
  for (unsigned char c : s) {
    if (++n > 64) {
      out += "...";
      break;
    }
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  out += '"';
  return out;
}

}  // namespace

std::string LogFileName(const std::string& dir, uint64_t number) {
  return NumberName(dir, number, kLogSuffix);
}

std::string TableFileName(const std::string& dir, uint64_t number) {
  return NumberName(dir, number, kTableSuffix);
}

std::string TempFileName(const std::string& dir, uint64_t number) {
  return NumberName(dir, number, kTempSuffix);
}

std::string DescriptorFileName(const std::string& dir, uint64_t number) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%06llu", static_cast<unsigned long long>(number));
  std::string r = dir + "/";
  r.append(kManifestPrefix);
  r += buf;
  return r;
}

std::string CurrentFileName(const std::string& dir) {
  return dir + "/" + std::string(kCurrentName);
}
std::string LockFileName(const std::string& dir) { return dir + "/" + std::string(kLockName); }
std::string NodeIdFileName(const std::string& dir) { return dir + "/" + std::string(kNodeIdName); }

bool ParseFileName(const std::string& name, uint64_t* number, FileType* type) {
  std::string_view s(name);
  if (s == kCurrentName || s == kLockName || s == kNodeIdName) {
    *number = 0;
    *type = s == kCurrentName ? FileType::kCurrentFile
            : s == kLockName  ? FileType::kLockFile
                              : FileType::kNodeIdFile;
    return true;
  }
  if (s.starts_with(kManifestPrefix)) {
    *type = FileType::kDescriptorFile;
    return ParseNumber(s.substr(kManifestPrefix.size()), number);
  }
  struct Suffix {
    std::string_view suffix;
    FileType type;
  };
  static constexpr Suffix kSuffixes[] = {{kLogSuffix, FileType::kLogFile},
                                         {kTableSuffix, FileType::kTableFile},
                                         {kTempSuffix, FileType::kTempFile}};
  for (const Suffix& x : kSuffixes) {
    if (s.ends_with(x.suffix)) {
      *type = x.type;
      return ParseNumber(s.substr(0, s.size() - x.suffix.size()), number);
    }
  }
  return false;
}

Status ReadFileToString(Env* env, const std::string& path, std::string* data, size_t max_size) {
  data->clear();
  std::unique_ptr<SequentialFile> file;
  Status s = env->NewSequentialFile(path, &file);
  if (!s.ok()) return s;
  constexpr size_t kChunk = 8192;
  auto scratch = std::make_unique<char[]>(kChunk);
  while (true) {
    std::string_view got;
    s = file->Read(kChunk, &got, scratch.get());
    if (!s.ok()) return s;
    if (got.empty()) return Status::OK();
    if (data->size() + got.size() > max_size) {
      return Status::Corruption(path + " is larger than " + std::to_string(max_size) +
                                " bytes, which it never is when intact");
    }
    data->append(got.data(), got.size());
  }
}

Status WriteStringToFileSync(Env* env, std::string_view data, const std::string& path) {
  std::unique_ptr<WritableFile> file;
  Status s = env->NewWritableFile(path, &file);
  if (!s.ok()) return s;
  s = file->Append(data);
  if (s.ok()) s = file->Sync();
  if (s.ok()) s = file->Close();
  file.reset();
  if (!s.ok()) (void)env->RemoveFile(path);
  return s;
}

Status SetCurrentFile(Env* env, const std::string& dir, uint64_t descriptor_number) {
  std::string manifest = DescriptorFileName(dir, descriptor_number);
  std::string contents = manifest.substr(dir.size() + 1) + "\n";
  std::string tmp = TempFileName(dir, descriptor_number);
  Status s = WriteStringToFileSync(env, contents, tmp);
  if (!s.ok()) return s;
  s = env->SyncDir(dir);
  if (s.ok()) s = env->RenameFile(tmp, CurrentFileName(dir));
  if (!s.ok()) {
    (void)env->RemoveFile(tmp);
    return s;
  }
  // The rename is done; only its durability is left.
  return env->SyncDir(dir);
}

Status ReadCurrentFile(Env* env, const std::string& dir, std::string* manifest_name) {
  const std::string path = CurrentFileName(dir);
  std::string data;
  // "MANIFEST-" + 20 digits + "\n" is 30 bytes; anything much longer is damage.
  Status s = ReadFileToString(env, path, &data, 256);
  if (s.IsNotFound()) return s;
  if (!s.ok()) return s.IsCorruption() ? Status::Corruption("CURRENT file " + s.message()) : s;
  if (data.empty()) return Status::Corruption("CURRENT file " + path + " is empty");
  if (data.back() != '\n') {
    return Status::Corruption("CURRENT file " + path + " holds " + Quote(data) +
                              " without its trailing newline (a torn write?)");
  }
  data.pop_back();
  uint64_t number;
  FileType type;
  if (!ParseFileName(data, &number, &type) || type != FileType::kDescriptorFile) {
    return Status::Corruption("CURRENT file " + path + " holds " + Quote(data) +
                              ", which is not a manifest name");
  }
  if (!env->FileExists(dir + "/" + data)) {
    return Status::Corruption("CURRENT file " + path + " names " + data + " which does not exist");
  }
  *manifest_name = std::move(data);
  return Status::OK();
}

}  // namespace kv::storage
