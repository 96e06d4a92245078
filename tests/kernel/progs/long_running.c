/* For the tracer-death tests: runs until killed, doing a steady stream of syscalls
 * (getppid + a 1 ms nanosleep + a write to a file in the cwd). With an argument N it
 * stops after N iterations and prints EXIT-SUCCESS. It writes its state transitions to
 * stdout only at start and end, so its output stays deterministic. */
#include "test_util.h"

#include <fcntl.h>
#include <time.h>

int main(int argc, char** argv) {
  long n = -1; /* forever, unless argv[1] is a number */
  if (argc > 1 && argv[1][0] >= '0' && argv[1][0] <= '9') n = atol(argv[1]);
  int fd = open("heartbeat", O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
  test_assert(fd >= 0);
  atomic_puts("running");
  struct timespec ts = {0, 1000000};
  for (long i = 0; n < 0 || i < n; i++) {
    (void)getppid();
    nanosleep(&ts, NULL);
    char c = 'b';
    test_assert(pwrite(fd, &c, 1, 0) == 1);
  }
  test_assert(close(fd) == 0);
  test_pass();
  return 0;
}
