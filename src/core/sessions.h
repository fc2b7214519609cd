// SPDX-License-Identifier: MIT
//
// core::Sessions: every connection's Session by id, which session token each logged in with
// (so a logout can end them), and the cap on storage requests one session may have waiting.
// A storage callback for a session runs only if the session still exists (Guard): a closed
// connection's answers are dropped, while the writes they answer stay done.
// Network thread only.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/session.h"
#include "store/chat_store.h"

namespace chatd::core {

class Sessions {
 public:
  explicit Sessions(size_t max_inflight) : max_inflight_(max_inflight) {}

  Session& Open(SessionId sid) { return sessions_[sid]; }
  Session* Find(SessionId sid);
  // Forgets the session (and its token).
  void Erase(SessionId sid);
  size_t size() const { return sessions_.size(); }
  template <typename Fn>
  void ForEach(Fn fn) {
    for (auto& [sid, s] : sessions_) fn(sid, s);
  }

  // The session logged in with session token `token_hash`.
  void IndexToken(SessionId sid, Session& s, const std::string& token_hash);
  std::vector<SessionId> WithToken(const std::string& token_hash) const;

  // Counts one storage request against the session's cap; false when it is at the cap.
  bool Admit(Session& s);
  // A callback for an admitted request: it uncounts it, and runs `fn` only if the session
  // still exists.
  template <typename T>
  store::Callback<T> Guard(SessionId sid, std::function<void(Session&, store::Result<T>&&)> fn) {
    return [this, sid, fn = std::move(fn)](store::Result<T>&& r) {
      Session* s = Find(sid);
      if (!s) return;
      --s->inflight;
      fn(*s, std::move(r));
    };
  }
  store::StatusCallback GuardStatus(SessionId sid, std::function<void(Session&, const util::Status&)> fn);

 private:
  size_t max_inflight_;
  std::unordered_map<SessionId, Session> sessions_;
  std::unordered_multimap<std::string, SessionId> by_token_;  // token hash -> sessions logged in with it
};

}  // namespace chatd::core
