/* futex, single-threaded so every result is deterministic: WAIT on a changed value
 * (EAGAIN), WAIT with a timeout (ETIMEDOUT), WAKE with no waiters (0), bad op (ENOSYS). */
#include "test_util.h"

#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>

static long futex(uint32_t* uaddr, int op, uint32_t val, const struct timespec* ts) {
  return syscall(SYS_futex, uaddr, op, val, ts, NULL, 0);
}

int main(void) {
  static uint32_t word = 1;
  test_assert(futex(&word, FUTEX_WAIT_PRIVATE, 0, NULL) == -1 && errno == EAGAIN);
  struct timespec ts = {0, 1000000}; /* 1 ms */
  test_assert(futex(&word, FUTEX_WAIT_PRIVATE, 1, &ts) == -1 && errno == ETIMEDOUT);
  test_assert(futex(&word, FUTEX_WAKE_PRIVATE, 1, NULL) == 0);
  test_assert(futex(&word, FUTEX_WAKE, 10, NULL) == 0);
  test_assert(futex(&word, 99, 0, NULL) == -1 && errno == ENOSYS);
  test_pass();
  return 0;
}
