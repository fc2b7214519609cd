// SPDX-License-Identifier: MIT
#include "core/rate_limiter.h"

#include <algorithm>

namespace chatd::core {

bool RateLimiter::Take(uint64_t key, int64_t now_ms, int64_t* retry_ms) {
  auto [it, fresh] = buckets_.try_emplace(key, Bucket{burst_, now_ms});
  Bucket& b = it->second;
  if (!fresh) {
    b.tokens = std::min(burst_, b.tokens + static_cast<double>(now_ms - b.last_ms) * rate_ / 1000.0);
    b.last_ms = now_ms;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  *retry_ms = static_cast<int64_t>((1.0 - b.tokens) * 1000.0 / rate_) + 1;
  return false;
}

int64_t RateLimiter::FullAt(const Bucket& b) const {
  double missing = burst_ - b.tokens;
  return b.last_ms + (missing > 0 ? static_cast<int64_t>(missing * 1000.0 / rate_) + 1 : 0);
}

void RateLimiter::Release(uint64_t key) {
  auto b = buckets_.find(key);
  if (b != buckets_.end()) expiry_.emplace(FullAt(b->second), key);
}

void RateLimiter::Prune(int64_t now_ms) {
  while (!expiry_.empty() && expiry_.begin()->first <= now_ms) {
    uint64_t key = expiry_.begin()->second;
    expiry_.erase(expiry_.begin());
    auto b = buckets_.find(key);
    if (b == buckets_.end()) continue;
    int64_t full_at = FullAt(b->second);
    if (full_at <= now_ms) {
      buckets_.erase(b);
    } else {
      expiry_.emplace(full_at, key);  // spent again since it was released
    }
  }
}

}  // namespace chatd::core
