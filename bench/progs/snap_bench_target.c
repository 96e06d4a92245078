// snap_bench_target: the snapshot benchmark's workload (bench/snapshot_bench.py).
//
//   snap_bench_target [MIB=1024] [--spin] [--seed N]
//
// Touches MIB MiB of anonymous private memory with mixed content, page kind chosen by a hash of
// the page index: a quarter zero pages (written with zeros, so present), a quarter repeated
// content (16 distinct page patterns), half random (xorshift64*). Prints "READY <hex addr>
// <npages>", then answers one line per stdin command:
//   W1   rewrite 1% of the pages, chosen at random, with new random content  -> OK <pages>
//   S    largest gap the ticker thread saw since the last S, i.e. how long
//        this process was stopped                                           -> STALL <ns>
//   Q    exit 0
// The ticker sleeps 100 us between clock reads (resolution ~0.2 ms); --spin makes it spin on
// clock_gettime instead (~100 ns resolution, costs a CPU).
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "stall_ticker.h"
#include <unistd.h>

static size_t page_size;
static uint64_t rng = 0x2545f4914f6cdd1dULL;

static inline uint64_t xorshift64s(void) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 0x2545f4914f6cdd1dULL;
}

static inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static void fill_random(uint64_t* w) {
  for (size_t j = 0; j < page_size / 8; j++) w[j] = xorshift64s();
}


int main(int argc, char** argv) {
  page_size = sysconf(_SC_PAGESIZE);
  size_t mib = 1024;
  for (int a = 1; a < argc; a++) {
    if (!strcmp(argv[a], "--spin")) stall_spin = 1;
    else if (!strcmp(argv[a], "--seed") && a + 1 < argc) rng = mix64(strtoull(argv[++a], NULL, 0)) | 1;
    else mib = strtoull(argv[a], NULL, 0);
  }
  size_t npages = mib * 1024 * 1024 / page_size;
  if (npages == 0 || page_size > 65536) {
    fprintf(stderr, "usage: snap_bench_target [MIB] [--spin] [--seed N]\n");
    return 2;
  }
  uint8_t* mem = mmap(NULL, npages * page_size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    perror("mmap");
    return 2;
  }
  static uint64_t repeated[16][65536 / 8];  // pages up to 64 KiB
  for (int k = 0; k < 16; k++) fill_random(repeated[k]);
  for (size_t i = 0; i < npages; i++) {
    uint64_t h = mix64(i);
    uint8_t* p = mem + i * page_size;
    switch (h & 3) {
      case 0: memset(p, 0, page_size); break;
      case 1: memcpy(p, repeated[(h >> 8) & 15], page_size); break;
      default: fill_random((uint64_t*)p); break;
    }
  }
  pthread_t t;
  if (pthread_create(&t, NULL, stall_ticker, NULL)) return 2;
  printf("READY %" PRIxPTR " %zu\n", (uintptr_t)mem, npages);
  fflush(stdout);

  char line[256];
  for (;;) {
    if (!fgets(line, sizeof line, stdin)) {
      if (ferror(stdin) && errno == EINTR) {
        clearerr(stdin);
        continue;
      }
      break;
    }
    if (!strncmp(line, "W1", 2)) {
      size_t n = npages / 100;
      for (size_t k = 0; k < n; k++) fill_random((uint64_t*)(mem + (xorshift64s() % npages) * page_size));
      printf("OK %zu\n", n);
    } else if (line[0] == 'S') {
      int64_t g = stall_take();
      printf("STALL %" PRId64 "\n", g);
    } else if (line[0] == 'Q') {
      return 0;
    } else {
      printf("ERR unknown command\n");
    }
    fflush(stdout);
  }
  return 0;
}
