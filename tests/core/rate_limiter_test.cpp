// SPDX-License-Identifier: MIT
#include "core/rate_limiter.h"

#include <doctest/doctest.h>

using chatd::core::RateLimiter;

TEST_CASE("rate limiter: a burst, then the sustained rate, with the wait until the next token") {
  RateLimiter r(10, 3);  // 10 a second, 3 at once
  int64_t retry = 0;
  for (int i = 0; i < 3; ++i) CHECK(r.Take(7, 1000, &retry));
  CHECK_FALSE(r.Take(7, 1000, &retry));
  CHECK(retry == 101);  // 100 ms for a token, rounded up
  CHECK(r.Take(8, 1000, &retry));  // keys are independent
  CHECK_FALSE(r.Take(7, 1099, &retry));
  CHECK(r.Take(7, 1100, &retry));
  CHECK(r.Take(7, 1300, &retry));
  CHECK(r.Take(7, 1300, &retry));
  CHECK_FALSE(r.Take(7, 1300, &retry));
  CHECK(r.Take(7, 9000, &retry));  // refilled, but never beyond the burst
  CHECK(r.Take(7, 9000, &retry));
  CHECK(r.Take(7, 9000, &retry));
  CHECK_FALSE(r.Take(7, 9000, &retry));
}

TEST_CASE("rate limiter: a released bucket is kept until it is full, then forgotten") {
  RateLimiter r(1, 2);
  int64_t retry = 0;
  CHECK(r.Take(1, 0, &retry));
  CHECK(r.Take(1, 0, &retry));
  r.Release(1);
  r.Prune(1000);
  CHECK(r.size() == 1);  // one token back, not two: still remembered
  CHECK_FALSE(r.Take(1, 500, &retry));  // no fresh burst for coming back
  r.Prune(2001);  // full again: forgetting it changes nothing
  CHECK(r.size() == 0);
  CHECK(r.Take(1, 2001, &retry));
  CHECK(r.Take(1, 2001, &retry));
  CHECK_FALSE(r.Take(1, 2001, &retry));
  r.Release(1);
  CHECK(r.Take(2, 2001, &retry));  // spent again after release: kept until full
  r.Prune(3000);
  CHECK(r.size() == 2);
  r.Prune(5000);
  CHECK(r.size() == 1);  // key 2 was never released
}
