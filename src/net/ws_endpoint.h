// SPDX-License-Identifier: MIT
//
// net::WsEndpoint: the /ws connections, as the core sees them (core::Outbox) and as lws does.
// Each connection has a queue of shared frames; on WRITEABLE everything queued is packed into
// ONE WebSocket message (newline-separated, at most kMaxPackedBytes) and written with one
// lws_write (STYLE W1). Past `outbound-limit` bytes queued the connection is closed with 4008
// (what it missed stays stored). Incoming messages are reassembled from fragments under
// `max-frame` (1009 past it, decided on the first piece, so a frame that only declares a huge
// length is refused at once); binary messages close with 1003.
// It knows nothing of the core: LwsServer hands what it returns (a session opened, a message
// complete, a queue drained) to ChatService. Built before the core, which it serves.
// lws service thread only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "core/chat_service.h"
#include "core/outbox.h"
#include "net/lws_helpers.h"

namespace chatd::net {

// Queued frames of one connection are packed into one WebSocket message of at most this many
// bytes per WRITEABLE (larger batches take several), and written with one send().
inline constexpr size_t kMaxPackedBytes = 256 * 1024;
// Connections opened as a socket.io transport have ids with this bit (SocketIoEndpoint's, not
// the core's): each frame queued is its own WebSocket message (several go out in one write).
inline constexpr uint64_t kSocketIoTransportBit = uint64_t{1} << 63;

class WsEndpoint final : public core::Outbox {
 public:
  // `config` must outlive it.
  explicit WsEndpoint(const config::Config& config) : config_(config) {}

  // A new connection (ESTABLISHED): gives it an id in `pss`, and says who it is. `origin_ok`
  // is false when its Origin is neither the page's own nor allowed (it is then closed, 1008).
  // `socketio_transport`: a /socket.io/ connection (its id has kSocketIoTransportBit).
  core::SessionId Open(lws* wsi, SessionPss* pss, core::OpenInfo* info, bool* origin_ok,
                       bool socketio_transport = false);

  enum class Received { kMore, kMessage, kRefused };
  // A piece of an incoming message (RECEIVE). kMessage: `*message` is complete; kRefused: the
  // callback must return -1 (the close reason is set).
  Received Receive(lws* wsi, SessionPss* pss, const char* in, size_t len, std::string* message);
  // WRITEABLE: writes what is queued, or the close. Returns the callback's result; *drained is
  // set when this emptied the queue of a connection that is not closing.
  int Writeable(lws* wsi, SessionPss* pss, bool* drained);
  // CLOSED: forgets the connection; returns its id (0 if it had none).
  core::SessionId Closed(SessionPss* pss);

  // Shutdown: stop reading every connection; close every connection after what it has queued.
  void PauseAll();
  void CloseAll(int code, std::string_view reason);
  size_t size() const { return conns_.size(); }

  // core::Outbox
  bool Send(core::SessionId sid, const core::Frame& frame) override;
  void Close(core::SessionId sid, int code, std::string_view reason) override;
  size_t Queued(core::SessionId sid) const override;

 private:
  struct Conn {
    lws* wsi = nullptr;
    std::vector<core::Frame> queue;
    size_t head = 0;  // next frame to write
    size_t queued_bytes = 0;
    std::string rx;   // fragments of a message being received
    bool one_per_message = false;  // a socket.io transport: never pack frames
    int close_code = 0;  // set: close once the queue is flushed
    std::string close_reason;
  };

  const config::Config& config_;
  uint64_t next_id_ = 1;
  std::unordered_map<core::SessionId, Conn> conns_;
  std::vector<unsigned char> write_buf_;  // reused for packing frames: LWS_PRE + payload
};

}  // namespace chatd::net
