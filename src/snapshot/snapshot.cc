#include "snapshot/snapshot.h"

#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <set>
#include <thread>

#include "abi/arch.h"
#include "abi/mm.h"
#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "base/status.h"
#include "base/unique_fd.h"
#include "image/oci.h"
#include "nlohmann/json.hpp"
#include "remote/remote.h"
#include "remote/stop.h"
#include "snapshot/chain.h"
#include "snapshot/copy_pump.h"
#include "snapshot/maps.h"
#include "snapshot/page_store.h"
#include "snapshot/pipeline.h"
#include "snapshot/tracking.h"

namespace clonebot::snapshot {
namespace {

constexpr uint64_t kDirectCopyLimit = 64ull << 20;   // copy in the stop window up to this much
constexpr uint64_t kPreCopyChunk = 64ull << 20;      // scanned, then read, per step of the pre-copy
constexpr int kWorkers = 2;
constexpr int kReaderNice = -10;  // the pre-copy's reader, ahead of the workers it feeds

std::string Hex(const void* p, size_t n) {
  static const char* hex = "0123456789abcdef";
  std::string s;
  const uint8_t* b = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; i++) {
    s += hex[b[i] >> 4];
    s += hex[b[i] & 15];
  }
  return s;
}

std::string ReadText(const std::string& path) { return base::ReadWholeFile(path).value_or(""); }

// Start addresses of the mappings of |maps| (the stopped target's) that |copy|, just forked from
// it by ForkHeld, does not hold faithfully: VM_DONTCOPY (MADV_DONTFORK: absent in the copy) and
// VM_WIPEONFORK (MADV_WIPEONFORK, private anonymous only: present in the copy with no pages
// while the target's mapping has some). Learned from the copy's maps and a one-page pagemap
// probe per private anonymous mapping (a second, of the target, where the copy has none),
// instead of the VmFlags of /proc/PID/smaps, which walks every page table (~20 ms per GiB).
// This runs in the stop window: ~1-2 us per mapping, plus reading the copy's maps.
absl::StatusOr<std::set<uint64_t>> NotForkSafe(int target_pagemap, pid_t copy, const std::vector<Mapping>& maps) {
  ASSIGN_OR_RETURN(std::vector<Mapping> copy_maps, ReadMaps(copy));
  base::UniqueFd copy_pagemap(open(absl::StrFormat("/proc/%d/pagemap", copy).c_str(), O_RDONLY | O_CLOEXEC));
  if (!copy_pagemap) return base::ErrnoError("open(/proc/%d/pagemap)", copy);
  std::set<std::pair<uint64_t, uint64_t>> in_copy;
  for (const Mapping& m : copy_maps) in_copy.insert({m.start, m.end});
  auto has_pages = [](int fd, const Mapping& m) -> absl::StatusOr<bool> {
    std::vector<Region> first;
    RETURN_IF_ERROR(PagemapScan(fd, m.start, m.end, 0, 0, PAGE_IS_PRESENT | PAGE_IS_SWAPPED, PAGE_IS_PRESENT, &first,
                                /*inverted=*/0, /*max_pages=*/1));
    return !first.empty();
  };
  std::set<uint64_t> out;
  for (const Mapping& m : maps) {
    if (!SkipReason(m).empty()) continue;
    if (!in_copy.count({m.start, m.end})) {
      out.insert(m.start);  // not copied (or split differently: read it from the target)
      continue;
    }
    if (m.shared() || m.inode != 0) continue;
    // The copy first: a mapping with pages there is held faithfully, and the target is probed
    // only for the (few) mappings the copy has empty.
    ASSIGN_OR_RETURN(bool copy_has, has_pages(copy_pagemap.get(), m));
    if (copy_has) continue;
    ASSIGN_OR_RETURN(bool target_has, has_pages(target_pagemap, m));
    if (target_has) out.insert(m.start);
  }
  return out;
}

nlohmann::json ThreadRegs(pid_t tid) {
  nlohmann::json t = {{"tid", tid}};
  uint8_t regs[1024];
  iovec iov{regs, sizeof regs};
  if (ptrace(PTRACE_GETREGSET, tid, reinterpret_cast<void*>(NT_PRSTATUS), &iov) == 0)
    t["regs"] = Hex(regs, iov.iov_len);
  return t;
}

nlohmann::json ProcessMeta(pid_t pid) {
  nlohmann::json j;
  std::string comm = ReadText(absl::StrFormat("/proc/%d/comm", pid));
  if (!comm.empty() && comm.back() == '\n') comm.pop_back();
  j["comm"] = comm;
  char exe[4096];
  ssize_t n = readlink(absl::StrFormat("/proc/%d/exe", pid).c_str(), exe, sizeof exe);
  j["exe"] = n > 0 ? std::string(exe, n) : "";
  std::vector<std::string> argv;
  std::string cmd = ReadText(absl::StrFormat("/proc/%d/cmdline", pid));
  for (absl::string_view a : absl::StrSplit(cmd, '\0')) argv.emplace_back(a);
  if (!argv.empty() && argv.back().empty()) argv.pop_back();
  j["cmdline"] = argv;
  return j;
}

std::string RelativePath(const std::string& from_dir, const std::string& to) {
  // Both made absolute (|from_dir| need not exist yet: its parent does); the result is relative.
  auto absolute = [](std::string p) {
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    char buf[PATH_MAX];
    if (realpath(p.c_str(), buf)) return std::string(buf);
    size_t slash = p.rfind('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : p.substr(0, slash);
    std::string base = slash == std::string::npos ? p : p.substr(slash + 1);
    if (realpath(dir.c_str(), buf)) return std::string(buf) + "/" + base;
    return p;
  };
  std::string a = absolute(from_dir), b = absolute(to);
  std::vector<std::string> pa = absl::StrSplit(a, '/', absl::SkipEmpty());
  std::vector<std::string> pb = absl::StrSplit(b, '/', absl::SkipEmpty());
  size_t k = 0;
  while (k < pa.size() && k < pb.size() && pa[k] == pb[k]) k++;
  std::string rel;
  for (size_t i = k; i < pa.size(); i++) rel += "../";
  for (size_t i = k; i < pb.size(); i++) rel += pb[i] + (i + 1 < pb.size() ? "/" : "");
  if (rel.empty()) rel = ".";
  return rel;
}

}  // namespace

double SnapshotSummary::dedup_ratio() const {
  uint64_t nonzero = pages_written - pages_zero;
  return pages_unique ? static_cast<double>(nonzero) / static_cast<double>(pages_unique) : 1.0;
}

double SnapshotSummary::compression_ratio() const {
  return bytes_packed ? static_cast<double>(pages_unique * 4096) / static_cast<double>(bytes_packed) : 1.0;
}

absl::StatusOr<SnapshotSummary> TakeSnapshot(const SnapshotOptions& opts) {
  const uint64_t t0 = base::MonotonicNs();
  SnapshotSummary sum;
  uint64_t t_mark = t0;
  auto mark = [&](const char* phase) {
    uint64_t now = base::MonotonicNs();
    sum.phases_ns.emplace_back(phase, now - t_mark);
    t_mark = now;
  };
  auto check_interrupt = [&]() -> absl::Status {
    if (opts.interrupted && opts.interrupted())
      return absl::CancelledError("interrupted: the target runs on, no image was written");
    return absl::OkStatus();
  };
  const pid_t pid = opts.pid;
  sum.image = opts.out_dir;
  sum.pid = pid;
  auto start = ProcessStartTime(pid);
  if (!start.ok()) return absl::NotFoundError(absl::StrFormat("no process with pid %d", pid));
  const uint64_t starttime = *start;

  std::unique_ptr<Chain> parent;
  absl::Status parent_crc;
  std::jthread parent_check;  // declared after |parent|: joined before it goes
  if (!opts.parent_dir.empty()) {
    ASSIGN_OR_RETURN(parent, Chain::Open(opts.parent_dir, /*defer_checks=*/true));
    // The parent's page indexes are verified (CRC32C, bounds, order: ~3 ms for a 1 GiB parent,
    // with the page faults of its 6 MB) on another thread while this one arms, scans and
    // pre-copies; awaited before the new index is built. Until then the parent is only used
    // through Chain::FindBlock, which is safe on an unverified index.
    parent_check = std::jthread([&parent_crc, &parent] { parent_crc = parent->CheckIndexes(); });
    const nlohmann::json& pm = parent->leaf().meta();
    if (pm.value("pid", 0) != pid || pm.value("starttime", uint64_t{0}) != starttime)
      return absl::FailedPreconditionError(absl::StrFormat(
          "parent %s is a snapshot of pid %d, not of this process (pid %d)", opts.parent_dir,
          pm.value("pid", 0), pid));
  }
  // Create the partial directory first: a bad -o fails before the target is touched.
  ASSIGN_OR_RETURN(auto writer, image::LayoutWriter::Create(opts.out_dir, opts.replace));

  // ---- Choose the method ----
  // A userfaultfd armed by an earlier snapshot is reused whenever it is still in the target
  // (arming a second one would fail to register: a VMA takes one userfaultfd). Its written bits
  // are trusted only if the parent is the snapshot that last reset them.
  TrackState state(pid, starttime);
  std::optional<UffdTracker> tracker;
  bool fresh_tracker = false;
  std::string adopt_note;
  auto last = state.Last();
  if (!last) {
    adopt_note = "no uffd-wp tracking is armed for this process";
  } else if (auto t = UffdTracker::Adopt(pid, last->uffd_fd); !t.ok()) {
    adopt_note = std::string(t.status().message());
  } else {
    tracker.emplace(std::move(*t));
  }
  if (parent) {
    sum.method = "hash";
    const std::string& parent_manifest = parent->leaf().layout->manifest_descriptor().digest;
    if (opts.method == Method::kHash) {
      sum.method_note = "--method hash";
    } else if (!tracker) {
      sum.method_note = adopt_note;
    } else if (last->manifest_digest != parent_manifest) {
      sum.method_note = "uffd-wp tracking was last reset by a snapshot other than the parent";
    } else {
      sum.method = "uffd-wp";
    }
    if (sum.method != "uffd-wp" && opts.method == Method::kUffd)
      return absl::FailedPreconditionError("--method uffd: " + sum.method_note);
  } else {
    sum.method = "full";
  }
  if (!opts.track && sum.method != "uffd-wp") tracker.reset();  // leave the written bits alone

  mark("open");
  remote::ProcessStop stop;
  // ---- Arm tracking: create the userfaultfd inside the target (one short stop) ----
  if (!tracker && opts.track) {
    RETURN_IF_ERROR(stop.Stop(pid));
    absl::StatusOr<UffdTracker> t = absl::UnavailableError("");
    {
      auto inj = remote::Injector::Attach(stop.tids().front());
      if (inj.ok()) {
        t = UffdTracker::Create(pid, **inj);
        (void)(*inj)->Restore();
        stop.SetResumeSignal((*inj)->tid(), (*inj)->ResumeSignal());
      } else {
        t = inj.status();
      }
    }
    RETURN_IF_ERROR(stop.Resume());
    if (t.ok()) {
      tracker.emplace(std::move(*t));
      fresh_tracker = true;
    } else {
      sum.method_note += std::string(sum.method_note.empty() ? "" : "; ") +
                         "could not arm uffd-wp tracking: " + std::string(t.status().message());
    }
  }
  mark("arm");
  RETURN_IF_ERROR(check_interrupt());
  base::UniqueFd pagemap(open(absl::StrFormat("/proc/%d/pagemap", pid).c_str(), O_RDONLY | O_CLOEXEC));
  if (!pagemap) return base::ErrnoError("open(/proc/%d/pagemap)", pid);
  // Start addresses of mappings that the copy made by fork does not hold faithfully (learned
  // from the copy itself, in the stop window: see NotForkSafe).
  std::set<uint64_t> not_fork_safe;
  uint64_t rss_pages = 0;
  {
    std::string statm = ReadText(absl::StrFormat("/proc/%d/statm", pid));
    std::vector<std::string> f = absl::StrSplit(statm, ' ');
    if (f.size() > 1) rss_pages = std::strtoull(f[1].c_str(), nullptr, 10);
  }
  std::vector<Mapping> pre;  // the maps while the target runs (tracked targets only)
  if (tracker) {
    // Register (running): new mappings since the last snapshot, or all of them.
    ASSIGN_OR_RETURN(pre, ReadMaps(pid));
    tracker->RegisterAll(pre);
    if (fresh_tracker) {
      // Protect the present pages now, while the target runs; the stop-window scan below then
      // only re-protects what was written in between.
      std::vector<Region> ignored;
      for (const Mapping& m : pre)
        if (SkipReason(m).empty())
          (void)PagemapScan(pagemap.get(), m.start, m.end, PM_SCAN_WP_MATCHING, 0, PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
                            PAGE_IS_PRESENT, &ignored);
    }
    RETURN_IF_ERROR(state.MarkResetting());
  }
  mark("register");

  // The workers start now and wait for pages (declaration order is teardown order: the
  // pipeline's workers are joined before the pump's slots and the store go).
  PageStore store(writer.get(), parent.get(), kWorkers, opts.zstd_level);
  std::unique_ptr<CopyPump> pump;
  Pipeline pipeline(store, kWorkers, opts.progress, opts.interrupted);

  // ---- Pre-copy (incremental uffd-wp, target running) ----
  // Pages written since the parent are found (fast scan), re-protected at once, and copied while
  // the target runs; the workers store them as they come, provisionally. At the stop, a page
  // written again since this scan shows as written and is copied again (its pre-copy is
  // dropped); one that is not is unchanged since the copy. So the stop window copies only what
  // was written during the last few milliseconds.
  std::vector<uint64_t> precopied;  // addresses of the pre-copied (provisional) pages, ascending
  std::vector<uint64_t> unreadable;
  if (sum.method == "uffd-wp" && opts.copy != CopyMode::kFork) {
    // Chunk by chunk, so that the workers store one chunk's pages while the next is scanned.
    // Every page the scan re-protects must be pre-copied, however many there are: at the stop
    // it counts as unwritten, i.e. as held by the pre-copy. The mappings are the ones just
    // registered (one made since is not tracked, and the stop reads it whole).
    Reader reader(pid, /*via_mem=*/false);
    // This thread scans and reads; two workers store what it reads, on two CPUs. At equal
    // priority the reader waited behind them for a CPU, and they for its pages. Ahead of them
    // (nice -10; where that is not permitted, nothing changes) it keeps them fed. Pre-copy of
    // 1% of 1 GiB, medians of 6 alternated pairs, two runs: 33 -> 27 ms and 38 -> 30 ms.
    const id_t self = static_cast<id_t>(gettid());
    errno = 0;
    const int old_nice = getpriority(PRIO_PROCESS, self);
    const bool reniced = errno == 0 && old_nice > kReaderNice && setpriority(PRIO_PROCESS, self, kReaderNice) == 0;
    absl::Cleanup restore_nice = [&] {
      if (reniced) (void)setpriority(PRIO_PROCESS, self, old_nice);
    };
    std::deque<PageRange> ranges;
    uint64_t queued = 0;  // pages in |ranges|
    auto feed = [&](bool all) {
      while (queued >= Pipeline::kFeedPages || (all && queued > 0)) {
        Batch b = pipeline.TakeBuffer(/*may_wait=*/true);
        size_t before = unreadable.size();
        if (!reader.Next(ranges, b, &unreadable, Pipeline::kFeedPages)) break;
        queued -= std::min<uint64_t>(queued, b.addrs.size() + (unreadable.size() - before));
        precopied.insert(precopied.end(), b.addrs.begin(), b.addrs.end());
        pipeline.Feed(std::move(b), /*provisional=*/true);
      }
    };
    std::vector<Region> w1, present_now;
    for (const Mapping& m : pre) {
      if (!SkipReason(m).empty()) continue;
      for (uint64_t c = m.start; c < m.end; c += kPreCopyChunk) {
        const uint64_t ce = std::min(m.end, c + kPreCopyChunk);
        w1.clear();
        RETURN_IF_ERROR(PagemapScan(pagemap.get(), c, ce, PM_SCAN_WP_MATCHING, PAGE_IS_WRITTEN, 0, PAGE_IS_WRITTEN, &w1));
        if (w1.empty()) continue;
        // Only present pages: reading a hole would fault a page in. One scan of the chunk costs
        // less than one ioctl per written range.
        present_now.clear();
        RETURN_IF_ERROR(PagemapPresent(pagemap.get(), c, ce, &present_now));
        size_t j = 0;
        for (const Region& g : w1) {  // w1 ∩ present_now (both ascending)
          while (j < present_now.size() && present_now[j].end <= g.start) j++;
          for (size_t k = j; k < present_now.size() && present_now[k].start < g.end; k++) {
            uint64_t x = std::max(g.start, present_now[k].start), e = std::min(g.end, present_now[k].end);
            if (x < e) {
              ranges.push_back({x, e});
              queued += (e - x) / 4096;
            }
          }
        }
        feed(/*all=*/false);
      }
    }
    feed(/*all=*/true);
    std::move(restore_nice).Invoke();
    mark("pre-copy");
  }
  std::vector<bool> keep(precopied.size(), false);
  // ---- The stop ----
  RETURN_IF_ERROR(check_interrupt());
  pipeline.Hold(true);
  RETURN_IF_ERROR(stop.Stop(pid));
  mark("stop");
  ASSIGN_OR_RETURN(std::vector<Mapping> maps, ReadMaps(pid));
  nlohmann::json threads = nlohmann::json::array();
  for (pid_t tid : stop.tids()) threads.push_back(ThreadRegs(tid));

  mark("maps+regs");
  // Mappings whose pages a copy made by fork describes faithfully in its own pagemap: private
  // anonymous memory (fork copies its page tables). For these the present-page scan runs on the
  // copy after the target has resumed; file-backed, shared and not-fork-safe mappings are scanned
  // in the stop window (fork does not copy the page tables of untouched file mappings).
  auto anon_private = [&](const Mapping& m) {
    return !m.shared() && m.inode == 0 && (m.path.empty() || m.path[0] == '[') && !not_fork_safe.count(m.start);
  };
  std::vector<MappingRecord> records;
  for (const Mapping& m : maps) records.push_back({m, SkipReason(m), 0});
  uint64_t stored_pages = 0;
  for (const MappingRecord& r : records)
    if (r.skipped.empty()) stored_pages += r.m.pages();
  const bool incremental_uffd = sum.method == "uffd-wp";
  bool use_fork = opts.copy == CopyMode::kFork ||
                        (opts.copy == CopyMode::kAuto && !incremental_uffd && rss_pages * 4096 > kDirectCopyLimit);
  sum.copy = use_fork ? "fork" : "direct";

  // The copy is made first in the stop window: which mappings it does not hold faithfully is
  // learned from it, and those are read from the target before it resumes.
  pid_t copy = 0;
  auto fork_copy = [&]() -> absl::Status {
    if (copy) return absl::OkStatus();
    auto inj = remote::Injector::Attach(stop.tids().front());
    if (!inj.ok()) return inj.status();
    auto forked = (*inj)->ForkHeld();
    absl::Status restored = (*inj)->Restore();
    stop.SetResumeSignal((*inj)->tid(), (*inj)->ResumeSignal());
    if (!forked.ok()) return forked.status();
    copy = *forked;
    RETURN_IF_ERROR(restored);
    ASSIGN_OR_RETURN(not_fork_safe, NotForkSafe(pagemap.get(), copy, maps));
    return absl::OkStatus();
  };
  // The held copy dies with clonebot (PTRACE_O_EXITKILL). Otherwise it is killed once read
  // (its teardown overlaps the index), and its zombie is reaped inside the target in a last short
  // stop, so the target never sees it.
  auto end_copy = absl::MakeCleanup([&] {
    if (!copy) return;
    (void)remote::KillHeldFork(copy, nullptr);
    if (stop.stopped() || stop.Restop().ok()) {
      auto inj = remote::Injector::Attach(stop.tids().front());
      if (inj.ok()) {
        (void)remote::KillHeldFork(copy, inj->get());
        (void)(*inj)->Restore();
        stop.SetResumeSignal((*inj)->tid(), (*inj)->ResumeSignal());
      }
      (void)stop.Resume();
    }
    copy = 0;
  });
  if (use_fork) RETURN_IF_ERROR(fork_copy());
  mark("fork");

  // 2. Present or swapped pages (~1 ms per GiB): an incremental snapshot needs them at the
  //    stop (a page can become a hole, even lose its page table, without being "written").
  std::vector<Region> present;
  bool present_scan = true;  // PAGEMAP_SCAN works (else /proc/PID/pagemap is read)
  auto scan_present = [&present_scan](int fd, const Mapping& m, std::vector<Region>* out) -> absl::Status {
    if (present_scan) {
      absl::Status st = PagemapPresent(fd, m.start, m.end, out);
      if (st.ok()) return st;
      present_scan = false;
    }
    return PagemapRead(fd, m.start, m.end, out);
  };
  // (An incremental snapshot needs every mapping's present pages now, even with --fork: they
  // decide what is inherited from the parent.)
  auto scan_all_present = [&]() -> absl::Status {
    for (const MappingRecord& r : records)
      if (r.skipped.empty() && !(use_fork && !incremental_uffd && anon_private(r.m)))
        RETURN_IF_ERROR(scan_present(pagemap.get(), r.m, &present));
    return absl::OkStatus();
  };
  // An incremental uffd-wp snapshot scans for present pages on a second thread while this one
  // scans for written ones: the target waits for both (~1.2 ms each per GiB), and the workers
  // are held, so the other CPU is free. Both only read the stopped target's page tables (the
  // written scan also sets uffd-wp bits, under the page table lock).
  absl::Status present_st;
  std::jthread present_thread;
  if (incremental_uffd) present_thread = std::jthread([&] { present_st = scan_all_present(); });

  // 1. Written since the last reset, and re-protected (PAGEMAP_SCAN's fast path: only
  //    PAGE_IS_WRITTEN asked and returned, ~0.6 ms per GiB). May include holes (zero now).
  std::vector<Region> written;
  bool have_scan = true;
  if (tracker) {
    for (const MappingRecord& r : records) {
      if (!r.skipped.empty()) continue;
      absl::Status st = PagemapScan(pagemap.get(), r.m.start, r.m.end, PM_SCAN_WP_MATCHING, PAGE_IS_WRITTEN, 0,
                                    PAGE_IS_WRITTEN, &written);
      if (!st.ok()) {
        have_scan = false;  // no PAGEMAP_SCAN (kernel < 6.7)
        break;
      }
    }
    if (!have_scan) {
      if (incremental_uffd) return absl::FailedPreconditionError("PAGEMAP_SCAN failed on a tracked process");
      tracker.reset();
    }
  }
  mark("scan-written");
  if (present_thread.joinable()) {
    present_thread.join();
    RETURN_IF_ERROR(present_st);
  } else {
    RETURN_IF_ERROR(scan_all_present());
  }
  mark("scan-present");

  // What to read, and (uffd incremental) what is unchanged since the parent.
  std::deque<PageRange> todo, direct;
  std::vector<Run> inherit;
  auto add_inherit = [&](uint64_t a, uint64_t e) {
    while (a < e) {
      uint32_t n = static_cast<uint32_t>(std::min<uint64_t>((e - a) / 4096, UINT32_MAX));
      inherit.push_back({a, n, RunKind::kInherit, 0});
      a += uint64_t{n} * 4096;
    }
  };
  auto mapping_of = [&](uint64_t a) -> MappingRecord* {
    auto m = std::upper_bound(records.begin(), records.end(), a,
                              [](uint64_t x, const MappingRecord& r) { return x < r.m.start; });
    return m == records.begin() ? nullptr : &*std::prev(m);
  };
  auto add_read = [&](uint64_t a, uint64_t e) {
    const MappingRecord* r = mapping_of(a);
    bool now = !use_fork || (r && (r->m.shared() || not_fork_safe.count(r->m.start)));
    (now ? direct : todo).push_back({a, e});
  };
  // [a, e) was not written since the last scan: pre-copied pages keep their copy, the rest is
  // unchanged since the parent.
  auto split_unwritten = [&](uint64_t a, uint64_t e, bool tracked) {
    auto it = std::lower_bound(precopied.begin(), precopied.end(), a);
    uint64_t cur = a;
    for (; it != precopied.end() && *it < e; ++it) {
      if (*it > cur) tracked ? add_inherit(cur, *it) : add_read(cur, *it);
      keep[it - precopied.begin()] = true;
      cur = *it + 4096;
    }
    if (cur < e) tracked ? add_inherit(cur, e) : add_read(cur, e);
  };
  size_t w = 0;
  for (const Region& g : present) {
    if (!incremental_uffd) {
      add_read(g.start, g.end);
      continue;
    }
    // Split |g| against the written regions (both address-ordered).
    uint64_t a = g.start;
    while (w < written.size() && written[w].end <= a) w++;
    for (size_t k = w; a < g.end; k++) {
      uint64_t ws = k < written.size() ? std::max(written[k].start, a) : g.end;
      if (ws >= g.end) ws = g.end;
      if (ws > a) split_unwritten(a, ws, g.categories & PAGE_IS_WPALLOWED);
      if (ws >= g.end) break;
      uint64_t we = std::min(written[k].end, g.end);
      add_read(ws, we);
      a = we;
    }
  }
  if (incremental_uffd && opts.copy != CopyMode::kDirect) {
    // Many pages written: read them through a copy too, not while the target waits.
    uint64_t bytes = 0;
    for (const PageRange& r : direct) bytes += r.end - r.start;
    if (opts.copy == CopyMode::kFork || bytes > kDirectCopyLimit) {
      use_fork = true;
      RETURN_IF_ERROR(fork_copy());
      sum.copy = "fork";
      std::deque<PageRange> all = std::move(direct);
      direct.clear();
      for (const PageRange& r : all) add_read(r.start, r.end);
    }
  }
  // Copy what must be copied while stopped.
  std::vector<Batch> copied;  // fed to the workers once the target runs again
  {
    Reader reader(pid, /*via_mem=*/false);
    for (;;) {
      Batch b = pipeline.TakeBuffer(/*may_wait=*/false);
      if (!reader.Next(direct, b, &unreadable, Pipeline::kFeedPages)) break;
      sum.pages_written += b.addrs.size();
      copied.push_back(std::move(b));
    }
  }
  mark("copy-stopped");
  RETURN_IF_ERROR(stop.Resume());
  pipeline.Hold(false);
  for (Batch& b : copied) pipeline.Feed(std::move(b), /*provisional=*/false);
  // From here on the target runs.
  mark("resume");
  // Pre-copied pages still valid at the stop are kept; the others were read again or are gone.
  std::vector<uint64_t> kept;
  for (size_t i = 0; i < precopied.size(); i++)
    if (keep[i]) kept.push_back(precopied[i]);
  sum.pages_written += kept.size();
  if (copy && !incremental_uffd) {
    base::UniqueFd copy_pagemap(open(absl::StrFormat("/proc/%d/pagemap", copy).c_str(), O_RDONLY | O_CLOEXEC));
    if (!copy_pagemap) return base::ErrnoError("open(/proc/%d/pagemap)", copy);
    for (const MappingRecord& r : records) {
      if (!r.skipped.empty() || !anon_private(r.m)) continue;
      size_t before = present.size();
      RETURN_IF_ERROR(scan_present(copy_pagemap.get(), r.m, &present));
      for (size_t i = before; i < present.size(); i++) todo.push_back({present[i].start, present[i].end});
    }
    std::sort(todo.begin(), todo.end(), [](const PageRange& x, const PageRange& y) { return x.start < y.start; });
    std::sort(present.begin(), present.end(), [](const Region& x, const Region& y) { return x.start < y.start; });
    mark("scan-copy");
  }
  for (const Region& g : present) {
    if (MappingRecord* r = mapping_of(g.start)) r->pages_present += (g.end - g.start) / 4096;
    sum.pages_present += (g.end - g.start) / 4096;
  }
  sum.pages_scanned = stored_pages;
  for (const PageRange& r : todo) sum.pages_written += (r.end - r.start) / 4096;
  sum.pages_written += unreadable.size();

  // ---- Read, hash, deduplicate, compress, write ----
  pipeline.SetTotal(sum.pages_written);
  if (copy && !getenv("CLONEBOT_SNAPSHOT_NO_PUMP")) {
    auto p = CopyPump::Create(pid, copy);
    if (p.ok()) {
      pump = std::move(*p);
      sum.copy = "fork+pump";
    } else {
      CB_LOG(kInfo, "snapshot: reading the copy through /proc/%d/mem: %s", copy, p.status().message());
    }
  }
  if (copy) mark("pump");
  pipeline.SetSource(copy ? copy : pid, /*via_mem=*/copy != 0);
  if (pump)
    pipeline.RunPump(pump.get(), std::move(todo));
  else
    pipeline.AddRanges(std::move(todo));
  RETURN_IF_ERROR(pipeline.Finish(&unreadable));
  pump.reset();
  if (copy) kill(copy, SIGKILL);  // its memory is torn down while the index is built
  mark("read+pack");
  RETURN_IF_ERROR(check_interrupt());
  // A mapping with pages that could not be read is recorded as not stored, with the reason.
  for (uint64_t a : unreadable)
    for (MappingRecord& r : records)
      if (r.m.start <= a && a < r.m.end && r.skipped.empty())
        r.skipped = absl::StrFormat("unreadable (first at 0x%x)", a);

  std::vector<image::Descriptor> layers;
  std::vector<image::Descriptor> packs;
  if (parent_check.joinable()) {
    parent_check.join();
    RETURN_IF_ERROR(parent_crc);
  }
  ASSIGN_OR_RETURN(PageIndex index, store.Finish(inherit, &packs, kept));
  // Streamed into its blob from the index's own vectors: a serialized copy would be ~8 MiB of
  // fresh memory per GiB.
  ASSIGN_OR_RETURN(std::unique_ptr<image::BlobWriter> index_blob, writer->NewBlob());
  std::array<uint8_t, PageIndex::kHeaderBytes> index_header;
  for (std::span<const uint8_t> part : index.SerializedParts(index_header))
    RETURN_IF_ERROR(index_blob->Append(part));
  ASSIGN_OR_RETURN(image::Descriptor index_desc, index_blob->Finish(kIndexMediaType));
  layers.push_back(index_desc);
  for (auto& p : packs) layers.push_back(p);
  mark("index");
  StoreStats st = store.stats();
  sum.pages_zero = st.zero_pages;
  sum.pages_unique = st.unique_pages;
  sum.pages_dedup = st.dedup_pages;
  sum.bytes_packed = st.packed_bytes;
  sum.tracking = tracker.has_value();

  // ---- Config ----
  nlohmann::json meta = ProcessMeta(pid);
  meta["format_version"] = kConfigFormatVersion;
  meta["kind"] = "snapshot";
  meta["pid"] = pid;
  meta["starttime"] = starttime;
  meta["arch"] = abi::ArchName(abi::kNativeArch);
  utsname u;
  if (uname(&u) == 0) meta["kernel"] = u.release;
  meta["created"] = base::Rfc3339UtcNow();
  meta["method"] = sum.method;
  if (!sum.method_note.empty()) meta["method_note"] = sum.method_note;
  meta["copy"] = sum.copy;
  meta["parent"] = nullptr;
  if (parent)
    meta["parent"] = {{"path", RelativePath(opts.out_dir, opts.parent_dir)},
                      {"manifest", parent->leaf().layout->manifest_descriptor().digest}};
  meta["tracking"] = nullptr;
  if (tracker) meta["tracking"] = {{"method", "uffd-wp"}, {"uffd_fd", tracker->fd_in_target()}};
  nlohmann::json jm = nlohmann::json::array();
  for (const MappingRecord& r : records) {
    nlohmann::json o = {{"start", absl::StrFormat("0x%x", r.m.start)},
                        {"end", absl::StrFormat("0x%x", r.m.end)},
                        {"perms", r.m.perms},
                        {"offset", absl::StrFormat("0x%x", r.m.offset)},
                        {"dev", absl::StrFormat("%02x:%02x", r.m.dev_major, r.m.dev_minor)},
                        {"inode", r.m.inode},
                        {"path", r.m.path},
                        {"pages_present", r.pages_present}};
    if (r.m.deleted) o["deleted"] = true;
    if (!r.skipped.empty()) o["skipped"] = r.skipped;
    jm.push_back(std::move(o));
  }
  meta["mappings"] = std::move(jm);
  meta["threads"] = std::move(threads);
  sum.stopped_ns = stop.stopped_ns();
  meta["stats"] = {{"pages_scanned", sum.pages_scanned}, {"pages_present", sum.pages_present},
                   {"pages_written", sum.pages_written}, {"pages_zero", sum.pages_zero},
                   {"pages_unique", sum.pages_unique},   {"pages_dedup", sum.pages_dedup},
                   {"bytes_packed", sum.bytes_packed},   {"stopped_ns", sum.stopped_ns}};
  nlohmann::json diff_ids = nlohmann::json::array();
  for (const auto& l : layers) diff_ids.push_back(l.digest);
  nlohmann::json config = {
      {"architecture", abi::kNativeArch == abi::Arch::kX86_64 ? "amd64" : "arm64"},
      {"os", "linux"},
      {"created", meta["created"]},
      {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}},
      {"config", {{"Labels", {{"org.clonebot.kind", "snapshot"}, {"org.clonebot.pid", std::to_string(pid)}}}}},
      {"clonebot", meta}};
  std::string cfg = config.dump();
  ASSIGN_OR_RETURN(image::Descriptor cfg_desc,
                   writer->PutBlob(image::kConfigMediaType, {reinterpret_cast<const uint8_t*>(cfg.data()), cfg.size()}));
  std::map<std::string, std::string> ann = {{kMethodAnnotation, sum.method},
                                             {kCreatedAnnotation, meta["created"].get<std::string>()}};
  if (parent) {
    ann[kParentAnnotation] = parent->leaf().layout->manifest_descriptor().digest;
    ann[kParentPathAnnotation] = meta["parent"]["path"].get<std::string>();
  }
  RETURN_IF_ERROR(check_interrupt());
  ASSIGN_OR_RETURN(image::Descriptor manifest, writer->Commit(cfg_desc, layers, ann));
  sum.manifest_digest = manifest.digest;
  sum.bytes_stored = manifest.size + cfg_desc.size;
  for (const auto& l : layers) sum.bytes_stored += l.size;
  mark("commit");
  std::move(end_copy).Invoke();
  mark("reap");
  if (tracker) (void)state.SetLast({manifest.digest, tracker->fd_in_target()});
  sum.total_ns = base::MonotonicNs() - t0;
  return sum;
}

}  // namespace clonebot::snapshot
