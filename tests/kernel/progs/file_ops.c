/* Files: openat/read/write/lseek/pread/pwrite/fstat/stat/fcntl/dup/ftruncate/rename/unlink,
 * plus the common failures (ENOENT, EEXIST, EBADF). */
#include "test_util.h"

#include <fcntl.h>
#include <sys/stat.h>

int main(void) {
  int fd = open("data.txt", O_CREAT | O_EXCL | O_RDWR, 0644);
  test_assert(fd >= 0);
  test_assert(open("data.txt", O_CREAT | O_EXCL | O_RDWR, 0644) == -1 && errno == EEXIST);
  write_all(fd, "hello, world\n", 13);
  test_assert(lseek(fd, 0, SEEK_CUR) == 13);
  test_assert(lseek(fd, 7, SEEK_SET) == 7);
  char buf[64];
  test_assert(read(fd, buf, sizeof(buf)) == 6);
  test_assert(memcmp(buf, "world\n", 6) == 0);
  test_assert(read(fd, buf, sizeof(buf)) == 0);
  test_assert(pwrite(fd, "HELLO", 5, 0) == 5);
  test_assert(pread(fd, buf, 5, 0) == 5 && memcmp(buf, "HELLO", 5) == 0);

  struct stat st;
  test_assert(fstat(fd, &st) == 0 && st.st_size == 13 && S_ISREG(st.st_mode));
  test_assert(ftruncate(fd, 5) == 0);
  test_assert(stat("data.txt", &st) == 0 && st.st_size == 5);
  test_assert(lstat("missing.txt", &st) == -1 && errno == ENOENT);

  int fl = fcntl(fd, F_GETFL);
  test_assert(fl >= 0 && (fl & O_ACCMODE) == O_RDWR);
  test_assert(fcntl(fd, F_SETFL, fl | O_APPEND) == 0);
  test_assert(fcntl(fd, F_GETFL) & O_APPEND);
  test_assert(fcntl(fd, F_GETFD) == 0);
  test_assert(fcntl(fd, F_SETFD, FD_CLOEXEC) == 0);
  test_assert(fcntl(fd, F_GETFD) == FD_CLOEXEC);
  int fd2 = fcntl(fd, F_DUPFD_CLOEXEC, 10);
  test_assert(fd2 >= 10);
  int fd3 = dup(fd);
  test_assert(fd3 >= 0);
  test_assert(dup2(fd3, 20) == 20);
  test_assert(close(20) == 0);
  test_assert(close(fd3) == 0);
  test_assert(close(fd2) == 0);
  test_assert(close(fd) == 0);
  test_assert(close(fd) == -1 && errno == EBADF);

  test_assert(rename("data.txt", "renamed.txt") == 0);
  test_assert(access("data.txt", F_OK) == -1 && errno == ENOENT);
  test_assert(access("renamed.txt", R_OK | W_OK) == 0);
  test_assert(open("missing.txt", O_RDONLY) == -1 && errno == ENOENT);
  test_assert(unlink("renamed.txt") == 0);
  test_assert(unlink("renamed.txt") == -1 && errno == ENOENT);
  test_pass();
  return 0;
}
