/* pthread_create/join: two threads each do a known syscall sequence and report through
 * a pipe. Whether pthread_join needs a futex wait depends on timing, so the harness
 * ignores futex for this test (futex.c covers futex deterministically). */
#include "test_util.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>

static int pipefd[2];

static void* worker(void* arg) {
  long id = (long)arg;
  pid_t tid = (pid_t)syscall(SYS_gettid);
  test_assert(tid != getpid());
  char c = (char)('0' + id);
  write_all(pipefd[1], &c, 1);
  return (void*)(id * 10);
}

int main(void) {
  test_assert(pipe2(pipefd, O_CLOEXEC) == 0);
  pthread_t t;
  void* ret;
  for (long id = 1; id <= 2; id++) {
    test_assert(pthread_create(&t, NULL, worker, (void*)id) == 0);
    char c;
    read_all(pipefd[0], &c, 1);
    test_assert(c == (char)('0' + id));
    test_assert(pthread_join(t, &ret) == 0);
    test_assert((long)ret == id * 10);
  }
  atomic_puts("threads joined");
  test_pass();
  return 0;
}
