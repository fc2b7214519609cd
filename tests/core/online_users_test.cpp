// SPDX-License-Identifier: MIT
#include "core/online_users.h"

#include <doctest/doctest.h>

using namespace chatd;
using chatd::core::OnlineUsers;

namespace {
store::RoomInfo Room(store::ConvId conv, const std::string& name, std::vector<store::UserId> members) {
  return store::RoomInfo{conv, name, false, std::make_shared<const std::vector<store::UserId>>(std::move(members))};
}
}  // namespace

TEST_CASE("online users: rooms are kept while someone online is in them, and found by name ignoring case") {
  OnlineUsers online;
  auto& ann = online.Get(1);
  auto& ben = online.Get(2);
  online.SetRooms(ann, {Room(10, "General", {1, 2}), Room(11, "ann-only", {1})});
  online.AddRoom(ben, Room(10, "General", {1, 2}));
  CHECK(online.rooms_tracked() == 2);
  CHECK(online.RoomOf(ann, "general") != nullptr);
  CHECK(online.RoomOf(ben, "ann-only") == nullptr);  // not his
  online.UpdateRoom(Room(10, "General", {1, 2, 3}));
  CHECK(online.Room(10)->members->size() == 3);
  online.UpdateRoom(Room(99, "nobody", {5}));  // nobody online is in it: not kept
  CHECK(online.Room(99) == nullptr);
  online.RemoveRoom(ann, 11);
  CHECK(online.rooms_tracked() == 1);
  online.Erase(1);
  CHECK(online.rooms_tracked() == 1);  // ben still has General
  online.Erase(2);
  CHECK(online.rooms_tracked() == 0);
  // Online names, ignoring case.
  online.SetOnline(store::UserInfo{7, "Carol", false});
  REQUIRE(online.Named("CAROL"));
  CHECK(*online.Named("carol") == 7);
  online.SetOffline(store::UserInfo{7, "Carol", false});
  CHECK_FALSE(online.Named("carol"));
}
