/* TCP on 127.0.0.1 with an ephemeral port: bind/listen/getsockname/connect/accept,
 * setsockopt/getsockopt, send/recv, shutdown, ECONNREFUSED on a closed port. */
#include "test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

int main(void) {
  int srv = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  test_assert(srv >= 0);
  int one = 1;
  test_assert(setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  test_assert(bind(srv, (struct sockaddr*)&addr, sizeof(addr)) == 0);
  test_assert(listen(srv, 8) == 0);
  socklen_t len = sizeof(addr);
  test_assert(getsockname(srv, (struct sockaddr*)&addr, &len) == 0);
  test_assert(addr.sin_port != 0);

  int cli = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  test_assert(cli >= 0);
  test_assert(setsockopt(cli, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0);
  test_assert(connect(cli, (struct sockaddr*)&addr, sizeof(addr)) == 0);
  struct sockaddr_in peer;
  socklen_t plen = sizeof(peer);
  int conn = accept(srv, (struct sockaddr*)&peer, &plen);
  test_assert(conn >= 0);
  test_assert(peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK));

  test_assert(send(cli, "GET / HTTP/1.0\r\n\r\n", 18, 0) == 18);
  char buf[64];
  int got = 0;
  while (got < 18) {
    ssize_t r = recv(conn, buf + got, sizeof(buf) - (size_t)got, 0);
    test_assert(r > 0);
    got += (int)r;
  }
  test_assert(memcmp(buf, "GET / HTTP/1.0\r\n\r\n", 18) == 0);
  int val = 0;
  socklen_t vlen = sizeof(val);
  test_assert(getsockopt(cli, IPPROTO_TCP, TCP_NODELAY, &val, &vlen) == 0 && val != 0);
  test_assert(shutdown(cli, SHUT_WR) == 0);
  test_assert(recv(conn, buf, sizeof(buf), 0) == 0);
  test_assert(close(conn) == 0 && close(cli) == 0 && close(srv) == 0);

  /* The listener is gone: connecting to its port is refused. */
  int c2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  test_assert(connect(c2, (struct sockaddr*)&addr, sizeof(addr)) == -1 && errno == ECONNREFUSED);
  test_assert(close(c2) == 0);
  test_pass();
  return 0;
}
