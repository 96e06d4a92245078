// Leveled logging to stderr. Libraries return Status; callers decide what to log.
// Level is set by CLONEBOT_LOG=error|warn|info|debug (default warn) or SetLogLevel.
#pragma once

#include "absl/strings/str_format.h"

namespace clonebot::base {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

LogLevel GetLogLevel();
void SetLogLevel(LogLevel level);
void LogLine(LogLevel level, const std::string& msg);

}  // namespace clonebot::base

#define CB_LOG(level, ...)                                                             \
  do {                                                                                 \
    if (::clonebot::base::LogLevel::level <= ::clonebot::base::GetLogLevel())          \
      ::clonebot::base::LogLine(::clonebot::base::LogLevel::level, absl::StrFormat(__VA_ARGS__)); \
  } while (0)
