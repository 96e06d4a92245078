/* Time: nanosleep, clock_nanosleep, clock_gettime (through the syscall, not the vDSO),
 * clock_getres, a one-shot timerfd read. */
#include "test_util.h"

#include <stdint.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>

int main(void) {
  struct timespec req = {0, 2000000}; /* 2 ms */
  test_assert(nanosleep(&req, NULL) == 0);
  test_assert(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL) == 0);
  struct timespec a, b;
  test_assert(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &a) == 0);
  test_assert(syscall(SYS_clock_gettime, CLOCK_REALTIME, &b) == 0);
  test_assert(syscall(SYS_clock_getres, CLOCK_MONOTONIC, &b) == 0);
  test_assert(syscall(SYS_clock_gettime, 1234, &b) == -1 && errno == EINVAL);

  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  test_assert(tfd >= 0);
  struct itimerspec its = {.it_interval = {0, 0}, .it_value = {0, 3000000}};
  test_assert(timerfd_settime(tfd, 0, &its, NULL) == 0);
  uint64_t expirations = 0;
  test_assert(read(tfd, &expirations, sizeof(expirations)) == 8);
  test_assert(expirations == 1);
  test_assert(close(tfd) == 0);
  atomic_printf("expirations=%llu\n", (unsigned long long)expirations);
  test_pass();
  return 0;
}
