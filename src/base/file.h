// Small whole-file reads (procfs, sysfs, state files) and atomic whole-file writes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace clonebot::base {

// The whole contents of |path|, read until EOF (procfs files report size 0, so no stat), or
// nullopt if it cannot be opened or a read fails. Retries EINTR.
std::optional<std::string> ReadWholeFile(const std::string& path);

// Writes |data| to |path| so that a reader sees the old file or the whole new one, never a part:
// a temporary file beside it, fsync (when |sync|: also survives a crash of the machine), rename.
// Mode 0644 (before umask).
absl::Status WriteFileAtomic(const std::string& path, std::string_view data, bool sync = true);

}  // namespace clonebot::base
