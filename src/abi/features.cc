// Pure parts of the feature probe: names, parsers of /proc text, and the capability → backend
// plan. The probes themselves are in features_probe.cc.
#include "abi/features.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace clonebot::abi {

std::string_view FeatureName(Feature f) {
  switch (f) {
    case Feature::kPtraceSeize: return "ptrace.seize";
    case Feature::kPtraceExitKill: return "ptrace.o_exitkill";
    case Feature::kPtraceGetSyscallInfo: return "ptrace.get_syscall_info";
    case Feature::kPtraceTraceSeccomp: return "ptrace.o_traceseccomp";
    case Feature::kSeccompFilter: return "seccomp.filter";
    case Feature::kSeccompRetTrace: return "seccomp.ret_trace";
    case Feature::kSeccompUserNotif: return "seccomp.user_notif";
    case Feature::kSeccompNotifAddFd: return "seccomp.notif_addfd";
    case Feature::kNsUser: return "ns.user";
    case Feature::kNsUserUnprivileged: return "ns.user.unprivileged";
    case Feature::kNsPid: return "ns.pid";
    case Feature::kNsMount: return "ns.mount";
    case Feature::kNsNet: return "ns.net";
    case Feature::kNsIpc: return "ns.ipc";
    case Feature::kNsUts: return "ns.uts";
    case Feature::kNsCgroup: return "ns.cgroup";
    case Feature::kNsTime: return "ns.time";
    case Feature::kCgroupV2: return "cgroup.v2";
    case Feature::kCgroupV2Writable: return "cgroup.v2.writable";
    case Feature::kCgroupV1: return "cgroup.v1";
    case Feature::kCgroupV1Writable: return "cgroup.v1.writable";
    case Feature::kUserfaultfd: return "uffd";
    case Feature::kUffdUserModeOnly: return "uffd.user_mode_only";
    case Feature::kUffdWpAsync: return "uffd.wp_async";
    case Feature::kPagemapScan: return "pagemap.scan";
    case Feature::kSoftDirty: return "pagemap.soft_dirty";
    case Feature::kBpfSocketFilter: return "bpf.socket_filter";
    case Feature::kBpfRawTracepoint: return "bpf.raw_tracepoint";
    case Feature::kBtf: return "bpf.btf";
    case Feature::kIoUring: return "io_uring";
    case Feature::kLandlock: return "landlock";
    case Feature::kPidfdOpen: return "pidfd_open";
    case Feature::kPidfdGetfd: return "pidfd_getfd";
    case Feature::kProcessVmReadv: return "process_vm_readv";
    case Feature::kClone3: return "clone3";
    case Feature::kCloneIntoCgroup: return "clone3.into_cgroup";
    case Feature::kPerfHwCycles: return "perf.hw_cycles";
    case Feature::kCount: break;
  }
  return "?";
}

// ---- Parsers ----

namespace {

// Decodes the \ooo escapes the kernel uses for space, tab, newline and backslash in mountinfo.
std::string UnescapeMountField(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' && s[i + 2] <= '7' &&
        s[i + 3] >= '0' && s[i + 3] <= '7') {
      out.push_back(static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Splits on any of |delims|, dropping empty pieces. (Debian's absl::string_view is not
// std::string_view, so absl::StrSplit does not take ours.)
std::vector<std::string_view> Split(std::string_view text, std::string_view delims) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find_first_of(delims, pos);
    if (end == std::string_view::npos) end = text.size();
    if (end > pos) out.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

bool Contains(const std::vector<std::string>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

std::vector<ProcCgroupEntry> ParseProcCgroup(std::string_view text) {
  std::vector<ProcCgroupEntry> out;
  for (std::string_view line : Split(text, "\n")) {
    // hierarchy-ID:controller-list:cgroup-path; the path may itself contain ':'.
    size_t c1 = line.find(':');
    if (c1 == std::string_view::npos) continue;
    size_t c2 = line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    ProcCgroupEntry e;
    std::string_view id = line.substr(0, c1);
    if (id.empty() || !std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    e.hierarchy_id = std::stoi(std::string(id));
    for (std::string_view c : Split(line.substr(c1 + 1, c2 - c1 - 1), ","))
      e.controllers.emplace_back(c);
    e.path = std::string(line.substr(c2 + 1));
    if (e.path.empty() || e.path[0] != '/') continue;
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<CgroupMount> ParseCgroupMounts(std::string_view mountinfo) {
  std::vector<CgroupMount> out;
  for (std::string_view line : Split(mountinfo, "\n")) {
    // id parent maj:min root mount-point options [optional...] - fstype source super-options
    std::vector<std::string_view> f = Split(line, " ");
    auto sep = std::find(f.begin(), f.end(), "-");
    if (f.size() < 6 || sep == f.end() || sep - f.begin() < 6 || f.end() - sep < 4) continue;
    std::string_view fstype = *(sep + 1);
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    CgroupMount m;
    m.root = UnescapeMountField(f[3]);
    m.mount_point = UnescapeMountField(f[4]);
    m.v2 = fstype == "cgroup2";
    if (!m.v2) {
      for (std::string_view opt : Split(*(sep + 3), ",")) {
        // Super options mix controllers with flags; keep only names of controllers.
        if (opt == "rw" || opt == "ro" || opt == "noprefix" || opt == "clone_children" ||
            opt == "xattr" || opt == "cpuset_v2_mode" || opt.starts_with("release_agent="))
          continue;
        m.controllers.emplace_back(opt);
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

std::optional<std::string> CgroupDir(const CgroupMount& mount, std::string_view path) {
  std::string_view root = mount.root;
  if (root.size() > 1 && root.back() == '/') root.remove_suffix(1);
  std::string_view rel;
  if (root == "/") {
    rel = path;
  } else if (path == root) {
    rel = "";
  } else if (path.starts_with(root) && path.size() > root.size() && path[root.size()] == '/') {
    rel = path.substr(root.size());
  } else {
    return std::nullopt;
  }
  std::string dir = mount.mount_point;
  if (rel != "/") dir.append(rel);
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

CgroupInfo ResolveCgroupPaths(const std::vector<ProcCgroupEntry>& self,
                              const std::vector<CgroupMount>& mounts,
                              const std::vector<std::string>& v1_wanted) {
  CgroupInfo info;
  for (const ProcCgroupEntry& e : self) {
    if (e.hierarchy_id == 0 && e.controllers.empty()) {
      for (const CgroupMount& m : mounts) {
        if (!m.v2) continue;
        if (auto dir = CgroupDir(m, e.path)) {
          info.v2_mount = m.mount_point;
          info.v2_self_dir = *dir;
          break;
        }
      }
      continue;
    }
    for (const std::string& c : e.controllers) {
      if (!Contains(v1_wanted, c) || info.v1_self_dirs.count(c)) continue;
      for (const CgroupMount& m : mounts) {
        if (m.v2 || !Contains(m.controllers, c)) continue;
        if (auto dir = CgroupDir(m, e.path)) {
          info.v1_self_dirs[c] = *dir;
          break;
        }
      }
    }
  }
  return info;
}

std::vector<std::string> ParseControllerList(std::string_view text) {
  std::vector<std::string> out;
  for (std::string_view c : Split(text, " \t\n"))
    out.emplace_back(c);
  return out;
}

// ---- Plan ----

CgroupBackend ChooseCgroupBackend(const KernelFeatures& kf) {
  const CgroupInfo& cg = kf.cgroup;
  if (kf.Has(Feature::kCgroupV2) && kf.Has(Feature::kCgroupV2Writable) &&
      Contains(cg.v2_controllers, "memory") && Contains(cg.v2_controllers, "pids"))
    return CgroupBackend::kV2;
  auto v1ok = [&](const char* c) {
    auto it = cg.v1_writable.find(c);
    return it != cg.v1_writable.end() && it->second;
  };
  if (kf.Has(Feature::kCgroupV1) && v1ok("memory") && v1ok("pids")) return CgroupBackend::kV1;
  return CgroupBackend::kNone;
}

DirtyTracking ChooseDirtyTracking(const KernelFeatures& kf) {
  if (kf.Has(Feature::kUffdWpAsync) && kf.Has(Feature::kPagemapScan)) return DirtyTracking::kUffdWpAsync;
  if (kf.Has(Feature::kSoftDirty)) return DirtyTracking::kSoftDirty;
  return DirtyTracking::kPageHash;
}

TraceBackend ChooseTraceBackend(const KernelFeatures& kf) {
  if (!kf.Has(Feature::kPtraceSeize)) return TraceBackend::kNone;
  if (kf.Has(Feature::kSeccompRetTrace) && kf.Has(Feature::kPtraceTraceSeccomp))
    return TraceBackend::kPtraceSeccomp;
  return TraceBackend::kPtraceSyscall;
}

std::string_view CgroupBackendName(CgroupBackend b) {
  switch (b) {
    case CgroupBackend::kV2: return "cgroup-v2";
    case CgroupBackend::kV1: return "cgroup-v1";
    case CgroupBackend::kNone: return "none";
  }
  return "?";
}

std::string_view DirtyTrackingName(DirtyTracking d) {
  switch (d) {
    case DirtyTracking::kUffdWpAsync: return "uffd-wp-async";
    case DirtyTracking::kSoftDirty: return "soft-dirty";
    case DirtyTracking::kPageHash: return "page-hash";
  }
  return "?";
}

std::string_view TraceBackendName(TraceBackend t) {
  switch (t) {
    case TraceBackend::kPtraceSeccomp: return "ptrace+seccomp";
    case TraceBackend::kPtraceSyscall: return "ptrace";
    case TraceBackend::kNone: return "none";
  }
  return "?";
}

std::vector<CapabilityPlan> PlanCapabilities(const KernelFeatures& kf) {
  std::vector<CapabilityPlan> plans;
  auto yn = [&](Feature f) { return kf.Has(f); };

  {  // trace
    CapabilityPlan p{"trace", "", ""};
    switch (ChooseTraceBackend(kf)) {
      case TraceBackend::kPtraceSeccomp:
        p.uses = "ptrace (PTRACE_SEIZE) + seccomp-bpf prefilter (SECCOMP_RET_TRACE)";
        p.fallback = "ptrace PTRACE_SYSCALL on every syscall";
        break;
      case TraceBackend::kPtraceSyscall:
        p.uses = "ptrace PTRACE_SYSCALL on every syscall (slow: no seccomp RET_TRACE prefilter)";
        p.fallback = "none";
        break;
      case TraceBackend::kNone:
        p.uses = "unavailable: PTRACE_SEIZE fails";
        p.fallback = "none";
        break;
    }
    if (!yn(Feature::kPtraceGetSyscallInfo)) absl::StrAppend(&p.uses, "; registers via PTRACE_GETREGS");
    absl::StrAppend(&p.fallback, yn(Feature::kBpfRawTracepoint)
                                     ? "; eBPF raw_tracepoint backend possible later"
                                     : "; no eBPF backend (raw_tracepoint load/attach fails)");
    plans.push_back(std::move(p));
  }
  {  // snapshot
    CapabilityPlan p{"snapshot", "", ""};
    std::string reader = yn(Feature::kProcessVmReadv) ? "process_vm_readv" : "/proc/PID/mem";
    switch (ChooseDirtyTracking(kf)) {
      case DirtyTracking::kUffdWpAsync:
        p.uses = absl::StrCat("dirty tracking: uffd-wp async + PAGEMAP_SCAN",
                              yn(Feature::kUffdUserModeOnly) ? " (unprivileged: UFFD_USER_MODE_ONLY)" : "",
                              "; pages read with ", reader);
        p.fallback = yn(Feature::kSoftDirty) ? "soft-dirty, then page hashing"
                                             : "page hashing (soft-dirty not available)";
        break;
      case DirtyTracking::kSoftDirty:
        p.uses = absl::StrCat("dirty tracking: soft-dirty (clear_refs 4, pagemap bit 55); pages read with ", reader);
        p.fallback = "page hashing (uffd-wp async or PAGEMAP_SCAN not available)";
        break;
      case DirtyTracking::kPageHash:
        p.uses = absl::StrCat("dirty tracking: page hashing (no uffd-wp async, no soft-dirty); pages read with ", reader);
        p.fallback = "none";
        break;
    }
    plans.push_back(std::move(p));
  }
  {  // run
    CapabilityPlan p{"run", "", ""};
    std::vector<std::string> parts;
    std::vector<std::string> missing;
    switch (ChooseCgroupBackend(kf)) {
      case CgroupBackend::kV2:
        parts.push_back(absl::StrCat("cgroup v2 at ", kf.cgroup.v2_self_dir,
                                     yn(Feature::kCloneIntoCgroup) ? " (clone3 CLONE_INTO_CGROUP)" : ""));
        break;
      case CgroupBackend::kV1:
        parts.push_back(absl::StrCat("cgroup v1 (memory ", kf.cgroup.v1_self_dirs.at("memory"), ", pids ",
                                     kf.cgroup.v1_self_dirs.at("pids"), ")"));
        missing.push_back("v1 is the fallback: cgroup v2 here lacks memory+pids controllers");
        break;
      case CgroupBackend::kNone:
        parts.push_back("no cgroup limits (neither v2 with memory+pids nor writable v1 memory+pids)");
        break;
    }
    std::vector<std::string> ns;
    for (Feature f : {Feature::kNsUser, Feature::kNsPid, Feature::kNsMount, Feature::kNsNet, Feature::kNsIpc,
                      Feature::kNsUts, Feature::kNsCgroup, Feature::kNsTime}) {
      std::string_view name = FeatureName(f);
      name.remove_prefix(3);  // "ns."
      if (yn(f)) ns.emplace_back(name);
      else missing.push_back(absl::StrCat("no ", std::string(name), " namespace"));
    }
    parts.push_back(absl::StrCat("namespaces ", ns.empty() ? "none" : absl::StrJoin(ns, ",")));
    if (yn(Feature::kLandlock)) parts.push_back(absl::StrCat("landlock ABI ", kf.landlock_abi));
    else missing.push_back("no landlock (mount-based confinement only)");
    if (yn(Feature::kSeccompUserNotif)) {
      parts.push_back(yn(Feature::kSeccompNotifAddFd) ? "seccomp unotify + ADDFD" : "seccomp unotify (no ADDFD)");
      if (!yn(Feature::kSeccompNotifAddFd)) missing.push_back("no path redirection (ADDFD)");
    } else if (yn(Feature::kSeccompFilter)) {
      parts.push_back("seccomp filter only");
      missing.push_back("no user-space rule engine (no seccomp unotify)");
    } else {
      missing.push_back("no seccomp");
    }
    if (yn(Feature::kIoUring)) parts.push_back("io_uring_setup denied unless the policy allows it");
    p.uses = absl::StrJoin(parts, "; ");
    p.fallback = missing.empty() ? "none needed" : absl::StrJoin(missing, "; ");
    plans.push_back(std::move(p));
  }
  {  // checkpoint
    CapabilityPlan p{"checkpoint", "", ""};
    std::vector<std::string> parts;
    std::vector<std::string> missing;
    parts.push_back(yn(Feature::kPtraceSeize) ? "PTRACE_SEIZE + syscall injection" : "no ptrace: unavailable");
    parts.push_back(absl::StrCat("memory via snapshot (", std::string(DirtyTrackingName(ChooseDirtyTracking(kf))), ")"));
    if (yn(Feature::kPidfdGetfd)) parts.push_back("fds via pidfd_getfd");
    else missing.push_back("fds via injected SCM_RIGHTS (no pidfd_getfd)");
    if (yn(Feature::kClone3)) parts.push_back("restore with clone3");
    else missing.push_back("restore with clone (no clone3)");
    if (!yn(Feature::kNsPid)) missing.push_back("no pid namespace: original pids cannot be kept");
    p.uses = absl::StrJoin(parts, "; ");
    p.fallback = missing.empty() ? "none needed" : absl::StrJoin(missing, "; ");
    plans.push_back(std::move(p));
  }
  return plans;
}

}  // namespace clonebot::abi
