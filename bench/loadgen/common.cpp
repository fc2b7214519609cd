// SPDX-License-Identifier: MIT
#include "common.h"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <map>

#include "clock.h"
#include "line_scan.h"
#include "site_token.h"

namespace chatd::bench {

std::string Common::Token(const std::string& user) const {
  return SignSiteToken(user, static_cast<int64_t>(std::time(nullptr)) + 3600, secret);
}

bool ParseCommon(const Args& args, Common* out, std::string* error) {
  std::string target = args.Str("target", "");
  if (target.empty() || !ParseTarget(target, &out->loop)) {
    *error = "--target ws://ADDR:PORT/ws is required";
    return false;
  }
  const char* env = std::getenv("CHATD_BENCH_SECRET");
  out->secret = args.Str("secret", env ? env : "");
  if (out->secret.size() < 32) {
    *error = "--secret (or CHATD_BENCH_SECRET) must be the server's site secret, 32+ characters";
    return false;
  }
  out->server_pid = static_cast<pid_t>(args.Int("server-pid", 0));
  out->label = args.Str("label", "chatd");
  out->prefix = args.Str("prefix", "b");
  int64_t sources = args.Int("sources", 8);
  out->loop.sources = LoopbackSources(static_cast<size_t>(sources < 0 ? 0 : sources));
  out->loop.max_connecting = static_cast<size_t>(args.Int("max-connecting", 256));
  out->loop.socketio = args.Int("socketio", 0) != 0;
  if (out->loop.max_connecting == 0) out->loop.max_connecting = 1;
  out->start_ns = NowNs();
  out->deadline_ns = out->start_ns + static_cast<int64_t>(args.Num("time-limit", 120) * 1e9);
  return true;
}

std::string FailureSummary(Loop& loop) {
  std::map<std::string, size_t> why;
  for (auto& c : loop.conns()) {
    if (!c->failure) continue;
    std::string key = c->failure;
    if (c->error_code[0]) key += std::string(":") + c->error_code;
    if (c->close_code) key += ":" + std::to_string(c->close_code);
    ++why[key];
  }
  std::string top;
  size_t best = 0;
  for (const auto& [k, n] : why) {
    if (n > best) {
      best = n;
      top = k;
    }
  }
  for (char& ch : top) {
    if (ch == ' ') ch = '_';  // the report is space-separated key=value
  }
  return top;
}

bool JoinAnswers::OnLine(std::string_view line, std::string_view type) {
  if (type != "ok" && type != "error") return false;
  int64_t re = 0;
  if (!IntField(line, "\"re\":", &re) || re != id) return false;
  if (type == "ok") {
    ++joined;
  } else {
    ++errors;
    if (first_error.empty()) first_error = std::string(StrField(line, "\"code\":\""));
  }
  return true;
}

bool RateSearch::Next(bool passed) {
  if (passed) {
    lo_ = std::max(lo_, rate_);
  } else {
    hi_ = hi_ == 0 ? rate_ : std::min(hi_, rate_);
  }
  if (hi_ == 0) {
    rate_ *= factor_;
  } else if (lo_ == 0) {
    rate_ /= factor_;
    if (rate_ < min_rate_) return false;
  } else if (refine_-- > 0) {
    rate_ = (lo_ + hi_) / 2;
  } else {
    return false;
  }
  return true;
}

}  // namespace chatd::bench
