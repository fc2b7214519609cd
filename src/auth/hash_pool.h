// SPDX-License-Identifier: MIT
//
// auth::HashPool: a small fixed set of threads (two by default) that run argon2id hashing and
// verification, so at most that many ~64 MiB hashes run at once and none runs on the network
// thread. Work is queued; the queue is bounded, and Submit() refuses (returns false) when it is
// full so a flood of logins cannot grow memory. Each job's `done` runs on the thread that drains
// the CompletionQueue (the network thread).
// Submit() may be called from any thread. The destructor finishes queued jobs and joins.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "util/completion_queue.h"

namespace chatd::auth {

class HashPool {
 public:
  // `*completions` must outlive this pool.
  HashPool(util::CompletionQueue* completions, int threads = 2, size_t max_queued = 256);
  ~HashPool();
  HashPool(const HashPool&) = delete;
  HashPool& operator=(const HashPool&) = delete;

  // Runs `work` on a pool thread, then posts `done` to the completion queue.
  // Returns false (and runs nothing) when the queue is full or the pool is stopping.
  bool Submit(std::function<void()> work, std::function<void()> done);
  // Jobs queued or running (their `done` may not have been posted yet).
  size_t Pending() const { return pending_.load(std::memory_order_acquire); }

 private:
  struct Job {
    std::function<void()> work, done;
  };
  void Run();

  util::CompletionQueue* completions_;
  size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::atomic<size_t> pending_{0};
  std::vector<std::thread> threads_;
};

}  // namespace chatd::auth
