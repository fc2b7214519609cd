// SPDX-License-Identifier: MIT
//
// Scenario "pairs": P pairs of users (a<i>, b<i>), each side sending to the other, every send
// answered by "ok" once the server has stored it; the partner acks what it receives. The total
// send rate is spread round-robin over the 2P connections; a connection with `window` sends
// unanswered is skipped (a stall: the server is not keeping up).
//
// Modes:
//   ramp (default)  steps of --step seconds from --rate msgs/s, times --factor after each pass,
//                   until a step fails; then --refine bisection steps between the last pass and
//                   the first failure (if the first step fails, the rate goes down by --factor
//                   until one passes or it is under --min-rate). A step that misses only the
//                   latency limit is run once more at the same rate. A step passes when at least 97 % of the planned
//                   messages went out, every one was answered "ok" and delivered within --grace seconds, nothing
//                   failed, and p99 send->ok is at most --p99-ms. Figure: the best rate that passed.
//   --fixed         one step at --rate for --duration seconds (latency at a given load).
//   --messages M    send M messages as fast as the windows allow, then stop (fills a server with
//                   history, e.g. before a cold start measurement).
//
// Receivers ack the largest mid they got at most every --ack-ms (default 100; 0 = after every
// frame; -1 = never), as a client keeping a cursor would.
//
// After a ramp, --history-check asks for the newest messages of pair 0 and reports whether the
// conversation came back from the server's history (ok), empty, or an error.
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

constexpr int64_t kHistoryId = 3;

struct Step {
  double rate = 0;
  double achieved = 0;  // oks per second of the step
  uint64_t planned = 0;
  ChatStats stats;
  uint64_t stalls = 0;
  double server_pct = -1;
  double client_pct = -1;
  bool pass = false;
  bool p99_only = false;  // everything but the latency limit was met
};

class Pairs : public Handler {
 public:
  struct Options {
    size_t pairs = 100;
    double rate = 2000;
    double factor = 1.5;
    double step_s = 2;
    double grace_s = 2;
    int max_steps = 14;
    int refine = 2;
    double p99_ms = 10;
    double min_rate = 20;
    bool fixed = false;
    double duration_s = 5;
    int64_t messages = 0;
    size_t window = 32;
    size_t text_bytes = 100;
    bool history_check = false;
    int64_t ack_ms = 100;
  };

  Pairs(Common& common, Options o) : common_(common), o_(o) {}

  int Run();

  void OnLine(Conn& c, std::string_view line, std::string_view type, int64_t now) override {
    Chat* chat = chats_[c.index].get();
    if (!chat) return;
    int64_t re = 0;
    Chat::Kind k = chat->OnLine(line, type, now, step_no_, &stats_, &re);
    if ((k == Chat::Kind::kReplyOk || k == Chat::Kind::kReplyError) && re == kHistoryId) {
      if (k == Chat::Kind::kReplyError) {
        history_ = "error:" + std::string(StrField(line, "\"code\":\""));
      } else {
        history_ = line.find("\"messages\":[{") != std::string_view::npos ? "ok" : "empty";
      }
    }
  }
  void OnLive(Conn& c, int64_t) override {
    const Conn& partner = *loop_->conns()[c.index ^ 1u];
    chats_[c.index] = std::make_unique<Chat>(c, false, partner.user, 0, o_.window, o_.text_bytes);
  }
  void OnFrameDone(Conn& c, int64_t now) override {
    if (chats_[c.index]) acks_->OnFrame(*loop_, c, *chats_[c.index], now);
  }
  void OnFailed(Conn& c, int64_t) override {
    if (c.t_live != 0) ++lost_;
  }
  void OnTurn(int64_t now) override {
    acks_->OnTurn(*loop_, now);
    if (sending_) SendDue(now);
  }
  int64_t NextWake(int64_t) override {
    int64_t ack = acks_->NextWake();
    if (!sending_ || rate_ <= 0) return ack;
    int64_t send = step_start_ + static_cast<int64_t>(static_cast<double>(stats_.sent + 1) * 1e9 / rate_);
    return ack < 0 ? send : std::min(ack, send);
  }

 private:
  void SendDue(int64_t now);
  Step RunStep(double rate, int64_t duration_ns, uint64_t limit);
  void Log(const Step& s) const;

  Common& common_;
  Options o_;
  Loop* loop_ = nullptr;
  std::vector<std::unique_ptr<Chat>> chats_;
  std::unique_ptr<AckTimer> acks_;
  ChatStats stats_;
  bool sending_ = false;
  double rate_ = 0;
  uint64_t limit_ = 0;  // stop after this many sends in the step (0: rate * duration)
  int64_t step_start_ = 0;
  uint32_t step_no_ = 0;
  size_t rr_ = 0;
  uint64_t stalls_ = 0;
  uint64_t lost_ = 0;
  std::string history_ = "-";
};

void Pairs::SendDue(int64_t now) {
  uint64_t due = limit_;
  if (rate_ > 0) {
    due = std::min<uint64_t>(limit_, static_cast<uint64_t>(static_cast<double>(now - step_start_) * rate_ / 1e9) + 1);
  }
  auto& conns = loop_->conns();
  size_t n = conns.size(), skipped = 0;
  while (stats_.sent < due && skipped < n) {
    size_t i = rr_;
    rr_ = (rr_ + 1) % n;
    Chat* chat = chats_[i].get();
    if (chat && conns[i]->state == ConnState::kLive && chat->CanSend()) {
      chat->Send(*loop_, *conns[i], now, step_no_, &stats_);
      skipped = 0;
    } else {
      ++skipped;
    }
  }
  if (stats_.sent < due && rate_ > 0) ++stalls_;
}

Step Pairs::RunStep(double rate, int64_t duration_ns, uint64_t limit) {
  Step s;
  s.rate = rate;
  ++step_no_;
  stats_.Reset();
  stalls_ = 0;
  rate_ = rate;
  limit_ = limit ? limit : static_cast<uint64_t>(std::llround(rate * ToSec(duration_ns)));
  s.planned = limit_;
  CpuMeter meter(common_.server_pid);
  meter.Start();
  step_start_ = NowNs();
  sending_ = true;
  int64_t end = std::min(common_.deadline_ns, step_start_ + duration_ns);
  loop_->Run(end, [&] { return lost_ > 0 || (limit && stats_.oks + stats_.errors >= limit); });
  sending_ = false;
  int64_t sent_end = NowNs();
  // Drain: every send answered and every message delivered (or the grace time is over).
  int64_t grace = std::min(common_.deadline_ns, NowNs() + static_cast<int64_t>(o_.grace_s * 1e9));
  loop_->Run(grace, [&] {
    return lost_ > 0 || (stats_.oks + stats_.errors >= stats_.sent && stats_.delivered >= stats_.oks);
  });
  s.server_pct = meter.ServerPct();
  s.client_pct = meter.ClientPct();
  s.stats = stats_;
  s.stalls = stalls_;
  int64_t span = std::max(sent_end, stats_.last_ok_ns) - step_start_;
  s.achieved = span > 0 ? static_cast<double>(stats_.oks) / ToSec(std::max(span, duration_ns)) : 0;
  if (limit) s.achieved = span > 0 ? static_cast<double>(stats_.oks) / ToSec(span) : 0;
  bool complete = lost_ == 0 && stats_.errors == 0 && stats_.sent * 100 >= s.planned * 97 &&
                  stats_.oks == stats_.sent && stats_.delivered >= stats_.oks;
  s.pass = complete && stats_.ok.Percentile(0.99) <= static_cast<int64_t>(o_.p99_ms * 1e6);
  s.p99_only = complete && !s.pass;
  return s;
}

void Pairs::Log(const Step& s) const {
  std::fprintf(stderr,
               "pairs %s step %u: target %.0f/s sent %llu ok %llu err %llu delivered %llu stalls %llu -> %.0f/s "
               "ok p50 %.3f p99 %.3f max %.3f ms, deliver p99 %.3f ms, server cpu %.0f%%, client cpu %.0f%% %s\n",
               common_.label.c_str(), step_no_, s.rate, static_cast<unsigned long long>(s.stats.sent),
               static_cast<unsigned long long>(s.stats.oks), static_cast<unsigned long long>(s.stats.errors),
               static_cast<unsigned long long>(s.stats.delivered), static_cast<unsigned long long>(s.stalls),
               s.achieved, ToMs(s.stats.ok.Percentile(0.5)), ToMs(s.stats.ok.Percentile(0.99)), ToMs(s.stats.ok.max()),
               ToMs(s.stats.deliver.Percentile(0.99)), s.server_pct, s.client_pct,
               o_.fixed || o_.messages > 0 ? ""
               : s.pass                    ? "pass"
                                           : "FAIL");
}

void AddLatency(Report& r, const std::string& prefix, const Histogram& h) {
  r.Ms(prefix + "_p50_ms", h.Percentile(0.5)).Ms(prefix + "_p90_ms", h.Percentile(0.9));
  r.Ms(prefix + "_p99_ms", h.Percentile(0.99)).Ms(prefix + "_p999_ms", h.Percentile(0.999));
  r.Ms(prefix + "_max_ms", h.max());
}

int Pairs::Run() {
  Loop loop(common_.loop, this);
  loop_ = &loop;
  size_t n = o_.pairs * 2;
  chats_.resize(n);
  acks_ = std::make_unique<AckTimer>(o_.ack_ms < 0 ? -1 : o_.ack_ms * kMs, n);
  for (size_t i = 0; i < n; ++i) {
    std::string user = common_.User(i % 2 ? "b" : "a", i / 2);
    loop.Add(user, common_.Token(user), 0, static_cast<uint32_t>(i));
  }
  CpuMeter login_meter(common_.server_pid);
  login_meter.Start();
  loop.Run(common_.deadline_ns, [&] { return loop.settled() >= n; });
  Report r;
  const char* mode = o_.messages > 0 ? "fill" : o_.fixed ? "fixed" : "ramp";
  r.Add("scenario", std::string("pairs")).Add("target", common_.label).Add("mode", std::string(mode));
  r.Add("pairs", static_cast<int64_t>(o_.pairs));
  if (loop.live() < n) {
    r.Add("failures", static_cast<int64_t>(n - loop.live())).Add("why", FailureSummary(loop)).Print();
    return 2;
  }

  std::vector<Step> steps;
  if (o_.messages > 0) {
    steps.push_back(RunStep(0, common_.deadline_ns - NowNs(), static_cast<uint64_t>(o_.messages)));
    Log(steps.back());
  } else if (o_.fixed) {
    steps.push_back(RunStep(o_.rate, static_cast<int64_t>(o_.duration_s * 1e9), 0));
    Log(steps.back());
  } else {
    RateSearch search(o_.rate, o_.factor, o_.min_rate, o_.refine);
    bool retried = false;
    int64_t step_cost = static_cast<int64_t>((o_.step_s + o_.grace_s) * 1e9);
    for (int i = 0; i < o_.max_steps && NowNs() + step_cost < common_.deadline_ns; ++i) {
      steps.push_back(RunStep(search.rate(), static_cast<int64_t>(o_.step_s * 1e9), 0));
      Log(steps.back());
      if (steps.back().p99_only && !retried) {
        // A single descheduling of the server shows in a p99 of a few thousand samples: a step
        // that missed only the latency limit gets a second chance at the same rate.
        retried = true;
        continue;
      }
      retried = false;
      const Step& s = steps.back();
      if (lost_ > 0 || (s.stats.errors > 0 && s.stats.oks == 0)) break;  // broken, or sends unsupported
      if (!search.Next(s.pass)) break;
    }
  }

  // The figure: the best passing step (ramp), or the one step (fixed, fill).
  const Step* best = nullptr;
  for (const Step& s : steps) {
    if (s.pass && (!best || s.achieved > best->achieved)) best = &s;
  }
  bool ramp = !o_.fixed && o_.messages == 0;
  const Step* shown = ramp ? best : (steps.empty() ? nullptr : &steps.back());
  if (ramp && !best && !steps.empty()) shown = &steps.front();

  if (o_.history_check && lost_ == 0) {
    std::string req = R"({"type":"history","id":3,"with":")" + loop.conns()[1]->user + R"(","limit":5})";
    history_ = "timeout";
    loop.SendJson(*loop.conns()[0], req);
    loop.Run(std::min(common_.deadline_ns + 5 * kSec, NowNs() + 5 * kSec), [&] { return history_ != "timeout"; });
  }

  uint64_t errors = 0;
  std::string first_error;
  for (const Step& s : steps) {
    errors += s.stats.errors;
    if (first_error.empty()) first_error = s.stats.first_error;
  }
  if (steps.empty() || (errors > 0 && shown && shown->stats.oks == 0)) {
    r.Add("send", "unsupported:" + (first_error.empty() ? std::string("none") : first_error));
    r.Add("failures", static_cast<int64_t>(lost_)).Print();
    return 3;
  }
  if (ramp) {
    r.Add("max_msgs_per_s", best ? best->achieved : 0.0, 0).Add("p99_limit_ms", o_.p99_ms, 1);
    r.Add("steps", static_cast<int64_t>(steps.size()));
  } else {
    r.Add("rate", o_.messages > 0 ? 0.0 : o_.rate, 0).Add("msgs_per_s", shown->achieved, 0);
    r.Add("sent", static_cast<int64_t>(shown->stats.sent)).Add("oks", static_cast<int64_t>(shown->stats.oks));
  }
  AddLatency(r, "ok", shown->stats.ok);
  AddLatency(r, "deliver", shown->stats.deliver);
  r.Add("server_cpu_pct", shown->server_pct, 0).Add("client_cpu_pct", shown->client_pct, 0);
  if (o_.history_check) r.Add("history", history_);
  r.Add("errors", static_cast<int64_t>(errors));
  if (!first_error.empty()) r.Add("first_error", first_error);
  r.Add("failures", static_cast<int64_t>(lost_));
  if (lost_ > 0) r.Add("why", FailureSummary(loop));
  r.Print();
  return lost_ == 0 ? 0 : 2;
}

}  // namespace

int RunPairs(const Args& args) {
  Common common;
  std::string error;
  if (!ParseCommon(args, &common, &error)) {
    std::fprintf(stderr, "pairs: %s\n", error.c_str());
    return 1;
  }
  Pairs::Options o;
  o.pairs = static_cast<size_t>(args.Int("pairs", 100));
  o.rate = args.Num("rate", o.rate);
  o.factor = args.Num("factor", o.factor);
  o.step_s = args.Num("step", o.step_s);
  o.grace_s = args.Num("grace", o.grace_s);
  o.max_steps = static_cast<int>(args.Int("max-steps", o.max_steps));
  o.refine = static_cast<int>(args.Int("refine", o.refine));
  o.p99_ms = args.Num("p99-ms", o.p99_ms);
  o.min_rate = args.Num("min-rate", o.min_rate);
  o.fixed = args.Flag("fixed");
  o.duration_s = args.Num("duration", o.duration_s);
  o.messages = args.Int("messages", 0);
  o.window = static_cast<size_t>(args.Int("window", static_cast<int64_t>(o.window)));
  o.text_bytes = static_cast<size_t>(args.Int("text-bytes", static_cast<int64_t>(o.text_bytes)));
  o.history_check = args.Flag("history-check");
  o.ack_ms = args.Int("ack-ms", o.ack_ms);
  if (!CheckArgs(args)) return 1;
  if (o.pairs == 0 || o.factor <= 1 || o.rate < 0) {
    std::fprintf(stderr, "pairs: --pairs must be > 0, --factor > 1, --rate >= 0\n");
    return 1;
  }
  Pairs p(common, o);
  return p.Run();
}

}  // namespace chatd::bench
