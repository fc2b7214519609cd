// SPDX-License-Identifier: MIT
#include "core/online_users.h"

#include <algorithm>

#include "proto/names.h"

namespace chatd::core {

OnlineUser* OnlineUsers::Find(store::UserId user) {
  auto it = users_.find(user);
  return it == users_.end() ? nullptr : &it->second;
}

const OnlineUser* OnlineUsers::Find(store::UserId user) const {
  auto it = users_.find(user);
  return it == users_.end() ? nullptr : &it->second;
}

void OnlineUsers::Erase(store::UserId user) {
  auto it = users_.find(user);
  if (it == users_.end()) return;
  while (!it->second.rooms.empty()) RemoveRoom(it->second, it->second.rooms.back());
  users_.erase(it);
}

void OnlineUsers::SetRooms(OnlineUser& u, const std::vector<store::RoomInfo>& rooms) {
  while (!u.rooms.empty()) RemoveRoom(u, u.rooms.back());
  for (const auto& room : rooms) AddRoom(u, room);
}

void OnlineUsers::AddRoom(OnlineUser& u, const store::RoomInfo& room) {
  TrackedRoom& t = rooms_[room.conv];
  t.info = room;
  if (std::find(u.rooms.begin(), u.rooms.end(), room.conv) == u.rooms.end()) {
    u.rooms.push_back(room.conv);
    ++t.online;
    Changed(t);
  }
}

void OnlineUsers::RemoveRoom(OnlineUser& u, store::ConvId conv) {
  auto mine = std::find(u.rooms.begin(), u.rooms.end(), conv);
  if (mine == u.rooms.end()) return;
  u.rooms.erase(mine);
  auto it = rooms_.find(conv);
  if (it == rooms_.end()) return;
  Changed(it->second);
  if (--it->second.online <= 0) rooms_.erase(it);
}

void OnlineUsers::UpdateRoom(const store::RoomInfo& room) {
  auto it = rooms_.find(room.conv);
  if (it == rooms_.end()) return;
  bool resized = !it->second.info.members || !room.members || it->second.info.members->size() != room.members->size();
  it->second.info = room;
  if (resized) Changed(it->second);
}

int64_t OnlineUsers::OnlineIn(store::ConvId conv) const {
  auto it = rooms_.find(conv);
  return it == rooms_.end() ? 0 : it->second.online;
}

std::vector<store::ConvId> OnlineUsers::TakeChangedLarge() {
  std::vector<store::ConvId> out;
  for (store::ConvId conv : changed_large_) {
    if (rooms_.count(conv)) out.push_back(conv);
  }
  changed_large_.clear();
  std::sort(out.begin(), out.end());
  return out;
}

const store::RoomInfo* OnlineUsers::Room(store::ConvId conv) const {
  auto it = rooms_.find(conv);
  return it == rooms_.end() ? nullptr : &it->second.info;
}

const store::RoomInfo* OnlineUsers::RoomOf(const OnlineUser& u, std::string_view name) const {
  std::string key = proto::FoldName(name);
  for (store::ConvId conv : u.rooms) {
    const store::RoomInfo* room = Room(conv);
    if (room && proto::FoldName(room->name) == key) return room;
  }
  return nullptr;
}

void OnlineUsers::SetOnline(const store::UserInfo& user) { names_[proto::FoldName(user.name)] = user.id; }

void OnlineUsers::SetOffline(const store::UserInfo& user) { names_.erase(proto::FoldName(user.name)); }

std::optional<store::UserId> OnlineUsers::Named(std::string_view name) const {
  auto it = names_.find(proto::FoldName(name));
  if (it == names_.end()) return std::nullopt;
  return it->second;
}

}  // namespace chatd::core
