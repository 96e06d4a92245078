/* Signals: sigaction, kill to self, sigprocmask block/pending/unblock, SIG_IGN, sigaltstack. */
#include "test_util.h"

#include <signal.h>

static volatile sig_atomic_t got_usr1, got_usr2;

static void on_usr1(int sig) {
  (void)sig;
  got_usr1++;
}

static void on_usr2(int sig, siginfo_t* si, void* ctx) {
  (void)ctx;
  if (sig == SIGUSR2 && si->si_code == SI_USER) got_usr2++;
}

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_usr1;
  sigemptyset(&sa.sa_mask);
  test_assert(sigaction(SIGUSR1, &sa, NULL) == 0);
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = on_usr2;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  test_assert(sigaction(SIGUSR2, &sa, NULL) == 0);

  test_assert(kill(getpid(), SIGUSR1) == 0);
  test_assert(got_usr1 == 1);

  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  test_assert(sigprocmask(SIG_BLOCK, &set, &old) == 0);
  test_assert(kill(getpid(), SIGUSR2) == 0);
  test_assert(got_usr2 == 0);
  sigset_t pend;
  test_assert(sigpending(&pend) == 0 && sigismember(&pend, SIGUSR2));
  test_assert(sigprocmask(SIG_SETMASK, &old, NULL) == 0);
  test_assert(got_usr2 == 1);

  test_assert(signal(SIGUSR1, SIG_IGN) != SIG_ERR);
  test_assert(kill(getpid(), SIGUSR1) == 0);
  test_assert(got_usr1 == 1);
  test_assert(kill(getpid(), 0) == 0);
  test_assert(kill(getpid(), 12345) == -1 && errno == EINVAL);
  test_assert(sigaction(SIGKILL, &sa, NULL) == -1 && errno == EINVAL);
  atomic_printf("usr1=%d usr2=%d\n", (int)got_usr1, (int)got_usr2);
  test_pass();
  return 0;
}
