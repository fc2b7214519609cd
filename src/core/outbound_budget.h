// SPDX-License-Identifier: MIT
//
// core::OutboundBudget: what the server may hold on one connection's behalf. A history answer
// or catch-up page can be about a MiB; before one is built, its largest possible size is
// reserved against the connection's outbound limit (what is queued plus what is reserved), so
// however many requests a client pipelines, the server holds about its outbound limit for it.
// A request without room waits (ChatService holds it and what follows) until answers have been
// written out. An idle connection may always have one (a tiny limit must not stall it).
// Network thread only.
#pragma once

#include <algorithm>
#include <cstddef>

#include "core/outbox.h"
#include "core/session.h"

namespace chatd::core {

class OutboundBudget {
 public:
  // `page_bytes`: where answers are cut; `max_text`: the largest message text. `*outbox` must
  // outlive this.
  OutboundBudget(const Outbox* outbox, size_t outbound_limit, size_t page_bytes, size_t max_text)
      : outbox_(outbox), limit_(outbound_limit), reserve_(page_bytes + 6 * max_text + 1024) {}

  // What one answer may occupy: the page bound plus one message at its largest encoding
  // (every byte escaped as \u00XX) and the answer's own framing.
  size_t per_answer() const { return reserve_; }

  // Reserves room for one answer if there is any; false: the request must wait.
  bool Reserve(SessionId sid, Session& s) const {
    size_t used = outbox_->Queued(sid) + s.reserved;
    if (used > 0 && used + reserve_ > limit_) return false;
    s.reserved += reserve_;
    return true;
  }
  // Counts one answer whether or not there is room (catch-up is paced by OnDrained instead).
  void Take(Session& s) const { s.reserved += reserve_; }
  // Gives an answer's room back (its bytes are queued now, or it failed).
  void Release(Session& s) const { s.reserved -= std::min(s.reserved, reserve_); }

 private:
  const Outbox* outbox_;
  size_t limit_, reserve_;
};

}  // namespace chatd::core
