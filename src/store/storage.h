// SPDX-License-Identifier: MIT
//
// store::Storage: how the network thread gets work done by the Engine without ever waiting on a
// disk. Submit(run, done): `run` executes later on the storage side, inside a batch (one SQLite
// transaction shared with other jobs); `done` then runs on the network thread (through the
// CompletionQueue) with the batch's commit status. A `run` must only touch what it captured by
// value and the Engine it is given; its results travel to `done` through shared state it owns.
//
// Implementations: StorageThread (the server: a thread with group commit) and InlineStorage
// (tests: jobs run when the test calls RunPending(), on the test's thread).
#pragma once

#include <functional>
#include <memory>

#include "util/status.h"

namespace chatd::store {

class Engine;

class Storage {
 public:
  using Run = std::function<void(Engine&)>;
  using Done = std::function<void(const util::Status& commit)>;

  virtual ~Storage() = default;
  virtual void Submit(Run run, Done done) = 0;
  // Jobs submitted and not yet completed (for shutdown and health checks).
  virtual size_t Pending() const = 0;
};

}  // namespace chatd::store
