#include "base/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace clonebot::base {
namespace {

LogLevel InitialLevel() {
  const char* env = getenv("CLONEBOT_LOG");
  if (env == nullptr) return LogLevel::kWarn;
  if (!strcmp(env, "error")) return LogLevel::kError;
  if (!strcmp(env, "info")) return LogLevel::kInfo;
  if (!strcmp(env, "debug")) return LogLevel::kDebug;
  return LogLevel::kWarn;
}

std::atomic<LogLevel> g_level{InitialLevel()};

}  // namespace

LogLevel GetLogLevel() { return g_level.load(std::memory_order_relaxed); }
void SetLogLevel(LogLevel level) { g_level.store(level, std::memory_order_relaxed); }

void LogLine(LogLevel level, const std::string& msg) {
  static const char* const kNames[] = {"error", "warning", "info", "debug"};
  std::string line = absl::StrFormat("clonebot: %s: %s\n", kNames[static_cast<int>(level)], msg);
  // One write() so that lines from threads do not interleave.
  (void)!write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace clonebot::base
