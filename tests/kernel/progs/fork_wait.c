/* fork, child exit statuses, wait4/waitid, getpid/getppid across the fork. */
#include "test_util.h"

#include <sys/wait.h>

int main(void) {
  pid_t parent = getpid();
  pid_t child = fork();
  test_assert(child >= 0);
  if (child == 0) {
    test_assert(getppid() == parent);
    _exit(3);
  }
  int status = 0;
  test_assert(waitpid(child, &status, 0) == child);
  test_assert(WIFEXITED(status) && WEXITSTATUS(status) == 3);

  pid_t c2 = fork();
  test_assert(c2 >= 0);
  if (c2 == 0) _exit(0);
  siginfo_t si;
  memset(&si, 0, sizeof(si));
  test_assert(waitid(P_PID, c2, &si, WEXITED) == 0);
  test_assert(si.si_pid == c2 && si.si_code == CLD_EXITED && si.si_status == 0);
  test_assert(waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD);
  atomic_puts("children reaped");
  test_pass();
  return 0;
}
