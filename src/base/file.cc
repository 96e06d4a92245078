#include "base/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "base/status.h"
#include "base/unique_fd.h"

namespace clonebot::base {

std::optional<std::string> ReadWholeFile(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  std::string s;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n > 0) {
      s.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      return s;
    } else if (errno != EINTR) {
      return std::nullopt;
    }
  }
}

absl::Status WriteFileAtomic(const std::string& path, std::string_view data, bool sync) {
  std::string tmp = path + ".tmp";
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return ErrnoError("open(%s)", tmp);
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = write(fd.get(), p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status st = ErrnoError("write(%s)", tmp);
      unlink(tmp.c_str());
      return st;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (sync && fsync(fd.get()) != 0) {
    absl::Status st = ErrnoError("fsync(%s)", tmp);
    unlink(tmp.c_str());
    return st;
  }
  fd.reset();
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status st = ErrnoError("rename(%s)", path);
    unlink(tmp.c_str());
    return st;
  }
  return absl::OkStatus();
}

}  // namespace clonebot::base
