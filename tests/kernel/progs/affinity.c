/* The CPU affinity a program sees must not change under the tracer: clonebot runs a spawned
 * command on one CPU, and rewrites sched_getaffinity's result to the mask the command had before.
 * The view is per task: a task that set its own affinity sees what it set, and others (here the
 * parent, querying itself and that child) see each task's own truth. */
#include "test_util.h"  /* first: defines _GNU_SOURCE */

#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int count_of(pid_t pid) {
  cpu_set_t set;
  CPU_ZERO(&set);
  test_assert(sched_getaffinity(pid, sizeof set, &set) == 0);
  return CPU_COUNT(&set);
}

int main(void) {
  cpu_set_t set;
  CPU_ZERO(&set);
  test_assert(sched_getaffinity(0, sizeof set, &set) == 0);
  const int all = CPU_COUNT(&set);
  atomic_printf("cpus %d\n", all);
  int first = -1;
  for (int i = 0; i < CPU_SETSIZE && first < 0; i++)
    if (CPU_ISSET(i, &set)) first = i;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);

  /* A child pins itself; the parent's own view must not change, the child's must be one CPU. */
  int ready[2], done[2];
  test_assert(pipe(ready) == 0 && pipe(done) == 0);
  pid_t child = fork();
  test_assert(child >= 0);
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  /* a failed parent must not leave it blocked */
    test_assert(sched_setaffinity(0, sizeof one, &one) == 0);
    close(done[1]);
    test_assert(write(ready[1], "x", 1) == 1);
    char d;
    test_assert(read(done[0], &d, 1) == 0);  /* until the parent closes: no timing involved */
    _exit(0);
  }
  close(done[0]);
  char c;
  test_assert(read(ready[0], &c, 1) == 1);
  atomic_printf("child cpus %d\n", count_of(child));
  atomic_printf("parent cpus %d (want %d)\n", count_of(0), all);
  test_assert(count_of(0) == all);
  close(done[1]);
  test_assert(waitpid(child, NULL, 0) == child);

  test_assert(sched_setaffinity(0, sizeof one, &one) == 0);
  atomic_printf("after set: cpus %d, first %d\n", count_of(0), first);
  atomic_puts("EXIT-SUCCESS");
  return 0;
}
