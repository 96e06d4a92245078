/* eventfd (counter and semaphore modes) and signalfd reading a blocked SIGALRM from a
 * 1 ms itimer (a kernel-sent signal: the siginfo that read() returns holds no pid, so the
 * bytes in the trace are the same every run). */
#include "test_util.h"

#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/time.h>

int main(void) {
  int efd = eventfd(3, EFD_CLOEXEC | EFD_NONBLOCK);
  test_assert(efd >= 0);
  uint64_t v = 4;
  test_assert(write(efd, &v, sizeof(v)) == 8);
  test_assert(read(efd, &v, sizeof(v)) == 8 && v == 7);
  test_assert(read(efd, &v, sizeof(v)) == -1 && errno == EAGAIN);
  test_assert(close(efd) == 0);
  int sem = eventfd(2, EFD_CLOEXEC | EFD_SEMAPHORE);
  test_assert(read(sem, &v, sizeof(v)) == 8 && v == 1);
  test_assert(close(sem) == 0);

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGALRM);
  test_assert(sigprocmask(SIG_BLOCK, &mask, NULL) == 0);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
  test_assert(sfd >= 0);
  struct itimerval it = {.it_interval = {0, 0}, .it_value = {0, 1000}};
  test_assert(setitimer(ITIMER_REAL, &it, NULL) == 0);
  struct signalfd_siginfo si;
  test_assert(read(sfd, &si, sizeof(si)) == sizeof(si));
  test_assert(si.ssi_signo == SIGALRM && si.ssi_code == SI_KERNEL);
  test_assert(close(sfd) == 0);
  test_pass();
  return 0;
}
