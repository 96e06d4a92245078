// The sandbox's children: what runs between clone3 and execve. Private to src/sandbox.
//
// The parent builds a ChildPlan (every path, flag, fd and BPF program already in place), then
// clones. The children only read the plan and make syscalls: no allocation, no locks, no logging
// (STYLE §13). A failure is reported once over err_fd as a ChildError (stage, detail, errno);
// EOF on err_fd means the command was exec'ed.
#pragma once

#include <linux/filter.h>
#include <sys/resource.h>

#include <cstdint>
#include <vector>

namespace clonebot::sandbox::internal {

enum class Stage : int32_t {
  kWaitGo = 1,      // waiting for the parent to write the uid/gid maps
  kCgroupJoin,      // writing "0" to a v1 cgroup's tasks file (detail: index)
  kCgroupNs,        // unshare(CLONE_NEWCGROUP)
  kHostname,        // sethostname
  kLoopback,        // bringing lo up in the new network namespace
  kNetNs,           // making the network namespace (on init's thread) or entering it
  kMountPrivate,    // making / a slave mount tree
  kCloneSource,     // open_tree of a bind source (detail: index into sources)
  kMount,           // a MountStep (detail: index into steps)
  kPivot,           // pivot_root into the new root
  kRootReadOnly,    // making the new root read-only
  kCwd,             // chdir to the requested working directory
  kFork,            // forking the payload from init
  kRlimit,          // setrlimit (detail: index into rlimits)
  kCaps,            // dropping capabilities
  kNoNewPrivs,      // PR_SET_NO_NEW_PRIVS
  kLandlock,        // landlock (detail: index into landlock rules, or -1 for the ruleset)
  kSeccomp,         // installing the seccomp filter
  kExec,            // execve
};

struct ChildError {
  Stage stage;
  int32_t detail;
  int32_t err;
};

struct MountStep {
  enum Kind : uint8_t {
    kMkdir,     // mkdir(target, mode); EEXIST is fine
    kTouch,     // an empty file as a mount point; EEXIST is fine
    kSymlink,   // symlink(arg, target)
    kAttach,    // move_mount of source tree |source| to target
    kFs,        // mount(arg2 fstype, target, flags, arg data)
  };
  Kind kind;
  const char* target;
  const char* arg = nullptr;     // symlink target / fs data
  const char* fstype = nullptr;  // kFs
  unsigned long flags = 0;       // kFs mount flags
  int source = -1;               // kAttach: index into ChildPlan::sources
  unsigned mode = 0755;          // kMkdir
};

struct SourceTree {
  const char* path;   // host path, opened with open_tree(OPEN_TREE_CLONE|AT_RECURSIVE)
  bool read_only;     // mount_setattr(RDONLY|NOSUID|NODEV, AT_RECURSIVE) on the detached tree
};

struct LandlockRule {
  const char* path;   // inside the sandbox
  uint64_t access;    // LANDLOCK_ACCESS_FS_* allowed beneath it
};

struct ChildPlan {
  // Read end: one byte once the parent has written the uid/gid maps (init reads it before it
  // creates any file). EOF instead: the parent failed or died.
  int go_fd = -1;
  std::vector<const char*> cgroup_join;  // v1 "tasks" files init writes "0" to
  int err_fd = -1;      // write end: ChildError on failure
  int status_fd = -1;   // write end: init writes the payload's wait status (int) when it ends
  int cap_last = 40;    // /proc/sys/kernel/cap_last_cap

  const char* hostname = nullptr;
  bool new_net = true;  // a network namespace of its own, with lo up (made by init, not clone3)
  // Made on a thread of init while it mounts (child.cc); false: by init itself first, as where
  // the thread cannot start (CLONEBOT_RUN_NETNS_INLINE=1 makes the tests take that path).
  bool net_on_thread = true;
  const char* stage_dir = "/tmp";  // where the new root is assembled before pivot_root
  std::vector<SourceTree> sources;
  std::vector<int> source_fds;     // filled by the child (sized by the parent)
  std::vector<MountStep> steps;
  const char* cwd = nullptr;       // must exist inside
  const char* fallback_cwd = nullptr;  // tried first when cwd is null; "/" if it fails

  std::vector<struct rlimit> rlimit_values;
  std::vector<int> rlimit_resources;

  uint64_t landlock_handled = 0;   // 0: no landlock
  std::vector<LandlockRule> landlock_rules;

  const sock_filter* seccomp = nullptr;
  unsigned short seccomp_len = 0;

  std::vector<const char*> argv;   // null-terminated
  std::vector<const char*> envp;   // null-terminated
  const char* path_env = nullptr;  // PATH from envp, for argv[0] without '/'
};

// init: runs in the clone3 child (pid 1 of the new pid namespace); never returns.
[[noreturn]] void InitMain(ChildPlan& plan);

}  // namespace clonebot::sandbox::internal
