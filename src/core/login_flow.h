// SPDX-License-Identifier: MIT
//
// core::LoginFlow: a connection from its hello to `live`.
//   hello -> AuthService (a token, the cookie, or user and password) -> the user's state from
//   the store -> welcome (rooms, online contacts, unread counts; presence announced) -> pages
//   of what the device has not seen (with a cursor: everything after it; without: the
//   undelivered pool), each sent once the previous one is mostly written out -> `live`.
// Live messages reach a session only once it is live; storage completions run in commit
// order, so everything after the last page's high water arrives live, in order. A page that
// does not move the position closes the connection instead of asking again.
// Failed hellos: three on one connection close it (1008).
// Network thread only; every pointer must outlive it.
#pragma once

#include <functional>

#include "core/auth_service.h"
#include "core/online_users.h"
#include "core/outbound_budget.h"
#include "core/presence_announcer.h"
#include "core/presence_map.h"
#include "core/router.h"
#include "core/sessions.h"
#include "proto/messages.h"
#include "store/chat_store.h"

namespace chatd::core {

struct LoginOptions {
  int max_failed_hellos = 3;          // then 1008
  int page_messages = 1000;           // messages per catch-up page
  size_t page_bytes = 1 << 20;        // ... and about this many bytes
  size_t pause_bytes = 1 << 20;       // the next page waits until less than this is queued
};

class LoginFlow {
 public:
  // `resume(sid)`: the session stopped holding lines (welcome sent, or the hello failed):
  // run what it held.
  LoginFlow(LoginOptions options, Sessions* sessions, AuthService* auth, store::ChatStore* store, Router* router,
            PresenceMap* presence, OnlineUsers* online, PresenceAnnouncer* announcer, const OutboundBudget* budget,
            std::function<void(SessionId)> resume)
      : options_(options),
        sessions_(sessions),
        auth_(auth),
        store_(store),
        router_(router),
        presence_(presence),
        online_(online),
        announcer_(announcer),
        budget_(budget),
        resume_(std::move(resume)) {}

  void Hello(SessionId sid, Session& session, const proto::Request& req);
  // A hello whose user the network layer vouches for: the site user `site_user` (the socket.io
  // bridge under socketio-trust-uid). Otherwise as Hello with a token.
  void HelloAsSiteUser(SessionId sid, Session& session, const std::string& site_user, const proto::Request& req);
  // Everything queued for the session was written: a catch-up waiting for it goes on.
  void OnDrained(SessionId sid, Session& session);

 private:
  // Hello's checks that no login is done or under way; false (answered) when one is.
  bool MayLogIn(SessionId sid, const Session& session, const proto::Request& req);
  void CompleteHello(SessionId sid, const proto::Request& req, const util::Status& status, const store::UserInfo& user,
                     int64_t retry_ms);
  void Welcome(SessionId sid, Session& session, const store::UserState& state);
  void FetchNextPage(SessionId sid, Session& session);
  void OnPage(SessionId sid, Session& s, store::Result<store::FetchResult>&& page);

  LoginOptions options_;
  Sessions* sessions_;
  AuthService* auth_;
  store::ChatStore* store_;
  Router* router_;
  PresenceMap* presence_;
  OnlineUsers* online_;
  PresenceAnnouncer* announcer_;
  const OutboundBudget* budget_;
  std::function<void(SessionId)> resume_;
};

}  // namespace chatd::core
