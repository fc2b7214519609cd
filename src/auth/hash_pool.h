// SPDX-License-Identifier: MIT
//
// auth::HashPool: a small fixed set of threads (two by default) that run argon2id hashing and
// verification, so at most that many ~64 MiB hashes run at once and none runs on the network
// thread. Work is queued in lanes (one per client address): the threads take the lanes in
// turn, one job each, so a flood from one address waits behind itself and never in front of
// anyone else. A lane holds at most `max_per_lane` jobs and the pool `max_queued` in all;
// Submit() refuses (returns false) past either, so a flood cannot grow memory. Each job's
// `done` runs on the thread that drains the CompletionQueue (the network thread).
// Submit() may be called from any thread. The destructor finishes queued jobs and joins.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "util/completion_queue.h"

namespace chatd::auth {

class HashPool {
 public:
  // `*completions` must outlive this pool.
  HashPool(util::CompletionQueue* completions, int threads = 2, size_t max_queued = 256, size_t max_per_lane = 4);
  ~HashPool();
  HashPool(const HashPool&) = delete;
  HashPool& operator=(const HashPool&) = delete;

  // Runs `work` on a pool thread, in its turn among the lanes, then posts `done` to the
  // completion queue. Returns false (and runs nothing) when the lane or the pool is full or
  // the pool is stopping.
  bool Submit(std::string_view lane, std::function<void()> work, std::function<void()> done);
  // Jobs queued or running (their `done` may not have been posted yet).
  size_t Pending() const { return pending_.load(std::memory_order_acquire); }

 private:
  struct Job {
    std::function<void()> work, done;
  };
  void Run();

  util::CompletionQueue* completions_;
  size_t max_queued_, max_per_lane_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, std::deque<Job>> lanes_;
  std::deque<std::string> turns_;  // lanes with jobs, in the order they are served
  size_t queued_ = 0;
  bool stopping_ = false;
  std::atomic<size_t> pending_{0};
  std::vector<std::thread> threads_;
};

}  // namespace chatd::auth
