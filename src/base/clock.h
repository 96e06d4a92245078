// Clocks. Trace timestamps are CLOCK_MONOTONIC nanoseconds; a trace header records one
// (monotonic, realtime) pair so readers can show wall-clock times.
#pragma once

#include <time.h>

#include <cstdint>

namespace clonebot::base {

inline uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

inline uint64_t RealtimeNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace clonebot::base
