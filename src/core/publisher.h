// SPDX-License-Identifier: MIT
//
// core::Publisher: a web site's notifications (POST /api/publish, /push) and its questions
// about presence. A publish is rate-limited per API key (publish-rate, publish-burst: before
// any storage work, so a flood costs nothing), stored through store::SiteStore (which checks
// the key in the same job), then delivered at once to the live sessions of its recipients
// (Router; sessions still catching up get it from their next page, in order). The answer says
// per recipient whether it went to a live connection (delivered) or waits for their next login
// (queued); to everyone, how many users were online. A retry of a cid already published is
// answered the same way, with nothing delivered again.
// Network thread only; every pointer must outlive it.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/online_users.h"
#include "core/presence_map.h"
#include "core/rate_limiter.h"
#include "core/router.h"
#include "store/site_store.h"
#include "util/clock.h"
#include "util/status.h"

namespace chatd::core {

struct PublishOutcome {
  util::Status status;
  int64_t retry_ms = 0;  // rate_limited: when to try again
  store::PublishResult result;
  std::vector<std::string> delivered, queued;  // recipient names (not for everyone)
  int64_t online = 0;                          // everyone: users online when it went out
};

class Publisher {
 public:
  Publisher(double rate, double burst, store::SiteStore* store, Router* router, const PresenceMap* presence,
            const OnlineUsers* online, const util::Clock* clock)
      : limiter_(rate, burst), store_(store), router_(router), presence_(presence), online_(online), clock_(clock) {}

  void Publish(store::PublishRequest req, std::function<void(PublishOutcome&&)> done);
  // The live connections of each user (0: offline), after the key check.
  using PresenceAnswer = std::function<void(const util::Status&, std::vector<std::pair<std::string, int64_t>>)>;
  void Presence(std::string key_hash, std::vector<std::string> names, PresenceAnswer done);
  // Forgets idle rate buckets.
  void Tick() { limiter_.Prune(clock_->MonoMs()); }

 private:
  RateLimiter limiter_;  // per API key (hash)
  store::SiteStore* store_;
  Router* router_;
  const PresenceMap* presence_;
  const OnlineUsers* online_;
  const util::Clock* clock_;
};

}  // namespace chatd::core
