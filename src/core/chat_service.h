// SPDX-License-Identifier: MIT
//
// core::ChatService: the chat server's brain, one instance per process, network thread only.
// It owns the per-connection Session state and the PresenceMap, decodes requests (proto),
// checks them, hands durable work to Storage and answers through the Outbox. It knows no
// libwebsockets, SQLite or RocksDB (STYLE L3): tests drive it with a recording Outbox,
// InlineStorage and a ManualClock.
//
// Connection life: OnOpen -> (hello -> welcome) -> requests ... -> OnClose. Until a valid hello
// every request but hello is answered `unauthorized`; no valid hello within auth_timeout closes
// the connection with 1008. Malformed frames get a `bad_request` error and the connection stays.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/auth_service.h"
#include "core/outbox.h"
#include "core/presence_map.h"
#include "proto/messages.h"
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
  int sync_page = 1000;       // messages per catch-up page
  size_t sync_pause_bytes = 1 << 20;  // wait for the queue to drain below this between pages
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
  // Called a few times a second: auth timeouts and other timers.
  void Tick();

  size_t sessions() const { return sessions_.size(); }
  const PresenceMap& presence() const { return presence_; }

 private:
  // kSyncing: logged in, catching up on what it missed (pages from storage); live messages are
  // not sent to it until the last page, which is where `live` goes out.
  enum class State { kAwaitHello, kAuthenticating, kSyncing, kLive };

  struct Session {
    State state = State::kAwaitHello;
    int failed_hellos = 0;
    int64_t opened_mono = 0;
    std::string peer;
    std::string cookie_token;
    store::UserInfo user;
    std::string device;
    // catch-up
    bool sync_with_cursor = false;
    store::Mid sync_pos = 0;        // last mid sent during catch-up
    bool sync_inflight = false;     // a page is being fetched
    bool sync_waiting_drain = false;
  };

  struct Bucket {
    double tokens = 0;
    int64_t last_ms = 0;
  };

  void Handle(SessionId sid, Session& session, const proto::Request& req);
  void HandleHello(SessionId sid, Session& session, const proto::Request& req);
  void CompleteHello(SessionId sid, const proto::Request& req, const util::Status& status,
                     const store::UserInfo& user);
  void HandleWho(SessionId sid, const proto::Request& req);
  void HandleSend(SessionId sid, Session& session, const proto::Request& req);
  void HandleAck(SessionId sid, Session& session, const proto::Request& req);
  void HandleHistory(SessionId sid, Session& session, const proto::Request& req);
  void FetchNextPage(SessionId sid, Session& session);
  // Sends `frame` to every live session of `user` except `except`.
  void DeliverToUser(store::UserId user, const Frame& frame, SessionId except);
  // Takes a token from the user's bucket; false (and *retry_ms) when empty.
  bool TakeToken(store::UserId user, int64_t* retry_ms);

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
  // Sessions in open order with their hello deadline (monotonic ms): Tick() pops expired ones.
  std::deque<std::pair<int64_t, SessionId>> hello_deadlines_;
  std::unordered_map<store::UserId, Bucket> buckets_;
};

}  // namespace chatd::core
