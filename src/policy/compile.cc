// Policy -> seccomp BPF, first match wins (internal/bpf_gen.h says why not libseccomp).
#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "policy/bpf_interp.h"
#include "policy/internal/bpf_gen.h"
#include "policy/internal/tables.h"
#include "policy/policy.h"

namespace clonebot::policy {
namespace {

constexpr std::string_view kIoUring[] = {"io_uring_setup", "io_uring_enter", "io_uring_register"};

// One rule as it applies to one syscall, in first-match order.
struct Entry {
  std::optional<size_t> rule;  // index in Policy::rules; nullopt: the implicit io_uring denial
  Action action;
  std::vector<ArgCond> conds;
  bool explicit_name = false;  // the rule names the syscall itself, not through a class
};

struct SyscallRules {
  std::string name;
  std::vector<Entry> entries;
};

// Whether every argument vector satisfying all of |c| satisfies |a| as well. Conservative (false
// when unsure); used only for notes, never to drop code.
bool Implies(const std::vector<ArgCond>& c, const ArgCond& a) {
  uint64_t lo = 0, hi = ~uint64_t{0};  // the interval the range comparisons of |c| leave
  for (const ArgCond& x : c) {
    if (x.index != a.index) continue;
    if (x == a) return true;
    if (x.op == CmpOp::kEq) {
      uint64_t args[6] = {};
      args[a.index] = x.value;
      return CondHolds(a, args);
    }
    switch (x.op) {
      case CmpOp::kLt: hi = std::min(hi, x.value == 0 ? 0 : x.value - 1); break;
      case CmpOp::kLe: hi = std::min(hi, x.value); break;
      case CmpOp::kGt: lo = std::max(lo, x.value == ~uint64_t{0} ? x.value : x.value + 1); break;
      case CmpOp::kGe: lo = std::max(lo, x.value); break;
      default: break;
    }
  }
  switch (a.op) {
    case CmpOp::kLt: return hi < a.value;
    case CmpOp::kLe: return hi <= a.value;
    case CmpOp::kGt: return lo > a.value;
    case CmpOp::kGe: return lo >= a.value;
    case CmpOp::kNe: return a.value < lo || a.value > hi;
    default: return false;
  }
}

bool BadErrno(const Action& a) { return a.kind == ActionKind::kErrno && (a.errno_value <= 0 || a.errno_value >= 4096); }

}  // namespace

absl::StatusOr<Compiled> Compile(const Policy& p, const CompileOptions& o) {
  Compiled out;
  if (BadErrno(p.default_action))
    return absl::InvalidArgumentError(
        absl::StrCat(p.origin, ": default errno ", p.default_action.errno_value, " is out of range (1..4095)"));
  std::map<int, SyscallRules> by_nr;
  for (size_t i = 0; i < p.rules.size(); i++) {
    const Rule& r = p.rules[i];
    if (BadErrno(r.action))
      return absl::InvalidArgumentError(
          absl::StrCat(RuleLocation(p, r), ": errno ", r.action.errno_value, " is out of range (1..4095)"));
    for (const ArgCond& c : r.args)
      if (c.index > 5)
        return absl::InvalidArgumentError(
            absl::StrCat(RuleLocation(p, r), ": argument index ", c.index, " is not 0..5"));
    for (const std::string& name : r.syscalls) {
      auto nr = internal::NativeSyscallNumber(name);
      if (!nr) return absl::InvalidArgumentError(absl::StrCat(RuleLocation(p, r), ": unknown syscall '", name, "'"));
      SyscallRules& sr = by_nr[*nr];
      sr.name = name;
      Entry e;
      e.rule = i;
      e.action = r.action;
      e.conds = r.args;
      e.explicit_name = std::find(r.written.begin(), r.written.end(), name) != r.written.end();
      sr.entries.push_back(std::move(e));
    }
  }

  // io_uring: its operations (IORING_OP_OPENAT, ...) run without seccomp checks.
  if (o.deny_io_uring_unless_named) {
    bool allowed_by_name = false;
    for (const Rule& r : p.rules)
      if (r.action.kind == ActionKind::kAllow &&
          std::find(r.written.begin(), r.written.end(), "io_uring_setup") != r.written.end())
        allowed_by_name = true;
    if (!allowed_by_name) {
      for (std::string_view s : kIoUring) {
        auto nr = internal::NativeSyscallNumber(s);
        if (!nr) continue;
        SyscallRules& sr = by_nr[*nr];
        sr.name = std::string(s);
        // Rules that deny the syscall by name keep their place in front; the denial goes
        // before everything else (classes, allow rules, the default).
        auto pos = std::find_if(sr.entries.begin(), sr.entries.end(), [](const Entry& e) {
          return !e.explicit_name || e.action.kind == ActionKind::kAllow;
        });
        bool shadowed = std::any_of(sr.entries.begin(), pos, [](const Entry& e) { return e.conds.empty(); });
        Entry e;
        e.action = Action{ActionKind::kErrno, EPERM};
        sr.entries.insert(pos, e);
        if (!shadowed)
          out.notes.push_back(absl::StrCat(internal::AV(s), " denied (EPERM): the policy does not allow ",
                                           s == "io_uring_setup" ? "it" : "io_uring_setup",
                                           " by name, and io_uring operations bypass seccomp"));
      }
    }
  }

  // First match wins: a syscall's rules are tried in order, and nothing after its first
  // unconditional rule can apply.
  std::vector<internal::GenSyscall> gen;
  std::map<size_t, std::vector<std::string>> shadowed;  // rule index -> syscalls it never decides
  for (const auto& [nr, sr] : by_nr) {
    internal::GenSyscall g;
    g.nr = nr;
    g.name = sr.name;
    bool catch_all = false;
    for (size_t i = 0; i < sr.entries.size(); i++) {
      const Entry& e = sr.entries[i];
      if (catch_all) {
        if (e.rule) shadowed[*e.rule].push_back(sr.name);
        continue;
      }
      // An earlier rule whose conditions this one implies matches first, every time.
      const bool covered = std::any_of(sr.entries.begin(), sr.entries.begin() + i, [&](const Entry& prev) {
        return std::all_of(prev.conds.begin(), prev.conds.end(),
                           [&](const ArgCond& a) { return Implies(e.conds, a); });
      });
      if (covered && e.rule) shadowed[*e.rule].push_back(sr.name);
      g.rules.push_back({e.conds, e.action});
      catch_all = e.conds.empty();
    }
    // Rules at the end that only repeat the default change nothing.
    while (!g.rules.empty() && g.rules.back().action == p.default_action) g.rules.pop_back();
    if (!g.rules.empty()) gen.push_back(std::move(g));
  }
  for (const auto& [idx, names] : shadowed) {
    const Rule& r = p.rules[idx];
    std::set<std::string> uniq(names.begin(), names.end());
    if (uniq.size() == r.syscalls.size()) {
      out.notes.push_back(absl::StrCat(RuleLocation(p, r), ": never applies: earlier rules decide every call it matches"));
      continue;
    }
    std::vector<std::string> named;
    for (const std::string& n : r.syscalls)
      if (uniq.count(n) && std::find(r.written.begin(), r.written.end(), n) != r.written.end()) named.push_back(n);
    if (!named.empty())
      out.notes.push_back(absl::StrCat(RuleLocation(p, r), ": never applies to ", absl::StrJoin(named, ", "),
                                       ": earlier rules decide those calls"));
  }

  std::string why;
  const bool lib_ok = internal::LibseccompCanCompile(gen, p.default_action, &why);
  if (o.backend == CompileOptions::Backend::kLibseccomp && !lib_ok)
    return absl::InvalidArgumentError(absl::StrCat(p.origin, ": libseccomp cannot compile this policy exactly (", why, ")"));
  if (lib_ok && o.backend != CompileOptions::Backend::kGenerator) {
    auto prog = internal::CompileWithLibseccomp(gen, p.default_action);
    if (!prog.ok()) return absl::InvalidArgumentError(absl::StrCat(p.origin, ": ", prog.status().message()));
    out.program = std::move(*prog);
    out.backend = "libseccomp";
    out.listing = DisassembleSeccompBpf(out.program, {});
    return out;
  }
  auto g = internal::GenerateSeccompBpf(std::move(gen), p.default_action);
  if (!g.ok()) return absl::InvalidArgumentError(absl::StrCat(p.origin, ": ", g.status().message()));
  out.program = std::move(g->program);
  out.backend = "generator";
  out.listing = DisassembleSeccompBpf(out.program, g->labels);
  if (o.backend == CompileOptions::Backend::kAuto)
    out.notes.push_back(absl::StrCat("compiled by clonebot's generator, not libseccomp, which gets this policy wrong (",
                                     why, "; docs/policy.md)"));
  return out;
}

namespace {

// Appends |words| to |out| wrapped at |width| columns, each line starting with |indent|.
void AppendWrapped(std::string* out, const std::vector<std::string>& words, std::string_view indent, size_t width) {
  std::string line(indent);
  bool first = true;
  for (const std::string& w : words) {
    if (!first && line.size() + 1 + w.size() > width) {
      absl::StrAppend(out, line, "\n");
      line = std::string(indent);
      first = true;
    }
    absl::StrAppend(&line, first ? "" : " ", w);
    first = false;
  }
  if (!first) absl::StrAppend(out, line, "\n");
}

}  // namespace

std::string Explain(const Policy& p, const Compiled& c) {
  std::string out;
  absl::StrAppend(&out, "policy:  ", p.origin, " (", p.format, ")\n");
  absl::StrAppend(&out, "default: ", FormatAction(p.default_action), "\n");
  absl::StrAppend(&out, "rules:   ", p.rules.size(), " (for each syscall, the first rule that matches decides)\n");
  for (size_t i = 0; i < p.rules.size(); i++) {
    const Rule& r = p.rules[i];
    const std::string where = r.line > 0    ? absl::StrCat("line ", r.line, ":", r.column)
                              : r.entry >= 0 ? absl::StrCat("syscalls[", r.entry, "]")
                                             : std::string("builtin");
    absl::StrAppend(&out, "  ", i + 1, ". ", where, ": ", r.source, " -> ", FormatAction(r.action), "\n");
    if (r.written != r.syscalls) {
      absl::StrAppend(&out, "     syscalls (", r.syscalls.size(), "):\n");
      AppendWrapped(&out, r.syscalls, "       ", 100);
    }
    if (!r.args.empty()) {
      std::vector<std::string> conds;
      for (const ArgCond& a : r.args) conds.push_back(FormatCond(a));
      absl::StrAppend(&out, "     when: ", absl::StrJoin(conds, " and "), "\n");
    }
    if (r.action == p.default_action)
      absl::StrAppend(&out, "     same action as the default: it matters only by taking precedence over later rules\n");
  }
  if (!p.notes.empty() || !c.notes.empty()) {
    absl::StrAppend(&out, "notes:\n");
    for (const std::string& n : p.notes) absl::StrAppend(&out, "  - ", n, "\n");
    for (const std::string& n : c.notes) absl::StrAppend(&out, "  - ", n, "\n");
  }
  absl::StrAppend(&out, "bpf:     ", c.program.size(), " instructions, written by ", c.backend, "\n");
  absl::StrAppend(&out, c.listing);
  return out;
}

}  // namespace clonebot::policy
