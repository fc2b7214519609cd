// SPDX-License-Identifier: MIT
//
// store::BatchError: the first write that failed half-way through an operation in the current
// batch. Operations check what can refuse a request before they write; a write that still
// fails (a full disk) poisons the whole batch: Engine::CommitBatch takes the error, rolls the
// batch back and answers every job in it with it. Storage thread only.
#pragma once

#include "util/status.h"

namespace chatd::store {

class BatchError {
 public:
  // Records `s` (the first one counts) and returns it, for `return errors->Record(s);`.
  util::Status Record(util::Status s) {
    if (error_.ok()) error_ = s;
    return s;
  }
  // The recorded failure, once; OK if none.
  util::Status Take() {
    util::Status s = error_;
    error_ = util::Status::Ok();
    return s;
  }

 private:
  util::Status error_;
};

}  // namespace chatd::store
