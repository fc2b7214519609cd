// SPDX-License-Identifier: MIT
//
// core::ChatService: the chat server's brain, one instance per process, network thread only.
// It owns the per-connection Session state, the PresenceMap and what it knows of online users'
// rooms and 1:1 partners; it decodes requests (proto), checks them, hands durable work to
// Storage and answers through the Outbox. It knows no libwebsockets, SQLite or RocksDB
// (STYLE L3): tests drive it with a recording Outbox, InlineStorage and a ManualClock.
//
// Connection life: OnOpen -> hello -> (auth) -> welcome -> catch-up pages -> live -> OnClose.
// Until a valid hello every request but hello/ping is answered `unauthorized`; no valid hello
// within auth_timeout closes with 1008. Malformed frames get `bad_request`; the session stays.
//
// Ordering: storage completions run in commit order, so messages reach each live session in
// mid order. A session still catching up gets no live messages (its next page has them).
//
// Presence: announced to the users who share a room or a 1:1 conversation with the user, on
// the first session and after the last one closes plus a grace period (a quick reconnect is
// not announced at all). The work is proportional to the number of people who can see it.
//
// Implementation files: chat_service.cpp (sessions, hello, catch-up, dispatch), messaging.cpp
// (send, ack, history, read), rooms.cpp (join/leave/invite/rooms, typing, presence).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/auth_service.h"
#include "core/outbox.h"
#include "core/presence_map.h"
#include "core/rate_limiter.h"
#include "proto/messages.h"
#include "store/message_store.h"
#include "store/storage.h"
#include "store/types.h"
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
  int64_t typing_interval_ms = 1000;  // at most one typing event per user per this
  size_t max_inflight = 256;          // storage requests one session may have waiting
  // The network layer's per-connection queue limit (past it: 4008). History answers and
  // catch-up pages are reserved against it before they are built, so what the server holds
  // for one connection stays near it however many requests the connection pipelines.
  size_t outbound_limit = 8 << 20;
  size_t page_bytes = 1 << 20;  // a history answer or catch-up page is cut near this size
};

struct OpenInfo {
  std::string peer;          // client address, for logs
  std::string cookie_token;  // the session cookie sent with the upgrade, if any
};

class ChatService {
 public:
  // Every pointer must outlive the service.
  ChatService(ServiceOptions options, AuthService* auth, store::Storage* storage, Outbox* outbox,
              const util::Clock* clock);
  ~ChatService();

  void OnOpen(SessionId sid, OpenInfo info);
  // One complete WebSocket text message (possibly several newline-separated requests).
  void OnFrame(SessionId sid, std::string_view frame);
  void OnClose(SessionId sid);
  // The network layer wrote everything queued for `sid` (catch-up continues from here).
  void OnDrained(SessionId sid);
  // Called a few times a second: auth timeouts, presence grace periods.
  void Tick();
  // A login token was revoked (logout): the sessions that logged in with it close (4001).
  // `token_hash` is auth::TokenHash of the token.
  void OnTokenRevoked(const std::string& token_hash);

  size_t sessions() const { return sessions_.size(); }
  size_t rate_buckets() const { return send_limiter_.size() + room_limiter_.size(); }
  size_t rooms_tracked() const { return rooms_.size(); }
  const PresenceMap& presence() const { return presence_; }

 private:
  // kLoading: logged in, loading rooms and unread counts for the welcome.
  // kSyncing: welcome sent, catching up on what it missed; live messages wait for `live`.
  enum class State { kAwaitHello, kAuthenticating, kLoading, kSyncing, kLive };

  struct Session {
    State state = State::kAwaitHello;
    int failed_hellos = 0;
    std::string cookie_token;
    std::string peer;        // the client's address (login throttling)
    std::string token_hash;  // the session token it logged in with, if any (logout ends it)
    store::UserInfo user;
    std::string device;
    std::string hello_id;           // the hello's id, for the welcome's `re`
    // Requests pipelined behind a hello wait here until its welcome (bounded; see OnFrame).
    std::vector<std::string> held;
    size_t held_bytes = 0;
    size_t inflight = 0;            // storage requests waiting
    size_t reserved = 0;            // outbound bytes promised to answers being built
    bool waiting_budget = false;    // a history request waits (held) for reserved/queued bytes to fall
    bool sync_with_cursor = false;
    store::Mid sync_pos = 0;        // last mid sent during catch-up
    bool sync_inflight = false;     // a page is being fetched
    bool sync_waiting_drain = false;
  };

  // What the service knows about a logged-in user (kept until they are announced offline).
  struct UserCtx {
    std::string name;
    bool announced = false;                    // others were told this user is online
    std::vector<store::ConvId> rooms;          // rooms the user is in
    std::unordered_set<store::UserId> partners;  // 1:1 conversation partners
    int64_t last_typing_ms = -1'000'000;
  };

  bool LoggedIn(const Session& s) const { return s.state >= State::kLoading; }
  // Lines from the client wait in `held`, in order, while a hello is answered or a history
  // request waits for outbound budget.
  static bool Holding(const Session& s) {
    return s.state == State::kAuthenticating || s.state == State::kLoading || s.waiting_budget;
  }
  // What one history answer or catch-up page may occupy: the page bound plus one message at
  // its largest encoding (every byte escaped as \u00XX), and the answer's own framing.
  size_t PageReserve() const { return options_.page_bytes + 6 * static_cast<size_t>(options_.max_text) + 1024; }
  // Reserves PageReserve() bytes for an answer if what is queued and reserved leaves room
  // (an idle connection always may: a tiny limit must not stall it forever).
  bool Reserve(SessionId sid, Session& s);
  // Releases a reservation; held requests run again if they were waiting for it.
  void Unreserve(SessionId sid, Session& s);

  // chat_service.cpp
  void Handle(SessionId sid, Session& session, const proto::Request& req);
  void HandleHello(SessionId sid, Session& session, const proto::Request& req);
  void HandleLine(SessionId sid, std::string_view line);
  // Runs the requests held behind a hello, once it has been answered.
  void ReleaseHeld(SessionId sid);
  void CompleteHello(SessionId sid, const proto::Request& req, const util::Status& status,
                     const store::UserInfo& user, int64_t retry_ms = 0);
  void SendWelcome(SessionId sid, Session& session, const store::UserState& state);
  void HandleWho(SessionId sid, const proto::Request& req);
  void FetchNextPage(SessionId sid, Session& session);
  // Runs `run` on storage for a session, counting it against the session's in-flight cap;
  // `done` runs only if the session still exists. False (and an error sent) when over the cap.
  bool SubmitFor(SessionId sid, Session& session, const std::string& re, store::Storage::Run run,
                 std::function<void(Session&, const util::Status&)> done);

  // messaging.cpp
  void HandleSend(SessionId sid, Session& session, const proto::Request& req);
  void HandleAck(SessionId sid, Session& session, const proto::Request& req);
  void HandleHistory(SessionId sid, Session& session, const proto::Request& req);
  void HandleRead(SessionId sid, Session& session, const proto::Request& req);
  // Spends one token of the user's send bucket (sends, who) or room bucket (join, leave,
  // invite); false and a rate_limited error when it is empty.
  bool Spend(RateLimiter& limiter, SessionId sid, const Session& session, const proto::Request& req,
             const char* what);

  // rooms.cpp
  void HandleJoin(SessionId sid, Session& session, const proto::Request& req);
  void HandleLeave(SessionId sid, Session& session, const proto::Request& req);
  void HandleInvite(SessionId sid, Session& session, const proto::Request& req);
  void HandleRooms(SessionId sid, Session& session, const proto::Request& req);
  void HandleTyping(SessionId sid, Session& session, const proto::Request& req);
  // rooms_ holds the rooms of online users, counted by how many of them have it in their
  // UserCtx::rooms: Track/Untrack keep the count, and a room nobody online is in is dropped.
  // RememberRoom() refreshes a tracked room's member list.
  void RememberRoom(const store::RoomInfo& room);
  void TrackRoom(UserCtx& ctx, const store::RoomInfo& room);
  void UntrackRoom(UserCtx& ctx, store::ConvId conv);
  void UntrackRooms(UserCtx& ctx);
  void AddPartners(store::UserId a, store::UserId b);
  // Calls fn(user) once for every online user who can see `user`'s presence.
  template <typename Fn>
  void ForEachWatcher(store::UserId user, const UserCtx& ctx, Fn fn);
  void AnnouncePresence(store::UserId user, UserCtx& ctx, bool online);
  std::vector<std::string> OnlineContacts(store::UserId user, const UserCtx& ctx);

  // Message frames go to live sessions only (ordering); events to every logged-in session.
  void DeliverToUser(store::UserId user, const Frame& frame, SessionId except);
  void DeliverEvent(store::UserId user, const Frame& frame, SessionId except);
  void SendError(SessionId sid, std::string_view re, const util::Status& status, int64_t retry_ms = 0);
  void SendText(SessionId sid, std::string json);
  Session* Find(SessionId sid);

  ServiceOptions options_;
  AuthService* auth_;
  store::Storage* storage_;
  Outbox* outbox_;
  const util::Clock* clock_;

  std::unordered_map<SessionId, Session> sessions_;
  PresenceMap presence_;
  std::unordered_map<store::UserId, UserCtx> users_;
  std::unordered_map<std::string, store::UserId> online_names_;  // lower-case name -> user (online)
  std::unordered_multimap<std::string, SessionId> by_token_;     // token hash -> sessions logged in with it
  struct TrackedRoom {
    store::RoomInfo info;
    int online = 0;  // online users with it in their UserCtx::rooms
  };
  std::unordered_map<store::ConvId, TrackedRoom> rooms_;  // rooms of online users
  std::unordered_map<store::UserId, int64_t> pending_offline_;    // user -> when to announce offline
  // Sessions in open order with their hello deadline (monotonic ms): Tick() pops expired ones.
  std::deque<std::pair<int64_t, SessionId>> hello_deadlines_;
  RateLimiter send_limiter_;  // send, who
  RateLimiter room_limiter_;  // join, leave, invite: each announces to a whole room
};

}  // namespace chatd::core
