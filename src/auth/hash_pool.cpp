// SPDX-License-Identifier: MIT
#include "auth/hash_pool.h"

namespace chatd::auth {

HashPool::HashPool(util::CompletionQueue* completions, int threads, size_t max_queued, size_t max_per_lane)
    : completions_(completions), max_queued_(max_queued), max_per_lane_(max_per_lane) {
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

bool HashPool::Submit(std::string_view lane, std::function<void()> work, std::function<void()> done) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queued_ >= max_queued_) return false;
    auto it = lanes_.try_emplace(std::string(lane)).first;
    if (it->second.size() >= max_per_lane_) return false;
    if (it->second.empty()) turns_.push_back(it->first);
    it->second.push_back(Job{std::move(work), std::move(done)});
    ++queued_;
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
      cv_.wait(lock, [this] { return stopping_ || !turns_.empty(); });
      if (turns_.empty()) return;  // stopping and nothing left
      // The lane whose turn it is gives one job, then goes to the back of the line.
      auto lane = lanes_.find(turns_.front());
      turns_.pop_front();
      job = std::move(lane->second.front());
      lane->second.pop_front();
      --queued_;
      if (lane->second.empty()) {
        lanes_.erase(lane);
      } else {
        turns_.push_back(lane->first);
      }
    }
    job.work();
    completions_->Post(std::move(job.done));
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace chatd::auth
