#include "base/status.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace clonebot::base {

absl::Status ErrnoToStatus(int err, std::string_view context) {
  // absl::ErrnoToStatus appends ": <strerror text>" itself.
  return absl::ErrnoToStatus(err, absl::string_view(context.data(), context.size()));
}

void CheckFailed(const char* file, int line, const char* cond, const std::string& msg) {
  fprintf(stderr, "clonebot: internal error: %s:%d: CHECK(%s) failed: %s\n", file, line, cond,
          msg.c_str());
  abort();
}

}  // namespace clonebot::base
