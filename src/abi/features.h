// Kernel feature probe (like CRIU's kerndat and `criu check`): which kernel mechanisms this
// machine really has, measured by trying them, never inferred from version numbers or headers.
//
// ProbeKernelFeatures() runs every probe once and returns a KernelFeatures; modules keep that
// struct and ask it (Has(Feature::kUffdWpAsync)) instead of probing again. Probes that change
// process state (seccomp filters, unshare, ptrace, clear_refs, mmaps) run in forked children
// with a deadline; nothing is left behind (no processes, mounts, cgroups).
//
// Thread-safety: ProbeKernelFeatures forks. Call it before starting threads (a child of a
// multithreaded process could block on a lock another thread held; such a probe is killed at its
// deadline and reported as a timeout rather than hanging).
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace clonebot::abi {

// One probed mechanism. Values index KernelFeatures::status; append or reorder freely (they are
// not stored in files), but keep FeatureName() in sync.
enum class Feature : int {
  kPtraceSeize,
  kPtraceExitKill,
  kPtraceGetSyscallInfo,
  kPtraceTraceSeccomp,
  kSeccompFilter,
  kSeccompRetTrace,
  kSeccompUserNotif,
  kSeccompNotifAddFd,
  kNsUser,
  kNsUserUnprivileged,
  kNsPid,
  kNsMount,
  kNsNet,
  kNsIpc,
  kNsUts,
  kNsCgroup,
  kNsTime,
  kCgroupV2,
  kCgroupV2Writable,
  kCgroupV1,
  kCgroupV1Writable,
  kUserfaultfd,
  kUffdUserModeOnly,
  kUffdWpAsync,
  kPagemapScan,
  kSoftDirty,
  kBpfSocketFilter,
  kBpfRawTracepoint,
  kBtf,
  kIoUring,
  kLandlock,
  kPidfdOpen,
  kPidfdGetfd,
  kProcessVmReadv,
  kClone3,
  kCloneIntoCgroup,
  kPerfHwCycles,
  kCount,
};
inline constexpr int kFeatureCount = static_cast<int>(Feature::kCount);

// Stable, dotted name used in the table and as the JSON key ("uffd.wp_async").
std::string_view FeatureName(Feature f);

struct FeatureStatus {
  bool available = false;
  // Why not (errno name and text), or what was found (version, path, measured behaviour).
  std::string detail;
};

// A v1 hierarchy or the v2 hierarchy as mounted, from /proc/self/mountinfo.
struct CgroupMount {
  std::string mount_point;               // "/sys/fs/cgroup/memory"
  std::string root;                      // mountinfo field 4: the hierarchy path mounted there
  bool v2 = false;                       // fstype cgroup2
  std::vector<std::string> controllers;  // v1: from super options ("memory", "name=systemd")
};

// One line of /proc/self/cgroup: "4:memory:/a/b" or "0::/".
struct ProcCgroupEntry {
  int hierarchy_id = -1;
  std::vector<std::string> controllers;  // empty for the v2 line
  std::string path;                      // relative to the cgroup namespace root
};

// Where clonebot's own cgroups are and what it may do with them.
struct CgroupInfo {
  // v2.
  std::string v2_mount;                     // empty if no cgroup2 mount is visible
  std::string v2_self_dir;                  // our cgroup's directory (mount + /proc/self/cgroup)
  std::vector<std::string> v2_controllers;  // cgroup.controllers of our cgroup
  bool v2_writable = false;                 // we could create (and removed) a child cgroup
  // v1: controller ("memory") → our cgroup's directory in that hierarchy.
  std::map<std::string, std::string> v1_self_dirs;
  std::map<std::string, bool> v1_writable;  // controller → could create a child cgroup there
};

enum class CgroupBackend { kNone, kV1, kV2 };
enum class DirtyTracking { kPageHash, kSoftDirty, kUffdWpAsync };
enum class TraceBackend { kNone, kPtraceSyscall, kPtraceSeccomp };

struct KernelFeatures {
  std::string kernel_release;  // uname -r
  std::string machine;         // uname -m
  uid_t euid = 0;
  std::array<FeatureStatus, kFeatureCount> status{};
  int landlock_abi = 0;  // 0 if landlock is missing
  CgroupInfo cgroup;
  absl::Duration probe_time;

  bool Has(Feature f) const { return status[static_cast<int>(f)].available; }
  const FeatureStatus& Get(Feature f) const { return status[static_cast<int>(f)]; }
  FeatureStatus& Mutable(Feature f) { return status[static_cast<int>(f)]; }
};

// Runs every probe (well under a second). Fails only if it cannot probe at all (no /proc,
// cannot fork or make pipes); a missing feature is a FeatureStatus, not an error.
absl::StatusOr<KernelFeatures> ProbeKernelFeatures();

// ---- What each capability will use, derived from KernelFeatures (pure logic) ----

struct CapabilityPlan {
  std::string capability;  // "trace", "snapshot", "run", "checkpoint"
  std::string uses;        // the backend chosen on this machine
  std::string fallback;    // what it falls back to / what is missing
};

CgroupBackend ChooseCgroupBackend(const KernelFeatures& kf);
DirtyTracking ChooseDirtyTracking(const KernelFeatures& kf);
TraceBackend ChooseTraceBackend(const KernelFeatures& kf);
std::string_view CgroupBackendName(CgroupBackend b);
std::string_view DirtyTrackingName(DirtyTracking d);
std::string_view TraceBackendName(TraceBackend t);
std::vector<CapabilityPlan> PlanCapabilities(const KernelFeatures& kf);

// ---- Parsers (pure; exposed for tests and for sandbox/, which needs the same paths) ----

// Parses /proc/self/cgroup text. Malformed lines are skipped.
std::vector<ProcCgroupEntry> ParseProcCgroup(std::string_view text);

// Returns the cgroup and cgroup2 mounts in /proc/self/mountinfo text (octal escapes such as
// \040 in paths are decoded). Other mounts and malformed lines are skipped.
std::vector<CgroupMount> ParseCgroupMounts(std::string_view mountinfo);

// The directory of cgroup |path| (from /proc/self/cgroup) inside |mount|, or nullopt if the
// mount's root is not an ancestor of |path| (the cgroup is not visible through that mount).
std::optional<std::string> CgroupDir(const CgroupMount& mount, std::string_view path);

// Fills the path fields of CgroupInfo (not the writability or controller lists) from the two
// files' contents: v2 from the "0::" line and the first cgroup2 mount; v1 for each controller
// named in both. Only controllers in |v1_wanted| are recorded for v1.
CgroupInfo ResolveCgroupPaths(const std::vector<ProcCgroupEntry>& self,
                              const std::vector<CgroupMount>& mounts,
                              const std::vector<std::string>& v1_wanted);

// Splits a cgroup.controllers line ("cpuset cpu io memory pids\n").
std::vector<std::string> ParseControllerList(std::string_view text);

}  // namespace clonebot::abi
