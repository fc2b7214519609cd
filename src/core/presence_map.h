// SPDX-License-Identifier: MIT
//
// core::PresenceMap: who is online, in memory: user -> the live sessions (devices) of that user.
// Add() reports whether the user just came online (first session), Remove() whether they just
// went offline (last session). The grace period that hides quick reconnects lives in
// ChatService, which decides when to announce. Network thread only.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "core/outbox.h"
#include "store/types.h"

namespace chatd::core {

class PresenceMap {
 public:
  // Returns true if this is the user's first live session.
  bool Add(store::UserId user, SessionId sid);
  // Returns true if that was the user's last live session. Unknown pairs are ignored (false).
  bool Remove(store::UserId user, SessionId sid);

  bool Online(store::UserId user) const { return users_.count(user) != 0; }
  // The user's live sessions (empty if offline). The reference is valid until the next change.
  const std::vector<SessionId>& Sessions(store::UserId user) const;
  size_t users() const { return users_.size(); }
  size_t sessions() const { return sessions_; }
  const std::unordered_map<store::UserId, std::vector<SessionId>>& all() const { return users_; }

 private:
  std::unordered_map<store::UserId, std::vector<SessionId>> users_;
  size_t sessions_ = 0;
};

}  // namespace chatd::core
