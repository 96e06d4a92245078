/* SIGCHLD: blocked around fork, then delivered in sigsuspend (EINTR), so where it lands
 * in the parent's syscall sequence is deterministic. */
#include "test_util.h"

#include <signal.h>
#include <sys/wait.h>

static volatile sig_atomic_t got_chld;

static void on_chld(int sig) {
  (void)sig;
  got_chld++;
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_chld;
  test_assert(sigaction(SIGCHLD, &sa, NULL) == 0);
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGCHLD);
  test_assert(sigprocmask(SIG_BLOCK, &block, &old) == 0);
  pid_t pid = fork();
  test_assert(pid >= 0);
  if (pid == 0) _exit(0);
  sigset_t waitmask;
  sigemptyset(&waitmask);
  test_assert(sigsuspend(&waitmask) == -1 && errno == EINTR);
  test_assert(got_chld == 1);
  int status;
  test_assert(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
  atomic_puts("SIGCHLD received");
  test_pass();
  return 0;
}
