/* fork + execve of this same binary (via /proc/self/exe) with an argument; the child's
 * exit status comes back through wait4. Also a failing execve (ENOENT). */
#include "test_util.h"

#include <sys/wait.h>

extern char** environ;

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "child") == 0) {
    atomic_puts("in exec'd child");
    return 5;
  }
  char* bad[] = {"nonexistent", NULL};
  test_assert(execve("./nonexistent-binary", bad, environ) == -1 && errno == ENOENT);
  pid_t pid = fork();
  test_assert(pid >= 0);
  if (pid == 0) {
    char* args[] = {argv[0], "child", NULL};
    execve("/proc/self/exe", args, environ);
    _exit(99);
  }
  int status;
  test_assert(wait4(pid, &status, 0, NULL) == pid);
  test_assert(WIFEXITED(status) && WEXITSTATUS(status) == 5);
  test_pass();
  return 0;
}
