// SPDX-License-Identifier: MIT
//
// core::Outbox: the only way core reaches a connection (STYLE L3). The network layer implements
// it; tests use a recording fake. A Frame is one encoded server message (a JSON object, no
// newline), shared by every connection it goes to: encoded once per fan-out.
// Network thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace chatd::core {

using SessionId = uint64_t;
using Frame = std::shared_ptr<const std::string>;

inline Frame MakeFrame(std::string json) { return std::make_shared<const std::string>(std::move(json)); }

class Outbox {
 public:
  virtual ~Outbox() = default;
  // Queues `frame` for the connection. If its queue is over the byte limit, the connection is
  // closed with 4008 instead (and Send returns false). Unknown sessions are ignored (false).
  virtual bool Send(SessionId sid, const Frame& frame) = 0;
  // Closes the connection with a WebSocket close code once what is queued has been written.
  virtual void Close(SessionId sid, int code, std::string_view reason) = 0;
  // Bytes queued and not yet written for the connection (for paced catch-up).
  virtual size_t Queued(SessionId sid) const = 0;
};

}  // namespace chatd::core
