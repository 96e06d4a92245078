#include "base/json.h"

#include <cstdint>
#include <cstdio>

namespace clonebot::base {
namespace {

// Length of a valid UTF-8 sequence starting at p (p < end), or 0 if invalid.
size_t Utf8Len(const unsigned char* p, const unsigned char* end) {
  unsigned char c = p[0];
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) { n = 2; cp = c & 0x1F; }
  else if ((c & 0xF0) == 0xE0) { n = 3; cp = c & 0x0F; }
  else if ((c & 0xF8) == 0xF0) { n = 4; cp = c & 0x07; }
  else return 0;
  if (static_cast<size_t>(end - p) < n) return 0;
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}

}  // namespace

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    switch (c) {
      case '"': out->append("\\\""); p++; continue;
      case '\\': out->append("\\\\"); p++; continue;
      case '\n': out->append("\\n"); p++; continue;
      case '\t': out->append("\\t"); p++; continue;
      case '\r': out->append("\\r"); p++; continue;
      default: break;
    }
    if (c < 0x20) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\u%04x", c);
      out->append(buf);
      p++;
      continue;
    }
    size_t n = Utf8Len(p, end);
    if (n == 0) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\u%04x", c);
      out->append(buf);
      p++;
      continue;
    }
    out->append(reinterpret_cast<const char*>(p), n);
    p += n;
  }
  out->push_back('"');
}

}  // namespace clonebot::base
