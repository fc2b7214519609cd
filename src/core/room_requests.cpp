// SPDX-License-Identifier: MIT
#include "core/room_requests.h"

#include "proto/frames.h"

namespace chatd::core {

using util::Status;

void RoomRequests::Join(SessionId sid, Session& session, const proto::Request& req) {
  std::string re = req.id;
  store::UserInfo user = session.user;
  if (!sessions_->Admit(session)) return router_->Busy(sid, re);
  store_->Join(
      store::JoinRequest{user, req.room, req.is_private, clock_->NowMs()},
      sessions_->Guard<store::JoinResult>(sid, [this, sid, re, user](Session&, store::Result<store::JoinResult>&& r) {
        if (!r.status.ok()) {
          router_->Error(sid, re, r.status);
          return;
        }
        const store::RoomInfo& info = r.value.room;
        online_->UpdateRoom(info);
        if (OnlineUser* u = online_->Find(user.id)) online_->AddRoom(*u, info);
        proto::JoinedFrame j{re, info.name, info.is_private, r.value.created,
                             static_cast<int64_t>(info.members->size()), {}};
        bool large = online_->Large(info);
        if (large) {
          j.online_count = online_->OnlineIn(info.conv);
        } else {
          for (store::UserId m : *info.members) {
            const OnlineUser* o = online_->Find(m);
            if (presence_->Online(m) && o) j.online.push_back(o->name);
          }
        }
        router_->Send(sid, proto::EncodeJoined(j));
        if (r.value.already_member) return;
        Frame event = MakeFrame(proto::EncodeMember(info.name, user.name, true));
        if (large) return router_->EventToUser(user.id, event, sid);  // the counts tell the others
        for (store::UserId m : *info.members) router_->EventToUser(m, event, sid);
      }));
}

void RoomRequests::Leave(SessionId sid, Session& session, const proto::Request& req) {
  std::string re = req.id;
  store::UserInfo user = session.user;
  if (!sessions_->Admit(session)) return router_->Busy(sid, re);
  store_->Leave(
      store::LeaveRequest{user, req.room},
      sessions_->Guard<store::RoomInfo>(sid, [this, sid, re, user](Session&, store::Result<store::RoomInfo>&& r) {
        if (!r.status.ok()) {
          router_->Error(sid, re, r.status);
          return;
        }
        online_->UpdateRoom(r.value);
        if (OnlineUser* u = online_->Find(user.id)) online_->RemoveRoom(*u, r.value.conv);
        if (!re.empty()) router_->Send(sid, proto::EncodeOk(re));
        Frame event = MakeFrame(proto::EncodeMember(r.value.name, user.name, false));
        if (!online_->Large(r.value)) {
          for (store::UserId m : *r.value.members) router_->EventToUser(m, event);
        }
        router_->EventToUser(user.id, event, sid);
      }));
}

void RoomRequests::Invite(SessionId sid, Session& session, const proto::Request& req) {
  std::string re = req.id;
  store::UserInfo user = session.user;
  if (!sessions_->Admit(session)) return router_->Busy(sid, re);
  store_->Invite(store::InviteRequest{user, req.room, req.user, clock_->NowMs()},
                 sessions_->Guard<store::InviteResult>(
                     sid, [this, sid, re, user](Session&, store::Result<store::InviteResult>&& r) {
                       if (!r.status.ok()) {
                         router_->Error(sid, re, r.status);
                         return;
                       }
                       if (!re.empty()) router_->Send(sid, proto::EncodeOk(re));
                       const store::RoomInfo& room = r.value.room;
                       router_->EventToUser(r.value.invited.id,
                                            MakeFrame(proto::EncodeInvited(room.name, user.name, room.is_private)));
                     }));
}

void RoomRequests::Rooms(SessionId sid, Session& session, const proto::Request& req) {
  std::string re = req.id;
  if (!sessions_->Admit(session)) return router_->Busy(sid, re);
  store_->LoadUserState(
      session.user.id,
      sessions_->Guard<store::UserState>(sid, [this, sid, re](Session&, store::Result<store::UserState>&& r) {
        if (!r.status.ok()) {
          router_->Error(sid, re, r.status);
          return;
        }
        std::vector<proto::RoomSummary> rooms;
        for (const auto& room : r.value.rooms) {
          online_->UpdateRoom(room);
          int64_t unread = 0;
          for (const auto& [key, count] : r.value.unread) {
            if (key == "#" + room.name) unread = count;
          }
          rooms.push_back({room.name, room.is_private, static_cast<int64_t>(room.members->size()), unread,
                           online_->Large(room) ? online_->OnlineIn(room.conv) : -1});
        }
        router_->Send(sid, proto::EncodeRoomList(re, rooms, r.value.unread));
      }));
}

void RoomRequests::Tick() {
  int64_t now = clock_->MonoMs();
  if (now < next_counts_ms_) return;
  std::vector<store::ConvId> changed = online_->TakeChangedLarge();
  if (changed.empty()) return;
  next_counts_ms_ = now + counts_ms_;
  for (store::ConvId conv : changed) {
    const store::RoomInfo* room = online_->Room(conv);
    if (!room || !room->members) continue;
    Frame counts = MakeFrame(proto::EncodeRoomCounts(room->name, static_cast<int64_t>(room->members->size()),
                                                     online_->OnlineIn(conv)));
    for (store::UserId m : *room->members) router_->EventToUser(m, counts);
  }
}

void RoomRequests::Typing(SessionId sid, Session& session, const proto::Request& req) {
  OnlineUser* u = online_->Find(session.user.id);
  if (!u) return;
  int64_t now = clock_->MonoMs();
  if (now - u->last_typing_ms < typing_interval_ms_) {
    if (!req.id.empty()) router_->Error(sid, req.id, Status::RateLimited("typing too often"));
    return;  // never stored, so dropping extras loses nothing
  }
  if (!req.room.empty()) {
    const store::RoomInfo* room = online_->RoomOf(*u, req.room);
    if (!room) {
      router_->Error(sid, req.id, Status::Forbidden("you are not in #" + req.room));
      return;
    }
    u->last_typing_ms = now;
    Frame frame = MakeFrame(proto::EncodeTyping(session.user.name, "", room->name));
    for (store::UserId m : *room->members) {
      if (m != session.user.id) router_->EventToUser(m, frame);
    }
  } else {
    u->last_typing_ms = now;
    std::optional<store::UserId> peer = online_->Named(req.to);
    if (!peer) return;  // not online: nobody to tell
    router_->EventToUser(*peer, MakeFrame(proto::EncodeTyping(session.user.name, req.to, "")));
  }
  if (!req.id.empty()) router_->Send(sid, proto::EncodeOk(req.id));
}

}  // namespace chatd::core
