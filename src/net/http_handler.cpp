// SPDX-License-Identifier: MIT
//
// HTTP on the shared port: the embedded page, /healthz and the account API. Requests that need
// storage or password hashing are answered later: the handler records the request under an id,
// the worker's completion fills in the response and asks for WRITEABLE. A request whose
// connection closed meanwhile is simply forgotten (its id is gone from the map).
// Runs on the lws service thread only.
#include <libwebsockets.h>
#include <limits.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "auth/crypto.h"
#include "net/lws_server.h"
#include "proto/codec.h"
#include "proto/json_writer.h"
#include "util/embedded.h"
#include "util/log.h"

namespace chatd::net {

using util::Status;


namespace {

struct SessionPss {
  uint64_t id;
};

constexpr size_t kMaxBody = 64 * 1024;
constexpr size_t kChunk = 64 * 1024;
constexpr char kCookieName[] = "chatd_session";

std::string Header(lws* wsi, enum lws_token_indexes token) {
  int len = lws_hdr_total_length(wsi, token);
  if (len <= 0 || len > 8192) return {};
  std::string value(static_cast<size_t>(len) + 1, '\0');
  int n = lws_hdr_copy(wsi, value.data(), len + 1, token);
  if (n < 0) return {};
  value.resize(static_cast<size_t>(n));
  return value;
}

std::string CookieValue(const std::string& cookies, std::string_view name) {
  size_t pos = 0;
  while (pos < cookies.size()) {
    size_t end = cookies.find(';', pos);
    if (end == std::string::npos) end = cookies.size();
    std::string_view part(cookies.data() + pos, end - pos);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.substr(0, name.size()) == name && part[name.size()] == '=') {
      return std::string(part.substr(name.size() + 1));
    }
    pos = end + 1;
  }
  return {};
}

int HttpStatusFor(util::Code code) {
  switch (code) {
    case util::Code::kOk: return 200;
    case util::Code::kBadRequest: return 400;
    case util::Code::kUnauthorized: return 401;
    case util::Code::kForbidden: return 403;
    case util::Code::kNotFound: return 404;
    case util::Code::kTooLarge: return 413;
    case util::Code::kRateLimited: return 429;
    case util::Code::kConflict: return 409;
    case util::Code::kQuotaExceeded: return 429;
    case util::Code::kStorageFull: return 507;
    case util::Code::kUnavailable: return 503;
    case util::Code::kInternal: return 500;
  }
  return 500;
}

std::string_view ContentType(std::string_view path) {
  auto ends = [&](std::string_view ext) {
    return path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".ico")) return "image/x-icon";
  if (ends(".json") || ends(".webmanifest")) return "application/manifest+json";
  if (ends(".txt")) return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

std::string ETagOf(std::string_view data) {
  // FNV-1a 64: stable across builds for the same bytes.
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : data) h = (h ^ c) * 1099511628211ULL;
  char buf[24];
  snprintf(buf, sizeof buf, "\"%016llx\"", static_cast<unsigned long long>(h));
  return buf;
}

std::string CookieHeader(const std::string& token, int max_age_s) {
  return std::string("set-cookie: ") + kCookieName + "=" + token + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
         std::to_string(max_age_s);
}

}  // namespace

void LwsServer::Respond(uint64_t rid, int status, std::string content_type, std::string body,
                        std::vector<std::string> headers) {
  auto it = http_.find(rid);
  if (it == http_.end()) return;  // the client went away
  HttpReq& r = *it->second;
  r.ready = true;
  r.status = status;
  r.content_type = std::move(content_type);
  r.response = std::move(body);
  r.headers = std::move(headers);
  lws_callback_on_writable(r.wsi);
}

void LwsServer::RespondJson(uint64_t rid, int status, std::string body, std::vector<std::string> headers) {
  headers.push_back("cache-control: no-store");
  Respond(rid, status, "application/json", std::move(body), std::move(headers));
}

void LwsServer::RespondError(uint64_t rid, const Status& status, std::vector<std::string> headers) {
  std::string body;
  proto::JsonWriter(&body)
      .Begin()
      .BeginObject("error")
      .Str("code", Status::CodeName(status.code()))
      .Str("message", status.message())
      .End()
      .End();
  RespondJson(rid, HttpStatusFor(status.code()), std::move(body), std::move(headers));
}

int LwsServer::OnHttpRequest(lws* wsi, void* user, const char* path) {
  auto* pss = static_cast<SessionPss*>(user);
  if (pss->id) http_.erase(pss->id);  // keep-alive: a new request on the same connection
  uint64_t rid = next_id_++;
  pss->id = rid;
  auto req = std::make_unique<HttpReq>();
  req->wsi = wsi;
  req->path = path ? path : "/";
  if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0) {
    req->method = "POST";
  } else if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0) {
    req->method = "GET";
  } else if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0) {
    req->method = "HEAD";
    req->head = true;
  } else {
    req->method = "OTHER";
  }
  char peer[64] = {0};
  lws_get_peer_simple(wsi, peer, sizeof peer);
  req->peer = peer;
  req->origin = Header(wsi, WSI_TOKEN_ORIGIN);
  req->host = Header(wsi, WSI_TOKEN_HOST);
  req->cookie_token = CookieValue(Header(wsi, WSI_TOKEN_HTTP_COOKIE), kCookieName);
  std::string auth = Header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
  if (auth.rfind("Bearer ", 0) == 0) req->bearer = auth.substr(7);
  std::string length = Header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
  HttpReq& r = *req;
  http_[rid] = std::move(req);

  if (r.method == "POST") {
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
      // lws 4.1.6 does not decode chunked request bodies: answer clearly, and close, since the
      // body that follows would otherwise be read as the next request.
      RespondError(rid, Status::BadRequest("send the body with a Content-Length (chunked bodies are not accepted)"),
                   {"connection: close"});
      http_[rid]->status = 411;
      http_[rid]->close_after = true;
      return 0;
    }
    if (!length.empty() && std::strtoull(length.c_str(), nullptr, 10) > kMaxBody) {
      RespondError(rid, Status::TooLarge("request body over 64 KiB"));
      return 0;
    }
    if (length.empty() || length == "0") DispatchApi(rid);
    return 0;  // the body arrives in HTTP_BODY, then HTTP_BODY_COMPLETION dispatches
  }
  if (r.method == "OTHER") {
    RespondError(rid, Status(util::Code::kBadRequest, "method not allowed"));
    http_[rid]->status = 405;
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
    RespondError(rid, Status(util::Code::kNotFound, "use POST for " + r.path));
    return 0;
  }
  if (r.path == "/ws") {
    Respond(rid, 426, "text/plain; charset=utf-8", "WebSocket upgrade required\n", {"upgrade: websocket"});
    return 0;
  }
  if (!ServeStatic(rid, r.path)) {
    Respond(rid, 404, "text/plain; charset=utf-8", "not found\n");
  }
  return 0;
}

bool LwsServer::ServeStatic(uint64_t rid, const std::string& path) {
  std::string name = path == "/" ? "index.html" : path.substr(1);
  if (name.empty() || name.find("..") != std::string::npos || name.find('\0') != std::string::npos) return false;
  std::string data;
  std::string_view view;
  if (!config_.www.empty()) {
    // Development: from disk, confined to the folder (symlinks pointing out of it are refused).
    char root[PATH_MAX], file[PATH_MAX];
    if (!realpath(config_.www.c_str(), root)) return false;
    std::string full = config_.www + "/" + name;
    if (!realpath(full.c_str(), file)) return false;
    std::string_view f(file), rt(root);
    if (f.size() <= rt.size() || f.substr(0, rt.size()) != rt || f[rt.size()] != '/') return false;
    struct stat st {};
    if (stat(file, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > 8 * 1024 * 1024) return false;
    std::ifstream in(file, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    data = ss.str();
    view = data;
  } else {
    bool found = false;
    for (const auto& f : util::EmbeddedWww()) {
      if (f.name == name) {
        view = f.data;
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  auto it = http_.find(rid);
  std::string etag = ETagOf(view);
  std::string inm = it != http_.end() ? Header(it->second->wsi, WSI_TOKEN_HTTP_IF_NONE_MATCH) : "";
  std::vector<std::string> headers = {"cache-control: no-cache", "etag: " + etag};
  if (inm == etag) {
    Respond(rid, 304, std::string(ContentType(name)), "", std::move(headers));
    return true;
  }
  // HEAD too: the headers describe the body (its length) that is then not sent.
  Respond(rid, 200, std::string(ContentType(name)), std::string(view), std::move(headers));
  return true;
}

int LwsServer::OnHttpBody(lws*, void* user, const char* in, size_t len) {
  auto* pss = static_cast<SessionPss*>(user);
  auto it = http_.find(pss->id);
  if (it == http_.end()) return 0;
  HttpReq& r = *it->second;
  if (r.too_large || r.ready) return 0;
  if (r.body.size() + len > kMaxBody) {
    r.too_large = true;
    r.body.clear();
    return 0;
  }
  r.body.append(in, len);
  return 0;
}

int LwsServer::OnHttpBodyDone(lws*, void* user) {
  auto* pss = static_cast<SessionPss*>(user);
  auto it = http_.find(pss->id);
  if (it == http_.end() || it->second->ready) return 0;
  if (it->second->too_large) {
    RespondError(pss->id, Status::TooLarge("request body over 64 KiB"));
    return 0;
  }
  DispatchApi(pss->id);
  return 0;
}

void LwsServer::DispatchApi(uint64_t rid) {
  auto it = http_.find(rid);
  if (it == http_.end()) return;
  HttpReq& r = *it->second;
  // Browsers send Origin on cross-site POSTs: refuse those (login CSRF and friends).
  if (!r.origin.empty() && r.origin != "http://" + r.host && r.origin != "https://" + r.host) {
    bool allowed = false;
    for (const auto& o : config_.allowed_origins) allowed = allowed || o == r.origin;
    if (!allowed) {
      RespondError(rid, Status::Forbidden("cross-origin request refused"));
      return;
    }
  }
  if (shutting_down_) {
    RespondError(rid, Status::Unavailable("the server is shutting down"));
    return;
  }
  if (r.path == "/api/register" || r.path == "/api/login") {
    std::string user, password;
    Status s = proto::DecodeCredentials(r.body, &user, &password);
    if (!s.ok()) {
      RespondError(rid, s);
      return;
    }
    if (r.path == "/api/register") {
      auth_->Register(user, password, r.peer, [this, rid](const Status& st, const store::UserInfo& info) {
        if (!st.ok()) {
          RespondError(rid, st);
          return;
        }
        LOG_NOTICE("registered user %s", info.name.c_str());
        std::string body;
        proto::JsonWriter(&body).Begin().Str("user", info.name).End();
        RespondJson(rid, 201, std::move(body));
      });
      return;
    }
    auth_->Login(user, password, r.peer, true, [this, rid](const core::AuthService::LoginResult& res) {
      if (!res.status.ok()) {
        std::vector<std::string> headers;
        if (res.retry_ms > 0) headers.push_back("retry-after: " + std::to_string((res.retry_ms + 999) / 1000));
        RespondError(rid, res.status, std::move(headers));
        return;
      }
      std::string body;
      proto::JsonWriter(&body).Begin().Str("token", res.token).Str("user", res.user.name).Bool("admin", res.user.admin).End();
      RespondJson(rid, 200, std::move(body), {CookieHeader(res.token, config_.session_days * 86400)});
    });
    return;
  }
  if (r.path == "/api/logout") {
    std::string token = !r.bearer.empty() ? r.bearer : r.cookie_token;
    std::vector<std::string> clear = {CookieHeader("", 0)};
    if (token.empty()) {
      RespondJson(rid, 200, R"({"ok":true})", clear);
      return;
    }
    auth_->Logout(token, [this, rid, clear, token](const Status& st) {
      if (!st.ok()) {
        RespondError(rid, st);
        return;
      }
      if (service_) service_->OnTokenRevoked(auth::TokenHash(token));
      RespondJson(rid, 200, R"({"ok":true})", clear);
    });
    return;
  }
  RespondError(rid, Status::NotFound("no such API: " + r.path));
}

int LwsServer::OnHttpWriteable(lws* wsi, void* user) {
  auto* pss = static_cast<SessionPss*>(user);
  auto it = http_.find(pss->id);
  if (it == http_.end() || !it->second->ready) return 0;
  HttpReq& r = *it->second;
  if (!r.headers_sent) {
    unsigned char buf[LWS_PRE + 4096];
    unsigned char* start = buf + LWS_PRE;
    unsigned char* p = start;
    unsigned char* end = buf + sizeof buf - 1;
    size_t length = r.response.size();
    if (lws_add_http_common_headers(wsi, static_cast<unsigned int>(r.status), r.content_type.c_str(), length, &p,
                                    end)) {
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
    if (r.head || r.response.empty()) {
      bool close = r.close_after;
      http_.erase(it);
      pss->id = 0;
      return close || lws_http_transaction_completed(wsi) ? -1 : 0;
    }
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
  bool close = r.close_after;
  http_.erase(it);
  pss->id = 0;
  return close || lws_http_transaction_completed(wsi) ? -1 : 0;
}

void LwsServer::OnHttpClosed(void* user) {
  auto* pss = static_cast<SessionPss*>(user);
  if (!pss || pss->id == 0) return;
  http_.erase(pss->id);
  pss->id = 0;
}

}  // namespace chatd::net
