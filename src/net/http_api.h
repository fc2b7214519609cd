// SPDX-License-Identifier: MIT
//
// net::HttpApi: HTTP on the shared port:
//   GET  /, /app.js, ...  the page (StaticSite), with ETag / If-None-Match; HEAD too
//   GET  /healthz         200 {"ok":true} when the store answers, 503 otherwise
//   POST /api/register, /api/login, /api/logout
//   the calls of a site's backend (SiteApi: /api/publish, /push, /api/messages, ...)
//   GET|POST|OPTIONS /socket.io/   Engine.IO long-polling (SocketIoEndpoint), whose GETs wait
//                         until the endpoint wakes them (PollResponder)
// Requests that need the store or password hashing are answered later: a request is kept
// under its id, the completion fills in the response and asks for WRITEABLE; a request whose
// connection closed meanwhile is forgotten (its id is gone). Bodies need a Content-Length and
// are limited to 64 KiB; cross-origin POSTs are refused (OriginAllowed). Errors are JSON
// (proto::EncodeHttpError) with a status that fits the code.
// lws service thread only; every pointer must outlive it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/auth_service.h"
#include "core/chat_service.h"
#include "net/lws_helpers.h"
#include "net/site_api.h"
#include "net/socketio_endpoint.h"
#include "net/static_site.h"
#include "store/chat_store.h"
#include "util/status.h"

namespace chatd::net {

class HttpApi final : public PollResponder {
 public:
  // `site` (optional) answers the calls of a site's backend; `socketio` (optional) /socket.io/.
  HttpApi(const config::Config& config, core::AuthService* auth, store::ChatStore* store, core::ChatService* service,
          SiteApi* site = nullptr, SocketIoEndpoint* socketio = nullptr)
      : config_(config),
        auth_(auth),
        store_(store),
        service_(service),
        site_api_(site),
        socketio_(socketio),
        site_(config.www) {}

  // Which listener a request came in on: the main one, push-listen (/push only) or
  // socketio-listen (/socket.io/ only).
  enum class Listener { kMain, kPush, kSocketIo };
  // The lws HTTP callbacks of one request on `wsi` (its id lives in `pss`).
  int OnRequest(lws* wsi, SessionPss* pss, const char* path, Listener listener = Listener::kMain);
  int OnBody(SessionPss* pss, const char* in, size_t len);
  int OnBodyDone(SessionPss* pss);
  int OnWriteable(lws* wsi, SessionPss* pss);
  void OnClosed(SessionPss* pss);

  // From now on every API request is answered 503 (the server is stopping).
  void BeginShutdown() { shutting_down_ = true; }
  size_t size() const { return requests_.size(); }

  // PollResponder (SocketIoEndpoint's long-polls)
  void Answer(uint64_t rid, PollAnswer answer) override;
  void Wake(uint64_t rid) override;

 private:
  struct Request {
    lws* wsi = nullptr;
    std::string method, path, body;
    bool too_large = false;
    std::string origin, host, cookie_token, bearer, peer, request_type;  // request_type: its Content-Type
    std::vector<std::pair<std::string, std::string>> query;
    bool push_listener = false;
    bool socketio = false;  // a /socket.io/ request
    bool woken = false;     // a long-poll whose answer SocketIoEndpoint gives at WRITEABLE
    bool taken = false;     // ... and gave: it hears PollWritten / PollGone
    // the response
    bool ready = false, headers_sent = false, head = false;
    bool close_after = false;  // close the connection once the response is written
    int status = 200;
    std::string content_type, response;
    size_t sent = 0;
    std::vector<std::string> headers;  // "name: value"
  };

  void Dispatch(uint64_t rid);
  void DispatchSite(uint64_t rid);
  void DispatchSocketIo(uint64_t rid);
  // Forgets a request; a long-poll's endpoint hears of it (written or gone).
  void Forget(uint64_t rid, bool written);
  void Login(uint64_t rid, const std::string& user, const std::string& password, const std::string& peer);
  void Logout(uint64_t rid, const std::string& token);
  void Respond(uint64_t rid, int status, std::string content_type, std::string body,
               std::vector<std::string> headers = {});
  void RespondJson(uint64_t rid, int status, std::string body, std::vector<std::string> headers = {});
  void RespondError(uint64_t rid, const util::Status& status, std::vector<std::string> headers = {});
  // Ends the request (the response is written): the lws result, -1 to close the connection.
  int Finish(lws* wsi, SessionPss* pss, bool close);

  const config::Config& config_;
  core::AuthService* auth_;
  store::ChatStore* store_;
  core::ChatService* service_;
  SiteApi* site_api_;
  SocketIoEndpoint* socketio_;
  StaticSite site_;
  bool shutting_down_ = false;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Request>> requests_;
};

}  // namespace chatd::net
