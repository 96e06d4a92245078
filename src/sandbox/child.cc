// Async-signal-safe code only: this runs in a clone of the parent, before execve.
#include "sandbox/child.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
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
  if (p.new_net)
    if (int err = LoopbackUp(); err != 0) Die(p, Stage::kLoopback, 0, err);

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
