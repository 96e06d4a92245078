#include "sandbox/sandbox.h"

#include <fcntl.h>
#include <linux/landlock.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <set>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/file.h"
#include "base/json.h"
#include "base/status.h"
#include "base/unique_fd.h"
#include "sandbox/cgroup.h"
#include "sandbox/child.h"

namespace clonebot::sandbox {
namespace {

using internal::ChildError;
using internal::ChildPlan;
using internal::MountStep;
using internal::Stage;

constexpr int kForwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};

// Landlock rights by ABI version (linux/landlock.h of the build host may be older than the kernel).
constexpr uint64_t kLlRead = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
constexpr uint64_t kLlRefer = 1ULL << 13;
constexpr uint64_t kLlTruncate = 1ULL << 14;
constexpr uint64_t kLlIoctlDev = 1ULL << 15;
constexpr uint64_t kLlAbi1All = (1ULL << 13) - 1;

uint64_t LandlockHandled(int abi) {
  uint64_t h = kLlAbi1All;
  if (abi >= 2) h |= kLlRefer;
  if (abi >= 3) h |= kLlTruncate;
  if (abi >= 5) h |= kLlIoctlDev;
  return h;
}

// Owns the strings the plan points into; built before clone, read-only afterwards.
struct PlanStorage {
  std::deque<std::string> strings;  // deque: stable addresses
  const char* Keep(std::string s) { return strings.emplace_back(std::move(s)).c_str(); }
  std::vector<std::string> step_what;  // per step, for error messages ("bind /usr read-only")
  std::vector<std::string> source_what;
  std::vector<std::string> rlimit_what;  // "nofile=1024:1024"
  std::set<std::string> made_dirs;  // directories a kMkdir step already creates
};

std::string Staged(const ChildPlan& plan, const std::string& inside) {
  return inside == "/" ? std::string(plan.stage_dir) : plan.stage_dir + inside;
}

void AddStep(ChildPlan& plan, PlanStorage& st, MountStep step, std::string what) {
  plan.steps.push_back(step);
  st.step_what.push_back(std::move(what));
}

// mkdir -p of every ancestor of |inside| (not |inside| itself) not made by an earlier step.
void AddParents(ChildPlan& plan, PlanStorage& st, const std::string& inside) {
  for (size_t pos = inside.find('/', 1); pos != std::string::npos; pos = inside.find('/', pos + 1)) {
    std::string dir = inside.substr(0, pos);
    if (!st.made_dirs.insert(dir).second) continue;
    AddStep(plan, st, {MountStep::kMkdir, st.Keep(Staged(plan, dir))}, "mkdir " + dir);
  }
}

void AddFs(ChildPlan& plan, PlanStorage& st, const std::string& inside, const char* fstype, unsigned long flags,
           const char* data) {
  AddParents(plan, st, inside);
  st.made_dirs.insert(inside);
  AddStep(plan, st, {MountStep::kMkdir, st.Keep(Staged(plan, inside))}, "mkdir " + inside);
  MountStep m{MountStep::kFs, st.Keep(Staged(plan, inside))};
  m.fstype = fstype;
  m.flags = flags;
  m.arg = data;
  AddStep(plan, st, m, absl::StrCat("mount ", fstype, " on ", inside));
}

absl::Status AddBind(ChildPlan& plan, PlanStorage& st, const std::string& src, const std::string& inside, bool ro) {
  struct stat sb;
  if (stat(src.c_str(), &sb) != 0) return base::ErrnoError("%s", src);
  int idx = static_cast<int>(plan.sources.size());
  plan.sources.push_back({st.Keep(src), ro});
  st.source_what.push_back(absl::StrCat("bind ", src, ro ? " read-only" : " read-write"));
  AddParents(plan, st, inside);
  if (S_ISDIR(sb.st_mode)) st.made_dirs.insert(inside);
  MountStep point{S_ISDIR(sb.st_mode) ? MountStep::kMkdir : MountStep::kTouch, st.Keep(Staged(plan, inside))};
  AddStep(plan, st, point, "mount point " + inside);
  MountStep m{MountStep::kAttach, st.Keep(Staged(plan, inside))};
  m.source = idx;
  AddStep(plan, st, m, absl::StrCat("bind ", src, " on ", inside, ro ? " read-only" : ""));
  return absl::OkStatus();
}

absl::Status BuildMounts(const Spec& spec, ChildPlan& plan, PlanStorage& st) {
  AddStep(plan, st, {MountStep::kFs, plan.stage_dir, "mode=0755,size=4m,nr_inodes=4096", "tmpfs", MS_NOSUID | MS_NODEV},
          "mount the new root (tmpfs)");
  if (spec.system_binds) {
    for (const char* p : {"/usr", "/etc", "/opt", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
      struct stat sb;
      if (lstat(p, &sb) != 0) continue;
      if (S_ISLNK(sb.st_mode)) {
        char target[4096];
        ssize_t n = readlink(p, target, sizeof target - 1);
        if (n <= 0) continue;
        MountStep s{MountStep::kSymlink, st.Keep(Staged(plan, p))};
        s.arg = st.Keep(std::string(target, static_cast<size_t>(n)));
        AddStep(plan, st, s, absl::StrCat("symlink ", p));
      } else if (S_ISDIR(sb.st_mode)) {
        RETURN_IF_ERROR(AddBind(plan, st, p, p, /*ro=*/true));
      }
    }
  }
  AddFs(plan, st, "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
  AddFs(plan, st, "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k,nr_inodes=64");
  for (const char* d : {"null", "zero", "full", "random", "urandom", "tty"}) {
    std::string host = absl::StrCat("/dev/", d);
    if (access(host.c_str(), F_OK) != 0) continue;
    RETURN_IF_ERROR(AddBind(plan, st, host, host, /*ro=*/false));
  }
  AddFs(plan, st, "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620");
  AddFs(plan, st, "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  for (auto [link, to] : {std::pair{"/dev/ptmx", "pts/ptmx"}, {"/dev/fd", "/proc/self/fd"},
                          {"/dev/stdin", "/proc/self/fd/0"}, {"/dev/stdout", "/proc/self/fd/1"},
                          {"/dev/stderr", "/proc/self/fd/2"}}) {
    MountStep s{MountStep::kSymlink, st.Keep(Staged(plan, link))};
    s.arg = to;
    AddStep(plan, st, s, absl::StrCat("symlink ", link));
  }
  AddFs(plan, st, "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  for (const auto& t : spec.tmpfs) AddFs(plan, st, t, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
  for (const auto& b : spec.binds) RETURN_IF_ERROR(AddBind(plan, st, b.source, b.target, !b.writable));
  return absl::OkStatus();
}

void BuildLandlock(const Spec& spec, ChildPlan& plan, PlanStorage& st, Report& report) {
  if (!spec.landlock) {
    report.landlock = "off (--no-landlock)";
    return;
  }
  long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi < 1) {
    report.landlock = absl::StrCat("unavailable (", strerror(errno), ")");
    return;
  }
  plan.landlock_handled = LandlockHandled(static_cast<int>(abi));
  report.landlock = absl::StrCat("abi ", abi);
  const uint64_t all = plan.landlock_handled;
  const uint64_t no_dev_nodes = all & ~(LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_BLOCK);
  // The mounts already decide what is writable; landlock says the same again, so that a mount
  // trick inside the namespace gains nothing.
  plan.landlock_rules.push_back({"/", kLlRead});
  plan.landlock_rules.push_back({"/proc", kLlRead | LANDLOCK_ACCESS_FS_WRITE_FILE});
  plan.landlock_rules.push_back({"/dev", kLlRead | LANDLOCK_ACCESS_FS_WRITE_FILE | (all & kLlIoctlDev)});
  plan.landlock_rules.push_back({"/dev/shm", no_dev_nodes});
  plan.landlock_rules.push_back({"/dev/pts", kLlRead | LANDLOCK_ACCESS_FS_WRITE_FILE | (all & kLlIoctlDev)});
  plan.landlock_rules.push_back({"/tmp", no_dev_nodes});
  for (const auto& t : spec.tmpfs) plan.landlock_rules.push_back({st.Keep(t), no_dev_nodes});
  for (const auto& b : spec.binds)
    plan.landlock_rules.push_back({st.Keep(b.target), b.writable ? no_dev_nodes : kLlRead});
}

std::string StageText(const PlanStorage& st, const ChildPlan& plan, const ChildError& e) {
  auto at = [](const std::vector<std::string>& v, int i) { return i >= 0 && size_t(i) < v.size() ? v[i] : "?"; };
  switch (e.stage) {
    case Stage::kWaitGo: return "waiting for the parent";
    case Stage::kCgroupJoin: return absl::StrCat("joining the cgroup (", plan.cgroup_join[size_t(e.detail)], ")");
    case Stage::kCgroupNs: return "cgroup namespace";
    case Stage::kHostname: return "sethostname";
    case Stage::kLoopback: return "bringing up lo";
    case Stage::kNetNs: return "network namespace";
    case Stage::kMountPrivate: return "making the mount tree private";
    case Stage::kCloneSource: return at(st.source_what, e.detail);
    case Stage::kMount: return at(st.step_what, e.detail);
    case Stage::kPivot: return "pivot_root";
    case Stage::kRootReadOnly: return "making the root read-only";
    case Stage::kCwd: return absl::StrCat("chdir ", plan.cwd ? plan.cwd : "/");
    case Stage::kFork: return "forking the command";
    case Stage::kRlimit:
      return absl::StrCat("setrlimit ", at(st.rlimit_what, e.detail),
                          e.err == EPERM ? " (above the hard limit, which only CAP_SYS_RESOURCE may raise)" : "");
    case Stage::kCaps: return "dropping capabilities";
    case Stage::kNoNewPrivs: return "no_new_privs";
    case Stage::kLandlock:
      return e.detail < 0 ? std::string("landlock")
                          : absl::StrCat("landlock rule for ", plan.landlock_rules[size_t(e.detail)].path);
    case Stage::kSeccomp: return "installing the seccomp filter";
    case Stage::kExec: return absl::StrCat("cannot execute '", plan.argv[0], "'");
  }
  return "set-up";
}

absl::Status WriteProc(pid_t pid, const char* file, const std::string& text) {
  std::string path = absl::StrCat("/proc/", pid, "/", file);
  base::UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return base::ErrnoError("open(%s)", path);
  if (write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    return base::ErrnoError("write(%s)", path);
  return absl::OkStatus();
}

absl::Status WriteIdMaps(pid_t pid) {
  uid_t uid = geteuid();
  gid_t gid = getegid();
  if (uid == 0) {
    // Root maps the whole range: files keep their owners inside; with every capability dropped,
    // uid 0 inside gets only what the permission bits give the owner root.
    RETURN_IF_ERROR(WriteProc(pid, "uid_map", "0 0 4294967295\n"));
    return WriteProc(pid, "gid_map", "0 0 4294967295\n");
  }
  RETURN_IF_ERROR(WriteProc(pid, "setgroups", "deny"));
  RETURN_IF_ERROR(WriteProc(pid, "uid_map", absl::StrCat(uid, " ", uid, " 1\n")));
  return WriteProc(pid, "gid_map", absl::StrCat(gid, " ", gid, " 1\n"));
}

double Ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

}  // namespace

absl::StatusOr<Report> Run(const Spec& spec) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  if (spec.argv.empty()) return absl::InvalidArgumentError("no command given (clonebot run [flags] -- CMD ARGS...)");
  Report report;
  ChildPlan plan;
  PlanStorage st;
  plan.hostname = spec.hostname.empty() ? nullptr : spec.hostname.c_str();
  plan.new_net = !spec.share_net;
  plan.net_on_thread = getenv("CLONEBOT_RUN_NETNS_INLINE") == nullptr;
  RETURN_IF_ERROR(BuildMounts(spec, plan, st));
  plan.source_fds.assign(plan.sources.size(), -1);
  if (auto last = base::ReadWholeFile("/proc/sys/kernel/cap_last_cap")) plan.cap_last = atoi(last->c_str());
  std::string caller_cwd;
  if (spec.cwd.empty()) {
    char buf[4096];
    if (getcwd(buf, sizeof buf) != nullptr) caller_cwd = buf;
    plan.fallback_cwd = caller_cwd.empty() ? nullptr : caller_cwd.c_str();
  } else {
    plan.cwd = spec.cwd.c_str();
  }
  for (const auto& r : spec.rlimits) {
    plan.rlimit_resources.push_back(r.resource);
    plan.rlimit_values.push_back({r.soft, r.hard});
    auto num = [](uint64_t v) { return v == RLIM_INFINITY ? std::string("unlimited") : absl::StrCat(v); };
    st.rlimit_what.push_back(absl::StrCat(r.name, "=", num(r.soft), ":", num(r.hard)));
  }
  BuildLandlock(spec, plan, st, report);
  if (!spec.seccomp.empty()) {
    if (spec.seccomp.size() > 4096) return absl::InvalidArgumentError("seccomp program longer than 4096 instructions");
    plan.seccomp = spec.seccomp.data();
    plan.seccomp_len = static_cast<unsigned short>(spec.seccomp.size());
  }
  for (const auto& a : spec.argv) plan.argv.push_back(a.c_str());
  plan.argv.push_back(nullptr);
  for (const auto& e : spec.env) {
    plan.envp.push_back(e.c_str());
    if (e.rfind("PATH=", 0) == 0) plan.path_env = e.c_str() + 5;
  }
  plan.envp.push_back(nullptr);

  // The cgroup is made before the clone: v2's child is born in it (CLONE_INTO_CGROUP); v1's init
  // joins it itself (see cgroup.h). Making it while init mounts, and telling init when it is
  // ready, cost more than it hid: one more cross-CPU wakeup, ~1 ms on this VM.
  std::unique_ptr<RunCgroup> cgroup;
  const bool want_cg = spec.limits.memory_max || spec.limits.pids_max || spec.limits.cpu_max || spec.want_cgroup_stats;
  if (!want_cg || spec.cgroup == CgroupChoice::kNone) {
    if (spec.limits.memory_max || spec.limits.pids_max || spec.limits.cpu_max)
      return absl::InvalidArgumentError("limits need a cgroup (drop --cgroup none)");
    report.cgroup = "none";
  } else {
    ASSIGN_OR_RETURN(cgroup, RunCgroup::Create(spec.limits, spec.cgroup, spec.want_cgroup_stats));
    report.cgroup = cgroup->v2() ? "v2" : "v1";
    for (const auto& f : cgroup->SelfJoinFiles()) plan.cgroup_join.push_back(st.Keep(f));
    RETURN_IF_ERROR(cgroup->MaterializeV1());
  }

  int go[2], err[2], status[2];
  if (pipe2(go, O_CLOEXEC) != 0) return base::ErrnoError("pipe2");
  base::UniqueFd go_r(go[0]), go_w(go[1]);
  if (pipe2(err, O_CLOEXEC) != 0) return base::ErrnoError("pipe2");
  base::UniqueFd err_r(err[0]), err_w(err[1]);
  if (pipe2(status, O_CLOEXEC) != 0) return base::ErrnoError("pipe2");
  base::UniqueFd status_r(status[0]), status_w(status[1]);
  plan.go_fd = go_r.get();
  plan.err_fd = err_w.get();
  plan.status_fd = status_w.get();

  // Forwarded signals are taken through a signalfd; the children unblock them.
  sigset_t fwd, old_mask;
  sigemptyset(&fwd);
  for (int sig : kForwarded) sigaddset(&fwd, sig);
  sigprocmask(SIG_BLOCK, &fwd, &old_mask);
  auto restore_mask = absl::MakeCleanup([&] { sigprocmask(SIG_SETMASK, &old_mask, nullptr); });
  base::UniqueFd sfd(signalfd(-1, &fwd, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sfd) return base::ErrnoError("signalfd");

  clone_args ca{};
  int pidfd = -1;
  // No CLONE_NEWNET: init makes the network namespace while it mounts (child.cc).
  ca.flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_PIDFD;
  ca.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  ca.exit_signal = SIGCHLD;
  if (cgroup && cgroup->clone_into_fd() >= 0) {
    ca.flags |= CLONE_INTO_CGROUP;
    ca.cgroup = static_cast<uint64_t>(cgroup->clone_into_fd());
  }
  const auto t_clone = Clock::now();
  long rc = syscall(SYS_clone3, &ca, sizeof ca);
  if (rc < 0) {
    int e = errno;
    std::string hint = e == EPERM || e == ENOSPC || e == EUSERS
                           ? " (are user namespaces allowed? see /proc/sys/user/max_user_namespaces)" : "";
    return base::ErrnoToStatus(e, "clone3(new namespaces)" + hint);
  }
  if (rc == 0) {
    // Child: drop the parent's ends without touching the heap.
    close(go[1]);
    close(err[0]);
    close(status[0]);
    internal::InitMain(plan);
  }
  const pid_t pid = static_cast<pid_t>(rc);
  base::UniqueFd pidfd_owner(pidfd);
  go_r.reset();
  err_w.reset();
  status_w.reset();
  // From here on, every early return must take init (and so the namespace) down.
  auto kill_init = [&] {
    kill(pid, SIGKILL);
    int ws;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
    }
  };

  // One byte once the id maps are written (see child.h).
  absl::Status prep = WriteIdMaps(pid);
  if (prep.ok() && write(go_w.get(), "g", 1) != 1) prep = base::ErrnoError("write(go pipe)");
  if (!prep.ok()) {
    kill_init();
    return prep;
  }
  go_w.reset();

  // EOF: the command was exec'ed. A record: set-up failed at that stage.
  ChildError ce{};
  size_t got = 0;
  while (got < sizeof ce) {
    ssize_t n = read(err_r.get(), reinterpret_cast<char*>(&ce) + got, sizeof ce - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  report.setup_ms = Ms(Clock::now() - t_clone);
  if (got == sizeof ce) {
    kill_init();
    absl::Status s = base::ErrnoToStatus(ce.err, StageText(st, plan, ce));
    if (ce.stage == Stage::kExec)
      s.SetPayload("clonebot.exit", absl::Cord(ce.err == ENOENT ? "127" : "126"));
    return s;
  }

  // Wait for init, forwarding signals and enforcing the time limit.
  std::optional<Clock::time_point> deadline;
  if (spec.time_limit) deadline = Clock::now() + *spec.time_limit;
  bool timed_out = false;
  for (;;) {
    pollfd pfds[2] = {{pidfd_owner.get(), POLLIN, 0}, {sfd.get(), POLLIN, 0}};
    int timeout = -1;
    if (deadline && !timed_out) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now()).count();
      timeout = static_cast<int>(std::max<int64_t>(0, left + 1));
    }
    int n = poll(pfds, 2, timeout);
    if (n < 0 && errno != EINTR) break;
    if (n == 0 && deadline && Clock::now() >= *deadline && !timed_out) {
      timed_out = true;
      kill(pid, SIGKILL);  // init: the kernel kills the whole pid namespace with it
      continue;
    }
    if (n > 0 && (pfds[1].revents & POLLIN)) {
      signalfd_siginfo si;
      while (read(sfd.get(), &si, sizeof si) == sizeof si) {
        // A terminal's ^C/^\ (SI_KERNEL) already reached the command: it shares our process group.
        if (si.ssi_code == SI_KERNEL && (si.ssi_signo == SIGINT || si.ssi_signo == SIGQUIT ||
                                         si.ssi_signo == SIGWINCH))
          continue;
        kill(pid, static_cast<int>(si.ssi_signo));
      }
    }
    if (n > 0 && (pfds[0].revents & POLLIN)) break;
  }
  int ws = 0;
  rusage ru{};
  while (wait4(pid, &ws, 0, &ru) < 0 && errno == EINTR) {
  }
  report.wall_ms = Ms(Clock::now() - t0);
  report.user_ms = ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3;
  report.sys_ms = ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;

  int payload_status = -1;
  if (read(status_r.get(), &payload_status, sizeof payload_status) != sizeof payload_status) payload_status = -1;
  int final_status = payload_status >= 0 ? payload_status : ws;
  if (WIFSIGNALED(final_status)) {
    report.signaled = true;
    report.signal = WTERMSIG(final_status);
    report.exit_code = 128 + report.signal;
  } else {
    report.exit_code = WEXITSTATUS(final_status);
  }
  report.peak_memory = static_cast<uint64_t>(ru.ru_maxrss) * 1024;
  report.peak_memory_source = "rusage";
  // The cgroup's counters matter to a report, or to say which limit ended a run that did not
  // exit 0; a run that did, with no report asked, skips reading them (~0.15 ms of cgroupfs).
  if (cgroup && (spec.want_cgroup_stats || report.signaled || report.exit_code != 0)) {
    RunCgroup::Stats s = cgroup->ReadStats();
    if (s.peak_memory > 0) {
      report.peak_memory = s.peak_memory;
      report.peak_memory_source = cgroup->v2() ? "cgroup-v2" : "cgroup-v1";
    }
    report.oom_kills = s.oom_kills;
    report.pids_max_hits = s.pids_max_hits;
  }
  if (cgroup) {
    if (absl::Status d = cgroup->Destroy(); !d.ok())
      fprintf(stderr, "clonebot: run: warning: %s\n", std::string(d.message()).c_str());
  }
  if (timed_out) report.ended_by = "time";
  else if (report.signaled && report.signal == SIGKILL && report.oom_kills > 0) report.ended_by = "oom";
  else if (report.exit_code != 0 && report.pids_max_hits > 0) report.ended_by = "pids";
  else report.ended_by = report.signaled ? "signal" : "exit";
  return report;
}

std::string ReportJson(const Report& r) {
  auto str = [](std::string_view v) {
    std::string out;
    base::AppendJsonString(&out, v);
    return out;
  };
  return absl::StrFormat(
      "{\"exit_code\":%d,\"signaled\":%s,\"signal\":%d,\"ended_by\":%s,\"wall_ms\":%.3f,\"user_ms\":%.3f,"
      "\"sys_ms\":%.3f,\"cpu_ms\":%.3f,\"peak_memory_bytes\":%u,\"peak_memory_source\":%s,\"oom_kills\":%u,"
      "\"pids_max_hits\":%u,\"cgroup\":%s,\"landlock\":%s,\"setup_ms\":%.3f}",
      r.exit_code, r.signaled ? "true" : "false", r.signal, str(r.ended_by), r.wall_ms, r.user_ms, r.sys_ms,
      r.user_ms + r.sys_ms, r.peak_memory, str(r.peak_memory_source), r.oom_kills, r.pids_max_hits, str(r.cgroup),
      str(r.landlock), r.setup_ms);
}

}  // namespace clonebot::sandbox
