// Clocks. Trace timestamps are CLOCK_MONOTONIC nanoseconds; a trace header records one
// (monotonic, realtime) pair so readers can show wall-clock times.
#pragma once

#include <time.h>

#include <cstdint>
#include <string>

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

// The current UTC time as RFC 3339 / ISO 8601 to the second: "2026-11-30T18:30:58Z".
inline std::string Rfc3339UtcNow() {
  time_t t = time(nullptr);
  tm tmv;
  gmtime_r(&t, &tmv);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tmv);
  return buf;
}

}  // namespace clonebot::base
