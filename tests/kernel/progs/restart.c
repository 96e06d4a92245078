/* Syscall restart: a blocking read with an SA_RESTART handler (ERESTARTSYS, then the read
 * runs again), the same without SA_RESTART (EINTR), nanosleep with a handler (EINTR even
 * with SA_RESTART), and a nanosleep hit by a SIGCHLD whose action is the default (ignore):
 * natively nothing happens, under a tracer the signal still stops the sleeper and the
 * sleep resumes through restart_syscall (strace: ERESTART_RESTARTBLOCK). The SIGALRMs come
 * from a 20 ms itimer armed just before the blocking call, the SIGCHLD from a child that
 * exits 20 ms after the fork, so each lands while the call blocks. */
#include "test_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

static int pipefd[2];
static volatile sig_atomic_t fired;

static void on_alarm(int sig) {
  (void)sig;
  fired++;
  if (write(pipefd[1], "x", 1) != 1) _exit(3);
}

static void arm(long usec) {
  struct itimerval it = {.it_interval = {0, 0}, .it_value = {0, usec}};
  test_assert(setitimer(ITIMER_REAL, &it, NULL) == 0);
}

static void handle(int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_alarm;
  sa.sa_flags = flags;
  test_assert(sigaction(SIGALRM, &sa, NULL) == 0);
}

int main(void) {
  test_assert(pipe2(pipefd, O_CLOEXEC) == 0);
  char c;

  handle(SA_RESTART);
  arm(20000);
  test_assert(read(pipefd[0], &c, 1) == 1 && c == 'x'); /* restarted, then succeeds */
  test_assert(fired == 1);

  handle(0);
  arm(20000);
  test_assert(read(pipefd[0], &c, 1) == -1 && errno == EINTR);
  test_assert(fired == 2);
  test_assert(read(pipefd[0], &c, 1) == 1); /* the byte the handler wrote */

  handle(SA_RESTART);
  arm(20000);
  struct timespec ts = {0, 100000000}; /* 100 ms, resumed after the handler */
  test_assert(nanosleep(&ts, NULL) == -1 && errno == EINTR);
  test_assert(fired == 3);
  test_assert(read(pipefd[0], &c, 1) == 1);

  pid_t pid = fork();
  test_assert(pid >= 0);
  if (pid == 0) {
    struct timespec t = {0, 20000000};
    nanosleep(&t, NULL);
    _exit(0);
  }
  struct timespec longer = {0, 200000000};
  test_assert(nanosleep(&longer, NULL) == 0); /* SIGCHLD is ignored: the sleep completes */
  int status;
  test_assert(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
  atomic_printf("fired=%d\n", (int)fired);
  test_pass();
  return 0;
}
