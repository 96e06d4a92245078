/* AF_UNIX on a path: socket/bind/listen/connect/accept4/getsockname, EADDRINUSE,
 * ECONNREFUSED, and a datagram socket. All in one process, blocking calls only where
 * the kernel completes them at once. */
#include "test_util.h"

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

static socklen_t set_addr(struct sockaddr_un* a, const char* path) {
  memset(a, 0, sizeof(*a));
  a->sun_family = AF_UNIX;
  strcpy(a->sun_path, path);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

int main(void) {
  struct sockaddr_un addr;
  socklen_t len = set_addr(&addr, "srv.sock");
  int srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  test_assert(srv >= 0);
  test_assert(bind(srv, (struct sockaddr*)&addr, len) == 0);
  test_assert(listen(srv, 4) == 0);

  int dup_srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  test_assert(bind(dup_srv, (struct sockaddr*)&addr, len) == -1 && errno == EADDRINUSE);
  test_assert(close(dup_srv) == 0);

  int cli = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  test_assert(connect(cli, (struct sockaddr*)&addr, len) == 0);
  int conn = accept4(srv, NULL, NULL, SOCK_CLOEXEC);
  test_assert(conn >= 0);
  test_assert(write(cli, "hi", 2) == 2);
  char buf[8];
  test_assert(read(conn, buf, sizeof(buf)) == 2);
  struct sockaddr_un got;
  socklen_t glen = sizeof(got);
  test_assert(getsockname(srv, (struct sockaddr*)&got, &glen) == 0);
  test_assert(strcmp(got.sun_path, "srv.sock") == 0);
  test_assert(close(conn) == 0 && close(cli) == 0 && close(srv) == 0);

  struct sockaddr_un gone;
  socklen_t gone_len = set_addr(&gone, "srv.sock");
  int c2 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  test_assert(connect(c2, (struct sockaddr*)&gone, gone_len) == -1 && errno == ECONNREFUSED);
  test_assert(close(c2) == 0);
  test_assert(unlink("srv.sock") == 0);

  struct sockaddr_un daddr;
  socklen_t dlen = set_addr(&daddr, "dgram.sock");
  int d = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  test_assert(bind(d, (struct sockaddr*)&daddr, dlen) == 0);
  int ds = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  test_assert(sendto(ds, "dgram", 5, 0, (struct sockaddr*)&daddr, dlen) == 5);
  test_assert(recvfrom(d, buf, sizeof(buf), 0, NULL, NULL) == 5);
  test_assert(close(ds) == 0 && close(d) == 0);
  test_assert(unlink("dgram.sock") == 0);
  test_pass();
  return 0;
}
