// SPDX-License-Identifier: MIT
#include "net/ws_endpoint.h"

#include <cstring>

#include "util/log.h"

namespace chatd::net {

namespace {

unsigned long long Id(core::SessionId sid) { return static_cast<unsigned long long>(sid); }

// The header of an unmasked final text frame of `n` bytes (RFC 6455 5.2), at `p`; returns
// the end of it.
constexpr size_t kMaxFrameHeader = 10;
unsigned char* PutFrameHeader(unsigned char* p, size_t n) {
  *p++ = 0x81;  // FIN, text
  if (n < 126) {
    *p++ = static_cast<unsigned char>(n);
  } else if (n < 65536) {
    *p++ = 126;
    *p++ = static_cast<unsigned char>(n >> 8);
    *p++ = static_cast<unsigned char>(n);
  } else {
    *p++ = 127;
    for (int shift = 56; shift >= 0; shift -= 8) *p++ = static_cast<unsigned char>(uint64_t{n} >> shift);
  }
  return p;
}

}  // namespace

core::SessionId WsEndpoint::Open(lws* wsi, SessionPss* pss, core::OpenInfo* info, bool* origin_ok,
                                 bool socketio_transport) {
  pss->id = next_id_++ | (socketio_transport ? kSocketIoTransportBit : 0);
  Conn& conn = conns_[pss->id];
  conn.wsi = wsi;
  conn.one_per_message = socketio_transport;
  info->peer = PeerAddress(wsi);
  info->cookie_token = CookieValue(Header(wsi, WSI_TOKEN_HTTP_COOKIE), kSessionCookie);
  std::string origin = Header(wsi, WSI_TOKEN_ORIGIN), host = Header(wsi, WSI_TOKEN_HOST);
  *origin_ok = OriginAllowed(origin, host, config_.allowed_origins);
  if (!*origin_ok) {
    LOG_WARN("refusing a WebSocket from origin %.100s (not %s and not in allowed-origins)", origin.c_str(),
             host.c_str());
  }
  return pss->id;
}

WsEndpoint::Received WsEndpoint::Receive(lws* wsi, SessionPss* pss, const char* in, size_t len,
                                         std::string* message) {
  auto it = conns_.find(pss->id);
  if (it == conns_.end()) return Received::kRefused;
  Conn& conn = it->second;
  if (conn.close_code != 0) return Received::kMore;  // closing: ignore what still arrives
  size_t remaining = lws_remaining_packet_payload(wsi);
  // Checked on the first piece: a frame that only *declares* a huge length is refused at once.
  if (conn.rx.size() + len + remaining > static_cast<size_t>(config_.max_frame)) {
    LOG_INFO("session %llu: message over %d bytes; closing (1009)", Id(pss->id), config_.max_frame);
    SetCloseReason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
    return Received::kRefused;
  }
  conn.rx.append(in, len);
  if (remaining != 0 || !lws_is_final_fragment(wsi)) return Received::kMore;
  if (lws_frame_is_binary(wsi)) {
    conn.rx.clear();
    SetCloseReason(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, "binary frames are not supported");
    return Received::kRefused;
  }
  message->clear();
  message->swap(conn.rx);
  return Received::kMessage;
}

int WsEndpoint::Writeable(lws* wsi, SessionPss* pss, bool* drained) {
  *drained = false;
  auto it = conns_.find(pss->id);
  if (it == conns_.end()) return -1;
  Conn& c = it->second;
  if (c.head < c.queue.size()) {
    // Everything queued (up to a bound) goes out in one lws_write. On /ws the frames are packed
    // into one message, newline-separated. A socket.io transport needs each frame to be its
    // own message (Engine.IO: one packet per message), and one send() per packet would cost a
    // system call each: the complete WebSocket frames are built here (server frames are not
    // masked) and written raw.
    size_t total = 0, end = c.head;
    while (end < c.queue.size()) {
      size_t add = c.queue[end]->size() + (c.one_per_message ? kMaxFrameHeader : end > c.head ? 1 : 0);
      if (end > c.head && total + add > kMaxPackedBytes) break;
      total += add;
      ++end;
    }
    if (write_buf_.size() < LWS_PRE + total) write_buf_.resize(LWS_PRE + total);
    unsigned char* start = write_buf_.data() + LWS_PRE;
    unsigned char* p = start;
    for (size_t i = c.head; i < end; ++i) {
      const std::string& f = *c.queue[i];
      if (c.one_per_message) {
        p = PutFrameHeader(p, f.size());
      } else if (i > c.head) {
        *p++ = '\n';
      }
      memcpy(p, f.data(), f.size());
      p += f.size();
      c.queued_bytes -= f.size();
    }
    size_t len = static_cast<size_t>(p - start);
    // LWS_WRITE_RAW: lws sends the bytes as they are (and buffers what the socket does not take).
    if (lws_write(wsi, start, len, c.one_per_message ? LWS_WRITE_RAW : LWS_WRITE_TEXT) < static_cast<int>(len)) {
      LOG_WARN("connection %llu: write failed", Id(pss->id & ~kSocketIoTransportBit));
      return -1;
    }
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
    *drained = c.queue.empty() && c.close_code == 0;
    return 0;
  }
  if (c.close_code != 0) {
    SetCloseReason(wsi, c.close_code, c.close_reason);
    return -1;
  }
  return 0;  // an extra WRITEABLE with nothing to do
}

core::SessionId WsEndpoint::Closed(SessionPss* pss) {
  if (!pss || pss->id == 0) return 0;
  core::SessionId sid = pss->id;
  conns_.erase(sid);
  pss->id = 0;
  return sid;
}

void WsEndpoint::PauseAll() {
  for (auto& [sid, conn] : conns_) lws_rx_flow_control(conn.wsi, 0);
}

void WsEndpoint::CloseAll(int code, std::string_view reason) {
  std::vector<core::SessionId> ids;
  for (auto& [sid, conn] : conns_) ids.push_back(sid);
  for (auto sid : ids) Close(sid, code, reason);
}

bool WsEndpoint::Send(core::SessionId sid, const core::Frame& frame) {
  auto it = conns_.find(sid);
  if (it == conns_.end()) return false;
  Conn& c = it->second;
  if (c.close_code != 0) return false;
  if (c.queued_bytes + frame->size() > static_cast<size_t>(config_.outbound_limit)) {
    LOG_WARN("session %llu: outbound queue over %lld bytes; closing (4008)", Id(sid),
             static_cast<long long>(config_.outbound_limit));
    c.queue.clear();
    c.head = 0;
    c.queued_bytes = 0;
    Close(sid, 4008, "too slow");
    return false;
  }
  c.queue.push_back(frame);
  c.queued_bytes += frame->size();
  lws_callback_on_writable(c.wsi);
  return true;
}

void WsEndpoint::Close(core::SessionId sid, int code, std::string_view reason) {
  auto it = conns_.find(sid);
  if (it == conns_.end() || it->second.close_code != 0) return;
  it->second.close_code = code;
  it->second.close_reason.assign(reason.substr(0, 100));
  lws_callback_on_writable(it->second.wsi);
  // If the peer never reads, do not wait for it forever.
  lws_set_timeout(it->second.wsi, PENDING_TIMEOUT_USER_OK, 5);
}

size_t WsEndpoint::Queued(core::SessionId sid) const {
  auto it = conns_.find(sid);
  return it == conns_.end() ? 0 : it->second.queued_bytes;
}

}  // namespace chatd::net
