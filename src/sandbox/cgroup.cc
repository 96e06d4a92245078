#include "sandbox/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>

#include "abi/features.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/ascii.h"
#include "base/file.h"
#include "base/status.h"

namespace clonebot::sandbox {
namespace {

absl::Status WriteFile(const std::string& path, std::string_view value) {
  base::UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return base::ErrnoError("open(%s)", path);
  if (write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
    return base::ErrnoError("write(%s, \"%s\")", path, value);
  return absl::OkStatus();
}

// "key value" lines (memory.events, pids.events, memory.oom_control) → value of |key|.
uint64_t KeyedValue(const std::string& path, absl::string_view key) {
  auto text = base::ReadWholeFile(path);
  if (!text) return 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    std::vector<absl::string_view> kv = absl::StrSplit(line, ' ');
    uint64_t v = 0;
    if (kv.size() == 2 && kv[0] == key && absl::SimpleAtoi(kv[1], &v)) return v;
  }
  return 0;
}

uint64_t PlainValue(const std::string& path) {
  auto text = base::ReadWholeFile(path);
  uint64_t v = 0;
  if (text && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &v)) return v;
  return 0;
}

std::string UniqueName() {
  static std::atomic<int> seq{0};
  return absl::StrCat("clonebot-run-", getpid(), "-", seq++);
}

// Removes the cgroups of runs whose clonebot was killed (SIGKILL leaves no chance to clean up):
// "clonebot-run-PID-N" where PID no longer exists. Their processes died with their pid namespace.
void RemoveStale(const std::string& parent) {
  DIR* d = opendir(parent.c_str());
  if (d == nullptr) return;
  while (dirent* e = readdir(d)) {
    int pid = 0;
    if (sscanf(e->d_name, "clonebot-run-%d-", &pid) == 1 && pid > 0 && kill(pid, 0) != 0 && errno == ESRCH)
      rmdir(absl::StrCat(parent, "/", e->d_name).c_str());
  }
  closedir(d);
}

// mkdir of a fresh name under |parent|; EEXIST (a leftover of a killed run with a reused pid)
// moves on to the next name.
absl::StatusOr<std::string> MakeDir(const std::string& parent) {
  for (int i = 0; i < 16; i++) {
    std::string dir = absl::StrCat(parent, "/", UniqueName());
    if (mkdir(dir.c_str(), 0755) == 0) return dir;
    if (errno != EEXIST) return base::ErrnoError("mkdir(%s)", dir);
  }
  return absl::AlreadyExistsError(absl::StrCat("no free cgroup name under ", parent));
}

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Removes |dir|, retrying while processes that were just killed still leave it (EBUSY).
absl::Status RemoveDir(const std::string& dir) {
  for (int i = 0; i < 400; i++) {
    if (rmdir(dir.c_str()) == 0 || errno == ENOENT) return absl::OkStatus();
    if (errno != EBUSY) return base::ErrnoError("rmdir(%s)", dir);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return base::ErrnoError("rmdir(%s)", dir);
}

}  // namespace

namespace {

struct Where {
  abi::CgroupInfo info;
  std::vector<std::string> wanted;  // controllers
  std::string v2_why;               // why v2 cannot be used; empty if it can
  absl::Status error;               // cannot even look
};

// Where the run's cgroup would go, and whether v2 can hold it: our cgroup2 cgroup must offer
// the controllers and have (or be able to get) them enabled for its children. Enabling fails
// (EBUSY) if our cgroup has processes and is not the root: then v1 it is.
Where Locate(const Limits& limits, bool stats) {
  Where w;
  auto self = base::ReadWholeFile("/proc/self/cgroup");
  auto mountinfo = base::ReadWholeFile("/proc/self/mountinfo");
  if (!self || !mountinfo) {
    w.error = absl::UnavailableError("cannot read /proc/self/cgroup or /proc/self/mountinfo");
    return w;
  }
  if (limits.memory_max || stats) w.wanted.push_back("memory");
  if (limits.pids_max || stats) w.wanted.push_back("pids");
  if (limits.cpu_max) w.wanted.push_back("cpu");
  w.info = abi::ResolveCgroupPaths(abi::ParseProcCgroup(*self), abi::ParseCgroupMounts(*mountinfo), w.wanted);
  if (w.info.v2_self_dir.empty()) {
    w.v2_why = "no cgroup2 hierarchy is mounted";
    return w;
  }
  auto ctl = base::ReadWholeFile(w.info.v2_self_dir + "/cgroup.controllers");
  std::vector<std::string> have = abi::ParseControllerList(ctl.value_or(""));
  std::vector<std::string> missing;
  for (const auto& c : w.wanted)
    if (!Contains(have, c)) missing.push_back(c);
  if (!missing.empty()) {
    w.v2_why = absl::StrCat("cgroup2 at ", w.info.v2_self_dir, " lacks the ", absl::StrJoin(missing, ", "),
                            " controller", missing.size() > 1 ? "s" : "");
    return w;
  }
  auto sub = base::ReadWholeFile(w.info.v2_self_dir + "/cgroup.subtree_control");
  std::vector<std::string> on = abi::ParseControllerList(sub.value_or(""));
  std::string enable;
  for (const auto& c : w.wanted)
    if (!Contains(on, c)) absl::StrAppend(&enable, enable.empty() ? "" : " ", "+", c);
  if (!enable.empty())
    if (absl::Status st = WriteFile(w.info.v2_self_dir + "/cgroup.subtree_control", enable); !st.ok())
      w.v2_why = std::string(st.message());
  return w;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RunCgroup>> RunCgroup::Create(const Limits& limits, CgroupChoice choice,
                                                             bool stats) {
  Where w = Locate(limits, stats);
  RETURN_IF_ERROR(w.error);
  const abi::CgroupInfo& info = w.info;
  const std::vector<std::string>& wanted = w.wanted;
  const std::string& v2_why = w.v2_why;
  std::unique_ptr<RunCgroup> cg(new RunCgroup());

  // ---- v2 ----
  if (choice == CgroupChoice::kAuto || choice == CgroupChoice::kV2) {
    if (v2_why.empty()) {
      RemoveStale(info.v2_self_dir);
      ASSIGN_OR_RETURN(cg->v2_dir_, MakeDir(info.v2_self_dir));
      cg->v2_ = true;
      auto fail = [&](absl::Status st) {
        rmdir(cg->v2_dir_.c_str());
        cg->v2_dir_.clear();
        return st;
      };
      if (limits.memory_max) {
        if (auto st = WriteFile(cg->v2_dir_ + "/memory.max", absl::StrCat(*limits.memory_max)); !st.ok()) return fail(st);
        // No swap: a limit the job can escape by swapping is no limit.
        (void)WriteFile(cg->v2_dir_ + "/memory.swap.max", "0");
      }
      if (limits.pids_max)
        if (auto st = WriteFile(cg->v2_dir_ + "/pids.max", absl::StrCat(*limits.pids_max)); !st.ok()) return fail(st);
      if (limits.cpu_max) {
        uint64_t period = 100000;
        uint64_t quota = std::max<uint64_t>(1000, static_cast<uint64_t>(std::llround(*limits.cpu_max * period)));
        if (auto st = WriteFile(cg->v2_dir_ + "/cpu.max", absl::StrCat(quota, " ", period)); !st.ok()) return fail(st);
      }
      cg->v2_dir_fd_.reset(open(cg->v2_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!cg->v2_dir_fd_) return fail(base::ErrnoError("open(%s)", cg->v2_dir_));
      return cg;
    }
    if (choice == CgroupChoice::kV2) return absl::FailedPreconditionError(absl::StrCat("cgroup v2: ", v2_why));
  }

  // ---- v1: names chosen now, directories made by MaterializeV1 ----
  if (choice == CgroupChoice::kAuto && !v2_why.empty() && info.v1_self_dirs.empty())
    return absl::FailedPreconditionError(absl::StrCat("no usable cgroups (v2: ", v2_why, "; no v1 hierarchy)"));
  std::string name;
  for (int attempt = 0; attempt < 64 && name.empty(); attempt++) {
    std::string candidate = UniqueName();
    bool free = true;
    for (const auto& c : wanted) {
      auto it = info.v1_self_dirs.find(c);
      if (it == info.v1_self_dirs.end())
        return absl::FailedPreconditionError(absl::StrCat(
            "no cgroup hierarchy offers the ", c, " controller", v2_why.empty() ? "" : " (v2: " + v2_why + ")"));
      if (attempt == 0) RemoveStale(it->second);
      if (access((it->second + "/" + candidate).c_str(), F_OK) == 0) free = false;
    }
    if (free) name = candidate;
  }
  if (name.empty()) return absl::AlreadyExistsError("no free cgroup name");
  for (const auto& c : wanted) cg->v1_dirs_[c] = info.v1_self_dirs.at(c) + "/" + name;
  cg->limits_ = limits;
  return cg;
}

absl::Status RunCgroup::MaterializeV1() {
  if (v2_ || materialized_) return absl::OkStatus();
  for (const auto& [c, d] : v1_dirs_) {
    if (mkdir(d.c_str(), 0755) != 0) {
      int e = errno;
      (void)Destroy();
      return base::ErrnoToStatus(e, absl::StrCat("cannot create the ", c, " cgroup ", d,
                                                 e == EACCES || e == EPERM ? " (limits need a delegated cgroup)" : ""));
    }
    made_.push_back(d);
  }
  materialized_ = true;
  auto fail = [&](absl::Status st) {
    (void)Destroy();
    return st;
  };
  if (limits_.memory_max) {
    const std::string& d = v1_dirs_["memory"];
    if (auto st = WriteFile(d + "/memory.limit_in_bytes", absl::StrCat(*limits_.memory_max)); !st.ok()) return fail(st);
    // With swap accounting, memory+swap gets the same limit (no escape by swapping); without
    // it, the file does not exist.
    (void)WriteFile(d + "/memory.memsw.limit_in_bytes", absl::StrCat(*limits_.memory_max));
  }
  if (limits_.pids_max)
    if (auto st = WriteFile(v1_dirs_["pids"] + "/pids.max", absl::StrCat(*limits_.pids_max)); !st.ok()) return fail(st);
  if (limits_.cpu_max) {
    const std::string& d = v1_dirs_["cpu"];
    uint64_t period = 100000;
    uint64_t quota = std::max<uint64_t>(1000, static_cast<uint64_t>(std::llround(*limits_.cpu_max * period)));
    if (auto st = WriteFile(d + "/cpu.cfs_period_us", absl::StrCat(period)); !st.ok()) return fail(st);
    if (auto st = WriteFile(d + "/cpu.cfs_quota_us", absl::StrCat(quota)); !st.ok()) return fail(st);
  }
  return absl::OkStatus();
}

std::vector<std::string> RunCgroup::SelfJoinFiles() const {
  std::vector<std::string> files;
  for (const auto& [c, d] : v1_dirs_) files.push_back(d + "/tasks");
  return files;
}

RunCgroup::~RunCgroup() { (void)Destroy(); }

RunCgroup::Stats RunCgroup::ReadStats() const {
  Stats s;
  if (v2_) {
    s.peak_memory = PlainValue(v2_dir_ + "/memory.peak");
    s.oom_kills = KeyedValue(v2_dir_ + "/memory.events", "oom_kill");
    s.pids_max_hits = KeyedValue(v2_dir_ + "/pids.events", "max");
    return s;
  }
  if (auto it = v1_dirs_.find("memory"); it != v1_dirs_.end()) {
    s.peak_memory = PlainValue(it->second + "/memory.max_usage_in_bytes");
    s.oom_kills = KeyedValue(it->second + "/memory.oom_control", "oom_kill");
  }
  if (auto it = v1_dirs_.find("pids"); it != v1_dirs_.end())
    s.pids_max_hits = KeyedValue(it->second + "/pids.events", "max");
  return s;
}

void RunCgroup::KillAll() {
  if (v2_) {
    if (!v2_dir_.empty()) (void)WriteFile(v2_dir_ + "/cgroup.kill", "1");
    return;
  }
  // v1 has no cgroup.kill. Every member is in our pid namespace, which dies with its init, so
  // this is a second line: kill what is listed until nothing is (new forks are caught by the loop).
  for (const std::string& d : made_) {
    for (int round = 0; round < 50; round++) {
      auto procs = base::ReadWholeFile(d + "/cgroup.procs");
      if (!procs || procs->empty()) break;
      for (absl::string_view line : absl::StrSplit(*procs, '\n', absl::SkipEmpty())) {
        int pid = 0;
        if (absl::SimpleAtoi(line, &pid) && pid > 0) kill(pid, SIGKILL);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
}

absl::Status RunCgroup::Destroy() {
  // Normally empty by now (the pid namespace died with its init): one rmdir each. If one is
  // still busy, kill what is left and retry.
  auto gone = [](const std::string& d) { return d.empty() || rmdir(d.c_str()) == 0 || errno == ENOENT; };
  bool all_gone = gone(v2_dir_);
  if (all_gone) v2_dir_.clear();
  for (auto it = made_.begin(); it != made_.end();) {
    if (gone(*it)) it = made_.erase(it);
    else { all_gone = false; ++it; }
  }
  v2_dir_fd_.reset();
  if (all_gone) return absl::OkStatus();
  KillAll();
  absl::Status first;
  if (!v2_dir_.empty()) {
    first.Update(RemoveDir(v2_dir_));
    if (first.ok()) v2_dir_.clear();
  }
  for (auto it = made_.begin(); it != made_.end();) {
    absl::Status st = RemoveDir(*it);
    if (st.ok()) it = made_.erase(it);
    else { first.Update(st); ++it; }
  }
  return first;
}

}  // namespace clonebot::sandbox
