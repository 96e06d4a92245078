#include "snapshot/maps.h"

#include <fcntl.h>

#include <cinttypes>
#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/status.h"
#include "base/unique_fd.h"

namespace clonebot::snapshot {
namespace {

bool ParseHex(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 16) return false;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return false;
    v = v << 4 | d;
  }
  *out = v;
  return true;
}

// Splits off the next space-delimited field (fields are separated by one or more spaces).
std::string_view NextField(std::string_view* rest) {
  size_t b = rest->find_first_not_of(' ');
  if (b == std::string_view::npos) {
    *rest = {};
    return {};
  }
  rest->remove_prefix(b);
  size_t e = rest->find(' ');
  std::string_view f = rest->substr(0, e);
  rest->remove_prefix(e == std::string_view::npos ? rest->size() : e);
  return f;
}

}  // namespace

std::string Mapping::DisplayName() const {
  if (path.empty()) return "[anon]";
  return deleted ? path + " (deleted)" : path;
}

absl::StatusOr<std::vector<Mapping>> ParseMaps(std::string_view text) {
  std::vector<Mapping> out;
  int lineno = 0;
  for (absl::string_view aline : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n', absl::SkipEmpty())) {
    std::string_view line(aline.data(), aline.size());
    lineno++;
    auto bad = [&] {
      return absl::InvalidArgumentError(absl::StrFormat("maps line %d is malformed: %s", lineno, line));
    };
    std::string_view rest = line;
    std::string_view range = NextField(&rest), perms = NextField(&rest), off = NextField(&rest),
                     dev = NextField(&rest), ino = NextField(&rest);
    Mapping m;
    size_t dash = range.find('-');
    size_t colon = dev.find(':');
    if (dash == std::string_view::npos || colon == std::string_view::npos || perms.size() != 4 ||
        !ParseHex(range.substr(0, dash), &m.start) || !ParseHex(range.substr(dash + 1), &m.end) ||
        m.end < m.start || !ParseHex(off, &m.offset) || !absl::SimpleAtoi(absl::string_view(ino.data(), ino.size()), &m.inode))
      return bad();
    uint64_t maj, min;
    if (!ParseHex(dev.substr(0, colon), &maj) || !ParseHex(dev.substr(colon + 1), &min)) return bad();
    m.dev_major = static_cast<uint32_t>(maj);
    m.dev_minor = static_cast<uint32_t>(min);
    m.perms = std::string(perms);
    // The path is the rest after the padding; it may itself contain spaces.
    size_t p = rest.find_first_not_of(' ');
    std::string_view path = p == std::string_view::npos ? std::string_view() : rest.substr(p);
    if (path.size() >= 10 && path.substr(path.size() - 10) == " (deleted)") {
      path.remove_suffix(10);
      m.deleted = true;
    }
    m.path = std::string(path);
    out.push_back(std::move(m));
  }
  return out;
}

absl::StatusOr<std::vector<Mapping>> ReadMaps(pid_t pid) {
  std::string path = absl::StrFormat("/proc/%d/maps", pid);
  base::UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return base::ErrnoError("open(%s)", path);
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return base::ErrnoError("read(%s)", path);
    }
    if (n == 0) break;
    text.append(buf, n);
  }
  return ParseMaps(text);
}

std::string SkipReason(const Mapping& m) {
  if (m.path == "[vvar]" || m.path == "[vvar_vclock]" || m.path == "[vdso]" || m.path == "[vsyscall]")
    return "kernel-provided " + m.path;
  if (!m.readable()) return "no read permission (guard or reservation)";
  if (m.path.rfind("/dev/", 0) == 0 && m.path != "/dev/zero" && m.path.rfind("/dev/shm/", 0) != 0)
    return "device mapping";
  return "";
}

}  // namespace clonebot::snapshot
