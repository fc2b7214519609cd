// SPDX-License-Identifier: MIT
//
// core::Session: what the core knows of one WebSocket connection. Its life:
//   kAwaitHello -> hello -> kAuthenticating -> (checked) -> kLoading (user state for the
//   welcome) -> welcome -> kSyncing (catch-up pages) -> live -> kLive
// A failed hello goes back to kAwaitHello. Lines that arrive while a hello is answered, or
// while a history request waits for outbound budget, wait in `held`, in order. Plain data;
// Sessions owns every Session. Network thread only.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/outbox.h"
#include "store/types.h"

namespace chatd::core {

enum class SessionState { kAwaitHello, kAuthenticating, kLoading, kSyncing, kLive };

struct Session {
  SessionState state = SessionState::kAwaitHello;
  int failed_hellos = 0;
  std::string cookie_token;  // the session cookie of the upgrade, until the hello
  std::string peer;          // the client's address (login throttling)
  std::string token_hash;    // the session token it logged in with, if any (a logout ends it)
  store::UserInfo user;
  std::string device;
  std::string hello_id;      // the hello's id, for the welcome's `re`

  // Lines held behind a hello or a waiting history request (bounded by ChatService).
  std::vector<std::string> held;
  size_t held_bytes = 0;
  bool waiting_budget = false;  // a history request waits for queued/reserved bytes to fall

  size_t inflight = 0;  // storage requests waiting (Sessions::Admit)
  size_t reserved = 0;  // outbound bytes promised to answers being built (OutboundBudget)

  // Catch-up (LoginFlow).
  bool sync_with_cursor = false;
  store::Mid sync_pos = 0;          // the next page starts after this mid
  bool sync_inflight = false;       // a page is being fetched
  bool sync_waiting_drain = false;  // the next page waits for the queue to drain

  bool logged_in() const { return state >= SessionState::kLoading; }
  // Lines from the client wait in `held` while this is true.
  bool holding() const {
    return state == SessionState::kAuthenticating || state == SessionState::kLoading || waiting_budget;
  }
};

}  // namespace chatd::core
