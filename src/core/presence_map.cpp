// SPDX-License-Identifier: MIT
#include "core/presence_map.h"

#include <algorithm>

namespace chatd::core {

bool PresenceMap::Add(store::UserId user, SessionId sid) {
  auto& list = users_[user];
  if (std::find(list.begin(), list.end(), sid) != list.end()) return false;
  list.push_back(sid);
  ++sessions_;
  return list.size() == 1;
}

bool PresenceMap::Remove(store::UserId user, SessionId sid) {
  auto it = users_.find(user);
  if (it == users_.end()) return false;
  auto& list = it->second;
  auto pos = std::find(list.begin(), list.end(), sid);
  if (pos == list.end()) return false;
  list.erase(pos);
  --sessions_;
  if (!list.empty()) return false;
  users_.erase(it);
  return true;
}

const std::vector<SessionId>& PresenceMap::Sessions(store::UserId user) const {
  static const std::vector<SessionId> kNone;
  auto it = users_.find(user);
  return it == users_.end() ? kNone : it->second;
}

}  // namespace chatd::core
