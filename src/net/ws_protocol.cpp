// SPDX-License-Identifier: MIT
//
// The /ws protocol callback ("chatd.v1"): connection set-up, reassembly of incoming messages
// with the size limit, and the packed writes of the outbound queue (W1: one lws_write per
// WRITEABLE). Runs on the lws service thread only.
#include <libwebsockets.h>

#include <cstring>

#include "net/lws_server.h"
#include "util/log.h"

namespace chatd::net {

namespace {

struct SessionPss {
  uint64_t id;
};

std::string Header(lws* wsi, enum lws_token_indexes token) {
  int len = lws_hdr_total_length(wsi, token);
  if (len <= 0 || len > 4096) return {};
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

}  // namespace

bool LwsServer::OriginAllowed(lws* wsi) {
  std::string origin = Header(wsi, WSI_TOKEN_ORIGIN);
  if (origin.empty()) return true;  // not a browser: Origin only guards browsers' ambient cookies
  std::string host = Header(wsi, WSI_TOKEN_HOST);
  if (!host.empty() && (origin == "http://" + host || origin == "https://" + host)) return true;
  for (const auto& allowed : config_.allowed_origins) {
    if (origin == allowed) return true;
  }
  LOG_WARN("refusing a WebSocket from origin %.100s (not %s and not in allowed-origins)", origin.c_str(),
           host.c_str());
  return false;
}

int LwsServer::OnWs(lws* wsi, int reason, void* user, void* in, size_t len) {
  switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
      std::string path = Header(wsi, WSI_TOKEN_GET_URI);
      if (path != "/ws") return 1;  // the only WebSocket endpoint
      return shutting_down_ ? 1 : 0;
    }
    case LWS_CALLBACK_ESTABLISHED:
      return OnWsEstablished(wsi, user);
    case LWS_CALLBACK_RECEIVE:
      return OnWsReceive(wsi, user, static_cast<const char*>(in), len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
      return OnWsWriteable(wsi, user);
    case LWS_CALLBACK_CLOSED:
      OnWsClosed(user);
      return 0;
    default:
      return 0;
  }
}

int LwsServer::OnWsEstablished(lws* wsi, void* user) {
  auto* pss = static_cast<SessionPss*>(user);
  pss->id = next_id_++;
  WsConn& conn = conns_[pss->id];
  conn.wsi = wsi;
  core::OpenInfo info;
  char ip[64] = {0};
  lws_get_peer_simple(wsi, ip, sizeof ip);
  info.peer = ip;
  info.cookie_token = CookieValue(Header(wsi, WSI_TOKEN_HTTP_COOKIE), "chatd_session");
  bool origin_ok = OriginAllowed(wsi);
  if (service_) service_->OnOpen(pss->id, std::move(info));
  if (!origin_ok) Close(pss->id, LWS_CLOSE_STATUS_POLICY_VIOLATION, "origin not allowed");
  if (shutting_down_) Close(pss->id, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
  return 0;
}

int LwsServer::OnWsReceive(lws* wsi, void* user, const char* in, size_t len) {
  auto* pss = static_cast<SessionPss*>(user);
  auto it = conns_.find(pss->id);
  if (it == conns_.end()) return -1;
  WsConn& conn = it->second;
  if (conn.close_code != 0) return 0;  // closing: ignore what still arrives
  size_t remaining = lws_remaining_packet_payload(wsi);
  // Checked on the first piece: a frame that only *declares* a huge length is refused at once.
  if (conn.rx.size() + len + remaining > static_cast<size_t>(config_.max_frame)) {
    LOG_INFO("session %llu: message over %d bytes; closing (1009)", static_cast<unsigned long long>(pss->id),
             config_.max_frame);
    static const char kWhy[] = "message too large";
    lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, reinterpret_cast<unsigned char*>(const_cast<char*>(kWhy)),
                     sizeof kWhy - 1);
    return -1;
  }
  conn.rx.append(in, len);
  if (remaining != 0 || !lws_is_final_fragment(wsi)) return 0;
  if (lws_frame_is_binary(wsi)) {
    conn.rx.clear();
    static const char kWhy[] = "binary frames are not supported";
    lws_close_reason(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, reinterpret_cast<unsigned char*>(const_cast<char*>(kWhy)),
                     sizeof kWhy - 1);
    return -1;
  }
  std::string message;
  message.swap(conn.rx);
  if (service_) service_->OnFrame(pss->id, message);
  return 0;
}

int LwsServer::OnWsWriteable(lws* wsi, void* user) {
  auto* pss = static_cast<SessionPss*>(user);
  auto it = conns_.find(pss->id);
  if (it == conns_.end()) return -1;
  WsConn& c = it->second;
  if (c.head < c.queue.size()) {
    // Pack everything queued (up to a bound) into one message, one lws_write.
    size_t total = 0, end = c.head;
    while (end < c.queue.size()) {
      size_t add = c.queue[end]->size() + (end > c.head ? 1 : 0);
      if (end > c.head && total + add > kMaxPackedBytes) break;
      total += add;
      ++end;
    }
    if (write_buf_.size() < LWS_PRE + total) write_buf_.resize(LWS_PRE + total);
    unsigned char* p = write_buf_.data() + LWS_PRE;
    for (size_t i = c.head; i < end; ++i) {
      if (i > c.head) *p++ = '\n';
      memcpy(p, c.queue[i]->data(), c.queue[i]->size());
      p += c.queue[i]->size();
    }
    int n = lws_write(wsi, write_buf_.data() + LWS_PRE, total, LWS_WRITE_TEXT);
    if (n < static_cast<int>(total)) {
      LOG_WARN("session %llu: write failed", static_cast<unsigned long long>(pss->id));
      return -1;
    }
    for (size_t i = c.head; i < end; ++i) c.queued_bytes -= c.queue[i]->size();
    c.head = end;
    if (c.head == c.queue.size()) {
      c.queue.clear();
      c.head = 0;
      if (c.queue.capacity() > 1024) c.queue.shrink_to_fit();
    }
    if (c.head < c.queue.size() || c.close_code != 0) lws_callback_on_writable(wsi);
    if (write_buf_.size() > 4 * kMaxPackedBytes) {
      write_buf_.clear();
      write_buf_.shrink_to_fit();
    }
    if (c.queue.empty() && c.close_code == 0 && service_) service_->OnDrained(pss->id);
    return 0;
  }
  if (c.close_code != 0) {
    lws_close_reason(wsi, static_cast<enum lws_close_status>(c.close_code),
                     reinterpret_cast<unsigned char*>(c.close_reason.data()), c.close_reason.size());
    return -1;
  }
  return 0;  // an extra WRITEABLE with nothing to do
}

void LwsServer::OnWsClosed(void* user) {
  auto* pss = static_cast<SessionPss*>(user);
  if (!pss || pss->id == 0) return;
  if (service_) service_->OnClose(pss->id);
  conns_.erase(pss->id);
  pss->id = 0;
}

}  // namespace chatd::net
