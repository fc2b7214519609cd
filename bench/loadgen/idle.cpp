// SPDX-License-Identifier: MIT
//
// Scenario "idle": N connections log in (each is its own user, so each is in the presence map),
// join a room, and are held. Figures: the server's RSS before and after, per connection;
// connects + logins per second; login latency; failures.
//
// Users are created by their first login, and the server's one-time costs of that (database
// pages, caches) are not per connection. bench/idle therefore runs this twice: once to create
// the users and rooms, then against a restarted server on the same data, which is the pass whose
// RSS delta is reported. (Reconnecting to the same server process would not do: memory freed by
// the first connections stays in the process and is reused.) --warm-wait S adds an in-process
// first pass and reports its rate as first_logins_per_s, so one server shows first-time and
// returning logins.
//
// N may be larger than one process can hold (20,000 open files is the cap here), so the work is
// split over --procs child processes, each with its share of the connections and source
// addresses. Parent and children share one anonymous mapping: the parent raises `command`
// (1 warm-up, 2 measured pass, 3 release) and each child fills its slot. The parent holds no
// sockets.
//
//   --conns N        connections (default 10000)
//   --procs K        processes (default: 1 per 9,000 connections)
//   --room NAME      connection i joins room NAME-<i / room-size> (default "idle"; "" = none).
//                    An error answer to the join is reported as room=unsupported:<code>, not as
//                    a failure.
//   --room-size K    members per room (default 100). One room for all would measure the
//                    quadratic flood of member/presence events at login instead of the cost of
//                    holding a connection.
//   --warm-wait S    log everyone in and out first, wait S seconds, then measure (default: no)
//   --hold S         seconds to hold after all are in, watching for drops (default 2)
//   --settle S       seconds between the last login and the RSS reading (default 1)
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <new>
#include <thread>

#include "clock.h"
#include "common.h"
#include "histogram.h"
#include "proc_stat.h"
#include "scenarios.h"

namespace chatd::bench {

namespace {

constexpr int kMaxProcs = 16;
constexpr int64_t kJoinId = 2;

struct Pass {
  uint64_t live;
  uint64_t failed;
  uint64_t joined;
  uint64_t join_errors;
  int64_t first_start_ns;
  int64_t last_live_ns;
  int64_t cpu_ns;
  char failure[96];
  char join_error[32];
  Histogram login;  // connect() -> live
};

struct Slot {
  std::atomic<int> state;  // 1 ready, 2 warm-up done, 3 measured pass settled, 4 finished
  Pass warm;
  Pass measured;
  uint64_t dropped;  // lost after login, during the hold
};

struct Shared {
  std::atomic<int> command;
  Slot slots[kMaxProcs];
};

void SleepSec(double s) { std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(s * 1e6))); }

class IdleChild : public Handler {
 public:
  IdleChild(const Common& common, std::string room, size_t room_size)
      : common_(common), room_(std::move(room)), room_size_(room_size) {}

  void OnLine(Conn&, std::string_view line, std::string_view type, int64_t) override { join_.OnLine(line, type); }
  void OnLive(Conn& c, int64_t now) override {
    login_.Record(now - c.t_start);
    last_live_ = now;
    ++went_live_;
    if (room_.empty()) return;
    std::string join = R"({"type":"join","id":2,"room":")" + room_ + "-" + std::to_string(c.index / room_size_) + "\"}";
    loop_->SendJson(c, join);
  }
  void OnFailed(Conn& c, int64_t) override {
    if (c.t_live != 0) ++dropped_;
  }

  void Run(Shared* shared, Slot* slot, size_t first, size_t count, bool warm) {
    std::vector<std::string> tokens;
    for (size_t i = first; i < first + count; ++i) tokens.push_back(common_.Token(common_.User("i", i)));
    slot->state.store(1);
    if (warm) {
      WaitFor(shared, 1, common_.deadline_ns);
      Loop loop(Options(first), this);
      LogIn(loop, first, tokens, &slot->warm);
      slot->state.store(2);
    }  // the loop's destructor disconnects everyone
    WaitFor(shared, 2, common_.deadline_ns);
    Loop loop(Options(first), this);
    LogIn(loop, first, tokens, &slot->measured);
    slot->state.store(3);
    dropped_ = 0;
    // Hold: keep answering pings and notice drops until the parent releases us.
    loop.Run(common_.deadline_ns + 30 * kSec, [&] { return shared->command.load() >= 3; });
    slot->dropped = dropped_;
    slot->state.store(4);
  }

 private:
  LoopOptions Options(size_t first) const {
    LoopOptions lo = common_.loop;
    lo.source_offset = first;
    return lo;
  }

  void WaitFor(Shared* shared, int command, int64_t deadline) {
    while (shared->command.load() < command) {
      if (NowNs() > deadline) _exit(2);
      SleepSec(0.001);
    }
  }

  void LogIn(Loop& loop, size_t first, const std::vector<std::string>& tokens, Pass* out) {
    loop_ = &loop;
    join_.Reset();
    dropped_ = went_live_ = 0;
    last_live_ = 0;
    login_.Reset();
    for (size_t i = 0; i < tokens.size(); ++i) {
      loop.Add(common_.User("i", first + i), tokens[i], 0, static_cast<uint32_t>(first + i));
    }
    int64_t cpu0 = SelfCpuNs();
    out->first_start_ns = NowNs();
    auto settled = [&] {
      if (loop.settled() < tokens.size()) return false;
      return room_.empty() || join_.answered() + dropped_ >= went_live_;
    };
    loop.Run(common_.deadline_ns, settled);
    out->cpu_ns = SelfCpuNs() - cpu0;
    out->live = loop.live();
    out->failed = loop.failed();
    out->joined = join_.joined;
    out->join_errors = join_.errors;
    out->last_live_ns = last_live_;
    out->login = login_;
    std::snprintf(out->failure, sizeof out->failure, "%s", FailureSummary(loop).c_str());
    std::snprintf(out->join_error, sizeof out->join_error, "%s", join_.first_error.c_str());
  }

  const Common& common_;
  std::string room_;
  size_t room_size_;
  Loop* loop_ = nullptr;
  Histogram login_;
  JoinAnswers join_{kJoinId};
  uint64_t dropped_ = 0;
  uint64_t went_live_ = 0;
  int64_t last_live_ = 0;
};

// The passes of all children, added up.
struct Total {
  uint64_t live = 0, failed = 0, joined = 0, join_errors = 0;
  int64_t first_start = INT64_MAX, last_live = 0, cpu = 0;
  Histogram login;
  std::string failure, join_error;

  void Add(const Pass& p) {
    live += p.live;
    failed += p.failed;
    joined += p.joined;
    join_errors += p.join_errors;
    first_start = std::min(first_start, p.first_start_ns);
    last_live = std::max(last_live, p.last_live_ns);
    cpu += p.cpu_ns;
    login.Merge(p.login);
    if (failure.empty()) failure = p.failure;
    if (join_error.empty()) join_error = p.join_error;
  }
  double Rate() const {
    return last_live > first_start ? static_cast<double>(live) / ToSec(last_live - first_start) : 0;
  }
};

}  // namespace

int RunIdle(const Args& args) {
  Common common;
  std::string error;
  if (!ParseCommon(args, &common, &error)) {
    std::fprintf(stderr, "idle: %s\n", error.c_str());
    return 1;
  }
  size_t conns = static_cast<size_t>(args.Int("conns", 10000));
  int procs = static_cast<int>(args.Int("procs", static_cast<int64_t>((conns + 8999) / 9000)));
  std::string room = args.Str("room", "idle");
  size_t room_size = static_cast<size_t>(std::max<int64_t>(1, args.Int("room-size", 100)));
  double warm_wait = args.Num("warm-wait", -1);
  double hold = args.Num("hold", 2);
  double settle = args.Num("settle", 1);
  if (!CheckArgs(args)) return 1;
  procs = std::clamp(procs, 1, kMaxProcs);
  bool warm = warm_wait >= 0;

  void* mem = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    std::perror("mmap");
    return 2;
  }
  auto* shared = new (mem) Shared();
  std::vector<pid_t> kids;
  for (int k = 0; k < procs; ++k) {
    size_t first = conns * static_cast<size_t>(k) / static_cast<size_t>(procs);
    size_t last = conns * static_cast<size_t>(k + 1) / static_cast<size_t>(procs);
    pid_t pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      IdleChild child(common, room, room_size);
      child.Run(shared, &shared->slots[k], first, last - first, warm);
      std::fflush(nullptr);
      _exit(0);
    }
    if (pid < 0) {
      std::perror("fork");
      for (pid_t kid : kids) kill(kid, SIGKILL);
      return 2;
    }
    kids.push_back(pid);
  }
  auto all_at = [&](int state) {
    for (int k = 0; k < procs; ++k) {
      if (shared->slots[k].state.load() < state) return false;
    }
    return true;
  };
  auto wait_all = [&](int state, int64_t deadline) {
    while (!all_at(state) && NowNs() < deadline) SleepSec(0.002);
    return all_at(state);
  };
  bool in_time = wait_all(1, common.deadline_ns);
  int64_t go = NowNs();
  if (warm && in_time) {
    shared->command.store(1);
    in_time = wait_all(2, common.deadline_ns);
    SleepSec(warm_wait);
  }
  int64_t rss0 = ProcessRssBytes(common.server_pid);
  CpuMeter meter(common.server_pid);
  meter.Start();
  if (in_time) {
    shared->command.store(2);
    in_time = wait_all(3, common.deadline_ns);
  }
  double server_cpu = meter.ServerSec();
  SleepSec(settle);
  int64_t rss1 = ProcessRssBytes(common.server_pid);
  SleepSec(hold);
  shared->command.store(3);
  bool finished = wait_all(4, NowNs() + 20 * kSec);
  for (pid_t pid : kids) {
    if (!finished) kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }

  Total first, measured;
  uint64_t dropped = 0;
  for (int k = 0; k < procs; ++k) {
    first.Add(shared->slots[k].warm);
    measured.Add(shared->slots[k].measured);
    dropped += shared->slots[k].dropped;
  }
  munmap(mem, sizeof(Shared));
  uint64_t missing = conns - std::min<uint64_t>(conns, measured.live + measured.failed);
  uint64_t failures = measured.failed + missing + dropped + (warm ? first.failed : 0);

  Report r;
  r.Add("scenario", std::string("idle")).Add("target", common.label).Add("conns", static_cast<int64_t>(conns));
  r.Add("procs", static_cast<int64_t>(procs)).Add("live", static_cast<int64_t>(measured.live));
  r.Add("failures", static_cast<int64_t>(failures));
  if (failures > 0) {
    std::string why = !measured.failure.empty() ? measured.failure : !first.failure.empty() ? first.failure : "";
    r.Add("why", why.empty() ? (dropped ? std::string("dropped_while_held") : std::string("time_limit")) : why);
  }
  if (room.empty()) {
    r.Add("room", std::string("none"));
  } else if (measured.join_errors > 0) {
    r.Add("room", "unsupported:" + measured.join_error);
  } else {
    r.Add("room", std::string("joined")).Add("room_size", static_cast<int64_t>(room_size));
  }
  r.Add("logins_per_s", measured.Rate(), 0);
  r.Ms("login_p50_ms", measured.login.Percentile(0.5)).Ms("login_p99_ms", measured.login.Percentile(0.99));
  r.Ms("login_max_ms", measured.login.max());
  if (warm) r.Add("first_logins_per_s", first.Rate(), 0);
  if (rss0 > 0 && rss1 > 0) {
    r.Add("rss_before_kib", rss0 / 1024).Add("rss_after_kib", rss1 / 1024);
    r.Add("rss_per_conn_bytes",
          measured.live ? static_cast<double>(rss1 - rss0) / static_cast<double>(measured.live) : 0.0, 0);
  }
  r.Add("server_cpu_s", server_cpu, 2).Add("client_cpu_s", ToSec(measured.cpu), 2);
  r.Add("wall_s", ToSec(NowNs() - go), 1);
  r.Print();
  return in_time && failures == 0 ? 0 : 2;
}

}  // namespace chatd::bench
