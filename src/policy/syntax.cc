// ClonePolicy's small languages: actions ("errno(EACCES)"), values ("O_WRONLY|O_CREAT") and
// conditions ("arg1 & SOCK_RAW == SOCK_RAW"). Shared by the YAML parser, the CLI and Explain.
#include <cctype>
#include <charconv>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status.h"
#include "policy/internal/tables.h"
#include "policy/policy.h"

namespace clonebot::policy {
namespace {

using internal::AV;
using internal::ErrnoByName;

std::string_view Trim(std::string_view s) {
  absl::string_view t = absl::StripAsciiWhitespace(absl::string_view(s.data(), s.size()));
  return std::string_view(t.data(), t.size());
}

// An action as written: a name and an optional parenthesised argument list. Arguments are
// positional ("EPERM") or named ("errno=EPERM", for the fault action to come).
struct ActionSyntax {
  std::string name;
  std::vector<std::pair<std::string, std::string>> args;  // (key or "", value)
  bool has_parens = false;
};

absl::StatusOr<ActionSyntax> SplitAction(std::string_view text) {
  ActionSyntax a;
  text = Trim(text);
  size_t open = text.find('(');
  std::string_view name = Trim(text.substr(0, open));
  a.name = std::string(name);
  if (name.empty()) return absl::InvalidArgumentError("empty action");
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'))
      return absl::InvalidArgumentError(absl::StrCat("bad action '", AV(text), "'"));
  if (open == std::string_view::npos) return a;
  if (!text.ends_with(')'))
    return absl::InvalidArgumentError(absl::StrCat("bad action '", AV(text), "': missing ')'"));
  a.has_parens = true;
  std::string_view inner = Trim(text.substr(open + 1, text.size() - open - 2));
  if (inner.empty()) return a;
  for (absl::string_view part : absl::StrSplit(absl::string_view(inner.data(), inner.size()), ',')) {
    std::string_view p = Trim(std::string_view(part.data(), part.size()));
    size_t eq = p.find('=');
    if (eq == std::string_view::npos) {
      a.args.emplace_back("", std::string(p));
    } else {
      a.args.emplace_back(std::string(Trim(p.substr(0, eq))), std::string(Trim(p.substr(eq + 1))));
    }
    if (a.args.back().second.empty())
      return absl::InvalidArgumentError(absl::StrCat("bad action '", AV(text), "': empty argument"));
  }
  return a;
}

absl::StatusOr<uint64_t> ParseNumber(std::string_view t) {
  bool neg = false;
  if (t.starts_with('-')) {
    neg = true;
    t.remove_prefix(1);
  }
  int base = 10;
  if (t.starts_with("0x") || t.starts_with("0X")) {
    base = 16;
    t.remove_prefix(2);
  }
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v, base);
  if (t.empty() || ec != std::errc() || ptr != t.data() + t.size())
    return absl::InvalidArgumentError("not a number");
  if (neg) {
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + 1)
      return absl::InvalidArgumentError("out of range");
    v = static_cast<uint64_t>(-static_cast<__int128>(v));
  }
  return v;
}

absl::Status NoArgs(const ActionSyntax& s) {
  if (s.has_parens)
    return absl::InvalidArgumentError(absl::StrCat("action '", s.name, "' takes no arguments"));
  return absl::OkStatus();
}

absl::StatusOr<Action> MakeAllow(const ActionSyntax& s) {
  RETURN_IF_ERROR(NoArgs(s));
  return Action{ActionKind::kAllow};
}
absl::StatusOr<Action> MakeKillProcess(const ActionSyntax& s) {
  RETURN_IF_ERROR(NoArgs(s));
  return Action{ActionKind::kKillProcess};
}
absl::StatusOr<Action> MakeKillThread(const ActionSyntax& s) {
  RETURN_IF_ERROR(NoArgs(s));
  return Action{ActionKind::kKillThread};
}
absl::StatusOr<Action> MakeLog(const ActionSyntax& s) {
  RETURN_IF_ERROR(NoArgs(s));
  return Action{ActionKind::kLog};
}

absl::StatusOr<Action> MakeErrno(const ActionSyntax& s) {
  if (s.args.size() != 1 || !s.args[0].first.empty())
    return absl::InvalidArgumentError("errno takes one errno name or number: errno(EPERM), errno(13)");
  const std::string& v = s.args[0].second;
  Action a{ActionKind::kErrno};
  if (std::isdigit(static_cast<unsigned char>(v[0]))) {
    auto n = ParseNumber(v);
    if (!n.ok() || *n == 0 || *n >= 4096)
      return absl::InvalidArgumentError(absl::StrCat("errno(", v, "): the number must be 1..4095"));
    a.errno_value = static_cast<int>(*n);
  } else {
    auto e = ErrnoByName(v);
    if (!e) return absl::InvalidArgumentError(absl::StrCat("errno(", v, "): unknown errno name"));
    a.errno_value = *e;
  }
  return a;
}

absl::StatusOr<Action> MakeTrace(const ActionSyntax& s) {
  Action a{ActionKind::kTrace};
  if (s.args.empty()) return a;
  absl::StatusOr<uint64_t> n = absl::InvalidArgumentError("");
  if (s.args.size() == 1 && s.args[0].first.empty()) n = ParseNumber(s.args[0].second);
  if (!n.ok() || *n > 0xffff)
    return absl::InvalidArgumentError("trace takes an optional number 0..65535: trace, trace(7)");
  a.trace_data = static_cast<uint16_t>(*n);
  return a;
}

struct ActionDef {
  std::string_view name;
  std::string_view usage;
  absl::StatusOr<Action> (*make)(const ActionSyntax&);
};

// Every ClonePolicy action. New actions (redirect, fault) are rows here.
constexpr ActionDef kActions[] = {
    {"allow", "allow", MakeAllow},
    {"errno", "errno(E)", MakeErrno},
    {"kill-process", "kill-process", MakeKillProcess},
    {"kill-thread", "kill-thread", MakeKillThread},
    {"log", "log", MakeLog},
    {"trace", "trace(N)", MakeTrace},
};

}  // namespace

absl::StatusOr<Action> ParseAction(std::string_view text) {
  ASSIGN_OR_RETURN(ActionSyntax s, SplitAction(text));
  for (const ActionDef& d : kActions)
    if (d.name == s.name) return d.make(s);
  std::vector<std::string_view> names, usages;
  for (const ActionDef& d : kActions) {
    names.push_back(d.name);
    usages.push_back(d.usage);
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown action '", AV(Trim(text)), "' (expected ",
                                                 absl::StrJoin(usages, ", ", internal::SvFormatter()), ")",
                                                 internal::DidYouMean(s.name, names)));
}

std::string FormatAction(const Action& a) {
  switch (a.kind) {
    case ActionKind::kAllow: return "allow";
    case ActionKind::kErrno: return absl::StrCat("errno(", internal::ErrnoName(a.errno_value), ")");
    case ActionKind::kKillProcess: return "kill-process";
    case ActionKind::kKillThread: return "kill-thread";
    case ActionKind::kLog: return "log";
    case ActionKind::kTrace: return a.trace_data ? absl::StrCat("trace(", a.trace_data, ")") : "trace";
  }
  return "?";
}

absl::StatusOr<uint64_t> ParseValue(std::string_view text) {
  text = Trim(text);
  if (text.empty()) return absl::InvalidArgumentError("missing value");
  uint64_t v = 0;
  for (absl::string_view part : absl::StrSplit(absl::string_view(text.data(), text.size()), '|')) {
    std::string_view t = Trim(std::string_view(part.data(), part.size()));
    if (t.empty()) return absl::InvalidArgumentError(absl::StrCat("bad value '", AV(text), "'"));
    if (std::isdigit(static_cast<unsigned char>(t[0])) || t[0] == '-') {
      auto n = ParseNumber(t);
      if (!n.ok()) return absl::InvalidArgumentError(absl::StrCat("bad number '", AV(t), "'"));
      v |= *n;
      continue;
    }
    auto c = internal::ConstantByName(t);
    if (!c) {
      std::vector<std::string_view> names;
      for (const auto& k : internal::Constants()) names.push_back(k.name);
      return absl::InvalidArgumentError(
          absl::StrCat("unknown constant '", AV(t), "'", internal::DidYouMean(t, names),
                       " (use a number, or a name from docs/policy.md)"));
    }
    v |= *c;
  }
  return v;
}

absl::StatusOr<ArgCond> ParseCond(std::string_view text) {
  const std::string_view whole = Trim(text);
  auto bad = [&](absl::string_view why_a) {
    std::string_view why(why_a.data(), why_a.size());
    return absl::InvalidArgumentError(absl::StrCat("bad condition '", AV(whole), "': ", AV(why),
                                                   " (expected 'argN OP VALUE' or 'argN & MASK == VALUE')"));
  };
  std::string_view s = whole;
  if (!s.starts_with("arg")) return bad("it must start with arg0..arg5");
  s.remove_prefix(3);
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0])) ||
      (s.size() > 1 && std::isdigit(static_cast<unsigned char>(s[1]))))
    return bad("argument index must be 0..5");
  ArgCond c;
  c.index = static_cast<unsigned>(s[0] - '0');
  if (c.index > 5) return bad("argument index must be 0..5");
  s = Trim(s.substr(1));
  bool masked = false;
  if (s.starts_with('&')) {
    masked = true;
    s = Trim(s.substr(1));
    size_t op = s.find_first_of("=!<>");
    if (op == std::string_view::npos) return bad("missing '==' after the mask");
    auto m = ParseValue(s.substr(0, op));
    if (!m.ok()) return bad(m.status().message());
    c.mask = *m;
    s = s.substr(op);
  }
  static constexpr std::pair<std::string_view, CmpOp> kOps[] = {
      {"==", CmpOp::kEq}, {"!=", CmpOp::kNe}, {"<=", CmpOp::kLe},
      {">=", CmpOp::kGe}, {"<", CmpOp::kLt},  {">", CmpOp::kGt},
  };
  bool found = false;
  for (const auto& [tok, op] : kOps) {
    if (s.starts_with(tok)) {
      c.op = op;
      s.remove_prefix(tok.size());
      found = true;
      break;
    }
  }
  if (!found) return bad("missing operator (== != < <= > >=)");
  if (masked) {
    if (c.op != CmpOp::kEq) return bad("a masked comparison must use '=='");
    c.op = CmpOp::kMaskedEq;
  }
  auto v = ParseValue(s);
  if (!v.ok()) return bad(v.status().message());
  c.value = *v;
  if (masked && (c.value & ~c.mask) != 0)
    return bad("the value has bits outside the mask, so it can never match");
  return c;
}

std::string FormatCond(const ArgCond& c) {
  auto hex = [](uint64_t v) { return v < 10 ? absl::StrCat(v) : absl::StrFormat("0x%x", v); };
  const char* op = "==";
  switch (c.op) {
    case CmpOp::kEq: op = "=="; break;
    case CmpOp::kNe: op = "!="; break;
    case CmpOp::kLt: op = "<"; break;
    case CmpOp::kLe: op = "<="; break;
    case CmpOp::kGt: op = ">"; break;
    case CmpOp::kGe: op = ">="; break;
    case CmpOp::kMaskedEq:
      return absl::StrCat("arg", c.index, " & ", hex(c.mask), " == ", hex(c.value));
  }
  return absl::StrCat("arg", c.index, " ", op, " ", hex(c.value));
}

bool CondHolds(const ArgCond& c, const uint64_t args[6]) {
  const uint64_t x = args[c.index];
  switch (c.op) {
    case CmpOp::kEq: return x == c.value;
    case CmpOp::kNe: return x != c.value;
    case CmpOp::kLt: return x < c.value;
    case CmpOp::kLe: return x <= c.value;
    case CmpOp::kGt: return x > c.value;
    case CmpOp::kGe: return x >= c.value;
    case CmpOp::kMaskedEq: return (x & c.mask) == c.value;
  }
  return false;
}

std::string RuleLocation(const Policy& p, const Rule& r) {
  if (r.line > 0) return absl::StrCat(p.origin, ":", r.line, ":", r.column);
  if (r.entry >= 0) return absl::StrCat(p.origin, ": syscalls[", r.entry, "]");
  return "builtin";
}

}  // namespace clonebot::policy
