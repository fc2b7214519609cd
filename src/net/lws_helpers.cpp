// SPDX-License-Identifier: MIT
#include "net/lws_helpers.h"

#include <arpa/inet.h>

namespace chatd::net {

std::string Header(lws* wsi, enum lws_token_indexes token) {
  int len = lws_hdr_total_length(wsi, token);
  if (len <= 0 || len > kMaxHeaderBytes) return {};
  std::string value(static_cast<size_t>(len) + 1, '\0');
  int n = lws_hdr_copy(wsi, value.data(), len + 1, token);
  if (n < 0) return {};
  value.resize(static_cast<size_t>(n));
  return value;
}

std::vector<std::pair<std::string, std::string>> QueryArgs(lws* wsi) {
  std::vector<std::pair<std::string, std::string>> args;
  std::string buf(kMaxHeaderBytes + 1, '\0');
  for (int i = 0; i < 256; ++i) {
    int n = lws_hdr_copy_fragment(wsi, buf.data(), static_cast<int>(buf.size()), WSI_TOKEN_HTTP_URI_ARGS, i);
    if (n < 0) break;
    std::string_view arg(buf.data(), static_cast<size_t>(n));
    size_t eq = arg.find('=');
    args.emplace_back(std::string(arg.substr(0, eq)), eq == std::string_view::npos ? "" : std::string(arg.substr(eq + 1)));
  }
  return args;
}

std::string CookieValue(std::string_view cookies, std::string_view name) {
  size_t pos = 0;
  while (pos < cookies.size()) {
    size_t end = cookies.find(';', pos);
    if (end == std::string_view::npos) end = cookies.size();
    std::string_view part = cookies.substr(pos, end - pos);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.substr(0, name.size()) == name && part[name.size()] == '=') {
      return std::string(part.substr(name.size() + 1));
    }
    pos = end + 1;
  }
  return {};
}

bool OriginAllowed(std::string_view origin, std::string_view host, const std::vector<std::string>& allowed) {
  // Browsers send Origin; without one it is not a browser, and there are no ambient cookies to
  // abuse (login CSRF and friends need a browser).
  if (origin.empty()) return true;
  if (!host.empty() && (origin == "http://" + std::string(host) || origin == "https://" + std::string(host))) return true;
  for (const auto& a : allowed) {
    if (origin == a) return true;
  }
  return false;
}

std::string PeerAddress(lws* wsi) {
  char ip[64] = {0};
  lws_get_peer_simple(wsi, ip, sizeof ip);
  return ip;
}

std::string AddressText(const sockaddr_storage& addr) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&addr)->sin_addr, buf, sizeof buf);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
      inet_ntop(AF_INET, &a6->sin6_addr.s6_addr[12], buf, sizeof buf);
    } else {
      inet_ntop(AF_INET6, &a6->sin6_addr, buf, sizeof buf);
    }
  }
  return buf;
}

void SetCloseReason(lws* wsi, int code, std::string_view reason) {
  std::string text(reason.substr(0, 100));
  lws_close_reason(wsi, static_cast<enum lws_close_status>(code), reinterpret_cast<unsigned char*>(text.data()),
                   text.size());
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

}  // namespace chatd::net
