// SPDX-License-Identifier: MIT
#include "net/http_api.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "auth/crypto.h"
#include "proto/codec.h"
#include "proto/frames.h"
#include "util/log.h"

namespace chatd::net {

using util::Status;

namespace {

constexpr size_t kMaxBody = 64 * 1024;
constexpr size_t kChunk = 64 * 1024;

std::string CookieHeader(const std::string& token, int max_age_s) {
  return std::string("set-cookie: ") + kSessionCookie + "=" + token + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
         std::to_string(max_age_s);
}

}  // namespace

void HttpApi::Respond(uint64_t rid, int status, std::string content_type, std::string body,
                      std::vector<std::string> headers) {
  auto it = requests_.find(rid);
  if (it == requests_.end()) return;  // the client went away
  Request& r = *it->second;
  r.ready = true;
  r.status = status;
  r.content_type = std::move(content_type);
  r.response = std::move(body);
  r.headers = std::move(headers);
  lws_callback_on_writable(r.wsi);
}

void HttpApi::RespondJson(uint64_t rid, int status, std::string body, std::vector<std::string> headers) {
  headers.push_back("cache-control: no-store");
  Respond(rid, status, "application/json", std::move(body), std::move(headers));
}

void HttpApi::RespondError(uint64_t rid, const Status& status, std::vector<std::string> headers) {
  RespondJson(rid, HttpStatusFor(status.code()), proto::EncodeHttpError(status), std::move(headers));
}

void HttpApi::Answer(uint64_t rid, PollAnswer answer) {
  Respond(rid, answer.status, std::move(answer.content_type), std::move(answer.body), std::move(answer.headers));
}

void HttpApi::Wake(uint64_t rid) {
  auto it = requests_.find(rid);
  if (it == requests_.end() || it->second->ready) return;
  it->second->woken = true;
  lws_callback_on_writable(it->second->wsi);
}

void HttpApi::Forget(uint64_t rid, bool written) {
  auto it = requests_.find(rid);
  if (it == requests_.end()) return;
  bool taken = it->second->taken, pending = it->second->socketio && !it->second->ready;
  requests_.erase(it);
  if (!socketio_) return;
  if (taken && written) {
    socketio_->PollWritten(rid);
  } else if (taken || pending) {
    socketio_->PollGone(rid);
  }
}

int HttpApi::OnRequest(lws* wsi, SessionPss* pss, const char* path, Listener listener) {
  if (pss->id) Forget(pss->id, false);  // keep-alive: a new request on the same connection
  bool push_listener = listener == Listener::kPush;
  uint64_t rid = next_id_++;
  pss->id = rid;
  auto owned = std::make_unique<Request>();
  Request& r = *owned;
  requests_[rid] = std::move(owned);
  r.wsi = wsi;
  r.path = path ? path : "/";
  r.push_listener = push_listener;
  if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0) {
    r.method = "POST";
  } else if (lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI) > 0) {
    r.method = "OPTIONS";
  } else if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0) {
    r.method = "GET";
  } else if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0) {
    r.method = "HEAD";
    r.head = true;
  } else {
    r.method = "OTHER";
  }
  r.peer = PeerAddress(wsi);
  r.origin = Header(wsi, WSI_TOKEN_ORIGIN);
  r.host = Header(wsi, WSI_TOKEN_HOST);
  r.cookie_token = CookieValue(Header(wsi, WSI_TOKEN_HTTP_COOKIE), kSessionCookie);
  std::string auth = Header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
  if (auth.rfind("Bearer ", 0) == 0) r.bearer = auth.substr(7);
  r.request_type = Header(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE);
  if (push_listener && r.path != "/push") {
    Respond(rid, 404, "text/plain; charset=utf-8", "this listener serves /push only\n");
    return 0;
  }

  if (listener == Listener::kSocketIo && !SocketIoEndpoint::IsPath(r.path)) {
    Respond(rid, 404, "text/plain; charset=utf-8", "this listener serves /socket.io/ only\n");
    return 0;
  }
  r.socketio = socketio_ && SocketIoEndpoint::IsPath(r.path);
  if (r.socketio || (site_api_ && SiteApi::Handles(r.method, r.path))) r.query = QueryArgs(wsi);
  if (r.method == "POST") {
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
      // lws 4.1.6 does not decode chunked request bodies: answer clearly, and close, since the
      // body that follows would otherwise be read as the next request.
      r.close_after = true;
      RespondError(rid, Status::BadRequest("send the body with a Content-Length (chunked bodies are not accepted)"),
                   {"connection: close"});
      r.status = 411;
      return 0;
    }
    std::string length = Header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
    if (!length.empty() && std::strtoull(length.c_str(), nullptr, 10) > kMaxBody) {
      RespondError(rid, Status::TooLarge("request body over 64 KiB"));
      return 0;
    }
    if (length.empty() || length == "0") Dispatch(rid);
    return 0;  // the body arrives in HTTP_BODY, then HTTP_BODY_COMPLETION dispatches
  }
  if (r.socketio) {
    DispatchSocketIo(rid);
    return 0;
  }
  if (r.method == "OTHER" || r.method == "OPTIONS") {
    RespondError(rid, Status::BadRequest("method not allowed"));
    r.status = 405;
    return 0;
  }
  if (site_api_ && SiteApi::Handles(r.method, r.path)) {
    DispatchSite(rid);
    return 0;
  }
  if (r.path == "/healthz") {
    if (shutting_down_) {
      RespondJson(rid, 503, R"({"ok":false,"error":"shutting down"})");
      return 0;
    }
    store_->Ping([this, rid](const Status& status) {
      if (!status.ok()) LOG_WARN("health check failed: %s", status.ToString().c_str());
      RespondJson(rid, status.ok() ? 200 : 503, status.ok() ? R"({"ok":true})" : R"({"ok":false})");
    });
    return 0;
  }
  if (r.path.rfind("/api/", 0) == 0) {
    RespondError(rid, Status::NotFound("use POST for " + r.path));
    return 0;
  }
  if (r.path == "/ws") {
    Respond(rid, 426, "text/plain; charset=utf-8", "WebSocket upgrade required\n", {"upgrade: websocket"});
    return 0;
  }
  StaticSite::File file;
  if (!site_.Find(r.path, &file)) {
    Respond(rid, 404, "text/plain; charset=utf-8", "not found\n");
    return 0;
  }
  std::vector<std::string> headers = {"cache-control: no-cache", "etag: " + file.etag};
  if (Header(wsi, WSI_TOKEN_HTTP_IF_NONE_MATCH) == file.etag) {
    Respond(rid, 304, std::move(file.content_type), "", std::move(headers));
  } else {
    // HEAD too: the headers describe the body (its length) that is then not sent.
    Respond(rid, 200, std::move(file.content_type), std::move(file.body), std::move(headers));
  }
  return 0;
}

int HttpApi::OnBody(SessionPss* pss, const char* in, size_t len) {
  auto it = requests_.find(pss->id);
  if (it == requests_.end()) return 0;
  Request& r = *it->second;
  if (r.too_large || r.ready) return 0;
  if (r.body.size() + len > kMaxBody) {
    r.too_large = true;
    r.body.clear();
    return 0;
  }
  r.body.append(in, len);
  return 0;
}

int HttpApi::OnBodyDone(SessionPss* pss) {
  auto it = requests_.find(pss->id);
  if (it == requests_.end() || it->second->ready) return 0;
  if (it->second->too_large) {
    RespondError(pss->id, Status::TooLarge("request body over 64 KiB"));
    return 0;
  }
  Dispatch(pss->id);
  return 0;
}

void HttpApi::Dispatch(uint64_t rid) {
  auto it = requests_.find(rid);
  if (it == requests_.end()) return;
  Request& r = *it->second;
  if (r.socketio) return DispatchSocketIo(rid);  // its own Origin rule (CORS)
  // Browsers send Origin on cross-site POSTs: refuse those (login CSRF and friends).
  if (!OriginAllowed(r.origin, r.host, config_.allowed_origins)) {
    RespondError(rid, Status::Forbidden("cross-origin request refused"));
    return;
  }
  if (shutting_down_) {
    RespondError(rid, Status::Unavailable("the server is shutting down"));
    return;
  }
  if (r.path == "/api/register" || r.path == "/api/login") {
    std::string user, password;
    Status s = proto::DecodeCredentials(r.body, &user, &password);
    if (!s.ok()) return RespondError(rid, s);
    if (r.path == "/api/login") return Login(rid, user, password, r.peer);
    auth_->Register(user, password, r.peer, [this, rid](const Status& st, const store::UserInfo& info) {
      if (!st.ok()) return RespondError(rid, st);
      LOG_NOTICE("registered user %s", info.name.c_str());
      RespondJson(rid, 201, proto::EncodeRegistered(info.name));
    });
    return;
  }
  if (r.path == "/api/logout") return Logout(rid, !r.bearer.empty() ? r.bearer : r.cookie_token);
  if (site_api_ && SiteApi::Handles(r.method, r.path)) return DispatchSite(rid);
  RespondError(rid, Status::NotFound("no such API: " + r.path));
}

void HttpApi::DispatchSite(uint64_t rid) {
  auto it = requests_.find(rid);
  if (it == requests_.end()) return;
  Request& r = *it->second;
  if (shutting_down_) return RespondError(rid, Status::Unavailable("the server is shutting down"));
  SiteCall call;
  call.method = r.method;
  call.path = r.path;
  call.query = std::move(r.query);
  call.body = std::move(r.body);
  call.content_type = r.request_type;
  call.bearer = r.bearer;
  call.push_listener = r.push_listener;
  site_api_->Handle(std::move(call), [this, rid](int status, std::string type, std::string body,
                                                 std::vector<std::string> headers) {
    Respond(rid, status, std::move(type), std::move(body), std::move(headers));
  });
}

void HttpApi::DispatchSocketIo(uint64_t rid) {
  Request& r = *requests_.at(rid);
  PollRequest req;
  req.method = r.method;
  req.query = std::move(r.query);
  req.body = std::move(r.body);
  req.origin = r.origin;
  req.host = r.host;
  req.peer = r.peer;
  req.cookie_token = r.cookie_token;
  lws* wsi = r.wsi;
  socketio_->OnPoll(rid, std::move(req));
  auto it = requests_.find(rid);
  if (it != requests_.end() && !it->second->ready) {
    // A long-poll: lws would cut it at its request timeout (20 s); the endpoint answers it
    // within a heartbeat interval instead.
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, config_.socketio_ping_interval + config_.socketio_ping_timeout + 5);
  }
}

void HttpApi::Login(uint64_t rid, const std::string& user, const std::string& password, const std::string& peer) {
  auth_->Login(user, password, peer, true, [this, rid](const core::AuthService::LoginResult& res) {
    if (!res.status.ok()) {
      std::vector<std::string> headers;
      if (res.retry_ms > 0) headers.push_back("retry-after: " + std::to_string((res.retry_ms + 999) / 1000));
      return RespondError(rid, res.status, std::move(headers));
    }
    RespondJson(rid, 200, proto::EncodeLoggedIn(res.token, res.user.name, res.user.admin),
                {CookieHeader(res.token, config_.session_days * 86400)});
  });
}

void HttpApi::Logout(uint64_t rid, const std::string& token) {
  std::vector<std::string> clear = {CookieHeader("", 0)};
  if (token.empty()) return RespondJson(rid, 200, R"({"ok":true})", clear);
  auth_->Logout(token, [this, rid, clear, token](const Status& st) {
    if (!st.ok()) return RespondError(rid, st);
    service_->OnTokenRevoked(auth::TokenHash(token));  // its live sessions end now
    RespondJson(rid, 200, R"({"ok":true})", clear);
  });
}

int HttpApi::Finish(lws* wsi, SessionPss* pss, bool close) {
  uint64_t rid = pss->id;
  pss->id = 0;
  Forget(rid, true);
  return close || lws_http_transaction_completed(wsi) ? -1 : 0;
}

int HttpApi::OnWriteable(lws* wsi, SessionPss* pss) {
  auto it = requests_.find(pss->id);
  if (it == requests_.end()) return 0;
  Request& r = *it->second;
  if (!r.ready) {
    if (!r.woken || !socketio_) return 0;
    // A long-poll with something to say: its answer is made now, so it holds all that waits.
    PollAnswer answer = socketio_->TakePoll(pss->id);
    r.taken = true;
    r.ready = true;
    r.status = answer.status;
    r.content_type = std::move(answer.content_type);
    r.response = std::move(answer.body);
    r.headers = std::move(answer.headers);
  }
  if (!r.headers_sent) {
    unsigned char buf[LWS_PRE + 4096];
    unsigned char* start = buf + LWS_PRE;
    unsigned char* p = start;
    unsigned char* end = buf + sizeof buf - 1;
    if (lws_add_http_common_headers(wsi, static_cast<unsigned int>(r.status), r.content_type.c_str(),
                                    r.response.size(), &p, end)) {
      return 1;
    }
    for (const auto& h : r.headers) {
      size_t colon = h.find(':');
      if (colon == std::string::npos) continue;
      std::string name = h.substr(0, colon + 1);
      std::string value = h.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(name.c_str()),
                                      reinterpret_cast<const unsigned char*>(value.data()),
                                      static_cast<int>(value.size()), &p, end)) {
        return 1;
      }
    }
    if (lws_finalize_write_http_header(wsi, start, &p, end)) return 1;
    r.headers_sent = true;
    if (r.head || r.response.empty()) return Finish(wsi, pss, r.close_after);
    lws_callback_on_writable(wsi);
    return 0;
  }
  size_t n = std::min(kChunk, r.response.size() - r.sent);
  bool last = r.sent + n == r.response.size();
  std::vector<unsigned char> buf(LWS_PRE + n);
  memcpy(buf.data() + LWS_PRE, r.response.data() + r.sent, n);
  if (lws_write(wsi, buf.data() + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != static_cast<int>(n)) {
    return 1;
  }
  r.sent += n;
  if (!last) {
    lws_callback_on_writable(wsi);
    return 0;
  }
  return Finish(wsi, pss, r.close_after);
}

void HttpApi::OnClosed(SessionPss* pss) {
  if (!pss || pss->id == 0) return;
  uint64_t rid = pss->id;
  pss->id = 0;
  Forget(rid, false);
}

}  // namespace chatd::net
