// The libseccomp backend of Compile(): the policies libseccomp 2.5.4 compiles correctly.
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <set>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "base/unique_fd.h"
#include "policy/internal/bpf_gen.h"

namespace clonebot::policy::internal {
namespace {

uint32_t ScmpAction(const Action& a) {
  switch (a.kind) {
    case ActionKind::kAllow: return SCMP_ACT_ALLOW;
    case ActionKind::kErrno: return SCMP_ACT_ERRNO(static_cast<uint32_t>(a.errno_value));
    case ActionKind::kKillProcess: return SCMP_ACT_KILL_PROCESS;
    case ActionKind::kKillThread: return SCMP_ACT_KILL_THREAD;
    case ActionKind::kLog: return SCMP_ACT_LOG;
    case ActionKind::kTrace: return SCMP_ACT_TRACE(a.trace_data);
  }
  return SCMP_ACT_KILL_PROCESS;
}

scmp_arg_cmp ScmpCmp(const ArgCond& c) {
  scmp_arg_cmp s{};
  s.arg = c.index;
  s.datum_a = c.value;
  switch (c.op) {
    case CmpOp::kEq: s.op = SCMP_CMP_EQ; break;
    case CmpOp::kNe: s.op = SCMP_CMP_NE; break;
    case CmpOp::kLt: s.op = SCMP_CMP_LT; break;
    case CmpOp::kLe: s.op = SCMP_CMP_LE; break;
    case CmpOp::kGt: s.op = SCMP_CMP_GT; break;
    case CmpOp::kGe: s.op = SCMP_CMP_GE; break;
    case CmpOp::kMaskedEq:
      s.op = SCMP_CMP_MASKED_EQ;
      s.datum_a = c.mask;
      s.datum_b = c.value;
      break;
  }
  return s;
}

}  // namespace

bool LibseccompCanCompile(const std::vector<GenSyscall>& syscalls, const Action& default_action, std::string* why) {
  for (const GenSyscall& s : syscalls) {
    for (const GenRule& r : s.rules) {
      // libseccomp refuses a rule whose action is the default one; in first-match order such a
      // rule still matters (it shields the call from later rules).
      if (r.action == default_action) {
        *why = absl::StrCat(s.name, ": a rule with the default action ahead of others");
        return false;
      }
      std::set<unsigned> args;
      for (const ArgCond& c : r.conds) {
        if (!args.insert(c.index).second) {
          *why = absl::StrCat(s.name, ": two comparisons of one argument in one rule");
          return false;
        }
        // libseccomp compares (arg & mask) with (value & mask): a value with bits outside the
        // mask (a condition that never holds) would match.
        if (c.op == CmpOp::kMaskedEq && (c.value & ~c.mask) != 0) {
          *why = absl::StrCat(s.name, ": a masked comparison whose value has bits outside its mask");
          return false;
        }
      }
    }
    if (s.rules.size() <= 1) continue;
    // Several rules for one syscall: libseccomp merges them into one decision tree with no rule
    // order, and 2.5.4 gets multi-comparison merges wrong (internal/bpf_gen.h). What it does
    // reliably (runc's daily use with Docker's profile): rules of one action, one comparison
    // each, an OR in any order.
    for (const GenRule& r : s.rules)
      if (r.action != s.rules[0].action || r.conds.size() != 1) {
        *why = absl::StrCat(s.name, ": several rules with different actions or several comparisons");
        return false;
      }
  }
  return true;
}

absl::StatusOr<std::vector<sock_filter>> CompileWithLibseccomp(const std::vector<GenSyscall>& syscalls,
                                                               const Action& default_action) {
  scmp_filter_ctx ctx = seccomp_init(ScmpAction(default_action));
  if (ctx == nullptr) return absl::InternalError("seccomp_init failed");
  auto release = absl::MakeCleanup([&] { seccomp_release(ctx); });
  // The filter is installed by the sandbox's child after its own prctl(PR_SET_NO_NEW_PRIVS).
  if (int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0); rc < 0)
    return base::ErrnoToStatus(-rc, "seccomp_attr_set(CTL_NNP)");
  (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);  // binary tree on the syscall number
  for (const GenSyscall& s : syscalls) {
    for (const GenRule& r : s.rules) {
      std::vector<scmp_arg_cmp> cmps;
      for (const ArgCond& c : r.conds) cmps.push_back(ScmpCmp(c));
      int rc = seccomp_rule_add_exact_array(ctx, ScmpAction(r.action), s.nr, static_cast<unsigned>(cmps.size()),
                                            cmps.data());
      if (rc < 0) return base::ErrnoToStatus(-rc, absl::StrCat("libseccomp: rule for ", s.name));
    }
  }
  base::UniqueFd mfd(memfd_create("clonebot-policy-bpf", MFD_CLOEXEC));
  if (!mfd) return base::ErrnoError("memfd_create");
  if (int rc = seccomp_export_bpf(ctx, mfd.get()); rc < 0) return base::ErrnoToStatus(-rc, "seccomp_export_bpf");
  off_t len = lseek(mfd.get(), 0, SEEK_END);
  if (len <= 0 || len % static_cast<off_t>(sizeof(sock_filter)) != 0)
    return absl::InternalError("seccomp_export_bpf produced no program");
  std::vector<sock_filter> prog(static_cast<size_t>(len) / sizeof(sock_filter));
  if (pread(mfd.get(), prog.data(), static_cast<size_t>(len), 0) != len) return base::ErrnoError("pread(bpf)");
  if (prog.size() > BPF_MAXINSNS)
    return absl::InvalidArgumentError(
        absl::StrCat("the filter has ", prog.size(), " instructions, more than the kernel's limit of ", BPF_MAXINSNS));
  return prog;
}

}  // namespace clonebot::policy::internal
