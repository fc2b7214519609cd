// SPDX-License-Identifier: MIT
//
// Time for the load generator: CLOCK_MONOTONIC in nanoseconds. Every process on the machine reads
// the same clock, so a timestamp written into a message by one process can be compared with the
// receiver's clock in another.
#pragma once

#include <time.h>

#include <cstdint>

namespace chatd::bench {

inline int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSec = 1'000'000'000;

inline double ToMs(int64_t ns) { return static_cast<double>(ns) / 1e6; }
inline double ToSec(int64_t ns) { return static_cast<double>(ns) / 1e9; }

}  // namespace chatd::bench
