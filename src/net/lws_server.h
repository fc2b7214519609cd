// SPDX-License-Identifier: MIT
//
// net::LwsServer: the libwebsockets context and its event loop. One vhost, one port, two
// protocols: "http" (HttpApi: the page, /healthz, /api/*) and "chatd.v1" (WsEndpoint, at /ws,
// also the default for upgrades that name no subprotocol). With push-listen, a second vhost on
// its own port speaks "http" only and serves /push (web-msg-sender's port 2121). /socket.io/
// (SocketIoEndpoint) is served on the main port over both protocols (long-polls through HttpApi,
// WebSocket transports through WsEndpoint) and, with socketio-listen, alone on a third vhost. It turns lws callbacks into calls
// on those two and, for WebSocket events, on the core (ChatService): a connection opened, a
// message complete, a queue drained, a connection closed. It refuses connections past
// `max-connections-per-ip` (Debian's lws has no peer limits) and, from the start of a
// shutdown, every new one.
//
// Shutdown (RequestStop, async-signal-safe): stop reading, let the store answer what is in
// flight (up to 3 s), close every WebSocket with 1001 after what it has queued, and return
// from Run() once all are gone (at most 5 s in all).
// Threads: everything runs on the one lws service thread (the libev loop), but RequestStop().
// Worker threads reach it only through the CompletionQueue, whose wake function is
// lws_cancel_service(); it is drained in LWS_CALLBACK_EVENT_WAIT_CANCELLED and every tick.
// The server is reached from the C callbacks through lws_context_user(), never a global.
// Every pointer given must outlive it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "config/config.h"
#include "core/chat_service.h"
#include "net/http_api.h"
#include "net/socketio_endpoint.h"
#include "net/ws_endpoint.h"
#include "store/chat_store.h"
#include "util/completion_queue.h"
#include "util/status.h"

struct lws;
struct lws_context;
struct lws_protocols;
struct lws_vhost;
struct ev_loop;

namespace chatd::net {

class LwsServer {
 public:
  // `socketio` (optional): /socket.io/ on the main port, and on socketio-listen when set.
  LwsServer(const config::Config& config, util::CompletionQueue* completions, store::ChatStore* store,
            WsEndpoint* ws, HttpApi* http, core::ChatService* service, SocketIoEndpoint* socketio = nullptr);
  ~LwsServer();
  LwsServer(const LwsServer&) = delete;
  LwsServer& operator=(const LwsServer&) = delete;

  // Creates the context and starts listening. After it, url() tells where.
  util::Status Start();
  // Serves until RequestStop(), then shuts down (see above) and returns.
  void Run();
  // Async-signal-safe: asks Run() to begin a graceful shutdown.
  void RequestStop() { stop_requested_ = 1; }

  std::string url() const;
  int port() const { return port_; }
  // The push listener's /push URL ("" when push-listen is off).
  std::string push_url() const;
  // The socketio-listen listener's URL ("" when it is off).
  std::string socketio_url() const;

  // lws callbacks (public only so the C trampolines can reach them).
  int OnHttp(lws* wsi, int reason, void* user, void* in, size_t len);
  int OnWs(lws* wsi, int reason, void* user, void* in, size_t len);

 private:
  bool AdmitConnection(const std::string& ip);
  // Opens a second listener on `host`:`port` (push-listen, socketio-listen).
  util::Status AddVhost(const char* name, const std::string& host, int port, const lws_protocols* protocols,
                        const std::string& setting, lws_vhost** vhost, int* bound_port);
  // Which WebSocket paths a connection on `wsi` may upgrade at.
  bool UpgradeAllowed(lws* wsi, const std::string& path) const;
  void Track(lws* wsi);
  void Untrack(lws* wsi);
  void OnWaitCancelled();
  void BeginShutdown();
  void OnTick();
  void ScheduleTick();

  const config::Config& config_;
  util::CompletionQueue* completions_;
  store::ChatStore* store_;
  WsEndpoint* ws_;
  HttpApi* http_;
  core::ChatService* service_;
  SocketIoEndpoint* socketio_;

  // The event loop: libev with epoll, handed to lws as a foreign loop. lws's own poll() loop
  // costs O(connections) per wake-up, which dominates at a few thousand messages a second.
  struct ev_loop* loop_ = nullptr;
  lws_context* context_ = nullptr;
  std::unique_ptr<lws_protocols[]> protocols_;  // with the configured rx buffer; lws keeps the pointer
  lws_vhost* vhost_ = nullptr;
  int port_ = 0;
  lws_vhost* push_vhost_ = nullptr;  // push-listen: /push only
  int push_port_ = 0;
  lws_vhost* socketio_vhost_ = nullptr;  // socketio-listen: /socket.io/ only
  int socketio_port_ = 0;
  struct TickTimer;
  std::unique_ptr<TickTimer> tick_;

  // Per-IP connection accounting (LWS_WITH_PEER_LIMITS is not in Debian's build).
  std::unordered_map<std::string, int> per_ip_;
  std::unordered_map<lws*, std::string> wsi_ip_;
  std::string pending_ip_;  // set by FILTER_NETWORK_CONNECTION for the next WSI_CREATE

  volatile int stop_requested_ = 0;  // written by the signal handler
  bool shutting_down_ = false;
  int64_t shutdown_started_ms_ = 0;
  bool closing_sent_ = false;
  bool done_ = false;
};

}  // namespace chatd::net
