/* Memory: anonymous mmap, mprotect, madvise, mremap, file-backed MAP_SHARED + msync,
 * munmap, and an mmap failure (EBADF). */
#include "test_util.h"

#include <fcntl.h>
#include <sys/mman.h>

int main(void) {
  const size_t pg = 4096;
  char* p = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  test_assert(p != MAP_FAILED);
  memset(p, 'a', 4 * pg);
  test_assert(mprotect(p + pg, pg, PROT_READ) == 0);
  test_assert(madvise(p + 2 * pg, pg, MADV_DONTNEED) == 0);
  test_assert(p[2 * pg] == 0);
  /* mremap needs one vma: give the page its old protection back first. */
  test_assert(mprotect(p + pg, pg, PROT_READ | PROT_WRITE) == 0);
  char* q = mremap(p, 4 * pg, 8 * pg, MREMAP_MAYMOVE);
  test_assert(q != MAP_FAILED);
  test_assert(q[0] == 'a');
  test_assert(munmap(q, 8 * pg) == 0);

  int fd = open("mapped.bin", O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
  test_assert(fd >= 0);
  test_assert(ftruncate(fd, (off_t)pg) == 0);
  char* f = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  test_assert(f != MAP_FAILED);
  memcpy(f, "mapped", 6);
  test_assert(msync(f, pg, MS_SYNC) == 0);
  test_assert(munmap(f, pg) == 0);
  char buf[6];
  test_assert(pread(fd, buf, 6, 0) == 6 && memcmp(buf, "mapped", 6) == 0);
  test_assert(close(fd) == 0);
  test_assert(unlink("mapped.bin") == 0);

  test_assert(mmap(NULL, pg, PROT_READ, MAP_SHARED, 1000, 0) == MAP_FAILED && errno == EBADF);
  test_assert(mprotect((void*)1, pg, PROT_READ) == -1 && errno == EINVAL);
  test_pass();
  return 0;
}
