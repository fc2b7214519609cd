// SPDX-License-Identifier: MIT
//
// Scenario "offline": the offline pool.
//  1. --users recipients (and one extra user per drain size) log in once, so the server knows
//     them, and disconnect.
//  2. Store: --senders connections send --messages messages round-robin to the offline
//     recipients, as fast as their windows allow. Figure: stored messages per second (every send
//     answered "ok", i.e. durable) and send->ok latency.
//  3. Drain, for each size D in --drain (default 100,100000): the senders queue D messages for one
//     more offline user; that user logs in and receives them before "live", acking once per
//     frame. Figures: the time from hello to live, messages per second, and whether all D came,
//     oldest first.
// Recipient names are <prefix>o0000, <prefix>o0001, ... so one pre-masked frame per sender
// reaches all of them (the digits are patched per message).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>

#include "chat.h"
#include "clock.h"
#include "common.h"
#include "line_scan.h"
#include "proc_stat.h"
#include "scenarios.h"

namespace chatd::bench {

namespace {

constexpr uint32_t kRecipient = 0;
constexpr uint32_t kSender = 1;
constexpr uint32_t kDrainer = 2;
constexpr size_t kDigits = 5;

class Offline : public Handler {
 public:
  struct Options {
    size_t users = 1000;
    int64_t messages = 20000;
    size_t senders = 10;
    std::vector<int64_t> drains{100, 100000};
    size_t window = 64;
    size_t text_bytes = 100;
  };

  Offline(Common& common, Options o) : common_(common), o_(std::move(o)) {}
  int Run();

  void OnLine(Conn& c, std::string_view line, std::string_view type, int64_t now) override {
    if (c.role == kRecipient) return;
    Chat* chat = chats_[c.index].get();
    if (!chat) {  // a drainer before "live": its Chat is made at its first line
      chats_[c.index] = std::make_unique<Chat>(c, false, "", 0, 1, 0);
      chat = chats_[c.index].get();
    }
    int64_t re = 0;
    chat->OnLine(line, type, now, 0, c.role == kSender ? &send_stats_ : &drain_stats_, &re);
    if (c.role == kDrainer && c.state == ConnState::kLive && type == "message") ++after_live_;
  }
  void OnLive(Conn& c, int64_t) override {
    if (c.role == kSender) {
      chats_[c.index] = std::make_unique<Chat>(c, false, common_.prefix + "o", kDigits, o_.window, o_.text_bytes);
    }
    if (c.role == kRecipient) loop_->Close(c);  // known to the server now; offline from here on
  }
  // A draining client acks after every frame: the server may hold back the rest until it does.
  void OnFrameDone(Conn& c, int64_t) override {
    if (c.role == kDrainer && chats_[c.index]) chats_[c.index]->AckIfNeeded(*loop_, c);
  }
  void OnFailed(Conn& c, int64_t) override {
    if (c.role != kRecipient) ++lost_;
  }
  void OnTurn(int64_t now) override {
    if (to_send_ == 0) return;
    size_t skipped = 0;
    while (to_send_ > 0 && skipped < senders_.size()) {
      Conn* c = senders_[rr_];
      rr_ = (rr_ + 1) % senders_.size();
      Chat* chat = chats_[c->index].get();
      if (c->state != ConnState::kLive || !chat->CanSend()) {
        ++skipped;
        continue;
      }
      skipped = 0;
      uint64_t target = target_fixed_ >= 0 ? static_cast<uint64_t>(target_fixed_) : next_target_++ % o_.users;
      chat->Send(*loop_, *c, now, 0, &send_stats_, target);
      --to_send_;
    }
  }

 private:
  std::string Recipient(size_t n) const {
    std::string digits = std::to_string(n);
    return common_.prefix + "o" + std::string(kDigits - digits.size(), '0') + digits;
  }
  // Sends `count` messages (to `target`, or round-robin over the pool users when -1); returns
  // the stored messages per second, or -1 when not every send was answered "ok".
  double Store(int64_t count, int64_t target);

  Common& common_;
  Options o_;
  Loop* loop_ = nullptr;
  std::vector<std::unique_ptr<Chat>> chats_;
  std::vector<Conn*> senders_;
  ChatStats send_stats_;
  ChatStats drain_stats_;
  uint64_t to_send_ = 0;
  int64_t target_fixed_ = -1;
  uint64_t next_target_ = 0;
  size_t rr_ = 0;
  uint64_t lost_ = 0;
  uint64_t after_live_ = 0;
};

double Offline::Store(int64_t count, int64_t target) {
  send_stats_.Reset();
  target_fixed_ = target;
  to_send_ = static_cast<uint64_t>(count);
  int64_t t0 = NowNs();
  loop_->Run(common_.deadline_ns,
             [&] { return lost_ > 0 || (to_send_ == 0 && send_stats_.oks + send_stats_.errors >= send_stats_.sent); });
  to_send_ = 0;
  if (send_stats_.oks != static_cast<uint64_t>(count)) return -1;
  return static_cast<double>(count) / ToSec(send_stats_.last_ok_ns - t0);
}

int Offline::Run() {
  Loop loop(common_.loop, this);
  loop_ = &loop;
  Report r;
  r.Add("scenario", std::string("offline")).Add("target", common_.label);
  r.Add("users", static_cast<int64_t>(o_.users)).Add("messages", o_.messages);

  // 1. Make the recipients known, then let them go offline.
  size_t n_recipients = o_.users + o_.drains.size();
  for (size_t i = 0; i < n_recipients; ++i) {
    std::string user = Recipient(i);
    loop.Add(user, common_.Token(user), kRecipient, static_cast<uint32_t>(i));
  }
  for (size_t i = 0; i < o_.senders; ++i) {
    std::string user = common_.User("s", i);
    senders_.push_back(loop.Add(user, common_.Token(user), kSender, static_cast<uint32_t>(n_recipients + i)));
  }
  chats_.resize(n_recipients + o_.senders + o_.drains.size());
  size_t total = n_recipients + o_.senders;
  loop.Run(common_.deadline_ns, [&] { return loop.settled() >= total; });
  if (loop.failed() > 0 || loop.live() < o_.senders) {
    r.Add("failures", static_cast<int64_t>(loop.failed())).Add("why", FailureSummary(loop)).Print();
    return 2;
  }
  // Give the server a moment to see the recipients' connections close.
  loop.Run(NowNs() + 500 * kMs, [] { return false; });

  // 2. Store to the pool.
  CpuMeter meter(common_.server_pid);
  meter.Start();
  double store_rate = Store(o_.messages, -1);
  if (store_rate < 0) {
    std::string code = send_stats_.first_error.empty() ? std::string("no_answer") : send_stats_.first_error;
    r.Add("send", (send_stats_.oks == 0 ? "unsupported:" : "errors:") + code);
    r.Add("failures", static_cast<int64_t>(lost_)).Print();
    return send_stats_.oks == 0 ? 3 : 2;
  }
  r.Add("store_msgs_per_s", store_rate, 0);
  r.Ms("store_ok_p50_ms", send_stats_.ok.Percentile(0.5)).Ms("store_ok_p99_ms", send_stats_.ok.Percentile(0.99));
  r.Add("store_server_cpu_pct", meter.ServerPct(), 0).Add("store_client_cpu_pct", meter.ClientPct(), 0);

  // 3. Drains.
  bool all_ok = true;
  for (size_t d = 0; d < o_.drains.size(); ++d) {
    int64_t count = o_.drains[d];
    std::string tag = "drain" + std::to_string(count);
    double fill_rate = Store(count, static_cast<int64_t>(o_.users + d));
    if (fill_rate < 0) {
      r.Add(tag, std::string("store_failed"));
      all_ok = false;
      break;
    }
    r.Add(tag + "_store_msgs_per_s", fill_rate, 0);
    drain_stats_.Reset();
    after_live_ = 0;
    std::string user = Recipient(o_.users + d);
    meter.Start();
    Conn* c = loop.Add(user, common_.Token(user), kDrainer, static_cast<uint32_t>(n_recipients + o_.senders + d));
    loop.Run(common_.deadline_ns, [&] { return c->state == ConnState::kLive || c->state == ConnState::kClosed; });
    if (c->state != ConnState::kLive) {
      r.Add(tag, std::string("login_failed")).Add("why", FailureSummary(loop));
      all_ok = false;
      break;
    }
    // Count what still comes after "live" (a server may send the rest of the pool after it).
    loop.Run(std::min(common_.deadline_ns, NowNs() + 300 * kMs),
             [&] { return drain_stats_.delivered + drain_stats_.delivered_other >= static_cast<uint64_t>(count); });
    const Chat& chat = *chats_[c->index];
    uint64_t before_live = chat.received() - after_live_;
    int64_t ns = c->t_live - c->t_hello;
    r.Ms(tag + "_ms", ns);
    r.Add(tag + "_msgs_per_s", ns > 0 ? static_cast<double>(before_live) / ToSec(ns) : 0.0, 0);
    r.Add(tag + "_received", static_cast<int64_t>(chat.received()));
    if (after_live_ > 0) r.Add(tag + "_after_live", static_cast<int64_t>(after_live_));
    r.Add(tag + "_in_order", std::string(chat.in_order() ? "yes" : "no"));
    r.Add(tag + "_server_cpu_pct", meter.ServerPct(), 0);
    if (chat.received() != static_cast<uint64_t>(count)) all_ok = false;
    loop.Close(*c);
  }
  r.Add("failures", static_cast<int64_t>(lost_));
  r.Print();
  return all_ok && lost_ == 0 ? 0 : 2;
}

}  // namespace

int RunOffline(const Args& args) {
  Common common;
  std::string error;
  if (!ParseCommon(args, &common, &error)) {
    std::fprintf(stderr, "offline: %s\n", error.c_str());
    return 1;
  }
  Offline::Options o;
  o.users = static_cast<size_t>(args.Int("users", static_cast<int64_t>(o.users)));
  o.messages = args.Int("messages", o.messages);
  o.senders = static_cast<size_t>(args.Int("senders", static_cast<int64_t>(o.senders)));
  o.window = static_cast<size_t>(args.Int("window", static_cast<int64_t>(o.window)));
  o.text_bytes = static_cast<size_t>(args.Int("text-bytes", static_cast<int64_t>(o.text_bytes)));
  std::string drains = args.Str("drain", "100,100000");
  if (!CheckArgs(args)) return 1;
  o.drains.clear();
  std::stringstream ss(drains);
  for (std::string item; std::getline(ss, item, ',');) {
    char* end = nullptr;
    long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v <= 0) {
      std::fprintf(stderr, "offline: --drain takes sizes like 100,100000\n");
      return 1;
    }
    o.drains.push_back(v);
  }
  if (o.users == 0 || o.users + o.drains.size() >= 100000 || o.senders == 0 || o.messages <= 0) {
    std::fprintf(stderr, "offline: need 0 < --users < 100000, --senders > 0, --messages > 0\n");
    return 1;
  }
  Offline f(common, o);
  return f.Run();
}

}  // namespace chatd::bench
