// The policy `clonebot run` applies without --policy. Short on purpose: it is a guard against
// acting on the whole host, not a confinement profile (use a ClonePolicy or Docker profile for
// that). docs/policy.md lists it; `clonebot policy explain --default` prints it.
#include "policy/internal/tables.h"
#include "policy/policy.h"

namespace clonebot::policy {

Policy DefaultSandboxPolicy() {
  Policy p;
  p.origin = "builtin:default";
  p.format = "clonepolicy-v1";
  p.default_action = Action{ActionKind::kAllow};
  const Action eperm{ActionKind::kErrno, EPERM};
  struct Group {
    std::vector<std::string> names;
    const char* why;
  };
  const Group groups[] = {
      {{"kexec_load", "kexec_file_load", "reboot"}, "replacing or restarting the kernel"},
      {{"init_module", "finit_module", "delete_module"}, "loading kernel code"},
      {{"bpf", "perf_event_open"}, "kernel programs and counters that can observe the host"},
      {{"keyctl", "add_key", "request_key"}, "the kernel keyrings, which are not namespaced"},
      {{"acct", "swapon", "swapoff"}, "host-wide process accounting and swap"},
      {{"open_by_handle_at"}, "opening files by handle, which escapes the mount namespace"},
      {{"lookup_dcookie"}, "kernel profiling cookies"},
  };
  for (const Group& g : groups) {
    Rule r;
    for (const std::string& n : g.names)
      if (internal::NativeSyscallNumber(n)) r.syscalls.push_back(n);
    r.written = r.syscalls;
    r.action = eperm;
    std::string names;
    for (const std::string& n : r.syscalls) names += (names.empty() ? "" : ", ") + n;
    r.source = names + " (" + g.why + ")";
    p.rules.push_back(std::move(r));
  }
  return p;
}

}  // namespace clonebot::policy
