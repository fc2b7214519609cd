// SPDX-License-Identifier: MIT
//
// core::Messaging: the requests about messages: send (1:1, room, broadcast), ack, history and
// read markers. A send is answered `ok` once the store says it is durable, and then delivered
// (Router) even if the sender has gone meanwhile; refusals come from the store (who may
// broadcast, quotas, the disk) and from here (text size, the send rate). The others count
// against the session's cap on waiting storage requests, and their answers are dropped if the
// connection closed. A history answer gives back the outbound room ChatService reserved for it.
// Network thread only; every pointer must outlive it.
#pragma once

#include <functional>

#include "core/online_users.h"
#include "core/outbound_budget.h"
#include "core/presence_announcer.h"
#include "core/rate_limiter.h"
#include "core/router.h"
#include "core/sessions.h"
#include "proto/messages.h"
#include "store/chat_store.h"
#include "util/clock.h"

namespace chatd::core {

class Messaging {
 public:
  // `budget_freed(sid)`: a history answer gave its outbound room back.
  Messaging(int max_text, size_t page_bytes, Sessions* sessions, store::ChatStore* store, Router* router,
            OnlineUsers* online, PresenceAnnouncer* announcer, RateLimiter* send_limiter, const OutboundBudget* budget,
            const util::Clock* clock, std::function<void(SessionId)> budget_freed)
      : max_text_(max_text),
        page_bytes_(page_bytes),
        sessions_(sessions),
        store_(store),
        router_(router),
        online_(online),
        announcer_(announcer),
        send_limiter_(send_limiter),
        budget_(budget),
        clock_(clock),
        budget_freed_(std::move(budget_freed)) {}

  void Send(SessionId sid, Session& session, const proto::Request& req);
  void Ack(SessionId sid, Session& session, const proto::Request& req);
  // REQUIRES: the caller reserved the answer's room (OutboundBudget::Reserve).
  void History(SessionId sid, Session& session, const proto::Request& req);
  void Read(SessionId sid, Session& session, const proto::Request& req);

 private:
  void GiveBack(SessionId sid, Session& s);

  int max_text_;
  size_t page_bytes_;
  Sessions* sessions_;
  store::ChatStore* store_;
  Router* router_;
  OnlineUsers* online_;
  PresenceAnnouncer* announcer_;
  RateLimiter* send_limiter_;
  const OutboundBudget* budget_;
  const util::Clock* clock_;
  std::function<void(SessionId)> budget_freed_;
};

}  // namespace chatd::core
