#include "helpers/reply.h"

#include <stdexcept>

namespace kv::test {

namespace {

void PrintQuoted(std::ostream& os, const std::string& s) {
  static constexpr size_t kMaxShown = 200;
  os << '"';
  for (size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
    unsigned char ch = static_cast<unsigned char>(s[i]);
    switch (ch) {
      case '"':
        os << "\\\"";
        break;
      case '\\':
        os << "\\\\";
        break;
      case '\r':
        os << "\\r";
        break;
      case '\n':
        os << "\\n";
        break;
      case '\t':
        os << "\\t";
        break;
      default:
        if (ch < 0x20 || ch >= 0x7f) {
          static const char* kHex = "0123456789abcdef";
          os << "\\x" << kHex[ch >> 4] << kHex[ch & 15];
        } else {
          os << static_cast<char>(ch);
        }
    }
  }
  if (s.size() > kMaxShown) os << "...(" << s.size() << " bytes)";
  os << '"';
}

}  // namespace

const char* TypeName(Reply::Type t) {
  switch (t) {
    case Reply::Type::kStatus:
      return "status";
    case Reply::Type::kError:
      return "error";
    case Reply::Type::kInteger:
      return "integer";
    case Reply::Type::kBulk:
      return "bulk";
    case Reply::Type::kNil:
      return "nil";
    case Reply::Type::kArray:
      return "array";
    case Reply::Type::kNull:
      return "null";
    case Reply::Type::kDouble:
      return "double";
    case Reply::Type::kBool:
      return "bool";
    case Reply::Type::kBigNumber:
      return "bignum";
    case Reply::Type::kVerbatim:
      return "verbatim";
    case Reply::Type::kMap:
      return "map";
    case Reply::Type::kSet:
      return "set";
    case Reply::Type::kPush:
      return "push";
    case Reply::Type::kIoError:
      return "io-error";
  }
  return "?";
}

bool operator==(const Reply& a, const Reply& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case Reply::Type::kInteger:
    case Reply::Type::kBool:
      return a.integer == b.integer;
    case Reply::Type::kNil:
    case Reply::Type::kNull:
      return true;
    case Reply::Type::kArray:
    case Reply::Type::kMap:
    case Reply::Type::kSet:
    case Reply::Type::kPush:
      return a.elements == b.elements;
    default:
      return a.str == b.str;
  }
}

std::ostream& operator<<(std::ostream& os, const Reply& r) {
  switch (r.type) {
    case Reply::Type::kInteger:
      return os << "(integer) " << r.integer;
    case Reply::Type::kBool:
      return os << "(bool) " << (r.integer ? "true" : "false");
    case Reply::Type::kNil:
      return os << "(nil)";
    case Reply::Type::kNull:
      return os << "(null)";
    case Reply::Type::kArray:
    case Reply::Type::kMap:
    case Reply::Type::kSet:
    case Reply::Type::kPush: {
      os << "(" << TypeName(r.type) << ")[";
      for (size_t i = 0; i < r.elements.size(); ++i) {
        if (i > 0) os << ", ";
        if (i >= 32) {
          os << "... " << r.elements.size() << " elements";
          break;
        }
        os << r.elements[i];
      }
      return os << "]";
    }
    default:
      os << "(" << TypeName(r.type) << ") ";
      PrintQuoted(os, r.str);
      return os;
  }
}

const Reply* Reply::Find(std::string_view k) const {
  for (size_t i = 0; i + 1 < elements.size(); i += 2) {
    const Reply& key = elements[i];
    if ((key.type == Type::kBulk || key.type == Type::kStatus) && key.str == k) {
      return &elements[i + 1];
    }
  }
  return nullptr;
}

Reply Status(std::string s) {
  Reply r;
  r.type = Reply::Type::kStatus;
  r.str = std::move(s);
  return r;
}

Reply Error(std::string s) {
  Reply r;
  r.type = Reply::Type::kError;
  r.str = std::move(s);
  return r;
}

Reply Int(long long v) {
  Reply r;
  r.type = Reply::Type::kInteger;
  r.integer = v;
  return r;
}

Reply Bulk(std::string s) {
  Reply r;
  r.type = Reply::Type::kBulk;
  r.str = std::move(s);
  return r;
}

Reply Nil() { return Reply{}; }

Reply IoError(std::string why) {
  Reply r;
  r.type = Reply::Type::kIoError;
  r.str = std::move(why);
  return r;
}

Reply Array(std::vector<Reply> elements) {
  Reply r;
  r.type = Reply::Type::kArray;
  r.elements = std::move(elements);
  return r;
}

Reply BulkArray(const std::vector<std::string>& items) {
  std::vector<Reply> elements;
  for (const auto& s : items) elements.push_back(Bulk(s));
  return Array(std::move(elements));
}

Reply FromHiredis(const redisReply* r, const redisContext* c) {
  Reply out;
  if (r == nullptr) {
    out.type = Reply::Type::kIoError;
    out.str = c != nullptr && c->err != 0 ? std::string(c->errstr) : "no reply";
    return out;
  }
  switch (r->type) {
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kBulk;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_NIL:
      out.type = Reply::Type::kNil;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      for (size_t i = 0; i < r->elements; ++i)
        out.elements.push_back(FromHiredis(r->element[i], c));
      break;
    default:
      out.type = Reply::Type::kIoError;
      out.str = "unknown hiredis reply type " + std::to_string(r->type);
  }
  return out;
}

Reply Call(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> argvlen;
  for (const auto& a : args) {
    argv.push_back(a.data());
    argvlen.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), argvlen.data()));
  Reply out = FromHiredis(r, c);
  if (r != nullptr) freeReplyObject(r);
  return out;
}

Conn ConnectFlushed(const ServerProcess& server) {
  Conn c = server.Connect();
  if (c->err != 0) throw std::runtime_error(std::string("connect: ") + c->errstr);
  Reply r = Call(c, {"FLUSHALL"});
  if (!(r == Status("OK"))) {
    throw std::runtime_error("FLUSHALL did not reply +OK");
  }
  return c;
}

long long CallInt(const Conn& c, const std::vector<std::string>& args) {
  Reply r = Call(c, args);
  return r.type == Reply::Type::kInteger ? r.integer : -999999;
}

}  // namespace kv::test
