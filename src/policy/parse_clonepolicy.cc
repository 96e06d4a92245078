// ClonePolicy v1 (YAML) -> Policy. yaml-cpp throws; everything it throws is caught here and
// becomes "FILE:LINE:COL: message". Unknown keys are errors, so that later versions can add
// keys without old files meaning something else silently.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status.h"
#include "policy/internal/tables.h"
#include "policy/policy.h"

namespace clonebot::policy {
namespace {

constexpr int kVersion = 1;
constexpr std::string_view kTopKeys[] = {"clonepolicy", "default", "rules"};
constexpr std::string_view kRuleKeys[] = {"syscall", "syscalls", "when", "action"};

class Parser {
 public:
  explicit Parser(std::string_view file) : file_(file) {}

  absl::Status Err(const YAML::Mark& m, std::string_view msg) const {
    if (m.is_null() || m.line < 0) return absl::InvalidArgumentError(absl::StrCat(file_, ": ", internal::AV(msg)));
    return absl::InvalidArgumentError(absl::StrCat(file_, ":", m.line + 1, ":", m.column + 1, ": ", internal::AV(msg)));
  }
  // Prefixes a location-less error (from ParseAction, ParseCond) with |node|'s position.
  absl::Status At(const YAML::Node& node, const absl::Status& st) const { return Err(node.Mark(), std::string(st.message())); }

  absl::StatusOr<Policy> Parse(std::string_view text) {
    YAML::Node root = YAML::Load(std::string(text));
    Policy p;
    p.origin = std::string(file_);
    p.format = "clonepolicy-v1";
    if (!root.IsDefined() || root.IsNull())
      return absl::InvalidArgumentError(
          absl::StrCat(file_, ":1:1: empty policy (a ClonePolicy file starts with 'clonepolicy: 1')"));
    if (!root.IsMap())
      return Err(root.Mark(), "a ClonePolicy file is a YAML mapping that starts with 'clonepolicy: 1'");

    std::set<std::string> seen;
    bool have_version = false, have_default = false;
    for (auto it = root.begin(); it != root.end(); ++it) {
      const YAML::Node key = it->first;
      const YAML::Node val = it->second;
      if (!key.IsScalar()) return Err(key.Mark(), "keys must be plain names");
      const std::string k = key.Scalar();
      if (!seen.insert(k).second) return Err(key.Mark(), absl::StrCat("duplicate key '", k, "'"));
      if (k == "clonepolicy") {
        if (!val.IsScalar() || val.Scalar() != std::to_string(kVersion))
          return Err(val.Mark(), absl::StrCat("unsupported version '", val.IsScalar() ? val.Scalar() : "?",
                                              "' (this clonebot reads clonepolicy: ", kVersion, ")"));
        have_version = true;
      } else if (k == "default") {
        if (!val.IsScalar()) return Err(val.Mark(), "'default' must be an action such as allow or errno(EPERM)");
        auto a = ParseAction(val.Scalar());
        if (!a.ok()) return At(val, a.status());
        p.default_action = *a;
        have_default = true;
      } else if (k == "rules") {
        if (val.IsNull()) continue;
        if (!val.IsSequence()) return Err(val.Mark(), "'rules' must be a list of rules");
        for (const YAML::Node& r : val) {
          ASSIGN_OR_RETURN(Rule rule, ParseRule(r));
          p.rules.push_back(std::move(rule));
        }
      } else {
        return Err(key.Mark(), UnknownKey(k, kTopKeys, ""));
      }
    }
    if (!have_version)
      return Err(root.Mark(), "missing 'clonepolicy: 1' (the format version)");
    if (!have_default)
      return Err(root.Mark(), "missing 'default' (the action for syscalls no rule matches, e.g. 'default: allow')");
    return p;
  }

 private:
  template <size_t N>
  static std::string UnknownKey(const std::string& k, const std::string_view (&keys)[N], std::string_view where) {
    std::vector<std::string_view> v(std::begin(keys), std::end(keys));
    return absl::StrCat("unknown key '", k, "'", internal::AV(where), " (expected ",
                        absl::StrJoin(v, ", ", internal::SvFormatter()), ")",
                        internal::DidYouMean(k, v));
  }

  absl::Status AddSyscall(const YAML::Node& node, Rule* r) const {
    if (!node.IsScalar() || node.Scalar().empty())
      return Err(node.Mark(), "a syscall must be a name such as 'openat' or a class such as '@network-io'");
    const std::string& name = node.Scalar();
    auto add = [&](const std::string& s) {
      if (std::find(r->syscalls.begin(), r->syscalls.end(), s) == r->syscalls.end()) r->syscalls.push_back(s);
    };
    if (name[0] == '@') {
      const internal::SyscallClassDef* c = internal::FindClass(std::string_view(name).substr(1));
      if (c == nullptr) {
        std::vector<std::string> owned;
        for (const auto& d : internal::SyscallClasses()) owned.push_back(absl::StrCat("@", internal::AV(d.name)));
        std::vector<std::string_view> names(owned.begin(), owned.end());
        return Err(node.Mark(), absl::StrCat("unknown syscall class '", name, "'", internal::DidYouMean(name, names),
                                             " (classes: ", absl::StrJoin(owned, " "), ")"));
      }
      for (const std::string& s : internal::ExpandClass(*c)) add(s);
    } else if (auto nr = ResolveSyscall(name); nr.ok()) {
      add(name);
    } else {
      return At(node, nr.status());
    }
    r->written.push_back(name);
    return absl::OkStatus();
  }

  absl::StatusOr<Rule> ParseRule(const YAML::Node& node) const {
    if (!node.IsMap())
      return Err(node.Mark(), "a rule is a mapping with 'syscalls' (or 'syscall'), optional 'when', and 'action'");
    Rule r;
    r.line = node.Mark().line + 1;
    r.column = node.Mark().column + 1;
    std::set<std::string> seen;
    std::vector<std::string> conds_text;
    bool have_action = false, have_syscalls = false;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node key = it->first;
      const YAML::Node val = it->second;
      if (!key.IsScalar()) return Err(key.Mark(), "keys must be plain names");
      const std::string k = key.Scalar();
      if (!seen.insert(k).second) return Err(key.Mark(), absl::StrCat("duplicate key '", k, "' in rule"));
      if (k == "syscall" || k == "syscalls") {
        if (have_syscalls) return Err(key.Mark(), "a rule has either 'syscall' or 'syscalls', not both");
        have_syscalls = true;
        if (val.IsSequence()) {
          if (val.size() == 0) return Err(val.Mark(), "empty syscall list");
          for (const YAML::Node& s : val) RETURN_IF_ERROR(AddSyscall(s, &r));
        } else {
          RETURN_IF_ERROR(AddSyscall(val, &r));
        }
      } else if (k == "when") {
        std::vector<YAML::Node> items;
        if (val.IsSequence()) {
          for (const YAML::Node& c : val) items.push_back(c);
        } else {
          items.push_back(val);
        }
        for (const YAML::Node& c : items) {
          if (!c.IsScalar()) return Err(c.Mark(), "a condition is a string such as 'arg0 == AF_INET'");
          auto cond = ParseCond(c.Scalar());
          if (!cond.ok()) return At(c, cond.status());
          r.args.push_back(*cond);
          conds_text.push_back(c.Scalar());
        }
      } else if (k == "action") {
        if (!val.IsScalar()) return Err(val.Mark(), "'action' must be an action such as errno(EACCES)");
        auto a = ParseAction(val.Scalar());
        if (!a.ok()) return At(val, a.status());
        r.action = *a;
        have_action = true;
      } else {
        return Err(key.Mark(), UnknownKey(k, kRuleKeys, " in rule"));
      }
    }
    if (!have_syscalls) return Err(node.Mark(), "a rule needs 'syscalls' (or 'syscall')");
    if (!have_action) return Err(node.Mark(), "a rule needs an 'action'");
    r.source = absl::StrJoin(r.written, ", ");
    if (!conds_text.empty()) absl::StrAppend(&r.source, " when ", absl::StrJoin(conds_text, " and "));
    return r;
  }

  std::string file_;
};

}  // namespace

absl::StatusOr<Policy> ParseClonePolicy(std::string_view yaml_text, std::string_view file_name) {
  Parser parser(file_name);
  try {
    return parser.Parse(yaml_text);
  } catch (const YAML::Exception& e) {
    return parser.Err(e.mark, absl::StrCat("YAML syntax error: ", e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(internal::AV(file_name), ": ", e.what()));
  }
}

}  // namespace clonebot::policy
