#include "remote/stop.h"
#include "remote/wait.h"

#include <dirent.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <cerrno>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "base/clock.h"
#include "base/status.h"

namespace clonebot::remote {
namespace {

// Thread ids of |pid| now, or an empty set if the process is gone.
absl::StatusOr<std::set<pid_t>> ListTasks(pid_t pid) {
  std::string path = absl::StrFormat("/proc/%d/task", pid);
  DIR* d = opendir(path.c_str());
  if (!d) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrFormat("no process with pid %d", pid));
    return base::ErrnoError("opendir(%s)", path);
  }
  std::set<pid_t> out;
  while (dirent* e = readdir(d)) {
    int tid;
    if (absl::SimpleAtoi(e->d_name, &tid)) out.insert(tid);
  }
  closedir(d);
  return out;
}

// True if |pid| is gone or exiting (a zombie or dead task: PTRACE_SEIZE then fails with EPERM).
bool Exiting(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE* f = fopen(path, "re");
  if (!f) return true;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  const char* rp = strrchr(buf, ')');
  return !rp || rp[1] == 0 || rp[2] == 'Z' || rp[2] == 'X' || rp[2] == 'x';
}

absl::Status SeizeError(pid_t pid) {
  int err = errno;
  if (err == EPERM && Exiting(pid))
    return absl::NotFoundError(absl::StrFormat("process %d exited", pid));
  if (err == EPERM)
    return absl::PermissionDeniedError(absl::StrFormat(
        "not permitted to ptrace pid %d (another tracer, a different user, or kernel.yama.ptrace_scope)", pid));
  return base::ErrnoToStatus(err, absl::StrFormat("ptrace(SEIZE, %d)", pid));
}

}  // namespace

ProcessStop::~ProcessStop() { (void)Resume(); }

absl::Status ProcessStop::Stop(pid_t pid) {
  if (!threads_.empty()) return absl::FailedPreconditionError("process already stopped");
  pid_ = pid;
  std::set<pid_t> seized;
  bool started = false;
  for (int round = 0;; round++) {
    auto tasks = ListTasks(pid);
    if (!tasks.ok()) {
      if (!seized.empty() && absl::IsNotFound(tasks.status()))
        return absl::NotFoundError(absl::StrFormat("process %d exited", pid));
      return tasks.status();
    }
    bool any_new = false;
    for (pid_t tid : *tasks) {
      if (seized.count(tid)) continue;
      if (ptrace(PTRACE_SEIZE, tid, nullptr, nullptr) != 0) {
        if (errno == ESRCH) continue;  // the thread exited meanwhile
        absl::Status st = SeizeError(tid);
        (void)Resume();
        return st;
      }
      if (!started) {
        stop_started_ns_ = base::MonotonicNs();
        started = true;
      }
      ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr);
      seized.insert(tid);
      threads_.push_back({tid, 0});
      any_new = true;
    }
    if (!any_new) break;
    if (round > 1000) return absl::InternalError("threads of the process keep appearing");
  }
  if (threads_.empty()) return absl::NotFoundError(absl::StrFormat("no process with pid %d", pid));
  // Wait for every thread's stop. A thread may exit instead (exit_group from another thread).
  for (size_t i = 0; i < threads_.size();) {
    int status;
    pid_t r = WaitTraced(threads_[i].tid, &status);
    if (r < 0) {
      if (errno == EINTR) continue;
      threads_.erase(threads_.begin() + i);  // ECHILD: gone
      continue;
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      threads_.erase(threads_.begin() + i);
      continue;
    }
    if (WIFSTOPPED(status)) {
      int sig = WSTOPSIG(status);
      int event = status >> 16;
      // A signal-delivery-stop (not our interrupt, not a group-stop) carries a signal that must
      // be delivered when the thread resumes. The interrupt itself stays pending and is
      // reported later; it is dropped by the detach.
      if (event == 0 && sig != SIGTRAP) threads_[i].resume_sig = sig;
      if (event == 0 && sig == SIGTRAP) {
        siginfo_t si;
        if (ptrace(PTRACE_GETSIGINFO, threads_[i].tid, nullptr, &si) == 0 && si.si_code <= 0)
          threads_[i].resume_sig = sig;  // a SIGTRAP somebody sent, not a ptrace trap
      }
    }
    i++;
  }
  if (threads_.empty()) return absl::NotFoundError(absl::StrFormat("process %d exited", pid));
  // Leader first: callers inject into it by preference.
  std::stable_sort(threads_.begin(), threads_.end(),
                   [pid](const Thread& a, const Thread& b) { return a.tid == pid && b.tid != pid; });
  return absl::OkStatus();
}

std::vector<pid_t> ProcessStop::tids() const {
  std::vector<pid_t> out;
  for (const Thread& t : threads_) out.push_back(t.tid);
  return out;
}

void ProcessStop::SetResumeSignal(pid_t tid, int sig) {
  for (Thread& t : threads_)
    if (t.tid == tid) t.resume_sig = sig;
}

absl::Status ProcessStop::Resume() {
  if (threads_.empty()) return absl::OkStatus();
  absl::Status first;
  for (const Thread& t : threads_) {
    if (ptrace(PTRACE_DETACH, t.tid, nullptr, reinterpret_cast<void*>(static_cast<long>(t.resume_sig))) != 0 &&
        errno != ESRCH && first.ok())
      first = base::ErrnoError("ptrace(DETACH, %d)", t.tid);
  }
  threads_.clear();
  stopped_ns_ += base::MonotonicNs() - stop_started_ns_;
  return first;
}

}  // namespace clonebot::remote
