// SPDX-License-Identifier: MIT
#include "net/lws_server.h"

#include <arpa/inet.h>
#include <ev.h>
#include <libwebsockets.h>

#include <algorithm>
#include <cstring>

#include "util/log.h"

namespace chatd::net {

using util::Status;

// Trampolines: the lws C callbacks find the server through lws_context_user().
namespace {

LwsServer* ServerOf(lws* wsi) { return static_cast<LwsServer*>(lws_context_user(lws_get_context(wsi))); }

// Both protocols' callbacks: into the server, never letting an exception cross into C (STYLE E1).
int Dispatch(bool ws, lws* wsi, enum lws_callback_reasons reason, void* user, void* in, size_t len) {
  LwsServer* server = ServerOf(wsi);
  if (!server) return ws ? 0 : lws_callback_http_dummy(wsi, reason, user, in, len);
  try {
    return ws ? server->OnWs(wsi, static_cast<int>(reason), user, in, len)
              : server->OnHttp(wsi, static_cast<int>(reason), user, in, len);
  } catch (const std::exception& e) {
    LOG_ERR("%s callback: %s", ws ? "ws" : "http", e.what());
  } catch (...) {
    LOG_ERR("%s callback: unknown exception", ws ? "ws" : "http");
  }
  return -1;
}

int HttpTrampoline(lws* wsi, enum lws_callback_reasons reason, void* user, void* in, size_t len) {
  return Dispatch(false, wsi, reason, user, in, len);
}

int WsTrampoline(lws* wsi, enum lws_callback_reasons reason, void* user, void* in, size_t len) {
  return Dispatch(true, wsi, reason, user, in, len);
}

// Start() copies these and sets the WebSocket entry's rx_buffer_size from `ws-rx-buffer`. lws
// allocates that buffer for every connection (4 KiB is more than half of an idle connection's
// memory) and reads at most that much from one connection per loop turn; larger messages arrive
// in pieces and are reassembled in WsConn::rx. 1 KiB took an idle connection from 7.4 to 4.3 KB
// but let one busy publisher through at about 1 KiB per turn, which halved the room fan-out
// (bench/idle, bench/fanout): the default stays 4 KiB.
// tx_packet_size must be set: left at 0, lws cuts every send() to rx_buffer_size and buffers the
// rest itself, which turned one packed write into many (fan-out: 1.17 -> 1.5M/s).
const lws_protocols kPushProtocols[] = {
    {"http", HttpTrampoline, sizeof(SessionPss), 0, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};
const lws_protocols kProtocols[] = {
    {"http", HttpTrampoline, sizeof(SessionPss), 0, 0, nullptr, 0},
    {"chatd.v1", WsTrampoline, sizeof(SessionPss), 4096, 0, nullptr, kMaxPackedBytes + LWS_PRE + 16},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

// Upgrades that name no subprotocol (a plain `new WebSocket(url)`) get chatd.v1.
const lws_protocol_vhost_options kDefaultOpt = {nullptr, nullptr, "default", "1"};
const lws_protocol_vhost_options kPvo = {nullptr, &kDefaultOpt, "chatd.v1", ""};

// Security headers on every HTTP response. The page has no inline script or style.
const lws_protocol_vhost_options kHeaders[] = {
    {nullptr, nullptr, "content-security-policy:",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "connect-src 'self' ws: wss:; media-src 'self' data:; manifest-src 'self'; "
     "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"},
    {&kHeaders[0], nullptr, "x-content-type-options:", "nosniff"},
    {&kHeaders[1], nullptr, "x-frame-options:", "DENY"},
    {&kHeaders[2], nullptr, "referrer-policy:", "no-referrer"},
    {&kHeaders[3], nullptr, "cross-origin-opener-policy:", "same-origin"},
};

void EmitLws(int level, const char* line) {
  util::LogLevel mapped = level == LLL_ERR    ? util::LogLevel::kErr
                          : level == LLL_WARN ? util::LogLevel::kWarn
                                              : util::LogLevel::kDebug;
  if (util::LogEnabled(mapped)) util::Log(mapped, "lws: %s", line);
}

// The lws log levels chatd's own level asks for.
int LwsLogLevels() {
  return util::GetLogLevel() >= util::LogLevel::kDebug ? LLL_ERR | LLL_WARN | LLL_NOTICE | LLL_INFO : LLL_ERR | LLL_WARN;
}

constexpr int64_t kTickUs = 250 * 1000;
constexpr int64_t kDrainStorageMs = 3000;  // wait this long for in-flight storage work
constexpr int64_t kShutdownMs = 5000;      // then this long in all for connections to close

}  // namespace

struct LwsServer::TickTimer {
  lws_sorted_usec_list_t sul;  // first member: the callback casts back
  LwsServer* server;
};

LwsServer::LwsServer(const config::Config& config, util::CompletionQueue* completions, store::ChatStore* store,
                     WsEndpoint* ws, HttpApi* http, core::ChatService* service, SocketIoEndpoint* socketio)
    : config_(config),
      completions_(completions),
      store_(store),
      ws_(ws),
      http_(http),
      service_(service),
      socketio_(socketio) {}

LwsServer::~LwsServer() {
  if (context_) lws_context_destroy(context_);
  if (loop_) ev_loop_destroy(loop_);
}

Status LwsServer::Start() {
  int lws_levels = LwsLogLevels();
  lws_set_log_level(lws_levels, EmitLws);

  static lws_retry_bo_t retry{};
  retry.secs_since_valid_ping = static_cast<uint16_t>(config_.ping_interval);
  retry.secs_since_valid_hangup = static_cast<uint16_t>(config_.idle_timeout);

  lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = config_.listen_port;
  bool any = config_.listen_host == "0.0.0.0" || config_.listen_host == "::";
  info.iface = any ? nullptr : config_.listen_host.c_str();
  constexpr size_t kCount = sizeof kProtocols / sizeof kProtocols[0];
  protocols_ = std::make_unique<lws_protocols[]>(kCount);
  std::copy(kProtocols, kProtocols + kCount, protocols_.get());
  protocols_[1].rx_buffer_size = static_cast<size_t>(config_.ws_rx_buffer);
  info.protocols = protocols_.get();
  info.pvo = &kPvo;
  info.headers = &kHeaders[4];
  info.user = this;
  info.retry_and_idle_policy = &retry;
  info.timeout_secs = 20;
  info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
  if (config_.listen_host.find(':') == std::string::npos) info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
  info.server_string = "chatd";
  loop_ = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
  if (!loop_) return Status::Internal("cannot create the event loop");
  void* foreign_loops[] = {loop_};
  info.foreign_loops = foreign_loops;
  info.options |= LWS_SERVER_OPTION_LIBEV;

  // A failed bind makes lws log several lines; chatd says it once, below.
  lws_set_log_level(0, EmitLws);
  context_ = lws_create_context(&info);
  lws_set_log_level(lws_levels, EmitLws);
  if (!context_) return Status::Internal("cannot listen on " + config_.listen + " (address in use or not available)");
  // lws finishes its start-up (protocol init, which makes chatd.v1 the default for upgrades that
  // name no subprotocol) from a timer on the first loop turn. A connection accepted in that same
  // turn, before the timer ran, was bound to the http protocol and its frames went nowhere (seen
  // under load: the first hello after a start was never answered). Finish it now, before the
  // loop runs; the timer then finds nothing left to do.
  lws_state_transition_steps(lws_system_get_state_manager(context_), LWS_SYSTATE_OPERATIONAL);
  vhost_ = lws_get_vhost_by_name(context_, "default");
  port_ = vhost_ ? lws_get_vhost_listen_port(vhost_) : config_.listen_port;
  if (!config_.push_listen.empty()) {
    Status st = AddVhost("push", config_.push_host, config_.push_port, kPushProtocols, "push-listen " + config_.push_listen,
                         &push_vhost_, &push_port_);
    if (!st.ok()) return st;
  }
  if (socketio_ && !config_.socketio_listen.empty()) {
    Status st = AddVhost("socketio", config_.socketio_host, config_.socketio_port, protocols_.get(),
                         "socketio-listen " + config_.socketio_listen, &socketio_vhost_, &socketio_port_);
    if (!st.ok()) return st;
  }
  completions_->SetWake([ctx = context_] { lws_cancel_service(ctx); });
  return Status::Ok();
}

Status LwsServer::AddVhost(const char* name, const std::string& host, int port, const lws_protocols* protocols,
                           const std::string& setting, lws_vhost** vhost, int* bound_port) {
  lws_context_creation_info vi;
  memset(&vi, 0, sizeof vi);
  vi.vhost_name = name;
  vi.port = port;
  bool any = host == "0.0.0.0" || host == "::";
  vi.iface = any ? nullptr : host.c_str();
  vi.protocols = protocols;
  vi.pvo = protocols == kPushProtocols ? nullptr : &kPvo;  // chatd.v1 the default upgrade
  vi.headers = &kHeaders[4];
  vi.timeout_secs = 20;
  vi.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND | LWS_SERVER_OPTION_VALIDATE_UTF8;
  if (host.find(':') == std::string::npos) vi.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
  lws_set_log_level(0, EmitLws);
  *vhost = lws_create_vhost(context_, &vi);
  lws_set_log_level(LwsLogLevels(), EmitLws);
  if (!*vhost) return Status::Internal("cannot listen on " + setting + " (address in use or not available)");
  *bound_port = lws_get_vhost_listen_port(*vhost);
  return Status::Ok();
}



namespace {
// http://HOST:PORT with a wildcard address shown as loopback and IPv6 in brackets.
std::string Origin(std::string host, int port) {
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "[::1]";
  else if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(port);
}
}  // namespace

std::string LwsServer::url() const { return Origin(config_.listen_host, port_) + "/"; }

std::string LwsServer::push_url() const {
  return push_vhost_ ? Origin(config_.push_host, push_port_) + "/push" : "";
}

std::string LwsServer::socketio_url() const {
  return socketio_vhost_ ? Origin(config_.socketio_host, socketio_port_) + "/socket.io/" : "";
}

void LwsServer::ScheduleTick() {
  if (!tick_) {
    tick_ = std::make_unique<TickTimer>();
    memset(&tick_->sul, 0, sizeof tick_->sul);
    tick_->server = this;
  }
  lws_sul_schedule(context_, 0, &tick_->sul,
                   [](lws_sorted_usec_list_t* sul) { reinterpret_cast<TickTimer*>(sul)->server->OnTick(); },
                   kTickUs);
}

void LwsServer::Run() {
  ScheduleTick();
  ev_run(loop_, 0);  // until OnTick() breaks it
  // Connections still open now are cut; their CLOSED callbacks still reach the core.
  lws_sul_cancel(&tick_->sul);
  completions_->SetWake({});
  lws_context_destroy(context_);
  context_ = nullptr;
}

void LwsServer::OnTick() {
  try {
    completions_->Drain();
    if (stop_requested_ && !shutting_down_) BeginShutdown();
    service_->Tick();
    if (socketio_) socketio_->Tick();
    if (shutting_down_) {
      int64_t elapsed = static_cast<int64_t>(lws_now_usecs() / 1000) - shutdown_started_ms_;
      if (!closing_sent_ && (store_->Pending() == 0 || elapsed > kDrainStorageMs)) {
        // Every accepted request has its answer queued: say goodbye after what is queued.
        closing_sent_ = true;
        ws_->CloseAll(1001, "server shutting down");
        if (socketio_) socketio_->CloseAll();
      }
      LOG_DEBUG("shutdown: %zu ws, %zu http, %zu storage jobs", ws_->size(), http_->size(), store_->Pending());
      bool gone = ws_->size() == 0 && http_->size() == 0 && (!socketio_ || socketio_->size() == 0);
      if ((closing_sent_ && gone) || elapsed > kShutdownMs) done_ = true;
    }
  } catch (const std::exception& e) {
    LOG_ERR("tick: %s", e.what());
  }
  if (done_) {
    ev_break(loop_, EVBREAK_ALL);
  } else {
    ScheduleTick();
  }
}

void LwsServer::BeginShutdown() {
  shutting_down_ = true;
  shutdown_started_ms_ = static_cast<int64_t>(lws_now_usecs() / 1000);
  LOG_NOTICE("shutting down: no new connections; closing %zu WebSocket connection(s)", ws_->size());
  // Stop reading new requests; what is already in flight gets its answer.
  ws_->PauseAll();
  http_->BeginShutdown();
  if (socketio_) socketio_->BeginShutdown();
  // New connections are refused in FILTER_NETWORK_CONNECTION from now on. (Not
  // lws_context_deprecate(): in lws 4.1.6 it touches the listen wsi after freeing it.)
}

void LwsServer::OnWaitCancelled() {
  completions_->Drain();
  if (stop_requested_ && !shutting_down_) BeginShutdown();
}

bool LwsServer::AdmitConnection(const std::string& ip) {
  if (shutting_down_) return false;
  if (config_.max_connections_per_ip > 0) {
    auto it = per_ip_.find(ip);
    if (it != per_ip_.end() && it->second >= config_.max_connections_per_ip) {
      LOG_WARN("refusing a connection from %s: %d open already (max-connections-per-ip)", ip.c_str(), it->second);
      return false;
    }
  }
  pending_ip_ = ip;
  return true;
}

void LwsServer::Track(lws* wsi) {
  if (pending_ip_.empty()) return;
  per_ip_[pending_ip_]++;
  wsi_ip_[wsi] = std::move(pending_ip_);
  pending_ip_.clear();
}

void LwsServer::Untrack(lws* wsi) {
  auto it = wsi_ip_.find(wsi);
  if (it == wsi_ip_.end()) return;
  auto count = per_ip_.find(it->second);
  if (count != per_ip_.end() && --count->second <= 0) per_ip_.erase(count);
  wsi_ip_.erase(it);
}

bool LwsServer::UpgradeAllowed(lws* wsi, const std::string& path) const {
  bool socketio = socketio_ && SocketIoEndpoint::IsPath(path);
  if (socketio_vhost_ && lws_get_vhost(wsi) == socketio_vhost_) return socketio;
  return path == "/ws" || socketio;
}

int LwsServer::OnHttp(lws* wsi, int reason, void* user, void* in, size_t len) {
  auto* pss = static_cast<SessionPss*>(user);
  switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION: {
      const auto* filt = static_cast<const lws_filter_network_conn_args*>(user);
      return AdmitConnection(AddressText(filt->cli_addr)) ? 0 : 1;
    }
    case LWS_CALLBACK_WSI_CREATE:
      Track(wsi);
      return 0;
    case LWS_CALLBACK_WSI_DESTROY:
      Untrack(wsi);
      return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
      OnWaitCancelled();
      return 0;
    case LWS_CALLBACK_HTTP: {
      lws_vhost* vhost = lws_get_vhost(wsi);
      HttpApi::Listener listener = vhost == push_vhost_       ? HttpApi::Listener::kPush
                                   : vhost == socketio_vhost_ ? HttpApi::Listener::kSocketIo
                                                              : HttpApi::Listener::kMain;
      if (!vhost) listener = HttpApi::Listener::kMain;
      return http_->OnRequest(wsi, pss, static_cast<const char*>(in), listener);
    }
    case LWS_CALLBACK_HTTP_BODY:
      return http_->OnBody(pss, static_cast<const char*>(in), len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
      return http_->OnBodyDone(pss);
    case LWS_CALLBACK_HTTP_WRITEABLE:
      return http_->OnWriteable(wsi, pss);
    case LWS_CALLBACK_CLOSED_HTTP:
      http_->OnClosed(pss);
      return 0;
    default:
      return lws_callback_http_dummy(wsi, static_cast<enum lws_callback_reasons>(reason), user, in, len);
  }
}

int LwsServer::OnWs(lws* wsi, int reason, void* user, void* in, size_t len) {
  auto* pss = static_cast<SessionPss*>(user);
  switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
      // None is accepted once shutdown began.
      return !UpgradeAllowed(wsi, Header(wsi, WSI_TOKEN_GET_URI)) || shutting_down_ ? 1 : 0;
    case LWS_CALLBACK_ESTABLISHED: {
      core::OpenInfo info;
      bool origin_ok = true;
      if (socketio_ && SocketIoEndpoint::IsPath(Header(wsi, WSI_TOKEN_GET_URI))) {
        uint64_t conn = ws_->Open(wsi, pss, &info, &origin_ok, true);
        socketio_->OnWsOpen(conn, QueryArgs(wsi), info, origin_ok);
        return 0;
      }
      core::SessionId sid = ws_->Open(wsi, pss, &info, &origin_ok);
      service_->OnOpen(sid, std::move(info));
      if (!origin_ok) ws_->Close(sid, LWS_CLOSE_STATUS_POLICY_VIOLATION, "origin not allowed");
      if (shutting_down_) ws_->Close(sid, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
      return 0;
    }
    case LWS_CALLBACK_RECEIVE: {
      std::string message;
      switch (ws_->Receive(wsi, pss, static_cast<const char*>(in), len, &message)) {
        case WsEndpoint::Received::kMore: return 0;
        case WsEndpoint::Received::kRefused: return -1;
        case WsEndpoint::Received::kMessage:
          if (pss->id & kSocketIoTransportBit) {
            socketio_->OnWsMessage(pss->id, message);
          } else {
            service_->OnFrame(pss->id, message);
          }
          return 0;
      }
      return 0;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE: {
      bool drained = false;
      int r = ws_->Writeable(wsi, pss, &drained);
      if (drained && (pss->id & kSocketIoTransportBit)) {
        socketio_->OnWsDrained(pss->id);
      } else if (drained) {
        service_->OnDrained(pss->id);
      }
      return r;
    }
    case LWS_CALLBACK_CLOSED: {
      core::SessionId sid = pss ? pss->id : 0;
      if (sid & kSocketIoTransportBit) {
        socketio_->OnWsClosed(sid);
      } else if (sid != 0) {
        service_->OnClose(sid);
      }
      ws_->Closed(pss);
      return 0;
    }
    default:
      return 0;
  }
}

}  // namespace chatd::net
