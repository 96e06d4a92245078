// policy: syscall policies as data, compiled to seccomp BPF (STYLE.md §9).
//
// Two input formats: ClonePolicy v1 (YAML, our own, docs/policy.md) and Docker/OCI seccomp
// profiles (JSON). Both parse into one Policy: a default action plus ordered rules. Compile()
// turns a Policy into a classic-BPF program (our own generator: libseccomp 2.5.4 mis-merges
// argument-filtered rules, see internal/bpf_gen.h); it loads nothing, so it runs in the parent
// and the sandbox installs |program| in the child with seccomp(SECCOMP_SET_MODE_FILTER) after
// prctl(PR_SET_NO_NEW_PRIVS). Native architecture (x86_64) only; a syscall made through another
// ABI (i386 int 0x80, x32) kills the thread, as libseccomp's default bad-arch action does.
//
// Semantics (docs/policy.md): for each syscall, the first rule that names it and whose
// conditions all hold decides; if none does, the default action applies.
//
// Thread-compatible: all functions are pure apart from reading the kernel version (Docker
// profiles' minKernel).
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace clonebot::policy {

// ---- Actions -------------------------------------------------------------------------------

enum class ActionKind { kAllow, kErrno, kKillProcess, kKillThread, kLog, kTrace };

struct Action {
  ActionKind kind = ActionKind::kAllow;
  int errno_value = 0;      // kErrno: 1..4095
  uint16_t trace_data = 0;  // kTrace: reported to the tracer as PTRACE_GETEVENTMSG
  friend bool operator==(const Action&, const Action&) = default;
};

// The one parser of ClonePolicy action syntax: "allow", "errno(EPERM)", "errno(13)",
// "kill-process", "kill-thread", "log", "trace", "trace(7)". Later actions (redirect, fault)
// are added to its table. Errors carry no location; callers prefix it.
absl::StatusOr<Action> ParseAction(std::string_view text);
// The inverse, in ClonePolicy syntax: "errno(EACCES)", "kill-process".
std::string FormatAction(const Action& a);

// ---- Conditions ----------------------------------------------------------------------------

// Comparisons are on the full 64-bit argument as the kernel passes it in seccomp_data.args;
// unsigned. kMaskedEq: (arg & mask) == value.
enum class CmpOp { kEq, kNe, kLt, kLe, kGt, kGe, kMaskedEq };

struct ArgCond {
  unsigned index = 0;  // 0..5
  CmpOp op = CmpOp::kEq;
  uint64_t value = 0;
  uint64_t mask = 0;  // kMaskedEq only
  friend bool operator==(const ArgCond&, const ArgCond&) = default;
};

// "arg0 == 0x2", "arg1 & 0x3 == 0x3".
std::string FormatCond(const ArgCond& c);
// True if |c| holds for the six syscall arguments |args|.
bool CondHolds(const ArgCond& c, const uint64_t args[6]);

// A condition value or mask as ClonePolicy spells it: decimal ("-100" is two's complement),
// 0x hex, a symbolic constant (AF_INET, O_CREAT... see docs/policy.md) or an '|' of those.
absl::StatusOr<uint64_t> ParseValue(std::string_view text);
// One condition "argN OP VALUE" or "argN & MASK == VALUE" (OP: == != < <= > >=).
absl::StatusOr<ArgCond> ParseCond(std::string_view text);

// ---- Names ---------------------------------------------------------------------------------

// The native (x86_64) number of syscall |name|. Error: "unknown syscall 'sokcet'; did you mean
// 'socket'?" or "syscall 'x' does not exist on this architecture".
absl::StatusOr<int> ResolveSyscall(std::string_view name);

// The @classes rules can name (docs/policy.md), expanded to native syscall names.
struct SyscallClassInfo {
  std::string name;  // without '@'
  std::string doc;
  std::vector<std::string> syscalls;
};
std::vector<SyscallClassInfo> ListSyscallClasses();

// ---- Policies ------------------------------------------------------------------------------

struct Rule {
  std::vector<std::string> syscalls;  // resolved syscall names (classes expanded), no duplicates
  std::vector<ArgCond> args;          // all must hold (AND)
  Action action;
  int line = 0, column = 0;  // where it was written, 1-based (0 for built-ins and Docker entries)
  std::string source;        // as written, for explain: e.g. "socket when arg0 == AF_INET"
  std::vector<std::string> written;  // names and @classes as written (explicit naming matters
                                     // for the io_uring rule)
  int entry = -1;                    // index in a Docker profile's "syscalls" array
};

struct Policy {
  Action default_action;  // applies to syscalls no rule matches
  std::vector<Rule> rules;
  std::string origin;  // file name, or "builtin:default"
  std::string format;  // "clonepolicy-v1" or "docker-seccomp"
  std::vector<std::string> notes;  // what parsing skipped or assumed (Docker profiles)
};

// Where |r| was written, for messages: "FILE:LINE:COL", "FILE: syscalls[3]" or "builtin".
std::string RuleLocation(const Policy& p, const Rule& r);

// ClonePolicy v1. Errors read "FILE:LINE:COL: message".
absl::StatusOr<Policy> ParseClonePolicy(std::string_view yaml_text, std::string_view file_name);

struct DockerOptions {
  // Kernel release compared with "includes": {"minKernel": ...}; empty: the running kernel.
  std::string kernel_release;
};
// A Docker/OCI seccomp profile (moby profiles/seccomp/default.json and its kin). Entries that
// need capabilities or other architectures are skipped (the sandbox drops all capabilities),
// and so are syscall names unknown on x86_64, as Docker does; Policy::notes says which.
// Errors read "FILE: syscalls[3]: message" (JSON syntax errors: "FILE:LINE:COL: message").
absl::StatusOr<Policy> ParseDockerProfile(std::string_view json_text, std::string_view file_name,
                                          const DockerOptions& o = {});

// Reads |path| and parses it; a JSON object with "defaultAction" is a Docker profile, anything
// else ClonePolicy. Errors name the file.
absl::StatusOr<Policy> LoadPolicyFile(const std::string& path);

// What `clonebot run` uses without --policy: allow by default, errno(EPERM) for syscalls that
// act on the whole host (kexec, modules, bpf, perf, keyrings, acct, swap, reboot,
// open_by_handle_at, lookup_dcookie); io_uring is denied by Compile's io_uring rule.
Policy DefaultSandboxPolicy();

// ---- Compiling -----------------------------------------------------------------------------

struct CompileOptions {
  // io_uring operations (IORING_OP_OPENAT, ...) bypass seccomp. Unless a rule allows
  // io_uring_setup by name, deny io_uring_setup/enter/register with errno(EPERM).
  bool deny_io_uring_unless_named = true;
  // Who writes the BPF. kAuto: libseccomp when it compiles the policy exactly (internal/bpf_gen.h
  // says which policies it gets wrong), else clonebot's generator. The other two force one.
  enum class Backend { kAuto, kLibseccomp, kGenerator };
  Backend backend = Backend::kAuto;
};

struct Compiled {
  std::vector<sock_filter> program;  // ready for struct sock_fprog
  std::vector<std::string> notes;    // e.g. "io_uring_setup denied (EPERM): ..."
  std::string listing;               // the program disassembled and annotated, for Explain
  std::string backend;               // "libseccomp" or "generator"
};

// Builds the BPF program. Loads nothing and does not set no_new_privs. Errors name the rule
// ("FILE:LINE:COL: ...") or the file (a program over the kernel's 4096 instructions).
absl::StatusOr<Compiled> Compile(const Policy& p, const CompileOptions& o = {});

// Human text: default, each rule (location, syscalls, conditions, action), notes, then the
// instruction count and the annotated BPF listing.
std::string Explain(const Policy& p, const Compiled& c);

}  // namespace clonebot::policy
