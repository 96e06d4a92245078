// Docker/OCI seccomp profiles (JSON) -> Policy, and LoadPolicyFile's format detection.
// nlohmann::json throws; it is caught here. Mapping (docs/policy.md "Docker profiles"):
//   SCMP_ACT_ALLOW -> allow, SCMP_ACT_ERRNO -> errno(errnoRet, default EPERM),
//   SCMP_ACT_KILL / SCMP_ACT_KILL_THREAD -> kill-thread, SCMP_ACT_KILL_PROCESS -> kill-process,
//   SCMP_ACT_LOG -> log, SCMP_ACT_TRACE -> trace(errnoRet, default EPERM) as runc does;
//   SCMP_ACT_TRAP and SCMP_ACT_NOTIFY are refused (no SIGSYS handler, no listener).
#include <errno.h>
#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status.h"
#include "base/unique_fd.h"
#include "policy/internal/tables.h"
#include "policy/policy.h"

namespace clonebot::policy {
namespace {

using nlohmann::json;

// The names Docker uses for x86_64 in includes/excludes.arches.
bool IsNativeArchName(const std::string& a) {
  return a == "amd64" || a == "x86_64" || a == "SCMP_ARCH_X86_64";
}

std::pair<int, int> KernelVersion(const std::string& release) {
  int major = 0, minor = 0;
  if (sscanf(release.c_str(), "%d.%d", &major, &minor) < 1) return {0, 0};
  return {major, minor};
}

class DockerParser {
 public:
  DockerParser(std::string_view file, const DockerOptions& o) : file_(file) {
    std::string rel = o.kernel_release;
    if (rel.empty()) {
      utsname u;
      if (uname(&u) == 0) rel = u.release;
    }
    kernel_ = KernelVersion(rel);
  }

  absl::Status Err(std::string_view where, std::string_view msg) const {
    return absl::InvalidArgumentError(absl::StrCat(file_, ": ", internal::AV(where), where.empty() ? "" : ": ", internal::AV(msg)));
  }

  absl::StatusOr<Action> MapAction(std::string_view where, const json& entry, const std::string& name,
                                   const char* errno_key) const {
    std::optional<int64_t> ret;
    if (entry.contains(errno_key) && !entry[errno_key].is_null()) {
      if (!entry[errno_key].is_number_integer()) return Err(where, absl::StrCat("'", errno_key, "' must be a number"));
      ret = entry[errno_key].get<int64_t>();
    }
    if (name == "SCMP_ACT_ALLOW") return Action{ActionKind::kAllow};
    if (name == "SCMP_ACT_ERRNO") {
      int64_t e = ret.value_or(EPERM);
      if (e <= 0 || e >= 4096)
        return Err(where, absl::StrCat(errno_key, " ", e, " is not supported (clonebot needs 1..4095)"));
      return Action{ActionKind::kErrno, static_cast<int>(e)};
    }
    if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return Action{ActionKind::kKillThread};
    if (name == "SCMP_ACT_KILL_PROCESS") return Action{ActionKind::kKillProcess};
    if (name == "SCMP_ACT_LOG") return Action{ActionKind::kLog};
    if (name == "SCMP_ACT_TRACE") {
      int64_t d = ret.value_or(EPERM);
      if (d < 0 || d > 0xffff) return Err(where, absl::StrCat(errno_key, " ", d, " is out of range for SCMP_ACT_TRACE"));
      return Action{ActionKind::kTrace, 0, static_cast<uint16_t>(d)};
    }
    if (name == "SCMP_ACT_TRAP")
      return Err(where, "SCMP_ACT_TRAP is not supported: the sandboxed program has no SIGSYS handler; "
                        "use SCMP_ACT_ERRNO or SCMP_ACT_KILL_THREAD");
    if (name == "SCMP_ACT_NOTIFY") return Err(where, "SCMP_ACT_NOTIFY is not supported (no seccomp listener)");
    return Err(where, absl::StrCat("unknown action '", name, "'"));
  }

  // Whether an entry applies to clonebot's sandbox: x86_64, no capabilities, this kernel.
  enum class Skip { kNo, kCaps, kArch, kKernel };
  Skip Applies(const json& e) const {
    if (e.contains("includes") && e["includes"].is_object()) {
      const json& inc = e["includes"];
      if (inc.contains("caps") && inc["caps"].is_array() && !inc["caps"].empty()) return Skip::kCaps;
      if (inc.contains("arches") && inc["arches"].is_array() && !inc["arches"].empty()) {
        bool native = false;
        for (const json& a : inc["arches"])
          if (a.is_string() && IsNativeArchName(a.get<std::string>())) native = true;
        if (!native) return Skip::kArch;
      }
      if (inc.contains("minKernel") && inc["minKernel"].is_string()) {
        if (kernel_ < KernelVersion(inc["minKernel"].get<std::string>())) return Skip::kKernel;
      }
    }
    if (e.contains("excludes") && e["excludes"].is_object()) {
      const json& exc = e["excludes"];
      // excludes.caps: the entry applies to processes without those capabilities: ours.
      if (exc.contains("arches") && exc["arches"].is_array())
        for (const json& a : exc["arches"])
          if (a.is_string() && IsNativeArchName(a.get<std::string>())) return Skip::kArch;
    }
    return Skip::kNo;
  }

  absl::StatusOr<std::vector<ArgCond>> Args(std::string_view where, const json& e) const {
    std::vector<ArgCond> out;
    if (!e.contains("args") || e["args"].is_null()) return out;
    if (!e["args"].is_array()) return Err(where, "'args' must be an array");
    for (size_t i = 0; i < e["args"].size(); i++) {
      const json& a = e["args"][i];
      const std::string w = absl::StrCat(internal::AV(where), ".args[", i, "]");
      if (!a.is_object()) return Err(w, "must be an object");
      if (!a.contains("index") || !a["index"].is_number_unsigned() || a["index"].get<uint64_t>() > 5)
        return Err(w, "'index' must be 0..5");
      if (!a.contains("op") || !a["op"].is_string()) return Err(w, "missing 'op'");
      auto num = [&](const char* key) -> absl::StatusOr<uint64_t> {
        if (!a.contains(key) || a[key].is_null()) return uint64_t{0};
        if (a[key].is_number_unsigned()) return a[key].get<uint64_t>();
        if (a[key].is_number_integer()) return static_cast<uint64_t>(a[key].get<int64_t>());
        return Err(w, absl::StrCat("'", key, "' must be a number"));
      };
      ASSIGN_OR_RETURN(uint64_t value, num("value"));
      ASSIGN_OR_RETURN(uint64_t value2, num("valueTwo"));
      ArgCond c;
      c.index = a["index"].get<unsigned>();
      c.value = value;
      const std::string op = a["op"].get<std::string>();
      if (op == "SCMP_CMP_EQ") c.op = CmpOp::kEq;
      else if (op == "SCMP_CMP_NE") c.op = CmpOp::kNe;
      else if (op == "SCMP_CMP_LT") c.op = CmpOp::kLt;
      else if (op == "SCMP_CMP_LE") c.op = CmpOp::kLe;
      else if (op == "SCMP_CMP_GT") c.op = CmpOp::kGt;
      else if (op == "SCMP_CMP_GE") c.op = CmpOp::kGe;
      else if (op == "SCMP_CMP_MASKED_EQ") {
        c.op = CmpOp::kMaskedEq;  // libseccomp: (arg & value) == valueTwo
        c.mask = value;
        c.value = value2;
      } else {
        return Err(w, absl::StrCat("unknown op '", op, "'"));
      }
      out.push_back(c);
    }
    return out;
  }

  absl::StatusOr<Policy> Parse(const json& j) {
    Policy p;
    p.origin = std::string(file_);
    p.format = "docker-seccomp";
    if (!j.is_object()) return Err("", "a Docker seccomp profile is a JSON object");
    if (!j.contains("defaultAction") || !j["defaultAction"].is_string()) return Err("", "missing 'defaultAction'");
    ASSIGN_OR_RETURN(p.default_action,
                     MapAction("defaultAction", j, j["defaultAction"].get<std::string>(), "defaultErrnoRet"));
    if (!j.contains("syscalls") || j["syscalls"].is_null()) return p;
    if (!j["syscalls"].is_array()) return Err("syscalls", "must be an array");
    std::vector<std::string> skipped_names;
    int skipped[4] = {};
    const json& calls = j["syscalls"];
    for (size_t i = 0; i < calls.size(); i++) {
      const json& e = calls[i];
      const std::string where = absl::StrCat("syscalls[", i, "]");
      if (!e.is_object()) return Err(where, "must be an object");
      std::vector<std::string> names;
      if (e.contains("names") && e["names"].is_array()) {
        for (const json& n : e["names"]) {
          if (!n.is_string()) return Err(where, "'names' must hold strings");
          names.push_back(n.get<std::string>());
        }
      } else if (e.contains("name") && e["name"].is_string()) {
        names.push_back(e["name"].get<std::string>());
      } else {
        return Err(where, "missing 'names'");
      }
      if (!e.contains("action") || !e["action"].is_string()) return Err(where, "missing 'action'");
      ASSIGN_OR_RETURN(Action action, MapAction(where, e, e["action"].get<std::string>(), "errnoRet"));
      ASSIGN_OR_RETURN(std::vector<ArgCond> args, Args(where, e));
      Skip s = Applies(e);
      if (s != Skip::kNo) {
        skipped[static_cast<int>(s)]++;
        continue;
      }
      Rule r;
      r.entry = static_cast<int>(i);
      r.action = action;
      for (const std::string& n : names) {
        if (!internal::NativeSyscallNumber(n)) {
          skipped_names.push_back(n);
          continue;
        }
        if (std::find(r.syscalls.begin(), r.syscalls.end(), n) == r.syscalls.end()) r.syscalls.push_back(n);
      }
      if (r.syscalls.empty()) continue;
      r.written = r.syscalls;
      std::string names_text = r.syscalls.size() <= 6
                                   ? absl::StrJoin(r.syscalls, ", ")
                                   : absl::StrCat(absl::StrJoin(r.syscalls.begin(), r.syscalls.begin() + 5, ", "),
                                                  ", ... (", r.syscalls.size(), " names)");
      // runc: if one argument index appears twice, each comparison is a rule of its own (OR).
      bool repeated = false;
      for (size_t a = 0; a < args.size(); a++)
        for (size_t b = a + 1; b < args.size(); b++) repeated |= args[a].index == args[b].index;
      std::vector<std::vector<ArgCond>> alternatives;
      if (repeated) {
        for (const ArgCond& c : args) alternatives.push_back({c});
      } else {
        alternatives.push_back(args);
      }
      for (const auto& alt : alternatives) {
        Rule ri = r;
        ri.args = alt;
        ri.source = names_text;
        std::vector<std::string> conds;
        for (const ArgCond& c : alt) conds.push_back(FormatCond(c));
        if (!conds.empty()) absl::StrAppend(&ri.source, " when ", absl::StrJoin(conds, " and "));
        p.rules.push_back(std::move(ri));
      }
    }
    if (skipped[static_cast<int>(Skip::kCaps)])
      p.notes.push_back(absl::StrCat("skipped ", skipped[static_cast<int>(Skip::kCaps)],
                                     " entries that apply only with capabilities (the sandbox has none)"));
    if (skipped[static_cast<int>(Skip::kArch)])
      p.notes.push_back(absl::StrCat("skipped ", skipped[static_cast<int>(Skip::kArch)],
                                     " entries for other architectures"));
    if (skipped[static_cast<int>(Skip::kKernel)])
      p.notes.push_back(absl::StrCat("skipped ", skipped[static_cast<int>(Skip::kKernel)],
                                     " entries that need a newer kernel (minKernel)"));
    if (!skipped_names.empty())
      p.notes.push_back(absl::StrCat("skipped ", skipped_names.size(), " syscall names unknown on x86_64: ",
                                     absl::StrJoin(skipped_names, " ")));
    return p;
  }

 private:
  std::string file_;
  std::pair<int, int> kernel_;
};

// "[json.exception.parse_error.101] parse error at line 3, column 5: syntax error ..." ->
// "syntax error ...".
std::string JsonMessage(const std::string& what) {
  size_t col = what.find("column ");
  if (col != std::string::npos) {
    size_t colon = what.find(": ", col);
    if (colon != std::string::npos) return what.substr(colon + 2);
  }
  size_t br = what.find("] ");
  return br == std::string::npos ? what : what.substr(br + 2);
}

}  // namespace

absl::StatusOr<Policy> ParseDockerProfile(std::string_view json_text, std::string_view file_name,
                                          const DockerOptions& o) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::parse_error& e) {
    // e.byte is 1-based and points at the offending character.
    size_t line = 1, col = 1;
    for (size_t i = 0; i + 1 < e.byte && i < json_text.size(); i++) {
      if (json_text[i] == '\n') {
        line++;
        col = 1;
      } else {
        col++;
      }
    }
    return absl::InvalidArgumentError(
        absl::StrCat(internal::AV(file_name), ":", line, ":", col, ": JSON syntax error: ", JsonMessage(e.what())));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(internal::AV(file_name), ": ", e.what()));
  }
  DockerParser parser(file_name, o);
  try {
    return parser.Parse(j);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(internal::AV(file_name), ": ", JsonMessage(e.what())));
  }
}

absl::StatusOr<Policy> LoadPolicyFile(const std::string& path) {
  base::UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot open: ", strerror(errno)));
  std::string text;
  char buf[65536];
  while (true) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot read: ", strerror(errno)));
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '{') {
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if ((j.is_object() && j.contains("defaultAction")) ||
        (j.is_discarded() && text.find("\"defaultAction\"") != std::string::npos))
      return ParseDockerProfile(text, path);
  }
  return ParseClonePolicy(text, path);
}

}  // namespace clonebot::policy
