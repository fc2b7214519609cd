// SPDX-License-Identifier: MIT
//
// core::ChatService: the chat server's core, one per process, network thread only. It takes
// connection events from the network layer (open, frame, drained, close, tick), decodes each
// request (proto) and hands it to the part that owns it:
//   LoginFlow      hello, welcome, catch-up, live
//   Messaging      send, ack, history, read
//   RoomRequests   join, leave, invite, rooms, typing
// with the state they share: Sessions (per connection), PresenceMap (user -> sessions),
// OnlineUsers (what is known of logged-in users and their rooms), Router (who gets a frame),
// PresenceAnnouncer (online/offline), the rate limiters and the outbound budget.
// It knows no libwebsockets, SQLite or RocksDB (STYLE L3): it reaches storage through
// store::ChatStore and connections through Outbox, so tests drive it with MemoryChatStore, a
// recording Outbox and a ManualClock.
//
// Requests: until a valid hello every request but hello/ping is answered `unauthorized`; no
// valid hello within auth_timeout closes with 1008. Malformed lines get `bad_request` and the
// session stays. Lines that arrive while a hello is answered or while a history request waits
// for outbound room are held, in order (at most 256 KiB; beyond that `rate_limited`).
// Ordering: storage completions run in commit order, so messages reach each live session in
// mid order; a session still catching up gets its messages from the next page instead.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "core/auth_service.h"
#include "core/login_flow.h"
#include "core/messaging.h"
#include "core/online_users.h"
#include "core/outbound_budget.h"
#include "core/outbox.h"
#include "core/presence_announcer.h"
#include "core/presence_map.h"
#include "core/publisher.h"
#include "core/rate_limiter.h"
#include "core/room_requests.h"
#include "core/router.h"
#include "core/sessions.h"
#include "proto/messages.h"
#include "store/chat_store.h"
#include "store/site_store.h"
#include "util/clock.h"

namespace chatd::core {

struct ServiceOptions {
  int64_t auth_timeout_ms = 10'000;
  int max_failed_hellos = 3;  // then 1008
  int max_text = 16 * 1024;   // bytes of message text
  double rate = 20;           // messages per second per user, sustained
  double burst = 100;         // and at once
  double room_rate = 1;       // joins, leaves and invites per second per user, sustained
  double room_burst = 20;     // and at once
  int sync_page = 1000;       // messages per catch-up page
  size_t sync_pause_bytes = 1 << 20;  // wait for the queue to drain below this between pages
  int64_t presence_grace_ms = 5000;
  // A room with more members than this is large: no member/presence events through it, its
  // counts at most every room_counts_ms instead (docs/protocol.md, large rooms).
  size_t large_room = 500;
  int64_t room_counts_ms = 5000;
  int64_t typing_interval_ms = 1000;  // at most one typing event per user per this
  size_t max_inflight = 256;          // storage requests one session may have waiting
  // The network layer's per-connection queue limit (past it: 4008). History answers and
  // catch-up pages are reserved against it before they are built (OutboundBudget).
  size_t outbound_limit = 8 << 20;
  size_t page_bytes = 1 << 20;  // a history answer or catch-up page is cut near this size
  double publish_rate = 200;    // a site's publishes per second per API key, sustained
  double publish_burst = 1000;  // and at once
  bool webhooks = false;        // report user.online / user.offline to the SiteStore
  bool user_directory = true;   // `users` lists and searches every user's name
};

struct OpenInfo {
  std::string peer;          // client address, for logs and login throttling
  std::string cookie_token;  // the session cookie sent with the upgrade, if any
};

class ChatService {
 public:
  // Every pointer must outlive the service.
  // `site` (optional): what a web site's backend may do (Publisher); without it, nothing.
  ChatService(ServiceOptions options, AuthService* auth, store::ChatStore* store, Outbox* outbox,
              const util::Clock* clock, store::SiteStore* site = nullptr);

  void OnOpen(SessionId sid, OpenInfo info);
  // One complete WebSocket text message (possibly several newline-separated requests).
  void OnFrame(SessionId sid, std::string_view frame);
  void OnClose(SessionId sid);
  // Logs the session in as site user `site_user` with no token: only for a network layer that
  // vouches for the name (socket.io under socketio-trust-uid). Answered like a hello with id
  // `id` (raw JSON): welcome, or an error.
  void LoginSiteUser(SessionId sid, const std::string& site_user, std::string_view id, std::string_view device);
  // The network layer wrote everything queued for `sid`.
  void OnDrained(SessionId sid);
  // Called a few times a second: auth timeouts, presence grace periods, idle rate buckets.
  void Tick();
  // A login token was revoked (logout): the sessions that logged in with it close (4001).
  // `token_hash` is auth::TokenHash of the token.
  void OnTokenRevoked(const std::string& token_hash);

  size_t sessions() const { return sessions_.size(); }
  const PresenceMap& presence() const { return presence_; }
  size_t rate_buckets() const { return send_limiter_.size() + room_limiter_.size(); }
  size_t rooms_tracked() const { return online_.rooms_tracked(); }
  // A site's notifications and presence questions; null without a SiteStore.
  Publisher* publisher() { return publisher_.get(); }

 private:
  void HandleLine(SessionId sid, std::string_view line);
  void Handle(SessionId sid, Session& session, const proto::Request& req);
  // Runs the lines held behind a hello or a waiting history request, in order, until one
  // has to wait again.
  void ReleaseHeld(SessionId sid);
  // A history answer gave its outbound room back: a waiting request may go now.
  void BudgetFreed(SessionId sid);
  // One token of the user's bucket, or a rate_limited answer (false).
  bool Spend(RateLimiter& limiter, SessionId sid, const Session& session, const proto::Request& req,
             const char* what);
  void Who(SessionId sid, const proto::Request& req);
  void Users(SessionId sid, Session& session, const proto::Request& req);
  // Names with whether each has a live session, for `users` and `members`.
  std::vector<std::pair<std::string, bool>> WithPresence(const std::vector<store::UserInfo>& users) const;
  void Conversations(SessionId sid, Session& session, const proto::Request& req);
  void Members(SessionId sid, Session& session, const proto::Request& req);

  ServiceOptions options_;
  const util::Clock* clock_;
  store::ChatStore* store_;
  Sessions sessions_;
  PresenceMap presence_;
  OnlineUsers online_;
  Router router_;
  PresenceAnnouncer announcer_;
  OutboundBudget budget_;
  RateLimiter send_limiter_;  // send, who
  RateLimiter room_limiter_;  // join, leave, invite: each announces to a whole room
  LoginFlow login_;
  Messaging messaging_;
  RoomRequests rooms_;
  std::unique_ptr<Publisher> publisher_;
  // Sessions in open order with their hello deadline (monotonic ms): Tick() pops expired ones.
  std::deque<std::pair<int64_t, SessionId>> hello_deadlines_;
};

}  // namespace chatd::core
