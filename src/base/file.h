// Small whole-file reads (procfs, sysfs, state files).
#pragma once

#include <optional>
#include <string>

namespace clonebot::base {

// The whole contents of |path|, read until EOF (procfs files report size 0, so no stat), or
// nullopt if it cannot be opened or a read fails. Retries EINTR.
std::optional<std::string> ReadWholeFile(const std::string& path);

}  // namespace clonebot::base
