// SPDX-License-Identifier: MIT
//
// util::CompletionQueue: how worker threads (storage, password hashing) hand results back to the
// network thread. Any thread may Post(); Post() calls the wake function (in the server:
// lws_cancel_service) when the queue goes from empty to non-empty. Only the owning (network)
// thread calls Drain(), which runs the queued closures in the order they were posted.
#pragma once

#include <functional>
#include <mutex>
#include <utility>
#include <vector>

namespace chatd::util {

class CompletionQueue {
 public:
  using Fn = std::function<void()>;

  // `wake` may be empty (tests drain by hand). It is called without the lock held.
  explicit CompletionQueue(Fn wake = {}) : wake_(std::move(wake)) {}

  void SetWake(Fn wake) {
    std::lock_guard lock(mu_);
    wake_ = std::move(wake);
  }

  void Post(Fn fn) {
    Fn wake;
    {
      std::lock_guard lock(mu_);
      bool was_empty = pending_.empty();
      pending_.push_back(std::move(fn));
      if (was_empty) wake = wake_;
    }
    if (wake) wake();
  }

  // Runs everything posted so far (and anything those closures post, on the next call).
  // Returns the number of closures run.
  size_t Drain() {
    {
      std::lock_guard lock(mu_);
      running_.swap(pending_);
    }
    size_t n = running_.size();
    for (auto& fn : running_) fn();
    running_.clear();
    return n;
  }

  bool Empty() const {
    std::lock_guard lock(mu_);
    return pending_.empty();
  }

 private:
  mutable std::mutex mu_;
  std::vector<Fn> pending_;
  std::vector<Fn> running_;  // only touched by the draining thread
  Fn wake_;
};

}  // namespace chatd::util
