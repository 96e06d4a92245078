// ProcessStop: every thread of a process held in a ptrace-stop, for as short a time as possible.
//
// Stop() seizes (PTRACE_SEIZE, options 0) and interrupts (PTRACE_INTERRUPT) every thread,
// re-listing /proc/PID/task until no new thread appears, and waits until each is in a
// ptrace-stop. Resume() lets every thread go on (PTRACE_DETACH from the stop, re-delivering a
// signal that the stop had intercepted) and is idempotent; the destructor calls it. If clonebot
// is killed while threads are stopped, the kernel detaches them: never left stopped.
//
// A process that was already in a job-control stop (state T) stays stopped after Resume, as it
// was. Thread exits while stopping are handled; the whole process exiting is
// absl::NotFoundError("process N exited").
#pragma once

#include <sys/types.h>

#include <memory>
#include <vector>

#include "absl/status/statusor.h"

namespace clonebot::remote {

class ProcessStop {
 public:
  ProcessStop() = default;
  ~ProcessStop();
  ProcessStop(const ProcessStop&) = delete;
  ProcessStop& operator=(const ProcessStop&) = delete;

  // |pid| is the thread-group id.
  absl::Status Stop(pid_t pid);
  // Re-stops a process that this object stopped before and resumed.
  absl::Status Restop() { return Stop(pid_); }
  absl::Status Resume();

  pid_t pid() const { return pid_; }
  bool stopped() const { return !threads_.empty(); }
  // Stopped thread ids; the thread-group leader first if it is alive.
  std::vector<pid_t> tids() const;
  // Nanoseconds between the first PTRACE_INTERRUPT and the last Resume, summed over stops.
  uint64_t stopped_ns() const { return stopped_ns_; }

  // The signal the thread's stop intercepted (to be delivered on resume), or 0. A caller that
  // ran an Injector on |tid| passes the Injector's ResumeSignal() through here.
  void SetResumeSignal(pid_t tid, int sig);

 private:
  struct Thread {
    pid_t tid;
    int resume_sig;
  };
  pid_t pid_ = 0;
  std::vector<Thread> threads_;
  uint64_t stop_started_ns_ = 0;
  uint64_t stopped_ns_ = 0;
};

}  // namespace clonebot::remote
