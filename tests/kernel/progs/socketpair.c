/* AF_UNIX socketpair: send/recv, sendmsg/recvmsg with SCM_RIGHTS, shutdown. */
#include "test_util.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>

int main(void) {
  int sv[2];
  test_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  test_assert(send(sv[0], "ping", 4, 0) == 4);
  char buf[16];
  test_assert(recv(sv[1], buf, sizeof(buf), 0) == 4 && memcmp(buf, "ping", 4) == 0);

  /* Pass an fd across. */
  int pfd[2];
  test_assert(pipe2(pfd, O_CLOEXEC) == 0);
  char cbuf[CMSG_SPACE(sizeof(int))];
  memset(cbuf, 0, sizeof(cbuf));
  struct iovec iov = {.iov_base = "fd", .iov_len = 2};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                       .msg_controllen = sizeof(cbuf)};
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &pfd[1], sizeof(int));
  test_assert(sendmsg(sv[1], &msg, 0) == 2);

  char rbuf[8];
  char rcbuf[CMSG_SPACE(sizeof(int))];
  struct iovec riov = {.iov_base = rbuf, .iov_len = sizeof(rbuf)};
  struct msghdr rmsg = {.msg_iov = &riov, .msg_iovlen = 1, .msg_control = rcbuf,
                        .msg_controllen = sizeof(rcbuf)};
  test_assert(recvmsg(sv[0], &rmsg, MSG_CMSG_CLOEXEC) == 2);
  struct cmsghdr* rc = CMSG_FIRSTHDR(&rmsg);
  test_assert(rc && rc->cmsg_type == SCM_RIGHTS);
  int got;
  memcpy(&got, CMSG_DATA(rc), sizeof(int));
  write_all(got, "via", 3);
  test_assert(read(pfd[0], buf, 3) == 3 && memcmp(buf, "via", 3) == 0);
  test_assert(close(got) == 0);

  test_assert(shutdown(sv[0], SHUT_WR) == 0);
  test_assert(recv(sv[1], buf, sizeof(buf), 0) == 0);
  test_assert(close(sv[0]) == 0 && close(sv[1]) == 0);
  test_pass();
  return 0;
}
