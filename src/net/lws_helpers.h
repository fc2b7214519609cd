// SPDX-License-Identifier: MIT
//
// net lws helpers: what both of chatd's lws protocols (HTTP and WebSocket) read off a
// connection, written once. Header() copies a request header (at most kMaxHeaderBytes; longer
// ones read as absent); CookieValue() finds one cookie; OriginAllowed() is the Origin rule of
// both the WebSocket upgrade and the HTTP API (no Origin, the page's own, or allowed-origins);
// PeerAddress() is the client's address as text. SessionPss is the per-session memory lws
// allocates for either protocol (STYLE R2: a trivial struct holding an id).
// lws service thread only (the pure helpers: any thread).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <libwebsockets.h>

#include "util/status.h"

namespace chatd::net {

// The per-session user memory of both protocols: zeroed raw memory, no constructor runs.
struct SessionPss {
  uint64_t id;
};

inline constexpr int kMaxHeaderBytes = 8192;
// The cookie that carries a login token (set by POST /api/login).
inline constexpr char kSessionCookie[] = "chatd_session";

// The value of header `token` of the request on `wsi`, "" if absent or longer than the limit.
std::string Header(lws* wsi, enum lws_token_indexes token);
// The query string's name=value pairs, in order, as lws decoded them (each '&'-separated part
// is a fragment of WSI_TOKEN_HTTP_URI_ARGS, %-escapes already decoded).
std::vector<std::pair<std::string, std::string>> QueryArgs(lws* wsi);
// The value of cookie `name` in a Cookie header ("a=1; b=2"), "" if absent.
std::string CookieValue(std::string_view cookies, std::string_view name);
// Whether a request with this Origin (and Host) may act with the user's credentials.
bool OriginAllowed(std::string_view origin, std::string_view host, const std::vector<std::string>& allowed);
// The client's address ("127.0.0.1", "::1").
std::string PeerAddress(lws* wsi);
// Text of an accepted socket's address, IPv4-mapped IPv6 as IPv4.
std::string AddressText(const sockaddr_storage& addr);
// The HTTP status that answers a Status of this code (400, 401, ..., 507).
int HttpStatusFor(util::Code code);
// Sets the close code and reason lws sends when the callback then returns -1.
void SetCloseReason(lws* wsi, int code, std::string_view reason);

}  // namespace chatd::net
