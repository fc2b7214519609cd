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

}  // namespace chatd::net
