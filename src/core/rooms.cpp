// SPDX-License-Identifier: MIT
//
// ChatService, part 3: rooms (join, leave, invite, list), typing, and presence announcements.
#include <algorithm>
#include <cctype>

#include "core/chat_service.h"
#include "proto/frames.h"
#include "proto/json_writer.h"
#include "store/catch_up_reader.h"
#include "store/engine.h"
#include "store/room_store.h"
#include "util/log.h"

namespace chatd::core {

using util::Status;

namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Frame MemberEvent(const std::string& room, const std::string& user, bool joined) {
  std::string out;
  proto::JsonWriter(&out).Begin().Str("type", "member").Str("room", room).Str("user", user).Bool("joined", joined).End();
  return MakeFrame(std::move(out));
}

}  // namespace

void ChatService::RememberRoom(const store::RoomInfo& room) {
  auto it = rooms_.find(room.conv);
  if (it != rooms_.end()) it->second.info = room;  // a newer member list
}

void ChatService::TrackRoom(UserCtx& ctx, const store::RoomInfo& room) {
  if (std::find(ctx.rooms.begin(), ctx.rooms.end(), room.conv) == ctx.rooms.end()) {
    ctx.rooms.push_back(room.conv);
    ++rooms_[room.conv].online;
  }
  rooms_[room.conv].info = room;
}

void ChatService::UntrackRoom(UserCtx& ctx, store::ConvId conv) {
  auto mine = std::find(ctx.rooms.begin(), ctx.rooms.end(), conv);
  if (mine == ctx.rooms.end()) return;
  ctx.rooms.erase(mine);
  auto it = rooms_.find(conv);
  if (it != rooms_.end() && --it->second.online <= 0) rooms_.erase(it);
}

void ChatService::UntrackRooms(UserCtx& ctx) {
  while (!ctx.rooms.empty()) UntrackRoom(ctx, ctx.rooms.back());
}

void ChatService::AddPartners(store::UserId a, store::UserId b) {
  if (a == b) return;
  auto ia = users_.find(a);
  auto ib = users_.find(b);
  bool new_for_a = ia != users_.end() && ia->second.partners.insert(b).second;
  bool new_for_b = ib != users_.end() && ib->second.partners.insert(a).second;
  // A first conversation makes the two see each other's presence from now on.
  if (new_for_a && ib != users_.end() && presence_.Online(b)) {
    std::string out;
    proto::JsonWriter(&out).Begin().Str("type", "presence").Str("user", ib->second.name).Bool("online", true).End();
    DeliverEvent(a, MakeFrame(std::move(out)), 0);
  }
  if (new_for_b && ia != users_.end() && presence_.Online(a)) {
    std::string out;
    proto::JsonWriter(&out).Begin().Str("type", "presence").Str("user", ia->second.name).Bool("online", true).End();
    DeliverEvent(b, MakeFrame(std::move(out)), 0);
  }
}

template <typename Fn>
void ChatService::ForEachWatcher(store::UserId user, const UserCtx& ctx, Fn fn) {
  // Visits each online user sharing a room or a 1:1 conversation with `user`, once. The cost
  // is the size of those rooms plus the partners: the people who can see the change.
  std::unordered_set<store::UserId> seen;
  auto visit = [&](store::UserId other) {
    if (other == user || !presence_.Online(other) || !seen.insert(other).second) return;
    fn(other);
  };
  for (store::UserId p : ctx.partners) visit(p);
  for (store::ConvId conv : ctx.rooms) {
    auto room = rooms_.find(conv);
    if (room == rooms_.end() || !room->second.info.members) continue;
    for (store::UserId m : *room->second.info.members) visit(m);
  }
}

void ChatService::AnnouncePresence(store::UserId user, UserCtx& ctx, bool online) {
  std::string out;
  proto::JsonWriter(&out).Begin().Str("type", "presence").Str("user", ctx.name).Bool("online", online).End();
  Frame frame = MakeFrame(std::move(out));
  ForEachWatcher(user, ctx, [&](store::UserId other) { DeliverEvent(other, frame, 0); });
}

std::vector<std::string> ChatService::OnlineContacts(store::UserId user, const UserCtx& ctx) {
  std::vector<std::string> names;
  ForEachWatcher(user, ctx, [&](store::UserId other) {
    auto it = users_.find(other);
    if (it != users_.end()) names.push_back(it->second.name);
  });
  std::sort(names.begin(), names.end());
  return names;
}

void ChatService::HandleJoin(SessionId sid, Session& session, const proto::Request& req) {
  auto result = std::make_shared<store::JoinResult>();
  auto status = std::make_shared<Status>();
  store::UserInfo user = session.user;
  std::string room = req.room, re = req.id;
  bool make_private = req.is_private;
  int64_t now = clock_->NowMs();
  SubmitFor(
      sid, session, re,
      [=](store::Engine& e) {
        *status = e.storage_full() ? Status::StorageFull("the server is out of disk space")
                                   : e.rooms().Join(user, room, make_private, now, result.get());
      },
      [this, sid, re, user, result, status](Session&, const Status& commit) {
        Status st = commit.ok() ? *status : commit;
        if (!st.ok()) {
          SendError(sid, re, st);
          return;
        }
        const store::RoomInfo& info = result->room;
        RememberRoom(info);
        auto ctx = users_.find(user.id);
        if (ctx != users_.end()) TrackRoom(ctx->second, info);
        std::string ok;
        proto::JsonWriter w(&ok);
        w.Begin().Str("type", "ok");
        if (!re.empty()) w.Raw("re", re);
        w.Str("room", info.name).Bool("private", info.is_private).Bool("created", result->created);
        w.Int("members", static_cast<int64_t>(info.members->size()));
        w.BeginArray("online");
        for (store::UserId m : *info.members) {
          auto it = users_.find(m);
          if (presence_.Online(m) && it != users_.end()) w.Str(it->second.name);
        }
        w.EndArray().End();
        SendText(sid, std::move(ok));
        if (result->already_member) return;
        Frame event = MemberEvent(info.name, user.name, true);
        for (store::UserId m : *info.members) DeliverEvent(m, event, sid);
      });
}

void ChatService::HandleLeave(SessionId sid, Session& session, const proto::Request& req) {
  auto result = std::make_shared<store::RoomInfo>();
  auto status = std::make_shared<Status>();
  store::UserInfo user = session.user;
  std::string room = req.room, re = req.id;
  SubmitFor(
      sid, session, re, [=](store::Engine& e) { *status = e.rooms().Leave(user, room, result.get()); },
      [this, sid, re, user, result, status](Session&, const Status& commit) {
        Status st = commit.ok() ? *status : commit;
        if (!st.ok()) {
          SendError(sid, re, st);
          return;
        }
        RememberRoom(*result);
        auto ctx = users_.find(user.id);
        if (ctx != users_.end()) UntrackRoom(ctx->second, result->conv);
        if (!re.empty()) SendText(sid, proto::EncodeOk(re));
        Frame event = MemberEvent(result->name, user.name, false);
        for (store::UserId m : *result->members) DeliverEvent(m, event, 0);
        DeliverEvent(user.id, event, sid);
      });
}

void ChatService::HandleInvite(SessionId sid, Session& session, const proto::Request& req) {
  auto invited = std::make_shared<store::UserInfo>();
  auto info = std::make_shared<store::RoomInfo>();
  auto status = std::make_shared<Status>();
  store::UserInfo user = session.user;
  std::string room = req.room, invitee = req.user, re = req.id;
  int64_t now = clock_->NowMs();
  SubmitFor(
      sid, session, re,
      [=](store::Engine& e) { *status = e.rooms().Invite(user, room, invitee, now, invited.get(), info.get()); },
      [this, sid, re, user, invited, info, status](Session&, const Status& commit) {
        Status st = commit.ok() ? *status : commit;
        if (!st.ok()) {
          SendError(sid, re, st);
          return;
        }
        if (!re.empty()) SendText(sid, proto::EncodeOk(re));
        std::string out;
        proto::JsonWriter(&out)
            .Begin()
            .Str("type", "invited")
            .Str("room", info->name)
            .Str("by", user.name)
            .Bool("private", info->is_private)
            .End();
        DeliverEvent(invited->id, MakeFrame(std::move(out)), 0);
      });
}

void ChatService::HandleRooms(SessionId sid, Session& session, const proto::Request& req) {
  auto state = std::make_shared<store::UserState>();
  auto status = std::make_shared<Status>();
  store::UserId user = session.user.id;
  std::string re = req.id;
  SubmitFor(
      sid, session, re, [=](store::Engine& e) { *status = e.rooms().LoadUserState(user, state.get()); },
      [this, sid, re, state, status](Session&, const Status&) {
        if (!status->ok()) {
          SendError(sid, re, *status);
          return;
        }
        std::string out;
        proto::JsonWriter w(&out);
        w.Begin().Str("type", "ok");
        if (!re.empty()) w.Raw("re", re);
        w.BeginArray("rooms");
        for (const auto& room : state->rooms) {
          RememberRoom(room);
          int64_t unread = 0;
          for (const auto& [key, count] : state->unread) {
            if (key == "#" + room.name) unread = count;
          }
          w.Begin()
              .Str("room", room.name)
              .Bool("private", room.is_private)
              .Int("members", static_cast<int64_t>(room.members->size()))
              .Int("unread", unread)
              .End();
        }
        w.EndArray().BeginObject("unread");
        for (const auto& [key, count] : state->unread) w.Int(key, count);
        w.End().End();
        SendText(sid, std::move(out));
      });
}

void ChatService::HandleTyping(SessionId sid, Session& session, const proto::Request& req) {
  auto ctx = users_.find(session.user.id);
  if (ctx == users_.end()) return;
  int64_t now = clock_->MonoMs();
  if (now - ctx->second.last_typing_ms < options_.typing_interval_ms) {
    if (!req.id.empty()) SendError(sid, req.id, Status::RateLimited("typing too often"));
    return;  // never stored, so dropping extras loses nothing
  }
  std::string out;
  proto::JsonWriter w(&out);
  w.Begin().Str("type", "typing").Str("from", session.user.name);
  if (!req.room.empty()) {
    const store::RoomInfo* room = nullptr;
    for (store::ConvId conv : ctx->second.rooms) {
      auto it = rooms_.find(conv);
      if (it != rooms_.end() && Lower(it->second.info.name) == Lower(req.room)) room = &it->second.info;
    }
    if (!room) {
      SendError(sid, req.id, Status::Forbidden("you are not in #" + req.room));
      return;
    }
    ctx->second.last_typing_ms = now;
    w.Str("room", room->name).End();
    Frame frame = MakeFrame(std::move(out));
    for (store::UserId m : *room->members) {
      if (m != session.user.id) DeliverEvent(m, frame, 0);
    }
  } else {
    ctx->second.last_typing_ms = now;
    auto peer = online_names_.find(Lower(req.to));
    if (peer == online_names_.end()) return;  // not online: nobody to tell
    w.Str("to", req.to).End();
    DeliverEvent(peer->second, MakeFrame(std::move(out)), 0);
  }
  if (!req.id.empty()) SendText(sid, proto::EncodeOk(req.id));
}

}  // namespace chatd::core
