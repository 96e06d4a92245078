// Flag value parsers for `clonebot run`.
#include <limits.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "sandbox/sandbox.h"

namespace clonebot::sandbox {
namespace {

// A non-negative decimal with an optional fraction; the rest of |s| goes to |suffix|.
bool SplitNumber(absl::string_view s, double* v, absl::string_view* suffix) {
  size_t i = 0;
  while (i < s.size() && (absl::ascii_isdigit(s[i]) || s[i] == '.')) i++;
  if (i == 0) return false;
  if (!absl::SimpleAtod(s.substr(0, i), v) || !std::isfinite(*v) || *v < 0) return false;
  *suffix = s.substr(i);
  return true;
}

}  // namespace

absl::StatusOr<uint64_t> ParseSize(std::string_view in) {
  absl::string_view s(in.data(), in.size());
  absl::string_view suf;
  double v;
  s = absl::StripAsciiWhitespace(s);
  if (!SplitNumber(s, &v, &suf))
    return absl::InvalidArgumentError(absl::StrCat("bad size '", s, "' (examples: 256M, 1G, 1.5G, 65536)"));
  std::string u = absl::AsciiStrToUpper(suf);
  if (!u.empty() && u.back() == 'B') u.pop_back();
  if (u.size() == 2 && u[1] == 'I') u.pop_back();  // Ki, Mi, Gi: the same binary units
  double mult;
  if (u.empty()) mult = 1;
  else if (u == "K") mult = 1024.0;
  else if (u == "M") mult = 1024.0 * 1024;
  else if (u == "G") mult = 1024.0 * 1024 * 1024;
  else if (u == "T") mult = 1024.0 * 1024 * 1024 * 1024;
  else return absl::InvalidArgumentError(absl::StrCat("bad size unit in '", s, "' (K, M, G or T)"));
  double bytes = v * mult;
  if (bytes >= 1.8e19) return absl::InvalidArgumentError(absl::StrCat("size '", s, "' is too large"));
  return static_cast<uint64_t>(bytes);
}

absl::StatusOr<double> ParseCpu(std::string_view in) {
  absl::string_view s(in.data(), in.size());
  absl::string_view suf;
  double v;
  s = absl::StripAsciiWhitespace(s);
  if (!SplitNumber(s, &v, &suf) || (suf != "" && suf != "%"))
    return absl::InvalidArgumentError(absl::StrCat("bad CPU limit '", s, "' (50% = half a CPU, 1.5 = one and a half)"));
  double cpus = suf == "%" ? v / 100.0 : v;
  if (cpus < 0.01) return absl::InvalidArgumentError(absl::StrCat("CPU limit '", s, "' is below 1% of a CPU"));
  return cpus;
}

absl::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view in) {
  absl::string_view s(in.data(), in.size());
  absl::string_view suf;
  double v;
  s = absl::StripAsciiWhitespace(s);
  if (!SplitNumber(s, &v, &suf))
    return absl::InvalidArgumentError(absl::StrCat("bad duration '", s, "' (examples: 10s, 500ms, 2m, 1h)"));
  double ms;
  if (suf == "ms") ms = v;
  else if (suf == "" || suf == "s") ms = v * 1e3;
  else if (suf == "m") ms = v * 60e3;
  else if (suf == "h") ms = v * 3600e3;
  else return absl::InvalidArgumentError(absl::StrCat("bad duration unit in '", s, "' (ms, s, m or h)"));
  if (ms < 1 || ms > 1e12) return absl::InvalidArgumentError(absl::StrCat("duration '", s, "' is out of range"));
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

absl::StatusOr<Rlimit> ParseRlimit(std::string_view in) {
  absl::string_view s(in.data(), in.size());
  static const std::map<std::string, int, std::less<>> kNames = {
      {"as", RLIMIT_AS},           {"core", RLIMIT_CORE},     {"cpu", RLIMIT_CPU},
      {"data", RLIMIT_DATA},       {"fsize", RLIMIT_FSIZE},   {"locks", RLIMIT_LOCKS},
      {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
      {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},   {"rss", RLIMIT_RSS},
      {"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME}, {"sigpending", RLIMIT_SIGPENDING},
      {"stack", RLIMIT_STACK}};
  std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(s, absl::MaxSplits('=', 1));
  std::string name = absl::AsciiStrToLower(kv.first);
  if (name.rfind("rlimit_", 0) == 0) name = name.substr(7);
  auto it = kNames.find(name);
  if (it == kNames.end()) {
    std::string all;
    for (const auto& [n, r] : kNames) absl::StrAppend(&all, all.empty() ? "" : ", ", n);
    return absl::InvalidArgumentError(absl::StrCat("unknown rlimit '", kv.first, "' in '", s, "' (", all, ")"));
  }
  if (kv.second.empty())
    return absl::InvalidArgumentError(absl::StrCat("rlimit '", s, "' needs a value: NAME=VALUE or NAME=SOFT:HARD"));
  auto value = [&](absl::string_view v) -> absl::StatusOr<uint64_t> {
    if (v == "unlimited" || v == "infinity") return static_cast<uint64_t>(RLIM_INFINITY);
    // Sizes take units (as=1G); counts and seconds are plain numbers, which ParseSize also takes.
    auto r = ParseSize(std::string_view(v.data(), v.size()));
    if (!r.ok()) return absl::InvalidArgumentError(absl::StrCat("bad rlimit value '", v, "' in '", s, "'"));
    return r;
  };
  Rlimit r;
  r.resource = it->second;
  r.name = name;
  std::pair<absl::string_view, absl::string_view> sh = absl::StrSplit(kv.second, absl::MaxSplits(':', 1));
  auto soft = value(sh.first);
  if (!soft.ok()) return soft.status();
  r.soft = *soft;
  if (kv.second.find(':') != absl::string_view::npos) {
    auto hard = value(sh.second);
    if (!hard.ok()) return hard.status();
    r.hard = *hard;
    if (r.soft > r.hard) return absl::InvalidArgumentError(absl::StrCat("rlimit '", s, "': soft above hard"));
  } else {
    // One value sets both, as `ulimit -S -H` does; the hard limit can only be lowered without
    // CAP_SYS_RESOURCE, so a value above the current hard limit fails at set-up, naming it.
    r.hard = r.soft;
  }
  return r;
}

absl::StatusOr<Bind> ParseBind(std::string_view in, bool writable) {
  absl::string_view s(in.data(), in.size());
  std::pair<absl::string_view, absl::string_view> sd = absl::StrSplit(s, absl::MaxSplits(':', 1));
  if (sd.first.empty()) return absl::InvalidArgumentError(absl::StrCat("bad bind '", s, "' (SRC or SRC:DST)"));
  char real[PATH_MAX];
  std::string src(sd.first);
  if (realpath(src.c_str(), real) == nullptr)
    return absl::NotFoundError(absl::StrCat("bind source '", src, "': ", strerror(errno)));
  Bind b;
  b.source = real;
  b.writable = writable;
  if (s.find(':') != absl::string_view::npos) {
    if (sd.second.empty() || sd.second[0] != '/')
      return absl::InvalidArgumentError(absl::StrCat("bind target in '", s, "' must be an absolute path"));
    b.target = std::string(sd.second);
  } else {
    b.target = b.source;
  }
  while (b.target.size() > 1 && b.target.back() == '/') b.target.pop_back();
  if (b.target == "/" || b.target == "/proc" || b.target.rfind("/proc/", 0) == 0)
    return absl::InvalidArgumentError(absl::StrCat("cannot bind over ", b.target));
  if (b.target.find("/../") != std::string::npos || b.target.ends_with("/.."))
    return absl::InvalidArgumentError(absl::StrCat("bind target '", b.target, "' must not contain '..'"));
  return b;
}

}  // namespace clonebot::sandbox
