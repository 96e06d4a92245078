// One cgroup per sandboxed run, created beneath clonebot's own cgroup and removed afterwards.
//
// v2 first: a directory under our cgroup2 cgroup with memory.max, pids.max and cpu.max; the child
// is born in it (clone3 CLONE_INTO_CGROUP with clone_into_fd()), and cgroup.kill tears it down.
// v1 as the fallback: one directory per controller hierarchy (memory, pids, cpu) beneath our own
// cgroup in that hierarchy; the parent writes the child's pid into each before the child goes on.
// Nothing is ever moved outside these directories.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/unique_fd.h"
#include "sandbox/sandbox.h"

namespace clonebot::sandbox {

class RunCgroup {
 public:
  // Creates the cgroup with |limits| applied. |choice| kAuto takes v2 if our cgroup2 cgroup can
  // have the needed controllers, else v1. |stats| asks for memory and pids accounting even when
  // no limit is set. Fails with a message naming the directory and errno.
  //
  // A v1 cgroup is only planned here (names chosen, stale ones of dead runs removed): the
  // directories are made by MaterializeV1. The child joins by writing "0" to each
  // SelfJoinFiles() file: moving only the writing thread lets the kernel skip the global
  // cgroup_threadgroup_rwsem, whose write side waits for an RCU grace period (5-15 ms here) when
  // a pid is written to cgroup.procs.
  static absl::StatusOr<std::unique_ptr<RunCgroup>> Create(const Limits& limits, CgroupChoice choice,
                                                           bool stats);
  ~RunCgroup();  // Destroy(), errors ignored
  RunCgroup(const RunCgroup&) = delete;
  RunCgroup& operator=(const RunCgroup&) = delete;

  bool v2() const { return v2_; }
  // The v2 directory fd for CLONE_INTO_CGROUP, or -1 (v1).
  int clone_into_fd() const { return v2_dir_fd_.get(); }
  // v1: makes the planned directories and applies the limits (a no-op for v2 or if done).
  absl::Status MaterializeV1();
  // v1: the "tasks" file of each directory; writing "0" moves the writing thread in.
  std::vector<std::string> SelfJoinFiles() const;

  struct Stats {
    uint64_t peak_memory = 0;  // 0 if unknown
    uint64_t oom_kills = 0;
    uint64_t pids_max_hits = 0;
  };
  Stats ReadStats() const;

  // SIGKILLs everything still inside (v2 cgroup.kill; v1 walks cgroup.procs).
  void KillAll();
  // Removes the directories; if one still has members, KillAll first, then waits (up to ~2 s)
  // for the dying processes to leave.
  absl::Status Destroy();

 private:
  RunCgroup() = default;
  bool v2_ = false;
  std::string v2_dir_;
  base::UniqueFd v2_dir_fd_;
  std::map<std::string, std::string> v1_dirs_;  // controller → planned directory
  std::vector<std::string> made_;               // v1 directories actually created
  bool materialized_ = false;
  Limits limits_;
};

}  // namespace clonebot::sandbox
