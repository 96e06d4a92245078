#include "trace/tracer.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "abi/syscall_table.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "base/unique_fd.h"
#include "trace/decode/decode.h"

extern char** environ;

namespace clonebot::trace {
namespace {

// ----------------------------------------------------------------------- signals to clonebot

volatile sig_atomic_t g_signal = 0;

void OnTerminatingSignal(int sig) {
  g_signal = sig;
  // waitpid() may already be blocked, or about to block: a short periodic timer keeps
  // interrupting it (EINTR) until the main loop has acted on g_signal.
  itimerval it{{0, 20000}, {0, 20000}};
  setitimer(ITIMER_REAL, &it, nullptr);
}
void OnAlarm(int) {}

void StopKickTimer() {
  itimerval it{};
  setitimer(ITIMER_REAL, &it, nullptr);
}

constexpr int kHandledSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGALRM};

class SignalScope {
 public:
  SignalScope() {
    for (size_t i = 0; i < std::size(kHandledSignals); i++) {
      struct sigaction sa {};
      sa.sa_handler = kHandledSignals[i] == SIGALRM ? OnAlarm : OnTerminatingSignal;
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = 0;  // no SA_RESTART: waitpid must return EINTR
      sigaction(kHandledSignals[i], &sa, &old_[i]);
    }
  }
  ~SignalScope() {
    StopKickTimer();
    for (size_t i = 0; i < std::size(kHandledSignals); i++)
      sigaction(kHandledSignals[i], &old_[i], nullptr);
  }

 private:
  struct sigaction old_[std::size(kHandledSignals)];
};

// ------------------------------------------------------------------------- tracee memory

class VmReader final : public decode::TraceeMemory {
 public:
  explicit VmReader(pid_t tid) : tid_(tid) {}

  ssize_t Read(uint64_t addr, void* buf, size_t len) override {
    if (len == 0) return 0;
    iovec local{buf, len};
    iovec remote{reinterpret_cast<void*>(addr), len};
    ssize_t n = process_vm_readv(tid_, &local, 1, &remote, 1, 0);
    if (n >= 0 || errno != EFAULT) return n;
    // The range crosses into an unmapped page: read page by page up to the fault.
    size_t got = 0;
    while (got < len) {
      size_t piece = std::min(len - got, 4096 - ((addr + got) & 4095));
      iovec l{static_cast<uint8_t*>(buf) + got, piece};
      iovec r{reinterpret_cast<void*>(addr + got), piece};
      ssize_t m = process_vm_readv(tid_, &l, 1, &r, 1, 0);
      if (m <= 0) break;
      got += static_cast<size_t>(m);
    }
    return got > 0 ? static_cast<ssize_t>(got) : -1;
  }

  ssize_t ReadCString(uint64_t addr, char* buf, size_t max, bool* terminated) override {
    *terminated = false;
    size_t got = 0;
    while (got < max) {
      // Never read across a page boundary in one call: the next page may be unmapped.
      size_t piece = std::min(max - got, 4096 - ((addr + got) & 4095));
      iovec l{buf + got, piece};
      iovec r{reinterpret_cast<void*>(addr + got), piece};
      ssize_t m = process_vm_readv(tid_, &l, 1, &r, 1, 0);
      if (m <= 0) return got > 0 ? static_cast<ssize_t>(got) : -1;
      if (const void* z = memchr(buf + got, 0, static_cast<size_t>(m))) {
        *terminated = true;
        return static_cast<ssize_t>(static_cast<const char*>(z) - buf);
      }
      got += static_cast<size_t>(m);
    }
    // |max| bytes without NUL; one more byte tells whether the string ends right here.
    char c;
    iovec l{&c, 1};
    iovec r{reinterpret_cast<void*>(addr + got), 1};
    if (process_vm_readv(tid_, &l, 1, &r, 1, 0) == 1 && c == 0) *terminated = true;
    return static_cast<ssize_t>(got);
  }

 private:
  pid_t tid_;
};

// ------------------------------------------------------------------------------- helpers

pid_t ReadTgid(pid_t tid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/status", tid);
  base::UniqueFd fd(open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return tid;
  char buf[1024];
  ssize_t n = read(fd.get(), buf, sizeof buf - 1);
  if (n <= 0) return tid;
  buf[n] = 0;
  const char* p = strstr(buf, "\nTgid:");
  if (!p) return tid;
  return static_cast<pid_t>(strtol(p + 6, nullptr, 10));
}

std::vector<pid_t> ListThreads(pid_t pid) {
  std::vector<pid_t> tids;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", pid);
  DIR* d = opendir(path);
  if (!d) return tids;
  while (dirent* e = readdir(d)) {
    int v;
    if (absl::SimpleAtoi(e->d_name, &v)) tids.push_back(v);
  }
  closedir(d);
  return tids;
}

bool IsExecve(abi::Arch arch, uint32_t nr) {
  const abi::SyscallDesc* d = abi::LookupSyscall(arch, nr);
  return d && (strcmp(d->name, "execve") == 0 || strcmp(d->name, "execveat") == 0);
}

// ------------------------------------------------------------------------------- tracer

class Tracer {
 public:
  Tracer(const TracerOptions& opts, TraceWriter& w) : opts_(opts), w_(w) {}

  absl::StatusOr<TraceOutcome> Run() {
    SignalScope signals;
    if (!opts_.command.empty()) {
      RETURN_IF_ERROR(Spawn());
    } else {
      RETURN_IF_ERROR(AttachAll());
    }
    Loop();
    TraceOutcome out;
    out.exit_code = exit_code_;
    out.stats = stats_;
    if (!exec_error_.ok()) return exec_error_;
    return out;
  }

 private:
  struct Task {
    pid_t tid = 0;
    pid_t tgid = 0;
    bool in_syscall = false;  // between a syscall's entry and exit stops
    bool recorded = false;    // the current syscall's entry was written
    bool recording = true;    // false until the spawned child's execve (its own pre-exec calls)
    bool seized_mid_syscall = false;  // seized with -p; its first stop is still to come
    bool own_affinity = false;  // set its own CPU affinity (or inherited one): not the pinned one
    abi::Arch arch = abi::kNativeArch;
    uint32_t nr = 0;
    uint64_t args[6] = {};
    uint64_t sp = 0;          // stack pointer at entry (rt_sigreturn's mask lives there)
  };

  Task& AddTask(pid_t tid, pid_t tgid, uint32_t how) {
    Task& t = tasks_[tid];
    t.tid = tid;
    t.tgid = tgid;
    stats_.tasks_seen++;
    auto* r = reinterpret_cast<AttachRecord*>(
        w_.BeginRecord(RecordType::kAttach, sizeof(AttachRecord), base::MonotonicNs()));
    FillHead(&r->head, t);
    r->how = how;
    w_.EndRecord();
    return t;
  }

  static void FillHead(EventHead* h, const Task& t) {
    h->tid = static_cast<uint32_t>(t.tid);
    h->pid = static_cast<uint32_t>(t.tgid);
  }

  uint64_t PtraceOptions() const {
    uint64_t o = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
                 PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC;
    if (seccomp_) o |= PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL;
    return o;
  }

  absl::Status Spawn() {
    ASSIGN_OR_RETURN(std::string path, ResolveCommand(opts_.command[0]));
    if (opts_.pin_cpu) RETURN_IF_ERROR(PinToOneCpu());  // before the filter: it depends on pinned_
    std::vector<sock_filter> bpf;
    seccomp_ = opts_.seccomp_prefilter && !opts_.filter.all();
    if (seccomp_) {
      // With pinning the tracer must see sched_[gs]etaffinity even when they are not recorded.
      std::vector<uint32_t> also;
      if (pinned_) also = {SYS_sched_getaffinity, SYS_sched_setaffinity};
      auto prog = opts_.filter.BuildSeccompPrefilter(also);
      if (!prog.ok()) return prog.status();
      bpf = std::move(*prog);
      stats_.used_seccomp = true;
    }
    std::vector<char*> argv;
    for (const auto& a : opts_.command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);

    int sync[2], err[2];
    if (pipe2(sync, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) return base::ErrnoError("pipe2");
    base::UniqueFd sync_r(sync[0]), sync_w(sync[1]), err_r(err[0]), err_w(err[1]);
    sock_fprog fprog{static_cast<unsigned short>(bpf.size()), bpf.data()};

    pid_t pid = fork();
    if (pid < 0) return base::ErrnoError("fork");
    if (pid == 0) {
      // Child: async-signal-safe calls only. Stage numbers go back over |err| with errno.
      sync_w.CloseSignalSafe();
      err_r.CloseSignalSafe();
      char go = 0;
      while (read(sync_r.get(), &go, 1) < 0 && errno == EINTR) {
      }
      if (go != 'g') _exit(127);  // the tracer died before seizing us
      int report[2] = {0, 0};
      if (!bpf.empty()) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
            syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) {
          report[0] = 1;
          report[1] = errno;
          (void)!write(err_w.get(), report, sizeof report);
          _exit(127);
        }
      }
      execve(path.c_str(), argv.data(), environ);
      report[0] = 2;
      report[1] = errno;
      (void)!write(err_w.get(), report, sizeof report);
      _exit(127);
    }
    sync_r.reset();
    err_w.reset();
    main_pid_ = pid;
    if (ptrace(PTRACE_SEIZE, pid, nullptr, PtraceOptions()) != 0) {
      absl::Status st = base::ErrnoError("ptrace(PTRACE_SEIZE, %d)", pid);
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      return st;
    }
    ptrace(PTRACE_INTERRUPT, pid, nullptr, nullptr);
    Task& t = AddTask(pid, pid, 1);
    // Under the prefilter only post-exec syscalls (and execve) trap; without it, the child's own
    // set-up syscalls are seen and skipped until its execve.
    t.recording = seccomp_;
    if (write(sync_w.get(), "g", 1) != 1) return base::ErrnoError("write(sync)");
    exec_err_fd_ = std::move(err_r);
    exec_path_ = path;
    return absl::OkStatus();
  }

  absl::Status AttachAll() {
    attached_ = true;
    for (pid_t pid : opts_.attach) {
      if (kill(pid, 0) != 0 && errno == ESRCH) {
        DetachAll();
        return absl::NotFoundError(absl::StrCat("-p ", pid, ": no such process"));
      }
      // Threads may be created while we seize: list until a pass finds nothing new.
      for (int round = 0; round < 100; round++) {
        bool added = false;
        for (pid_t tid : ListThreads(pid)) {
          if (tasks_.contains(tid)) continue;
          if (ptrace(PTRACE_SEIZE, tid, nullptr, PtraceOptions()) != 0) {
            if (errno == ESRCH) continue;  // the thread just exited
            absl::Status st = base::ErrnoError("cannot attach to -p %d (thread %d)", pid, tid);
            DetachAll();
            return st;
          }
          ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr);
          AddTask(tid, pid, 2).seized_mid_syscall = true;
          added = true;
        }
        if (!added) break;
      }
      if (ListThreads(pid).empty() && !tasks_.contains(pid)) {
        DetachAll();
        return absl::NotFoundError(absl::StrCat("-p ", pid, ": no such process"));
      }
    }
    return absl::OkStatus();
  }

  void Resume(Task& t, int sig) {
    int req = (!seccomp_ || t.in_syscall) ? PTRACE_SYSCALL : PTRACE_CONT;
    ptrace(static_cast<__ptrace_request>(req), t.tid, nullptr, reinterpret_cast<void*>(static_cast<long>(sig)));
    // ESRCH: the task was killed while stopped; its exit is reported by waitpid.
  }

  void Loop() {
    while (!tasks_.empty()) {
      if (g_signal) OnSignalToUs();
      if (tasks_.empty()) break;
      int status;
      pid_t tid = Wait(&status);
      if (tid < 0) {
        if (errno == EINTR) continue;
        break;  // ECHILD: nothing left to wait for
      }
      stats_.stops++;
      auto it = tasks_.find(tid);
      Task* t;
      if (it == tasks_.end()) {
        // A new child reported before its parent's fork event.
        if (WIFEXITED(status) || WIFSIGNALED(status)) continue;
        t = &AddTask(tid, ReadTgid(tid), 3);
      } else {
        t = &it->second;
      }
      if (WIFEXITED(status) || WIFSIGNALED(status)) {
        OnExit(*t, status);
        continue;
      }
      if (!WIFSTOPPED(status)) continue;
      const int sig = WSTOPSIG(status);
      const int event = status >> 16;
      if (sig == (SIGTRAP | 0x80) || event == PTRACE_EVENT_SECCOMP) {
        OnSyscallStop(*t);
        Resume(*t, 0);
        continue;
      }
      switch (event) {
        case PTRACE_EVENT_FORK:
        case PTRACE_EVENT_VFORK:
        case PTRACE_EVENT_CLONE:
          OnFork(*t, event);
          Resume(*t, 0);
          break;
        case PTRACE_EVENT_EXEC:
          t = OnExec(*t);
          Resume(*t, 0);
          break;
        case PTRACE_EVENT_STOP:
          if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
            RecordSignal(*t, sig, /*group_stop=*/true);
            ptrace(PTRACE_LISTEN, t->tid, nullptr, nullptr);
          } else {
            if (t->seized_mid_syscall) RecordInterruptedSyscall(*t);
            Resume(*t, 0);
          }
          break;
        case 0:
          RecordSignal(*t, sig, false);
          Resume(*t, sig);
          break;
        default:
          Resume(*t, 0);
          break;
      }
    }
    // A failed execve in the child leaves its reason in the error pipe.
    if (exec_err_fd_) {
      int report[2];
      if (read(exec_err_fd_.get(), report, sizeof report) == sizeof report) {
        exec_error_ = base::ErrnoToStatus(
            report[1], report[0] == 1 ? "cannot install the seccomp prefilter"
                                      : absl::StrCat("cannot execute ", exec_path_));
      }
    }
  }

  // Yield a little before sleeping in waitpid. Pinned, yielding hands the tracee our CPU and its
  // next stop finds us runnable, with no wakeup at all; unpinned, a tracer that does not sleep
  // keeps its vCPU from halting, which cuts the wakeup cost by 3x here. A tracee that computes
  // or blocks between syscalls makes us sleep after 64 yields (tens of microseconds).
  pid_t Wait(int* status) {
    for (int i = 0; i < 64; i++) {
      pid_t tid = waitpid(-1, status, __WALL | WNOHANG);
      if (tid != 0) return tid;
      sched_yield();
    }
    return waitpid(-1, status, __WALL);
  }

  absl::Status PinToOneCpu() {
    if (sched_getaffinity(0, sizeof orig_cpus_, &orig_cpus_) != 0) return base::ErrnoError("sched_getaffinity");
    if (CPU_COUNT(&orig_cpus_) <= 1) return absl::OkStatus();  // nothing to gain
    int cpu = sched_getcpu();
    if (cpu < 0 || !CPU_ISSET(cpu, &orig_cpus_)) return absl::OkStatus();
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) return base::ErrnoError("sched_setaffinity");
    pinned_ = true;
    return absl::OkStatus();
  }

  // At the exit of sched_[gs]etaffinity. A sched_getaffinity that succeeded on a traced task
  // that still has the mask we pinned shows the mask the command had before; a task that set its
  // own affinity (or inherited one set so) is reported as it is, and so is any untraced process.
  void UnpinView(Task& t, int64_t ret) {
    if (t.nr != SYS_sched_getaffinity && t.nr != SYS_sched_setaffinity) return;
    const auto pid = static_cast<pid_t>(t.args[0]);
    auto it = pid == 0 ? tasks_.end() : tasks_.find(pid);
    Task* target = pid == 0 ? &t : it == tasks_.end() ? nullptr : &it->second;
    if (target == nullptr) return;
    if (t.nr == SYS_sched_setaffinity) {
      if (ret == 0) target->own_affinity = true;
      return;
    }
    if (ret <= 0 || target->own_affinity) return;
    size_t n = std::min<size_t>(static_cast<size_t>(ret), sizeof orig_cpus_);
    iovec local{&orig_cpus_, n};
    iovec remote{reinterpret_cast<void*>(t.args[2]), n};
    process_vm_writev(t.tid, &local, 1, &remote, 1, 0);
  }

  void OnSyscallStop(Task& t) {
    __ptrace_syscall_info info;
    if (ptrace(PTRACE_GET_SYSCALL_INFO, t.tid, sizeof info, &info) <= 0) return;
    const uint64_t ts = base::MonotonicNs();
    if (info.op == PTRACE_SYSCALL_INFO_ENTRY || info.op == PTRACE_SYSCALL_INFO_SECCOMP) {
      t.in_syscall = true;
      t.recorded = false;
      t.arch = abi::ArchFromAudit(info.arch);
      t.sp = info.stack_pointer;
      if (info.op == PTRACE_SYSCALL_INFO_ENTRY) {
        t.nr = static_cast<uint32_t>(info.entry.nr);
        memcpy(t.args, info.entry.args, sizeof t.args);
      } else {
        t.nr = static_cast<uint32_t>(info.seccomp.nr);
        memcpy(t.args, info.seccomp.args, sizeof t.args);
      }
      if (!t.recording) {
        if (!IsExecve(t.arch, t.nr)) return;
        t.recording = true;
      }
      if (!opts_.filter.Selected(t.nr)) return;
      t.recorded = true;
      stats_.syscalls++;
      auto* r = reinterpret_cast<SyscallEnterRecord*>(
          w_.BeginRecord(RecordType::kSyscallEnter, sizeof(SyscallEnterRecord), ts));
      FillHead(&r->head, t);
      r->nr = t.nr;
      r->arch = static_cast<uint16_t>(t.arch);
      memcpy(r->args, t.args, sizeof r->args);
      decode::CaptureContext ctx{t.arch, t.nr, {}, 0, opts_.strsize, t.sp};
      memcpy(ctx.args, t.args, sizeof ctx.args);
      VmReader mem(t.tid);
      decode::CaptureEntry(ctx, mem, w_);
      reinterpret_cast<SyscallEnterRecord*>(w_.open_record())->npayloads = w_.open_payloads();
      w_.EndRecord();
    } else if (info.op == PTRACE_SYSCALL_INFO_EXIT) {
      t.in_syscall = false;
      if (pinned_ && t.arch == abi::kNativeArch) UnpinView(t, info.exit.rval);
      if (!t.recorded) return;  // not selected, pre-exec, or a new task's return from fork
      t.recorded = false;
      auto* r = reinterpret_cast<SyscallExitRecord*>(
          w_.BeginRecord(RecordType::kSyscallExit, sizeof(SyscallExitRecord), ts));
      FillHead(&r->head, t);
      r->nr = t.nr;
      r->arch = static_cast<uint16_t>(t.arch);
      r->ret = info.exit.rval;
      decode::CaptureContext ctx{t.arch, t.nr, {}, info.exit.rval, opts_.strsize, t.sp};
      memcpy(ctx.args, t.args, sizeof ctx.args);
      VmReader mem(t.tid);
      decode::CaptureExit(ctx, mem, w_);
      reinterpret_cast<SyscallExitRecord*>(w_.open_record())->npayloads = w_.open_payloads();
      w_.EndRecord();
    }
  }

  // At the first stop of a task seized with -p: if it was inside a syscall that the seize
  // interrupted (it returns -ERESTART* and will be restarted, possibly as restart_syscall),
  // record that syscall's exit without an entry, so that show can name what restart_syscall
  // resumes. At this stop orig_rax still holds the number: the restart fixup comes after it.
  void RecordInterruptedSyscall(Task& t) {
    t.seized_mid_syscall = false;
#if defined(__x86_64__)
    user_regs_struct regs;
    if (ptrace(PTRACE_GETREGS, t.tid, nullptr, &regs) != 0) return;
    const auto nr = static_cast<int64_t>(regs.orig_rax);
    const auto ret = static_cast<int64_t>(regs.rax);
    constexpr int64_t kERestartSys = 512, kERestartBlock = 516;  // ERESTARTSYS..ERESTART_RESTARTBLOCK
    if (nr < 0 || ret < -kERestartBlock || ret > -kERestartSys) return;  // not restartable
    auto* r = reinterpret_cast<SyscallExitRecord*>(
        w_.BeginRecord(RecordType::kSyscallExit, sizeof(SyscallExitRecord), base::MonotonicNs()));
    FillHead(&r->head, t);
    r->nr = static_cast<uint32_t>(nr);
    r->arch = static_cast<uint16_t>(abi::kNativeArch);
    r->ret = ret;
    w_.EndRecord(kExitNoEntry);
#endif
  }

  void OnFork(Task& parent, int event) {
    unsigned long msg = 0;
    ptrace(PTRACE_GETEVENTMSG, parent.tid, nullptr, &msg);
    pid_t child = static_cast<pid_t>(msg);
    auto* r = reinterpret_cast<ForkRecord*>(
        w_.BeginRecord(RecordType::kFork, sizeof(ForkRecord), base::MonotonicNs()));
    FillHead(&r->head, parent);
    pid_t child_tgid = ReadTgid(child);
    r->child_tid = static_cast<uint32_t>(child);
    r->child_pid = static_cast<uint32_t>(child_tgid);
    r->kind = event == PTRACE_EVENT_FORK ? 1 : event == PTRACE_EVENT_VFORK ? 2 : 3;
    w_.EndRecord();
    // A child reported before this event exists already; either way it inherits the affinity.
    auto it = tasks_.find(child);
    Task& c = it != tasks_.end() ? it->second : AddTask(child, child_tgid, 3);
    c.own_affinity = parent.own_affinity;
  }

  Task* OnExec(Task& t) {
    unsigned long msg = 0;
    ptrace(PTRACE_GETEVENTMSG, t.tid, nullptr, &msg);
    pid_t former = static_cast<pid_t>(msg);
    Task* cur = &t;
    if (former != t.tid) {
      // A non-leader thread exec'd: it now has the leader's tid; the other threads are gone.
      auto it = tasks_.find(former);
      if (it != tasks_.end()) {
        Task moved = it->second;
        tasks_.erase(it);
        moved.tid = t.tid;
        tasks_[t.tid] = moved;
        cur = &tasks_[t.tid];
      }
    }
    auto* r = reinterpret_cast<ExecRecord*>(
        w_.BeginRecord(RecordType::kExec, sizeof(ExecRecord), base::MonotonicNs()));
    FillHead(&r->head, *cur);
    r->former_tid = static_cast<uint32_t>(former);
    w_.EndRecord();
    return cur;
  }

  void RecordSignal(Task& t, int sig, bool group_stop) {
    stats_.signals++;
    if (!t.recording) return;
    uint8_t si[128];
    bool have = !group_stop && ptrace(PTRACE_GETSIGINFO, t.tid, nullptr, si) == 0;
    auto* r = reinterpret_cast<SignalRecord*>(
        w_.BeginRecord(RecordType::kSignal, sizeof(SignalRecord), base::MonotonicNs()));
    FillHead(&r->head, t);
    r->signo = static_cast<uint32_t>(sig);
    r->siginfo_len = have ? sizeof si : 0;
    if (have) {
      uint8_t* p = w_.Begin(0, sizeof si);
      memcpy(p, si, sizeof si);
      w_.Commit(sizeof si, 0);
    }
    w_.EndRecord(group_stop ? 1 : 0);
  }

  void OnExit(Task& t, int status) {
    if (t.recording) {
      auto* r = reinterpret_cast<ExitRecord*>(
          w_.BeginRecord(RecordType::kExit, sizeof(ExitRecord), base::MonotonicNs()));
      FillHead(&r->head, t);
      r->wait_status = status;
      r->flags = WIFSIGNALED(status) && WCOREDUMP(status) ? 1 : 0;
      w_.EndRecord();
    }
    if (t.tid == main_pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    tasks_.erase(t.tid);
  }

  void OnSignalToUs() {
    int sig = g_signal;
    g_signal = 0;
    StopKickTimer();
    stats_.interrupted = true;
    if (attached_) {
      CB_LOG(kInfo, "signal %d: detaching from %zu tasks", sig, tasks_.size());
      DetachAll();
      return;
    }
    // A spawned command: SIGINT/SIGQUIT from a terminal reach it directly (same process group),
    // so they are ignored here, as strace does; SIGTERM/SIGHUP are passed on to it.
    if ((sig == SIGTERM || sig == SIGHUP) && main_pid_ > 0 && tasks_.contains(main_pid_)) {
      kill(main_pid_, sig);
    }
  }

  // Detaches every task; they run on. Tasks are running (each stop is resumed before the next
  // wait), so each is interrupted first and detached at its stop.
  void DetachAll() {
    for (auto& [tid, t] : tasks_) ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr);
    while (!tasks_.empty()) {
      int status;
      pid_t tid = waitpid(-1, &status, __WALL);
      if (tid < 0) {
        if (errno == EINTR) continue;
        break;
      }
      auto it = tasks_.find(tid);
      if (it == tasks_.end()) {
        // A child born during detach: it is traced too; let it go.
        if (WIFSTOPPED(status)) ptrace(PTRACE_DETACH, tid, nullptr, nullptr);
        continue;
      }
      if (WIFEXITED(status) || WIFSIGNALED(status)) {
        OnExit(it->second, status);
        continue;
      }
      int sig = 0;
      const int event = status >> 16;
      if (WIFSTOPPED(status) && event == 0 && WSTOPSIG(status) != (SIGTRAP | 0x80))
        sig = WSTOPSIG(status);  // a pending signal: deliver it on the way out
      if (ptrace(PTRACE_DETACH, tid, nullptr, reinterpret_cast<void*>(static_cast<long>(sig))) == 0 ||
          errno == ESRCH) {
        auto* r = reinterpret_cast<AttachRecord*>(
            w_.BeginRecord(RecordType::kDetach, sizeof(AttachRecord), base::MonotonicNs()));
        FillHead(&r->head, it->second);
        w_.EndRecord();
        tasks_.erase(it);
      }
    }
  }

  const TracerOptions& opts_;
  TraceWriter& w_;
  absl::node_hash_map<pid_t, Task> tasks_;  // node map: Task& stays valid across inserts
  bool seccomp_ = false;
  bool attached_ = false;
  bool pinned_ = false;        // the spawned command and we share one CPU
  cpu_set_t orig_cpus_{};
  pid_t main_pid_ = -1;
  int exit_code_ = 0;
  TracerStats stats_;
  base::UniqueFd exec_err_fd_;
  std::string exec_path_;
  absl::Status exec_error_;
};

}  // namespace

absl::StatusOr<std::string> ResolveCommand(const std::string& name) {
  if (name.empty()) return absl::InvalidArgumentError("empty command name");
  if (name.find('/') != std::string::npos) {
    if (access(name.c_str(), F_OK) != 0) return base::ErrnoError("cannot find %s", name);
    return name;
  }
  const char* path = getenv("PATH");
  std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
  for (absl::string_view dir : absl::StrSplit(p, ':')) {
    std::string full = absl::StrCat(dir.empty() ? absl::string_view(".") : dir, "/", name);
    if (access(full.c_str(), X_OK) == 0) return full;
  }
  return absl::NotFoundError(absl::StrCat("cannot find '", name, "' in PATH"));
}

absl::StatusOr<TraceOutcome> RunTracer(const TracerOptions& opts, TraceWriter& writer) {
  Tracer t(opts, writer);
  return t.Run();
}

}  // namespace clonebot::trace
