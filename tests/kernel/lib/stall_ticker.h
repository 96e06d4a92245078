// A thread that measures, from inside a process, how long the whole process was stopped: it reads
// CLOCK_MONOTONIC in a loop and keeps the largest gap between two reads. Shared by the snapshot
// kernel-test target and the snapshot benchmark target.
//   stall_spin = 1 before starting: spin instead of sleeping 100 us between reads (resolution
//   ~100 ns instead of ~0.2 ms, costs a CPU).
//   stall_take(): the largest gap in ns since the previous call, including the gap still open
//   (a stop that just ended may not have been seen by the ticker yet when the caller asks).
#pragma once

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

static int stall_spin;
static _Atomic int64_t stall_max_gap_ns;
static _Atomic int stall_reset;
static _Atomic int64_t stall_last_ns;  // the ticker's latest clock read

static inline int64_t stall_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void* stall_ticker(void* arg) {
  (void)arg;
  int64_t last = stall_now_ns();
  atomic_store(&stall_last_ns, last);
  struct timespec nap = {0, 100000};
  for (;;) {
    if (!stall_spin) nanosleep(&nap, NULL);
    int64_t t = stall_now_ns();
    int64_t gap = t - last;
    last = t;
    atomic_store(&stall_last_ns, t);
    if (atomic_exchange(&stall_reset, 0)) atomic_store(&stall_max_gap_ns, 0);
    if (gap > atomic_load(&stall_max_gap_ns)) atomic_store(&stall_max_gap_ns, gap);
  }
  return NULL;
}

static inline int64_t stall_take(void) {
  int64_t g = atomic_load(&stall_max_gap_ns);
  int64_t open = stall_now_ns() - atomic_load(&stall_last_ns);
  if (open > g) g = open;
  atomic_store(&stall_reset, 1);
  return g;
}
