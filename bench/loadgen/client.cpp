// SPDX-License-Identifier: MIT
#include "client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "clock.h"
#include "line_scan.h"

namespace chatd::bench {

namespace {

// RFC 6455's sample key and its accept value: every connection may use the same key.
constexpr char kKey[] = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr char kAccept[] = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
constexpr size_t kMaxEvents = 512;
constexpr int64_t kMaxWaitNs = 20 * kMs;     // done() is polled at least this often
constexpr size_t kKeepCapacity = 1 << 20;    // larger buffers are given back once empty
constexpr uint64_t kMaxFrame = 64ull << 20;  // no server frame of ours comes near this

const char* ConnectError(int err) {
  switch (err) {
    case EADDRNOTAVAIL:
      return "no free local port (EADDRNOTAVAIL)";
    case ECONNREFUSED:
      return "connection refused";
    case ETIMEDOUT:
      return "connect timed out";
    case EMFILE:
    case ENFILE:
      return "out of file descriptors";
    default:
      return "connect failed";
  }
}

}  // namespace

// --- Addresses -----------------------------------------------------------------------------------

bool ParseTarget(std::string_view text, LoopOptions* options) {
  if (text.substr(0, 5) == "ws://") text.remove_prefix(5);
  size_t slash = text.find('/');
  if (slash != std::string_view::npos) text = text.substr(0, slash);
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string host(text.substr(0, colon));
  int64_t port = 0;
  if (!DigitsAt(text, colon + 1, &port) || port <= 0 || port > 65535) return false;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) return false;
  options->server = sa;
  options->host_header = std::string(text);
  return true;
}

std::vector<in_addr> LoopbackSources(size_t n) {
  std::vector<in_addr> out;
  for (size_t i = 0; i < n && i < 250; ++i) {
    in_addr a{};
    a.s_addr = htonl(0x7f000002u + static_cast<uint32_t>(i));  // 127.0.0.2 + i
    out.push_back(a);
  }
  return out;
}

// --- Connections: add, queue, close, fail --------------------------------------------------------

Loop::Loop(LoopOptions options, Handler* handler) : options_(std::move(options)), handler_(handler) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  read_buf_.resize(512 * 1024);
  upgrade_ = std::string(options_.socketio ? "GET /socket.io/?EIO=4&transport=websocket" : "GET /ws") +
             " HTTP/1.1\r\nHost: " + options_.host_header +
             "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + kKey +
             "\r\nSec-WebSocket-Version: 13\r\n" +
             (options_.socketio ? "" : "Sec-WebSocket-Protocol: chatd.v1\r\n") + "\r\n";
}

Loop::~Loop() {
  for (auto& c : conns_) {
    if (c->fd >= 0) close(c->fd);
  }
  if (epfd_ >= 0) close(epfd_);
}

Conn* Loop::Add(std::string user, std::string token, uint32_t role, uint32_t index) {
  conns_.push_back(std::make_unique<Conn>());
  Conn* c = conns_.back().get();
  c->user = std::move(user);
  c->token = std::move(token);
  c->role = role;
  c->index = index;
  for (auto& b : c->mask) {  // xorshift64: any key will do, it only has to vary
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    b = static_cast<uint8_t>(rng_ >> 24);
  }
  pending_.push_back(c);
  return c;
}

void Loop::Queue(Conn& c, const char* data, size_t len) {
  if (c.state == ConnState::kClosed) return;
  c.tx.insert(c.tx.end(), data, data + len);
  if (!c.queued) {
    c.queued = true;
    to_flush_.push_back(&c);
  }
}

void Loop::SendJson(Conn& c, std::string_view json) {
  if (c.state == ConnState::kClosed) return;
  AppendMaskedFrame(&c.tx, kText, json, c.mask);
  if (!c.queued) {
    c.queued = true;
    to_flush_.push_back(&c);
  }
}

void Loop::Release(Conn& c) {
  if (c.fd >= 0) {
    close(c.fd);  // also leaves the epoll set
    c.fd = -1;
  }
  c.state = ConnState::kClosed;
  std::vector<char>().swap(c.tx);
  std::vector<char>().swap(c.rx);
  std::vector<char>().swap(c.frag);
  c.tx_off = 0;
}

bool Loop::Uncount(Conn& c) {
  switch (c.state) {
    case ConnState::kClosed:
      return false;
    case ConnState::kLive:
      --live_;
      break;
    case ConnState::kPending:
      pending_.erase(std::remove(pending_.begin(), pending_.end(), &c), pending_.end());
      break;
    default:
      --in_flight_;
      break;
  }
  return true;
}

void Loop::Close(Conn& c) {
  if (!Uncount(c)) return;
  ++closed_by_us_;
  Release(c);
}

void Loop::Fail(Conn& c, const char* why, int64_t now) {
  if (!Uncount(c)) return;
  c.failure = why;
  ++failed_;
  Release(c);
  handler_->OnFailed(c, now);
}

// --- Connecting and logging in -------------------------------------------------------------------

void Loop::StartPending(int64_t now) {
  while (!pending_.empty() && in_flight_ < options_.max_connecting) {
    Conn* c = pending_.front();
    pending_.pop_front();
    StartConnect(*c, now);
  }
}

void Loop::StartConnect(Conn& c, int64_t now) {
  c.t_start = now;
  c.state = ConnState::kConnecting;
  ++in_flight_;
  logging_in_.push_back(&c);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    Fail(c, ConnectError(errno), now);
    return;
  }
  c.fd = fd;
  int one = 1;
  if (!options_.sources.empty()) {
    // Port chosen at connect() time, from the 4-tuple: a source address is not limited to the
    // ports bind() alone could hand out.
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr = options_.sources[(options_.source_offset + started_) % options_.sources.size()];
    if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
      Fail(c, "bind() to the source address failed", now);
      return;
    }
  }
  ++started_;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = &c;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    Fail(c, "epoll_ctl failed", now);
    return;
  }
  if (connect(fd, reinterpret_cast<const sockaddr*>(&options_.server), sizeof options_.server) != 0 &&
      errno != EINPROGRESS) {
    Fail(c, ConnectError(errno), now);
  }
}

void Loop::CheckLoginTimeouts(int64_t now) {
  while (!logging_in_.empty()) {
    Conn* c = logging_in_.front();
    if (c->state == ConnState::kLive || c->state == ConnState::kClosed) {
      logging_in_.pop_front();
    } else if (now - c->t_start > options_.login_timeout_ns) {
      logging_in_.pop_front();
      Fail(*c, "login timed out", now);
    } else {
      break;
    }
  }
}

// --- Socket events, writing, reading -------------------------------------------------------------

void Loop::OnEvent(Conn& c, uint32_t events, int64_t now) {
  if (c.state == ConnState::kClosed) return;
  if (events & EPOLLOUT) OnWritable(c, now);
  if (c.state == ConnState::kClosed) return;
  if (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | EPOLLERR)) OnReadable(c, now);
}

void Loop::OnWritable(Conn& c, int64_t now) {
  if (c.state == ConnState::kConnecting) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      Fail(c, ConnectError(err), now);
      return;
    }
    c.state = ConnState::kUpgrading;
    Queue(c, upgrade_.data(), upgrade_.size());
  }
  Flush(c);
}

void Loop::Flush(Conn& c) {
  if (c.fd < 0 || c.state == ConnState::kConnecting) return;
  while (c.tx_off < c.tx.size()) {
    ssize_t n = send(c.fd, c.tx.data() + c.tx_off, c.tx.size() - c.tx_off, MSG_NOSIGNAL);
    if (n > 0) {
      c.tx_off += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;  // EPOLLOUT calls us again
    } else {
      Fail(c, "write failed", NowNs());
      return;
    }
  }
  c.tx.clear();
  c.tx_off = 0;
  if (c.tx.capacity() > kKeepCapacity) std::vector<char>().swap(c.tx);
}

void Loop::OnReadable(Conn& c, int64_t now) {
  for (;;) {
    ssize_t n = read(c.fd, read_buf_.data(), read_buf_.size());
    if (n > 0) {
      Feed(c, read_buf_.data(), static_cast<size_t>(n), now);
      if (c.state == ConnState::kClosed) return;
      if (static_cast<size_t>(n) < read_buf_.size()) return;  // drained (a short read means empty)
    } else if (n == 0) {
      Fail(c, "closed by the server", now);
      return;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return;
    } else {
      Fail(c, "read failed", now);
      return;
    }
  }
}

void Loop::SendHello(Conn& c, int64_t now) {
  if (options_.socketio) {
    SendJson(c, "40");  // connect the default namespace; the open packet needs no answer
    SendJson(c, "42[\"login\",\"" + c.token + "\"]");
    std::string().swap(c.token);
    c.t_hello = now;
    c.state = ConnState::kHello;
    return;
  }
  std::string hello =
      "{\"type\":\"hello\",\"id\":1,\"token\":\"" + c.token + "\",\"device\":\"" + options_.device + "\"}";
  SendJson(c, hello);
  std::string().swap(c.token);
  c.t_hello = now;
  c.state = ConnState::kHello;
}

void Loop::Feed(Conn& c, const char* data, size_t len, int64_t now) {
  if (c.state == ConnState::kUpgrading) {
    c.rx.insert(c.rx.end(), data, data + len);
    std::string_view head(c.rx.data(), c.rx.size());
    size_t end = head.find("\r\n\r\n");
    if (end == std::string_view::npos) {
      if (c.rx.size() > 16384) Fail(c, "bad upgrade response", now);
      return;
    }
    head = head.substr(0, end + 4);
    if (head.substr(0, 12) != "HTTP/1.1 101" || head.find(kAccept) == std::string_view::npos) {
      Fail(c, "upgrade refused", now);
      return;
    }
    std::vector<char> rest(c.rx.begin() + static_cast<std::ptrdiff_t>(end + 4), c.rx.end());
    c.rx.clear();
    SendHello(c, now);
    if (!rest.empty()) Feed(c, rest.data(), rest.size(), now);
    return;
  }
  if (!c.rx.empty()) {
    c.rx.insert(c.rx.end(), data, data + len);
    size_t used = ParseFrames(c, c.rx.data(), c.rx.size(), now);
    if (c.state == ConnState::kClosed) return;
    c.rx.erase(c.rx.begin(), c.rx.begin() + static_cast<std::ptrdiff_t>(used));
    if (c.rx.empty() && c.rx.capacity() > kKeepCapacity) std::vector<char>().swap(c.rx);
    return;
  }
  size_t used = ParseFrames(c, data, len, now);
  if (c.state == ConnState::kClosed) return;
  if (used < len) c.rx.assign(data + used, data + len);
}

// --- Frames and lines ----------------------------------------------------------------------------

size_t Loop::ParseFrames(Conn& c, const char* data, size_t len, int64_t now) {
  const auto* p = reinterpret_cast<const uint8_t*>(data);
  size_t pos = 0;
  FrameHeader h{};
  while (ParseHeader(p + pos, len - pos, &h)) {
    if (h.masked || h.length > kMaxFrame) {
      Fail(c, h.masked ? "masked frame from the server" : "frame too large", now);
      return len;
    }
    if (len - pos < h.header_bytes || len - pos - h.header_bytes < h.length) break;
    const char* payload = data + pos + h.header_bytes;
    size_t plen = static_cast<size_t>(h.length);
    switch (h.opcode) {
      case kText:
      case kBinary:
        if (h.fin) {
          OnMessage(c, payload, plen, now);
        } else {
          c.frag.assign(payload, payload + plen);
          c.in_fragment = true;
        }
        break;
      case kContinuation:
        c.frag.insert(c.frag.end(), payload, payload + plen);
        if (h.fin) {
          c.in_fragment = false;
          std::vector<char> whole;
          whole.swap(c.frag);
          OnMessage(c, whole.data(), whole.size(), now);
          if (c.state != ConnState::kClosed && whole.capacity() <= kKeepCapacity) {
            whole.clear();
            c.frag.swap(whole);
          }
        }
        break;
      case kClose:
        c.close_code = plen >= 2 ? (static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1]) : 1005;
        Fail(c, "closed by the server", now);
        return len;
      case kPing: {
        AppendMaskedFrame(&c.tx, kPong, std::string_view(payload, plen), c.mask);
        if (!c.queued) {
          c.queued = true;
          to_flush_.push_back(&c);
        }
        break;
      }
      default:
        break;
    }
    pos += h.header_bytes + plen;
    if (c.state == ConnState::kClosed) return len;
  }
  return pos;
}

void Loop::OnSocketIoPacket(Conn& c, std::string_view packet, int64_t now) {
  if (packet == "2") return SendJson(c, "3");  // Engine.IO 4: the server pings
  if (packet == "41") return Fail(c, "socket.io disconnect", now);
  if (packet.substr(0, 4) != "42[\"") return;
  std::string_view rest = packet.substr(4);
  size_t quote = rest.find('"');
  if (quote == std::string_view::npos) return;
  std::string_view name = rest.substr(0, quote);
  if (name == "update_online_count") {
    if (c.state == ConnState::kHello) OnJsonLine(c, R"({"type":"live"})", now);
  } else if (name == "new_msg" && rest.size() > quote + 3 && rest.back() == ']') {
    std::string_view arg = rest.substr(quote + 2, rest.size() - quote - 3);  // after `",`, before `]`
    std::string line = R"({"type":"notification","text":)";
    line.append(arg).push_back('}');
    OnJsonLine(c, line, now);
  } else if (name == "login_error") {
    std::memcpy(c.error_code, "login_error", sizeof "login_error");
    Fail(c, "hello refused", now);
  }
}

void Loop::OnMessage(Conn& c, const char* data, size_t len, int64_t now) {
  if (options_.socketio) {
    OnSocketIoPacket(c, std::string_view(data, len), now);
    if (c.state != ConnState::kClosed) handler_->OnFrameDone(c, now);
    return;
  }
  std::string_view all(data, len);
  while (!all.empty()) {
    size_t nl = all.find('\n');
    std::string_view line = all.substr(0, nl);
    all = nl == std::string_view::npos ? std::string_view() : all.substr(nl + 1);
    if (line.empty()) continue;
    OnJsonLine(c, line, now);
    if (c.state == ConnState::kClosed) return;
  }
  handler_->OnFrameDone(c, now);
}

void Loop::OnJsonLine(Conn& c, std::string_view line, int64_t now) {
  std::string_view type = TypeOf(line);
  if (c.state == ConnState::kHello && type == "error") {
    int64_t re = 0;
    if (IntField(line, "\"re\":", &re) && re == 1) {
      std::string_view code = StrField(line, "\"code\":\"");
      size_t n = std::min(code.size(), sizeof c.error_code - 1);
      std::memcpy(c.error_code, code.data(), n);
      c.error_code[n] = '\0';
      Fail(c, "hello refused", now);
      return;
    }
  }
  handler_->OnLine(c, line, type, now);
  if (c.state == ConnState::kHello && type == "live") {
    c.state = ConnState::kLive;
    c.t_live = now;
    --in_flight_;
    ++live_;
    handler_->OnLive(c, now);
  }
}

// --- The loop ------------------------------------------------------------------------------------

bool Loop::Run(int64_t deadline, const std::function<bool()>& done) {
  epoll_event events[kMaxEvents];
  for (;;) {
    int64_t now = NowNs();
    StartPending(now);
    CheckLoginTimeouts(now);
    handler_->OnTurn(now);
    // Flush what this turn queued; conns may be appended while flushing (a failed write), so index.
    for (size_t i = 0; i < to_flush_.size(); ++i) {
      Conn* c = to_flush_[i];
      c->queued = false;
      if (c->state != ConnState::kClosed) Flush(*c);
    }
    to_flush_.clear();
    if (done()) return true;
    now = NowNs();
    if (now >= deadline) return false;
    int64_t wake = std::min(deadline, now + kMaxWaitNs);
    int64_t wish = handler_->NextWake(now);
    if (wish >= 0) wake = std::min(wake, wish);
    int64_t wait = std::max<int64_t>(0, wake - now);
    int n = -1;
    if (pwait2_ok_) {
      timespec ts{static_cast<time_t>(wait / kSec), static_cast<long>(wait % kSec)};
      n = epoll_pwait2(epfd_, events, kMaxEvents, &ts, nullptr);
      if (n < 0 && errno == ENOSYS) pwait2_ok_ = false;
    }
    if (!pwait2_ok_) n = epoll_wait(epfd_, events, kMaxEvents, static_cast<int>((wait + kMs - 1) / kMs));
    if (n < 0) continue;  // EINTR
    now = NowNs();
    for (int i = 0; i < n; ++i) OnEvent(*static_cast<Conn*>(events[i].data.ptr), events[i].events, now);
  }
}

}  // namespace chatd::bench
