// SPDX-License-Identifier: MIT
//
// core::OnlineUsers: what the core knows of the users who are logged in (and of those whose
// going offline is not yet announced): their name, their rooms and 1:1 partners (who sees their
// presence), whether others were told they are online, when they last typed. It also holds the
// rooms those users are in, each counted by how many of them have it: a room nobody online is
// in is dropped, so memory follows who is online, not how many rooms exist.
// Names of online users map to their ids (ignoring case) for typing, which is not stored.
// A room with more members than `large_room` is large: its tracked counts (members, online
// users in it) are what its members are told, and a change of them marks it for the next
// counts round (TakeChangedLarge) instead of an event per change.
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
  explicit OnlineUsers(size_t large_room = 500) : large_room_(large_room) {}

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

  bool Large(const store::RoomInfo& room) const { return room.members && room.members->size() > large_room_; }
  // Online users (and those whose going offline is not yet announced) in a tracked room.
  int64_t OnlineIn(store::ConvId conv) const;
  // The large rooms whose counts changed since the last call, still tracked; forgets them.
  std::vector<store::ConvId> TakeChangedLarge();

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
  size_t large_room_;
  std::unordered_set<store::ConvId> changed_large_;
  void Changed(const TrackedRoom& room) {
    if (Large(room.info)) changed_large_.insert(room.info.conv);
  }
};

}  // namespace chatd::core
