// The ptrace backend: spawns a command or seizes running processes, follows forks, vforks,
// clones and execs, and writes every (selected) syscall, signal and exit into a TraceWriter.
//
// Stop discipline: each stop costs two context switches, so the stop path makes the fewest
// ptrace calls it can (waitpid, one PTRACE_GET_SYSCALL_INFO, memory reads only where the decoder
// asks for them, the resume) and never formats text or touches the disk.
//
// Failure contract: attached processes (-p) are always detached (never left stopped): on normal
// end, on SIGINT/SIGTERM/SIGHUP/SIGQUIT, and by the kernel if clonebot is SIGKILLed. A spawned
// command under the seccomp prefilter cannot run without its tracer (its filtered syscalls would
// fail with ENOSYS), so it is started with PTRACE_O_EXITKILL and dies with clonebot, as under
// strace --seccomp-bpf.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trace/filter.h"
#include "trace/tracepipe.h"

namespace clonebot::trace {

struct TracerOptions {
  std::vector<std::string> command;  // spawn this (argv[0] is looked up in PATH), or ...
  std::vector<pid_t> attach;         // ... seize these processes (all their threads)
  SyscallFilter filter;
  uint32_t strsize = 32;
  // For a spawned command with a partial filter: trap only the selected syscalls in the kernel.
  bool seccomp_prefilter = true;
  // Spawned command only: run it and the tracer on one CPU (the one the tracer is on). Each stop
  // wakes the other side; across CPUs that wakeup costs a VM exit when the other vCPU idles.
  // Measured here on an idle machine: 107 us per traced syscall across CPUs, 13 us on one.
  // The command sees its original affinity mask through sched_getaffinity (the tracer rewrites
  // the result), but its threads share that one CPU; --no-pin turns this off.
  bool pin_cpu = true;
};

struct TracerStats {
  uint64_t stops = 0;
  uint64_t syscalls = 0;      // syscall entries recorded
  uint64_t signals = 0;
  uint64_t tasks_seen = 0;
  bool used_seccomp = false;
  bool interrupted = false;   // ended by a signal to clonebot
};

struct TraceOutcome {
  // What `clonebot trace` should exit with: the spawned command's status (128+N if killed by
  // signal N); 0 for attach mode.
  int exit_code = 0;
  TracerStats stats;
};

// Runs the trace to completion. The writer must already hold the header. Errors: the command
// cannot be found/executed, a PID cannot be seized (no such process, no permission).
absl::StatusOr<TraceOutcome> RunTracer(const TracerOptions& opts, TraceWriter& writer);

// Resolves argv[0] against PATH as execvp would (strace resolves it itself so that the trace
// shows one execve). Returns the path or NotFound.
absl::StatusOr<std::string> ResolveCommand(const std::string& name);

}  // namespace clonebot::trace
