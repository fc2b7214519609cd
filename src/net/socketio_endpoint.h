// SPDX-License-Identifier: MIT
//
// net::SocketIoEndpoint: socket.io clients (the pages of web-msg-sender sites) as chatd sessions.
// It speaks Engine.IO revisions 3 (socket.io 1.x/2.x clients) and 4 (3.x/4.x) at /socket.io/,
// over HTTP long-polling (HttpApi hands it the requests; a GET waits until there is something to
// answer) and over WebSocket (WsEndpoint connections opened at /socket.io/, one packet per
// message), with the polling -> WebSocket upgrade (2probe / 3probe / 5). The framing is in
// net/engineio.h, the JSON in proto/socketio_codec.h.
//
// Each Engine.IO session is one core session (ids with kSessionBit set, so they never meet
// WsEndpoint's), fed to ChatService like a /ws connection: the bridge is the client.
//   login(arg [, ack])   a site token (or {token}), or with socketio-trust-uid a bare uid, is
//                        sent to the core as a hello; welcome -> update_online_count (and the
//                        ack {ok:true,user}); an error -> login_error {code,message}, the ack
//                        {ok:false,..}, then a server-side disconnect (41).
//   message, notification frames for the user -> new_msg(htmlspecialchars(text)) (the old pages
//                        put it into the DOM as HTML; own messages from other devices are not
//                        emitted). Once the packet that carries one was written to the
//                        transport (the poll answer sent, the WebSocket queue drained), the
//                        bridge acks up to its mid: it is then marked delivered. A poll answer
//                        lost with its connection goes out again in the next one.
//   update_online_count  users online and logged-in connections (all of chatd's), emitted to
//                        every socket.io socket when they change, checked once a second.
// Heartbeats: revision 4 pings every socketio-ping-interval; revision 3 clients ping. A session
// not heard from for interval + timeout is dropped (a polling session never picked up, too).
// Closing: the core's codes 1001 (shutdown), 4008 (too slow) and 1011 end the transport only,
// so the client reconnects by itself; other closes (auth timeout, failed login, logout) send
// socket.io's disconnect first, after which clients stay away.
// Limits: the handshake's Origin must be the page's own or in allowed-origins (CORS answers
// reflect it, with credentials); at most max-connections-per-ip sessions per address; incoming
// packets are bounded by max-frame, what waits for a slow client by outbound-limit.
// Not supported (answered or refused clearly): binary events, namespaces other than "/" (a
// CONNECT_ERROR), JSONP polling (400).
// lws service thread only; every pointer must outlive it.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/chat_service.h"
#include "core/outbox.h"
#include "net/engineio.h"
#include "net/ws_endpoint.h"
#include "proto/socketio_codec.h"
#include "util/clock.h"

namespace chatd::net {

// One /socket.io/ HTTP request, as HttpApi read it.
struct PollRequest {
  std::string method;  // GET, POST or OPTIONS
  std::vector<std::pair<std::string, std::string>> query;
  std::string body, origin, host, peer, cookie_token;
};

// An HTTP answer: status, content type, body, extra headers ("name: value").
struct PollAnswer {
  int status = 200;
  std::string content_type, body;
  std::vector<std::string> headers;
};

// What the endpoint needs of the HTTP side (HttpApi implements it).
class PollResponder {
 public:
  virtual ~PollResponder() = default;
  // Answers request `rid` now (ignored if it is gone).
  virtual void Answer(uint64_t rid, PollAnswer answer) = 0;
  // Request `rid` has something to say: once its connection is writable, HttpApi takes the answer
  // with TakePoll(rid), and reports PollWritten(rid) when it is written, PollGone(rid) if the
  // connection closed before.
  virtual void Wake(uint64_t rid) = 0;
};

class SocketIoEndpoint final : public core::Outbox {
 public:
  static constexpr core::SessionId kSessionBit = core::SessionId{1} << 62;
  static bool Owns(core::SessionId sid) { return (sid & kSessionBit) != 0; }
  static bool IsPath(std::string_view path) { return path == "/socket.io/" || path == "/socket.io"; }

  SocketIoEndpoint(const config::Config& config, WsEndpoint* ws, const util::Clock* clock);
  // The core and the HTTP side, which are built after it (the core writes to it).
  void Attach(core::ChatService* service, PollResponder* http) {
    service_ = service;
    http_ = http;
  }

  // HTTP long-polling.
  void OnPoll(uint64_t rid, PollRequest req);
  PollAnswer TakePoll(uint64_t rid);
  void PollWritten(uint64_t rid);
  void PollGone(uint64_t rid);

  // WebSocket transports: WsEndpoint connections opened at /socket.io/ (ids with
  // kSocketIoTransportBit).
  void OnWsOpen(uint64_t conn, const std::vector<std::pair<std::string, std::string>>& query,
                const core::OpenInfo& info, bool origin_ok);
  void OnWsMessage(uint64_t conn, std::string_view message);
  void OnWsDrained(uint64_t conn);
  void OnWsClosed(uint64_t conn);

  // A few times a second: heartbeats, timeouts, update_online_count.
  void Tick();
  // Shutdown: no new sessions; then every session's transport is closed (clients reconnect).
  void BeginShutdown() { shutting_down_ = true; }
  void CloseAll();
  size_t size() const { return sessions_.size(); }

  // core::Outbox
  bool Send(core::SessionId sid, const core::Frame& frame) override;
  void Close(core::SessionId sid, int code, std::string_view reason) override;
  size_t Queued(core::SessionId sid) const override;

 private:
  struct Packet {
    core::Frame text;  // an Engine.IO packet: type digit + data (shared by a fan-out's recipients)
    int64_t mid = 0;   // the message it carries (acked once written), 0 = none
  };
  enum class Login { kNone, kPending, kDone };
  struct Session {
    std::string sid;  // Engine.IO's session id (the secret a polling client presents)
    core::SessionId core = 0;
    eio::Revision rev = eio::Revision::k4;
    bool binary_polls = false;  // revision 3 without b64=1: GETs are answered in the binary form
    std::string peer, origin;
    bool connected = false;  // socket.io's namespace "/" is connected
    Login login = Login::kNone;
    bool login_ack = false;  // the login asked for an acknowledgement
    int64_t login_ack_id = 0;
    std::string user;
    // Transports.
    uint64_t ws = 0;     // the WebSocket in use (0: polling)
    uint64_t probe = 0;  // a WebSocket being upgraded to
    int64_t probe_since_ms = 0;
    uint64_t poll_rid = 0;  // the GET waiting for packets
    int64_t poll_since_ms = 0;
    // Outgoing: waiting for a poll, in the poll answer being written, handed to the WebSocket.
    std::deque<Packet> out;
    size_t out_bytes = 0;
    std::vector<Packet> in_flight;
    int64_t ws_mid = 0;  // the newest mid handed to the WebSocket, not yet drained
    int64_t acked = 0;   // the newest mid acked to the core
    // Heartbeats and closing.
    int64_t last_seen_ms = 0;
    int64_t next_ping_ms = 0;
    // Closing: nothing new is queued; what is queued goes out first, then (polling) the close
    // packet in an answer of its own, or (WebSocket) the close. 4.x clients act on a close
    // packet at once and would drop what came with it.
    bool closing = false;
    bool close_sent = false;  // polling: the close packet went out
    int close_code = 0;       // for a WebSocket the session moves to while closing
    std::string close_reason;
    int64_t closing_deadline_ms = 0;
    std::pair<size_t, size_t> online_sent{SIZE_MAX, SIZE_MAX};  // counts last emitted
  };

  // Handshakes (a polling GET or a WebSocket without sid).
  Session* Create(eio::Revision rev, const std::string& peer, const std::string& origin, const std::string& cookie,
                  uint64_t ws, bool binary_polls = false);
  // A GET's answer holding `packets` in the session's payload form.
  PollAnswer PollBody(const Session& s, const std::vector<std::string_view>& packets) const;
  PollAnswer Handshake(const PollRequest& req, eio::Revision rev);
  // One Engine.IO packet from the client; false if it ended the session.
  bool OnPacket(Session& s, std::string_view packet);
  bool OnSocketPacket(Session& s, std::string_view text);
  void Login(Session& s, const proto::SocketIoEvent& ev, bool has_ack, int64_t ack_id);
  void LoginAnswered(Session& s, const proto::BridgeFrame& f);
  // Queues an Engine.IO packet for the client (not once it is closing).
  void Emit(Session& s, core::Frame packet, int64_t mid = 0);
  // Hands a packet to the transport in use: the WebSocket, or the queue for the next poll.
  void Transmit(Session& s, core::Frame packet, int64_t mid);
  void Emit(Session& s, std::string packet) { Emit(s, core::MakeFrame(std::move(packet))); }
  void EmitOnlineCount(Session& s, std::pair<size_t, size_t> counts);
  // Hands what waits in `out` to the WebSocket in use.
  void FlushToWs(Session& s);
  void Confirm(Session& s, int64_t mid);
  // Ends the session after what is queued: socket.io's disconnect first when `disconnect`.
  void CloseSession(Session& s, bool disconnect, int ws_code, std::string_view reason);
  // The session whose GET `rid` was (it waits no more), or null.
  Session* EndPoll(uint64_t rid);
  // Frees it now (the core hears OnClose).
  void Destroy(Session& s);
  Session* BySid(std::string_view sid);
  std::vector<std::string> CorsHeaders(std::string_view origin) const;
  PollAnswer Error(int status, int code, std::string_view message, std::string_view origin) const;
  std::pair<size_t, size_t> OnlineCounts() const;

  const config::Config& config_;
  WsEndpoint* ws_;
  const util::Clock* clock_;
  core::ChatService* service_ = nullptr;
  PollResponder* http_ = nullptr;
  bool shutting_down_ = false;
  uint64_t next_core_ = 1;
  std::unordered_map<std::string, std::unique_ptr<Session>> sessions_;
  std::unordered_map<core::SessionId, Session*> by_core_;
  std::unordered_map<uint64_t, Session*> by_rid_;   // pending GETs
  std::unordered_map<uint64_t, Session*> by_conn_;  // WebSockets in use or being upgraded to
  std::unordered_map<std::string, int> per_ip_;
  int64_t next_count_ms_ = 0;
  std::pair<size_t, size_t> online_last_{0, 0};  // web-msg-sender starts from 0 too
  // The last frame decoded and the new_msg made of it: a fan-out hands the same frame to every
  // recipient, so each is decoded and encoded once.
  core::Frame cached_frame_;
  proto::BridgeFrame cached_;
  core::Frame cached_packet_;
};

}  // namespace chatd::net
