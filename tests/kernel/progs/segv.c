/* A program that dies of SIGSEGV (no core dump: RLIMIT_CORE is set to 0). The trace shows
 * the signal delivery and "+++ killed by SIGSEGV +++"; the status is 139. */
#include "test_util.h"

#include <sys/resource.h>

int main(void) {
  struct rlimit rl = {0, 0};
  test_assert(setrlimit(RLIMIT_CORE, &rl) == 0);
  atomic_puts("about to fault");
  volatile int* bad = (volatile int*)16;
  *bad = 1;
  atomic_puts("FAILED: survived SIGSEGV");
  return 1;
}
