// SPDX-License-Identifier: MIT
#include "auth/hash_pool.h"

namespace chatd::auth {

HashPool::HashPool(util::CompletionQueue* completions, int threads, size_t max_queued)
    : completions_(completions), max_queued_(max_queued) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

HashPool::~HashPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

bool HashPool::Submit(std::function<void()> work, std::function<void()> done) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= max_queued_) return false;
    queue_.push_back(Job{std::move(work), std::move(done)});
    pending_.fetch_add(1, std::memory_order_acq_rel);
  }
  cv_.notify_one();
  return true;
}

void HashPool::Run() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and nothing left
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job.work();
    completions_->Post(std::move(job.done));
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace chatd::auth
