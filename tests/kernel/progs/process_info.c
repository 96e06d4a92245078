/* Identity and limits: get*id, uname, umask, prctl name, getrlimit/setrlimit, getpriority,
 * sched_yield, sched_getaffinity, getcpu-free calls only (results are the same every run). */
#include "test_util.h"

#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>

int main(void) {
  test_assert(getuid() == geteuid());
  test_assert(getgid() == getegid());
  struct utsname u;
  test_assert(uname(&u) == 0 && strcmp(u.sysname, "Linux") == 0);
  mode_t old = umask(027);
  test_assert(umask(old) == 027);
  test_assert(prctl(PR_SET_NAME, "cbk-proc", 0, 0, 0) == 0);
  char name[16] = {0};
  test_assert(prctl(PR_GET_NAME, name, 0, 0, 0) == 0 && strcmp(name, "cbk-proc") == 0);
  struct rlimit rl;
  test_assert(getrlimit(RLIMIT_NOFILE, &rl) == 0);
  struct rlimit lower = {64, rl.rlim_max};
  test_assert(setrlimit(RLIMIT_NOFILE, &lower) == 0);
  test_assert(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur == 64);
  errno = 0;
  test_assert(getpriority(PRIO_PROCESS, 0) != -1 || errno == 0);
  test_assert(sched_yield() == 0);
  cpu_set_t set;
  test_assert(sched_getaffinity(0, sizeof(set), &set) == 0);
  test_assert(prctl(12345, 0, 0, 0, 0) == -1 && errno == EINVAL);
  test_pass();
  return 0;
}
