// SPDX-License-Identifier: MIT
//
// What every scenario of the load generator shares: the options that say where the server is and
// how to log in, the HS256 token for a user, and the whole-run time limit.
//
//   --target ws://127.0.0.1:PORT/ws   the server (required)
//   --secret S                        the server's --site-secret (or $CHATD_BENCH_SECRET)
//   --server-pid PID                  for the server's CPU time and RSS (optional)
//   --label NAME                      printed as target=NAME (default: chatd)
//   --prefix P                        user names are P + role + number (default: b)
//   --sources N                       spread over 127.0.0.2 .. 127.0.0.(N+1) (default 8; 0 = off)
//   --max-connecting N                connects + logins in flight (default 256)
//   --time-limit S                    the scenario gives up after S seconds (default 120)
//   --socketio 1                      log in over /socket.io/ (Engine.IO 4, WebSocket) instead of /ws
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "args.h"
#include "client.h"

namespace chatd::bench {

struct Common {
  LoopOptions loop;
  std::string secret;
  pid_t server_pid = 0;
  std::string label = "chatd";
  std::string prefix = "b";
  int64_t start_ns = 0;
  int64_t deadline_ns = 0;  // absolute, CLOCK_MONOTONIC

  std::string Token(const std::string& user) const;
  std::string User(const char* role, size_t n) const { return prefix + role + std::to_string(n); }
};

// Reads the shared options. False (with *error set) when one is missing or wrong.
bool ParseCommon(const Args& args, Common* out, std::string* error);

// The first line of a failure report, and the most common reason among failed connections.
std::string FailureSummary(Loop& loop);

// The ramp of the rate-finding scenarios: up by `factor` while steps pass; down by it while they
// fail (until one passes, or the rate is below `min_rate`); then `refine` bisection steps between
// the best pass and the lowest failure.
class RateSearch {
 public:
  RateSearch(double start, double factor, double min_rate, int refine)
      : rate_(start), factor_(factor), min_rate_(min_rate), refine_(refine) {}
  double rate() const { return rate_; }
  // Records whether the step at rate() passed and picks the next rate; false when done.
  bool Next(bool passed);

 private:
  double rate_, factor_, min_rate_;
  int refine_;
  double lo_ = 0, hi_ = 0;  // best pass, lowest failure (0: none yet)
};

// Counts the answers to the `join` a scenario sends after each login (request id `id`): ok,
// error, and the first error's code (a server that has no rooms says so once, not N times).
struct JoinAnswers {
  explicit JoinAnswers(int64_t join_id) : id(join_id) {}

  int64_t id;
  uint64_t joined = 0;
  uint64_t errors = 0;
  std::string first_error;

  void Reset() {
    joined = errors = 0;
    first_error.clear();
  }
  uint64_t answered() const { return joined + errors; }
  // Looks at one line from the server; false if it is not an answer to the join.
  bool OnLine(std::string_view line, std::string_view type);
};

}  // namespace chatd::bench
