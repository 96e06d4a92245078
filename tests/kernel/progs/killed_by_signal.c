/* A program that dies of SIGKILL sent to itself: the harness expects status 137 natively
 * and under the tracer, and "+++ killed by SIGKILL +++" in the trace. */
#include "test_util.h"

#include <signal.h>

int main(void) {
  atomic_puts("about to be killed");
  kill(getpid(), SIGKILL);
  atomic_puts("FAILED: survived SIGKILL");
  return 1;
}
