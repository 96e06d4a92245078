#include "snapshot/tracking.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "base/file.h"
#include "base/status.h"
#include "remote/remote.h"

namespace clonebot::snapshot {
namespace {

std::string StateDir() {
  if (access("/run", W_OK) == 0) return "/run/clonebot/track";
  if (const char* x = getenv("XDG_RUNTIME_DIR"); x && *x) return std::string(x) + "/clonebot/track";
  return absl::StrFormat("/tmp/clonebot-%d/track", getuid());
}

void MkdirP(const std::string& dir) {
  for (size_t i = 1; i <= dir.size(); i++)
    if (i == dir.size() || dir[i] == '/') mkdir(dir.substr(0, i).c_str(), 0700);
}

// Removes the state files ("<pid>-<starttime>", and "<pid>-<starttime>.tmp" of older versions)
// of processes that no longer exist.
void RemoveStaleStates(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;
  while (dirent* e = readdir(d)) {
    int pid = 0;
    unsigned long long start = 0;
    if (sscanf(e->d_name, "%d-%llu", &pid, &start) == 2 && pid > 0 && kill(pid, 0) != 0 && errno == ESRCH)
      (void)unlinkat(dirfd(d), e->d_name, 0);
  }
  closedir(d);
}

}  // namespace

absl::Status PagemapScan(int pagemap_fd, uint64_t start, uint64_t end, uint64_t flags,
                         uint64_t category_mask, uint64_t anyof_mask, uint64_t return_mask,
                         std::vector<Region>* out, uint64_t inverted, uint64_t max_pages) {
  page_region vec[512];
  const size_t first = out->size();  // merge only regions of this call
  while (start < end) {
    pm_scan_arg arg{};
    arg.size = sizeof arg;
    arg.flags = flags;
    arg.start = start;
    arg.end = end;
    arg.vec = reinterpret_cast<uint64_t>(vec);
    arg.vec_len = 512;
    arg.category_inverted = inverted;
    arg.max_pages = max_pages;
    arg.category_mask = category_mask;
    arg.category_anyof_mask = anyof_mask;
    arg.return_mask = return_mask;
    long n = ioctl(pagemap_fd, PAGEMAP_SCAN, &arg);
    if (n < 0) {
      if (errno == EINTR) continue;
      return base::ErrnoError("ioctl(PAGEMAP_SCAN, 0x%x-0x%x)", start, end);
    }
    for (long i = 0; i < n; i++) {
      // Adjacent regions with the same categories come back merged already, except across
      // calls: merge those too.
      if (out->size() > first && out->back().end == vec[i].start && out->back().categories == vec[i].categories)
        out->back().end = vec[i].end;
      else
        out->push_back({vec[i].start, vec[i].end, vec[i].categories});
    }
    if (max_pages && n > 0) break;     // the kernel stopped at max_pages
    if (arg.walk_end <= start) break;  // no progress: never loop forever
    start = arg.walk_end;
  }
  return absl::OkStatus();
}

absl::Status PagemapPresent(int pagemap_fd, uint64_t start, uint64_t end, std::vector<Region>* out) {
  if (start >= end) return absl::OkStatus();
  // The VMA's own category (uffd-wp registered or not) from its first page.
  std::vector<Region> head;
  RETURN_IF_ERROR(PagemapScan(pagemap_fd, start, end, 0, 0, 0, PAGE_IS_WPALLOWED, &head, /*inverted=*/0,
                              /*max_pages=*/1));
  const uint64_t cat = PAGE_IS_PRESENT | (head.empty() ? 0 : head[0].categories & PAGE_IS_WPALLOWED);
  std::vector<Region> holes;
  RETURN_IF_ERROR(PagemapScan(pagemap_fd, start, end, 0, PAGE_IS_PRESENT | PAGE_IS_SWAPPED, 0, PAGE_IS_PRESENT,
                              &holes, /*inverted=*/PAGE_IS_PRESENT | PAGE_IS_SWAPPED));
  uint64_t a = start;
  const size_t first = out->size();  // merge only regions of this call
  auto add = [&](uint64_t s, uint64_t e) {
    if (s >= e) return;
    if (out->size() > first && out->back().end == s && out->back().categories == cat)
      out->back().end = e;
    else
      out->push_back({s, e, cat});
  };
  for (const Region& h : holes) {
    add(a, std::max(a, h.start));
    a = std::max(a, h.end);
  }
  add(a, end);
  return absl::OkStatus();
}

absl::Status PagemapRead(int pagemap_fd, uint64_t start, uint64_t end, std::vector<Region>* out) {
  constexpr size_t kChunk = 4096;
  const size_t first = out->size();
  uint64_t entries[kChunk];
  for (uint64_t addr = start; addr < end;) {
    size_t n = std::min<uint64_t>(kChunk, (end - addr) / 4096);
    ssize_t got = pread(pagemap_fd, entries, n * 8, static_cast<off_t>(addr / 4096 * 8));
    if (got < 0) {
      if (errno == EINTR) continue;
      return base::ErrnoError("pread(pagemap, 0x%x)", addr);
    }
    if (got == 0) break;
    size_t m = static_cast<size_t>(got) / 8;
    for (size_t i = 0; i < m; i++) {
      uint64_t e = entries[i];
      if (!(e & (kPagemapPresent | kPagemapSwapped))) continue;
      uint64_t cat = PAGE_IS_WRITTEN | ((e & kPagemapPresent) ? PAGE_IS_PRESENT : PAGE_IS_SWAPPED) |
                     ((e & kPagemapFile) ? PAGE_IS_FILE : 0);
      uint64_t a = addr + i * 4096;
      if (out->size() > first && out->back().end == a && out->back().categories == cat)
        out->back().end = a + 4096;
      else
        out->push_back({a, a + 4096, cat});
    }
    addr += m * 4096;
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> ProcessStartTime(pid_t pid) {
  std::optional<std::string> read = base::ReadWholeFile(absl::StrFormat("/proc/%d/stat", pid));
  if (!read) return absl::NotFoundError(absl::StrFormat("no process with pid %d", pid));
  const std::string& stat = *read;
  // comm may contain spaces and parentheses: fields start after the last ')'.
  size_t rp = stat.rfind(')');
  if (rp == std::string::npos) return absl::InternalError("malformed /proc/PID/stat");
  std::vector<std::string> f = absl::StrSplit(stat.substr(rp + 2), ' ');
  // After ')': field 3 (state) is f[0], so field 22 (starttime) is f[19].
  uint64_t st;
  if (f.size() < 20 || !absl::SimpleAtoi(f[19], &st)) return absl::InternalError("malformed /proc/PID/stat");
  return st;
}

absl::StatusOr<UffdTracker> UffdTracker::Adopt(pid_t pid, int fd_in_target) {
  char link[64];
  std::string path = absl::StrFormat("/proc/%d/fd/%d", pid, fd_in_target);
  ssize_t n = readlink(path.c_str(), link, sizeof link - 1);
  if (n < 0 || std::string_view(link, n) != "anon_inode:[userfaultfd]")
    return absl::NotFoundError(absl::StrFormat("fd %d of pid %d is no longer a userfaultfd", fd_in_target, pid));
  base::UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) return base::ErrnoError("pidfd_open(%d)", pid);
  base::UniqueFd fd(static_cast<int>(syscall(SYS_pidfd_getfd, pidfd.get(), fd_in_target, 0)));
  if (!fd) return base::ErrnoError("pidfd_getfd(%d, %d)", pid, fd_in_target);
  return UffdTracker(std::move(fd), fd_in_target);
}

absl::StatusOr<UffdTracker> UffdTracker::Create(pid_t pid, remote::Injector& inj) {
  // UFFD_USER_MODE_ONLY: works unprivileged (vm.unprivileged_userfaultfd=0), and kernel-mode
  // faults are of no interest to write tracking.
  ASSIGN_OR_RETURN(int64_t fd, inj.Syscall(SYS_userfaultfd, {O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY}));
  if (fd < 0) return base::ErrnoToStatus(static_cast<int>(-fd), "userfaultfd() in the target");
  // Move it out of the way of the program's own fd numbers: as high as RLIMIT_NOFILE allows.
  int target_fd = static_cast<int>(fd);
  rlimit64 lim{};
  if (prlimit64(pid, RLIMIT_NOFILE, nullptr, &lim) == 0 && lim.rlim_cur > 64) {
    uint64_t want = std::min<uint64_t>(lim.rlim_cur, 1u << 20) - 16;
    ASSIGN_OR_RETURN(int64_t high, inj.Syscall(SYS_fcntl, {static_cast<uint64_t>(fd), F_DUPFD_CLOEXEC, want}));
    if (high >= 0) {
      ASSIGN_OR_RETURN(int64_t closed, inj.Syscall(SYS_close, {static_cast<uint64_t>(fd)}));
      (void)closed;
      target_fd = static_cast<int>(high);
    }
  }
  base::UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) return base::ErrnoError("pidfd_open(%d)", pid);
  base::UniqueFd ours(static_cast<int>(syscall(SYS_pidfd_getfd, pidfd.get(), target_fd, 0)));
  if (!ours) return base::ErrnoError("pidfd_getfd(%d, %d)", pid, target_fd);
  uffdio_api api{};
  api.api = UFFD_API;
  api.features = UFFD_FEATURE_WP_ASYNC;
  if (ioctl(ours.get(), UFFDIO_API, &api) != 0) return base::ErrnoError("ioctl(UFFDIO_API, WP_ASYNC)");
  return UffdTracker(std::move(ours), target_fd);
}

void UffdTracker::RegisterAll(const std::vector<Mapping>& maps) {
  for (const Mapping& m : maps) {
    if (!SkipReason(m).empty()) continue;
    uffdio_register reg{};
    reg.range.start = m.start;
    reg.range.len = m.end - m.start;
    reg.mode = UFFDIO_REGISTER_MODE_WP;
    (void)ioctl(fd_.get(), UFFDIO_REGISTER, &reg);  // failure: the mapping stays untracked
  }
}

TrackState::TrackState(pid_t pid, uint64_t starttime) {
  path_ = absl::StrFormat("%s/%d-%u", StateDir(), pid, starttime);
}

std::optional<TrackState::Entry> TrackState::Last() const {
  std::optional<std::string> read = base::ReadWholeFile(path_);
  if (!read) return std::nullopt;
  const std::string& s = *read;
  std::vector<std::string> f = absl::StrSplit(s, absl::ByAnyChar(" \n"), absl::SkipEmpty());
  Entry e;
  if (f.size() != 2 || f[0].rfind("sha256:", 0) != 0 || !absl::SimpleAtoi(f[1], &e.uffd_fd)) return std::nullopt;
  e.manifest_digest = f[0];
  return e;
}

// The record is rewritten in place, padded to kRecordSize with spaces: one pwrite of under a
// page replaces it whole for any reader (and a killed clonebot leaves one record or the other;
// a torn one would fail to parse, which reads as "in flux"). Unlinking and renaming, as before,
// cost ~0.5 ms each on an ext4 /run (the journal), twice per snapshot.
absl::Status TrackState::WriteRecord(const std::string& text) {
  if (!fd_) {
    fd_.reset(open(path_.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd_ && errno == ENOENT) {
      // A process tracked for the first time: the files of processes that are gone go now (on
      // a /run that is not a tmpfs, nothing else would remove them).
      const std::string dir = path_.substr(0, path_.rfind('/'));
      MkdirP(dir);
      RemoveStaleStates(dir);
      fd_.reset(open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    }
    if (!fd_) return base::ErrnoError("open(%s)", path_);
  }
  if (text.size() >= kRecordSize) return absl::InternalError("tracking state record too long: " + text);
  std::string rec = text;
  rec.resize(kRecordSize - 1, ' ');
  rec.push_back('\n');
  if (pwrite(fd_.get(), rec.data(), rec.size(), 0) != static_cast<ssize_t>(rec.size()))
    return base::ErrnoError("write(%s)", path_);
  return absl::OkStatus();
}

absl::Status TrackState::MarkResetting() { return WriteRecord("resetting"); }

absl::Status TrackState::SetLast(const Entry& e) {
  return WriteRecord(absl::StrFormat("%s %d", e.manifest_digest, e.uffd_fd));
}

}  // namespace clonebot::snapshot
