// Benchmark workload: N getppid() syscalls (default 5,000,000) through syscall(2), timed inside
// the process (CLOCK_MONOTONIC), so that start-up costs do not count. Prints "NS_PER_CALL x".
//
// With --allow-all-filter it first installs the cheapest seccomp filter there is (one BPF
// instruction: SECCOMP_RET_ALLOW): what any seccomp sandbox costs on this kernel and CPU, the
// floor under which no policy can go.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  long n = 5000000;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--allow-all-filter") == 0) {
      struct sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
      struct sock_fprog prog = {1, allow};
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
          syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
        perror("getppid_timed: seccomp");
        return 1;
      }
    } else {
      n = atol(argv[i]);
    }
  }
  struct timespec a, b;
  for (long i = 0; i < n / 10; i++) syscall(SYS_getppid);  // warm-up
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) syscall(SYS_getppid);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
  printf("NS_PER_CALL %.2f\n", ns / (double)n);
  return 0;
}
