// SPDX-License-Identifier: MIT
//
// net::OutboxSwitch: the one core::Outbox the core writes to, passing each call to the endpoint
// that owns the session: the socket.io bridge (ids with SocketIoEndpoint::kSessionBit) or /ws.
// lws service thread only.
#pragma once

#include "core/outbox.h"
#include "net/socketio_endpoint.h"
#include "net/ws_endpoint.h"

namespace chatd::net {

class OutboxSwitch final : public core::Outbox {
 public:
  // `socketio` may be null (socketio = false).
  OutboxSwitch(WsEndpoint* ws, SocketIoEndpoint* socketio) : ws_(ws), socketio_(socketio) {}

  bool Send(core::SessionId sid, const core::Frame& frame) override { return Of(sid)->Send(sid, frame); }
  void Close(core::SessionId sid, int code, std::string_view reason) override { Of(sid)->Close(sid, code, reason); }
  size_t Queued(core::SessionId sid) const override { return Of(sid)->Queued(sid); }

 private:
  core::Outbox* Of(core::SessionId sid) const {
    if (socketio_ && SocketIoEndpoint::Owns(sid)) return socketio_;
    return ws_;
  }

  WsEndpoint* ws_;
  SocketIoEndpoint* socketio_;
};

}  // namespace chatd::net
