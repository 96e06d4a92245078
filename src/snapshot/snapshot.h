// snapshot: a memory snapshot of a live process, full or incremental, as an OCI image.
//
// The target is held in a ptrace-stop only while it must be:
//  - a full snapshot stops it once to list its mappings and pages and to fork a copy-on-write
//    copy of it (remote::Injector::ForkHeld); it runs again while the copy is read, and the copy
//    is then killed and, once the image is committed, reaped inside the target in a second,
//    short stop;
//  - an incremental snapshot with uffd-wp tracking reads the pages written since its parent
//    while the target runs, then stops it to scan and re-protect the pages written since and,
//    when they are few (<= 64 MiB), copies them before resuming it.
// Hashing, compression and writing never happen while the target is stopped. The image is
// written to a partial directory and renamed into place only when complete
// (image::LayoutWriter).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace clonebot::snapshot {

enum class Method { kAuto, kUffd, kHash };
enum class CopyMode { kAuto, kFork, kDirect };

struct SnapshotOptions {
  pid_t pid = 0;
  std::string out_dir;
  std::string parent_dir;  // empty: a full snapshot
  Method method = Method::kAuto;
  CopyMode copy = CopyMode::kAuto;
  bool track = true;       // set up uffd-wp tracking for the next incremental snapshot
  bool replace = false;    // replace out_dir if it exists
  int zstd_level = 1;
  // Called from the reading thread now and then with pages read so far and pages to read.
  std::function<void(uint64_t done, uint64_t total)> progress;
  // Polled between critical sections; when it returns true the snapshot stops, resumes the
  // target, removes its partial image and fails with absl::CancelledError.
  std::function<bool()> interrupted;
};

struct SnapshotSummary {
  std::string image;
  std::string manifest_digest;
  pid_t pid = 0;
  std::string method;       // "full", "uffd-wp", "hash"
  std::string method_note;  // why a better method was not used, if one was not
  std::string copy;         // "fork" or "direct"
  bool tracking = false;    // uffd-wp tracking is armed for the next incremental
  uint64_t pages_scanned = 0;  // pages of the stored mappings
  uint64_t pages_present = 0;  // present or swapped
  uint64_t pages_written = 0;  // read this time (all present ones for full and hash)
  uint64_t pages_zero = 0;
  uint64_t pages_unique = 0;   // compressed into this image's packs
  uint64_t pages_dedup = 0;
  uint64_t bytes_packed = 0;   // compressed page bytes of this image
  uint64_t bytes_stored = 0;   // every blob this image added
  uint64_t stopped_ns = 0;     // the target's time in ptrace-stops, summed
  uint64_t total_ns = 0;
  // Wall time of each phase, in order ("stop", "scan", "fork", "read+pack", …).
  std::vector<std::pair<std::string, uint64_t>> phases_ns;
  double dedup_ratio() const;        // non-zero pages read / pages packed
  double compression_ratio() const;  // packed pages' bytes / their compressed bytes
};

absl::StatusOr<SnapshotSummary> TakeSnapshot(const SnapshotOptions& opts);

}  // namespace clonebot::snapshot
