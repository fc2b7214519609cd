// SPDX-License-Identifier: MIT
//
// chatd-floor: the floor under every 1:1 figure. A relay that does only what the kernel and the
// WebSocket framing make unavoidable for the pairs scenario, and nothing a real server must:
// one thread, level-triggered epoll; the frames for a socket are gathered while one epoll batch
// is handled and go out in one write() per socket after it (as chatd packs its queue), EPOLLOUT
// only while a socket has bytes the kernel did not take; no JSON parser (fields are found by
// search), no storage, tokens read but not verified, no limits. It speaks the subset of the
// protocol the reference peer speaks (bench/peer/peer.js), so the same load generator drives it:
//
//   hello -> welcome + live     send to a user -> ok, message to the recipient's sockets
//   ping -> ok                  ack, read, typing: ignored; anything else -> error
//
// Server CPU per message measured against it is what a message costs before any work of chatd's
// own: the figure the per-message goals of docs/performance.md are set against.
//
//   chatd-floor --listen 127.0.0.1:0
//
// The first line on stdout is "floor serving on http://ADDR:PORT/ ...", like chatd's.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <libwebsockets.h>  // lws_SHA1, lws_b64_encode_string, lws_b64_decode_string: nothing else

namespace {

volatile sig_atomic_t g_stop = 0;

struct Conn {
  int fd = -1;
  bool open = false;       // handshake done
  std::string in;          // bytes read and not yet consumed
  std::string out;         // bytes the kernel did not take yet
  std::string user;        // after hello
  bool dirty = false;      // has bytes to write at the end of this round
  std::string text_buf;    // payload of the message being assembled (fragments)
};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The value of "key": in a JSON object on one line: a string's raw bytes (escapes kept, which
// is what is copied into the relayed frame), or a number's digits. Empty when absent.
std::string_view Field(std::string_view line, std::string_view key) {
  std::string pat = "\"" + std::string(key) + "\":";
  size_t at = line.find(pat);
  if (at == std::string_view::npos) return {};
  size_t i = at + pat.size();
  while (i < line.size() && line[i] == ' ') ++i;
  if (i >= line.size()) return {};
  if (line[i] == '"') {
    size_t j = i + 1;
    while (j < line.size() && line[j] != '"') j += line[j] == '\\' ? 2 : 1;
    return j <= line.size() ? line.substr(i + 1, j - i - 1) : std::string_view{};
  }
  size_t j = i;
  while (j < line.size() && line[j] != ',' && line[j] != '}') ++j;
  return line.substr(i, j - i);
}

class Floor {
 public:
  explicit Floor(int listen_fd) : listen_fd_(listen_fd) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listen_fd_;
    epoll_ctl(ep_, EPOLL_CTL_ADD, listen_fd_, &ev);
  }

  void Run() {
    std::vector<epoll_event> events(1024);
    while (!g_stop) {
      int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 500);
      for (int i = 0; i < n; ++i) {
        int fd = events[static_cast<size_t>(i)].data.fd;
        if (fd == listen_fd_) {
          Accept();
          continue;
        }
        auto it = conns_.find(fd);
        if (it == conns_.end()) continue;
        Conn& c = *it->second;
        uint32_t e = events[static_cast<size_t>(i)].events;
        if (e & EPOLLOUT) Flush(c);
        if (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) Read(c);
      }
      for (int fd : dirty_) {
        auto it = conns_.find(fd);
        if (it != conns_.end()) Flush(*it->second);
      }
      dirty_.clear();
      for (int fd : closing_) Close(fd);
      closing_.clear();
    }
  }

 private:
  void Accept() {
    for (;;) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto c = std::make_unique<Conn>();
      c->fd = fd;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
      conns_[fd] = std::move(c);
    }
  }

  void Read(Conn& c) {
    char buf[65536];
    for (;;) {
      ssize_t n = read(c.fd, buf, sizeof buf);
      if (n > 0) {
        c.in.append(buf, static_cast<size_t>(n));
        if (static_cast<size_t>(n) < sizeof buf) break;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
      closing_.push_back(c.fd);
      return;
    }
    if (!c.open && !Handshake(c)) return;
    Frames(c);
  }

  bool Handshake(Conn& c) {
    size_t end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    std::string_view head(c.in.data(), end);
    const std::string_view kKey = "Sec-WebSocket-Key: ";
    size_t k = head.find(kKey);
    if (k == std::string_view::npos) {
      closing_.push_back(c.fd);
      return false;
    }
    size_t ke = head.find("\r\n", k);
    std::string key(head.substr(k + kKey.size(), (ke == std::string_view::npos ? head.size() : ke) - k - kKey.size()));
    key += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char sha[20];
    lws_SHA1(reinterpret_cast<const unsigned char*>(key.data()), key.size(), sha);
    char accept[64];
    lws_b64_encode_string(reinterpret_cast<const char*>(sha), 20, accept, sizeof accept);
    std::string reply = std::string("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n") +
                        "Sec-WebSocket-Accept: " + accept + "\r\n" +
                        (head.find("chatd.v1") != std::string_view::npos ? "Sec-WebSocket-Protocol: chatd.v1\r\n" : "") +
                        "\r\n";
    Write(c, reply);
    c.in.erase(0, end + 4);
    c.open = true;
    return true;
  }

  void Frames(Conn& c) {
    size_t at = 0;
    while (c.in.size() - at >= 2) {
      auto b = reinterpret_cast<const unsigned char*>(c.in.data() + at);
      bool fin = b[0] & 0x80;
      int op = b[0] & 0x0f;
      bool masked = b[1] & 0x80;
      uint64_t len = b[1] & 0x7f;
      size_t hdr = 2;
      if (len == 126) {
        if (c.in.size() - at < 4) break;
        len = (uint64_t{b[2]} << 8) | b[3];
        hdr = 4;
      } else if (len == 127) {
        if (c.in.size() - at < 10) break;
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | b[2 + i];
        hdr = 10;
      }
      if (!masked || len > (1u << 20)) {
        closing_.push_back(c.fd);
        return;
      }
      if (c.in.size() - at < hdr + 4 + len) break;
      const unsigned char* mask = b + hdr;
      std::string payload(c.in, at + hdr + 4, len);
      for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(payload[i] ^ mask[i & 3]);
      at += hdr + 4 + len;
      if (op == 0x8) {
        WriteFrame(c, 0x8, "");
        closing_.push_back(c.fd);
        return;
      }
      if (op == 0x9) {
        WriteFrame(c, 0xA, payload);
        continue;
      }
      if (op != 0x1 && op != 0x0) continue;
      c.text_buf += payload;
      if (!fin) continue;
      std::string text;
      text.swap(c.text_buf);
      size_t start = 0;
      while (start < text.size()) {
        size_t nl = text.find('\n', start);
        if (nl == std::string::npos) nl = text.size();
        if (nl > start) Request(c, std::string_view(text).substr(start, nl - start));
        start = nl + 1;
      }
    }
    c.in.erase(0, at);
  }

  void Request(Conn& c, std::string_view line) {
    std::string_view type = Field(line, "type");
    std::string_view id = Field(line, "id");
    std::string re = id.empty() ? std::string() : ",\"re\":" + std::string(id);
    if (type == "hello") {
      c.user = User(Field(line, "token"));
      if (c.user.empty()) {
        WriteFrame(c, 0x1, "{\"type\":\"error\"" + re + ",\"code\":\"unauthorized\",\"message\":\"bad token\"}");
        return;
      }
      users_[c.user].push_back(c.fd);
      WriteFrame(c, 0x1, "{\"type\":\"welcome\"" + re + ",\"user\":\"" + c.user +
                              "\",\"device\":\"web\",\"rooms\":[],\"online\":[],\"unread\":{}}\n{\"type\":\"live\",\"mid\":" +
                              std::to_string(last_mid_) + "}");
      return;
    }
    if (type == "ping") {
      WriteFrame(c, 0x1, "{\"type\":\"ok\"" + re + "}");
      return;
    }
    if (type == "ack" || type == "read" || type == "typing") return;
    if (type == "send" && !c.user.empty()) {
      std::string_view to = Field(line, "to");
      std::string_view text = Field(line, "text");
      int64_t mid = ++last_mid_;
      std::string ts = std::to_string(NowMs());
      WriteFrame(c, 0x1, "{\"type\":\"ok\"" + re + ",\"mid\":" + std::to_string(mid) + ",\"ts\":" + ts + "}");
      std::string msg = "{\"type\":\"message\",\"mid\":" + std::to_string(mid) + ",\"from\":\"" + c.user + "\",\"to\":\"" +
                        std::string(to) + "\",\"text\":\"" + std::string(text) + "\",\"ts\":" + ts + "}";
      std::string frame = Frame(0x1, msg);
      Deliver(std::string(to), frame, -1);
      if (to != c.user) Deliver(c.user, frame, c.fd);
      return;
    }
    WriteFrame(c, 0x1, "{\"type\":\"error\"" + re + ",\"code\":\"bad_request\",\"message\":\"not supported by the floor\"}");
  }

  // The token's "sub" claim, unverified (a floor measures the frames, not the crypto).
  static std::string User(std::string_view token) {
    size_t a = token.find('.');
    size_t b = a == std::string_view::npos ? a : token.find('.', a + 1);
    if (b == std::string_view::npos) return {};
    std::string part(token.substr(a + 1, b - a - 1));
    for (char& ch : part) ch = ch == '-' ? '+' : ch == '_' ? '/' : ch;
    while (part.size() % 4) part += '=';
    std::vector<char> json(part.size() + 4);
    int n = lws_b64_decode_string(part.c_str(), json.data(), static_cast<int>(json.size()));
    if (n <= 0) return {};
    return std::string(Field(std::string_view(json.data(), static_cast<size_t>(n)), "sub"));
  }

  void Deliver(const std::string& user, const std::string& frame, int except) {
    auto it = users_.find(user);
    if (it == users_.end()) return;
    for (int fd : it->second) {
      if (fd == except) continue;
      auto c = conns_.find(fd);
      if (c != conns_.end()) Write(*c->second, frame);
    }
  }

  static std::string Frame(int op, std::string_view payload) {
    std::string f;
    f += static_cast<char>(0x80 | op);
    if (payload.size() < 126) {
      f += static_cast<char>(payload.size());
    } else if (payload.size() < 65536) {
      f += static_cast<char>(126);
      f += static_cast<char>(payload.size() >> 8);
      f += static_cast<char>(payload.size() & 0xff);
    } else {
      f += static_cast<char>(127);
      for (int i = 7; i >= 0; --i) f += static_cast<char>((payload.size() >> (8 * i)) & 0xff);
    }
    f.append(payload);
    return f;
  }

  void WriteFrame(Conn& c, int op, std::string_view payload) { Write(c, Frame(op, payload)); }

  // Queued for the write at the end of the round (or for EPOLLOUT if the kernel is full).
  void Write(Conn& c, std::string_view bytes) {
    bool waiting = !c.out.empty();
    c.out.append(bytes);
    if (!waiting && !c.dirty) {
      c.dirty = true;
      dirty_.push_back(c.fd);
    }
  }

  void Flush(Conn& c) {
    bool from_round = c.dirty;
    c.dirty = false;
    if (c.out.empty()) return;
    ssize_t n = write(c.fd, c.out.data(), c.out.size());
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) {
        closing_.push_back(c.fd);
        return;
      }
      n = 0;
    }
    c.out.erase(0, static_cast<size_t>(n));
    if (c.out.empty() && !from_round) Watch(c, EPOLLIN);
    if (!c.out.empty() && from_round) Watch(c, EPOLLIN | EPOLLOUT);
  }

  void Watch(Conn& c, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = c.fd;
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void Close(int fd) {
    auto it = conns_.find(fd);
    if (it == conns_.end()) return;
    const std::string& user = it->second->user;
    if (!user.empty()) {
      auto u = users_.find(user);
      if (u != users_.end()) {
        std::erase(u->second, fd);
        if (u->second.empty()) users_.erase(u);
      }
    }
    epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    conns_.erase(it);
  }

  int listen_fd_;
  int ep_ = -1;
  int64_t last_mid_ = 0;
  std::unordered_map<int, std::unique_ptr<Conn>> conns_;
  std::unordered_map<std::string, std::vector<int>> users_;
  std::vector<int> closing_;
  std::vector<int> dirty_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:8091";
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--listen" && i + 1 < argc) {
      listen = argv[++i];
    } else {
      std::fprintf(stderr, "usage: chatd-floor [--listen ADDR:PORT]\n");
      return 2;
    }
  }
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "chatd-floor: --listen needs ADDR:PORT\n");
    return 2;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(listen.substr(colon + 1))));
  if (inet_pton(AF_INET, listen.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "chatd-floor: %s is not an IPv4 address\n", listen.substr(0, colon).c_str());
    return 2;
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 4096) != 0) {
    std::fprintf(stderr, "chatd-floor: cannot listen on %s: %s\n", listen.c_str(), std::strerror(errno));
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  char host[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &addr.sin_addr, host, sizeof host);
  std::printf("floor serving on http://%s:%u/ (no storage, no parser, no checks)\n", host, ntohs(addr.sin_port));
  std::fflush(stdout);
  struct sigaction sa{};
  sa.sa_handler = [](int) { g_stop = 1; };
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  Floor(fd).Run();
  return 0;
}
