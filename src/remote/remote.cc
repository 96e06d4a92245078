// Syscall injection by single-stepping an existing syscall instruction.
//
// Mechanism (x86_64; aarch64 is the same with svc #0, x8/x0..x5 and NT_ARM_SYSTEM_CALL):
//  1. Attach saves the registers and finds a `syscall` instruction: the two bytes before rip when
//     the thread stopped right after one (any thread stopped inside a syscall), else one in the
//     [vdso] (or, without a vDSO, in any other executable mapping). Nothing is written.
//  2. Syscall sets rax=nr, the six argument registers, rip=insn and orig_rax=-1, then
//     PTRACE_SINGLESTEP. The kernel reports a single step over `syscall` at the syscall's exit
//     (SIGTRAP, si_code > 0) with rip=insn+2 and rax=result. orig_rax=-1 matters when the thread
//     was stopped inside an interrupted syscall: the stop is inside get_signal(), and the
//     kernel's restart logic (rip-=2, rax=orig_rax) runs on whatever registers the thread has
//     when it leaves that stop. With orig_rax=-1 it leaves our registers alone; with the saved
//     registers written back (Restore) it restarts the original syscall as it would have.
//  3. Signals that arrive meanwhile show up as signal-delivery-stops; they are suppressed (the
//     thread is resumed with 0) and remembered. Restore hands the first back through the final
//     stop, which is always a signal-delivery-stop (our SIGTRAP), so the caller's
//     PTRACE_CONT/DETACH with ResumeSignal() delivers it with its original siginfo. Further
//     ones are queued again to the thread (rt_tgsigqueueinfo keeps their siginfo when the kernel
//     allows a foreign sender to, else tgkill).
//  4. An injected syscall that a signal interrupts (-ERESTARTSYS and friends, visible at our
//     SIGTRAP stop before the kernel's restart logic) is simply run again.
#include "remote/remote.h"
#include "remote/wait.h"

#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "base/status.h"
#include "base/unique_fd.h"

namespace clonebot::remote {
namespace {

using base::ErrnoError;

// Kernel-internal return values of an interrupted syscall (include/linux/errno.h). A tracer sees
// them in rax at a stop inside signal delivery; the program never does.
constexpr int64_t kERestartSys = -512;
constexpr int64_t kERestartNoIntr = -513;
constexpr int64_t kERestartNoHand = -514;
constexpr int64_t kERestartRestartBlock = -516;  // (515 is ENOIOCTLCMD, not a restart)

bool IsRestartCode(int64_t v) {
  return v == kERestartSys || v == kERestartNoIntr || v == kERestartNoHand ||
         v == kERestartRestartBlock;
}

// ------------------------------------------------------------------------ architecture layer

#if defined(__x86_64__)

struct Regs {
  user_regs_struct gp;
};

constexpr uint64_t kInsnSize = 2;
constexpr size_t kInsnAlign = 1;

bool IsSyscallInsn(const uint8_t* p) { return p[0] == 0x0f && p[1] == 0x05; }

absl::Status GetRegs(pid_t tid, Regs* r) {
  if (ptrace(PTRACE_GETREGS, tid, nullptr, &r->gp) != 0)
    return ErrnoError("ptrace(GETREGS, %d)", tid);
  return absl::OkStatus();
}

absl::Status SetRegs(pid_t tid, const Regs& r) {
  if (ptrace(PTRACE_SETREGS, tid, nullptr, &r.gp) != 0)
    return ErrnoError("ptrace(SETREGS, %d)", tid);
  return absl::OkStatus();
}

uint64_t Pc(const Regs& r) { return r.gp.rip; }
int64_t Result(const Regs& r) { return static_cast<int64_t>(r.gp.rax); }
uint64_t Sp(const Regs& r) { return r.gp.rsp; }
void SetSp(Regs& r, uint64_t sp) { r.gp.rsp = sp; }

// Registers for running |nr| at |insn|: orig_rax=-1 keeps the kernel's restart logic off them.
void SetupCall(Regs& r, int nr, const SyscallArgs& a, uint64_t insn) {
  r.gp.rax = static_cast<uint64_t>(static_cast<int64_t>(nr));
  r.gp.rdi = a[0];
  r.gp.rsi = a[1];
  r.gp.rdx = a[2];
  r.gp.r10 = a[3];
  r.gp.r8 = a[4];
  r.gp.r9 = a[5];
  r.gp.rip = insn;
  r.gp.orig_rax = static_cast<uint64_t>(-1);
}

absl::Status CheckInjectable(pid_t tid, const Regs& r) {
  // 0x33 is __USER_CS; a 32-bit (ia32) task runs with 0x23 and has another syscall ABI.
  if (r.gp.cs != 0x33)
    return absl::UnimplementedError(
        absl::StrFormat("thread %d runs 32-bit code (cs=%#llx); only x86_64 tasks are supported",
                        tid, r.gp.cs));
  return absl::OkStatus();
}

constexpr int kCloneNr = SYS_clone;
constexpr int kWait4Nr = SYS_wait4;

#elif defined(__aarch64__)

// arm64: general registers via PTRACE_GETREGSET(NT_PRSTATUS), the syscall number the restart
// logic looks at via NT_ARM_SYSTEM_CALL (-1: not in a syscall).
//
// UNTESTED (built only on x86_64 so far). Limitation: arm64's restart logic reloads x0 from
// orig_x0, which ptrace can neither read nor write, and every injected syscall overwrites it with
// its own first argument. So a thread stopped inside a syscall that would restart with its
// original x0 (-ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND) cannot be put back exactly, and
// Attach refuses it with Unimplemented instead of corrupting it. -ERESTART_RESTARTBLOCK
// (nanosleep, clock_nanosleep, poll with timeout, ...) is accepted: it restarts as
// restart_syscall, which takes its state from the kernel's restart_block and ignores x0.
struct Regs {
  user_regs_struct gp;  // regs[31], sp, pc, pstate
  int syscallno;
};

constexpr uint64_t kInsnSize = 4;
constexpr size_t kInsnAlign = 4;

bool IsSyscallInsn(const uint8_t* p) {  // svc #0 = 0xd4000001, little-endian
  return p[0] == 0x01 && p[1] == 0x00 && p[2] == 0x00 && p[3] == 0xd4;
}

absl::Status GetRegs(pid_t tid, Regs* r) {
  iovec gp{&r->gp, sizeof r->gp};
  if (ptrace(PTRACE_GETREGSET, tid, reinterpret_cast<void*>(NT_PRSTATUS), &gp) != 0)
    return ErrnoError("ptrace(GETREGSET NT_PRSTATUS, %d)", tid);
  iovec nr{&r->syscallno, sizeof r->syscallno};
  if (ptrace(PTRACE_GETREGSET, tid, reinterpret_cast<void*>(NT_ARM_SYSTEM_CALL), &nr) != 0)
    return ErrnoError("ptrace(GETREGSET NT_ARM_SYSTEM_CALL, %d)", tid);
  return absl::OkStatus();
}

absl::Status SetRegs(pid_t tid, const Regs& r) {
  Regs copy = r;
  iovec gp{&copy.gp, sizeof copy.gp};
  if (ptrace(PTRACE_SETREGSET, tid, reinterpret_cast<void*>(NT_PRSTATUS), &gp) != 0)
    return ErrnoError("ptrace(SETREGSET NT_PRSTATUS, %d)", tid);
  iovec nr{&copy.syscallno, sizeof copy.syscallno};
  if (ptrace(PTRACE_SETREGSET, tid, reinterpret_cast<void*>(NT_ARM_SYSTEM_CALL), &nr) != 0)
    return ErrnoError("ptrace(SETREGSET NT_ARM_SYSTEM_CALL, %d)", tid);
  return absl::OkStatus();
}

uint64_t Pc(const Regs& r) { return r.gp.pc; }
int64_t Result(const Regs& r) { return static_cast<int64_t>(r.gp.regs[0]); }
uint64_t Sp(const Regs& r) { return r.gp.sp; }
void SetSp(Regs& r, uint64_t sp) { r.gp.sp = sp; }

void SetupCall(Regs& r, int nr, const SyscallArgs& a, uint64_t insn) {
  r.gp.regs[8] = static_cast<uint64_t>(static_cast<int64_t>(nr));
  for (int i = 0; i < 6; i++) r.gp.regs[i] = a[i];
  r.gp.pc = insn;
  r.syscallno = -1;
}

absl::Status CheckInjectable(pid_t tid, const Regs& r) {
  if (r.gp.pstate & 0x10)  // PSR_MODE32_BIT
    return absl::UnimplementedError(
        absl::StrFormat("thread %d runs 32-bit code; only aarch64 tasks are supported", tid));
  int64_t x0 = static_cast<int64_t>(r.gp.regs[0]);
  if (r.syscallno >= 0 && IsRestartCode(x0) && x0 != kERestartRestartBlock)
    return absl::UnimplementedError(absl::StrFormat(
        "thread %d is stopped inside restartable syscall %d; arm64 cannot restore its orig_x0",
        tid, r.syscallno));
  return absl::OkStatus();
}

constexpr int kCloneNr = SYS_clone;
constexpr int kWait4Nr = SYS_wait4;

#else
#error "remote: unsupported architecture"
#endif

// ----------------------------------------------------------------------------- helpers

pid_t WaitTid(pid_t tid, int* status) { return WaitTraced(tid, status); }

absl::StatusOr<std::string> ReadProcFile(const std::string& path) {
  base::UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoError("open(%s)", path);
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("read(%s)", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// The value of a "Key:\tvalue" line of /proc/PID/status; for NSpid, the last (innermost) one.
absl::StatusOr<pid_t> StatusPid(pid_t tid, absl::string_view key) {
  ASSIGN_OR_RETURN(std::string text, ReadProcFile(absl::StrCat("/proc/", tid, "/status")));
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, key) || !absl::ConsumePrefix(&line, ":")) continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    int v = 0;
    if (fields.empty() || !absl::SimpleAtoi(fields.back(), &v)) break;
    return static_cast<pid_t>(v);
  }
  return absl::NotFoundError(absl::StrFormat("no %s in /proc/%d/status", key, tid));
}

// Reads up to |len| bytes; returns how many were readable from |addr| on.
size_t ReadMemory(pid_t tid, uint64_t addr, void* buf, size_t len) {
  iovec local{buf, len};
  iovec remote{reinterpret_cast<void*>(addr), len};
  ssize_t n = process_vm_readv(tid, &local, 1, &remote, 1, 0);
  return n > 0 ? static_cast<size_t>(n) : 0;
}

// The syscall instruction the thread is stopped right after, if any. Reads the aligned word
// before pc with PTRACE_PEEKTEXT only when it lies in pc's page, which is mapped and executable
// (the thread runs there).
bool InsnBeforePc(pid_t tid, uint64_t pc) {
  if ((pc & 0xfff) < 8) return false;
  errno = 0;
  long word = ptrace(PTRACE_PEEKTEXT, tid, reinterpret_cast<void*>(pc - 8), nullptr);
  if (errno != 0) return false;
  uint8_t bytes[8];
  memcpy(bytes, &word, sizeof bytes);
  return IsSyscallInsn(bytes + 8 - kInsnSize);
}

// Scans [start, end) of the tracee for a syscall instruction.
absl::StatusOr<uint64_t> ScanRange(pid_t tid, uint64_t start, uint64_t end) {
  constexpr size_t kChunk = 64 * 1024;
  std::vector<uint8_t> buf(kChunk);
  for (uint64_t at = start; at < end;) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, end - at));
    size_t got = ReadMemory(tid, at, buf.data(), want);
    if (got < kInsnSize) break;
    for (size_t i = 0; i + kInsnSize <= got; i += kInsnAlign)
      if (IsSyscallInsn(&buf[i])) return at + i;
    // Overlap by one instruction minus one byte so a match across chunks is not missed.
    at += got - (kInsnSize - kInsnAlign);
    if (got < want) break;
  }
  return absl::NotFoundError("no syscall instruction");
}

// A syscall instruction in an executable mapping: the vDSO's first, else any other executable
// mapping's (a process without a vDSO still has libc or a static binary's text).
absl::StatusOr<uint64_t> FindSyscallInsn(pid_t tid) {
  ASSIGN_OR_RETURN(std::string maps, ReadProcFile(absl::StrCat("/proc/", tid, "/maps")));
  struct Range {
    uint64_t start, end;
  };
  std::vector<Range> others;
  for (absl::string_view line : absl::StrSplit(maps, '\n', absl::SkipEmpty())) {
    // start-end perms offset dev inode [path]
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() < 5 || f[1].size() < 3 || f[1][2] != 'x') continue;
    std::pair<absl::string_view, absl::string_view> se = absl::StrSplit(f[0], '-');
    uint64_t start = 0, end = 0;
    if (!absl::SimpleHexAtoi(se.first, &start) || !absl::SimpleHexAtoi(se.second, &end)) continue;
    absl::string_view path = f.size() >= 6 ? f[5] : "";
    if (path == "[vsyscall]") continue;  // emulated or execute-only: not a place to jump to
    if (path == "[vdso]") {
      absl::StatusOr<uint64_t> at = ScanRange(tid, start, end);
      if (at.ok()) return at;
      continue;
    }
    others.push_back({start, end});
  }
  for (const Range& r : others) {
    // The first MiB of a text mapping is plenty: every libc has syscall wrappers early.
    absl::StatusOr<uint64_t> at = ScanRange(tid, r.start, std::min(r.end, r.start + (1 << 20)));
    if (at.ok()) return at;
  }
  return absl::NotFoundError(
      absl::StrFormat("no syscall instruction in any executable mapping of thread %d", tid));
}

// Clock ticks since boot, the unit of /proc/PID/stat's starttime.
uint64_t BootTicks() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  uint64_t hz = static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  return static_cast<uint64_t>(ts.tv_sec) * hz +
         static_cast<uint64_t>(ts.tv_nsec) * hz / 1000000000;
}

// The tracee died between creating the copy and reporting PTRACE_EVENT_CLONE (a fatal signal
// skips that stop), so the copy exists, auto-attached to this thread, but its pid is unknown.
// Finds it among this thread's tracees started since |since_ticks| by its registers (sp 0, just
// after our syscall instruction) and kills it. Only on this rare path.
void ReapLostCopy(uint64_t since_ticks, uint64_t insn) {
  std::string me = absl::StrCat("TracerPid:\t", gettid(), "\n");
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return;
  std::vector<pid_t> candidates;
  while (dirent* e = readdir(dir)) {
    int pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid) || pid <= 0) continue;
    absl::StatusOr<std::string> status = ReadProcFile(absl::StrCat("/proc/", pid, "/status"));
    if (!status.ok() || status->find(me) == std::string::npos) continue;
    absl::StatusOr<std::string> stat = ReadProcFile(absl::StrCat("/proc/", pid, "/stat"));
    if (!stat.ok()) continue;
    size_t paren = stat->rfind(')');
    if (paren == std::string::npos) continue;
    // Fields after "pid (comm) ": state is field 3, starttime field 22.
    std::vector<absl::string_view> f =
        absl::StrSplit(absl::string_view(*stat).substr(paren + 2), ' ');
    uint64_t start = 0;
    if (f.size() > 19 && absl::SimpleAtoi(f[19], &start) && start + 1 >= since_ticks)
      candidates.push_back(pid);
  }
  closedir(dir);
  for (pid_t pid : candidates) {
    // A new copy reaches its first stop within microseconds; give it up to 2 s.
    Regs r{};
    bool got = false;
    for (int i = 0; i < 2000 && !(got = GetRegs(pid, &r).ok()); i++) usleep(1000);
    if (!got || Sp(r) != 0 || Pc(r) != insn + kInsnSize) continue;
    kill(pid, SIGKILL);
    int st = 0;
    while (WaitTid(pid, &st) == pid && !WIFEXITED(st) && !WIFSIGNALED(st)) {
    }
  }
}

bool IsSyncFault(const siginfo_t& si) {
  switch (si.si_signo) {
    case SIGSEGV:
    case SIGBUS:
    case SIGILL:
    case SIGFPE:
    case SIGSYS:
      return si.si_code > 0;
    default:
      return false;
  }
}

}  // namespace

// ------------------------------------------------------------------------------ Injector

struct Injector::State {
  pid_t tid = 0;
  pid_t tgid = 0;
  int options = 0;      // the caller's ptrace options (restored after ForkHeld)
  Regs saved{};
  uint64_t insn = 0;    // address of the syscall instruction we run
  bool dirty = false;   // registers differ from |saved|
  bool dead = false;
  std::string death;    // NotFound message once dead
  std::vector<siginfo_t> held;  // signals suppressed while stepping; [0] is ResumeSignal's
  int resume_signal = 0;
  bool lone = false;    // AssumeLoneThread

  absl::Status Dead() const { return absl::NotFoundError(death); }
  pid_t Wait(int* status) const { return WaitTraced(tid, status, lone); }

  // A ptrace request on the stopped thread failed with ESRCH: it was killed (SIGKILL wakes a
  // ptrace-stopped thread) or is otherwise no longer ours. Collects its end and reports NotFound.
  absl::Status CheckDeath(absl::Status err) {
    if (dead) return Dead();
    if (!absl::IsNotFound(err)) return err;  // ESRCH maps to NotFound
    int status = 0;
    pid_t r = Wait(&status);
    MarkDead(r == tid ? status : -1);
    return Dead();
  }

  void MarkDead(int status) {
    dead = true;
    death = absl::StrFormat("process %d exited", tgid);
    if (status != -1) absl::StrAppendFormat(&death, " (thread %d, wait status %#x)", tid, status);
  }

  absl::Status Ptrace(__ptrace_request req, void* addr, void* data, const char* what) {
    if (ptrace(req, tid, addr, data) == 0) return absl::OkStatus();
    return CheckDeath(ErrnoError("ptrace(%s, %d)", what, tid));
  }

  void Hold(const siginfo_t& si) {
    // Standard signals do not queue: a second one pending would have been merged by the kernel.
    if (si.si_signo < SIGRTMIN)
      for (const siginfo_t& h : held)
        if (h.si_signo == si.si_signo) return;
    held.push_back(si);
  }

  // Runs one syscall; on PTRACE_EVENT_CLONE stores the new task's pid (tracer's pid namespace)
  // in |*clone_child|.
  absl::StatusOr<int64_t> Run(int nr, const SyscallArgs& args, bool zero_sp, pid_t* clone_child);
};

absl::StatusOr<int64_t> Injector::State::Run(int nr, const SyscallArgs& args, bool zero_sp,
                                             pid_t* clone_child) {
  if (dead) return Dead();
  Regs call = saved;
  SetupCall(call, nr, args, insn);
  if (zero_sp) SetSp(call, 0);
  dirty = true;
  if (absl::Status st = SetRegs(tid, call); !st.ok()) return CheckDeath(st);

  // Bounds a livelock (a signal storm, a misbehaving kernel) instead of hanging.
  constexpr int kMaxStops = 1 << 20;
  for (int stops = 0; stops < kMaxStops; stops++) {
    RETURN_IF_ERROR(Ptrace(PTRACE_SINGLESTEP, nullptr, nullptr, "SINGLESTEP"));
    int status = 0;
    if (Wait(&status) != tid) {
      MarkDead(-1);
      return Dead();
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      MarkDead(status);
      return Dead();
    }
    if (!WIFSTOPPED(status)) continue;
    int sig = WSTOPSIG(status);
    int event = status >> 16;
    if (event == PTRACE_EVENT_EXIT) {
      MarkDead(status);
      return Dead();
    }
    if (event == PTRACE_EVENT_CLONE && clone_child != nullptr) {
      unsigned long msg = 0;
      RETURN_IF_ERROR(Ptrace(PTRACE_GETEVENTMSG, nullptr, &msg, "GETEVENTMSG"));
      *clone_child = static_cast<pid_t>(msg);
      continue;
    }
    // Group-stop, seccomp and other event stops: the step is still to be taken.
    if (event != 0) continue;

    siginfo_t si{};
    if (ptrace(PTRACE_GETSIGINFO, tid, nullptr, &si) != 0) {
      // EINVAL: a group-stop of a PTRACE_ATTACHed thread, which looks like a signal stop.
      if (errno == EINVAL) continue;
      return CheckDeath(ErrnoError("ptrace(GETSIGINFO, %d)", tid));
    }
    if (sig != SIGTRAP || si.si_code <= 0) {
      // A signal from someone else (SIGTRAP too when sent by kill/tgkill/sigqueue).
      if (IsSyncFault(si))
        return absl::FailedPreconditionError(absl::StrFormat(
            "injected syscall %d in thread %d raised signal %d (code %d)%s", nr, tid, sig,
            si.si_code, sig == SIGSYS ? ": blocked by a seccomp filter" : ""));
      Hold(si);
      if (sig != SIGTRAP) continue;
      // A foreign SIGTRAP may have swallowed our step trap (standard signals do not queue):
      // fall through and look at where the thread is.
    }

    Regs now{};
    if (absl::Status st = GetRegs(tid, &now); !st.ok()) return CheckDeath(st);
    if (Pc(now) == insn) continue;  // not executed yet (a foreign SIGTRAP came first)
    if (Pc(now) != insn + kInsnSize)
      return absl::InternalError(absl::StrFormat(
          "thread %d is at %#llx after injected syscall %d, expected %#llx", tid,
          static_cast<unsigned long long>(Pc(now)), nr,
          static_cast<unsigned long long>(insn + kInsnSize)));
    int64_t ret = Result(now);
    if (ret == kERestartRestartBlock)
      return absl::UnimplementedError(absl::StrFormat(
          "injected syscall %d was interrupted and needs restart_syscall", nr));
    if (IsRestartCode(ret)) {
      // Interrupted by a signal (held, or about to be held at the next stop): run it again.
      if (absl::Status st = SetRegs(tid, call); !st.ok()) return CheckDeath(st);
      continue;
    }
    return ret;
  }
  return absl::InternalError(
      absl::StrFormat("injected syscall %d in thread %d did not complete", nr, tid));
}

Injector::Injector(std::unique_ptr<State> state) : s_(std::move(state)) {}

Injector::~Injector() {
  if (s_ && !s_->dead && s_->dirty) (void)Restore();
}

absl::StatusOr<std::unique_ptr<Injector>> Injector::Attach(pid_t tid, int ptrace_options) {
  auto s = std::make_unique<State>();
  s->tid = tid;
  s->options = ptrace_options;
  if (absl::Status st = GetRegs(tid, &s->saved); !st.ok())
    return absl::FailedPreconditionError(absl::StrCat(
        "thread ", tid, " is not in a ptrace-stop of the calling thread: ", st.message()));
  ASSIGN_OR_RETURN(s->tgid, StatusPid(tid, "Tgid"));
  RETURN_IF_ERROR(CheckInjectable(tid, s->saved));

  // At a syscall-entry (or seccomp) stop the kernel has yet to run the syscall in the saved
  // registers; injected registers would replace it.
  __ptrace_syscall_info info{};
  if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, reinterpret_cast<void*>(sizeof info), &info) > 0 &&
      (info.op == PTRACE_SYSCALL_INFO_ENTRY || info.op == PTRACE_SYSCALL_INFO_SECCOMP))
    return absl::FailedPreconditionError(
        absl::StrFormat("thread %d is at a syscall-entry stop; cannot inject there", tid));

  uint64_t pc = Pc(s->saved);
  if (InsnBeforePc(tid, pc)) {
    s->insn = pc - kInsnSize;
  } else {
    ASSIGN_OR_RETURN(s->insn, FindSyscallInsn(tid));
  }
  return std::unique_ptr<Injector>(new Injector(std::move(s)));
}

absl::StatusOr<int64_t> Injector::Syscall(int nr, const SyscallArgs& args) {
  return s_->Run(nr, args, /*zero_sp=*/false, nullptr);
}

absl::StatusOr<pid_t> Injector::ForkHeld() {
  State& s = *s_;
  if (s.dead) return s.Dead();
  RETURN_IF_ERROR(s.Ptrace(PTRACE_SETOPTIONS, nullptr,
                           reinterpret_cast<void*>(static_cast<long>(
                               s.options | PTRACE_O_TRACECLONE)),
                           "SETOPTIONS"));
  // exit_signal 0 (low byte of flags): no SIGCHLD for the tracee, and the PTRACE_EVENT_CLONE
  // (not FORK) event. CLONE_FILES: the copy holds no references of its own to the tracee's open
  // files, so a pipe or socket the tracee closes meanwhile is really closed (EOF, FIN).
  // newsp=0: the child keeps the injected registers' sp, which is 0.
  pid_t child = 0;
  uint64_t start_ticks = BootTicks();
  absl::StatusOr<int64_t> ret =
      s.Run(kCloneNr, {CLONE_FILES, 0, 0, 0, 0, 0}, /*zero_sp=*/true, &child);
  if (s.dead && child == 0) ReapLostCopy(start_ticks, s.insn);
  absl::Status opts = s.dead ? absl::OkStatus()
                             : s.Ptrace(PTRACE_SETOPTIONS, nullptr,
                                        reinterpret_cast<void*>(static_cast<long>(s.options)),
                                        "SETOPTIONS");
  auto fail = [&](absl::Status st) -> absl::Status {
    if (child > 0) (void)KillHeldFork(child, s.dead ? nullptr : this);
    return st;
  };
  if (!ret.ok()) return fail(ret.status());
  if (*ret < 0) return fail(base::ErrnoToStatus(static_cast<int>(-*ret), "injected clone"));
  if (child <= 0) {
    // No PTRACE_EVENT_CLONE: the copy is not ours and may run. Its sp is 0, so it dies at its
    // first stack access; kill it to be sure. The zombie is the tracee's.
    kill(static_cast<pid_t>(*ret), SIGKILL);
    return absl::InternalError("injected clone reported no PTRACE_EVENT_CLONE");
  }
  if (!opts.ok()) return fail(opts);

  // The copy's first stop (PTRACE_EVENT_STOP, as the tracee was seized; SIGSTOP otherwise). It
  // stops before its first instruction: in the kernel, on its way out of clone.
  int status = 0;
  if (WaitTid(child, &status) != child)
    return fail(ErrnoError("waitpid(%d) for the copy's first stop", child));
  if (!WIFSTOPPED(status))
    return fail(absl::InternalError(
        absl::StrFormat("copy %d ended before its first stop (status %#x)", child, status)));
  if (ptrace(PTRACE_SETOPTIONS, child, nullptr, reinterpret_cast<void*>(PTRACE_O_EXITKILL)) != 0)
    return fail(ErrnoError("ptrace(SETOPTIONS EXITKILL, %d)", child));
  return child;
}

absl::Status Injector::Restore() {
  State& s = *s_;
  if (s.dead) return s.Dead();
  if (absl::Status st = SetRegs(s.tid, s.saved); !st.ok()) return s.CheckDeath(st);
  s.dirty = false;
  if (s.held.empty()) return absl::OkStatus();
  // The thread is in a signal-delivery-stop (our last SIGTRAP): the caller's resume with
  // held[0]'s number delivers it with this siginfo.
  RETURN_IF_ERROR(s.Ptrace(PTRACE_SETSIGINFO, nullptr, &s.held[0], "SETSIGINFO"));
  s.resume_signal = s.held[0].si_signo;
  for (size_t i = 1; i < s.held.size(); i++) {
    siginfo_t& si = s.held[i];
    // The kernel lets another process choose the siginfo only for negative codes other than
    // SI_TKILL (SI_QUEUE, SI_TIMER, SI_MESGQ, SI_ASYNCIO, ...); others go as a plain tgkill.
    long r = (si.si_code < 0 && si.si_code != SI_TKILL)
                 ? syscall(SYS_rt_tgsigqueueinfo, s.tgid, s.tid, si.si_signo, &si)
                 : syscall(SYS_tgkill, s.tgid, s.tid, si.si_signo);
    if (r != 0 && errno == ESRCH) return s.CheckDeath(ErrnoError("requeue signal"));
  }
  s.held.resize(1);
  return absl::OkStatus();
}

void Injector::AssumeLoneThread() { s_->lone = true; }

int Injector::ResumeSignal() const { return s_->resume_signal; }

pid_t Injector::tid() const { return s_->tid; }

absl::Status KillHeldFork(pid_t copy, Injector* parent) {
  // The copy's pid as its parent sees it (they share a pid namespace; ours may be an ancestor).
  pid_t inner = copy;
  if (parent != nullptr) {
    if (absl::StatusOr<pid_t> ns = StatusPid(copy, "NSpid"); ns.ok()) inner = *ns;
  }
  // ESRCH: gone already (a zombie still takes signals); the waits below sort out the rest.
  if (kill(copy, SIGKILL) != 0 && errno != ESRCH) return ErrnoError("kill(%d, SIGKILL)", copy);
  for (;;) {
    int status = 0;
    pid_t r = WaitTid(copy, &status);
    if (r < 0) {
      if (errno == ECHILD) break;  // no longer ours to wait for
      return ErrnoError("waitpid(%d)", copy);
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) break;
    // A stop reported before the kill took effect; the SIGKILL ends it.
  }
  if (parent == nullptr) return absl::OkStatus();
  ASSIGN_OR_RETURN(int64_t r, parent->Syscall(kWait4Nr, {static_cast<uint64_t>(inner), 0,
                                                         static_cast<uint64_t>(__WALL), 0, 0, 0}));
  if (r != inner)
    return absl::InternalError(
        absl::StrFormat("injected wait4(%d) in thread %d returned %d", inner, parent->tid(), r));
  return absl::OkStatus();
}

}  // namespace clonebot::remote
