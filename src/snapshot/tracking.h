// Which pages of a process hold data, and which were written since the last snapshot.
//
// Dirty tracking, best first (docs/architecture.md, "Snapshots"):
//  1. userfaultfd async write-protect + PAGEMAP_SCAN (kernel >= 6.7). The userfaultfd is created
//     inside the target by injected syscalls, stays open there at a high fd number with
//     O_CLOEXEC (closing it would end the tracking), and clonebot works on a pidfd_getfd copy.
//     Every VMA is registered with UFFDIO_REGISTER_MODE_WP; each snapshot's stop-window scan
//     (PM_SCAN_WP_MATCHING over present and swapped pages) reports what was written and
//     re-protects it, atomically. That fast scan reports a hole inside a populated page table
//     as written once and leaves a uffd-wp marker in it; from then on the hole reads as swapped
//     out and unwritten (counted in pages_present, inherited from the parent as zero, which is
//     its content). Holes without a page table (sparse reservations) are never marked and cost
//     nothing.
//  2. Page hashing against the parent: every present page is read and compared.
// Soft-dirty bits are the middle step on kernels that have them; this kernel does not (see
// `clonebot check`), so it is not implemented yet.
//
// A tracking state file, /run/clonebot/track/<pid>-<starttime> (or $XDG_RUNTIME_DIR/clonebot or
// /tmp/clonebot-<uid>), names the snapshot whose stop-window scan last reset the written bits:
// one line, "sha256:<hex manifest digest> <uffd fd in the target>", or "resetting" while a
// snapshot that may not commit resets them; space-padded to 128 bytes and rewritten in place.
// An incremental snapshot uses uffd-wp only if that snapshot is its parent; otherwise it falls
// back to hashing and says why.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "abi/mm.h"
#include "absl/status/statusor.h"
#include "base/unique_fd.h"
#include "snapshot/maps.h"

namespace clonebot::remote {
class Injector;
}

namespace clonebot::snapshot {

struct Region {
  uint64_t start, end;
  uint64_t categories;  // PAGE_IS_* bits
};

// PAGEMAP_SCAN over [start, end) of |pagemap_fd| (a /proc/PID/pagemap), following walk_end until
// the whole range is walked. Appends to |out|. |inverted| is the scan's category_inverted. With
// |max_pages|, stops once that many pages matched (one call: the kernel stops there).
absl::Status PagemapScan(int pagemap_fd, uint64_t start, uint64_t end, uint64_t flags,
                         uint64_t category_mask, uint64_t anyof_mask, uint64_t return_mask,
                         std::vector<Region>* out, uint64_t inverted = 0, uint64_t max_pages = 0);

// Present-or-swapped page ranges of [start, end), which must be one VMA, by PAGEMAP_SCAN:
// categories PAGE_IS_PRESENT, plus PAGE_IS_WPALLOWED if the VMA is registered for uffd-wp.
// Swapped pages and uffd-wp markers count as present (no PAGE_IS_SWAPPED distinction). It scans
// for the holes and returns the rest: the kernel's per-page output step is what a scan for
// present pages pays (~4-5 ms per populated GiB here); the hole scan costs ~1 ms.
absl::Status PagemapPresent(int pagemap_fd, uint64_t start, uint64_t end, std::vector<Region>* out);

// Present-or-swapped page ranges of [start, end) from plain /proc/PID/pagemap entries, for
// kernels without PAGEMAP_SCAN. Categories: PAGE_IS_PRESENT/SWAPPED/FILE, and PAGE_IS_WRITTEN
// on every range (nothing is known to be clean).
absl::Status PagemapRead(int pagemap_fd, uint64_t start, uint64_t end, std::vector<Region>* out);

// The process's start time in clock ticks since boot (/proc/PID/stat field 22): with the pid,
// it names one process for the life of the machine.
absl::StatusOr<uint64_t> ProcessStartTime(pid_t pid);

// The uffd-wp tracker of one process.
class UffdTracker {
 public:
  // Looks for the userfaultfd that an earlier snapshot left in the target at |fd_in_target| and
  // takes a copy with pidfd_getfd. NotFound if it is not there any more.
  static absl::StatusOr<UffdTracker> Adopt(pid_t pid, int fd_in_target);
  // Creates one inside the stopped target through |inj| (userfaultfd(2), then F_DUPFD_CLOEXEC to
  // a high fd number, then close of the original), takes a copy and enables WP_ASYNC.
  static absl::StatusOr<UffdTracker> Create(pid_t pid, remote::Injector& inj);

  // Registers every mapping in |maps| that can be (already registered ones are kept). Failures
  // (EBUSY: the process's own userfaultfd) leave that mapping untracked: it reads as written.
  void RegisterAll(const std::vector<Mapping>& maps);
  int fd_in_target() const { return fd_in_target_; }

 private:
  UffdTracker(base::UniqueFd fd, int fd_in_target) : fd_(std::move(fd)), fd_in_target_(fd_in_target) {}
  base::UniqueFd fd_;
  int fd_in_target_ = -1;
};

// The tracking state file of one process (see above).
class TrackState {
 public:
  TrackState(pid_t pid, uint64_t starttime);
  struct Entry {
    std::string manifest_digest;  // of the snapshot that last reset the written bits
    int uffd_fd = -1;             // where the userfaultfd lives in the target
  };
  // The recorded entry, or nullopt if none, unreadable, or in flux.
  std::optional<Entry> Last() const;
  // Marks the tracking as in flux (before a reset that may not end in a committed image).
  absl::Status MarkResetting();
  absl::Status SetLast(const Entry& e);
  const std::string& path() const { return path_; }

 private:
  static constexpr size_t kRecordSize = 128;  // "sha256:<64 hex> <fd>", space-padded, '\n'
  absl::Status WriteRecord(const std::string& text);
  std::string path_;
  base::UniqueFd fd_;  // opened at the first write, kept for the second
};

}  // namespace clonebot::snapshot
