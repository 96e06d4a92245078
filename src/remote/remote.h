// remote: run system calls inside a stopped tracee and put it back exactly as it was.
//
// The shared injection engine of snapshot (userfaultfd set-up, the copy-on-write fork) and,
// later, checkpoint/restore. It owns no ptrace attachment: the caller seizes the target
// (PTRACE_SEIZE), stops it (PTRACE_INTERRUPT) and later detaches it. An Injector borrows one
// stopped thread for the time of the injection.
//
// Contract:
//  - Attach() saves the thread's registers (and, on aarch64, its syscall number); Restore() writes
//    them back byte for byte. A thread stopped inside a restartable syscall (nanosleep, read on a
//    pipe) restarts it after Restore exactly as the kernel would have, with nothing observable.
//  - Injected syscalls run at a `syscall` (x86_64) / `svc #0` (aarch64) instruction that already
//    exists in the tracee (its vDSO, or the instruction it is stopped after); the tracee's memory
//    is never written.
//  - A signal that arrives for the thread while a syscall runs is not lost: it is held and handed
//    back by ResumeSignal() for the caller's final PTRACE_CONT/PTRACE_DETACH.
//  - If the tracee dies (SIGKILL, exit of another thread's exec) mid-way, every call returns
//    absl::NotFoundError("process N exited") and nothing else is touched. The Injector has then
//    collected that thread's wait status itself (the message shows it); the caller's waitpid
//    will not see it again.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"

namespace clonebot::remote {

using SyscallArgs = std::array<uint64_t, 6>;

class Injector {
 public:
  // |tid| must be ptrace-seized by the calling thread and in a ptrace-stop: normally the
  // PTRACE_EVENT_STOP of a PTRACE_INTERRUPT (a group-stop, signal-delivery-stop or
  // syscall-exit-stop also works; a syscall-entry/seccomp stop is refused with
  // FailedPrecondition). At a signal-delivery-stop the caller keeps that signal itself: the first
  // injected syscall resumes the thread past it.
  // |ptrace_options| are the options the caller seized with (ptrace cannot read them back):
  // ForkHeld adds PTRACE_O_TRACECLONE for the time of the clone and then sets exactly these.
  // Errors: FailedPrecondition (not a stopped tracee of ours), Unimplemented (a 32-bit task; on
  // arm64 a thread inside a syscall that restarts with its original x0, see remote.cc).
  static absl::StatusOr<std::unique_ptr<Injector>> Attach(pid_t tid, int ptrace_options = 0);
  // Restores the registers if Restore() was not called. Never fails loudly.
  ~Injector();
  Injector(const Injector&) = delete;
  Injector& operator=(const Injector&) = delete;

  // Runs syscall |nr| (this architecture's number) with |args| in the thread and returns the
  // kernel's raw return value: negative errno on failure, as in the tracee. A syscall a signal
  // interrupts is run again (so do not inject syscalls with side effects before they block).
  // Not for syscalls that restart through restart_syscall (nanosleep, poll with a timeout,
  // ...): they return Unimplemented when interrupted. A seccomp filter of the tracee applies to
  // injected syscalls too (SIGSYS gives FailedPrecondition; RET_KILL kills the tracee).
  absl::StatusOr<int64_t> Syscall(int nr, const SyscallArgs& args);

  // Declares that the tracee's process has no other thread and will never get one (a held copy
  // made by ForkHeld, driven only by injected syscalls): waits for its stops then block in
  // waitpid instead of polling (see WaitTraced). Wrong on any other process: a wait could hang.
  void AssumeLoneThread();

  // Makes a copy-on-write copy of the whole process (a new single-threaded process whose memory
  // is the tracee's at the fork, copy-on-write) that never runs an instruction:
  //  - it is ptrace-attached to the calling thread and held in its first stop;
  //  - it has PTRACE_O_EXITKILL, so it dies if clonebot dies;
  //  - its exit signal is 0, so the tracee gets no SIGCHLD for it;
  //  - its stack pointer is 0, so were it ever to run, its first stack access kills it (only
  //    possible if clonebot dies in the moment between the clone and PTRACE_O_EXITKILL);
  //  - it shares the tracee's file table (CLONE_FILES): it holds no references of its own to
  //    open files, so a pipe or socket the tracee closes meanwhile really closes. /proc/COPY/fd
  //    therefore shows the tracee's current fds, not those at the fork.
  // Memory of the copy reads (process_vm_readv, /proc/PID/mem) as the tracee's did at the fork,
  // except MADV_DONTFORK ranges (absent) and MADV_WIPEONFORK ones (zero).
  // Other threads of the tracee keep running unless the caller stopped them.
  // A tracee thread blocked in wait*(__WALL or __WCLONE) for any child could reap the copy's
  // zombie after KillHeldFork; without those flags the copy is invisible to wait().
  // Returns the copy's pid. Dispose of it with KillHeldFork.
  absl::StatusOr<pid_t> ForkHeld();

  // Writes back the saved registers. The thread stays in its ptrace-stop. May be followed by more
  // Syscall()s (then Restore again, or the destructor does it).
  absl::Status Restore();

  // After Restore: the signal to pass to the caller's final PTRACE_CONT/PTRACE_DETACH of this
  // thread (0 if none arrived during injection); its siginfo is already set with
  // PTRACE_SETSIGINFO. Further signals that arrived were queued to the thread again by Restore
  // (with their siginfo when it has a negative si_code other than SI_TKILL, e.g. sigqueue;
  // kill()'s and kernel-generated ones arrive as a tgkill from clonebot).
  int ResumeSignal() const;

  pid_t tid() const;

 private:
  struct State;
  explicit Injector(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
};

// Ends a copy made by ForkHeld: SIGKILL, reaped as its tracer, then, if |parent| is given (an
// Injector on a stopped thread of the copy's parent process), reaped as a child by an injected
// wait4(copy, NULL, __WALL, NULL) so that no zombie is left in the tracee. Without |parent| the
// zombie stays until the tracee exits or waits for it. May be called twice: first without
// |parent| while the tracee runs (the copy's memory is torn down then, which takes long for a
// large copy), then with |parent| in a short stop to reap the zombie.
absl::Status KillHeldFork(pid_t copy, Injector* parent);

}  // namespace clonebot::remote
