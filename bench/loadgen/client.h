// SPDX-License-Identifier: MIT
//
// The load generator's client side: one epoll loop (edge-triggered, non-blocking sockets) driving
// many WebSocket connections through connect -> HTTP upgrade -> hello -> live.
//
// - At most `max_connecting` connections are between connect() and "live" at any time; the
//   others wait their turn, so a burst of thousands of logins does not overflow the server's
//   accept backlog.
// - Each socket is bound to one of the source addresses (127.0.0.2, 127.0.0.3, ...) with
//   IP_BIND_ADDRESS_NO_PORT before connect(), so the kernel picks the port at connect time from
//   that address's own range: more source addresses, more ports.
// - Outgoing bytes are appended to the connection's buffer and written once per loop turn.
//   Incoming frames are parsed straight out of one shared read buffer; only a frame cut by a read
//   boundary is copied into the connection's carry buffer. Buffers keep their capacity, so after
//   warm-up nothing is allocated per message.
// - Every server frame is split on '\n' and each JSON line is handed to the Handler. The client
//   handles "live" (the end of the login) and an error answer to the hello itself.
//
// Single-threaded: a Loop and its connections belong to the thread that runs it.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "frame.h"

namespace chatd::bench {

enum class ConnState : uint8_t { kPending, kConnecting, kUpgrading, kHello, kLive, kClosed };

struct Conn {
  // Set by the scenario.
  uint32_t index = 0;  // the scenario's own number for this connection
  uint32_t role = 0;   // the scenario's tag (sender, member, ...)
  std::string user;
  std::string token;
  void* data = nullptr;  // scenario state, owned by the scenario

  // Kept by the loop.
  ConnState state = ConnState::kPending;
  int fd = -1;
  uint8_t mask[4] = {};
  int64_t t_start = 0;            // connect() called
  int64_t t_hello = 0;            // hello written
  int64_t t_live = 0;             // "live" received
  const char* failure = nullptr;  // why the loop gave up on it (static text); null when fine
  char error_code[24] = {};       // the "code" of an error answer to the hello
  int close_code = 0;             // from a close frame sent by the server
  std::vector<char> tx;
  size_t tx_off = 0;
  bool queued = false;     // on the loop's list of connections with bytes to write
  std::vector<char> rx;    // carry: HTTP response or a partial frame
  std::vector<char> frag;  // a fragmented message being put together
  bool in_fragment = false;
};

class Handler {
 public:
  virtual ~Handler() = default;
  // Every JSON line received, including those before "live" (pending messages) and "live" itself.
  virtual void OnLine(Conn& c, std::string_view line, std::string_view type, int64_t now) = 0;
  virtual void OnLive(Conn& c, int64_t now) = 0;
  // All lines of one frame were handled: the place to send one ack per frame.
  virtual void OnFrameDone(Conn&, int64_t) {}
  // The connection failed (c.failure says why) or was closed by the server.
  virtual void OnFailed(Conn& c, int64_t now) = 0;
  // Once per loop turn, before writing and waiting: senders do their work here.
  virtual void OnTurn(int64_t) {}
  // Absolute time at which OnTurn wants to run next; -1 for no wish.
  virtual int64_t NextWake(int64_t) { return -1; }
};

struct LoopOptions {
  sockaddr_in server{};
  std::string host_header;       // "127.0.0.1:PORT"
  std::vector<in_addr> sources;  // empty: let the kernel choose
  size_t source_offset = 0;      // first source for this process
  size_t max_connecting = 256;
  int64_t login_timeout_ns = 20'000'000'000;
  std::string device = "bench";
  // Speak socket.io (Engine.IO 4 over WebSocket, as a web-msg-sender page upgraded to it does)
  // at /socket.io/ instead of chatd's protocol at /ws: the login is `40` + a `login` event with
  // the token, the first update_online_count counts as "live", each new_msg is handed to the
  // Handler as a {"type":"notification","text":...} line, pings are answered.
  bool socketio = false;
};

class Loop {
 public:
  Loop(LoopOptions options, Handler* handler);
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Adds a connection for `user` (token already signed); it is started when a slot is free.
  Conn* Add(std::string user, std::string token, uint32_t role, uint32_t index);

  // Appends raw (already masked) frame bytes; written at the end of this loop turn.
  void Queue(Conn& c, const char* data, size_t len);
  // Masks and queues one JSON request.
  void SendJson(Conn& c, std::string_view json);
  // Closes from our side: not counted as a failure.
  void Close(Conn& c);

  // Turns the loop until done() returns true (checked every turn) or `deadline` passes.
  bool Run(int64_t deadline, const std::function<bool()>& done);

  std::vector<std::unique_ptr<Conn>>& conns() { return conns_; }
  size_t live() const { return live_; }
  size_t failed() const { return failed_; }
  size_t settled() const { return live_ + failed_ + closed_by_us_; }

 private:
  void StartPending(int64_t now);
  void StartConnect(Conn& c, int64_t now);
  void OnEvent(Conn& c, uint32_t events, int64_t now);
  void OnWritable(Conn& c, int64_t now);
  void OnReadable(Conn& c, int64_t now);
  void Feed(Conn& c, const char* data, size_t len, int64_t now);
  size_t ParseFrames(Conn& c, const char* data, size_t len, int64_t now);
  void OnMessage(Conn& c, const char* data, size_t len, int64_t now);
  void OnJsonLine(Conn& c, std::string_view line, int64_t now);
  void OnSocketIoPacket(Conn& c, std::string_view packet, int64_t now);
  void SendUpgrade(Conn& c);
  void SendHello(Conn& c, int64_t now);
  void Flush(Conn& c);
  void Fail(Conn& c, const char* why, int64_t now);
  void CheckLoginTimeouts(int64_t now);
  // Takes `c` out of the live / in-flight / pending counts; false if it is already closed.
  bool Uncount(Conn& c);
  void Release(Conn& c);

  LoopOptions options_;
  Handler* handler_;
  int epfd_ = -1;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::deque<Conn*> pending_;
  std::deque<Conn*> logging_in_;  // in start order, for the login timeout
  std::vector<Conn*> to_flush_;
  std::vector<char> read_buf_;
  std::string upgrade_;
  size_t in_flight_ = 0;
  size_t live_ = 0;
  size_t failed_ = 0;
  size_t closed_by_us_ = 0;
  size_t started_ = 0;
  uint64_t rng_ = 0x9e3779b97f4a7c15ULL;
  bool pwait2_ok_ = true;
};

// Parses "ws://HOST:PORT/ws" or "HOST:PORT" into options->server and host_header.
bool ParseTarget(std::string_view text, LoopOptions* options);
// 127.0.0.2 .. 127.0.0.(1+n).
std::vector<in_addr> LoopbackSources(size_t n);

}  // namespace chatd::bench
