// Benchmark workload: N getppid() syscalls (default 5,000,000) through syscall(2), timed inside
// the process (CLOCK_MONOTONIC), so that start-up costs do not count. Prints "NS_PER_CALL x".
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 5000000;
  struct timespec a, b;
  for (long i = 0; i < n / 10; i++) syscall(SYS_getppid);  // warm-up
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) syscall(SYS_getppid);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
  printf("NS_PER_CALL %.2f\n", ns / (double)n);
  return 0;
}
