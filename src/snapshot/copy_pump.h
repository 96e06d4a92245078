// CopyPump: reads a held copy-on-write copy of the target (remote::Injector::ForkHeld) by making
// the copy write its own memory into a memfd that clonebot has mapped.
//
// Why: reading another process's memory (/proc/PID/mem, process_vm_readv) walks its page tables
// and copies page by page through the kernel: ~0.9 s per GiB on these VMs. A write(2) of the
// same memory by its owner into a memfd copies it in bulk (~0.3 s per GiB), and the workers
// then read the bytes straight from the shared mapping, with no copy of their own. CRIU's
// parasite does the same (vmsplice from inside the dumpee) for the same reason.
//
// Set-up, by syscalls injected into the copy (which is never resumed to run its own code):
// unshare(CLONE_FILES) and close_range(0, ~0) so that the copy holds no reference to the
// target's files (the fd table was shared: ForkHeld uses CLONE_FILES), an anonymous scratch
// mapping (the memfd's name and the iovec arrays go there; it is not one of the mappings being
// read), memfd_create, then pidfd_getfd. The memfd has |kSlots| slots of |kSlotBytes| each: the
// copy fills one while the workers read the others. Its pages are allocated by clonebot
// (fallocate), so the copy's writes charge nothing new to the target's memory cgroup.
//
// Contract: every call must come from the thread that holds the copy under ptrace. Create fails
// (and the caller reads the copy the slow way) where the target runs under a seccomp filter
// (the copy inherits it: an injected syscall could kill the copy), or where any step is
// refused. Fill fails where the copy cannot read a range (it reports EFAULT or a short write):
// the caller reads those ranges the slow way, page by page.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "base/unique_fd.h"

namespace clonebot::remote {
class Injector;
}

namespace clonebot::snapshot {

class CopyPump {
 public:
  static constexpr int kSlots = 4;
  static constexpr uint64_t kSlotBytes = 4ull << 20;

  struct Range {
    uint64_t start, end;  // page-aligned addresses in the copy
  };

  // |target| is the process |copy| was forked from (its seccomp mode is checked).
  static absl::StatusOr<std::unique_ptr<CopyPump>> Create(pid_t target, pid_t copy);
  ~CopyPump();

  // Has the copy write |ranges| (at most kSlotBytes in all) one after the other into slot
  // |slot| (0 to kSlots-1) and returns where they start in clonebot's mapping: page k of the
  // ranges, in order, is at result + k*4096. The slot must not be in use by a reader.
  absl::StatusOr<const uint8_t*> Fill(int slot, const std::vector<Range>& ranges);

 private:
  CopyPump() = default;
  std::unique_ptr<remote::Injector> inj_;
  pid_t copy_ = 0;
  uint64_t scratch_ = 0;  // address of the scratch mapping in the copy
  int memfd_in_copy_ = -1;
  base::UniqueFd memfd_;
  uint8_t* view_ = nullptr;  // kSlots * kSlotBytes, MAP_SHARED of memfd_
};

}  // namespace clonebot::snapshot
