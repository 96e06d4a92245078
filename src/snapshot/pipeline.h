// Pipeline: the worker threads that turn pages into a PageStore, and the ways pages reach them.
//
// Pages arrive three ways, in any mix:
//  - Feed: batches the caller read itself (the pre-copy of an incremental snapshot while the
//    target runs, the copy made in the stop window). Buffers come from TakeBuffer and go back to
//    a free list once stored, so that a pre-copy of any size touches a few MiB of fresh memory
//    (a fresh page costs ~3 us to fault in on these VMs, as much as hashing it);
//  - AddRanges: address ranges the workers read themselves, each its own share, from the source
//    process (process_vm_readv, or /proc/PID/mem for a copy-on-write copy);
//  - RunPump: a CopyPump writes the copy's memory into shared slots that the workers store from
//    in place; the calling thread drives the pump (it must be the copy's ptrace tracer).
// The workers start at construction and wait for work, so that a pre-copy is hashed, compressed
// and written while it is read and the target runs. Finish ends the input, lets each worker finish
// its own packs (overlapping the final writes), and joins them.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "base/unique_fd.h"
#include "snapshot/copy_pump.h"
#include "snapshot/page_store.h"

namespace clonebot::snapshot {

struct PageRange {
  uint64_t start, end;  // page-aligned
};

// Moves up to |max_bytes| of whole pages off the front of |q| into |out| (a range is split if
// it does not fit).
template <typename Ranges>
void TakeFront(std::deque<PageRange>& q, uint64_t max_bytes, Ranges* out) {
  uint64_t bytes = 0;
  while (!q.empty() && bytes < max_bytes) {
    PageRange& r = q.front();
    uint64_t n = std::min(r.end - r.start, max_bytes - bytes);
    out->push_back({r.start, r.start + n});
    bytes += n;
    r.start += n;
    if (r.start >= r.end) q.pop_front();
  }
}

// Pages read from a process: page i (address addrs[i]) is at data() + i*4096. The buffer is
// allocated once, uninitialized, and reused.
struct Batch {
  std::vector<uint64_t> addrs;
  std::unique_ptr<uint8_t[]> buf;
  size_t cap_pages = 0;
  uint8_t* data() { return buf.get(); }
  void Reserve(size_t pages) {
    if (buf && cap_pages >= pages) return;
    buf.reset(new uint8_t[pages * 4096]);
    cap_pages = pages;
  }
};

// Reads ranges of |pid| into batches with process_vm_readv (falling back to /proc/PID/mem), page
// by page where a batch fails.
//
// A copy made by ForkHeld is read through /proc/PID/mem (|via_mem|), never process_vm_readv: the
// latter pins pages (FOLL_PIN), and pinning an anonymous page that is shared copy-on-write with
// the target makes the kernel unshare it first, i.e. copy every page (measured: 1 GiB took 1.7 s
// instead of 0.2 s). /proc/PID/mem takes plain references and copies nothing extra.
class Reader {
 public:
  static constexpr size_t kMaxPages = 1024;  // 4 MiB per call
  Reader(pid_t pid, bool via_mem) : pid_(pid), via_mem_(via_mem) {}
  // Fills |b| with up to |max_pages| pages from the front of |todo|; false when nothing is left.
  // Pages that cannot be read are appended to |unreadable| (and left out of |b|).
  bool Next(std::deque<PageRange>& todo, Batch& b, std::vector<uint64_t>* unreadable,
            size_t max_pages = kMaxPages);

 private:
  pid_t pid_;
  bool via_mem_;
  base::UniqueFd mem_;
};

class Pipeline {
 public:
  static constexpr size_t kFeedPages = 128;  // pages per TakeBuffer batch and per work unit

  // |progress| and |interrupted| as in SnapshotOptions (either may be empty). An interruption
  // fails the pipeline with CancelledError.
  Pipeline(PageStore& store, int workers, std::function<void(uint64_t, uint64_t)> progress,
           std::function<bool()> interrupted);
  ~Pipeline();  // if Finish was not called: stops the workers at once, drops what is queued

  // An empty batch with room for kFeedPages pages, the buffer of a stored one if any is free.
  // With |may_wait|, first waits while kMaxFeedBuffers fed batches are not yet stored (a reader
  // that runs ahead of the workers would otherwise take fresh memory for all it reads).
  Batch TakeBuffer(bool may_wait);
  // Stores |b|'s pages. Provisional pages (a pre-copy) are kept only if PageStore::Finish is
  // told so; see PageStore::AddBatch.
  void Feed(Batch b, bool provisional);
  // The process the workers read AddRanges from, and how (see Reader). Set once, before
  // AddRanges or RunPump.
  void SetSource(pid_t pid, bool via_mem);
  void AddRanges(std::deque<PageRange> ranges);
  // Has |pump| write |todo| into its slots, on this thread, until all is handed to the workers or
  // the pipeline fails. Ranges the copy cannot write go to the workers' readers.
  void RunPump(CopyPump* pump, std::deque<PageRange> todo);
  // While held, workers take no new work (they finish the unit at hand): the stop window keeps
  // both CPUs for the thread that copies.
  void Hold(bool held);
  // The number of pages to report progress against.
  void SetTotal(uint64_t pages);
  // No more input: waits for the workers to store everything and finish their packs. The first
  // error of any worker (or of the pump). Pages no one could read are appended to |unreadable|.
  absl::Status Finish(std::vector<uint64_t>* unreadable);

 private:
  static constexpr int kMaxFeedBuffers = 4;
  struct Slice {  // a work unit: pages at |data| (a fed batch or a pump slot)
    std::vector<uint64_t> addrs;
    const uint8_t* data = nullptr;
    int slot = -1;        // pump slot, or -1
    int batch = -1;       // fed batch (index into fed_), or -1
    bool provisional = false;
  };
  void Work(int w);
  void Fail(absl::Status st);  // REQUIRES: mu_ held

  PageStore& store_;
  std::function<void(uint64_t, uint64_t)> progress_;
  std::function<bool()> interrupted_;
  std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  absl::Status failed_;
  bool closed_ = false;             // Finish called: no more input
  bool finished_ = false;
  bool held_ = false;
  pid_t source_ = 0;
  bool via_mem_ = false;
  std::deque<Slice> ready_;         // work units waiting for a worker
  std::deque<PageRange> slow_;      // ranges the workers read themselves
  std::vector<Batch> fed_;          // fed batches by index; a stored one is recycled
  std::vector<int> fed_left_;       // per fed batch: its slices not yet stored
  std::vector<int> free_fed_;       // stored fed batches whose buffers TakeBuffer may hand out
  std::vector<int> vacant_;         // indices whose batch TakeBuffer handed out
  int fed_in_use_ = 0;              // fed batches not yet stored
  int in_use_[CopyPump::kSlots] = {};  // per pump slot: its slices not yet stored
  uint64_t done_pages_ = 0, total_pages_ = 0, last_report_ = 0;
  std::vector<uint64_t> unreadable_;
  std::vector<std::thread> workers_;
};

}  // namespace clonebot::snapshot
