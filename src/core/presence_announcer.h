// SPDX-License-Identifier: MIT
//
// core::PresenceAnnouncer: tells the users who can see someone (they share a room or a 1:1
// conversation) when that someone comes online (their first session's welcome) and goes
// offline (their last session closed, and the grace period passed without a new one: a quick
// reconnect is not announced at all). A first 1:1 conversation makes the two see each other
// from then on. The cost of an announcement is the number of people who can see it; members
// of a large room (OnlineUsers::Large) do not see each other through it (they get its counts).
// Storms are bounded: a recipient gets at most one presence frame per tick. The first change
// in a tick goes out at once; later ones wait for the next Tick() and go together, one frame
// ({"users":[…]}, the latest state of each user), so that 10,000 users coming back after a
// restart cost each recipient a few frames, not one per contact.
// Network thread only; every pointer must outlive it.
#pragma once

#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/online_users.h"
#include "core/presence_map.h"
#include "core/router.h"
#include "util/clock.h"

namespace chatd::core {

class PresenceAnnouncer {
 public:
  PresenceAnnouncer(const PresenceMap* presence, OnlineUsers* online, Router* router, const util::Clock* clock,
                    int64_t grace_ms)
      : presence_(presence), online_(online), router_(router), clock_(clock), grace_ms_(grace_ms) {}

  // The user's first session was welcomed: announce them, unless they were only away for
  // less than the grace period (then nobody was told they left).
  void CameOnline(store::UserId user, OnlineUser& u);
  // The user's last session closed: announce it after the grace period, if still offline.
  void WentOffline(store::UserId user);
  // Sends what waited for this tick (one frame per recipient), then announces the departures
  // whose grace period is over.
  void Tick();
  // `a` and `b` have a 1:1 conversation now: if it is their first, each sees the other online.
  void NewConversation(store::UserId a, store::UserId b);
  // Called with every announcement made (webhooks: user.online, user.offline).
  void set_on_announce(std::function<void(const OnlineUser&, bool online)> fn) { on_announce_ = std::move(fn); }
  // The names of the online users who can see `user`, sorted (the welcome's `online`).
  std::vector<std::string> OnlineContacts(store::UserId user, const OnlineUser& u);

 private:
  // Calls fn(other) once for every online user who can see `user`.
  template <typename Fn>
  void ForEachWatcher(store::UserId user, const OnlineUser& u, Fn fn);
  void Announce(store::UserId user, const OnlineUser& u, bool online);
  void Flush();

  const PresenceMap* presence_;
  OnlineUsers* online_;
  Router* router_;
  const util::Clock* clock_;
  int64_t grace_ms_;
  std::unordered_map<store::UserId, int64_t> pending_offline_;  // user -> when to announce (monotonic ms)
  std::function<void(const OnlineUser&, bool)> on_announce_;
  std::unordered_set<store::UserId> told_this_tick_;  // recipients who got a presence frame since the last tick
  std::unordered_map<store::UserId, std::vector<std::pair<std::string, bool>>> waiting_;  // for the next tick
};

}  // namespace chatd::core
