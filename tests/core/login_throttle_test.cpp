// SPDX-License-Identifier: MIT
#include "core/login_throttle.h"

#include <doctest/doctest.h>

#include <string>

using chatd::core::LoginThrottle;

namespace {
LoginThrottle::Options Small() {
  LoginThrottle::Options o;
  o.free_per_address = 5;
  o.free_per_pair = 2;
  o.first_wait_ms = 1000;
  o.max_wait_ms = 8000;
  o.forget_after_ms = 60'000;
  o.max_keys = 100;
  return o;
}
}  // namespace

TEST_CASE("login throttle: a few free failures per pair, then doubling waits, other addresses are not affected") {
  LoginThrottle t(Small());
  int64_t now = 0;
  CHECK(t.WaitMs("10.0.0.1", "alice", now) == 0);
  t.Failed("10.0.0.1", "alice", now);
  t.Failed("10.0.0.1", "Alice", now);  // names compare ignoring case
  CHECK(t.WaitMs("10.0.0.1", "ALICE", now) == 0);
  t.Failed("10.0.0.1", "alice", now);  // third on the pair: 1 s
  CHECK(t.WaitMs("10.0.0.1", "alice", now) == 1000);
  CHECK(t.WaitMs("10.0.0.1", "bob", now) == 0);     // the address may still try other accounts
  CHECK(t.WaitMs("10.0.0.2", "alice", now) == 0);   // the owner elsewhere is never delayed
  now += 1000;
  t.Failed("10.0.0.1", "alice", now);
  CHECK(t.WaitMs("10.0.0.1", "alice", now) == 2000);
  now += 2000;
  t.Failed("10.0.0.1", "alice", now);  // the fifth from the address: its own free ones are used up too
  CHECK(t.WaitMs("10.0.0.1", "alice", now) == 4000);
  t.Failed("10.0.0.1", "carol", now);  // sixth from the address: 1 s for any account
  CHECK(t.WaitMs("10.0.0.1", "bob", now) == 1000);
  for (int i = 0; i < 10; ++i) t.Failed("10.0.0.1", "alice", now);
  CHECK(t.WaitMs("10.0.0.1", "alice", now) == 8000);  // capped
  // A success clears the pair, not the address.
  t.Succeeded("10.0.0.1", "alice");
  CHECK(t.WaitMs("10.0.0.1", "alice", now) == 8000);
  // Quiet long enough: forgotten.
  CHECK(t.WaitMs("10.0.0.1", "alice", now + 60'000) == 0);
}

TEST_CASE("login throttle: IPv6 counts by /64, memory is bounded, least recently failed dropped first") {
  CHECK(LoginThrottle::AddressKey("2001:db8:1:2:aaaa::1") == LoginThrottle::AddressKey("2001:db8:1:2:bbbb::9"));
  CHECK(LoginThrottle::AddressKey("2001:db8:1:2::1") != LoginThrottle::AddressKey("2001:db8:1:3::1"));
  CHECK(LoginThrottle::AddressKey("::ffff:10.1.2.3") == LoginThrottle::AddressKey("10.1.2.3"));
  LoginThrottle t(Small());
  for (int i = 0; i < 6; ++i) t.Failed("2001:db8:1:2::" + std::to_string(i + 1), "x", 0);
  CHECK(t.WaitMs("2001:db8:1:2::ffff", "y", 0) == 1000);  // one /64, six failures
  for (int i = 0; i < 500; ++i) t.Failed("10.9." + std::to_string(i / 250) + "." + std::to_string(i % 250), "u", 1);
  CHECK(t.size() <= 100);
  CHECK(t.WaitMs("2001:db8:1:2::1", "y", 1) == 0);  // the oldest went first
}
