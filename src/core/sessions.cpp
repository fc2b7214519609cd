// SPDX-License-Identifier: MIT
#include "core/sessions.h"

namespace chatd::core {

Session* Sessions::Find(SessionId sid) {
  auto it = sessions_.find(sid);
  return it == sessions_.end() ? nullptr : &it->second;
}

void Sessions::Erase(SessionId sid) {
  auto it = sessions_.find(sid);
  if (it == sessions_.end()) return;
  if (!it->second.token_hash.empty()) {
    auto range = by_token_.equal_range(it->second.token_hash);
    for (auto t = range.first; t != range.second; ++t) {
      if (t->second == sid) {
        by_token_.erase(t);
        break;
      }
    }
  }
  sessions_.erase(it);
}

void Sessions::IndexToken(SessionId sid, Session& s, const std::string& token_hash) {
  s.token_hash = token_hash;
  by_token_.emplace(token_hash, sid);
}

std::vector<SessionId> Sessions::WithToken(const std::string& token_hash) const {
  std::vector<SessionId> out;
  auto range = by_token_.equal_range(token_hash);
  for (auto t = range.first; t != range.second; ++t) out.push_back(t->second);
  return out;
}

bool Sessions::Admit(Session& s) {
  if (s.inflight >= max_inflight_) return false;
  ++s.inflight;
  return true;
}

store::StatusCallback Sessions::GuardStatus(SessionId sid, std::function<void(Session&, const util::Status&)> fn) {
  return [this, sid, fn = std::move(fn)](const util::Status& status) {
    Session* s = Find(sid);
    if (!s) return;
    --s->inflight;
    fn(*s, status);
  };
}

}  // namespace chatd::core
