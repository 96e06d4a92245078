/* The CPU affinity a program sees must not change under the tracer: clonebot runs a spawned
 * command on one CPU, and rewrites sched_getaffinity's result to the mask it had before. After
 * the program sets its own affinity, it sees what it set. */
#include "test_util.h"  /* first: defines _GNU_SOURCE */

#include <sched.h>

int main(void) {
  cpu_set_t set;
  CPU_ZERO(&set);
  test_assert(sched_getaffinity(0, sizeof set, &set) == 0);
  atomic_printf("cpus %d\n", CPU_COUNT(&set));
  int first = -1;
  for (int i = 0; i < CPU_SETSIZE && first < 0; i++)
    if (CPU_ISSET(i, &set)) first = i;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  test_assert(sched_setaffinity(0, sizeof one, &one) == 0);
  CPU_ZERO(&set);
  test_assert(sched_getaffinity(0, sizeof set, &set) == 0);
  atomic_printf("after set: cpus %d, first %d\n", CPU_COUNT(&set), first);
  atomic_puts("EXIT-SUCCESS");
  return 0;
}
