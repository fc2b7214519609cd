// SPDX-License-Identifier: MIT
//
// net::LwsServer: the libwebsockets glue. One context, one vhost, one port serving:
//   GET  /            the chat page (embedded in the binary, or --www DIR for development)
//   GET  /ws          the WebSocket endpoint (subprotocol "chatd.v1", also the default)
//   GET  /healthz     200 {"ok":true} when storage answers, 503 otherwise
//   POST /api/register, /api/login, /api/logout
// It implements core::Outbox: each connection has a queue of shared frames; on WRITEABLE
// everything queued is packed into ONE WebSocket message (newline-separated) and written once.
// Past `outbound_limit` bytes the connection is closed with 4008.
//
// Threads: everything here runs on the one lws service thread (the libev loop, see loop_),
// except RequestStop(), which is async-signal-safe. Worker threads reach this thread only through the CompletionQueue, whose
// wake function is lws_cancel_service(); the queue is drained in LWS_CALLBACK_EVENT_WAIT_CANCELLED.
//
// Per-session lws memory holds only a trivial struct with an id (STYLE R2); the C++ state of
// each connection lives in maps owned by this object, reached through lws_context_user().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "core/auth_service.h"
#include "core/chat_service.h"
#include "core/outbox.h"
#include "store/chat_store.h"
#include "util/completion_queue.h"
#include "util/status.h"

struct lws;
struct lws_context;
struct lws_protocols;
struct lws_vhost;
struct ev_loop;

namespace chatd::net {

// Queued frames of one connection are packed into one WebSocket message of at most this many
// bytes per WRITEABLE (larger batches take several), and written with one send().
inline constexpr size_t kMaxPackedBytes = 256 * 1024;

class LwsServer final : public core::Outbox {
 public:
  // Pointers must outlive the server. `config` must be validated.
  LwsServer(const config::Config& config, util::CompletionQueue* completions, store::ChatStore* store,
            core::AuthService* auth);
  ~LwsServer() override;
  LwsServer(const LwsServer&) = delete;
  LwsServer& operator=(const LwsServer&) = delete;

  // Creates the context and starts listening. After it, url() tells where.
  util::Status Start();
  // The core that receives connection events; set before Run().
  void set_service(core::ChatService* service) { service_ = service; }
  // Serves until RequestStop(), then drains (see DESIGN.md, shutdown) and returns.
  void Run();
  // Async-signal-safe: asks Run() to begin a graceful shutdown.
  void RequestStop();

  std::string url() const;
  int port() const { return port_; }

  // core::Outbox
  bool Send(core::SessionId sid, const core::Frame& frame) override;
  void Close(core::SessionId sid, int code, std::string_view reason) override;
  size_t Queued(core::SessionId sid) const override;

  // lws callbacks (public only so the C trampolines in the .cpp files can reach them).
  int OnHttp(lws* wsi, int reason, void* user, void* in, size_t len);
  int OnWs(lws* wsi, int reason, void* user, void* in, size_t len);

 private:
  struct WsConn {
    lws* wsi = nullptr;
    std::vector<core::Frame> queue;
    size_t head = 0;           // next frame to write
    size_t queued_bytes = 0;
    std::string rx;            // fragments of a message being received
    int close_code = 0;        // set: close once the queue is flushed
    std::string close_reason;
    bool paused = false;       // rx flow control during shutdown
  };
  struct HttpReq {
    lws* wsi = nullptr;
    std::string method, path;
    std::string body;
    bool too_large = false;
    std::string origin, host, cookie_token, bearer;
    std::string peer;  // the client's address
    // response
    bool ready = false;
    bool headers_sent = false;
    bool head = false;
    bool close_after = false;  // close the connection once the response is written
    int status = 200;
    std::string content_type;
    std::string response;
    size_t sent = 0;
    std::vector<std::string> headers;  // "name: value"
  };

  // ws_protocol.cpp
  int OnWsEstablished(lws* wsi, void* user);
  int OnWsReceive(lws* wsi, void* user, const char* in, size_t len);
  int OnWsWriteable(lws* wsi, void* user);
  void OnWsClosed(void* user);
  bool OriginAllowed(lws* wsi);

  // http_handler.cpp
  int OnHttpRequest(lws* wsi, void* user, const char* path);
  int OnHttpBody(lws* wsi, void* user, const char* in, size_t len);
  int OnHttpBodyDone(lws* wsi, void* user);
  int OnHttpWriteable(lws* wsi, void* user);
  void OnHttpClosed(void* user);
  void DispatchApi(uint64_t rid);
  void Respond(uint64_t rid, int status, std::string content_type, std::string body,
               std::vector<std::string> headers = {});
  void RespondJson(uint64_t rid, int status, std::string body, std::vector<std::string> headers = {});
  void RespondError(uint64_t rid, const util::Status& status, std::vector<std::string> headers = {});
  bool ServeStatic(uint64_t rid, const std::string& path);

  // lws_server.cpp
  bool AdmitConnection(const std::string& ip);
  void Track(lws* wsi);
  void Untrack(lws* wsi);
  void OnWaitCancelled();
  void BeginShutdown();
  void OnTick();
  void ScheduleTick();

  const config::Config& config_;
  util::CompletionQueue* completions_;
  store::ChatStore* store_;
  core::AuthService* auth_;
  core::ChatService* service_ = nullptr;

  // The event loop: libev with epoll, handed to lws as a foreign loop. lws's own poll() loop
  // costs O(connections) per wake-up, which dominates at a few thousand messages a second.
  struct ev_loop* loop_ = nullptr;
  lws_context* context_ = nullptr;
  std::unique_ptr<lws_protocols[]> protocols_;  // kProtocols with the configured rx buffer; lws keeps the pointer
  lws_vhost* vhost_ = nullptr;
  int port_ = 0;
  struct TickTimer;
  std::unique_ptr<TickTimer> tick_;

  uint64_t next_id_ = 1;
  std::unordered_map<core::SessionId, WsConn> conns_;
  std::unordered_map<uint64_t, std::unique_ptr<HttpReq>> http_;

  // Per-IP connection accounting (LWS_WITH_PEER_LIMITS is not in Debian's build).
  std::unordered_map<std::string, int> per_ip_;
  std::unordered_map<lws*, std::string> wsi_ip_;
  std::string pending_ip_;  // set by FILTER_NETWORK_CONNECTION for the next WSI_CREATE

  std::vector<unsigned char> write_buf_;  // reused for packing frames: LWS_PRE + payload

  volatile int stop_requested_ = 0;  // written by the signal handler
  bool shutting_down_ = false;
  int64_t shutdown_started_ms_ = 0;
  bool closing_sent_ = false;
  bool done_ = false;
};

}  // namespace chatd::net
