/* Less common fd syscalls: memfd_create, fallocate, posix_fadvise, flock, statx, ioctl
 * (FIONREAD on a pipe, TCGETS on a non-tty: ENOTTY), inotify, dup3, close_range. */
#include "test_util.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>

int main(void) {
  int m = memfd_create("cbk-memfd", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  test_assert(m >= 0);
  test_assert(fallocate(m, 0, 0, 8192) == 0);
  test_assert(fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK) == 0);
  test_assert(fcntl(m, F_GET_SEALS) == F_SEAL_SHRINK);
  test_assert(ftruncate(m, 0) == -1 && errno == EPERM);
  test_assert(close(m) == 0);

  int fd = open("f", O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  test_assert(fd >= 0);
  write_all(fd, "abcdef", 6);
  test_assert(posix_fadvise(fd, 0, 6, POSIX_FADV_SEQUENTIAL) == 0);
  test_assert(flock(fd, LOCK_EX | LOCK_NB) == 0);
  test_assert(flock(fd, LOCK_UN) == 0);
  struct statx sx;
  test_assert(statx(AT_FDCWD, "f", AT_SYMLINK_NOFOLLOW, STATX_SIZE | STATX_MODE, &sx) == 0);
  test_assert(sx.stx_size == 6);
  struct termios t;
  test_assert(ioctl(fd, TCGETS, &t) == -1 && errno == ENOTTY);
  test_assert(dup3(fd, 30, O_CLOEXEC) == 30);
  test_assert(dup3(fd, fd, 0) == -1 && errno == EINVAL);

  int p[2];
  test_assert(pipe2(p, O_CLOEXEC) == 0);
  write_all(p[1], "xyz", 3);
  int avail = 0;
  test_assert(ioctl(p[0], FIONREAD, &avail) == 0 && avail == 3);

  int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  test_assert(in >= 0);
  int wd = inotify_add_watch(in, ".", IN_CREATE | IN_DELETE);
  test_assert(wd >= 0);
  test_assert(inotify_rm_watch(in, wd) == 0);
  test_assert(close(in) == 0);

  test_assert(syscall(SYS_close_range, 30, 30, 0) == 0);
  test_assert(close(30) == -1 && errno == EBADF);
  test_assert(close(p[0]) == 0 && close(p[1]) == 0 && close(fd) == 0);
  test_assert(unlink("f") == 0);
  test_pass();
  return 0;
}
