// SPDX-License-Identifier: MIT
#include "net/socketio_endpoint.h"

#include <algorithm>

#include "auth/crypto.h"
#include "net/lws_helpers.h"
#include "proto/json_writer.h"
#include "proto/names.h"
#include "util/log.h"

namespace chatd::net {

namespace {

constexpr char kLoginId[] = "\"sio-login\"";  // the hello's id (raw JSON): its answer's re
constexpr std::string_view kLoginRe = "sio-login";
constexpr char kDevice[] = "socket.io";
constexpr int64_t kUpgradeTimeoutMs = 10'000;
constexpr int64_t kCloseGraceMs = 5'000;  // a polling session closing waits this long for a GET
constexpr int64_t kCountEveryMs = 1'000;
constexpr size_t kMaxPollAnswer = 1 << 20;  // bytes of packets in one poll answer
constexpr size_t kTokenLength = 43;         // auth::NewToken(): a session token from /api/login
constexpr char kText[] = "text/plain; charset=UTF-8";

// Engine.IO's HTTP error codes.
constexpr int kUnknownTransport = 0, kUnknownSid = 1, kBadRequest = 3, kForbidden = 4, kBadVersion = 5;

std::string Query(const std::vector<std::pair<std::string, std::string>>& query, std::string_view name,
                  bool* present = nullptr) {
  for (const auto& [k, v] : query) {
    if (k == name) {
      if (present) *present = true;
      return v;
    }
  }
  if (present) *present = false;
  return "";
}

unsigned long long Id(core::SessionId sid) { return static_cast<unsigned long long>(sid & ~SocketIoEndpoint::kSessionBit); }

bool LooksLikeToken(std::string_view arg) {
  if (std::count(arg.begin(), arg.end(), '.') == 2) return true;  // a JWT
  if (arg.size() != kTokenLength) return false;
  return std::all_of(arg.begin(), arg.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

}  // namespace

SocketIoEndpoint::SocketIoEndpoint(const config::Config& config, WsEndpoint* ws, const util::Clock* clock)
    : config_(config), ws_(ws), clock_(clock) {}

std::vector<std::string> SocketIoEndpoint::CorsHeaders(std::string_view origin) const {
  std::vector<std::string> h = {"cache-control: no-store"};
  if (origin.empty()) return h;
  h.push_back("access-control-allow-origin: " + std::string(origin));
  h.push_back("access-control-allow-credentials: true");
  h.push_back("vary: origin");
  return h;
}

PollAnswer SocketIoEndpoint::Error(int status, int code, std::string_view message, std::string_view origin) const {
  return PollAnswer{status, "application/json", proto::EncodeEngineIoError(code, message), CorsHeaders(origin)};
}

std::pair<size_t, size_t> SocketIoEndpoint::OnlineCounts() const {
  const core::PresenceMap& p = service_->presence();
  return {p.users(), p.sessions()};
}

SocketIoEndpoint::Session* SocketIoEndpoint::BySid(std::string_view sid) {
  auto it = sessions_.find(std::string(sid));
  return it == sessions_.end() ? nullptr : it->second.get();
}

// --- HTTP -------------------------------------------------------------------------------

void SocketIoEndpoint::OnPoll(uint64_t rid, PollRequest req) {
  // The Origin check (CORS): a page elsewhere may use this endpoint only when allowed.
  bool origin_ok = OriginAllowed(req.origin, req.host, config_.allowed_origins);
  std::string origin = origin_ok ? req.origin : "";
  if (!origin_ok) {
    LOG_INFO("socket.io: refusing a request from origin %.100s (not in allowed-origins)", req.origin.c_str());
    return http_->Answer(rid, Error(403, kForbidden, "Origin not allowed (allowed-origins)", ""));
  }
  if (req.method == "OPTIONS") {
    PollAnswer a{204, kText, "", CorsHeaders(origin)};
    a.headers.push_back("access-control-allow-methods: GET, POST, OPTIONS");
    a.headers.push_back("access-control-allow-headers: content-type");
    a.headers.push_back("access-control-max-age: 600");
    return http_->Answer(rid, std::move(a));
  }
  std::string eio = Query(req.query, "EIO");
  if (eio != "3" && eio != "4") return http_->Answer(rid, Error(400, kBadVersion, "Unsupported protocol version", origin));
  eio::Revision rev = eio == "3" ? eio::Revision::k3 : eio::Revision::k4;
  if (Query(req.query, "transport") != "polling") {
    return http_->Answer(rid, Error(400, kUnknownTransport, "Transport unknown", origin));
  }
  bool jsonp = false;
  Query(req.query, "j", &jsonp);
  if (jsonp) return http_->Answer(rid, Error(400, kBadRequest, "JSONP polling is not supported", origin));
  bool has_sid = false;
  std::string sid = Query(req.query, "sid", &has_sid);
  if (!has_sid) {
    if (req.method != "GET") return http_->Answer(rid, Error(400, kBadRequest, "Bad handshake method", origin));
    return http_->Answer(rid, Handshake(req, rev));
  }
  Session* s = BySid(sid);
  if (!s || s->rev != rev) return http_->Answer(rid, Error(400, kUnknownSid, "Session ID unknown", origin));
  if (s->ws != 0) return http_->Answer(rid, Error(400, kBadRequest, "Bad request (the session uses WebSocket)", origin));
  s->last_seen_ms = clock_->MonoMs();
  if (req.method == "GET") {
    if (s->poll_rid != 0) return http_->Answer(rid, Error(400, kBadRequest, "Bad request (overlapping polls)", origin));
    s->poll_rid = rid;
    s->poll_since_ms = s->last_seen_ms;
    by_rid_[rid] = s;
    if (!s->out.empty() || s->probe != 0 || s->closing) http_->Wake(rid);
    return;
  }
  // POST: the client's packets.
  std::vector<std::string> packets;
  if (!eio::DecodePayload(rev, req.body, &packets)) {
    http_->Answer(rid, Error(400, kBadRequest, "Bad request (malformed payload)", origin));
    CloseSession(*s, true, 1008, "malformed payload");
    return;
  }
  http_->Answer(rid, PollAnswer{200, "text/html; charset=UTF-8", "ok", CorsHeaders(origin)});
  std::string key = s->sid;
  for (const auto& p : packets) {
    if (p.size() > static_cast<size_t>(config_.max_frame)) {
      CloseSession(*s, true, 1009, "packet too large");
      return;
    }
    if (!OnPacket(*s, p) || !BySid(key)) return;  // it ended the session
  }
}

PollAnswer SocketIoEndpoint::Handshake(const PollRequest& req, eio::Revision rev) {
  std::string origin = req.origin;
  if (shutting_down_) return Error(503, kBadRequest, "the server is shutting down", origin);
  bool b64 = false;
  Query(req.query, "b64", &b64);
  Session* s = Create(rev, req.peer, origin, req.cookie_token, 0, rev == eio::Revision::k3 && !b64);
  if (!s) return Error(403, kForbidden, "too many sessions from this address (max-connections-per-ip)", origin);
  // The open packet (and, for socket.io 2.x, the namespace's CONNECT) answer the handshake.
  std::vector<std::string_view> packets;
  for (const auto& p : s->out) packets.push_back(*p.text);
  PollAnswer a = PollBody(*s, packets);
  s->out.clear();
  s->out_bytes = 0;
  return a;
}

PollAnswer SocketIoEndpoint::PollBody(const Session& s, const std::vector<std::string_view>& packets) const {
  PollAnswer a{200, s.binary_polls ? "application/octet-stream" : kText, "", CorsHeaders(s.origin)};
  for (std::string_view p : packets) {
    if (s.binary_polls) {
      eio::AppendBinaryPayload(p, &a.body);
    } else {
      eio::AppendPayload(s.rev, p, &a.body);
    }
  }
  return a;
}

SocketIoEndpoint::Session* SocketIoEndpoint::Create(eio::Revision rev, const std::string& peer,
                                                    const std::string& origin, const std::string& cookie,
                                                    uint64_t ws, bool binary_polls) {
  if (config_.max_connections_per_ip > 0 && per_ip_[peer] >= config_.max_connections_per_ip) {
    LOG_WARN("socket.io: refusing a session from %s: %d open already (max-connections-per-ip)", peer.c_str(),
             per_ip_[peer]);
    return nullptr;
  }
  auto owned = std::make_unique<Session>();
  Session& s = *owned;
  s.sid = auth::NewToken().substr(0, 20);
  s.core = kSessionBit | next_core_++;
  s.rev = rev;
  s.binary_polls = binary_polls;
  s.peer = peer;
  s.origin = origin;
  s.ws = ws;
  s.last_seen_ms = clock_->MonoMs();
  int64_t interval = int64_t{config_.socketio_ping_interval} * 1000;
  int64_t timeout = int64_t{config_.socketio_ping_timeout} * 1000;
  s.next_ping_ms = s.last_seen_ms + interval;
  per_ip_[peer]++;
  by_core_[s.core] = &s;
  if (ws != 0) by_conn_[ws] = &s;
  sessions_[s.sid] = std::move(owned);
  LOG_INFO("socket.io session %llu: opened by %s (Engine.IO %d, %s)", Id(s.core), peer.c_str(), static_cast<int>(rev),
           ws ? "websocket" : "polling");
  core::OpenInfo info;
  info.peer = peer;
  info.cookie_token = cookie;
  service_->OnOpen(s.core, std::move(info));
  Emit(s, std::string(1, eio::kOpen) + proto::EncodeEngineIoOpen(s.sid, ws == 0, interval, timeout,
                                                 rev == eio::Revision::k4 ? config_.max_frame : -1));
  if (rev == eio::Revision::k3) {
    // socket.io 2.x servers connect the default namespace at once; 3.x+ clients ask for it.
    s.connected = true;
    Emit(s, eio::SocketMessage(eio::kConnect, ""));
  }
  return &s;
}

PollAnswer SocketIoEndpoint::TakePoll(uint64_t rid) {
  auto it = by_rid_.find(rid);
  if (it == by_rid_.end()) return Error(400, kUnknownSid, "Session ID unknown", "");
  Session& s = *it->second;
  std::vector<std::string_view> packets;
  size_t bytes = 0;
  while (!s.out.empty() && (bytes == 0 || bytes + s.out.front().text->size() <= kMaxPollAnswer)) {
    bytes += s.out.front().text->size();
    s.out_bytes -= s.out.front().text->size();
    s.in_flight.push_back(std::move(s.out.front()));
    s.out.pop_front();
  }
  for (const auto& p : s.in_flight) packets.push_back(*p.text);
  // Nothing left to say: the close packet of a closing session, alone; otherwise (an upgrade
  // is under way, or a poll held too long) a noop frees the GET.
  static const std::string kNoopPacket(1, eio::kNoop), kClosePacket(1, eio::kClose);
  if (packets.empty() && s.closing && s.probe == 0) {
    packets.push_back(kClosePacket);
    s.close_sent = true;
  }
  if (packets.empty()) packets.push_back(kNoopPacket);
  return PollBody(s, packets);
}

SocketIoEndpoint::Session* SocketIoEndpoint::EndPoll(uint64_t rid) {
  auto it = by_rid_.find(rid);
  if (it == by_rid_.end()) return nullptr;
  Session* s = it->second;
  by_rid_.erase(it);
  s->poll_rid = 0;
  return s;
}

void SocketIoEndpoint::PollWritten(uint64_t rid) {
  Session* ended = EndPoll(rid);
  if (!ended) return;
  Session& s = *ended;
  int64_t mid = 0;
  for (const auto& p : s.in_flight) mid = std::max(mid, p.mid);
  s.in_flight.clear();
  Confirm(s, mid);
  if (s.close_sent) return Destroy(s);
  if (s.out.empty() && !s.closing) service_->OnDrained(s.core);
}

void SocketIoEndpoint::PollGone(uint64_t rid) {
  Session* ended = EndPoll(rid);
  if (!ended) return;
  Session& s = *ended;
  // The answer may not have arrived: it goes out again with the next poll (at least once).
  for (auto p = s.in_flight.rbegin(); p != s.in_flight.rend(); ++p) {
    s.out_bytes += p->text->size();
    s.out.push_front(std::move(*p));
  }
  s.in_flight.clear();
  s.close_sent = false;  // it goes out again too
}

// --- WebSocket ----------------------------------------------------------------------------

void SocketIoEndpoint::OnWsOpen(uint64_t conn, const std::vector<std::pair<std::string, std::string>>& query,
                                const core::OpenInfo& info, bool origin_ok) {
  if (!origin_ok) return ws_->Close(conn, 1008, "origin not allowed");
  if (shutting_down_) return ws_->Close(conn, 1001, "server shutting down");
  std::string eio = Query(query, "EIO");
  if ((eio != "3" && eio != "4") || Query(query, "transport") != "websocket") {
    return ws_->Close(conn, 1008, "unsupported Engine.IO version or transport");
  }
  eio::Revision rev = eio == "3" ? eio::Revision::k3 : eio::Revision::k4;
  bool has_sid = false;
  std::string sid = Query(query, "sid", &has_sid);
  if (!has_sid) {
    Session* s = Create(rev, info.peer, "", info.cookie_token, conn);
    if (!s) ws_->Close(conn, 1008, "too many sessions from this address");
    return;
  }
  Session* s = BySid(sid);
  if (!s || s->rev != rev || s->ws != 0 || s->probe != 0 || s->closing) {
    return ws_->Close(conn, 1008, "Session ID unknown");
  }
  s->probe = conn;
  s->probe_since_ms = clock_->MonoMs();
  by_conn_[conn] = s;
}

void SocketIoEndpoint::OnWsMessage(uint64_t conn, std::string_view message) {
  auto it = by_conn_.find(conn);
  if (it == by_conn_.end()) return;
  Session& s = *it->second;
  s.last_seen_ms = clock_->MonoMs();
  if (conn == s.probe) {
    if (message == "2probe") {
      ws_->Send(conn, core::MakeFrame("3probe"));
      // The client now waits for its GET to return: free it.
      if (s.poll_rid != 0) http_->Wake(s.poll_rid);
    } else if (message.size() == 1 && message[0] == eio::kUpgrade) {
      s.probe = 0;
      s.ws = conn;
      LOG_DEBUG("socket.io session %llu: upgraded to websocket", Id(s.core));
      if (s.poll_rid != 0) http_->Wake(s.poll_rid);
      FlushToWs(s);
      if (s.closing) ws_->Close(conn, s.close_code, s.close_reason);  // it was closing on polling
    }
    return;
  }
  OnPacket(s, message);
}

void SocketIoEndpoint::OnWsDrained(uint64_t conn) {
  auto it = by_conn_.find(conn);
  if (it == by_conn_.end() || it->second->ws != conn) return;
  Session& s = *it->second;
  Confirm(s, s.ws_mid);
  if (s.out.empty()) service_->OnDrained(s.core);
}

void SocketIoEndpoint::OnWsClosed(uint64_t conn) {
  auto it = by_conn_.find(conn);
  if (it == by_conn_.end()) return;
  Session& s = *it->second;
  by_conn_.erase(it);
  if (conn == s.probe) {
    s.probe = 0;
    return;
  }
  s.ws = 0;  // gone already: Destroy must not close it
  Destroy(s);
}

// --- packets from the client ---------------------------------------------------------------

bool SocketIoEndpoint::OnPacket(Session& s, std::string_view packet) {
  if (packet.empty()) return true;
  switch (packet[0]) {
    case eio::kPing:  // revision 3's heartbeat (and a probe's, handled before)
      Emit(s, std::string(1, eio::kPong).append(packet.substr(1)));
      return true;
    case eio::kPong:
    case eio::kNoop:
    case eio::kUpgrade:
      return true;
    case eio::kClose:
      Destroy(s);
      return false;
    case eio::kMessage:
      return OnSocketPacket(s, packet.substr(1));
    default:
      LOG_DEBUG("socket.io session %llu: unknown packet type %c", Id(s.core), packet[0]);
      return true;
  }
}

bool SocketIoEndpoint::OnSocketPacket(Session& s, std::string_view text) {
  eio::SocketPacket p;
  if (!eio::ParseSocketPacket(text, &p)) {
    LOG_INFO("socket.io session %llu: malformed packet; closing", Id(s.core));
    CloseSession(s, true, 1008, "malformed packet");
    return true;
  }
  if (p.type == eio::kBinaryEvent || p.type == eio::kBinaryAck) {
    LOG_INFO("socket.io session %llu: binary events are not supported; closing", Id(s.core));
    CloseSession(s, true, 1003, "binary events are not supported");
    return true;
  }
  if (p.nsp != "/") {
    if (p.type == eio::kConnect) {
      Emit(s, eio::SocketMessage(eio::kConnectError,
                                 proto::EncodeSocketIoConnectError("Invalid namespace", s.rev == eio::Revision::k4),
                                 p.nsp));
    }
    return true;
  }
  switch (p.type) {
    case eio::kConnect:
      if (!s.connected) {
        s.connected = true;
        Emit(s, eio::SocketMessage(eio::kConnect, proto::EncodeSocketIoConnected(s.sid)));
      }
      if (!p.data.empty()) {
        std::string token = proto::DecodeSocketIoAuthToken(p.data);
        if (!token.empty()) {
          proto::SocketIoEvent ev;
          ev.name = "login";
          ev.arg = std::move(token);
          ev.arg_is_token = true;
          Login(s, ev, false, 0);
        }
      }
      return true;
    case eio::kDisconnect:
      Destroy(s);
      return false;
    case eio::kEvent: {
      proto::SocketIoEvent ev;
      if (!proto::DecodeSocketIoEvent(p.data, &ev)) {
        CloseSession(s, true, 1008, "malformed event");
        return true;
      }
      if (ev.name == "login") Login(s, ev, p.has_id, p.id);
      return true;
    }
    default:
      return true;  // ACKs (chatd asks for none), CONNECT_ERROR from a client
  }
}

void SocketIoEndpoint::Login(Session& s, const proto::SocketIoEvent& ev, bool has_ack, int64_t ack_id) {
  if (s.login != Login::kNone || s.closing) {
    // Logged in already (or on the way): web-msg-sender ignored a second login too.
    if (has_ack && s.login == Login::kDone) {
      Emit(s, eio::SocketAck(ack_id, proto::EncodeSocketIoLoginAck(true, s.user, "", "")));
    }
    return;
  }
  s.login = Login::kPending;
  s.login_ack = has_ack;
  s.login_ack_id = ack_id;
  proto::BridgeFrame refused;
  refused.kind = proto::BridgeFrame::Kind::kError;
  refused.code = "unauthorized";
  if (ev.arg.empty()) {
    refused.message = "login needs a token signed by the site (or a uid, with socketio-trust-uid)";
    return LoginAnswered(s, refused);
  }
  if (ev.arg_is_token || LooksLikeToken(ev.arg)) {
    std::string hello;
    proto::JsonWriter(&hello)
        .Begin()
        .Str("type", "hello")
        .Raw("id", kLoginId)
        .Str("token", ev.arg)
        .Str("device", kDevice)
        .End();
    service_->OnFrame(s.core, hello);
    return;
  }
  if (!config_.socketio_trust_uid) {
    refused.message = "a bare uid is not accepted: log in with a token signed by the site (socketio-trust-uid is off)";
    return LoginAnswered(s, refused);
  }
  if (!proto::ValidSiteUserName(ev.arg)) {
    refused.code = "bad_request";
    refused.message = "not a valid uid: 1-64 bytes, no spaces or control characters";
    return LoginAnswered(s, refused);
  }
  service_->LoginSiteUser(s.core, ev.arg, kLoginId, kDevice);
}

void SocketIoEndpoint::LoginAnswered(Session& s, const proto::BridgeFrame& f) {
  bool ok = f.kind == proto::BridgeFrame::Kind::kWelcome;
  s.login = ok ? Login::kDone : Login::kNone;
  if (ok) s.user = f.user;
  if (s.login_ack) {
    s.login_ack = false;
    Emit(s, eio::SocketAck(s.login_ack_id, proto::EncodeSocketIoLoginAck(ok, f.user, f.code, f.message)));
  }
  if (ok) {
    LOG_INFO("socket.io session %llu: logged in as %s", Id(s.core), s.user.c_str());
    EmitOnlineCount(s, OnlineCounts());
    return;
  }
  LOG_INFO("socket.io session %llu: login refused: %s", Id(s.core), f.message.c_str());
  Emit(s, eio::SocketMessage(eio::kEvent, proto::EncodeSocketIoError("login_error", f.code, f.message)));
  CloseSession(s, true, 1008, "login refused");
}

// --- what the core sends ---------------------------------------------------------------------

bool SocketIoEndpoint::Send(core::SessionId sid, const core::Frame& frame) {
  auto it = by_core_.find(sid);
  if (it == by_core_.end()) return false;
  Session& s = *it->second;
  if (s.closing) return false;
  if (frame != cached_frame_) {
    proto::BridgeFrame f;
    if (!proto::DecodeBridgeFrame(*frame, &f)) return true;
    cached_ = std::move(f);
    cached_frame_ = frame;
    cached_packet_.reset();
  }
  const proto::BridgeFrame& f = cached_;
  using Kind = proto::BridgeFrame::Kind;
  switch (f.kind) {
    case Kind::kWelcome:
    case Kind::kError:
      if (f.re == kLoginRe && s.login == Login::kPending) LoginAnswered(s, f);
      return true;
    case Kind::kMessage:
    case Kind::kNotification:
      if (s.login != Login::kDone) return true;
      if (f.kind == Kind::kMessage && proto::FoldName(f.from) == proto::FoldName(s.user)) {
        Confirm(s, f.mid);  // its own message from another device: nothing to show
        return true;
      }
      if (!cached_packet_) {
        cached_packet_ = core::MakeFrame(
            eio::SocketMessage(eio::kEvent, proto::EncodeSocketIoEvent("new_msg", eio::HtmlSpecialChars(f.text))));
      }
      Emit(s, cached_packet_, f.mid);
      return true;
    case Kind::kOther:
      return true;
  }
  return true;
}

void SocketIoEndpoint::Close(core::SessionId sid, int code, std::string_view reason) {
  auto it = by_core_.find(sid);
  if (it == by_core_.end()) return;
  // Shutdown, a slow client and internal errors end the transport: the client comes back by itself.
  bool transport_only = code == 1001 || code == 4008 || code == 1011;
  CloseSession(*it->second, !transport_only, code, reason);
}

size_t SocketIoEndpoint::Queued(core::SessionId sid) const {
  auto it = by_core_.find(sid);
  if (it == by_core_.end()) return 0;
  const Session& s = *it->second;
  return s.out_bytes + (s.ws ? ws_->Queued(s.ws) : 0);
}

// --- queueing and closing --------------------------------------------------------------------

void SocketIoEndpoint::Emit(Session& s, core::Frame packet, int64_t mid) {
  if (!s.closing) Transmit(s, std::move(packet), mid);
}

void SocketIoEndpoint::Transmit(Session& s, core::Frame packet, int64_t mid) {
  if (s.ws != 0) {
    if (mid > s.ws_mid) s.ws_mid = mid;
    ws_->Send(s.ws, packet);  // past outbound-limit it closes (4008)
    return;
  }
  if (s.out_bytes + packet->size() > static_cast<size_t>(config_.outbound_limit)) {
    LOG_WARN("socket.io session %llu: outbound queue over %lld bytes; closing", Id(s.core),
             static_cast<long long>(config_.outbound_limit));
    s.out.clear();
    s.out_bytes = 0;
    CloseSession(s, false, 4008, "too slow");
    if (s.poll_rid != 0) http_->Wake(s.poll_rid);
    return;
  }
  s.out_bytes += packet->size();
  s.out.push_back(Packet{std::move(packet), mid});
  if (s.poll_rid != 0) http_->Wake(s.poll_rid);
}

void SocketIoEndpoint::FlushToWs(Session& s) {
  while (!s.out.empty()) {
    Packet p = std::move(s.out.front());
    s.out.pop_front();
    s.out_bytes -= p.text->size();
    Transmit(s, std::move(p.text), p.mid);
  }
}

void SocketIoEndpoint::EmitOnlineCount(Session& s, std::pair<size_t, size_t> counts) {
  if (!s.connected || counts == s.online_sent) return;
  s.online_sent = counts;
  std::string text = config_.socketio_online_text;
  for (auto [key, value] : {std::pair<std::string_view, size_t>{"{users}", counts.first}, {"{pages}", counts.second}}) {
    for (size_t pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos)) {
      std::string n = std::to_string(value);
      text.replace(pos, key.size(), n);
      pos += n.size();
    }
  }
  Emit(s, eio::SocketMessage(eio::kEvent, proto::EncodeSocketIoEvent("update_online_count", text)));
}

void SocketIoEndpoint::Confirm(Session& s, int64_t mid) {
  if (s.login != Login::kDone || mid <= s.acked) return;
  s.acked = mid;
  std::string ack;
  proto::JsonWriter(&ack).Begin().Str("type", "ack").Int("upto", mid).End();
  service_->OnFrame(s.core, ack);
}

void SocketIoEndpoint::CloseSession(Session& s, bool disconnect, int ws_code, std::string_view reason) {
  if (s.closing) return;
  if (disconnect && s.connected) Emit(s, eio::SocketMessage(eio::kDisconnect, ""));
  LOG_INFO("socket.io session %llu: closing (%d %.*s)", Id(s.core), ws_code, static_cast<int>(reason.size()),
           reason.data());
  s.closing = true;
  s.close_code = ws_code;
  s.close_reason.assign(reason.substr(0, 100));
  if (s.ws != 0) {
    ws_->Close(s.ws, ws_code, reason);  // after what is queued; then OnWsClosed frees it
    return;
  }
  // Polling: the next polls take what is queued, then the close packet (TakePoll).
  s.closing_deadline_ms = clock_->MonoMs() + kCloseGraceMs;
  if (s.poll_rid != 0) http_->Wake(s.poll_rid);
}

void SocketIoEndpoint::Destroy(Session& s) {
  core::SessionId core = s.core;
  if (s.poll_rid != 0) {
    by_rid_.erase(s.poll_rid);
    static const std::string kClosePacket(1, eio::kClose);
    http_->Answer(s.poll_rid, PollBody(s, {kClosePacket}));
  }
  for (uint64_t conn : {s.ws, s.probe}) {
    if (conn == 0) continue;
    by_conn_.erase(conn);
    ws_->Close(conn, 1000, "");
  }
  if (auto ip = per_ip_.find(s.peer); ip != per_ip_.end() && --ip->second <= 0) per_ip_.erase(ip);
  by_core_.erase(core);
  LOG_INFO("socket.io session %llu: closed", Id(core));
  std::string key = s.sid;
  sessions_.erase(key);  // s is gone from here on
  service_->OnClose(core);
}

// --- timers ----------------------------------------------------------------------------------

void SocketIoEndpoint::Tick() {
  int64_t now = clock_->MonoMs();
  int64_t interval = int64_t{config_.socketio_ping_interval} * 1000;
  int64_t timeout = int64_t{config_.socketio_ping_timeout} * 1000;
  std::vector<Session*> dead;
  for (auto& [sid, owned] : sessions_) {
    Session& s = *owned;
    if (s.closing) {
      if (s.ws == 0 && s.poll_rid == 0 && now >= s.closing_deadline_ms) dead.push_back(&s);
      continue;
    }
    if (now - s.last_seen_ms > interval + timeout) {
      LOG_INFO("socket.io session %llu: no heartbeat for %lld s; dropping it", Id(s.core),
               static_cast<long long>((now - s.last_seen_ms) / 1000));
      dead.push_back(&s);
      continue;
    }
    if (s.rev == eio::Revision::k4 && now >= s.next_ping_ms) {
      s.next_ping_ms = now + interval;
      Emit(s, std::string(1, eio::kPing));
    }
    // A GET held a whole interval gets a noop, so no proxy or client gives up on it.
    if (s.poll_rid != 0 && now - s.poll_since_ms >= interval) http_->Wake(s.poll_rid);
    if (s.probe != 0 && now - s.probe_since_ms > kUpgradeTimeoutMs) {
      ws_->Close(s.probe, 1008, "upgrade timed out");
      by_conn_.erase(s.probe);
      s.probe = 0;
    }
  }
  for (Session* s : dead) Destroy(*s);
  if (now >= next_count_ms_ && !sessions_.empty()) {
    next_count_ms_ = now + kCountEveryMs;
    std::pair<size_t, size_t> counts = OnlineCounts();
    if (counts != online_last_) {
      online_last_ = counts;
      for (auto& [sid, owned] : sessions_) {
        EmitOnlineCount(*owned, counts);
      }
    }
  }
}

void SocketIoEndpoint::CloseAll() {
  std::vector<Session*> all;
  for (auto& [sid, owned] : sessions_) all.push_back(owned.get());
  for (Session* s : all) {
    // A WebSocket or a waiting poll carries the close; a polling session with neither just ends.
    if (s->ws != 0 || s->poll_rid != 0) {
      CloseSession(*s, false, 1001, "server shutting down");
    } else {
      Destroy(*s);
    }
  }
}

}  // namespace chatd::net
