// SPDX-License-Identifier: MIT
//
// core::RoomRequests: join, leave, invite and the rooms list, and typing (1:1 or in a room).
// The store decides what is allowed (docs/protocol.md, rooms in detail); this announces the
// result: a join or leave to the room's online members (`member`), an invitation to the
// invitee (`invited`), and keeps OnlineUsers' view of who is in which room current. In a large
// room (OnlineUsers::Large) a join or leave is told only to the user's own other devices; the
// members get the room's counts (`room`) from Tick, at most every `counts_ms`. Typing is
// not stored: at most one per user per interval, to a peer who is online or a room the user
// is in. Storage requests count against the session's cap; their answers are dropped if the
// connection closed.
// Network thread only; every pointer must outlive it.
#pragma once

#include "core/online_users.h"
#include "core/presence_map.h"
#include "core/router.h"
#include "core/sessions.h"
#include "proto/messages.h"
#include "store/chat_store.h"
#include "util/clock.h"

namespace chatd::core {

class RoomRequests {
 public:
  RoomRequests(int64_t typing_interval_ms, int64_t counts_ms, Sessions* sessions, store::ChatStore* store,
               Router* router, const PresenceMap* presence, OnlineUsers* online, const util::Clock* clock)
      : typing_interval_ms_(typing_interval_ms),
        counts_ms_(counts_ms),
        sessions_(sessions),
        store_(store),
        router_(router),
        presence_(presence),
        online_(online),
        clock_(clock) {}

  void Join(SessionId sid, Session& session, const proto::Request& req);
  void Leave(SessionId sid, Session& session, const proto::Request& req);
  void Invite(SessionId sid, Session& session, const proto::Request& req);
  void Rooms(SessionId sid, Session& session, const proto::Request& req);
  void Typing(SessionId sid, Session& session, const proto::Request& req);
  // Called every tick: sends the counts of the large rooms that changed, at most every counts_ms.
  void Tick();

 private:
  int64_t typing_interval_ms_;
  int64_t counts_ms_;
  int64_t next_counts_ms_ = 0;
  Sessions* sessions_;
  store::ChatStore* store_;
  Router* router_;
  const PresenceMap* presence_;
  OnlineUsers* online_;
  const util::Clock* clock_;
};

}  // namespace chatd::core
