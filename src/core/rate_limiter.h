// SPDX-License-Identifier: MIT
//
// core::RateLimiter: token buckets per key (a user): `rate` tokens a second refill a bucket of
// `burst`; an action takes one token, or is refused with the wait until one is back.
// Buckets outlive their user's connections: a reconnect must not hand out a fresh burst.
// Release() marks a key idle (its user went offline); Prune() then forgets its bucket once it
// has refilled, which changes nothing (a missing bucket is a full one), so memory stays
// bounded by who acted recently. Time is monotonic ms from the caller. Network thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <unordered_map>

namespace chatd::core {

class RateLimiter {
 public:
  RateLimiter(double rate, double burst) : rate_(rate), burst_(burst) {}

  // Takes one token of `key`. False when the bucket is empty; *retry_ms then says how long
  // until a token is back.
  bool Take(uint64_t key, int64_t now_ms, int64_t* retry_ms);
  // `key` is idle now: Prune() may forget its bucket once it is full again.
  void Release(uint64_t key);
  // Forgets the buckets of released keys that are full by `now_ms`.
  void Prune(int64_t now_ms);

  size_t size() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    int64_t last_ms = 0;
  };
  int64_t FullAt(const Bucket& b) const;

  double rate_, burst_;
  std::unordered_map<uint64_t, Bucket> buckets_;
  std::multimap<int64_t, uint64_t> expiry_;  // when a released key's bucket is full
};

}  // namespace chatd::core
