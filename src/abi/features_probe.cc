// The probes behind ProbeKernelFeatures(). Each tries the mechanism for real; anything that
// changes process state runs in a forked child (RunInChild) with a deadline and is reaped.
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/landlock.h>
#include <linux/perf_event.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>

#include "abi/features.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "abi/mm.h"
#include "base/file.h"
#include "base/status.h"
#include "base/unique_fd.h"

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace clonebot::abi {
namespace {

using base::UniqueFd;

constexpr uint64_t kPagemapSoftDirtyBit = 1ULL << 55;
constexpr int kChildTimeoutMs = 300;
constexpr int kDeviceNullMajor = 1, kDeviceNullMinor = 3;

// ---- small helpers ----

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

const char* OrUnknown(const char* s) { return s ? s : "?"; }

std::string ErrnoDetail(int err) {
  const char* name = strerrorname_np(err);
  const char* desc = strerrordesc_np(err);
  return absl::StrCat(name ? name : absl::StrCat("errno ", err), " (", desc ? desc : "unknown", ")");
}

// A sysctl's value without the newline, or nullopt if the file does not exist.
std::optional<std::string> ReadSysctl(const char* path) {
  auto v = base::ReadWholeFile(path);
  if (!v) return std::nullopt;
  return std::string(absl::StripAsciiWhitespace(*v));
}

std::string SysctlDetail(const char* name, const char* path) {
  auto v = ReadSysctl(path);
  return v ? absl::StrCat(name, "=", *v) : "";
}

// Waits (polling with backoff) until waitpid(pid, flags|WNOHANG) reports, or the deadline.
// Returns true with *status filled when it reported.
bool WaitPidUntil(pid_t pid, int* status, int flags, int64_t deadline_ns) {
  int64_t sleep_ns = 20000;
  for (;;) {
    pid_t r = waitpid(pid, status, flags | WNOHANG | __WALL);
    if (r == pid) return true;
    if (r < 0 && errno == ECHILD) {  // SIGCHLD ignored: the kernel reaped it already
      *status = 0;
      return true;
    }
    if (r < 0 && errno != EINTR) return false;
    if (NowNs() >= deadline_ns) return false;
    timespec ts{0, sleep_ns};
    nanosleep(&ts, nullptr);
    sleep_ns = std::min<int64_t>(sleep_ns * 2, 1000000);
  }
}

// SIGKILLs |pid| (our child) and reaps it. SIGKILL cannot be blocked, also not by a tracee stop.
void KillAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  while (waitpid(pid, nullptr, __WALL) < 0 && errno == EINTR) {
  }
}

// ---- running a probe in a child ----

// What a probe child reports, as plain bytes over a pipe (no allocation on the way).
struct SubResult {
  int32_t ok;
  int32_t err;
  int64_t value;
  char detail[152];
};
struct ChildResults {
  SubResult r[6];
};

// For use inside the child: fixed buffers only.
void SetResult(SubResult* s, bool ok, int err, const char* fmt = nullptr, ...) {
  s->ok = ok;
  s->err = err;
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->detail, sizeof(s->detail), fmt, ap);
    va_end(ap);
  }
}

std::string SubDetail(const SubResult& s) {
  std::string d(s.detail, strnlen(s.detail, sizeof(s.detail)));
  if (!s.ok && s.err) d = d.empty() ? ErrnoDetail(s.err) : absl::StrCat(d, ": ", ErrnoDetail(s.err));
  return d;
}

FeatureStatus ToStatus(const SubResult& s) { return FeatureStatus{s.ok != 0, SubDetail(s)}; }

// Runs |fn| in a forked child and returns what it filled in. The child dies with us
// (PR_SET_PDEATHSIG) and is always reaped; after |timeout_ms| it is killed and the result is an
// error naming the timeout (or the signal that killed it).
template <typename Fn>
absl::StatusOr<ChildResults> RunInChild(Fn fn, int timeout_ms = kChildTimeoutMs) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return base::ErrnoError("pipe2");
  UniqueFd rd(p[0]), wr(p[1]);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return base::ErrnoError("fork");
  if (pid == 0) {
    rd.CloseSignalSafe();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    ChildResults res;
    memset(&res, 0, sizeof(res));
    fn(&res);
    ssize_t n = write(wr.get(), &res, sizeof(res));
    _exit(n == sizeof(res) ? 0 : 1);
  }
  wr.reset();
  int64_t deadline = NowNs() + int64_t{timeout_ms} * 1000000;
  ChildResults res;
  memset(&res, 0, sizeof(res));
  size_t got = 0;
  while (got < sizeof(res)) {
    int left_ms = static_cast<int>((deadline - NowNs()) / 1000000);
    if (left_ms <= 0) break;
    pollfd pfd{rd.get(), POLLIN, 0};
    int r = poll(&pfd, 1, left_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    ssize_t n = read(rd.get(), reinterpret_cast<char*>(&res) + got, sizeof(res) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += n;
  }
  int status = 0;
  bool reaped = WaitPidUntil(pid, &status, 0, (got == sizeof(res) ? NowNs() : deadline) + 100000000);
  if (!reaped) KillAndReap(pid);
  if (got == sizeof(res)) return res;
  if (!reaped) return absl::DeadlineExceededError(absl::StrCat("probe timed out after ", timeout_ms, " ms"));
  if (WIFSIGNALED(status))
    return absl::InternalError(absl::StrCat("probe child killed by signal ", WTERMSIG(status), " (",
                                            OrUnknown(sigabbrev_np(WTERMSIG(status))), ")"));
  return absl::InternalError(absl::StrCat("probe child exited with ", WEXITSTATUS(status), " without a report"));
}

// Applies a child's results (or its failure) to features.
void Apply(KernelFeatures* kf, const absl::StatusOr<ChildResults>& res, std::initializer_list<std::pair<Feature, int>> map) {
  for (auto [f, idx] : map) {
    if (res.ok()) kf->Mutable(f) = ToStatus(res->r[idx]);
    else kf->Mutable(f) = FeatureStatus{false, std::string(res.status().message())};
  }
}

// ---- seccomp helpers (usable in children: no allocation) ----

int Seccomp(unsigned op, unsigned flags, void* arg) { return static_cast<int>(syscall(__NR_seccomp, op, flags, arg)); }

#if defined(__x86_64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#endif

// Installs: if (arch == native && nr == |nr|) return |action|; else allow. Returns the seccomp()
// result (a listener fd with SECCOMP_FILTER_FLAG_NEW_LISTENER).
int InstallOneSyscallFilter(int nr, uint32_t action, unsigned flags) {
  sock_filter insns[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 1),
      BPF_STMT(BPF_RET | BPF_K, action),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof(insns) / sizeof(insns[0])), insns};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return -1;
  return Seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog);
}

// ---- ptrace ----

// The tracee installs a RET_TRACE filter on getppid, tells us, waits for a byte, calls getppid.
// We seize it with EXITKILL|TRACESYSGOOD|TRACESECCOMP, stop it with PTRACE_INTERRUPT (and ask
// GET_SYSCALL_INFO there), resume it, and expect a PTRACE_EVENT_SECCOMP stop for getppid.
void ProbePtrace(KernelFeatures* kf) {
  auto set_all = [&](const std::string& why) {
    for (Feature f : {Feature::kPtraceSeize, Feature::kPtraceExitKill, Feature::kPtraceGetSyscallInfo,
                      Feature::kPtraceTraceSeccomp})
      kf->Mutable(f) = {false, why};
  };
  int to_child[2], from_child[2];
  if (pipe2(to_child, O_CLOEXEC) < 0) return set_all(ErrnoDetail(errno));
  UniqueFd to_rd(to_child[0]), to_wr(to_child[1]);
  if (pipe2(from_child, O_CLOEXEC) < 0) return set_all(ErrnoDetail(errno));
  UniqueFd from_rd(from_child[0]), from_wr(from_child[1]);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return set_all(ErrnoDetail(errno));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    char st = InstallOneSyscallFilter(__NR_getppid, SECCOMP_RET_TRACE, 0) == 0 ? 'F' : 'N';
    if (write(from_wr.get(), &st, 1) != 1) _exit(1);
    char c;
    if (read(to_rd.get(), &c, 1) != 1) _exit(1);
    syscall(__NR_getppid);
    _exit(0);
  }
  to_rd.reset();
  from_wr.reset();
  int64_t deadline = NowNs() + int64_t{kChildTimeoutMs} * 1000000;
  char filter_state = 'N';
  pollfd pfd{from_rd.get(), POLLIN, 0};
  if (poll(&pfd, 1, kChildTimeoutMs) != 1 || read(from_rd.get(), &filter_state, 1) != 1) {
    KillAndReap(pid);
    return set_all("tracee did not start");
  }

  // Seize with all options, then with fewer to find out which one the kernel rejects.
  const long all = PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACESECCOMP;
  long options = 0;
  int seize_err = 0;
  for (long opts : {all, long{PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD}, long{PTRACE_O_TRACESECCOMP}, 0L}) {
    if (ptrace(PTRACE_SEIZE, pid, nullptr, reinterpret_cast<void*>(opts)) == 0) {
      options = opts;
      seize_err = 0;
      break;
    }
    seize_err = errno;
    if (seize_err != EINVAL) break;
  }
  if (seize_err) {
    KillAndReap(pid);
    set_all(ErrnoDetail(seize_err));
    std::string& d = kf->Mutable(Feature::kPtraceSeize).detail;
    d = absl::StrCat("PTRACE_SEIZE: ", ErrnoDetail(seize_err));
    // Under strace/gdb -f our children are already traced: say so rather than blame the kernel.
    if (auto st = base::ReadWholeFile("/proc/self/status"); st && st->find("\nTracerPid:\t0\n") == std::string::npos)
      absl::StrAppend(&d, " (clonebot itself is being traced)");
    return;
  }
  kf->Mutable(Feature::kPtraceSeize) = {true, "PTRACE_SEIZE of a child"};
  kf->Mutable(Feature::kPtraceExitKill) =
      (options & PTRACE_O_EXITKILL) ? FeatureStatus{true, "accepted by PTRACE_SEIZE"}
                                    : FeatureStatus{false, "PTRACE_SEIZE: EINVAL with PTRACE_O_EXITKILL"};
  kf->Mutable(Feature::kPtraceTraceSeccomp) =
      (options & PTRACE_O_TRACESECCOMP) ? FeatureStatus{false, "accepted, but no seccomp stop seen"}
                                        : FeatureStatus{false, "PTRACE_SEIZE: EINVAL with PTRACE_O_TRACESECCOMP"};
  kf->Mutable(Feature::kPtraceGetSyscallInfo) = {false, "no stop reached"};

  int status = 0;
  if (ptrace(PTRACE_INTERRUPT, pid, nullptr, nullptr) == 0 && WaitPidUntil(pid, &status, 0, deadline) &&
      WIFSTOPPED(status) && (status >> 16) == PTRACE_EVENT_STOP) {
    __ptrace_syscall_info info{};
    long n = ptrace(PTRACE_GET_SYSCALL_INFO, pid, reinterpret_cast<void*>(sizeof(info)), &info);
    kf->Mutable(Feature::kPtraceGetSyscallInfo) =
        n > 0 ? FeatureStatus{true, absl::StrCat("returns ", n, " bytes")}
              : FeatureStatus{false, ErrnoDetail(errno)};
    ptrace(PTRACE_CONT, pid, nullptr, nullptr);
  }
  char go = 'g';
  if (write(to_wr.get(), &go, 1) != 1) {
    KillAndReap(pid);
    return;
  }
  if (filter_state != 'F') {
    kf->Mutable(Feature::kPtraceTraceSeccomp).detail = "could not install a RET_TRACE filter in the tracee";
  } else if (options & PTRACE_O_TRACESECCOMP) {
    // Skip group-stops or signal stops until the seccomp event, the exit, or the deadline.
    while (WaitPidUntil(pid, &status, 0, deadline)) {
      if (!WIFSTOPPED(status)) break;
      if ((status >> 8) == (SIGTRAP | (PTRACE_EVENT_SECCOMP << 8))) {
        __ptrace_syscall_info info{};
        long n = ptrace(PTRACE_GET_SYSCALL_INFO, pid, reinterpret_cast<void*>(sizeof(info)), &info);
        if (n > 0 && info.op == PTRACE_SYSCALL_INFO_SECCOMP && info.seccomp.nr == __NR_getppid) {
          kf->Mutable(Feature::kPtraceTraceSeccomp) = {true, "PTRACE_EVENT_SECCOMP stop on a RET_TRACE syscall"};
          kf->Mutable(Feature::kPtraceGetSyscallInfo) = {true, "decodes seccomp stops (op, nr, arch, args)"};
        } else {
          kf->Mutable(Feature::kPtraceTraceSeccomp) = {true, "PTRACE_EVENT_SECCOMP stop seen"};
        }
        break;
      }
      int sig = WSTOPSIG(status);
      ptrace(PTRACE_CONT, pid, nullptr, reinterpret_cast<void*>(static_cast<long>(
                                             (status >> 16) == 0 && sig != SIGTRAP ? sig : 0)));
    }
  }
  KillAndReap(pid);
}

// ---- seccomp ----

void ProbeSeccomp(KernelFeatures* kf) {
  // Filter mode + RET_TRACE without a tracer (the kernel must fail the syscall with ENOSYS).
  auto res = RunInChild([](ChildResults* out) {
    uint32_t action = SECCOMP_RET_TRACE;
    bool avail = Seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
    int avail_err = avail ? 0 : errno;
    if (InstallOneSyscallFilter(__NR_getppid, SECCOMP_RET_TRACE, 0) != 0) {
      SetResult(&out->r[0], false, errno, "seccomp(SET_MODE_FILTER)");
      SetResult(&out->r[1], false, 0, "no filter mode");
      return;
    }
    SetResult(&out->r[0], true, 0, "SECCOMP_SET_MODE_FILTER");
    long r = syscall(__NR_getppid);
    int e = errno;
    if (!avail) SetResult(&out->r[1], false, avail_err, "SECCOMP_GET_ACTION_AVAIL(RET_TRACE)");
    else if (r == -1 && e == ENOSYS) SetResult(&out->r[1], true, 0, "action available; untraced call fails with ENOSYS");
    else SetResult(&out->r[1], false, 0, "untraced RET_TRACE syscall returned %ld (errno %d), want ENOSYS", r, e);
  });
  Apply(kf, res, {{Feature::kSeccompFilter, 0}, {Feature::kSeccompRetTrace, 1}});

  // User notification: the child installs a USER_NOTIF filter for getppid with a listener, a
  // grandchild calls getppid, the child receives it, injects /dev/null with ADDFD and returns
  // the new fd number; the grandchild checks that the number is /dev/null.
  res = RunInChild([](ChildResults* out) {
    SubResult* notif = &out->r[0];
    SubResult* addfd = &out->r[1];
    SetResult(addfd, false, 0, "not reached");
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    int listener = InstallOneSyscallFilter(__NR_getppid, SECCOMP_RET_USER_NOTIF, SECCOMP_FILTER_FLAG_NEW_LISTENER);
    if (listener < 0) return SetResult(notif, false, errno, "seccomp(NEW_LISTENER)");
    // The grandchild inherits the filter. It dies with its parent (the SIGKILLed probe child
    // closes the listener, which fails the pending syscall) so it needs no PDEATHSIG, and it
    // could not check getppid() anyway: that is the notified syscall.
    pid_t gc = fork();
    if (gc < 0) return SetResult(notif, false, errno, "fork");
    if (gc == 0) {
      long fd = syscall(__NR_getppid);  // notified: returns the injected fd number
      struct stat st;
      if (fd < 0 || fstat(static_cast<int>(fd), &st) != 0) _exit(fd == -1 && errno == ENOSYS ? 2 : 1);
      _exit(S_ISCHR(st.st_mode) && major(st.st_rdev) == kDeviceNullMajor && minor(st.st_rdev) == kDeviceNullMinor ? 0 : 1);
    }
    pollfd pfd{listener, POLLIN, 0};
    if (poll(&pfd, 1, 200) != 1) {
      kill(gc, SIGKILL);
      waitpid(gc, nullptr, 0);
      return SetResult(notif, false, 0, "no notification within 200 ms");
    }
    seccomp_notif req;
    memset(&req, 0, sizeof(req));
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) {
      kill(gc, SIGKILL);
      waitpid(gc, nullptr, 0);
      return SetResult(notif, false, errno, "SECCOMP_IOCTL_NOTIF_RECV");
    }
    seccomp_notif_addfd add;
    memset(&add, 0, sizeof(add));
    add.id = req.id;
    add.srcfd = static_cast<uint32_t>(devnull);
    int remote = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
    int add_err = remote < 0 ? errno : 0;
    seccomp_notif_resp resp;
    memset(&resp, 0, sizeof(resp));
    resp.id = req.id;
    if (remote >= 0) resp.val = remote;
    else resp.error = -ENOSYS;
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) != 0) {
      int e = errno;
      kill(gc, SIGKILL);
      waitpid(gc, nullptr, 0);
      return SetResult(notif, false, e, "SECCOMP_IOCTL_NOTIF_SEND");
    }
    int status = 0;
    int64_t deadline = NowNs() + 200000000;
    if (!WaitPidUntil(gc, &status, 0, deadline)) {
      kill(gc, SIGKILL);
      waitpid(gc, nullptr, 0);
      return SetResult(notif, false, 0, "notified process did not finish");
    }
    SetResult(notif, true, 0, "RECV/SEND on a listener fd (nr %d)", req.data.nr);
    if (remote < 0) SetResult(addfd, false, add_err, "SECCOMP_IOCTL_NOTIF_ADDFD");
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) SetResult(addfd, true, 0, "fd injected and returned as the syscall result");
    else SetResult(addfd, false, 0, "injected fd %d not seen by the target (status 0x%x)", remote, status);
  });
  Apply(kf, res, {{Feature::kSeccompUserNotif, 0}, {Feature::kSeccompNotifAddFd, 1}});
}


// ---- namespaces ----

void ProbeNamespaces(KernelFeatures* kf) {
  struct NsProbe {
    Feature feature;
    int flag;
    const char* flag_name;
  };
  static constexpr NsProbe kNs[] = {
      {Feature::kNsUser, CLONE_NEWUSER, "CLONE_NEWUSER"}, {Feature::kNsPid, CLONE_NEWPID, "CLONE_NEWPID"},
      {Feature::kNsMount, CLONE_NEWNS, "CLONE_NEWNS"},     {Feature::kNsNet, CLONE_NEWNET, "CLONE_NEWNET"},
      {Feature::kNsIpc, CLONE_NEWIPC, "CLONE_NEWIPC"},     {Feature::kNsUts, CLONE_NEWUTS, "CLONE_NEWUTS"},
      {Feature::kNsCgroup, CLONE_NEWCGROUP, "CLONE_NEWCGROUP"}, {Feature::kNsTime, CLONE_NEWTIME, "CLONE_NEWTIME"},
  };
  for (const NsProbe& ns : kNs) {
    auto res = RunInChild([&ns](ChildResults* out) {
      if (unshare(ns.flag) == 0) return SetResult(&out->r[0], true, 0, "unshare(%s)", ns.flag_name);
      int err = errno;
      // Without privileges the other namespaces come with a user namespace (as run does it).
      if (err == EPERM && ns.flag != CLONE_NEWUSER && unshare(CLONE_NEWUSER | ns.flag) == 0)
        return SetResult(&out->r[0], true, 0, "unshare(CLONE_NEWUSER|%s); alone: EPERM", ns.flag_name);
      SetResult(&out->r[0], false, err, "unshare(%s)", ns.flag_name);
    });
    Apply(kf, res, {{ns.feature, 0}});
  }

  // Unprivileged: drop to nobody (if root), then unshare(CLONE_NEWUSER) and map ourselves to
  // root inside. PR_SET_DUMPABLE first: setuid cleared it, which makes /proc/self/uid_map
  // root-owned and unwritable for us.
  uid_t uid = geteuid() == 0 ? 65534 : geteuid();
  gid_t gid = geteuid() == 0 ? 65534 : getegid();
  auto res = RunInChild([uid, gid](ChildResults* out) {
    SubResult* s = &out->r[0];
    if (geteuid() == 0) {
      if (setgroups(0, nullptr) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
        return SetResult(s, false, errno, "dropping to uid %u", uid);
    }
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    if (unshare(CLONE_NEWUSER) != 0) return SetResult(s, false, errno, "unshare(CLONE_NEWUSER) as uid %u", uid);
    int fd = open("/proc/self/uid_map", O_WRONLY | O_CLOEXEC);
    char line[64];
    int n = snprintf(line, sizeof(line), "0 %u 1\n", uid);
    if (fd < 0 || write(fd, line, n) != n) return SetResult(s, false, errno, "uid_map as uid %u", uid);
    close(fd);
    SetResult(s, true, 0, "unshare(CLONE_NEWUSER) + uid_map as uid %u", uid);
  });
  Apply(kf, res, {{Feature::kNsUserUnprivileged, 0}});
  std::vector<std::string> sysctls;
  for (auto [name, path] : {std::pair{"kernel.unprivileged_userns_clone", "/proc/sys/kernel/unprivileged_userns_clone"},
                            std::pair{"user.max_user_namespaces", "/proc/sys/user/max_user_namespaces"},
                            std::pair{"kernel.apparmor_restrict_unprivileged_userns",
                                      "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"}}) {
    std::string d = SysctlDetail(name, path);
    if (!d.empty()) sysctls.push_back(d);
  }
  if (!sysctls.empty()) {
    std::string& d = kf->Mutable(Feature::kNsUserUnprivileged).detail;
    absl::StrAppend(&d, d.empty() ? "" : "; ", absl::StrJoin(sysctls, ", "));
  }
}

// ---- clone3 ----

// clone3() with |flags| (and |cgroup_fd| for CLONE_INTO_CGROUP); the child checks that its v2
// cgroup path ends with |cgroup_suffix| (if given) and exits 0. Returns the child's wait status,
// or -errno if clone3 failed.
int Clone3Probe(uint64_t flags, int cgroup_fd, const char* cgroup_suffix) {
  clone_args args;
  memset(&args, 0, sizeof(args));
  args.flags = flags;
  args.exit_signal = SIGCHLD;
  if (cgroup_fd >= 0) args.cgroup = static_cast<uint64_t>(cgroup_fd);
  long pid = syscall(__NR_clone3, &args, sizeof(args));
  if (pid < 0) return -errno;
  if (pid == 0) {
    // Like a fork child without glibc's atfork handlers: raw syscalls only.
    if (!cgroup_suffix) _exit(0);
    char buf[4096];
    int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (n <= 0) _exit(2);
    buf[n] = 0;
    char* v2 = strstr(buf, "0::");
    if (!v2) _exit(3);
    char* end = strchr(v2, '\n');
    if (end) *end = 0;
    size_t len = strlen(v2), slen = strlen(cgroup_suffix);
    _exit(len >= slen && strcmp(v2 + len - slen, cgroup_suffix) == 0 ? 0 : 4);
  }
  int status = 0;
  if (!WaitPidUntil(static_cast<pid_t>(pid), &status, 0, NowNs() + int64_t{kChildTimeoutMs} * 1000000)) {
    KillAndReap(static_cast<pid_t>(pid));
    return -ETIMEDOUT;
  }
  return status;
}

void ProbeClone3(KernelFeatures* kf) {
  int st = Clone3Probe(0, -1, nullptr);
  if (st < 0) kf->Mutable(Feature::kClone3) = {false, ErrnoDetail(-st)};
  else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) kf->Mutable(Feature::kClone3) = {true, "clone3(exit_signal=SIGCHLD)"};
  else kf->Mutable(Feature::kClone3) = {false, absl::StrCat("child ended with status 0x", absl::Hex(st))};
}

// ---- cgroups ----

bool RmdirRetry(const std::string& dir) {
  for (int i = 0; i < 50; ++i) {
    if (rmdir(dir.c_str()) == 0 || errno == ENOENT) return true;
    if (errno != EBUSY) return false;
    timespec ts{0, 1000000};
    nanosleep(&ts, nullptr);
  }
  return false;
}

void ProbeCgroups(KernelFeatures* kf) {
  auto self = base::ReadWholeFile("/proc/self/cgroup");
  auto mountinfo = base::ReadWholeFile("/proc/self/mountinfo");
  if (!self || !mountinfo) {
    for (Feature f : {Feature::kCgroupV2, Feature::kCgroupV2Writable, Feature::kCgroupV1, Feature::kCgroupV1Writable,
                      Feature::kCloneIntoCgroup})
      kf->Mutable(f) = {false, "cannot read /proc/self/cgroup or /proc/self/mountinfo"};
    return;
  }
  static const std::vector<std::string> kV1Wanted = {"memory", "cpu", "pids", "freezer"};
  CgroupInfo info = ResolveCgroupPaths(ParseProcCgroup(*self), ParseCgroupMounts(*mountinfo), kV1Wanted);
  const std::string test_name = absl::StrCat("clonebot-check.", getpid());

  // v2.
  if (info.v2_self_dir.empty()) {
    kf->Mutable(Feature::kCgroupV2) = {false, "no cgroup2 mount shows our cgroup"};
    kf->Mutable(Feature::kCgroupV2Writable) = {false, "no cgroup v2"};
    kf->Mutable(Feature::kCloneIntoCgroup) = {false, "no cgroup v2 to clone into"};
  } else if (auto ctl = base::ReadWholeFile(info.v2_self_dir + "/cgroup.controllers"); !ctl) {
    kf->Mutable(Feature::kCgroupV2) = {false, absl::StrCat("cannot read ", info.v2_self_dir, "/cgroup.controllers")};
    kf->Mutable(Feature::kCgroupV2Writable) = {false, "no cgroup v2"};
    kf->Mutable(Feature::kCloneIntoCgroup) = {false, "no cgroup v2 to clone into"};
  } else {
    info.v2_controllers = ParseControllerList(*ctl);
    kf->Mutable(Feature::kCgroupV2) = {
        true, absl::StrCat(info.v2_self_dir, ", controllers: ",
                           info.v2_controllers.empty() ? "none" : absl::StrJoin(info.v2_controllers, " "))};
    // A child cgroup of our own, used for CLONE_INTO_CGROUP and removed again.
    std::string test_dir = absl::StrCat(info.v2_self_dir, "/", test_name);
    std::string into_dir = info.v2_self_dir;  // fallback: clone into our own cgroup
    if (mkdir(test_dir.c_str(), 0700) == 0) {
      info.v2_writable = true;
      into_dir = test_dir;
      kf->Mutable(Feature::kCgroupV2Writable) = {true, absl::StrCat("created and removed ", test_name, " in it")};
    } else {
      kf->Mutable(Feature::kCgroupV2Writable) = {false, absl::StrCat("mkdir in ", info.v2_self_dir, ": ", ErrnoDetail(errno))};
    }
    UniqueFd dirfd(open(into_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dirfd) {
      kf->Mutable(Feature::kCloneIntoCgroup) = {false, absl::StrCat("open ", into_dir, ": ", ErrnoDetail(errno))};
    } else {
      std::string suffix = into_dir == test_dir ? absl::StrCat("/", test_name) : "";
      int st = Clone3Probe(CLONE_INTO_CGROUP, dirfd.get(), suffix.empty() ? nullptr : suffix.c_str());
      if (st < 0) kf->Mutable(Feature::kCloneIntoCgroup) = {false, ErrnoDetail(-st)};
      else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        kf->Mutable(Feature::kCloneIntoCgroup) = {true, into_dir == test_dir ? "child started in the test cgroup"
                                                                             : "child started in our own cgroup"};
      else kf->Mutable(Feature::kCloneIntoCgroup) = {false, absl::StrCat("child ended with status 0x", absl::Hex(st))};
    }
    dirfd.reset();
    if (info.v2_writable && !RmdirRetry(test_dir)) {
      kf->Mutable(Feature::kCgroupV2Writable).detail = absl::StrCat("created ", test_dir, " but could not remove it: ",
                                                                    ErrnoDetail(errno));
    }
  }

  // v1.
  std::vector<std::string> mounted, writable, not_writable;
  for (const std::string& c : kV1Wanted) {
    auto it = info.v1_self_dirs.find(c);
    if (it == info.v1_self_dirs.end()) continue;
    mounted.push_back(c);
    std::string test_dir = absl::StrCat(it->second, "/", test_name);
    if (mkdir(test_dir.c_str(), 0700) == 0) {
      info.v1_writable[c] = RmdirRetry(test_dir);
      writable.push_back(c);
    } else {
      info.v1_writable[c] = false;
      not_writable.push_back(absl::StrCat(c, " (", OrUnknown(strerrorname_np(errno)), ")"));
    }
  }
  if (mounted.empty()) {
    kf->Mutable(Feature::kCgroupV1) = {false, "no v1 memory, cpu, pids or freezer hierarchy"};
    kf->Mutable(Feature::kCgroupV1Writable) = {false, "no cgroup v1"};
  } else {
    kf->Mutable(Feature::kCgroupV1) = {true, absl::StrCat("controllers: ", absl::StrJoin(mounted, " "))};
    bool ok = info.v1_writable["memory"] && info.v1_writable["pids"];
    std::string d = absl::StrCat("writable: ", writable.empty() ? "none" : absl::StrJoin(writable, " "));
    if (!not_writable.empty()) absl::StrAppend(&d, "; not: ", absl::StrJoin(not_writable, " "));
    if (!ok) absl::StrAppend(&d, "; need memory and pids");
    kf->Mutable(Feature::kCgroupV1Writable) = {ok, d};
  }
  kf->cgroup = std::move(info);
}

// ---- userfaultfd, PAGEMAP_SCAN, soft-dirty ----

void ProbeMemoryTracking(KernelFeatures* kf) {
  auto res = RunInChild([](ChildResults* out) {
    SubResult* uffd = &out->r[0];
    SubResult* umo = &out->r[1];
    SubResult* wp = &out->r[2];
    SubResult* scan = &out->r[3];
    const long ps = sysconf(_SC_PAGESIZE);
    // The PAGEMAP_SCAN ioctl on our own pagemap, over a fresh mapping.
    char* area = static_cast<char*>(mmap(nullptr, 4 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (area == MAP_FAILED) return SetResult(scan, false, errno, "mmap");
    for (int i = 0; i < 4; ++i) area[i * ps] = 1;
    int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    page_region regions[4];
    pm_scan_arg arg;
    memset(&arg, 0, sizeof(arg));
    arg.size = sizeof(arg);
    arg.start = reinterpret_cast<uintptr_t>(area);
    arg.end = arg.start + 4 * ps;
    arg.vec = reinterpret_cast<uintptr_t>(regions);
    arg.vec_len = 4;
    arg.category_mask = PAGE_IS_PRESENT;
    arg.return_mask = PAGE_IS_PRESENT;
    bool have_scan = false;
    if (pagemap < 0) {
      SetResult(scan, false, errno, "open /proc/self/pagemap");
    } else if (int n = ioctl(pagemap, PAGEMAP_SCAN, &arg); n < 0) {
      SetResult(scan, false, errno, "ioctl(PAGEMAP_SCAN)");
    } else {
      have_scan = true;
      SetResult(scan, true, 0, "ioctl on /proc/self/pagemap");
    }

    // userfaultfd itself; unprivileged processes may need UFFD_USER_MODE_ONLY.
    int fd = static_cast<int>(syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK));
    int plain_err = fd < 0 ? errno : 0;
    int fd_umo = static_cast<int>(syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY));
    if (fd_umo >= 0) SetResult(umo, true, 0, "flag accepted");
    else SetResult(umo, false, errno, "userfaultfd(UFFD_USER_MODE_ONLY)");
    int flags = fd >= 0 ? 0 : UFFD_USER_MODE_ONLY;
    if (fd >= 0) SetResult(uffd, true, 0, "userfaultfd()");
    else if (fd_umo >= 0) SetResult(uffd, true, 0, "only with UFFD_USER_MODE_ONLY (plain: %s)", strerrorname_np(plain_err));
    else SetResult(uffd, false, plain_err, "userfaultfd()");
    if (fd >= 0) close(fd);
    if (fd_umo >= 0) close(fd_umo);
    if (fd < 0 && fd_umo < 0) return SetResult(wp, false, 0, "no userfaultfd");

    // Which features the kernel offers: UFFDIO_API with features=0 reports them.
    fd = static_cast<int>(syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | flags));
    uffdio_api api;
    memset(&api, 0, sizeof(api));
    api.api = UFFD_API;
    if (fd < 0 || ioctl(fd, UFFDIO_API, &api) != 0) return SetResult(wp, false, errno, "UFFDIO_API");
    close(fd);
    uint64_t offered = api.features;
    if (!(offered & UFFD_FEATURE_WP_ASYNC))
      return SetResult(wp, false, 0, "UFFDIO_API does not offer UFFD_FEATURE_WP_ASYNC (features 0x%llx)",
                       static_cast<unsigned long long>(offered));

    // Real use: async write-protect the 4 pages through PAGEMAP_SCAN, write one, find it.
    fd = static_cast<int>(syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | flags));
    memset(&api, 0, sizeof(api));
    api.api = UFFD_API;
    api.features = UFFD_FEATURE_WP_ASYNC;
    if (fd < 0 || ioctl(fd, UFFDIO_API, &api) != 0) return SetResult(wp, false, errno, "UFFDIO_API(WP_ASYNC)");
    uffdio_register reg;
    memset(&reg, 0, sizeof(reg));
    reg.range.start = reinterpret_cast<uintptr_t>(area);
    reg.range.len = 4 * ps;
    reg.mode = UFFDIO_REGISTER_MODE_WP;
    if (ioctl(fd, UFFDIO_REGISTER, &reg) != 0) return SetResult(wp, false, errno, "UFFDIO_REGISTER(MODE_WP)");
    if (!have_scan) return SetResult(wp, true, 0, "registered; not verified (no PAGEMAP_SCAN)");
    arg.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC;
    arg.category_mask = PAGE_IS_WRITTEN;
    arg.return_mask = PAGE_IS_WRITTEN;
    if (ioctl(pagemap, PAGEMAP_SCAN, &arg) < 0) return SetResult(wp, false, errno, "PAGEMAP_SCAN(WP_MATCHING)");
    area[2 * ps] = 2;  // async: the kernel just marks the page written, no fault message
    arg.flags = 0;
    int n = ioctl(pagemap, PAGEMAP_SCAN, &arg);
    if (n < 0) return SetResult(wp, false, errno, "PAGEMAP_SCAN(PAGE_IS_WRITTEN)");
    bool exact = n == 1 && regions[0].start == arg.start + 2 * ps && regions[0].end == arg.start + 3 * ps;
    if (exact) SetResult(wp, true, 0, "protect 4 pages, write 1: PAGEMAP_SCAN finds exactly that page");
    else SetResult(wp, false, 0, "PAGEMAP_SCAN after protect + 1 write: %d regions, want 1", n);
  });
  Apply(kf, res, {{Feature::kUserfaultfd, 0}, {Feature::kUffdUserModeOnly, 1}, {Feature::kUffdWpAsync, 2},
                  {Feature::kPagemapScan, 3}});
  if (auto v = ReadSysctl("/proc/sys/vm/unprivileged_userfaultfd")) {
    std::string& d = kf->Mutable(Feature::kUffdUserModeOnly).detail;
    absl::StrAppend(&d, d.empty() ? "" : "; ", "vm.unprivileged_userfaultfd=", *v);
  }

  // Soft-dirty: clear_refs 4 must clear pagemap bit 55 and a write must set it again.
  res = RunInChild([](ChildResults* out) {
    SubResult* s = &out->r[0];
    const long ps = sysconf(_SC_PAGESIZE);
    volatile char* page = static_cast<char*>(mmap(nullptr, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (page == MAP_FAILED) return SetResult(s, false, errno, "mmap");
    page[0] = 1;
    int cr = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (cr < 0 || write(cr, "4", 1) != 1) return SetResult(s, false, errno, "write 4 to /proc/self/clear_refs");
    int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    uint64_t before = 0, after = 0;
    off_t off = static_cast<off_t>(reinterpret_cast<uintptr_t>(page) / ps * 8);
    if (pm < 0 || pread(pm, &before, 8, off) != 8) return SetResult(s, false, errno, "read /proc/self/pagemap");
    page[0] = 2;
    if (pread(pm, &after, 8, off) != 8) return SetResult(s, false, errno, "read /proc/self/pagemap");
    if (before & kPagemapSoftDirtyBit) SetResult(s, false, 0, "clear_refs 4 does not clear pagemap bit 55");
    else if (after & kPagemapSoftDirtyBit) SetResult(s, true, 0, "clear_refs 4 clears bit 55, a write sets it");
    else SetResult(s, false, 0, "bit 55 stays 0 after a write (kernel without CONFIG_MEM_SOFT_DIRTY)");
  });
  Apply(kf, res, {{Feature::kSoftDirty, 0}});
}

// ---- eBPF ----

int BpfProgLoad(bpf_prog_type type) {
  bpf_insn insns[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = 0},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  static const char kLicense[] = "GPL";
  bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.prog_type = type;
  attr.insn_cnt = 2;
  attr.insns = reinterpret_cast<uintptr_t>(insns);
  attr.license = reinterpret_cast<uintptr_t>(kLicense);
  return static_cast<int>(syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr)));
}

void ProbeBpf(KernelFeatures* kf) {
  std::string unpriv = SysctlDetail("kernel.unprivileged_bpf_disabled", "/proc/sys/kernel/unprivileged_bpf_disabled");
  auto with_sysctl = [&](std::string d) {
    if (!unpriv.empty()) absl::StrAppend(&d, d.empty() ? "" : "; ", unpriv);
    return d;
  };
  UniqueFd sock(BpfProgLoad(BPF_PROG_TYPE_SOCKET_FILTER));
  kf->Mutable(Feature::kBpfSocketFilter) =
      sock ? FeatureStatus{true, with_sysctl("BPF_PROG_LOAD")} : FeatureStatus{false, with_sysctl(ErrnoDetail(errno))};
  UniqueFd raw(BpfProgLoad(BPF_PROG_TYPE_RAW_TRACEPOINT));
  if (!raw) {
    kf->Mutable(Feature::kBpfRawTracepoint) = {false, absl::StrCat("BPF_PROG_LOAD: ", ErrnoDetail(errno))};
  } else {
    static const char kTp[] = "sys_enter";
    bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.raw_tracepoint.name = reinterpret_cast<uintptr_t>(kTp);
    attr.raw_tracepoint.prog_fd = static_cast<uint32_t>(raw.get());
    UniqueFd link(static_cast<int>(syscall(__NR_bpf, BPF_RAW_TRACEPOINT_OPEN, &attr, sizeof(attr))));
    kf->Mutable(Feature::kBpfRawTracepoint) =
        link ? FeatureStatus{true, "loaded and attached to sys_enter"}
             : FeatureStatus{false, absl::StrCat("BPF_RAW_TRACEPOINT_OPEN(sys_enter): ", ErrnoDetail(errno))};
  }
  struct stat st;
  if (stat("/sys/kernel/btf/vmlinux", &st) == 0 && access("/sys/kernel/btf/vmlinux", R_OK) == 0)
    kf->Mutable(Feature::kBtf) = {true, absl::StrCat("/sys/kernel/btf/vmlinux, ", st.st_size / 1024, " KiB")};
  else kf->Mutable(Feature::kBtf) = {false, absl::StrCat("/sys/kernel/btf/vmlinux: ", ErrnoDetail(errno))};
}

// ---- io_uring, landlock, perf ----

void ProbeMisc(KernelFeatures* kf) {
  io_uring_params params;
  memset(&params, 0, sizeof(params));
  UniqueFd ring(static_cast<int>(syscall(__NR_io_uring_setup, 1, &params)));
  std::string disabled = SysctlDetail("kernel.io_uring_disabled", "/proc/sys/kernel/io_uring_disabled");
  if (ring) {
    kf->Mutable(Feature::kIoUring) = {true, absl::StrCat("io_uring_setup, features 0x", absl::Hex(params.features),
                                                         disabled.empty() ? "" : "; ", disabled)};
  } else {
    kf->Mutable(Feature::kIoUring) = {false, absl::StrCat(ErrnoDetail(errno), disabled.empty() ? "" : "; ", disabled)};
  }

  long abi = syscall(__NR_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi > 0) {
    kf->landlock_abi = static_cast<int>(abi);
    kf->Mutable(Feature::kLandlock) = {true, absl::StrCat("ABI ", abi)};
  } else {
    int e = errno;
    kf->Mutable(Feature::kLandlock) = {
        false, absl::StrCat(ErrnoDetail(e), e == EOPNOTSUPP ? " (built in, disabled at boot)" : "")};
  }

  perf_event_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.type = PERF_TYPE_HARDWARE;
  attr.size = sizeof(attr);
  attr.config = PERF_COUNT_HW_CPU_CYCLES;
  attr.disabled = 1;
  attr.exclude_kernel = 1;
  attr.exclude_hv = 1;
  UniqueFd perf(static_cast<int>(syscall(__NR_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC)));
  std::string paranoid = SysctlDetail("kernel.perf_event_paranoid", "/proc/sys/kernel/perf_event_paranoid");
  if (perf) {
    kf->Mutable(Feature::kPerfHwCycles) = {true, absl::StrCat("cycles counter opened", paranoid.empty() ? "" : "; ", paranoid)};
  } else {
    int e = errno;
    kf->Mutable(Feature::kPerfHwCycles) = {
        false, absl::StrCat(ErrnoDetail(e), e == ENOENT || e == EOPNOTSUPP ? " (no hardware PMU)" : "",
                            paranoid.empty() ? "" : "; ", paranoid)};
  }
}

// ---- pidfd_open, pidfd_getfd, process_vm_readv on a child ----

volatile uint64_t g_vm_marker = 0;
constexpr uint64_t kChildMarker = 0xc10eb07c10eb07ULL;

void ProbeProcessAccess(KernelFeatures* kf) {
  auto set_all = [&](const std::string& why) {
    for (Feature f : {Feature::kPidfdOpen, Feature::kPidfdGetfd, Feature::kProcessVmReadv}) kf->Mutable(f) = {false, why};
  };
  int ready[2], go[2];
  if (pipe2(ready, O_CLOEXEC) < 0) return set_all(ErrnoDetail(errno));
  UniqueFd ready_rd(ready[0]), ready_wr(ready[1]);
  if (pipe2(go, O_CLOEXEC) < 0) return set_all(ErrnoDetail(errno));
  UniqueFd go_rd(go[0]), go_wr(go[1]);
  g_vm_marker = 1;
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return set_all(ErrnoDetail(errno));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    g_vm_marker = kChildMarker;
    char c = 'r';
    if (write(ready_wr.get(), &c, 1) != 1) _exit(1);
    ssize_t n = read(go_rd.get(), &c, 1);
    _exit(n == 1 ? 0 : 1);
  }
  ready_wr.reset();
  char c;
  pollfd pfd{ready_rd.get(), POLLIN, 0};
  if (poll(&pfd, 1, kChildTimeoutMs) != 1 || read(ready_rd.get(), &c, 1) != 1) {
    KillAndReap(pid);
    return set_all("probe child did not start");
  }

  UniqueFd pidfd(static_cast<int>(syscall(__NR_pidfd_open, pid, 0)));
  if (!pidfd) {
    kf->Mutable(Feature::kPidfdOpen) = {false, ErrnoDetail(errno)};
    kf->Mutable(Feature::kPidfdGetfd) = {false, "no pidfd_open"};
  } else {
    kf->Mutable(Feature::kPidfdOpen) = {true, "pidfd of a child"};
    // The child's copy of go_rd has the same number; the fd we get must be the same pipe.
    UniqueFd got(static_cast<int>(syscall(__NR_pidfd_getfd, pidfd.get(), go_rd.get(), 0)));
    struct stat a, b;
    if (!got) kf->Mutable(Feature::kPidfdGetfd) = {false, ErrnoDetail(errno)};
    else if (fstat(got.get(), &a) == 0 && fstat(go_rd.get(), &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
      kf->Mutable(Feature::kPidfdGetfd) = {true, "copied a pipe fd out of a child"};
    else kf->Mutable(Feature::kPidfdGetfd) = {false, "returned fd is not the child's pipe"};
  }

  uint64_t value = 0;
  iovec local{&value, sizeof(value)};
  iovec remote{const_cast<uint64_t*>(&g_vm_marker), sizeof(value)};
  ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
  if (n != sizeof(value)) kf->Mutable(Feature::kProcessVmReadv) = {false, ErrnoDetail(n < 0 ? errno : EIO)};
  else if (value != kChildMarker) kf->Mutable(Feature::kProcessVmReadv) = {false, "read a wrong value"};
  else kf->Mutable(Feature::kProcessVmReadv) = {true, "read a child's memory"};
  KillAndReap(pid);
}

}  // namespace

absl::StatusOr<KernelFeatures> ProbeKernelFeatures() {
  const int64_t t0 = NowNs();
  KernelFeatures kf;
  utsname u;
  if (uname(&u) == 0) {
    kf.kernel_release = u.release;
    kf.machine = u.machine;
  }
  kf.euid = geteuid();
  if (access("/proc/self/status", R_OK) != 0) return base::ErrnoError("cannot probe: /proc/self/status");
  // If we cannot run a child, no probe can run.
  auto smoke = RunInChild([](ChildResults* out) { out->r[0].ok = 1; });
  if (!smoke.ok()) return absl::Status(smoke.status().code(), absl::StrCat("cannot probe: ", smoke.status().message()));

  ProbePtrace(&kf);
  ProbeSeccomp(&kf);
  ProbeNamespaces(&kf);
  ProbeClone3(&kf);
  ProbeCgroups(&kf);
  ProbeMemoryTracking(&kf);
  ProbeBpf(&kf);
  ProbeMisc(&kf);
  ProbeProcessAccess(&kf);
  kf.probe_time = absl::Nanoseconds(NowNs() - t0);
  return kf;
}

}  // namespace clonebot::abi
