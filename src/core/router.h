// SPDX-License-Identifier: MIT
//
// core::Router: who gets a frame. A stored message goes to its recipients' live sessions: the
// 1:1 peer and the sender's other devices, a room's members, or every live session for a
// broadcast. Sessions still catching up get no live messages (their next page has them, in
// order); events (presence, member, read, typing, ...) go to every session past its welcome.
// The one encoded frame is shared by every connection it goes to. Answers to one session go
// through here too, so Outbox is reached in one place.
// Network thread only; every pointer must outlive it.
#pragma once

#include <string>
#include <string_view>

#include "core/outbox.h"
#include "core/presence_map.h"
#include "core/sessions.h"
#include "store/types.h"
#include "util/status.h"

namespace chatd::core {

class Router {
 public:
  Router(Sessions* sessions, const PresenceMap* presence, Outbox* outbox)
      : sessions_(sessions), presence_(presence), outbox_(outbox) {}

  // A message frame to every live session of `user` but `except`.
  void ToUser(store::UserId user, const Frame& frame, SessionId except = 0);
  // An event to every session of `user` past its welcome, but `except`.
  void EventToUser(store::UserId user, const Frame& frame, SessionId except = 0);
  // A stored message (see SendResult) to everyone who should see it live; `from` is the
  // sending session (it has the message from its `ok`).
  void Deliver(const store::SendResult& sent, const store::UserInfo& sender, SessionId from);
  // A site's notification to its recipients' live sessions, or to every live session.
  void DeliverNotification(const store::PublishResult& published);
  // A frame to every live session but `except`.
  void ToEveryone(const Frame& frame, SessionId except = 0);

  // To one session.
  void Send(SessionId sid, std::string json) { outbox_->Send(sid, MakeFrame(std::move(json))); }
  void Send(SessionId sid, const Frame& frame) { outbox_->Send(sid, frame); }
  void Error(SessionId sid, std::string_view re, const util::Status& status, int64_t retry_ms = 0);
  // The answer to a request over the session's cap on waiting storage requests.
  void Busy(SessionId sid, std::string_view re);
  void Close(SessionId sid, int code, std::string_view reason) { outbox_->Close(sid, code, reason); }
  size_t Queued(SessionId sid) const { return outbox_->Queued(sid); }

 private:
  Sessions* sessions_;
  const PresenceMap* presence_;
  Outbox* outbox_;
};

}  // namespace chatd::core
