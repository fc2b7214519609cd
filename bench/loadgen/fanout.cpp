// SPDX-License-Identifier: MIT
//
// Scenario "fanout": --members users join one room, plus a publisher who joins it too. The
// publisher sends to the room at a rate that grows by --factor each step of --step seconds;
// every member should receive each message. A step passes when, --grace seconds after it ended,
// at least --min-ratio of the expected deliveries (messages x members) arrived, no member
// connection was lost (a server closes a reader that falls too far behind) and the publisher got
// an "ok" for every send. Figures: the best deliveries per second of a passing step and its
// delivery latency percentiles; the step after it is the one that fell short.
//
// If the first step fails, the rate goes down by --factor until a step passes (or it is under
// --min-rate); after the first failure, --refine bisection steps. A second figure bounds the
// latency too: the best passing step whose delivery p99 is within --p99-ms (default 50); after
// the ramp, --refine-latency bisection steps between the best such rate and the next one tried
// above it. Members ack the largest mid
// they got at most every --ack-ms (default 100; 0 = every frame; -1 = never), as a client that
// keeps a cursor would.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include "chat.h"
#include "clock.h"
#include "common.h"
#include "line_scan.h"
#include "proc_stat.h"
#include "scenarios.h"

namespace chatd::bench {

namespace {

constexpr int64_t kJoinId = 2;
constexpr uint32_t kMember = 0;
constexpr uint32_t kPublisher = 1;

struct Step {
  double rate = 0;
  uint64_t sent = 0;
  uint64_t planned = 0;
  uint64_t expected = 0;
  ChatStats members;  // deliveries
  ChatStats pub;      // send -> ok
  double ratio = 0;
  double deliveries_per_s = 0;
  double server_pct = -1;
  double client_pct = -1;
  bool pass = false;
};

class Fanout : public Handler {
 public:
  struct Options {
    size_t members = 1000;
    std::string room = "bench";
    double rate = 100;
    double factor = 1.5;
    double step_s = 2;
    double grace_s = 1;
    double min_ratio = 0.99;
    int max_steps = 16;
    int refine = 1;
    double p99_ms = 50;
    int refine_latency = 2;
    size_t window = 4096;
    size_t text_bytes = 100;
    int64_t ack_ms = 100;
    double min_rate = 5;
  };

  Fanout(Common& common, Options o) : common_(common), o_(std::move(o)) {}
  int Run();

  void OnLine(Conn& c, std::string_view line, std::string_view type, int64_t now) override {
    last_line_ns_ = now;
    Chat* chat = chats_[c.index].get();
    if (!chat) return;
    int64_t re = 0;
    Chat::Kind k = chat->OnLine(line, type, now, step_no_, c.role == kPublisher ? &pub_ : &members_, &re);
    if (re == kJoinId && k == Chat::Kind::kReplyOk) ++joined_;
    if (re == kJoinId && k == Chat::Kind::kReplyError) {
      ++join_errors_;
      if (join_error_.empty()) join_error_ = std::string(StrField(line, "\"code\":\""));
    }
  }
  void OnLive(Conn& c, int64_t) override {
    chats_[c.index] = std::make_unique<Chat>(c, true, o_.room, 0, c.role == kPublisher ? o_.window : 1, o_.text_bytes);
    loop_->SendJson(c, R"({"type":"join","id":2,"room":")" + o_.room + "\"}");
  }
  void OnFrameDone(Conn& c, int64_t now) override {
    if (c.role == kMember && chats_[c.index]) acks_->OnFrame(*loop_, c, *chats_[c.index], now);
  }
  void OnFailed(Conn& c, int64_t) override {
    if (c.t_live != 0) ++lost_;
  }
  void OnTurn(int64_t now) override {
    acks_->OnTurn(*loop_, now);
    if (!sending_) return;
    uint64_t due =
        std::min<uint64_t>(planned_, static_cast<uint64_t>(static_cast<double>(now - step_start_) * rate_ / 1e9) + 1);
    Chat* chat = chats_[publisher_->index].get();
    while (pub_.sent < due && publisher_->state == ConnState::kLive && chat->CanSend()) {
      chat->Send(*loop_, *publisher_, now, step_no_, &pub_);
    }
  }
  int64_t NextWake(int64_t) override {
    int64_t ack = acks_->NextWake();
    if (!sending_) return ack;
    int64_t send = step_start_ + static_cast<int64_t>(static_cast<double>(pub_.sent + 1) * 1e9 / rate_);
    return ack < 0 ? send : std::min(ack, send);
  }

 private:
  Step RunStep(double rate);

  Common& common_;
  Options o_;
  Loop* loop_ = nullptr;
  Conn* publisher_ = nullptr;
  std::vector<std::unique_ptr<Chat>> chats_;
  std::unique_ptr<AckTimer> acks_;
  ChatStats members_;
  ChatStats pub_;
  bool sending_ = false;
  double rate_ = 0;
  uint64_t planned_ = 0;
  int64_t step_start_ = 0;
  uint32_t step_no_ = 0;
  int64_t last_line_ns_ = 0;
  uint64_t joined_ = 0;
  uint64_t join_errors_ = 0;
  std::string join_error_;
  uint64_t lost_ = 0;
};

Step Fanout::RunStep(double rate) {
  Step s;
  s.rate = rate;
  ++step_no_;
  members_.Reset();
  pub_.Reset();
  rate_ = rate;
  planned_ = static_cast<uint64_t>(std::llround(rate * o_.step_s));
  s.planned = planned_;
  CpuMeter meter(common_.server_pid);
  meter.Start();
  step_start_ = NowNs();
  int64_t step_ns = static_cast<int64_t>(o_.step_s * 1e9);
  sending_ = true;
  loop_->Run(std::min(common_.deadline_ns, step_start_ + step_ns), [&] { return lost_ > 0; });
  sending_ = false;
  s.sent = pub_.sent;
  uint64_t members = o_.members;
  s.expected = s.sent * members;
  int64_t grace_end = std::min(common_.deadline_ns, NowNs() + static_cast<int64_t>(o_.grace_s * 1e9));
  loop_->Run(grace_end, [&] { return lost_ > 0 || (members_.delivered >= s.expected && pub_.oks >= s.sent); });
  s.server_pct = meter.ServerPct();
  s.client_pct = meter.ClientPct();
  s.members = members_;
  s.pub = pub_;
  s.ratio = s.expected ? static_cast<double>(members_.delivered) / static_cast<double>(s.expected) : 0;
  int64_t span = std::max(step_ns, members_.last_deliver_ns - step_start_);
  s.deliveries_per_s = static_cast<double>(members_.delivered) / ToSec(span);
  s.pass =
      lost_ == 0 && pub_.errors == 0 && pub_.oks == s.sent && s.sent * 100 >= s.planned * 97 && s.ratio >= o_.min_ratio;
  std::fprintf(stderr,
               "fanout %s step %u: %.0f msgs/s sent %llu, delivered %llu of %llu (%.2f%%) -> %.0f deliveries/s, "
               "deliver p50 %.3f p99 %.3f max %.3f ms, publish ok p99 %.3f ms, server cpu %.0f%%, client cpu %.0f%% "
               "%s\n",
               common_.label.c_str(), step_no_, rate, static_cast<unsigned long long>(s.sent),
               static_cast<unsigned long long>(members_.delivered), static_cast<unsigned long long>(s.expected),
               100 * s.ratio, s.deliveries_per_s, ToMs(members_.deliver.Percentile(0.5)),
               ToMs(members_.deliver.Percentile(0.99)), ToMs(members_.deliver.max()), ToMs(pub_.ok.Percentile(0.99)),
               s.server_pct, s.client_pct, s.pass ? "pass" : "FAIL");
  // Let what is still queued drain before the next step, so it does not count there.
  int64_t quiet_by = std::min(common_.deadline_ns, NowNs() + 3 * kSec);
  loop_->Run(quiet_by, [&] { return lost_ > 0 || NowNs() - last_line_ns_ > 200 * kMs; });
  return s;
}

int Fanout::Run() {
  Loop loop(common_.loop, this);
  loop_ = &loop;
  size_t n = o_.members + 1;
  chats_.resize(n);
  acks_ = std::make_unique<AckTimer>(o_.ack_ms < 0 ? -1 : o_.ack_ms * kMs, n);
  for (size_t i = 0; i < o_.members; ++i) {
    std::string user = common_.User("m", i);
    loop.Add(user, common_.Token(user), kMember, static_cast<uint32_t>(i));
  }
  std::string pub = common_.prefix + "pub";
  publisher_ = loop.Add(pub, common_.Token(pub), kPublisher, static_cast<uint32_t>(o_.members));
  loop.Run(common_.deadline_ns, [&] { return loop.settled() >= n && joined_ + join_errors_ >= loop.live(); });
  Report r;
  r.Add("scenario", std::string("fanout")).Add("target", common_.label);
  r.Add("members", static_cast<int64_t>(o_.members));
  if (loop.live() < n) {
    r.Add("failures", static_cast<int64_t>(n - loop.live())).Add("why", FailureSummary(loop)).Print();
    return 2;
  }
  if (join_errors_ > 0) {
    r.Add("room", "unsupported:" + join_error_).Print();
    return 3;
  }
  // Joining makes the server tell members about each other: wait until that is over.
  loop.Run(std::min(common_.deadline_ns, NowNs() + 20 * kSec), [&] { return NowNs() - last_line_ns_ > 300 * kMs; });

  std::vector<Step> steps;
  RateSearch search(o_.rate, o_.factor, o_.min_rate, o_.refine);
  int64_t step_cost = static_cast<int64_t>((o_.step_s + o_.grace_s + 1) * 1e9);
  for (int i = 0; i < o_.max_steps && NowNs() + step_cost < common_.deadline_ns; ++i) {
    steps.push_back(RunStep(search.rate()));
    const Step& s = steps.back();
    if (s.pub.errors > 0 && s.pub.oks == 0) break;  // sending to a room is not supported
    if (lost_ > 0) break;
    if (!search.Next(s.pass)) break;
  }
  auto within = [&](const Step& s) {
    return s.pass && ToMs(s.members.deliver.Percentile(0.99)) <= o_.p99_ms;
  };
  // Bisect for the latency-bounded rate: between the best step within the limit and the
  // lowest rate above it that was not.
  for (int i = 0; i < o_.refine_latency && lost_ == 0 && NowNs() + step_cost < common_.deadline_ns; ++i) {
    double ok_rate = 0, bad_rate = 0;
    for (const Step& s : steps) {
      if (within(s)) ok_rate = std::max(ok_rate, s.rate);
    }
    for (const Step& s : steps) {
      if (!within(s) && s.rate > ok_rate && (bad_rate == 0 || s.rate < bad_rate)) bad_rate = s.rate;
    }
    if (ok_rate == 0 || bad_rate == 0 || bad_rate - ok_rate < ok_rate * 0.05) break;
    steps.push_back(RunStep((ok_rate + bad_rate) / 2));
  }
  const Step* best = nullptr;
  const Step* best_within = nullptr;
  for (const Step& s : steps) {
    if (s.pass && (!best || s.deliveries_per_s > best->deliveries_per_s)) best = &s;
    if (within(s) && (!best_within || s.deliveries_per_s > best_within->deliveries_per_s)) best_within = &s;
  }
  if (!steps.empty() && steps.front().pub.errors > 0 && steps.front().pub.oks == 0) {
    std::string code = steps.front().pub.first_error;
    r.Add("send", "unsupported:" + code).Print();
    return 3;
  }
  const Step* shown = best ? best : (steps.empty() ? nullptr : &steps.front());
  r.Add("max_deliveries_per_s", best ? best->deliveries_per_s : 0.0, 0);
  if (shown) {
    r.Add("msgs_per_s", shown->rate, 0).Add("delivered_pct", 100 * shown->ratio, 2);
    r.Ms("deliver_p50_ms", shown->members.deliver.Percentile(0.5));
    r.Ms("deliver_p90_ms", shown->members.deliver.Percentile(0.9));
    r.Ms("deliver_p99_ms", shown->members.deliver.Percentile(0.99));
    r.Ms("deliver_p999_ms", shown->members.deliver.Percentile(0.999));
    r.Ms("deliver_max_ms", shown->members.deliver.max());
    r.Ms("publish_ok_p99_ms", shown->pub.ok.Percentile(0.99));
    r.Add("server_cpu_pct", shown->server_pct, 0).Add("client_cpu_pct", shown->client_pct, 0);
  }
  r.Add("p99_limit_ms", o_.p99_ms, 1);
  r.Add("lat_max_deliveries_per_s", best_within ? best_within->deliveries_per_s : 0.0, 0);
  if (best_within) {
    r.Add("lat_msgs_per_s", best_within->rate, 0).Add("lat_delivered_pct", 100 * best_within->ratio, 2);
    r.Ms("lat_deliver_p50_ms", best_within->members.deliver.Percentile(0.5));
    r.Ms("lat_deliver_p99_ms", best_within->members.deliver.Percentile(0.99));
    r.Add("lat_server_cpu_pct", best_within->server_pct, 0);
  }
  if (!steps.empty()) {  // the first step, at the same rate for every server: latency like for like
    const Step& f = steps.front();
    r.Add("first_msgs_per_s", f.rate, 0).Add("first_delivered_pct", 100 * f.ratio, 2);
    r.Ms("first_deliver_p50_ms", f.members.deliver.Percentile(0.5));
    r.Ms("first_deliver_p99_ms", f.members.deliver.Percentile(0.99));
  }
  r.Add("steps", static_cast<int64_t>(steps.size())).Add("failures", static_cast<int64_t>(lost_));
  if (lost_ > 0) r.Add("why", FailureSummary(loop));
  r.Print();
  return 0;
}

}  // namespace

int RunFanout(const Args& args) {
  Common common;
  std::string error;
  if (!ParseCommon(args, &common, &error)) {
    std::fprintf(stderr, "fanout: %s\n", error.c_str());
    return 1;
  }
  Fanout::Options o;
  o.members = static_cast<size_t>(args.Int("members", static_cast<int64_t>(o.members)));
  o.room = args.Str("room", o.room);
  o.rate = args.Num("rate", o.rate);
  o.factor = args.Num("factor", o.factor);
  o.step_s = args.Num("step", o.step_s);
  o.grace_s = args.Num("grace", o.grace_s);
  o.min_ratio = args.Num("min-ratio", o.min_ratio);
  o.max_steps = static_cast<int>(args.Int("max-steps", o.max_steps));
  o.refine = static_cast<int>(args.Int("refine", o.refine));
  o.p99_ms = args.Num("p99-ms", o.p99_ms);
  o.refine_latency = static_cast<int>(args.Int("refine-latency", o.refine_latency));
  o.window = static_cast<size_t>(args.Int("window", static_cast<int64_t>(o.window)));
  o.text_bytes = static_cast<size_t>(args.Int("text-bytes", static_cast<int64_t>(o.text_bytes)));
  o.ack_ms = args.Int("ack-ms", o.ack_ms);
  o.min_rate = args.Num("min-rate", o.min_rate);
  if (!CheckArgs(args)) return 1;
  if (o.members == 0 || o.factor <= 1 || o.rate <= 0) {
    std::fprintf(stderr, "fanout: --members and --rate must be > 0, --factor > 1\n");
    return 1;
  }
  Fanout f(common, o);
  return f.Run();
}

}  // namespace chatd::bench
