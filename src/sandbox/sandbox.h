// sandbox: run one command isolated (namespaces, a pivot_root'ed tmpfs root with read-only host
// binds, cgroup limits, rlimits, no capabilities, no_new_privs, landlock, a seccomp filter) and
// report how it ended. The mechanism is described in src/sandbox/README.md.
//
// Process tree:  clonebot (supervisor, host namespaces)
//                  └─ init  (pid 1 of the new pid namespace: sets the namespace up, reaps, forwards)
//                       └─ payload (execs the command)
// Killing init kills everything in the pid namespace, so a time limit, a fatal signal to clonebot
// (init has PR_SET_PDEATHSIG=SIGKILL) or a fork bomb leave no process behind.
//
// Thread-safety: Run() forks; call it while the process is single-threaded. Between clone and
// exec the children run only async-signal-safe code over data prepared by the parent.
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace clonebot::sandbox {

struct Bind {
  std::string source;  // absolute host path
  std::string target;  // absolute path inside the sandbox
  bool writable = false;
};

struct Rlimit {
  int resource = 0;  // RLIMIT_*
  uint64_t soft = 0, hard = 0;  // RLIM_INFINITY allowed
  std::string name;  // as the user wrote it ("nofile"), for errors
};

struct Limits {
  std::optional<uint64_t> memory_max;  // bytes
  std::optional<uint64_t> pids_max;
  std::optional<double> cpu_max;       // CPUs (0.5 = half of one CPU)
};

enum class CgroupChoice { kAuto, kV2, kV1, kNone };

struct Spec {
  std::vector<std::string> argv;  // argv[0] is searched in PATH (of |env|) when it has no '/'
  std::vector<std::string> env;   // exactly the child's environment
  std::string cwd;                // empty: the caller's cwd if visible inside, else "/"

  bool share_net = false;         // --net host
  std::string hostname = "clonebot";
  std::vector<Bind> binds;        // in order, after the system binds
  std::vector<std::string> tmpfs; // extra empty tmpfs mounts
  bool system_binds = true;       // read-only /usr, /etc, /opt and the /bin, /lib... links

  Limits limits;
  CgroupChoice cgroup = CgroupChoice::kAuto;
  std::vector<Rlimit> rlimits;
  std::optional<std::chrono::milliseconds> time_limit;

  std::vector<sock_filter> seccomp;  // installed last, right before execve; empty: none
  bool landlock = true;              // where the kernel has it
  bool want_cgroup_stats = false;    // create a cgroup even without limits (peak memory, events)
};

struct Report {
  int exit_code = 0;        // what clonebot exits with: the status, or 128+N for signal N
  bool signaled = false;
  int signal = 0;
  std::string ended_by;     // "exit", "signal", "oom", "time", "pids" (a limit's kill or refusal)
  double wall_ms = 0, user_ms = 0, sys_ms = 0;
  uint64_t peak_memory = 0;         // bytes: the cgroup's peak if there was one, else max RSS
  std::string peak_memory_source;   // "cgroup-v1", "cgroup-v2", "rusage"
  uint64_t oom_kills = 0;
  uint64_t pids_max_hits = 0;       // forks refused by pids.max
  std::string cgroup;               // "v2", "v1", "none"
  std::string landlock;             // "abi N" or why not
  double setup_ms = 0;              // clone to execve
};

// Runs |spec| to completion. A failure to set the sandbox up is a Status naming the stage and
// errno ("mount /usr read-only: Permission denied"); everything created is removed first. Once
// the command runs, how it ended is in the Report, never a Status.
absl::StatusOr<Report> Run(const Spec& spec);

// Parsers for the CLI, with errors a user can act on.
absl::StatusOr<uint64_t> ParseSize(std::string_view s);          // "256M", "1G", "4096", "1.5G"
absl::StatusOr<double> ParseCpu(std::string_view s);             // "50%", "1.5", "200%"
absl::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view s);  // "10s", "500ms", "2m", "1.5"
absl::StatusOr<Rlimit> ParseRlimit(std::string_view s);          // "nofile=1024", "as=1G:2G", "core=0"
absl::StatusOr<Bind> ParseBind(std::string_view s, bool writable);  // "SRC[:DST]", relative to cwd

std::string ReportJson(const Report& r);

}  // namespace clonebot::sandbox
