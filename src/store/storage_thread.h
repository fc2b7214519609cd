// SPDX-License-Identifier: MIT
//
// store::StorageThread: the one thread that owns the Engine. It takes every job waiting, runs
// them as ONE batch (one SQLite transaction, one RocksDB WriteBatch: group commit), then posts a
// single closure to the CompletionQueue that runs each job's `done` with the commit status.
// Before each batch it checks free space on the data dir against the floor and tells the
// Engine, so sends are refused with storage_full instead of failing half-way. Once a minute,
// when it has a moment, it runs the Engine's maintenance (history retention, expired sessions),
// and while the history cache is untrusted it retries its recovery every `recovery_every`.
// Submit()/Pending() are thread-safe. Stop() finishes every queued job, then joins. Posted
// completions do not refer to this object: they may be drained after it is destroyed.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/storage.h"
#include "util/completion_queue.h"

namespace chatd::store {

class StorageThread final : public Storage {
 public:
  struct Options {
    std::string free_space_path;   // statvfs() this path before each batch
    int64_t min_free_bytes = 0;    // below it the Engine refuses new data
    size_t max_batch = 4096;       // jobs per transaction at most
    std::chrono::milliseconds recovery_every{2000};  // retry an untrusted history cache this often
  };
  // `*engine` and `*completions` must outlive this object (Stop() before destroying them).
  StorageThread(Engine* engine, util::CompletionQueue* completions, Options options);
  ~StorageThread() override;

  void Submit(Run run, Done done) override;
  size_t Pending() const override { return pending_->load(std::memory_order_relaxed); }
  void Stop();

  // Figures for /metrics and benchmarks.
  uint64_t batches() const { return batches_.load(std::memory_order_relaxed); }
  uint64_t jobs() const { return jobs_.load(std::memory_order_relaxed); }

 private:
  struct Job {
    Run run;
    Done done;
  };
  void Loop();
  void RunBatch(std::vector<Job>* jobs, bool fold);
  void FoldPool();

  Engine* engine_;
  util::CompletionQueue* completions_;
  Options options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Job> queue_;
  bool stopping_ = false;
  // Shared with the completions it posts, which may run after this object is gone.
  std::shared_ptr<std::atomic<size_t>> pending_ = std::make_shared<std::atomic<size_t>>(0);
  std::atomic<uint64_t> batches_{0}, jobs_{0};
  uint64_t failed_batches_ = 0;  // in a row; storage thread only
  uint64_t fold_failures_ = 0;   // in a row; storage thread only
  std::thread thread_;
};

// Runs every job submitted so far as one batch on the caller's thread when asked: for tests,
// which then drain the CompletionQueue themselves.
class InlineStorage final : public Storage {
 public:
  InlineStorage(Engine* engine, util::CompletionQueue* completions) : engine_(engine), completions_(completions) {}
  void Submit(Run run, Done done) override;
  size_t Pending() const override { return jobs_.size(); }
  // Runs the waiting jobs (and any they submit) as batches; posts their completions.
  void RunPending();
  // Points the storage at another engine (tests that reopen their files).
  void set_engine(Engine* engine) { engine_ = engine; }

 private:
  struct Job {
    Run run;
    Done done;
  };
  Engine* engine_;
  util::CompletionQueue* completions_;
  std::vector<Job> jobs_;
};

}  // namespace chatd::store
