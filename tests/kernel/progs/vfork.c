/* vfork: the parent is suspended until the child _exits or execs. */
#include "test_util.h"

#include <sys/wait.h>

extern char** environ;

int main(int argc, char** argv) {
  (void)argc;
  (void)argv;
  pid_t pid = vfork();
  test_assert(pid >= 0);
  if (pid == 0) _exit(7);
  int status;
  test_assert(waitpid(pid, &status, 0) == pid);
  test_assert(WIFEXITED(status) && WEXITSTATUS(status) == 7);

  pid = vfork();
  test_assert(pid >= 0);
  if (pid == 0) {
    char* args[] = {"true", NULL};
    execve("/bin/true", args, environ);
    _exit(99);
  }
  test_assert(waitpid(pid, &status, 0) == pid);
  test_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  test_pass();
  return 0;
}
