/* Directories: mkdir/getdents64/rmdir/chdir/getcwd, with EEXIST, ENOTEMPTY, ENOTDIR. */
#include "test_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

int main(void) {
  test_assert(mkdir("d", 0755) == 0);
  test_assert(mkdir("d", 0755) == -1 && errno == EEXIST);
  test_assert(mkdir("d/sub", 0700) == 0);
  int fd = open("d/file", O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  test_assert(fd >= 0);
  test_assert(close(fd) == 0);
  test_assert(rmdir("d") == -1 && errno == ENOTEMPTY);
  test_assert(rmdir("d/file") == -1 && errno == ENOTDIR);

  /* Raw getdents64 so the byte counts do not depend on libc's buffer size. */
  int dfd = open("d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  test_assert(dfd >= 0);
  char buf[4096];
  int entries = 0;
  for (;;) {
    long n = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
    test_assert(n >= 0);
    if (n == 0) break;
    for (long off = 0; off < n;) {
      struct dirent64* d = (struct dirent64*)(buf + off);
      entries++;
      off += d->d_reclen;
    }
  }
  test_assert(entries == 4); /* ".", "..", "sub", "file" */
  test_assert(close(dfd) == 0);

  char cwd[4096];
  test_assert(getcwd(cwd, sizeof(cwd)) != NULL);
  test_assert(chdir("d/sub") == 0);
  char sub[4096];
  test_assert(getcwd(sub, sizeof(sub)) != NULL);
  test_assert(strlen(sub) == strlen(cwd) + 6);
  test_assert(chdir("..") == 0);
  test_assert(chdir("nope") == -1 && errno == ENOENT);
  test_assert(unlink("file") == 0);
  test_assert(rmdir("sub") == 0);
  test_assert(fchdir(open("..", O_RDONLY | O_DIRECTORY)) == 0);
  test_assert(rmdir("d") == 0);
  atomic_printf("entries=%d\n", entries);
  test_pass();
  return 0;
}
