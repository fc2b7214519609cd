// SPDX-License-Identifier: MIT
//
// Scenario "presence": a reconnect storm. --conns users (each its own user, connection i in room
// <room>-<i / room-size>, as in "idle") log in and are held; once the setup's member and presence
// events have stopped (no line for --quiet-ms), --storm of them, spread evenly over the rooms
// (every conns/storm-th user), are disconnected at once and come back, twice:
//
//   A  "within the grace": closed and at once reconnected and logged in again (all connects
//      started together, --max-connecting in flight). The server should announce nothing: the
//      phase lasts at least --watch seconds after the first close (default 6, longer than chatd's
//      5 s --presence-grace-ms) so that a late "offline" would still be counted.
//   B  "away longer than the grace": closed, --away seconds (default 7) later reconnected. The
//      members who stayed should get one "offline" per returning user once the grace is over and
//      one "online" when it is back: storm x (members of its room that stayed) of each.
//
// Figures per phase: time to have all of them live again (A: from the first close; B: from the
// reconnect), their connect->live p99, the presence events received by the connections that
// stayed (`{"type":"presence",…,"online":true|false}`, counted apart) and their rate (first to
// last event of the kind), and the server's CPU from /proc/<pid>/stat:
//   - max: the most of any --sample-ms (100) window over the whole phase, % of one core, read by
//     a thread of its own (the loop may be busy exactly when the server is). The 10 ms tick of
//     /proc makes a 100 ms window +-10 %.
//   - avg: over the busy part, from the reconnect (A: the first close) to the last line that
//     the returning logins caused (busy_ms, at least one sample period); the quiet time after
//     it is not counted.
//   - s: CPU seconds over the whole phase: A from the first close until --watch passed and the
//     lines stopped; B from the close, through the away time and the grace expiry (when the
//     offline events go out), until the returning logins' lines stopped.
// Failures: failed connects and logins, and every connection the server closed; must be 0. A
// server without presence (the reference peer) simply shows 0 events.
//
//   --conns N        connections (default 10000; one process: 20,000 open files is the cap)
//   --storm K        connections that reconnect (default 1000)
//   --room NAME      room prefix (default "presence")
//   --room-size K    members per room (default 100)
//   --away S         phase B: seconds between the close and the reconnect (default 7)
//   --watch S        phase A lasts at least S seconds after the first close (default 6)
//   --quiet-ms MS    "the events have stopped": no line for MS (default 300)
//   --sample-ms MS   CPU sampling period (default 100)
#include <errno.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "clock.h"
#include "common.h"
#include "histogram.h"
#include "line_scan.h"
#include "proc_stat.h"
#include "scenarios.h"

namespace chatd::bench {

namespace {

constexpr int64_t kJoinId = 2;
constexpr uint32_t kSetup = 0;      // logged in during the setup (and joins its room)
constexpr uint32_t kReturning = 1;  // a storm connection logging in again

// The server's CPU, read every `period` by a thread of its own (the loop may be busy with a
// burst exactly when the server is). Start() and Stop() from the loop's thread; the figures after
// Stop(). The windows are kept (preallocated) for the per-phase profile on stderr.
class CpuSampler {
 public:
  CpuSampler(pid_t pid, int64_t period_ns) : pid_(pid), period_(period_ns) { pct_.reserve(8192); }
  ~CpuSampler() { Stop(); }

  void Start() {
    Stop();
    pct_.clear();
    max_pct_ = -1;
    wall0_ = NowNs();
    cpu0_ = ProcessCpuNs(pid_);
    cpu1_ = cpu0_;
    wall1_ = wall0_;
    if (cpu0_ < 0) return;
    stop_.store(false);
    thread_ = std::thread([this] { Sample(); });
  }
  void Stop() {
    if (!thread_.joinable()) return;
    stop_.store(true);
    thread_.join();
    wall1_ = NowNs();
    int64_t cpu = ProcessCpuNs(pid_);
    if (cpu >= 0) cpu1_ = cpu;
  }

  bool ok() const { return cpu0_ >= 0; }
  double Sec() const { return ok() ? ToSec(cpu1_ - cpu0_) : -1; }
  double MaxPct() const { return ok() ? max_pct_ : -1; }
  const std::vector<float>& windows() const { return pct_; }

 private:
  void Sample() {
    int64_t prev_t = wall0_, prev_cpu = cpu0_;
    int64_t next = wall0_ + period_;
    while (!stop_.load()) {
      // Short sleeps, so that Stop() is not kept waiting a whole period.
      int64_t now = NowNs();
      if (now < next) {
        int64_t nap = std::min<int64_t>(next - now, 10 * kMs);
        timespec ts{static_cast<time_t>(nap / kSec), static_cast<long>(nap % kSec)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
        continue;
      }
      int64_t cpu = ProcessCpuNs(pid_);
      int64_t t = NowNs();
      if (cpu < 0) return;  // the server is gone; the loop will see that
      double pct = 100.0 * static_cast<double>(cpu - prev_cpu) / static_cast<double>(std::max<int64_t>(1, t - prev_t));
      max_pct_ = std::max(max_pct_, pct);
      if (pct_.size() < pct_.capacity()) pct_.push_back(static_cast<float>(pct));
      prev_t = t;
      prev_cpu = cpu;
      next += period_;
      if (next < t) next = t + period_;  // descheduled for a while: no burst of catch-up samples
    }
  }

  pid_t pid_;
  int64_t period_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::vector<float> pct_;
  double max_pct_ = -1;
  int64_t wall0_ = 0, wall1_ = 0, cpu0_ = -1, cpu1_ = -1;
};

// What one phase saw.
struct Phase {
  uint64_t back = 0;          // storm connections live again
  uint64_t login_failed = 0;  // storm connections that failed before "live"
  int64_t last_live_ns = 0;
  Histogram login;  // connect() -> live of the returning connections
  // Presence events received by the connections that stayed, and by the returning ones.
  uint64_t online = 0, offline = 0, own = 0;
  int64_t first_on = 0, last_on = 0, first_off = 0, last_off = 0;
  int64_t relogin_ns = 0;
  int64_t busy_ns = 0;  // from the reconnect (A: the close) to the last line it caused
  int64_t wall_ns = 0;
  double cpu_s = -1, cpu_max_pct = -1, cpu_avg_pct = -1;
  double client_cpu_s = 0;
};

double PerSec(uint64_t n, int64_t first, int64_t last) {
  if (n < 2 || last <= first) return 0;
  return static_cast<double>(n) / ToSec(last - first);
}

class Presence : public Handler {
 public:
  struct Options {
    size_t conns = 10000;
    size_t storm = 1000;
    std::string room = "presence";
    size_t room_size = 100;
    double away_s = 7;
    double watch_s = 6;
    int64_t quiet_ms = 300;
    int64_t sample_ms = 100;
  };

  Presence(Common& common, Options o) : common_(common), o_(std::move(o)) {}
  int Run();

  void OnLine(Conn& c, std::string_view line, std::string_view type, int64_t now) override {
    last_line_ns_ = now;
    if (type == "presence") {
      size_t p = After(line, "\"online\":");
      bool online = p != std::string_view::npos && p < line.size() && line[p] == 't';
      if (in_storm_[c.index]) {
        ++ph_.own;
      } else if (online) {
        if (ph_.online++ == 0) ph_.first_on = now;
        ph_.last_on = now;
      } else {
        if (ph_.offline++ == 0) ph_.first_off = now;
        ph_.last_off = now;
      }
      return;
    }
    if (c.role == kSetup) join_.OnLine(line, type);
  }
  void OnLive(Conn& c, int64_t now) override {
    last_line_ns_ = now;
    if (c.role == kReturning) {  // membership is the user's: nothing to join again
      ++ph_.back;
      ph_.last_live_ns = now;
      ph_.login.Record(now - c.t_start);
      return;
    }
    ++went_live_;
    loop_->SendJson(c, join_prefix_ + std::to_string(c.index / o_.room_size) + "\"}");
  }
  void OnFailed(Conn& c, int64_t) override {
    if (c.t_live != 0) {
      ++lost_;
    } else if (c.role == kReturning) {
      ++ph_.login_failed;
    }
  }

 private:
  bool Quiet() const { return NowNs() - last_line_ns_ > o_.quiet_ms * kMs; }
  // Closes the storm, waits `away_s`, brings it back; the phase ends once `min_s` passed since
  // the close and the lines stopped. False on the time limit.
  bool RunPhase(const char* name, double away_s, double min_s, Phase* out);

  Common& common_;
  Options o_;
  Loop* loop_ = nullptr;
  std::string join_prefix_;
  std::vector<std::string> users_;
  std::vector<std::string> tokens_;
  std::vector<Conn*> conn_;       // the current connection of user i
  std::vector<uint8_t> in_storm_;  // by user index
  std::vector<uint32_t> storm_;    // the users that reconnect
  Phase ph_;
  CpuSampler* sampler_ = nullptr;
  int64_t last_line_ns_ = 0;
  uint64_t went_live_ = 0;
  JoinAnswers join_{kJoinId};
  uint64_t lost_ = 0;
};

bool Presence::RunPhase(const char* name, double away_s, double min_s, Phase* out) {
  Loop& loop = *loop_;
  uint64_t storm = storm_.size();
  // Tokens are signed before the clock starts: a returning client has its token already.
  for (uint32_t i : storm_) tokens_[i] = common_.Token(users_[i]);
  ph_ = Phase();
  int64_t client0 = SelfCpuNs();
  sampler_->Start();
  int64_t t0 = NowNs();
  int64_t cpu0 = ProcessCpuNs(common_.server_pid);
  for (uint32_t i : storm_) loop.Close(*conn_[i]);
  std::fprintf(stderr, "presence %s %s: closed %llu connections\n", common_.label.c_str(), name,
               static_cast<unsigned long long>(storm));
  bool in_time = true;
  if (away_s > 0) {
    int64_t until = t0 + static_cast<int64_t>(away_s * 1e9);
    in_time = loop.Run(std::min(common_.deadline_ns, until), [&] { return NowNs() >= until; });
    std::fprintf(stderr, "presence %s %s: away %.1f s: %llu offline events to those who stayed\n",
                 common_.label.c_str(), name, away_s, static_cast<unsigned long long>(ph_.offline));
  }
  int64_t t1 = NowNs();
  int64_t cpu1 = away_s > 0 ? ProcessCpuNs(common_.server_pid) : cpu0;
  for (uint32_t i : storm_) conn_[i] = loop.Add(users_[i], tokens_[i], kReturning, i);
  in_time = in_time && loop.Run(common_.deadline_ns, [&] { return ph_.back + ph_.login_failed >= storm; });
  int64_t from = away_s > 0 ? t1 : t0;
  ph_.relogin_ns = ph_.last_live_ns > 0 ? ph_.last_live_ns - from : 0;
  // The busy part: from the reconnect until the lines it caused stopped (the quiet time after
  // the last line is not counted in the average).
  in_time = in_time && loop.Run(common_.deadline_ns, [&] { return Quiet(); });
  int64_t cpu2 = ProcessCpuNs(common_.server_pid);
  ph_.busy_ns = std::max(last_line_ns_, ph_.last_live_ns) - from;
  if (cpu1 >= 0 && cpu2 >= 0 && ph_.busy_ns > 0) {
    // Not over less than one sample period: CPU time comes in 10 ms ticks.
    int64_t span = std::max(ph_.busy_ns, o_.sample_ms * kMs);
    ph_.cpu_avg_pct = 100.0 * static_cast<double>(cpu2 - cpu1) / static_cast<double>(span);
  }
  int64_t min_end = t0 + static_cast<int64_t>(min_s * 1e9);
  in_time = in_time && loop.Run(common_.deadline_ns, [&] { return NowNs() >= min_end && Quiet(); });
  sampler_->Stop();
  ph_.wall_ns = NowNs() - t0;
  ph_.cpu_s = sampler_->Sec();
  ph_.cpu_max_pct = sampler_->MaxPct();
  ph_.client_cpu_s = ToSec(SelfCpuNs() - client0);
  *out = ph_;
  std::fprintf(stderr,
               "presence %s %s: %llu of %llu back in %.0f ms (connect->live p99 %.1f ms), %llu failed; presence "
               "events to those who stayed: %llu offline, %llu online; to the returning: %llu; server cpu %.2f s "
               "in %.1f s, max %.0f%%, avg %.0f%% over the %.0f ms until the lines stopped; client cpu %.2f s\n",
               common_.label.c_str(), name, static_cast<unsigned long long>(ph_.back),
               static_cast<unsigned long long>(storm), ToMs(ph_.relogin_ns), ToMs(ph_.login.Percentile(0.99)),
               static_cast<unsigned long long>(ph_.login_failed), static_cast<unsigned long long>(ph_.offline),
               static_cast<unsigned long long>(ph_.online), static_cast<unsigned long long>(ph_.own), ph_.cpu_s,
               ToSec(ph_.wall_ns), ph_.cpu_max_pct, ph_.cpu_avg_pct, ToMs(ph_.busy_ns), ph_.client_cpu_s);
  if (!sampler_->windows().empty()) {
    std::string profile;
    char buf[16];
    for (float pct : sampler_->windows()) {
      std::snprintf(buf, sizeof buf, " %.0f", static_cast<double>(pct));
      profile += buf;
    }
    std::fprintf(stderr, "presence %s %s: server cpu %% per %lld ms:%s\n", common_.label.c_str(), name,
                 static_cast<long long>(o_.sample_ms), profile.c_str());
  }
  return in_time;
}

int Presence::Run() {
  Loop loop(common_.loop, this);
  loop_ = &loop;
  join_prefix_ = R"({"type":"join","id":2,"room":")" + o_.room + "-";
  size_t n = o_.conns;
  users_.resize(n);
  tokens_.resize(n);
  conn_.resize(n);
  in_storm_.assign(n, 0);
  for (size_t k = 0; k < o_.storm; ++k) {
    auto i = static_cast<uint32_t>(k * n / o_.storm);
    storm_.push_back(i);
    in_storm_[i] = 1;
  }
  // Expected per kind in B: for each returning user, the members of its room who stayed.
  size_t rooms = (n + o_.room_size - 1) / o_.room_size;
  std::vector<uint64_t> storm_in_room(rooms, 0);
  for (uint32_t i : storm_) ++storm_in_room[i / o_.room_size];
  uint64_t expected = 0;
  for (size_t r = 0; r < rooms; ++r) {
    uint64_t size = std::min(o_.room_size, n - r * o_.room_size);
    expected += storm_in_room[r] * (size - storm_in_room[r]);
  }
  CpuSampler sampler(common_.server_pid, o_.sample_ms * kMs);
  sampler_ = &sampler;

  for (size_t i = 0; i < n; ++i) {
    users_[i] = common_.User("u", i);
    conn_[i] = loop.Add(users_[i], common_.Token(users_[i]), kSetup, static_cast<uint32_t>(i));
  }
  int64_t t_setup = NowNs();
  bool in_time = loop.Run(common_.deadline_ns, [&] {
    return loop.settled() >= n && join_.answered() + lost_ >= went_live_;
  });
  // Logging in 10,000 members of rooms of 100 makes the server announce them to each other:
  // wait until that is over.
  in_time = in_time && loop.Run(common_.deadline_ns, [&] { return Quiet(); });
  double setup_s = ToSec(NowNs() - t_setup);
  std::fprintf(stderr, "presence %s setup: %zu live, %zu failed, %llu joined in %.1f s (events included)\n",
               common_.label.c_str(), loop.live(), loop.failed(), static_cast<unsigned long long>(join_.joined), setup_s);

  Report r;
  r.Add("scenario", std::string("presence")).Add("target", common_.label).Add("conns", static_cast<int64_t>(n));
  r.Add("storm", static_cast<int64_t>(o_.storm)).Add("rooms", static_cast<int64_t>(rooms));
  r.Add("room_size", static_cast<int64_t>(o_.room_size));
  if (!in_time || loop.live() < n) {
    r.Add("live", static_cast<int64_t>(loop.live()));
    r.Add("failures", static_cast<int64_t>(n - loop.live()));
    std::string why = FailureSummary(loop);
    r.Add("why", why.empty() ? std::string("time_limit") : why).Print();
    return 2;
  }
  if (join_.errors > 0) {
    r.Add("room", "unsupported:" + join_.first_error).Print();
    return 3;
  }
  r.Add("setup_s", setup_s, 1);

  Phase a, b;
  int64_t phase_cost = static_cast<int64_t>((std::max(o_.watch_s, o_.away_s) + 5) * 1e9);
  bool ran_a = false, ran_b = false;
  if (NowNs() + phase_cost < common_.deadline_ns) {
    ran_a = true;
    in_time = RunPhase("A (within the grace)", 0, o_.watch_s, &a);
  }
  if (in_time && ran_a && lost_ == 0 && NowNs() + phase_cost < common_.deadline_ns) {
    ran_b = true;
    in_time = RunPhase("B (away)", o_.away_s, 0, &b);
  }
  uint64_t failures = loop.failed();
  if (!ran_a || !ran_b || !in_time) ++failures;

  if (ran_a) {
    r.Ms("a_relogin_ms", a.relogin_ns).Ms("a_login_p99_ms", a.login.Percentile(0.99));
    r.Add("a_presence_events", static_cast<int64_t>(a.online + a.offline));
    r.Add("a_busy_ms", ToMs(a.busy_ns), 0).Add("a_server_cpu_max_pct", a.cpu_max_pct, 0).Add("a_server_cpu_avg_pct", a.cpu_avg_pct, 0);
    r.Add("a_server_cpu_s", a.cpu_s, 2).Add("a_client_cpu_s", a.client_cpu_s, 2).Add("a_wall_s", ToSec(a.wall_ns), 1);
  }
  if (ran_b) {
    r.Ms("b_relogin_ms", b.relogin_ns).Ms("b_login_p99_ms", b.login.Percentile(0.99));
    r.Add("b_offline_events", static_cast<int64_t>(b.offline)).Add("b_online_events", static_cast<int64_t>(b.online));
    r.Add("b_expected_events", static_cast<int64_t>(expected));
    r.Add("presence", std::string(b.online + b.offline + b.own > 0 ? "announced" : "none"));
    r.Add("b_offline_per_s", PerSec(b.offline, b.first_off, b.last_off), 0);
    r.Add("b_online_per_s", PerSec(b.online, b.first_on, b.last_on), 0);
    r.Add("b_busy_ms", ToMs(b.busy_ns), 0).Add("b_server_cpu_max_pct", b.cpu_max_pct, 0).Add("b_server_cpu_avg_pct", b.cpu_avg_pct, 0);
    r.Add("b_server_cpu_s", b.cpu_s, 2).Add("b_client_cpu_s", b.client_cpu_s, 2).Add("b_wall_s", ToSec(b.wall_ns), 1);
  }
  r.Add("failures", static_cast<int64_t>(failures));
  if (failures > 0) {
    std::string why = FailureSummary(loop);
    r.Add("why", !why.empty() ? why : lost_ ? std::string("closed_by_the_server") : std::string("time_limit"));
  }
  r.Print();
  return failures == 0 ? 0 : 2;
}

}  // namespace

int RunPresence(const Args& args) {
  Common common;
  std::string error;
  if (!ParseCommon(args, &common, &error)) {
    std::fprintf(stderr, "presence: %s\n", error.c_str());
    return 1;
  }
  Presence::Options o;
  o.conns = static_cast<size_t>(args.Int("conns", static_cast<int64_t>(o.conns)));
  o.storm = static_cast<size_t>(args.Int("storm", static_cast<int64_t>(o.storm)));
  o.room = args.Str("room", o.room);
  o.room_size = static_cast<size_t>(args.Int("room-size", static_cast<int64_t>(o.room_size)));
  o.away_s = args.Num("away", o.away_s);
  o.watch_s = args.Num("watch", o.watch_s);
  o.quiet_ms = args.Int("quiet-ms", o.quiet_ms);
  o.sample_ms = args.Int("sample-ms", o.sample_ms);
  if (!CheckArgs(args)) return 1;
  if (o.conns == 0 || o.conns > 19000 || o.storm == 0 || o.storm > o.conns || o.room_size == 0 || o.room.empty() ||
      o.away_s < 0 || o.watch_s < 0 || o.quiet_ms <= 0 || o.sample_ms <= 0) {
    std::fprintf(stderr,
                 "presence: need 0 < --storm <= --conns <= 19000, --room-size > 0, a --room, --away and --watch >= 0, "
                 "--quiet-ms and --sample-ms > 0\n");
    return 1;
  }
  Presence p(common, o);
  return p.Run();
}

}  // namespace chatd::bench
