// Status helpers. Recoverable errors are absl::Status / absl::StatusOr<T>; errno is captured at
// the call site with ErrnoError. Broken invariants use CB_CHECK (on in release builds too).
#pragma once

#include <cerrno>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"

namespace clonebot::base {

// Status from an errno value and a context such as "openat(/etc/passwd)".
absl::Status ErrnoToStatus(int err, std::string_view context);

// Status from the current errno: ErrnoError("ptrace(SEIZE, %d)", pid).
template <typename... Args>
absl::Status ErrnoError(const absl::FormatSpec<Args...>& fmt, const Args&... args) {
  int err = errno;
  return ErrnoToStatus(err, absl::StrFormat(fmt, args...));
}

// Aborts with a message: our own bookkeeping contradicts itself.
[[noreturn]] void CheckFailed(const char* file, int line, const char* cond, const std::string& msg);

}  // namespace clonebot::base

#define CB_CONCAT_INNER(a, b) a##b
#define CB_CONCAT(a, b) CB_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                       \
  do {                                              \
    if (absl::Status _st = (expr); !_st.ok()) return _st; \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr) ASSIGN_OR_RETURN_IMPL(CB_CONCAT(_sor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(*tmp)

#define CB_CHECK(cond, ...)                                                              \
  do {                                                                                   \
    if (!(cond)) [[unlikely]]                                                            \
      ::clonebot::base::CheckFailed(__FILE__, __LINE__, #cond, absl::StrFormat(__VA_ARGS__)); \
  } while (0)
