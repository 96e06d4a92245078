// UniqueFd: the single owner of a file descriptor. Move-only; closes on destruction.
// No implicit conversion to int: call get() to borrow, release() to give up ownership.
#pragma once

#include <unistd.h>

#include <utility>

namespace clonebot::base {

class UniqueFd {
 public:
  UniqueFd() = default;
  // Takes ownership of |fd| (may be -1).
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }

  // Returns the fd and forgets it; the caller owns it.
  [[nodiscard]] int release() { return std::exchange(fd_, -1); }

  // Closes the owned fd (if any) and takes |fd|. close() errors are ignored: on Linux the fd
  // is released even when close reports EINTR or EIO, so retrying would close a stranger's fd.
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

  // Async-signal-safe close for use between fork/clone and exec.
  void CloseSignalSafe() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

}  // namespace clonebot::base
