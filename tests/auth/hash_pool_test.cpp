// SPDX-License-Identifier: MIT
#include "auth/hash_pool.h"

#include <doctest/doctest.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace chatd;

TEST_CASE("hash pool: lanes are served in turn, so one lane's flood never runs ahead of another's job") {
  util::CompletionQueue completions;
  std::mutex mu;
  std::vector<std::string> order;
  std::mutex gate;
  gate.lock();  // holds the one thread on its first job until everything is queued
  {
    auth::HashPool pool(&completions, 1, 256, 4);
    auto job = [&](std::string name, bool wait) {
      return [&, name, wait] {
        if (wait) std::lock_guard hold(gate);
        std::lock_guard lock(mu);
        order.push_back(name);
      };
    };
    REQUIRE(pool.Submit("attacker", job("a0", true), [] {}));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a0 is running
    int accepted = 0;
    for (int i = 1; i < 10; ++i) accepted += pool.Submit("attacker", job("a" + std::to_string(i), false), [] {});
    CHECK(accepted == 4);  // the lane holds 4
    REQUIRE(pool.Submit("owner", job("owner", false), [] {}));
    gate.unlock();
  }  // the destructor finishes the queue
  REQUIRE(order.size() == 6);
  CHECK(order[0] == "a0");
  CHECK(order[1] == "a1");     // the attacker's lane had its turn first...
  CHECK(order[2] == "owner");  // ...then the owner's, before the rest of the flood
  CHECK(completions.Drain() == 6);
}

TEST_CASE("hash pool: the whole pool is bounded too") {
  util::CompletionQueue completions;
  std::mutex gate;
  gate.lock();
  {
    auth::HashPool pool(&completions, 1, 8, 4);
    int accepted = 0;
    for (int i = 0; i < 20; ++i) {
      accepted += pool.Submit("lane" + std::to_string(i), [&] { std::lock_guard hold(gate); }, [] {});
    }
    CHECK(accepted >= 8);
    CHECK(accepted <= 9);  // 8 queued, and perhaps one the thread took already
    gate.unlock();
  }
}
