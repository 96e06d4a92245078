/* Kernel-test helpers (rr src/test/util.h style): unbuffered output, test_assert that
 * prints errno, the EXIT-SUCCESS sentinel. Header-only so each program stays one file.
 * Output must be deterministic: never print pids, addresses, times or fd numbers that
 * depend on the environment. */
#ifndef CLONEBOT_TESTS_KERNEL_TEST_UTIL_H
#define CLONEBOT_TESTS_KERNEL_TEST_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Exit code meaning "feature missing here: skip" (ctest SKIP_RETURN_CODE). */
#define TEST_SKIP_CODE 77

/* One write() per message, so lines from several processes never interleave mid-line. */
__attribute__((format(printf, 1, 2))) static inline void atomic_printf(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n >= sizeof(buf)) n = sizeof(buf) - 1;
  ssize_t off = 0;
  while (off < n) {
    ssize_t w = write(STDOUT_FILENO, buf + off, (size_t)(n - off));
    if (w < 0) {
      if (errno == EINTR) continue;
      _exit(2);
    }
    off += w;
  }
}

static inline void atomic_puts(const char* s) { atomic_printf("%s\n", s); }

#define test_assert(cond)                                                                 \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      int saved_errno_ = errno;                                                           \
      atomic_printf("FAILED: %s:%d: %s: errno=%d (%s)\n", __FILE__, __LINE__, #cond,      \
                    saved_errno_, strerror(saved_errno_));                                \
      _exit(1);                                                                           \
    }                                                                                     \
  } while (0)

/* Skip (exit 77) with a reason on stderr when the kernel lacks a feature. */
#define test_skip_if(cond, why)                                                           \
  do {                                                                                    \
    if (cond) {                                                                           \
      atomic_printf("SKIP: %s\n", why);                                                   \
      _exit(TEST_SKIP_CODE);                                                              \
    }                                                                                     \
  } while (0)

static inline void test_pass(void) { atomic_puts("EXIT-SUCCESS"); }

/* Write all of buf to fd, asserting success. */
static inline void write_all(int fd, const void* buf, size_t len) {
  const char* p = (const char*)buf;
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR) continue;
    test_assert(w > 0);
    p += w;
    len -= (size_t)w;
  }
}

/* Read exactly len bytes from fd, asserting success. */
static inline void read_all(int fd, void* buf, size_t len) {
  char* p = (char*)buf;
  while (len > 0) {
    ssize_t r = read(fd, p, len);
    if (r < 0 && errno == EINTR) continue;
    test_assert(r > 0);
    p += r;
    len -= (size_t)r;
  }
}

/* Programs work in their current directory with fixed relative names: the harness runs
 * each one in a fresh scratch directory, so paths in the trace are the same every run. */

#endif
