/* Vectored and zero-copy I/O: writev/readv, preadv/pwritev, sendfile, copy_file_range. */
#include "test_util.h"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/uio.h>

int main(void) {
  int fd = open("v.txt", O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
  test_assert(fd >= 0);
  struct iovec w[3] = {{"one ", 4}, {"two ", 4}, {"three\n", 6}};
  test_assert(writev(fd, w, 3) == 14);
  test_assert(lseek(fd, 0, SEEK_SET) == 0);
  char a[4], b[10];
  struct iovec r[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
  test_assert(readv(fd, r, 2) == 14);
  test_assert(memcmp(a, "one ", 4) == 0 && memcmp(b, "two three\n", 10) == 0);
  struct iovec pw[1] = {{"ONE", 3}};
  test_assert(pwritev(fd, pw, 1, 0) == 3);
  struct iovec pr[1] = {{a, 3}};
  test_assert(preadv(fd, pr, 1, 0) == 3 && memcmp(a, "ONE", 3) == 0);

  int out = open("copy.txt", O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
  test_assert(out >= 0);
  off_t off = 0;
  test_assert(sendfile(out, fd, &off, 14) == 14 && off == 14);
  int out2 = open("copy2.txt", O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
  test_assert(out2 >= 0);
  loff_t in_off = 4;
  test_assert(copy_file_range(fd, &in_off, out2, NULL, 10, 0) == 10);
  test_assert(close(out2) == 0 && close(out) == 0 && close(fd) == 0);
  test_assert(unlink("v.txt") == 0 && unlink("copy.txt") == 0 && unlink("copy2.txt") == 0);
  test_pass();
  return 0;
}
