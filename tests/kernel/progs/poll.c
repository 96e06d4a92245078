/* poll and ppoll on pipes: a timeout-0 poll with nothing ready, a ready read end,
 * POLLHUP after the writer closes, and select. */
#include "test_util.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/select.h>

int main(void) {
  int p[2];
  test_assert(pipe2(p, O_CLOEXEC) == 0);
  struct pollfd pf = {.fd = p[0], .events = POLLIN};
  test_assert(poll(&pf, 1, 0) == 0);
  write_all(p[1], "x", 1);
  test_assert(poll(&pf, 1, 1000) == 1 && (pf.revents & POLLIN));
  struct timespec ts = {0, 0};
  struct pollfd two[2] = {{.fd = p[0], .events = POLLIN}, {.fd = p[1], .events = POLLOUT}};
  test_assert(ppoll(two, 2, &ts, NULL) == 2);
  fd_set rfds;
  FD_ZERO(&rfds);
  FD_SET(p[0], &rfds);
  struct timeval tv = {0, 0};
  test_assert(select(p[0] + 1, &rfds, NULL, NULL, &tv) == 1);
  char c;
  test_assert(read(p[0], &c, 1) == 1);
  test_assert(close(p[1]) == 0);
  test_assert(poll(&pf, 1, 1000) == 1 && (pf.revents & POLLHUP));
  test_assert(close(p[0]) == 0);
  test_pass();
  return 0;
}
