// sb_probe: one escape attempt or limit probe per mode, run natively and inside `clonebot run`
// by sandbox_test.py. Prints one result line "RESULT <mode> <value>" and exits 0, unless the
// mode is about exit statuses. Raw syscalls and write(2) only (no stdio buffering surprises).
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void result(const char* mode, const char* fmt, long v) {
  char buf[256];
  int n = snprintf(buf, sizeof buf, "RESULT %s ", mode);
  n += snprintf(buf + n, sizeof buf - n, fmt, v);
  buf[n++] = '\n';
  write(1, buf, n);
}

// errno name or "ok".
static const char* en(int rc) {
  if (rc >= 0) return "ok";
  return strerrorname_np(errno);
}

static void say(const char* mode, const char* s) {
  char buf[256];
  int n = snprintf(buf, sizeof buf, "RESULT %s %s\n", mode, s);
  write(1, buf, n);
}

// Opens |path| through io_uring (IORING_OP_OPENAT). Returns the CQE result or -errno of setup.
static int uring_openat(const char* path) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  int fd = (int)syscall(__NR_io_uring_setup, 4, &p);
  if (fd < 0) return -errno;
  size_t sq_sz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  size_t cq_sz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  char* sq = mmap(0, sq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
  char* cq = mmap(0, cq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
  struct io_uring_sqe* sqes = mmap(0, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                                   MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) return -errno;
  unsigned* tail = (unsigned*)(sq + p.sq_off.tail);
  unsigned* array = (unsigned*)(sq + p.sq_off.array);
  unsigned mask = *(unsigned*)(sq + p.sq_off.ring_mask);
  unsigned idx = *tail & mask;
  memset(&sqes[idx], 0, sizeof sqes[idx]);
  sqes[idx].opcode = IORING_OP_OPENAT;
  sqes[idx].fd = AT_FDCWD;
  sqes[idx].addr = (unsigned long)path;
  sqes[idx].open_flags = O_RDONLY | O_NOCTTY;
  array[idx] = idx;
  __atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
  if (syscall(__NR_io_uring_enter, fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0) return -errno;
  unsigned* chead = (unsigned*)(cq + p.cq_off.head);
  struct io_uring_cqe* cqes = (struct io_uring_cqe*)(cq + p.cq_off.cqes);
  unsigned cmask = *(unsigned*)(cq + p.cq_off.ring_mask);
  return cqes[*chead & cmask].res;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const char* mode = argv[1];
  const char* arg = argc > 2 ? argv[2] : "";

  if (!strcmp(mode, "pids")) {  // how many processes can we see in /proc; can we signal ARG?
    DIR* d = opendir("/proc");
    long n = 0;
    struct dirent* e;
    while (d && (e = readdir(d)) != NULL)
      if (e->d_name[0] >= '0' && e->d_name[0] <= '9') n++;
    result("visible", "%ld", n);
    say("kill", en(kill(atoi(arg), 0)));
    result("mypid", "%ld", getpid());
  } else if (!strcmp(mode, "write")) {  // create ARG
    int fd = open(arg, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    say("write", en(fd));
  } else if (!strcmp(mode, "connect")) {  // TCP connect to 127.0.0.1:ARG
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) { say("connect", en(s)); return 0; }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(arg))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    say("connect", en(connect(s, (struct sockaddr*)&a, sizeof a)));
  } else if (!strcmp(mode, "memhog")) {  // touch ARG MiB, 1 MiB at a time
    long mib = atol(arg);
    for (long i = 0; i < mib; i++) {
      char* p = malloc(1 << 20);
      if (!p) { say("memhog", "ENOMEM"); return 3; }
      memset(p, 1, 1 << 20);
    }
    say("memhog", "survived");
  } else if (!strcmp(mode, "forkbomb")) {  // fork until refused; children sleep
    long n = 0, refused = 0;
    for (int i = 0; i < 100000; i++) {
      pid_t p = fork();
      if (p == 0) { pause(); _exit(0); }
      if (p < 0) { refused++; if (refused > 100) break; continue; }
      n++;
    }
    result("forked", "%ld", n);
    result("refused", "%ld", refused);
    pause();  // the sandbox's time limit ends it
  } else if (!strcmp(mode, "cpu")) {  // spin ARG ms of wall time with 2 threads' worth: report cpu/wall
    long ms = atol(arg);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t kid = fork();
    do clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
    if (kid == 0) _exit(0);
    waitpid(kid, NULL, 0);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    struct rusage rc;
    getrusage(RUSAGE_CHILDREN, &rc);
    long cpu = (ru.ru_utime.tv_sec + rc.ru_utime.tv_sec + ru.ru_stime.tv_sec + rc.ru_stime.tv_sec) * 1000 +
               (ru.ru_utime.tv_usec + rc.ru_utime.tv_usec + ru.ru_stime.tv_usec + rc.ru_stime.tv_usec) / 1000;
    result("cpu_permille", "%ld", cpu * 1000 / ms);
  } else if (!strcmp(mode, "socket")) {
    say("socket", en(socket(AF_INET, SOCK_STREAM, 0)));
  } else if (!strcmp(mode, "openat")) {  // openat(ARG) directly, then through io_uring
    say("openat", en(open(arg, O_RDONLY | O_NOCTTY)));
    int r = uring_openat(arg);
    if (r >= 0) say("uring_openat", "ok");
    else { errno = -r; say("uring_openat", en(-1)); }
  } else if (!strcmp(mode, "ptrace")) {  // PTRACE_ATTACH to ARG
    say("ptrace", en((int)ptrace(PTRACE_ATTACH, atoi(arg), 0, 0)));
  } else if (!strcmp(mode, "cgroup")) {  // write our pid into the cgroup.procs at ARG
    int fd = open(arg, O_WRONLY);
    if (fd < 0) { say("cgroup", en(fd)); return 0; }
    char b[32];
    int n = snprintf(b, sizeof b, "%d\n", getpid());
    say("cgroup", en((int)write(fd, b, n)));
  } else if (!strcmp(mode, "exit")) {
    return atoi(arg);
  } else if (!strcmp(mode, "signal")) {
    kill(getpid(), atoi(arg));
    pause();
  } else if (!strcmp(mode, "waitsig")) {  // report the first of SIGTERM/SIGUSR1 received
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGUSR1);
    sigprocmask(SIG_BLOCK, &s, NULL);
    say("ready", "1");
    int sig = 0;
    sigwait(&s, &sig);
    result("got", "%ld", sig);
  } else {
    return 2;
  }
  return 0;
}
