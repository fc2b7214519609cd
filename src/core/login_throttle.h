// SPDX-License-Identifier: MIT
//
// core::LoginThrottle: makes password guessing slow without locking anyone out.
// It counts failed password checks per client address and per (account, address) pair. Each
// key may fail a few times freely; past that, every further failure doubles the wait before
// the next attempt from that key is checked at all (1 s, 2 s, 4 s ... up to a minute), and a
// key that has not failed for a while is forgotten. An attempt that must wait is refused at
// once, without hashing anything. The owner of an account, logging in from an address that
// has not failed on it, is never delayed by an attack on it from elsewhere.
// IPv6 addresses count by their /64 (one host usually holds the whole prefix). Memory is
// bounded: at most `max_keys` keys, the least recently failed ones dropped first.
// Time is monotonic ms from the caller. Network thread only.
#pragma once

#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

namespace chatd::core {

class LoginThrottle {
 public:
  struct Options {
    int free_per_address = 10;  // failures from one address before waits begin
    int free_per_pair = 3;      // failures on one account from one address before waits begin
    int64_t first_wait_ms = 1000;
    int64_t max_wait_ms = 60'000;
    int64_t forget_after_ms = 15 * 60'000;  // a key that has not failed for this long starts over
    size_t max_keys = 20'000;
  };

  LoginThrottle() : LoginThrottle(Options{}) {}
  explicit LoginThrottle(Options options) : options_(options) {}

  // 0 if a password for `account` from `address` may be checked now, else how many ms until
  // it may. `account` is compared ignoring case.
  int64_t WaitMs(std::string_view address, std::string_view account, int64_t now_ms) const;
  // A check failed (wrong password or no such account).
  void Failed(std::string_view address, std::string_view account, int64_t now_ms);
  // A check succeeded: the pair starts over (the address's count does not: it may be guessing
  // at other accounts too).
  void Succeeded(std::string_view address, std::string_view account);

  // The key an address counts under ("2001:db8:1:2::/64" for IPv6).
  static std::string AddressKey(std::string_view address);

  size_t size() const { return keys_.size(); }

 private:
  struct Entry {
    int failures = 0;
    int64_t last_ms = 0;
    int64_t next_ms = 0;  // no check before this
  };
  using Lru = std::list<std::pair<std::string, Entry>>;

  int64_t WaitOf(const std::string& key, int64_t now_ms) const;
  void Fail(const std::string& key, int free, int64_t now_ms);

  Options options_;
  Lru lru_;  // most recently failed first
  std::unordered_map<std::string, Lru::iterator> keys_;
};

}  // namespace chatd::core
