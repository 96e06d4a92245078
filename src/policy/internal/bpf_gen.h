// Private to policy/: the seccomp classic-BPF code generator behind Compile().
//
// Why not libseccomp: Debian 12's libseccomp 2.5.4 (the one we must use, STYLE.md §20) merges the
// rules of one syscall into a decision tree, and with several argument-filtered rules per syscall
// that merge goes wrong. Found by the randomized PolicyCompile test (the filter against a direct
// evaluation of the rules) and fuzzing libseccomp itself:
//   * seccomp_rule_add never returns: {arg0 != AT_FDCWD, arg1 == 1} then
//     {arg0 != AT_FDCWD, arg2 == 1} (any shared 64-bit !=, <, <=, >, >= followed by comparisons
//     that differ);
//   * one rule's comparisons end up under another's: {arg0 <= 2, arg2 > 1} -> log and
//     {arg0 < 2, arg1 & 0xff == 0xff} -> trace lets arg0 == 2 reach the trace rule;
//   * a rule silently vanishes ({arg0 & 1<<32 == 1<<32, arg2 >> 32 == 0} -> allow, dropped when
//     {arg2 <= 7} -> allow is added later), and the library leaks the pruned nodes;
//   * adding rules takes exponential time (32 rules on arg2, then rules on arg0..arg2: minutes).
// libseccomp also has no rule order, while ClonePolicy promises "first match wins". So Compile()
// hands libseccomp the policies it compiles correctly (LibseccompCanCompile: per syscall one rule,
// or rules of one action with one comparison each; no rule with the default action) and emits
// BPF itself for the rest, like gVisor's pkg/seccomp and Kafel do: straight-line code per
// syscall, one rule after the other, every comparison on the full 64-bit argument.
//
// Program layout (all jumps forward; conditional jumps longer than 255 instructions go through
// a JA trampoline):
//   arch != AUDIT_ARCH_X86_64 -> kill-thread (libseccomp's default bad-arch action)
//   nr >= 0x40000000 (x32)    -> kill-thread, except nr == -1 (a call a tracer skipped) -> default
//   binary search on nr; a syscall whose only rule is unconditional returns right there
//   per syscall: rule 1 conditions -> RET action 1, else rule 2 ... else RET default
//   nothing matched           -> RET default
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "policy/policy.h"

namespace clonebot::policy::internal {

struct GenRule {
  std::vector<ArgCond> conds;  // all must hold; any number per argument
  Action action;
};

struct GenSyscall {
  int nr = -1;
  std::string name;
  std::vector<GenRule> rules;  // first match wins; nothing after an unconditional rule
};

struct GenResult {
  std::vector<sock_filter> program;
  std::vector<std::pair<size_t, std::string>> labels;  // instruction index -> "socket (41)"
};

// |syscalls| with distinct numbers, any order. Fails if the program exceeds BPF_MAXINSNS.
absl::StatusOr<GenResult> GenerateSeccompBpf(std::vector<GenSyscall> syscalls, const Action& default_action);

// True if libseccomp 2.5.4 compiles |syscalls| exactly (see the top of this file); else |why|.
bool LibseccompCanCompile(const std::vector<GenSyscall>& syscalls, const Action& default_action, std::string* why);
// The program libseccomp makes of |syscalls| (native arch; bad arch kills the thread).
absl::StatusOr<std::vector<sock_filter>> CompileWithLibseccomp(const std::vector<GenSyscall>& syscalls,
                                                               const Action& default_action);

// The SECCOMP_RET_* value of |a|.
uint32_t SeccompRet(const Action& a);

}  // namespace clonebot::policy::internal
