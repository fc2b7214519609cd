// SPDX-License-Identifier: MIT
#include "store/storage_thread.h"

#include <algorithm>
#include <chrono>

#include "store/data_dir.h"
#include "store/engine.h"
#include "util/log.h"

namespace chatd::store {

using util::Status;

namespace {

constexpr auto kMaintenanceEvery = std::chrono::seconds(60);
// The offline pool's tail and marks are folded this long after the first of them waits, or
// as soon as this many wait (docs/storage.md, "The offline pool: appended, then folded"): in
// the next batch's transaction (its commit and fsync are shared), or on their own when no
// batch comes. A fold costs a few µs per row and mark, and the batch that carries it waits for
// it: small, frequent folds keep that wait to a millisecond or two, where a fold of a second's
// traffic (10-20 ms at 8,000 msg/s) showed in the p99 of every request behind it.
constexpr auto kFoldEvery = std::chrono::milliseconds(200);
constexpr size_t kFoldWaiting = 1000;

// Runs one batch of jobs against the engine, after the fold when `fold` (both in the batch's
// transaction: a failed fold fails the batch, as a failed job does), and returns the commit
// status.
template <typename JobT>
Status RunJobs(Engine* engine, std::vector<JobT>* jobs, bool fold) {
  Status s = engine->BeginBatch();
  if (!s.ok()) return s;
  if (fold) (void)engine->FoldPool();  // a failure is recorded in the batch
  for (auto& job : *jobs) job.run(*engine);
  return engine->CommitBatch();
}

}  // namespace

StorageThread::StorageThread(Engine* engine, util::CompletionQueue* completions, Options options)
    : engine_(engine), completions_(completions), options_(std::move(options)) {
  thread_ = std::thread([this] { Loop(); });
}

StorageThread::~StorageThread() { Stop(); }

void StorageThread::Submit(Run run, Done done) {
  pending_->fetch_add(1, std::memory_order_relaxed);
  bool wake;
  {
    std::lock_guard lock(mu_);
    wake = queue_.empty();
    queue_.push_back(Job{std::move(run), std::move(done)});
  }
  if (wake) cv_.notify_one();
}

void StorageThread::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) {
    thread_.join();
    LOG_INFO("storage thread: %llu jobs in %llu batches", static_cast<unsigned long long>(jobs()),
             static_cast<unsigned long long>(batches()));
  }
}

void StorageThread::Loop() {
  auto next_maintenance = std::chrono::steady_clock::now() + kMaintenanceEvery;
  auto next_recovery = std::chrono::steady_clock::time_point::max();
  auto next_fold = std::chrono::steady_clock::time_point::max();
  std::vector<Job> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, std::min({next_maintenance, next_recovery, next_fold}),
                     [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) {
        lock.unlock();
        FoldPool();  // a clean stop leaves nothing for the next start to read back
        return;
      }
      if (queue_.size() <= options_.max_batch) {
        batch.swap(queue_);
      } else {
        auto cut = queue_.begin() + static_cast<std::ptrdiff_t>(options_.max_batch);
        batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(cut));
        queue_.erase(queue_.begin(), cut);
      }
    }
    auto now = std::chrono::steady_clock::now();
    bool fold_due = engine_->pool_waiting() >= kFoldWaiting || now >= next_fold;
    if (!batch.empty()) {
      RunBatch(&batch, fold_due);
    } else if (fold_due) {
      FoldPool();  // no batch to carry it
    }
    now = std::chrono::steady_clock::now();
    if (!engine_->fold_pending()) {
      next_fold = std::chrono::steady_clock::time_point::max();
    } else if (fold_due || next_fold == std::chrono::steady_clock::time_point::max()) {
      next_fold = now + kFoldEvery;
    }
    if (now >= next_maintenance) {
      next_maintenance = now + kMaintenanceEvery;
      Status s = engine_->Maintain();
      if (!s.ok()) LOG_WARN("storage maintenance: %s", s.ToString().c_str());
    }
    // An untrusted history cache (a write or read failed) is retried every few seconds, so it
    // is trusted again soon after the disk has room; history comes from SQLite meanwhile.
    if (!engine_->history_needs_recovery()) {
      next_recovery = std::chrono::steady_clock::time_point::max();
    } else if (next_recovery == std::chrono::steady_clock::time_point::max()) {
      next_recovery = now + options_.recovery_every;
    } else if (now >= next_recovery) {
      (void)engine_->RecoverHistory();
      next_recovery = now + options_.recovery_every;
    }
  }
}

void StorageThread::FoldPool() {
  if (!engine_->fold_pending()) return;
  Status s = engine_->FoldPool();
  // A full disk fails the fold as it fails batches; the next try comes a second later.
  if (!s.ok() && fold_failures_++ == 0) LOG_WARN("folding the offline pool failed: %s (retried)", s.ToString().c_str());
  if (s.ok()) fold_failures_ = 0;
}

void StorageThread::RunBatch(std::vector<Job>* jobs, bool fold) {
  if (!options_.free_space_path.empty()) {
    int64_t free_bytes = FreeBytesAt(options_.free_space_path);
    bool full = free_bytes >= 0 && free_bytes < options_.min_free_bytes;
    if (full != engine_->storage_full()) {
      if (full) {
        LOG_ERR("free space on the data dir is below the floor (%lld bytes left): refusing new messages",
                static_cast<long long>(free_bytes));
      } else {
        LOG_NOTICE("free space on the data dir is back above the floor: accepting messages again");
      }
    }
    engine_->set_storage_full(full);
  }
  Status commit = RunJobs(engine_, jobs, fold && engine_->fold_pending());
  // A full disk fails every batch until space returns: say so once, then once when it is over.
  if (!commit.ok()) {
    if (failed_batches_++ == 0) {
      LOG_ERR("storage batch of %zu jobs failed: %s (further failures are counted, not logged)", jobs->size(),
              commit.ToString().c_str());
    }
  } else if (failed_batches_ > 0) {
    LOG_NOTICE("storage writes succeed again after %llu failed batch(es)",
               static_cast<unsigned long long>(failed_batches_));
    failed_batches_ = 0;
  }
  size_t n = jobs->size();
  batches_.fetch_add(1, std::memory_order_relaxed);
  jobs_.fetch_add(n, std::memory_order_relaxed);
  // One completion for the whole batch: one wake-up of the network thread, not one per job.
  auto dones = std::make_shared<std::vector<Done>>();
  dones->reserve(n);
  for (auto& job : *jobs) dones->push_back(std::move(job.done));
  jobs->clear();
  completions_->Post([pending = pending_, dones, commit, n] {
    for (auto& done : *dones) {
      if (done) done(commit);
    }
    pending->fetch_sub(n, std::memory_order_relaxed);
  });
}

void InlineStorage::Submit(Run run, Done done) { jobs_.push_back(Job{std::move(run), std::move(done)}); }

void InlineStorage::RunPending() {
  while (!jobs_.empty()) {
    std::vector<Job> batch;
    batch.swap(jobs_);
    Status commit = RunJobs(engine_, &batch, false);
    for (auto& job : batch) {
      Done done = std::move(job.done);
      completions_->Post([done, commit] {
        if (done) done(commit);
      });
    }
  }
}

}  // namespace chatd::store
