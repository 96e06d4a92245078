/* epoll: create1/ctl ADD, MOD, DEL/wait with data ready and with timeout 0, EEXIST. */
#include "test_util.h"

#include <fcntl.h>
#include <sys/epoll.h>

int main(void) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  test_assert(ep >= 0);
  int p[2];
  test_assert(pipe2(p, O_CLOEXEC) == 0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 42};
  test_assert(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0);
  test_assert(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == -1 && errno == EEXIST);
  struct epoll_event out[4];
  test_assert(epoll_wait(ep, out, 4, 0) == 0);
  write_all(p[1], "e", 1);
  test_assert(epoll_wait(ep, out, 4, 1000) == 1 && out[0].data.u64 == 42);
  ev.events = EPOLLIN | EPOLLET;
  ev.data.u64 = 7;
  test_assert(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev) == 0);
  test_assert(epoll_pwait(ep, out, 4, 1000, NULL) == 1 && out[0].data.u64 == 7);
  test_assert(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL) == 0);
  test_assert(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL) == -1 && errno == ENOENT);
  test_assert(close(p[0]) == 0 && close(p[1]) == 0 && close(ep) == 0);
  test_pass();
  return 0;
}
