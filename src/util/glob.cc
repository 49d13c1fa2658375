#include "util/glob.h"

#include <cctype>

namespace kv::util {
namespace {

inline unsigned char Fold(unsigned char c, bool nocase) {
  return nocase ? static_cast<unsigned char>(tolower(c)) : c;
}

// Recursion depth is bounded by the number of '*' in the pattern; the
// `nesting` cap keeps a hostile pattern like "a*a*a*...b" from exploding.
bool Match(const char* p, const char* pend, const char* s, const char* send, bool nocase,
           int nesting, bool* skip_longer) {
  if (nesting > 1000) return false;
  while (p < pend && s < send) {
    switch (*p) {
      case '*': {
        while (p + 1 < pend && p[1] == '*') p++;
        if (p + 1 == pend) return true;
        while (s < send) {
          if (Match(p + 1, pend, s, send, nocase, nesting + 1, skip_longer)) return true;
          if (*skip_longer) return false;
          s++;
        }
        *skip_longer = true;
        return false;
      }
      case '?':
        s++;
        break;
      case '[': {
        p++;
        bool negate = p < pend && *p == '^';
        if (negate) p++;
        bool matched = false;
        while (p < pend && *p != ']') {
          if (*p == '\\' && p + 1 < pend) {
            p++;
            if (Fold(*p, nocase) == Fold(*s, nocase)) matched = true;
          } else if (p + 2 < pend && p[1] == '-') {
            unsigned char lo = Fold(p[0], nocase), hi = Fold(p[2], nocase);
            if (lo > hi) std::swap(lo, hi);
            unsigned char c = Fold(*s, nocase);
            if (c >= lo && c <= hi) matched = true;
            p += 2;
          } else if (Fold(*p, nocase) == Fold(*s, nocase)) {
            matched = true;
          }
          p++;
        }
        if (p == pend) p--;  // unterminated class: treat the end as ']'
        if (negate) matched = !matched;
        if (!matched) return false;
        s++;
        break;
      }
      case '\\':
        if (p + 1 < pend) p++;
        [[fallthrough]];
      default:
        if (Fold(*p, nocase) != Fold(*s, nocase)) return false;
        s++;
        break;
    }
    p++;
  }
  while (p < pend && *p == '*') p++;
  return p == pend && s == send;
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text, bool nocase) {
  bool skip_longer = false;
  return Match(pattern.data(), pattern.data() + pattern.size(), text.data(),
               text.data() + text.size(), nocase, 0, &skip_longer);
}

}  // namespace kv::util
