// snap_target: a process whose memory the snapshot tests know byte for byte.
//
//   snap_target NPAGES [--threads T] [--spin] [--tag WORD]
//
// (--tag is ignored: it makes a test's instance findable in /proc/*/cmdline.)
// Maps NPAGES anonymous private pages (between two PROT_NONE guard pages, so the region is one
// VMA of exactly NPAGES pages that never merges with a neighbour; THP off, so an untouched page
// is really absent) and fills page i with pattern(0, i), except:
//   i % 8 == 0  never touched (not present; reads as zeros)
//   i % 8 == 1  written with zeros (present, all zero)
// pattern(seed, i) is a splitmix64 stream keyed by (seed, i); tests/kernel/snapshot/pattern.py
// computes the same bytes. Prints "READY <hex addr> <npages>", then answers one line per command
// read from stdin:
//   W <seed> <i> ...   rewrite pages i... with pattern(seed, i)        -> OK
//   Z <i> ...          madvise(MADV_DONTNEED) pages i...                -> OK
//   N <npages> [dontfork|wipeonfork]
//                      map a second region (guarded like the first), with that madvise,
//                      page i = pattern(77, i)                          -> OK <hex addr>
//   U                  unmap the region made by N                       -> OK
//   S                  largest gap seen by the ticker thread since the
//                      last S (how long this process was stopped)       -> STALL <ns>
//   C                  SIGCHLDs received, zombie and live children      -> SIGCHLD <n> ZOMBIES <z> CHILDREN <c>
//   T                  iterations of each --threads thread              -> THREADS <n0> <n1> ...
//   Q                  exit 0
// The ticker sleeps 100 us between clock reads (cheap on a shared 2-CPU machine; resolution
// ~0.2 ms); with --spin it spins on clock_gettime (resolution ~100 ns, costs a CPU).
// --threads T adds T threads, by kind i % 4: 0 nanosleep loop (also feeds kinds 1 and 2),
// 1 blocked in read() on a pipe, 2 blocked in pthread_cond_wait (futex), 3 busy writing a
// counter into its own private page.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
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

static inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Page |i| of seed |seed|: word j (little endian) = mix64(s0 + (j + 1) * GOLDEN),
// s0 = mix64(mix64(seed) + i).
static void fill_pattern(uint8_t* page, uint64_t seed, uint64_t i) {
  uint64_t s = mix64(mix64(seed) + i);
  uint64_t* w = (uint64_t*)page;
  for (size_t j = 0; j < page_size / 8; j++) {
    s += 0x9e3779b97f4a7c15ULL;
    w[j] = mix64(s);
  }
}

static void die(const char* what) {
  fprintf(stderr, "snap_target: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
  va_end(ap);
  if (n < 0 || n > (int)sizeof buf - 2) n = sizeof buf - 2;
  buf[n++] = '\n';
  for (int off = 0; off < n;) {
    ssize_t w = write(1, buf + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) exit(3);
    off += w;
  }
}

// A region of n pages between two PROT_NONE guard pages.
static uint8_t* map_guarded(size_t n) {
  uint8_t* p = mmap(NULL, (n + 2) * page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) die("mmap");
  uint8_t* r = p + page_size;
  if (mprotect(r, n * page_size, PROT_READ | PROT_WRITE)) die("mprotect");
  madvise(r, n * page_size, MADV_NOHUGEPAGE);
  return r;
}

static void unmap_guarded(uint8_t* r, size_t n) {
  if (munmap(r - page_size, (n + 2) * page_size)) die("munmap");
}

// --- ticker: measures how long the whole process was stopped ---

// --- SIGCHLD counter and children ---
static volatile sig_atomic_t sigchld_count;
static void on_sigchld(int sig) { (void)sig; sigchld_count++; }

static void count_children(int* zombies, int* live) {
  *zombies = *live = 0;
  DIR* d = opendir("/proc/self/task");
  if (!d) return;
  struct dirent* e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[300];
    snprintf(path, sizeof path, "/proc/self/task/%s/children", e->d_name);
    FILE* f = fopen(path, "r");
    if (!f) continue;
    int pid;
    while (fscanf(f, "%d", &pid) == 1) {
      char sp[64], st[512];
      snprintf(sp, sizeof sp, "/proc/%d/stat", pid);
      FILE* s = fopen(sp, "r");
      char state = '?';
      if (s) {
        if (fgets(st, sizeof st, s)) {
          char* rp = strrchr(st, ')');
          if (rp && rp[1] == ' ') state = rp[2];
        }
        fclose(s);
      }
      if (state == 'Z' || state == 'X') (*zombies)++;
      else (*live)++;
    }
    fclose(f);
  }
  closedir(d);
}

// --- --threads ---
#define MAX_THREADS 64
static int nthreads;
static _Atomic uint64_t thread_iters[MAX_THREADS];
static int feed_pipe[2];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static uint64_t cv_seq;

static void* worker(void* arg) {
  int idx = (int)(intptr_t)arg;
  switch (idx % 4) {
    case 0: {  // nanosleep loop; feeds the pipe reader and the condvar waiter
      struct timespec nap = {0, 2000000};
      for (;;) {
        while (nanosleep(&nap, NULL) && errno == EINTR) {
        }
        char c = 'x';
        if (write(feed_pipe[1], &c, 1) < 0 && errno != EAGAIN) die("write pipe");
        pthread_mutex_lock(&mu);
        cv_seq++;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
        atomic_fetch_add(&thread_iters[idx], 1);
      }
    }
    case 1: {  // blocked in read()
      for (;;) {
        char buf[64];
        ssize_t r = read(feed_pipe[0], buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) die("read pipe");
        atomic_fetch_add(&thread_iters[idx], 1);
      }
    }
    case 2: {  // blocked in futex wait
      pthread_mutex_lock(&mu);
      uint64_t seen = cv_seq;
      for (;;) {
        while (cv_seq == seen) pthread_cond_wait(&cv, &mu);
        seen = cv_seq;
        atomic_fetch_add(&thread_iters[idx], 1);
      }
    }
    default: {  // busy writing its own private page
      volatile uint64_t* page = (volatile uint64_t*)map_guarded(1);
      for (uint64_t k = 0;; k++) {
        page[k % (page_size / 8)] = k;
        if ((k & 0xffff) == 0) atomic_fetch_add(&thread_iters[idx], 1);
      }
    }
  }
  return NULL;
}

// --- stdin line reader (read(2) directly: survives EINTR, no stdio state) ---
static char inbuf[1 << 16];
static size_t inlen;

static char* next_line(void) {
  for (;;) {
    char* nl = memchr(inbuf, '\n', inlen);
    if (nl) {
      *nl = 0;
      return inbuf;
    }
    if (inlen == sizeof inbuf - 1) return NULL;
    ssize_t r = read(0, inbuf + inlen, sizeof inbuf - 1 - inlen);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return NULL;
    inlen += r;
  }
}

static void consume_line(size_t used) {
  memmove(inbuf, inbuf + used, inlen - used);
  inlen -= used;
}

int main(int argc, char** argv) {
  page_size = sysconf(_SC_PAGESIZE);
  if (argc < 2) {
    fprintf(stderr, "usage: snap_target NPAGES [--threads T] [--spin] [--tag WORD]\n");
    return 2;
  }
  size_t npages = strtoull(argv[1], NULL, 0);
  for (int a = 2; a < argc; a++) {
    if (!strcmp(argv[a], "--threads") && a + 1 < argc) nthreads = atoi(argv[++a]);
    else if (!strcmp(argv[a], "--spin")) stall_spin = 1;
    else if (!strcmp(argv[a], "--tag") && a + 1 < argc) a++;  // ignored: names this instance
    else {
      fprintf(stderr, "snap_target: unknown argument %s\n", argv[a]);
      return 2;
    }
  }
  if (npages == 0 || nthreads < 0 || nthreads > MAX_THREADS) {
    fprintf(stderr, "snap_target: bad arguments\n");
    return 2;
  }

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigchld;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGCHLD, &sa, NULL);

  uint8_t* region = map_guarded(npages);
  for (size_t i = 0; i < npages; i++) {
    if (i % 8 == 0) continue;
    if (i % 8 == 1) memset(region + i * page_size, 0, page_size);
    else fill_pattern(region + i * page_size, 0, i);
  }

  pthread_t t;
  if (pthread_create(&t, NULL, stall_ticker, NULL)) die("pthread_create");
  if (pipe(feed_pipe)) die("pipe");
  fcntl(feed_pipe[1], F_SETFL, O_NONBLOCK);  // a full pipe (no reader thread) must not block
  for (int i = 0; i < nthreads; i++)
    if (pthread_create(&t, NULL, worker, (void*)(intptr_t)i)) die("pthread_create");

  say("READY %" PRIxPTR " %zu", (uintptr_t)region, npages);

  uint8_t* extra = NULL;
  size_t extra_n = 0;
  char* line;
  while ((line = next_line())) {
    size_t used = strlen(line) + 1;
    char* save = NULL;
    char* cmd = strtok_r(line, " \t", &save);
    char* tok;
    if (!cmd) {
      say("ERR empty");
    } else if (!strcmp(cmd, "W")) {
      tok = strtok_r(NULL, " \t", &save);
      uint64_t seed = tok ? strtoull(tok, NULL, 0) : 0;
      int bad = 0;
      while ((tok = strtok_r(NULL, " \t", &save))) {
        size_t i = strtoull(tok, NULL, 0);
        if (i >= npages) bad = 1;
        else fill_pattern(region + i * page_size, seed, i);
      }
      say(bad ? "ERR page out of range" : "OK");
    } else if (!strcmp(cmd, "Z")) {
      int bad = 0;
      while ((tok = strtok_r(NULL, " \t", &save))) {
        size_t i = strtoull(tok, NULL, 0);
        if (i >= npages || madvise(region + i * page_size, page_size, MADV_DONTNEED)) bad = 1;
      }
      say(bad ? "ERR Z failed" : "OK");
    } else if (!strcmp(cmd, "N")) {
      tok = strtok_r(NULL, " \t", &save);
      size_t n = tok ? strtoull(tok, NULL, 0) : 0;
      const char* advice = strtok_r(NULL, " \t", &save);
      int adv = -1;
      if (advice && !strcmp(advice, "dontfork")) adv = MADV_DONTFORK;
      if (advice && !strcmp(advice, "wipeonfork")) adv = MADV_WIPEONFORK;
      if (extra || n == 0 || (advice && adv < 0)) {
        say("ERR N needs a count, an optional dontfork|wipeonfork, and no region made by N");
      } else {
        extra = map_guarded(n);
        extra_n = n;
        if (adv >= 0 && madvise(extra, n * page_size, adv)) die("madvise");
        for (size_t i = 0; i < n; i++) fill_pattern(extra + i * page_size, 77, i);
        say("OK %" PRIxPTR, (uintptr_t)extra);
      }
    } else if (!strcmp(cmd, "U")) {
      if (!extra) {
        say("ERR no region made by N");
      } else {
        unmap_guarded(extra, extra_n);
        extra = NULL;
        extra_n = 0;
        say("OK");
      }
    } else if (!strcmp(cmd, "S")) {
      int64_t g = stall_take();
      say("STALL %" PRId64, g);
    } else if (!strcmp(cmd, "C")) {
      int z, l;
      count_children(&z, &l);
      say("SIGCHLD %d ZOMBIES %d CHILDREN %d", (int)sigchld_count, z, l);
    } else if (!strcmp(cmd, "T")) {
      char buf[400];
      int off = snprintf(buf, sizeof buf, "THREADS");
      for (int i = 0; i < nthreads && off < (int)sizeof buf - 24; i++)
        off += snprintf(buf + off, sizeof buf - off, " %" PRIu64, atomic_load(&thread_iters[i]));
      say("%s", buf);
    } else if (!strcmp(cmd, "Q")) {
      return 0;
    } else {
      say("ERR unknown command %s", cmd);
    }
    consume_line(used);
  }
  return 0;
}
