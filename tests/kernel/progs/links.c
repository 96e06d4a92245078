/* Links and metadata: symlink/readlink, link, chmod/fchmod, utimensat with fixed times,
 * truncate, faccessat2-style access checks, ELOOP on a symlink loop. */
#include "test_util.h"

#include <fcntl.h>
#include <sys/stat.h>

int main(void) {
  int fd = open("target", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  test_assert(fd >= 0);
  write_all(fd, "0123456789", 10);
  test_assert(fchmod(fd, 0600) == 0);
  test_assert(close(fd) == 0);
  test_assert(symlink("target", "sym") == 0);
  char buf[64];
  ssize_t n = readlink("sym", buf, sizeof(buf));
  test_assert(n == 6 && memcmp(buf, "target", 6) == 0);
  test_assert(readlink("target", buf, sizeof(buf)) == -1 && errno == EINVAL);
  test_assert(link("target", "hard") == 0);
  struct stat st;
  test_assert(stat("hard", &st) == 0 && st.st_nlink == 2);
  test_assert(chmod("hard", 0640) == 0);
  struct timespec times[2] = {{1000000000, 0}, {1000000000, 500}};
  test_assert(utimensat(AT_FDCWD, "target", times, 0) == 0);
  test_assert(truncate("sym", 4) == 0);
  test_assert(lstat("sym", &st) == 0 && S_ISLNK(st.st_mode));
  test_assert(stat("sym", &st) == 0 && st.st_size == 4);
  test_assert(symlink("loop2", "loop1") == 0 && symlink("loop1", "loop2") == 0);
  test_assert(open("loop1", O_RDONLY) == -1 && errno == ELOOP);
  test_assert(unlink("loop1") == 0 && unlink("loop2") == 0);
  test_assert(unlink("sym") == 0 && unlink("hard") == 0 && unlink("target") == 0);
  test_pass();
  return 0;
}
