// SPDX-License-Identifier: MIT
#include "core/presence_announcer.h"

#include <algorithm>
#include <unordered_set>

#include "proto/frames.h"

namespace chatd::core {

template <typename Fn>
void PresenceAnnouncer::ForEachWatcher(store::UserId user, const OnlineUser& u, Fn fn) {
  // Each online user sharing a room or a 1:1 conversation with `user`, once. The cost is the
  // size of those rooms plus the partners: the people who can see the change.
  std::unordered_set<store::UserId> seen;
  auto visit = [&](store::UserId other) {
    if (other == user || !presence_->Online(other) || !seen.insert(other).second) return;
    fn(other);
  };
  for (store::UserId p : u.partners) visit(p);
  for (store::ConvId conv : u.rooms) {
    const store::RoomInfo* room = online_->Room(conv);
    if (!room || !room->members || online_->Large(*room)) continue;
    for (store::UserId m : *room->members) visit(m);
  }
}

void PresenceAnnouncer::Announce(store::UserId user, const OnlineUser& u, bool online) {
  Frame frame;
  ForEachWatcher(user, u, [&](store::UserId other) {
    if (told_this_tick_.insert(other).second) {
      if (!frame) frame = MakeFrame(proto::EncodePresence(u.name, online));
      router_->EventToUser(other, frame);
    } else {
      waiting_[other].emplace_back(u.name, online);
    }
  });
  if (on_announce_) on_announce_(u, online);
}

void PresenceAnnouncer::Flush() {
  told_this_tick_.clear();
  for (auto& [other, changes] : waiting_) {
    // The latest state of each user, in the order of their first change.
    std::unordered_map<std::string, size_t> at;
    std::vector<std::pair<std::string, bool>> latest;
    for (auto& [name, online] : changes) {
      auto [it, fresh] = at.emplace(name, latest.size());
      if (fresh) {
        latest.emplace_back(std::move(name), online);
      } else {
        latest[it->second].second = online;
      }
    }
    router_->EventToUser(other, MakeFrame(latest.size() == 1 ? proto::EncodePresence(latest[0].first, latest[0].second)
                                                             : proto::EncodePresenceList(latest)));
    told_this_tick_.insert(other);
  }
  waiting_.clear();
}

void PresenceAnnouncer::CameOnline(store::UserId user, OnlineUser& u) {
  if (pending_offline_.erase(user) == 0 && !u.announced) Announce(user, u, true);
  u.announced = true;
}

void PresenceAnnouncer::WentOffline(store::UserId user) {
  OnlineUser* u = online_->Find(user);
  if (!u) return;
  if (!u->announced) {
    online_->Erase(user);  // nobody was told: nothing to take back
    return;
  }
  pending_offline_[user] = clock_->MonoMs() + grace_ms_;
  if (grace_ms_ == 0) Tick();
}

void PresenceAnnouncer::Tick() {
  Flush();
  int64_t now = clock_->MonoMs();
  for (auto it = pending_offline_.begin(); it != pending_offline_.end();) {
    if (it->second > now) {
      ++it;
      continue;
    }
    store::UserId user = it->first;
    it = pending_offline_.erase(it);
    if (presence_->Online(user)) continue;  // came back in time: nothing to say
    OnlineUser* u = online_->Find(user);
    if (!u) continue;
    Announce(user, *u, false);
    online_->Erase(user);
  }
}

void PresenceAnnouncer::NewConversation(store::UserId a, store::UserId b) {
  if (a == b) return;
  OnlineUser* ua = online_->Find(a);
  OnlineUser* ub = online_->Find(b);
  bool new_for_a = ua && ua->partners.insert(b).second;
  bool new_for_b = ub && ub->partners.insert(a).second;
  if (new_for_a && ub && presence_->Online(b)) router_->EventToUser(a, MakeFrame(proto::EncodePresence(ub->name, true)));
  if (new_for_b && ua && presence_->Online(a)) router_->EventToUser(b, MakeFrame(proto::EncodePresence(ua->name, true)));
}

std::vector<std::string> PresenceAnnouncer::OnlineContacts(store::UserId user, const OnlineUser& u) {
  std::vector<std::string> names;
  ForEachWatcher(user, u, [&](store::UserId other) {
    if (const OnlineUser* o = online_->Find(other)) names.push_back(o->name);
  });
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace chatd::core
