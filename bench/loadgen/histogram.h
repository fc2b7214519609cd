// SPDX-License-Identifier: MIT
//
// A log-linear latency histogram in nanoseconds (the HdrHistogram idea, written small): values
// below 64 get a bucket each; above that every power of two is split into 32 equal buckets, so
// a recorded value is off by at most 1/32 (3.1 %). Recording is a shift and an increment, with no
// allocation. Values up to 2^40 ns (about 18 minutes) are kept; larger ones land in the top bucket.
// Single-threaded; Merge() combines histograms from several connections or processes, and the
// struct is trivially copyable so it can live in memory shared between processes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace chatd::bench {

class Histogram {
 public:
  static constexpr int kSubBits = 6;
  static constexpr int kHalf = 1 << (kSubBits - 1);
  static constexpr int kMaxExp = 40 - kSubBits + 1;
  static constexpr size_t kBuckets = static_cast<size_t>((kMaxExp + 2) * kHalf);

  void Record(int64_t ns);
  void Merge(const Histogram& other);
  void Reset();

  uint64_t count() const { return count_; }
  int64_t max() const { return max_; }
  int64_t min() const { return count_ ? min_ : 0; }
  double MeanNs() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }

  // The value below which a fraction q (0..1) of the recordings fall: the upper edge of the
  // bucket holding that rank, capped by the largest value seen. 0 when empty.
  int64_t Percentile(double q) const;

 private:
  static size_t Index(uint64_t v);
  static uint64_t UpperEdge(size_t index);

  uint64_t buckets_[kBuckets] = {};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  int64_t max_ = 0;
  int64_t min_ = INT64_MAX;
};

}  // namespace chatd::bench
