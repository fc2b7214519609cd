// SPDX-License-Identifier: MIT
#include "histogram.h"

#include <algorithm>
#include <cmath>

namespace chatd::bench {

size_t Histogram::Index(uint64_t v) {
  if (v < (1u << kSubBits)) return static_cast<size_t>(v);
  int msb = 63 - __builtin_clzll(v);
  int e = msb - kSubBits + 1;  // >= 1: the shift that leaves kSubBits significant bits
  if (e > kMaxExp) return kBuckets - 1;
  // (v >> e) is in [kHalf, 2 * kHalf): consecutive powers of two tile the index space.
  return static_cast<size_t>(e) * kHalf + static_cast<size_t>(v >> e);
}

uint64_t Histogram::UpperEdge(size_t index) {
  if (index < (1u << kSubBits)) return index;
  size_t e = index / kHalf - 1;
  uint64_t m = index - e * kHalf;
  return ((m + 1) << e) - 1;
}

void Histogram::Record(int64_t ns) {
  if (ns < 0) ns = 0;
  ++buckets_[Index(static_cast<uint64_t>(ns))];
  ++count_;
  sum_ += static_cast<uint64_t>(ns);
  max_ = std::max(max_, ns);
  min_ = std::min(min_, ns);
}

void Histogram::Merge(const Histogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
  min_ = std::min(min_, other.min_);
}

void Histogram::Reset() { *this = Histogram(); }

int64_t Histogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::min(static_cast<int64_t>(UpperEdge(i)), max_);
  }
  return max_;
}

}  // namespace chatd::bench
