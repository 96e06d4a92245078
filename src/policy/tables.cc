// The data behind ClonePolicy names. Classes are modelled on systemd's SystemCallFilter= groups
// (systemd.exec(5)); docs/policy.md lists them and a unit test keeps the two in step.
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <algorithm>
#include <map>

#include "abi/syscall_table.h"
#include "absl/strings/str_cat.h"
#include "policy/internal/tables.h"
#include "policy/policy.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

namespace clonebot::policy::internal {

std::span<const SyscallClassDef> SyscallClasses() {
  static const std::vector<SyscallClassDef> kClasses = {
      {"network-io", "sockets: create, connect, accept, send, receive, options",
       {"socket", "socketpair", "connect", "accept", "accept4", "bind", "listen", "sendto", "recvfrom",
        "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown", "getsockopt", "setsockopt",
        "getsockname", "getpeername"}},
      {"process", "creating, running, signalling and waiting for processes",
       {"fork", "vfork", "clone", "clone3", "execve", "execveat", "kill", "tkill", "tgkill",
        "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_open", "pidfd_send_signal", "wait4", "waitid",
        "setns", "unshare", "prctl", "arch_prctl", "capget", "getrusage", "times"}},
      {"mount", "mounting, unmounting and changing the root",
       {"mount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount", "fspick",
        "move_mount", "open_tree", "open_tree_attr", "mount_setattr"}},
      {"module", "loading and unloading kernel modules", {"init_module", "finit_module", "delete_module"}},
      {"reboot", "rebooting and replacing the kernel", {"reboot", "kexec_load", "kexec_file_load"}},
      {"swap", "enabling and disabling swap", {"swapon", "swapoff"}},
      {"raw-io", "raw I/O port access", {"ioperm", "iopl"}},
      {"debug", "debugging, tracing and inspecting other processes",
       {"ptrace", "process_vm_readv", "process_vm_writev", "perf_event_open", "kcmp", "pidfd_getfd",
        "lookup_dcookie"}},
      {"io_uring", "io_uring (its operations bypass seccomp)",
       {"io_uring_setup", "io_uring_enter", "io_uring_register"}},
      {"keyring", "the kernel key retention service", {"add_key", "keyctl", "request_key"}},
      {"clock", "setting the system clock", {"adjtimex", "clock_adjtime", "clock_settime", "settimeofday"}},
      {"privileged", "syscalls that need a capability for anything useful",
       {"@clock", "@module", "@raw-io", "@reboot", "@swap", "_sysctl", "acct", "bpf", "capset", "chroot",
        "fanotify_init", "nfsservctl", "open_by_handle_at", "pivot_root", "quotactl", "quotactl_fd",
        "setdomainname", "sethostname", "setgroups", "setfsuid", "setfsgid", "setuid", "setgid",
        "setreuid", "setregid", "setresuid", "setresgid", "vhangup"}},
  };
  return kClasses;
}

const SyscallClassDef* FindClass(std::string_view name) {
  for (const auto& c : SyscallClasses())
    if (c.name == name) return &c;
  return nullptr;
}

namespace {
void ExpandInto(const SyscallClassDef& c, std::vector<std::string>* out, int depth) {
  for (std::string_view m : c.members) {
    if (m.starts_with('@')) {
      const SyscallClassDef* sub = FindClass(m.substr(1));
      if (sub != nullptr && depth < 8) ExpandInto(*sub, out, depth + 1);
      continue;
    }
    if (!NativeSyscallNumber(m)) continue;
    if (std::find(out->begin(), out->end(), m) == out->end()) out->emplace_back(m);
  }
}
}  // namespace

std::vector<std::string> ExpandClass(const SyscallClassDef& c) {
  std::vector<std::string> out;
  ExpandInto(c, &out, 0);
  return out;
}

std::optional<int> NativeSyscallNumber(std::string_view name) {
  const abi::SyscallDesc* d = abi::LookupSyscall(name);
  if (d == nullptr) return std::nullopt;
  auto nr = abi::SyscallNumber(abi::kNativeArch, *d);
  if (!nr) return std::nullopt;
  return static_cast<int>(*nr);
}

bool KnownSyscallName(std::string_view name) { return abi::LookupSyscall(name) != nullptr; }

std::vector<std::string_view> NativeSyscallNames() {
  std::vector<std::string_view> names;
  for (const auto& d : abi::AllSyscalls())
    if (abi::SyscallNumber(abi::kNativeArch, d)) names.emplace_back(d.name);
  return names;
}

std::span<const Constant> Constants() {
#define C(x) Constant{#x, static_cast<uint64_t>(x)}
  // Negative values (AT_FDCWD) are sign-extended, as glibc passes an int in a 64-bit register.
  static const Constant kConstants[] = {
      C(AF_UNSPEC), C(AF_UNIX), C(AF_LOCAL), C(AF_INET), C(AF_INET6), C(AF_NETLINK), C(AF_PACKET),
      C(AF_VSOCK), C(AF_BLUETOOTH), C(AF_ALG),
      C(SOCK_STREAM), C(SOCK_DGRAM), C(SOCK_RAW), C(SOCK_SEQPACKET), C(SOCK_NONBLOCK),
      C(SOCK_CLOEXEC),
      C(O_RDONLY), C(O_WRONLY), C(O_RDWR), C(O_ACCMODE), C(O_CREAT), C(O_EXCL), C(O_NOCTTY),
      C(O_TRUNC), C(O_APPEND), C(O_NONBLOCK), C(O_DIRECTORY), C(O_NOFOLLOW), C(O_CLOEXEC),
      C(O_PATH), C(O_TMPFILE),
      Constant{"AT_FDCWD", static_cast<uint64_t>(static_cast<int64_t>(AT_FDCWD))},
      C(CLONE_VM), C(CLONE_FS), C(CLONE_FILES), C(CLONE_SIGHAND), C(CLONE_THREAD), C(CLONE_NEWNS),
      C(CLONE_NEWCGROUP), C(CLONE_NEWUTS), C(CLONE_NEWIPC), C(CLONE_NEWUSER), C(CLONE_NEWPID),
      C(CLONE_NEWNET), C(CLONE_NEWTIME),
      C(PROT_NONE), C(PROT_READ), C(PROT_WRITE), C(PROT_EXEC),
      C(MAP_SHARED), C(MAP_PRIVATE), C(MAP_FIXED), C(MAP_ANONYMOUS),
      C(TIOCSTI),
  };
#undef C
  return kConstants;
}

std::optional<uint64_t> ConstantByName(std::string_view name) {
  for (const Constant& c : Constants())
    if (c.name == name) return c.value;
  return std::nullopt;
}

namespace {
const std::map<std::string, int, std::less<>>& ErrnoTable() {
  static const auto* table = [] {
    auto* t = new std::map<std::string, int, std::less<>>;
    for (int e = 1; e < 4096; e++)
      if (const char* n = strerrorname_np(e)) t->emplace(n, e);
    t->emplace("EWOULDBLOCK", EWOULDBLOCK);
    t->emplace("EDEADLOCK", EDEADLOCK);
    t->emplace("ENOTSUP", ENOTSUP);
    return t;
  }();
  return *table;
}
}  // namespace

std::optional<int> ErrnoByName(std::string_view name) {
  const auto& t = ErrnoTable();
  auto it = t.find(name);
  if (it == t.end()) return std::nullopt;
  return it->second;
}

std::string ErrnoName(int e) {
  if (e > 0 && e < 4096)
    if (const char* n = strerrorname_np(e)) return n;
  return absl::StrCat(e);
}

namespace {
int EditDistance(std::string_view a, std::string_view b) {
  std::vector<int> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); j++) prev[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); i++) {
    cur[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); j++) {
      int sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}
}  // namespace

std::string ClosestName(std::string_view word, std::span<const std::string_view> candidates, int max_dist) {
  std::string best;
  int best_d = max_dist + 1;
  for (std::string_view c : candidates) {
    int d = EditDistance(word, c);
    if (d < best_d) {
      best_d = d;
      best = std::string(c);
    }
  }
  return best;
}

std::string DidYouMean(std::string_view word, std::span<const std::string_view> candidates) {
  std::string c = ClosestName(word, candidates);
  return c.empty() ? "" : absl::StrCat("; did you mean '", c, "'?");
}

}  // namespace clonebot::policy::internal

namespace clonebot::policy {

absl::StatusOr<int> ResolveSyscall(std::string_view name) {
  if (auto nr = internal::NativeSyscallNumber(name)) return *nr;
  if (internal::KnownSyscallName(name))
    return absl::InvalidArgumentError(
        absl::StrCat("syscall '", internal::AV(name), "' does not exist on this architecture"));
  auto names = internal::NativeSyscallNames();
  return absl::InvalidArgumentError(
      absl::StrCat("unknown syscall '", internal::AV(name), "'", internal::DidYouMean(name, names)));
}

std::vector<SyscallClassInfo> ListSyscallClasses() {
  std::vector<SyscallClassInfo> out;
  for (const auto& c : internal::SyscallClasses())
    out.push_back({std::string(c.name), std::string(c.doc), internal::ExpandClass(c)});
  return out;
}

}  // namespace clonebot::policy
