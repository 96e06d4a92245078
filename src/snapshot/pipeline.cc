#include "snapshot/pipeline.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_format.h"

namespace clonebot::snapshot {

bool Reader::Next(std::deque<PageRange>& todo, Batch& b, std::vector<uint64_t>* unreadable, size_t max_pages) {
  b.addrs.clear();
  std::vector<iovec> remote;
  size_t pages = 0;
  while (!todo.empty() && pages < max_pages && remote.size() < 1024) {
    PageRange& r = todo.front();
    size_t n = std::min<uint64_t>((r.end - r.start) / 4096, max_pages - pages);
    remote.push_back({reinterpret_cast<void*>(r.start), n * 4096});
    for (size_t i = 0; i < n; i++) b.addrs.push_back(r.start + i * 4096);
    pages += n;
    r.start += n * 4096;
    if (r.start >= r.end) todo.pop_front();
  }
  if (pages == 0) return false;
  b.Reserve(pages);
  if (via_mem_) {
    if (!mem_) mem_.reset(open(absl::StrFormat("/proc/%d/mem", pid_).c_str(), O_RDONLY | O_CLOEXEC));
    bool all = mem_.valid();
    uint8_t* dst = b.data();
    for (size_t k = 0; all && k < remote.size(); k++) {
      ssize_t got = pread(mem_.get(), dst, remote[k].iov_len, reinterpret_cast<off_t>(remote[k].iov_base));
      all = got == static_cast<ssize_t>(remote[k].iov_len);
      dst += remote[k].iov_len;
    }
    if (all) return true;
  } else {
    iovec local{b.data(), pages * 4096};
    ssize_t got = process_vm_readv(pid_, &local, 1, remote.data(), remote.size(), 0);
    if (got == static_cast<ssize_t>(pages * 4096)) return true;
  }
  // Short or failed: page by page, from /proc/PID/mem if process_vm_readv is refused.
  std::vector<uint64_t> addrs = std::move(b.addrs);
  b.addrs.clear();
  size_t out = 0;
  for (uint64_t a : addrs) {
    uint8_t* dst = b.data() + out * 4096;
    iovec l{dst, 4096}, r{reinterpret_cast<void*>(a), 4096};
    bool ok = process_vm_readv(pid_, &l, 1, &r, 1, 0) == 4096;
    if (!ok) {
      if (!mem_) mem_.reset(open(absl::StrFormat("/proc/%d/mem", pid_).c_str(), O_RDONLY | O_CLOEXEC));
      ok = mem_ && pread(mem_.get(), dst, 4096, static_cast<off_t>(a)) == 4096;
    }
    if (ok) {
      b.addrs.push_back(a);
      out++;
    } else {
      unreadable->push_back(a);
    }
  }
  return true;
}

Pipeline::Pipeline(PageStore& store, int workers, std::function<void(uint64_t, uint64_t)> progress,
                   std::function<bool()> interrupted)
    : store_(store), progress_(std::move(progress)), interrupted_(std::move(interrupted)) {
  for (int w = 0; w < workers; w++) workers_.emplace_back([this, w] { Work(w); });
}

Pipeline::~Pipeline() {
  {
    // Not finished: the snapshot failed. Workers stop at the next unit instead of draining.
    std::lock_guard<std::mutex> lock(mu_);
    if (!finished_) Fail(absl::CancelledError("snapshot abandoned"));
  }
  (void)Finish(nullptr);
}

void Pipeline::Fail(absl::Status st) {
  if (failed_.ok()) failed_ = std::move(st);
  cv_.notify_all();
}

Batch Pipeline::TakeBuffer(bool may_wait) {
  std::unique_lock<std::mutex> lock(mu_);
  if (may_wait) cv_.wait(lock, [&] { return fed_in_use_ < kMaxFeedBuffers || !failed_.ok(); });
  Batch b;
  if (!free_fed_.empty()) {
    int i = free_fed_.back();
    free_fed_.pop_back();
    b = std::move(fed_[i]);
    vacant_.push_back(i);
  }
  lock.unlock();
  b.addrs.clear();
  b.Reserve(kFeedPages);
  return b;
}

void Pipeline::Feed(Batch b, bool provisional) {
  if (b.addrs.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  int idx;
  if (!vacant_.empty()) {
    idx = vacant_.back();
    vacant_.pop_back();
    fed_[idx] = std::move(b);
  } else {
    idx = static_cast<int>(fed_.size());
    fed_.push_back(std::move(b));
    fed_left_.push_back(0);
  }
  fed_in_use_++;
  Batch& mine = fed_[idx];
  for (size_t i = 0; i < mine.addrs.size(); i += kFeedPages) {
    size_t n = std::min(kFeedPages, mine.addrs.size() - i);
    Slice s;
    s.addrs.assign(mine.addrs.begin() + i, mine.addrs.begin() + i + n);
    s.data = mine.data() + i * 4096;
    s.batch = idx;
    s.provisional = provisional;
    ready_.push_back(std::move(s));
    fed_left_[idx]++;
  }
  cv_.notify_all();
}

void Pipeline::SetSource(pid_t pid, bool via_mem) {
  std::lock_guard<std::mutex> lock(mu_);
  source_ = pid;
  via_mem_ = via_mem;
}

void Pipeline::AddRanges(std::deque<PageRange> ranges) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const PageRange& r : ranges) slow_.push_back(r);
  cv_.notify_all();
}

void Pipeline::Hold(bool held) {
  std::lock_guard<std::mutex> lock(mu_);
  held_ = held;
  cv_.notify_all();
}

void Pipeline::SetTotal(uint64_t pages) {
  std::lock_guard<std::mutex> lock(mu_);
  total_pages_ = pages;
}

void Pipeline::RunPump(CopyPump* pump, std::deque<PageRange> todo) {
  for (int slot = 0; !todo.empty(); slot = (slot + 1) % CopyPump::kSlots) {
    std::vector<CopyPump::Range> ranges;
    TakeFront(todo, CopyPump::kSlotBytes, &ranges);
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return in_use_[slot] == 0 || !failed_.ok(); });
      if (!failed_.ok()) return;
    }
    absl::StatusOr<const uint8_t*> data = pump->Fill(slot, ranges);
    std::lock_guard<std::mutex> lock(mu_);
    if (!data.ok()) {
      if (absl::IsNotFound(data.status())) {  // the copy died: nothing of it can be read
        Fail(data.status());
        return;
      }
      // A range the copy cannot read (EFAULT): the workers read these page by page.
      for (const CopyPump::Range& r : ranges) slow_.push_back({r.start, r.end});
      cv_.notify_all();
      continue;
    }
    size_t k = 0;  // page index in the slot
    Slice cur;
    cur.slot = slot;
    auto push = [&] {
      in_use_[slot]++;
      ready_.push_back(std::move(cur));
      cur = Slice{};
      cur.slot = slot;
    };
    for (const CopyPump::Range& r : ranges) {
      for (uint64_t a = r.start; a < r.end; a += 4096) {
        if (cur.addrs.empty()) cur.data = *data + k * 4096;
        cur.addrs.push_back(a);
        k++;
        if (cur.addrs.size() == Reader::kMaxPages) push();
      }
    }
    if (!cur.addrs.empty()) push();
    cv_.notify_all();
  }
}

void Pipeline::Work(int w) {
  std::unique_ptr<Reader> reader;
  Batch b;
  std::vector<uint64_t> bad;
  auto stored = [&](const absl::Status& st, size_t pages) -> bool {  // REQUIRES: mu_ held
    if (!st.ok()) Fail(st);
    done_pages_ += pages;
    unreadable_.insert(unreadable_.end(), bad.begin(), bad.end());
    bad.clear();
    if (progress_ && total_pages_ && done_pages_ - last_report_ >= 16384) {
      progress_(std::min(done_pages_, total_pages_), total_pages_);
      last_report_ = done_pages_;
    }
    return failed_.ok();
  };
  for (;;) {
    std::deque<PageRange> mine;
    Slice slice;
    bool have_slice = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      for (;;) {
        if (!failed_.ok()) return;
        if (interrupted_ && interrupted_()) {
          Fail(absl::CancelledError("interrupted: the target runs on, no image was written"));
          return;
        }
        if (!held_ && (!ready_.empty() || !slow_.empty() || closed_)) break;
        cv_.wait(lock);
      }
      if (!ready_.empty()) {
        slice = std::move(ready_.front());
        ready_.pop_front();
        have_slice = true;
      } else {
        // One batch worth of ranges off the shared cursor; read outside the lock.
        TakeFront(slow_, Reader::kMaxPages * 4096, &mine);
        if (!mine.empty() && !reader) reader = std::make_unique<Reader>(source_, via_mem_);
      }
    }
    if (have_slice) {
      absl::Status st = store_.AddBatch(w, slice.addrs.data(), slice.data, slice.addrs.size(), slice.provisional);
      std::lock_guard<std::mutex> lock(mu_);
      if (slice.slot >= 0) in_use_[slice.slot]--;
      if (slice.batch >= 0 && --fed_left_[slice.batch] == 0) {
        free_fed_.push_back(slice.batch);
        fed_in_use_--;
      }
      cv_.notify_all();
      if (!stored(st, slice.addrs.size())) return;
    } else if (!mine.empty()) {
      while (reader->Next(mine, b, &bad)) {
        absl::Status st = store_.AddBatch(w, b.addrs.data(), b.data(), b.addrs.size());
        std::lock_guard<std::mutex> lock(mu_);
        if (!stored(st, b.addrs.size())) return;
      }
    } else {
      // Closed and nothing left: this worker's last frame and pack are written while the
      // others may still work.
      absl::Status st = store_.FinishWorker(w);
      std::lock_guard<std::mutex> lock(mu_);
      if (!st.ok()) Fail(st);
      return;
    }
  }
}

absl::Status Pipeline::Finish(std::vector<uint64_t>* unreadable) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return failed_;
    closed_ = true;
    held_ = false;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();  // no worker reads a fed batch or the pump after this
  std::lock_guard<std::mutex> lock(mu_);
  finished_ = true;
  if (progress_ && total_pages_ && failed_.ok()) progress_(total_pages_, total_pages_);
  if (unreadable) unreadable->insert(unreadable->end(), unreadable_.begin(), unreadable_.end());
  return failed_;
}

}  // namespace clonebot::snapshot
