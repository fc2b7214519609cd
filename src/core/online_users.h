// SPDX-License-Identifier: MIT
//
// core::OnlineUsers: what the core knows of the users who are logged in (and of those whose
// going offline is not yet announced): their name, their rooms and 1:1 partners (who sees their
// presence), whether others were told they are online, when they last typed. It also holds the
// rooms those users are in, each counted by how many of them have it: a room nobody online is
// in is dropped, so memory follows who is online, not how many rooms exist.
// Names of online users map to their ids (ignoring case) for typing, which is not stored.
// Network thread only.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "store/types.h"

namespace chatd::core {

struct OnlineUser {
  std::string name;
  bool announced = false;                      // others were told this user is online
  std::vector<store::ConvId> rooms;            // rooms the user is in (tracked)
  std::unordered_set<store::UserId> partners;  // 1:1 conversation partners
  int64_t last_typing_ms = -1'000'000;
};

class OnlineUsers {
 public:
  OnlineUser* Find(store::UserId user);
  const OnlineUser* Find(store::UserId user) const;
  // The user's entry, made when missing.
  OnlineUser& Get(store::UserId user) { return users_[user]; }
  // Forgets the user, and the rooms only they kept.
  void Erase(store::UserId user);

  // The user's rooms are exactly `rooms` (a fresh list from the store).
  void SetRooms(OnlineUser& u, const std::vector<store::RoomInfo>& rooms);
  void AddRoom(OnlineUser& u, const store::RoomInfo& room);
  void RemoveRoom(OnlineUser& u, store::ConvId conv);
  // A newer snapshot of a room (members changed); ignored for rooms nobody online is in.
  void UpdateRoom(const store::RoomInfo& room);
  const store::RoomInfo* Room(store::ConvId conv) const;
  // The user's room called `name` (ignoring case), if they are in it.
  const store::RoomInfo* RoomOf(const OnlineUser& u, std::string_view name) const;
  size_t rooms_tracked() const { return rooms_.size(); }

  // Online names (ignoring case).
  void SetOnline(const store::UserInfo& user);
  void SetOffline(const store::UserInfo& user);
  std::optional<store::UserId> Named(std::string_view name) const;

 private:
  struct TrackedRoom {
    store::RoomInfo info;
    int online = 0;  // online users with it in their rooms
  };
  std::unordered_map<store::UserId, OnlineUser> users_;
  std::unordered_map<store::ConvId, TrackedRoom> rooms_;
  std::unordered_map<std::string, store::UserId> names_;  // folded name -> user (online)
};

}  // namespace chatd::core
