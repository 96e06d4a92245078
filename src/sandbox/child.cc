// Async-signal-safe code only: this runs in a clone of the parent, before execve.
#include "sandbox/child.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/futex.h>
#include <linux/landlock.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace clonebot::sandbox::internal {
namespace {

constexpr int kForwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};

volatile pid_t g_payload = 0;
#if !defined(__SANITIZE_ADDRESS__)
// The payload's stack from the clone to its exec (it shares init's memory until then).
alignas(64) char g_payload_stack[256 << 10];
#endif

void ForwardToPayload(int sig) {
  if (g_payload > 0) kill(g_payload, sig);
}

bool WaitGo(const ChildPlan& p) {
  char c;
  ssize_t n;
  do n = read(p.go_fd, &c, 1);
  while (n < 0 && errno == EINTR);
  return n == 1;
}

[[noreturn]] void Die(const ChildPlan& p, Stage stage, int detail, int err) {
  ChildError e{stage, detail, err};
  ssize_t n;
  do n = write(p.err_fd, &e, sizeof e);
  while (n < 0 && errno == EINTR);
  _exit(stage == Stage::kExec ? (err == ENOENT ? 127 : 126) : 125);
}

bool DropCaps(int cap_last) {
  for (int c = 0; c <= cap_last; c++)
    if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL) return false;
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return false;
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  return syscall(SYS_capset, &hdr, data) == 0;
}

int LoopbackUp() {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return errno;
  ifreq ifr{};
  memcpy(ifr.ifr_name, "lo", 3);
  int err = 0;
  if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) err = errno;
  else {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) err = errno;
  }
  close(s);
  return err;
}

// The network namespace is made on a thread of init while init builds the mount tree: the
// kernel takes ~1 ms to set one up (every pernet subsystem, the lo device), as long as all the
// mounts. The thread shares init's TLS (a bare clone: no CLONE_SETTLS), so it must not touch
// errno: it makes its syscalls raw and reports through g_net, which init reads only after the
// kernel has cleared `tid` (CLONE_CHILD_CLEARTID) at the thread's exit. The thread gets a pid
// of its own choosing (clone3 set_tid, which does not move the pid allocator's cursor), so the
// payload is still pid 2.
struct NetThread {
  volatile pid_t tid = 0;  // futex word: set at the clone, cleared by the kernel at exit
  int err = 0;             // errno of the failed step, 0 if ns_fd is valid
  Stage stage = Stage::kNetNs;
  int ns_fd = -1;          // the new namespace (SIOCGSKNS: O_CLOEXEC)
};
NetThread g_net;

#if defined(__x86_64__)
alignas(64) char g_net_stack[32 << 10];
constexpr pid_t kNetThreadPid = 300;  // any pid but 2; below the smallest pid_max (301)

// clone3(args), then in the child, on args->stack: fn(arg) and exit(2) of the task. Returns the
// child's id or -errno. (glibc has no clone3 wrapper that switches stacks.)
extern "C" long clonebot_clone3_run(clone_args* args, size_t size, int (*fn)(void*), void* arg);
asm(R"(
  .text
  .p2align 4
  .type clonebot_clone3_run, @function
clonebot_clone3_run:
  mov %rdx, %r8
  mov %rcx, %r9
  mov $435, %eax
  syscall
  test %rax, %rax
  jz 1f
  ret
1:
  xor %ebp, %ebp
  mov %r9, %rdi
  call *%r8
  mov %eax, %edi
  mov $60, %eax
  syscall
  ud2
  .size clonebot_clone3_run, .-clonebot_clone3_run
)");

[[gnu::always_inline]] inline long RawSyscall(long nr, long a1, long a2 = 0, long a3 = 0) {
  long ret;
  asm volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a1), "S"(a2), "d"(a3) : "rcx", "r11", "memory");
  return ret;
}

// No sanitizer instrumentation: it would run on a stack and a thread the runtime does not know.
__attribute__((no_sanitize("address", "undefined"))) int NetThreadMain(void*) {
  NetThread& t = g_net;
  long rc = RawSyscall(SYS_unshare, CLONE_NEWNET);
  if (rc < 0) {
    t.err = static_cast<int>(-rc);
    return 0;
  }
  t.stage = Stage::kLoopback;
  long s = RawSyscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    t.err = static_cast<int>(-s);
    return 0;
  }
  ifreq ifr;
  for (size_t i = 0; i < sizeof ifr; i++) reinterpret_cast<volatile char*>(&ifr)[i] = 0;
  ifr.ifr_name[0] = 'l';
  ifr.ifr_name[1] = 'o';
  rc = RawSyscall(SYS_ioctl, s, SIOCGIFFLAGS, reinterpret_cast<long>(&ifr));
  if (rc == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    rc = RawSyscall(SYS_ioctl, s, SIOCSIFFLAGS, reinterpret_cast<long>(&ifr));
  }
  if (rc == 0) {
    t.stage = Stage::kNetNs;
    rc = RawSyscall(SYS_ioctl, s, SIOCGSKNS, 0);
    if (rc >= 0) t.ns_fd = static_cast<int>(rc);
  }
  if (rc < 0) t.err = static_cast<int>(-rc);
  RawSyscall(SYS_close, s);
  return 0;
}

// Starts the thread; false if the kernel refuses (no clone3 or set_tid, pid_max too small):
// then init makes the namespace itself.
bool StartNetThread() {
  clone_args ca{};
  ca.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
             CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
  ca.parent_tid = ca.child_tid = reinterpret_cast<uint64_t>(&g_net.tid);
  ca.stack = reinterpret_cast<uint64_t>(g_net_stack);
  ca.stack_size = sizeof g_net_stack;
  pid_t tid = kNetThreadPid;
  ca.set_tid = reinterpret_cast<uint64_t>(&tid);
  ca.set_tid_size = 1;
  return clonebot_clone3_run(&ca, sizeof ca, NetThreadMain, nullptr) > 0;
}
#else
bool StartNetThread() { return false; }
#endif

int RunStep(const ChildPlan& p, const MountStep& s) {
  switch (s.kind) {
    case MountStep::kMkdir:
      if (mkdir(s.target, s.mode) != 0 && errno != EEXIST) return errno;
      return 0;
    case MountStep::kTouch: {
      int fd = open(s.target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd < 0) return errno == EEXIST ? 0 : errno;
      close(fd);
      return 0;
    }
    case MountStep::kSymlink:
      if (symlink(s.arg, s.target) != 0 && errno != EEXIST) return errno;
      return 0;
    case MountStep::kAttach:
      if (move_mount(p.source_fds[s.source], "", AT_FDCWD, s.target, MOVE_MOUNT_F_EMPTY_PATH) != 0) return errno;
      return 0;
    case MountStep::kFs:
      if (mount(s.fstype, s.target, s.fstype, s.flags, s.arg) != 0) return errno;
      return 0;
  }
  return EINVAL;
}

int ApplyLandlock(const ChildPlan& p, int* failed_rule) {
  *failed_rule = -1;
  landlock_ruleset_attr attr{};
  attr.handled_access_fs = p.landlock_handled;
  int rs = static_cast<int>(syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0));
  if (rs < 0) return errno;
  for (size_t i = 0; i < p.landlock_rules.size(); i++) {
    const LandlockRule& r = p.landlock_rules[i];
    int fd = open(r.path, O_PATH | O_CLOEXEC);
    if (fd < 0) continue;  // not mounted (an optional system path): nothing to allow there
    landlock_path_beneath_attr pb{};
    pb.allowed_access = r.access & p.landlock_handled;
    pb.parent_fd = fd;
    // A file (not a directory) may carry only the file rights.
    struct stat st;
    if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
      pb.allowed_access &= LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                           LANDLOCK_ACCESS_FS_READ_FILE | (1ULL << 14) /* TRUNCATE */ | (1ULL << 15) /* IOCTL_DEV */;
    long rc = syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
    int e = errno;
    close(fd);
    if (rc != 0) {
      close(rs);
      *failed_rule = static_cast<int>(i);
      return e;
    }
  }
  long rc = syscall(SYS_landlock_restrict_self, rs, 0);
  int e = errno;
  close(rs);
  return rc == 0 ? 0 : e;
}

// execve with a PATH search for a bare name (like execvpe, but without allocation). Returns
// the errno to report: EACCES if some candidate existed but could not run, else the last one.
int Exec(const ChildPlan& p) {
  const char* file = p.argv[0];
  char* const* argv = const_cast<char* const*>(p.argv.data());
  char* const* envp = const_cast<char* const*>(p.envp.data());
  if (strchr(file, '/') != nullptr) {
    execve(file, argv, envp);
    return errno;
  }
  const char* path = p.path_env != nullptr ? p.path_env : "/usr/local/bin:/usr/bin:/bin";
  size_t flen = strlen(file);
  int result = ENOENT;
  char buf[4096];
  for (const char* s = path;;) {
    const char* e = strchrnul(s, ':');
    size_t dlen = static_cast<size_t>(e - s);
    if (dlen + 1 + flen + 1 <= sizeof buf) {
      memcpy(buf, s, dlen);
      size_t off = dlen;
      if (dlen == 0) buf[off++] = '.';
      buf[off++] = '/';
      memcpy(buf + off, file, flen + 1);
      execve(buf, argv, envp);
      if (errno == EACCES) result = EACCES;
      else if (errno != ENOENT && errno != ENOTDIR && result != EACCES) result = errno;
    }
    if (*e == '\0') break;
    s = e + 1;
  }
  return result;
}

[[noreturn]] void PayloadMain(ChildPlan& p) {
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  for (int sig : kForwarded) sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);

  for (size_t i = 0; i < p.rlimit_resources.size(); i++)
    if (setrlimit(static_cast<__rlimit_resource>(p.rlimit_resources[i]), &p.rlimit_values[i]) != 0)
      Die(p, Stage::kRlimit, static_cast<int>(i), errno);
  if (!DropCaps(p.cap_last)) Die(p, Stage::kCaps, 0, errno);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) Die(p, Stage::kNoNewPrivs, 0, errno);
  if (p.landlock_handled != 0) {
    int rule = -1;
    if (int err = ApplyLandlock(p, &rule); err != 0) Die(p, Stage::kLandlock, rule, err);
  }
  if (p.seccomp_len > 0) {
    sock_fprog prog{p.seccomp_len, const_cast<sock_filter*>(p.seccomp)};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) Die(p, Stage::kSeccomp, 0, errno);
  }
  Die(p, Stage::kExec, 0, Exec(p));
}

#if !defined(__SANITIZE_ADDRESS__)
int PayloadTrampoline(void* plan) { PayloadMain(*static_cast<ChildPlan*>(plan)); }
#endif

}  // namespace

void InitMain(ChildPlan& p) {
  // If clonebot dies, init dies, and with it the whole pid namespace.
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  // Until the parent has written the uid/gid maps, only what needs no mapped id: the hostname,
  // lo, the mount tree's propagation and the detached clones of the bind sources.
  if (p.hostname != nullptr && sethostname(p.hostname, strlen(p.hostname)) != 0)
    Die(p, Stage::kHostname, 0, errno);
  const bool net_thread = p.new_net && p.net_on_thread && StartNetThread();
  if (p.new_net && !net_thread) {
    if (unshare(CLONE_NEWNET) != 0) Die(p, Stage::kNetNs, 0, errno);
    if (int err = LoopbackUp(); err != 0) Die(p, Stage::kLoopback, 0, err);
  }

  if (mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) Die(p, Stage::kMountPrivate, 0, errno);
  // Clone every source tree while the host's tree is still in place (the staging tmpfs may
  // cover a source), and make the read-only ones read-only before they are attached.
  for (size_t i = 0; i < p.sources.size(); i++) {
    int fd = open_tree(AT_FDCWD, p.sources[i].path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (fd < 0) Die(p, Stage::kCloneSource, static_cast<int>(i), errno);
    if (p.sources[i].read_only) {
      mount_attr attr{};
      attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
      if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0)
        Die(p, Stage::kCloneSource, static_cast<int>(i), errno);
    }
    p.source_fds[i] = fd;
  }
  // Creating files (mount points, tmpfs roots) needs a mapped uid.
  if (!WaitGo(p)) _exit(125);  // the parent gave up (and reported why) or died
  close(p.go_fd);
  for (size_t i = 0; i < p.steps.size(); i++)
    if (int err = RunStep(p, p.steps[i]); err != 0) Die(p, Stage::kMount, static_cast<int>(i), err);
  for (int fd : p.source_fds) close(fd);

  // Join the run's cgroup (v1) while the host's /sys is still visible, then make it the root of
  // a new cgroup namespace. v2 runs were born in theirs (CLONE_INTO_CGROUP).
  for (size_t i = 0; i < p.cgroup_join.size(); i++) {
    int fd = open(p.cgroup_join[i], O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "0", 1) != 1) Die(p, Stage::kCgroupJoin, static_cast<int>(i), errno);
    close(fd);
  }
  if (unshare(CLONE_NEWCGROUP) != 0) Die(p, Stage::kCgroupNs, 0, errno);

  if (chdir(p.stage_dir) != 0 || syscall(SYS_pivot_root, ".", ".") != 0 || umount2(".", MNT_DETACH) != 0 ||
      chdir("/") != 0)
    Die(p, Stage::kPivot, 0, errno);
  {
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    if (mount_setattr(AT_FDCWD, "/", 0, &attr, sizeof attr) != 0) Die(p, Stage::kRootReadOnly, 0, errno);
  }
  if (p.cwd != nullptr) {
    if (chdir(p.cwd) != 0) Die(p, Stage::kCwd, 0, errno);
  } else if (p.fallback_cwd == nullptr || chdir(p.fallback_cwd) != 0) {
    if (chdir("/") != 0) Die(p, Stage::kCwd, 0, errno);
  }

  if (net_thread) {
    for (pid_t t; (t = g_net.tid) != 0;) syscall(SYS_futex, &g_net.tid, FUTEX_WAIT, t, nullptr, nullptr, 0);
    if (g_net.err != 0) Die(p, g_net.stage, 0, g_net.err);
    if (setns(g_net.ns_fd, CLONE_NEWNET) != 0) Die(p, Stage::kNetNs, 0, errno);
    close(g_net.ns_fd);
  }

  // The payload must not be able to ptrace init (which still has capabilities in the namespace).
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  sigset_t fwd;
  sigemptyset(&fwd);
  for (int sig : kForwarded) sigaddset(&fwd, sig);
  sigprocmask(SIG_BLOCK, &fwd, nullptr);
  struct sigaction sa{};
  sa.sa_handler = ForwardToPayload;
  sa.sa_flags = SA_RESTART;
  sigfillset(&sa.sa_mask);
  for (int sig : kForwarded) sigaction(sig, &sa, nullptr);

  // Like posix_spawn: CLONE_VM | CLONE_VFORK, on a stack of its own, so that no page table of
  // init is copied (and torn down again at the exec); init sleeps until the payload has exec'ed
  // or died. Everything the payload changes before the exec is per task (signal actions without
  // CLONE_SIGHAND, mask, rlimits, capabilities, no_new_privs, landlock, seccomp), except errno,
  // which init does not read afterwards.
#if defined(__SANITIZE_ADDRESS__)
  // ASan cannot follow a switch to a stack it does not know (it warns on stderr at every
  // noreturn call): the sanitizer build forks the payload the plain way.
  pid_t child = static_cast<pid_t>(syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, 0));
  if (child == 0) PayloadMain(p);
#else
  pid_t child = clone(PayloadTrampoline, g_payload_stack + sizeof g_payload_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &p);
#endif
  if (child < 0) Die(p, Stage::kFork, 0, errno);

  g_payload = child;
  close(p.err_fd);
  // init needs no privilege to reap and forward.
  DropCaps(p.cap_last);
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  sigprocmask(SIG_UNBLOCK, &fwd, nullptr);

  int payload_status = -1;
  for (;;) {
    int st = 0;
    pid_t w = waitpid(-1, &st, __WALL);
    if (w < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (w == child) {
      payload_status = st;
      break;
    }
  }
  ssize_t n;
  do n = write(p.status_fd, &payload_status, sizeof payload_status);
  while (n < 0 && errno == EINTR);
  // Exiting kills whatever else is left in the namespace.
  _exit(0);
}

}  // namespace clonebot::sandbox::internal
