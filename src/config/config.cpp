// SPDX-License-Identifier: MIT
#include "config/config.h"

#include <arpa/inet.h>

#include <cstdlib>

#include "util/log.h"

namespace chatd::config {
namespace {

util::Status Bad(const char* key, const std::string& why) {
  return util::Status::BadRequest(std::string(key) + ": " + why);
}

util::Status CheckRange(const char* key, int64_t value, int64_t lo, int64_t hi) {
  if (value < lo || value > hi) {
    return Bad(key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
                        std::to_string(value));
  }
  return util::Status::Ok();
}

}  // namespace

util::Status ParseListen(const std::string& text, std::string* host, int* port) {
  std::string h, p;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Bad("listen", "expected [IPv6]:PORT, got '" + text + "'");
    }
    h = text.substr(1, close - 1);
    p = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return Bad("listen", "expected ADDR:PORT, got '" + text + "'");
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
    if (h.find(':') != std::string::npos) return Bad("listen", "write IPv6 addresses as [ADDR]:PORT");
  }
  if (h.empty()) return Bad("listen", "missing address in '" + text + "' (use 0.0.0.0 for all)");
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) {
    return Bad("listen", "bad port in '" + text + "'");
  }
  int port_num = std::atoi(p.c_str());
  if (port_num > 65535) return Bad("listen", "port out of range in '" + text + "'");
  unsigned char buf[16];
  if (h != "localhost" && inet_pton(AF_INET, h.c_str(), buf) != 1 && inet_pton(AF_INET6, h.c_str(), buf) != 1) {
    return Bad("listen", "'" + h + "' is not an IP address");
  }
  *host = h == "localhost" ? "127.0.0.1" : h;
  *port = port_num;
  return util::Status::Ok();
}

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr a{};
  if (inet_pton(AF_INET, host.c_str(), &a) == 1) return (ntohl(a.s_addr) >> 24) == 127;
  return false;
}

util::Status Config::Validate() {
  util::Status s = ParseListen(listen, &listen_host, &listen_port);
  if (!s.ok()) return s;
  if (data_dir.empty()) return Bad("data-dir", "must not be empty");
  util::LogLevel level;
  if (!util::ParseLogLevel(log_level, &level)) {
    return Bad("log-level", "must be one of err, warn, notice, info, debug; got '" + log_level + "'");
  }
  if (registration == "open") {
    registration_open = true;
  } else if (registration == "closed") {
    registration_open = false;
  } else if (registration == "auto") {
    registration_open = IsLoopbackHost(listen_host);
  } else {
    return Bad("registration", "must be open, closed or auto; got '" + registration + "'");
  }
  for (const auto& o : allowed_origins) {
    if (o.rfind("http://", 0) != 0 && o.rfind("https://", 0) != 0) {
      return Bad("allowed-origins", "'" + o + "' must start with http:// or https://");
    }
  }
  struct Range {
    const char* key;
    int64_t value, lo, hi;
  } ranges[] = {
      {"max-connections-per-ip", max_connections_per_ip, 0, 1'000'000},
      {"max-frame", max_frame, 1024, 16 * 1024 * 1024},
      {"ws-rx-buffer", ws_rx_buffer, 512, 64 * 1024},
      {"auth-timeout", auth_timeout, 1, 3600},
      {"ping-interval", ping_interval, 1, 3600},
      {"idle-timeout", idle_timeout, 2, 7200},
      {"outbound-limit", outbound_limit, 64 * 1024, 1LL << 32},
      {"min-free-space", min_free_space, 0, 1LL << 50},
      {"session-days", session_days, 1, 3650},
      {"max-text", max_text, 1, 1024 * 1024},
      {"rate", rate, 1, 10'000'000},
      {"burst", burst, 1, 10'000'000},
      {"room-rate", room_rate, 1, 1'000'000},
      {"room-burst", room_burst, 1, 1'000'000},
      {"max-rooms-per-user", max_rooms_per_user, 0, 100'000'000},
      {"pool-max-messages", pool_max_messages, 1, 100'000'000},
      {"pool-max-bytes", pool_max_bytes, 1024, 1LL << 40},
      {"history-max-messages", history_max_messages, 1, 100'000'000},
      {"history-max-days", history_max_days, 0, 100'000},
      {"dedupe-days", dedupe_days, 0, 100'000},
      {"dedupe-max", dedupe_max, 1000, 1'000'000'000},
      {"presence-grace-ms", presence_grace_ms, 0, 600'000},
      {"large-room", large_room, 2, 100'000'000},
      {"publish-rate", publish_rate, 1, 10'000'000},
      {"publish-burst", publish_burst, 1, 10'000'000},
      {"webhook-undelivered-after", webhook_undelivered_after, 1, 30 * 24 * 3600},
      {"webhook-queue-max", webhook_queue_max, 1, 100'000'000},
      {"socketio-ping-interval", socketio_ping_interval, 1, 3600},
      {"socketio-ping-timeout", socketio_ping_timeout, 1, 3600},
  };
  for (const auto& r : ranges) {
    s = CheckRange(r.key, r.value, r.lo, r.hi);
    if (!s.ok()) return s;
  }
  if (idle_timeout <= ping_interval) return Bad("idle-timeout", "must be larger than ping-interval");
  // A message's JSON wrapping needs room in the frame: max-text is capped at max-frame - 1 KiB.
  if (max_text + 1024 > max_frame) max_text = max_frame - 1024;
  if (!site_secret.empty() && site_secret.size() < 32) {
    return Bad("site-secret", "must be at least 32 characters (or empty to turn site tokens off)");
  }
  push_host.clear();
  push_port = 0;
  if (!push_listen.empty()) {
    s = ParseListen(push_listen, &push_host, &push_port);
    if (!s.ok()) return Bad("push-listen", s.message().substr(s.message().find(": ") + 2));
  }
  if (push_open && (push_listen.empty() || !IsLoopbackHost(push_host))) {
    return Bad("push-open", "works only with a push-listen on a loopback address (127.0.0.1, ::1): anyone who can "
                            "reach an open /push can notify your users");
  }
  socketio_host.clear();
  socketio_port = 0;
  if (!socketio_listen.empty()) {
    s = ParseListen(socketio_listen, &socketio_host, &socketio_port);
    if (!s.ok()) return Bad("socketio-listen", s.message().substr(s.message().find(": ") + 2));
    if (!socketio) return Bad("socketio-listen", "needs socketio = true");
  }
  if (socketio_online_text.size() > 1024) return Bad("socketio-online-text", "must be at most 1024 bytes");
  if (!webhook_url.empty()) {
    if (webhook_url.rfind("http://", 0) != 0 && webhook_url.rfind("https://", 0) != 0) {
      return Bad("webhook-url", "must start with http:// or https://");
    }
    if (webhook_secret.size() < 16) {
      return Bad("webhook-secret", "must be at least 16 characters when webhook-url is set (it signs the events)");
    }
  }
  return util::Status::Ok();
}

std::vector<std::string> Config::Warnings() const {
  std::vector<std::string> out;
  if (socketio && socketio_trust_uid) {
    out.push_back("socketio-trust-uid = true: a socket.io `login` with a bare uid is believed, so anyone who can "
                  "reach /socket.io/ can read any user's notifications; have the site sign a token instead");
  }
  return out;
}

}  // namespace chatd::config
