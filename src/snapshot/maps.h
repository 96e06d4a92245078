// Parsing /proc/PID/maps and deciding which mappings a memory snapshot reads.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace clonebot::snapshot {

inline constexpr uint64_t kPageSize = 4096;

struct Mapping {
  uint64_t start = 0;
  uint64_t end = 0;
  std::string perms;     // "rw-p" as the kernel prints it
  uint64_t offset = 0;
  uint32_t dev_major = 0, dev_minor = 0;
  uint64_t inode = 0;
  std::string path;      // "", "[heap]", "[stack]", "/usr/lib/…", "/memfd:x (deleted)", …
  bool deleted = false;  // the backing file was unlinked (" (deleted)" stripped from path)

  bool readable() const { return perms.size() > 0 && perms[0] == 'r'; }
  bool writable() const { return perms.size() > 1 && perms[1] == 'w'; }
  bool shared() const { return perms.size() > 3 && perms[3] == 's'; }
  uint64_t pages() const { return (end - start) / kPageSize; }
  // "[anon]" for an anonymous mapping, else the path (with " (deleted)" when deleted).
  std::string DisplayName() const;
};

// Parses the text of /proc/PID/maps. Every line the kernel can print parses; anything else is an
// InvalidArgument error naming the line.
absl::StatusOr<std::vector<Mapping>> ParseMaps(std::string_view text);
absl::StatusOr<std::vector<Mapping>> ReadMaps(pid_t pid);

// Why a mapping's memory is not stored, or "" if it is. Skipped: [vvar], [vvar_vclock], [vdso],
// [vsyscall] (the kernel provides them to every process), mappings with no read permission
// (guard pages, PROT_NONE reservations: they hold no readable data), and device mappings
// (/dev/… other than /dev/zero and /dev/shm/…: reading them may have side effects).
std::string SkipReason(const Mapping& m);

}  // namespace clonebot::snapshot
