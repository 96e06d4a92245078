#include "snapshot/copy_pump.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "base/file.h"
#include "base/status.h"
#include "remote/remote.h"

namespace clonebot::snapshot {
namespace {

constexpr uint64_t kScratchBytes = 64 << 10;
constexpr uint64_t kIovOffset = 4096;  // iovec arrays start here in the scratch mapping
constexpr size_t kMaxIov = 1024;       // UIO_MAXIOV
static_assert(kIovOffset + kMaxIov * sizeof(iovec) <= kScratchBytes);
constexpr char kMemfdName[] = "clonebot-copy";

// The injected syscall's raw result as a Status: negative values are -errno.
absl::StatusOr<int64_t> Checked(absl::StatusOr<int64_t> r, const char* what) {
  if (!r.ok()) return r.status();
  if (*r < 0 && *r > -4096) return base::ErrnoToStatus(static_cast<int>(-*r), absl::StrFormat("%s in the copy", what));
  return *r;
}

// Seccomp mode of |pid| from /proc/PID/status (0: none), or -1 if it cannot be read.
int SeccompMode(pid_t pid) {
  std::optional<std::string> s = base::ReadWholeFile(absl::StrFormat("/proc/%d/status", pid));
  if (!s) return -1;
  for (absl::string_view line : absl::StrSplit(*s, '\n'))
    if (absl::ConsumePrefix(&line, "Seccomp:")) return atoi(std::string(line).c_str());
  return -1;
}

// Writes |n| bytes to |addr| in |pid| (a mapping of the copy's own: never shared with the target).
absl::Status WriteInCopy(pid_t pid, uint64_t addr, const void* p, size_t n) {
  iovec local{const_cast<void*>(p), n}, remote{reinterpret_cast<void*>(addr), n};
  ssize_t w = process_vm_writev(pid, &local, 1, &remote, 1, 0);
  if (w != static_cast<ssize_t>(n)) return base::ErrnoError("process_vm_writev(%d, 0x%x, %d)", pid, addr, n);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<CopyPump>> CopyPump::Create(pid_t target, pid_t copy) {
  if (int mode = SeccompMode(target); mode != 0)
    return absl::FailedPreconditionError(absl::StrFormat("the target runs under seccomp (mode %d)", mode));
  std::unique_ptr<CopyPump> p(new CopyPump);
  p->copy_ = copy;
  ASSIGN_OR_RETURN(p->inj_, remote::Injector::Attach(copy, PTRACE_O_EXITKILL));
  remote::Injector& inj = *p->inj_;
  inj.AssumeLoneThread();  // the copy is one thread, held: its long writes are waited for blocking
  RETURN_IF_ERROR(Checked(inj.Syscall(SYS_unshare, {CLONE_FILES}), "unshare(CLONE_FILES)").status());
  RETURN_IF_ERROR(Checked(inj.Syscall(SYS_close_range, {0, ~0u, 0}), "close_range").status());
  ASSIGN_OR_RETURN(int64_t scratch,
                   Checked(inj.Syscall(SYS_mmap, {0, kScratchBytes, PROT_READ | PROT_WRITE,
                                                  MAP_PRIVATE | MAP_ANONYMOUS, ~0ull, 0}),
                           "mmap"));
  p->scratch_ = static_cast<uint64_t>(scratch);
  RETURN_IF_ERROR(WriteInCopy(copy, p->scratch_, kMemfdName, sizeof kMemfdName));
  ASSIGN_OR_RETURN(int64_t fd, Checked(inj.Syscall(SYS_memfd_create, {p->scratch_, MFD_CLOEXEC}), "memfd_create"));
  p->memfd_in_copy_ = static_cast<int>(fd);
  base::UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, copy, 0)));
  if (!pidfd) return base::ErrnoError("pidfd_open(%d)", copy);
  p->memfd_.reset(static_cast<int>(syscall(SYS_pidfd_getfd, pidfd.get(), p->memfd_in_copy_, 0)));
  if (!p->memfd_) return base::ErrnoError("pidfd_getfd(%d, %d)", copy, p->memfd_in_copy_);
  // Allocated here, so the pages are charged to clonebot's memory cgroup: were the copy's writes
  // to allocate them, they would count against the target's, and could push it to an OOM kill.
  if (fallocate(p->memfd_.get(), 0, 0, kSlots * kSlotBytes) != 0)
    return base::ErrnoError("fallocate(memfd, %d)", kSlots * kSlotBytes);
  void* view = mmap(nullptr, kSlots * kSlotBytes, PROT_READ, MAP_SHARED, p->memfd_.get(), 0);
  if (view == MAP_FAILED) return base::ErrnoError("mmap(memfd)");
  p->view_ = static_cast<uint8_t*>(view);
  return p;
}

CopyPump::~CopyPump() {
  if (view_) munmap(view_, kSlots * kSlotBytes);
}

absl::StatusOr<const uint8_t*> CopyPump::Fill(int slot, const std::vector<Range>& ranges) {
  const uint64_t base = static_cast<uint64_t>(slot) * kSlotBytes;
  uint64_t off = 0;
  for (size_t i = 0; i < ranges.size();) {
    iovec iov[kMaxIov];
    size_t cnt = 0;
    uint64_t bytes = 0;
    for (; i < ranges.size() && cnt < kMaxIov; i++, cnt++) {
      iov[cnt] = {reinterpret_cast<void*>(ranges[i].start), ranges[i].end - ranges[i].start};
      bytes += ranges[i].end - ranges[i].start;
    }
    if (off + bytes > kSlotBytes) return absl::InvalidArgumentError("CopyPump::Fill: more than a slot");
    RETURN_IF_ERROR(WriteInCopy(copy_, scratch_ + kIovOffset, iov, cnt * sizeof(iovec)));
    // pwritev(fd, iov, iovcnt, pos_l, pos_h): on 64-bit the whole offset is pos_l.
    ASSIGN_OR_RETURN(int64_t w, Checked(inj_->Syscall(SYS_pwritev, {static_cast<uint64_t>(memfd_in_copy_),
                                                                    scratch_ + kIovOffset, cnt, base + off, 0}),
                                        "pwritev"));
    if (static_cast<uint64_t>(w) != bytes)
      return absl::DataLossError(absl::StrFormat("pwritev in the copy wrote %d of %d bytes", w, bytes));
    off += bytes;
  }
  return view_ + base;
}

}  // namespace clonebot::snapshot
