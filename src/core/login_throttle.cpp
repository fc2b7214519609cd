// SPDX-License-Identifier: MIT
#include "core/login_throttle.h"

#include <arpa/inet.h>

#include <algorithm>

#include "proto/names.h"

namespace chatd::core {

namespace {

// Keys: "a " + address for an address, "p " + address + " " + lower-case account for a pair.
std::string PairKey(const std::string& address, std::string_view account) {
  return "p " + address + " " + proto::FoldName(account);
}

}  // namespace

std::string LoginThrottle::AddressKey(std::string_view address) {
  std::string text(address);
  in6_addr a6{};
  if (text.find(':') == std::string::npos || inet_pton(AF_INET6, text.c_str(), &a6) != 1) return "a " + text;
  if (IN6_IS_ADDR_V4MAPPED(&a6)) {
    char v4[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a6.s6_addr[12], v4, sizeof v4);
    return std::string("a ") + v4;
  }
  for (int i = 8; i < 16; ++i) a6.s6_addr[i] = 0;
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, &a6, buf, sizeof buf);
  return std::string("a ") + buf + "/64";
}

int64_t LoginThrottle::WaitOf(const std::string& key, int64_t now_ms) const {
  auto it = keys_.find(key);
  if (it == keys_.end()) return 0;
  const Entry& e = it->second->second;
  if (now_ms - e.last_ms >= options_.forget_after_ms) return 0;
  return std::max<int64_t>(0, e.next_ms - now_ms);
}

int64_t LoginThrottle::WaitMs(std::string_view address, std::string_view account, int64_t now_ms) const {
  std::string a = AddressKey(address);
  return std::max(WaitOf(a, now_ms), WaitOf(PairKey(a, account), now_ms));
}

void LoginThrottle::Fail(const std::string& key, int free, int64_t now_ms) {
  auto it = keys_.find(key);
  if (it == keys_.end()) {
    if (keys_.size() >= options_.max_keys) {
      keys_.erase(lru_.back().first);
      lru_.pop_back();
    }
    lru_.emplace_front(key, Entry{});
    it = keys_.emplace(key, lru_.begin()).first;
  } else {
    lru_.splice(lru_.begin(), lru_, it->second);
  }
  Entry& e = it->second->second;
  if (now_ms - e.last_ms >= options_.forget_after_ms) e = Entry{};
  e.failures += 1;
  e.last_ms = now_ms;
  int over = e.failures - free;
  if (over > 0) {
    int64_t wait = options_.first_wait_ms;
    for (int i = 1; i < over && wait < options_.max_wait_ms; ++i) wait *= 2;
    e.next_ms = now_ms + std::min(wait, options_.max_wait_ms);
  }
}

void LoginThrottle::Failed(std::string_view address, std::string_view account, int64_t now_ms) {
  std::string a = AddressKey(address);
  Fail(a, options_.free_per_address, now_ms);
  Fail(PairKey(a, account), options_.free_per_pair, now_ms);
}

void LoginThrottle::Succeeded(std::string_view address, std::string_view account) {
  auto it = keys_.find(PairKey(AddressKey(address), account));
  if (it == keys_.end()) return;
  lru_.erase(it->second);
  keys_.erase(it);
}

}  // namespace chatd::core
