// SPDX-License-Identifier: MIT
//
// util::Clock: the only source of time for core and store (tests inject ManualClock).
// NowMs() is wall-clock milliseconds since the Unix epoch (what `ts` on the wire carries);
// MonoMs() is a monotonic millisecond counter for timeouts and rate limits.
// SystemClock is stateless and thread-safe. ManualClock is for single-threaded tests.
#pragma once

#include <chrono>
#include <cstdint>

namespace chatd::util {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMs() const = 0;
  virtual int64_t MonoMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
  int64_t MonoMs() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_ms = 1'700'000'000'000) : now_(now_ms), mono_(1'000'000) {}
  int64_t NowMs() const override { return now_; }
  int64_t MonoMs() const override { return mono_; }
  void Advance(int64_t ms) {
    now_ += ms;
    mono_ += ms;
  }

 private:
  int64_t now_;
  int64_t mono_;
};

}  // namespace chatd::util
