/* Pipes: pipe2, a child writing through a pipe, EOF, EPIPE with SIGPIPE ignored,
 * F_GETPIPE_SZ, O_NONBLOCK read on an empty pipe (EAGAIN). */
#include "test_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

int main(void) {
  int p[2];
  test_assert(pipe(p) == 0);
  pid_t pid = fork();
  test_assert(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    write_all(p[1], "from child", 10);
    _exit(0);
  }
  test_assert(close(p[1]) == 0);
  char buf[32];
  read_all(p[0], buf, 10);
  test_assert(memcmp(buf, "from child", 10) == 0);
  test_assert(read(p[0], buf, sizeof(buf)) == 0); /* EOF once the child closed it */
  int status;
  test_assert(waitpid(pid, &status, 0) == pid);
  test_assert(close(p[0]) == 0);

  test_assert(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
  test_assert(read(p[0], buf, sizeof(buf)) == -1 && errno == EAGAIN);
  test_assert(fcntl(p[0], F_GETPIPE_SZ) == 65536);
  test_assert(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
  test_assert(close(p[0]) == 0);
  test_assert(write(p[1], "x", 1) == -1 && errno == EPIPE);
  test_assert(close(p[1]) == 0);
  atomic_puts("pipes ok");
  test_pass();
  return 0;
}
