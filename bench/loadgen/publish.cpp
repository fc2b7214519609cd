// SPDX-License-Identifier: MIT
//
// Scenario "publish": a site's backend pushing notifications through POST /api/publish while
// --members users are online (one WebSocket connection each: chatd's /ws, or with --socketio 1
// socket.io's, as web-msg-sender pages use it). First figure: logins per second (connect,
// upgrade, login) and the server's CPU per login. --http-conns threads each keep one
// HTTP/1.1 keep-alive connection and post in a closed loop (the next request when the answer
// came), for --seconds per phase:
//   user      each publish to one member, chosen at random: the "you have a new message" case
//   everyone  each publish to "*": one notification for every member
// Members ack the newest mid of each frame, as the page does (or at most every --ack-ms). Figures per phase: publishes per
// second answered 200, the HTTP round trip p50/p99, the share of expected notifications that
// reached the members (within --grace seconds after the phase) and their publish -> arrival
// p50/p99, the server's CPU. A phase with any non-200 answer reports its first status.
//
// The API key comes from --key or $CHATD_BENCH_KEY; the server needs a publish rate limit above
// what is measured (bench/publish starts it so).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>

#include "clock.h"
#include "common.h"
#include "histogram.h"
#include "line_scan.h"
#include "proc_stat.h"
#include "scenarios.h"

namespace chatd::bench {

namespace {

constexpr uint32_t kMember = 0;

struct PhaseResult {
  std::string name;
  uint64_t answered = 0;  // 200 answers
  uint64_t failed = 0;    // other statuses, broken connections
  int first_bad_status = 0;
  uint64_t expected = 0;
  uint64_t arrived = 0;
  double seconds = 0;
  Histogram http;
  Histogram deliver;
  double server_pct = -1;
  double client_pct = -1;
};

// One blocking keep-alive HTTP connection posting JSON bodies.
class HttpPoster {
 public:
  HttpPoster(const sockaddr_in& server, std::string host, std::string key)
      : server_(server), host_(std::move(host)), key_(std::move(key)) {}
  ~HttpPoster() { Disconnect(); }
  HttpPoster(const HttpPoster&) = delete;
  HttpPoster& operator=(const HttpPoster&) = delete;

  // Posts `body` to `path`; the HTTP status, or 0 when the connection broke.
  int Post(const std::string& path, const std::string& body) {
    if (fd_ < 0 && !Connect()) return 0;
    std::string req = "POST " + path + " HTTP/1.1\r\nHost: " + host_ + "\r\nAuthorization: Bearer " + key_ +
                      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                      "\r\n\r\n" + body;
    if (!WriteAll(req)) return Broken();
    return ReadResponse();
  }

 private:
  bool Connect() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{10, 0};  // a server that stops answering ends the phase, not the process
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd_, reinterpret_cast<const sockaddr*>(&server_), sizeof server_) != 0) {
      Disconnect();
      return false;
    }
    buf_.clear();
    return true;
  }
  void Disconnect() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  int Broken() {
    Disconnect();
    return 0;
  }
  bool WriteAll(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  bool Fill() {
    char tmp[16384];
    for (;;) {
      ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      buf_.append(tmp, static_cast<size_t>(n));
      return true;
    }
  }
  int ReadResponse() {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return Broken();
    }
    std::string_view head(buf_.data(), end);
    int status = 0;
    if (head.size() < 12 || std::sscanf(buf_.c_str() + 9, "%3d", &status) != 1) return Broken();
    size_t length = 0;
    bool keep = true;
    size_t line = 0;
    while ((line = head.find("\r\n", line)) != std::string_view::npos) {
      line += 2;
      std::string_view rest = head.substr(line);
      auto starts = [&](const char* name) {
        size_t n = std::strlen(name);
        return rest.size() >= n && strncasecmp(rest.data(), name, n) == 0;
      };
      if (starts("content-length:")) length = std::strtoul(rest.data() + 15, nullptr, 10);
      if (starts("connection: close")) keep = false;
    }
    while (buf_.size() < end + 4 + length) {
      if (!Fill()) return Broken();
    }
    buf_.erase(0, end + 4 + length);
    if (!keep) Disconnect();
    return status;
  }

  sockaddr_in server_;
  std::string host_;
  std::string key_;
  int fd_ = -1;
  std::string buf_;
};

class Publish : public Handler {
 public:
  struct Options {
    size_t members = 1000;
    size_t http_conns = 8;
    double seconds = 5;
    double grace_s = 2;
    std::string key;
    std::string phases = "user,everyone";
    int64_t ack_ms = 0;
  };

  Publish(Common& common, Options o) : common_(common), o_(std::move(o)) {}
  int Run();

  void OnLine(Conn& c, std::string_view line, std::string_view type, int64_t now) override {
    last_line_ns_ = now;
    if (type != "notification") return;
    int64_t mid = 0;
    if (IntField(line, "\"mid\":", &mid)) newest_[c.index] = std::max(newest_[c.index], mid);
    int64_t sent = 0;
    if (IntField(line, "\"text\":\"t=", &sent) && sent >= phase_start_) {
      ++arrived_;
      deliver_.Record(now - sent);
    }
  }
  void OnLive(Conn&, int64_t) override {}
  void OnFrameDone(Conn& c, int64_t now) override {
    if (newest_[c.index] > acked_[c.index] && now - acked_at_[c.index] >= o_.ack_ms * kMs) {
      acked_at_[c.index] = now;
      acked_[c.index] = newest_[c.index];
      loop_->SendJson(c, R"({"type":"ack","upto":)" + std::to_string(acked_[c.index]) + "}");
    }
  }
  void OnFailed(Conn& c, int64_t) override {
    if (c.t_live != 0) ++lost_;
  }

 private:
  PhaseResult RunPhase(const std::string& name);

  Common& common_;
  Options o_;
  Loop* loop_ = nullptr;
  std::vector<int64_t> newest_;
  std::vector<int64_t> acked_;
  std::vector<int64_t> acked_at_;
  uint64_t arrived_ = 0;
  Histogram deliver_;
  int64_t phase_start_ = 0;
  int64_t last_line_ns_ = 0;
  uint64_t lost_ = 0;
};

PhaseResult Publish::RunPhase(const std::string& name) {
  PhaseResult r;
  r.name = name;
  bool everyone = name == "everyone";
  arrived_ = 0;
  deliver_.Reset();
  phase_start_ = NowNs();
  std::atomic<bool> stop{false};
  struct Worker {
    uint64_t answered = 0;
    uint64_t failed = 0;
    int first_bad = 0;
    Histogram http;
  };
  std::vector<Worker> workers(o_.http_conns);
  std::vector<std::thread> threads;
  CpuMeter meter(common_.server_pid);
  meter.Start();
  for (size_t t = 0; t < o_.http_conns; ++t) {
    threads.emplace_back([&, t] {
      Worker& w = workers[t];
      HttpPoster poster(common_.loop.server, common_.loop.host_header, o_.key);
      std::mt19937_64 rng(t * 7919 + 17);
      while (!stop.load(std::memory_order_relaxed)) {
        int64_t t0 = NowNs();
        std::string to = everyone ? std::string("\"*\"") : "\"" + common_.User("m", rng() % o_.members) + "\"";
        std::string body = R"({"to":)" + to + R"(,"title":"bench","text":"t=)" + std::to_string(t0) + "\"}";
        int status = poster.Post("/api/publish", body);
        if (status == 200) {
          ++w.answered;
          w.http.Record(NowNs() - t0);
        } else {
          ++w.failed;
          if (!w.first_bad) w.first_bad = status ? status : -1;
          if (status == 0) usleep(10000);  // do not spin on a refused connection
        }
      }
    });
  }
  int64_t end = std::min(common_.deadline_ns, phase_start_ + static_cast<int64_t>(o_.seconds * 1e9));
  loop_->Run(end, [&] { return lost_ > 0; });
  stop = true;
  for (auto& th : threads) th.join();
  r.seconds = ToSec(NowNs() - phase_start_);
  for (const Worker& w : workers) {
    r.answered += w.answered;
    r.failed += w.failed;
    if (!r.first_bad_status && w.first_bad) r.first_bad_status = w.first_bad;
    r.http.Merge(w.http);
  }
  r.expected = everyone ? r.answered * o_.members : r.answered;
  int64_t grace_end = std::min(common_.deadline_ns, NowNs() + static_cast<int64_t>(o_.grace_s * 1e9));
  loop_->Run(grace_end, [&] { return lost_ > 0 || arrived_ >= r.expected; });
  r.server_pct = meter.ServerPct();
  r.client_pct = meter.ClientPct();
  r.arrived = arrived_;
  r.deliver = deliver_;
  std::fprintf(stderr,
               "publish %s %s: %llu answered in %.1f s (%.0f/s), %llu failed, http p50 %.3f p99 %.3f ms; "
               "notifications %llu of %llu, p50 %.3f p99 %.3f ms; server cpu %.0f%%\n",
               common_.label.c_str(), name.c_str(), static_cast<unsigned long long>(r.answered), r.seconds,
               static_cast<double>(r.answered) / r.seconds, static_cast<unsigned long long>(r.failed),
               ToMs(r.http.Percentile(0.5)), ToMs(r.http.Percentile(0.99)),
               static_cast<unsigned long long>(r.arrived), static_cast<unsigned long long>(r.expected),
               ToMs(r.deliver.Percentile(0.5)), ToMs(r.deliver.Percentile(0.99)), r.server_pct);
  // Let acks and stragglers settle before the next phase.
  int64_t quiet_by = std::min(common_.deadline_ns, NowNs() + 3 * kSec);
  loop_->Run(quiet_by, [&] { return lost_ > 0 || NowNs() - last_line_ns_ > 200 * kMs; });
  return r;
}

int Publish::Run() {
  Loop loop(common_.loop, this);
  loop_ = &loop;
  newest_.assign(o_.members, 0);
  acked_.assign(o_.members, 0);
  acked_at_.assign(o_.members, 0);
  for (size_t i = 0; i < o_.members; ++i) {
    std::string user = common_.User("m", i);
    loop.Add(user, common_.Token(user), kMember, static_cast<uint32_t>(i));
  }
  CpuMeter login_meter(common_.server_pid);
  login_meter.Start();
  int64_t login_start = NowNs();
  loop.Run(common_.deadline_ns, [&] { return loop.settled() >= o_.members; });
  double login_s = ToSec(NowNs() - login_start);
  Report rep;
  rep.Add("scenario", std::string("publish")).Add("target", common_.label);
  rep.Add("transport", std::string(common_.loop.socketio ? "socketio" : "ws"));
  rep.Add("members", static_cast<int64_t>(o_.members)).Add("http_conns", static_cast<int64_t>(o_.http_conns));
  // Connect + upgrade + login of every member, at most --max-connecting at a time.
  rep.Add("logins_per_s", static_cast<double>(loop.live()) / login_s, 0);
  if (login_meter.ServerSec() >= 0 && loop.live() > 0) {
    rep.Add("login_server_us", login_meter.ServerSec() * 1e6 / static_cast<double>(loop.live()), 0);
  }
  if (loop.live() < o_.members) {
    rep.Add("failures", static_cast<int64_t>(o_.members - loop.live())).Add("why", FailureSummary(loop)).Print();
    return 2;
  }
  // Logins make the server send presence and welcome lines: wait until they are over.
  loop.Run(std::min(common_.deadline_ns, NowNs() + 20 * kSec), [&] { return NowNs() - last_line_ns_ > 300 * kMs; });

  int rc = 0;
  size_t from = 0;
  while (from <= o_.phases.size()) {
    size_t comma = o_.phases.find(',', from);
    if (comma == std::string::npos) comma = o_.phases.size();
    std::string name = o_.phases.substr(from, comma - from);
    from = comma + 1;
    if (name.empty()) continue;
    PhaseResult p = RunPhase(name);
    const std::string k = p.name + "_";
    rep.Add(k + "publish_per_s", static_cast<double>(p.answered) / p.seconds, 0);
    if (p.name == "everyone") {
      rep.Add(k + "deliveries_per_s", static_cast<double>(p.arrived) / p.seconds, 0);
    }
    rep.Ms(k + "http_p50_ms", p.http.Percentile(0.5)).Ms(k + "http_p99_ms", p.http.Percentile(0.99));
    rep.Add(k + "arrived_pct", p.expected ? 100.0 * static_cast<double>(p.arrived) / static_cast<double>(p.expected) : 0.0, 2);
    rep.Ms(k + "deliver_p50_ms", p.deliver.Percentile(0.5)).Ms(k + "deliver_p99_ms", p.deliver.Percentile(0.99));
    rep.Add(k + "server_cpu_pct", p.server_pct, 0).Add(k + "client_cpu_pct", p.client_pct, 0);
    if (p.failed) {
      rep.Add(k + "failed", static_cast<int64_t>(p.failed)).Add(k + "first_status", static_cast<int64_t>(p.first_bad_status));
      rc = 2;
    }
    if (p.answered == 0 && p.first_bad_status == 404) {
      rep.Add("publish", std::string("unsupported")).Print();
      return 3;
    }
    if (lost_ > 0) break;
  }
  rep.Add("failures", static_cast<int64_t>(lost_));
  if (lost_ > 0) {
    rep.Add("why", FailureSummary(loop));
    rc = 2;
  }
  rep.Print();
  return rc;
}

}  // namespace

int RunPublish(const Args& args) {
  Common common;
  std::string error;
  if (!ParseCommon(args, &common, &error)) {
    std::fprintf(stderr, "publish: %s\n", error.c_str());
    return 1;
  }
  Publish::Options o;
  o.members = static_cast<size_t>(args.Int("members", static_cast<int64_t>(o.members)));
  o.http_conns = static_cast<size_t>(args.Int("http-conns", static_cast<int64_t>(o.http_conns)));
  o.seconds = args.Num("seconds", o.seconds);
  o.grace_s = args.Num("grace", o.grace_s);
  const char* env = std::getenv("CHATD_BENCH_KEY");
  o.key = args.Str("key", env ? env : "");
  o.phases = args.Str("phases", o.phases);
  o.ack_ms = args.Int("ack-ms", o.ack_ms);
  if (!CheckArgs(args)) return 1;
  if (o.key.empty()) {
    std::fprintf(stderr, "publish: --key (or CHATD_BENCH_KEY) must be an API key of the server\n");
    return 1;
  }
  if (o.members == 0 || o.http_conns == 0 || o.seconds <= 0) {
    std::fprintf(stderr, "publish: --members, --http-conns and --seconds must be > 0\n");
    return 1;
  }
  Publish p(common, o);
  return p.Run();
}

}  // namespace chatd::bench
