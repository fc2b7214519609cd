// SPDX-License-Identifier: MIT
#include "core/chat_service.h"

#include <algorithm>
#include <iterator>
#include <vector>

#include "proto/codec.h"
#include "proto/frames.h"
#include "util/log.h"

namespace chatd::core {

using util::Status;

namespace {
constexpr int kClosePolicy = 1008;
constexpr int kCloseLoggedOut = 4001;
constexpr size_t kWhoLimit = 500;
constexpr size_t kMaxHeldBytes = 256 * 1024;
unsigned long long Id(SessionId sid) { return static_cast<unsigned long long>(sid); }
}  // namespace

ChatService::ChatService(ServiceOptions options, AuthService* auth, store::ChatStore* store, Outbox* outbox,
                         const util::Clock* clock, store::SiteStore* site)
    : options_(options),
      clock_(clock),
      store_(store),
      sessions_(options.max_inflight),
      online_(options.large_room),
      router_(&sessions_, &presence_, outbox),
      announcer_(&presence_, &online_, &router_, clock, options.presence_grace_ms),
      budget_(outbox, options.outbound_limit, options.page_bytes, static_cast<size_t>(options.max_text)),
      send_limiter_(options.rate, options.burst),
      room_limiter_(options.room_rate, options.room_burst),
      login_(LoginOptions{options.max_failed_hellos, options.sync_page, options.page_bytes, options.sync_pause_bytes},
             &sessions_, auth, store, &router_, &presence_, &online_, &announcer_, &budget_,
             [this](SessionId sid) { ReleaseHeld(sid); }),
      messaging_(options.max_text, options.page_bytes, &sessions_, store, &router_, &online_, &announcer_,
                 &send_limiter_, &budget_, clock, [this](SessionId sid) { BudgetFreed(sid); }),
      rooms_(options.typing_interval_ms, options.room_counts_ms, &sessions_, store, &router_, &presence_, &online_,
             clock) {
  if (site) {
    publisher_ = std::make_unique<Publisher>(options.publish_rate, options.publish_burst, site, &router_, &presence_,
                                             &online_, clock);
  }
  if (site && options.webhooks) {
    announcer_.set_on_announce([site, clock](const OnlineUser& u, bool online) {
      site->RecordEvent(online ? "user.online" : "user.offline", proto::EncodeUserEvent(u.name), clock->NowMs(),
                        [name = u.name](const Status& s) {
                          if (!s.ok()) LOG_WARN("webhook event for %s not queued: %s", name.c_str(), s.ToString().c_str());
                        });
    });
  }
}

void ChatService::OnOpen(SessionId sid, OpenInfo info) {
  Session& s = sessions_.Open(sid);
  s.cookie_token = std::move(info.cookie_token);
  s.peer = std::move(info.peer);
  hello_deadlines_.emplace_back(clock_->MonoMs() + options_.auth_timeout_ms, sid);
}

void ChatService::OnClose(SessionId sid) {
  Session* s = sessions_.Find(sid);
  if (!s) return;
  if (s->logged_in()) {
    store::UserId user = s->user.id;
    LOG_INFO("session %llu (%s) closed", Id(sid), s->user.name.c_str());
    if (presence_.Remove(user, sid)) {
      send_limiter_.Release(static_cast<uint64_t>(user));
      room_limiter_.Release(static_cast<uint64_t>(user));
      online_.SetOffline(s->user);
      announcer_.WentOffline(user);
    }
  }
  sessions_.Erase(sid);
}

void ChatService::Tick() {
  int64_t now = clock_->MonoMs();
  while (!hello_deadlines_.empty() && hello_deadlines_.front().first <= now) {
    SessionId sid = hello_deadlines_.front().second;
    hello_deadlines_.pop_front();
    Session* s = sessions_.Find(sid);
    if (s && !s->logged_in()) {
      LOG_INFO("session %llu: no valid hello in time", Id(sid));
      router_.Close(sid, kClosePolicy, "authentication timeout");
    }
  }
  announcer_.Tick();
  rooms_.Tick();
  send_limiter_.Prune(now);
  room_limiter_.Prune(now);
  if (publisher_) publisher_->Tick();
}

void ChatService::OnTokenRevoked(const std::string& token_hash) {
  for (SessionId sid : sessions_.WithToken(token_hash)) {
    LOG_INFO("session %llu: its login was revoked (logout); closing", Id(sid));
    router_.Close(sid, kCloseLoggedOut, "logged out");
  }
}

void ChatService::OnFrame(SessionId sid, std::string_view frame) {
  for (std::string_view line : proto::SplitFrame(frame)) {
    Session* s = sessions_.Find(sid);
    if (!s) return;  // closed while handling an earlier line
    if (s->holding()) {
      if (s->held_bytes + line.size() > kMaxHeldBytes) {
        proto::Request req;
        (void)proto::Decode(line, &req);
        router_.Error(sid, req.id, Status::RateLimited("wait for the answers before sending more"), 100);
        continue;
      }
      s->held_bytes += line.size();
      s->held.emplace_back(line);
      continue;
    }
    HandleLine(sid, line);
  }
}

void ChatService::HandleLine(SessionId sid, std::string_view line) {
  Session* s = sessions_.Find(sid);
  if (!s) return;
  proto::Request req;
  Status st = proto::Decode(line, &req);
  if (!st.ok()) {
    router_.Error(sid, req.id, st);
    return;
  }
  // A history answer may be a page of about a MiB: it needs room in the connection's outbound
  // budget before it is built. Without room it waits, with everything after it, until
  // answers are written out.
  if (req.type == proto::RequestType::kHistory && s->logged_in() && !budget_.Reserve(sid, *s)) {
    s->held.insert(s->held.begin(), std::string(line));
    s->held_bytes += line.size();
    s->waiting_budget = true;
    return;
  }
  Handle(sid, *s, req);
}

void ChatService::ReleaseHeld(SessionId sid) {
  Session* s = sessions_.Find(sid);
  if (!s || s->held.empty()) return;
  std::vector<std::string> held;
  held.swap(s->held);
  s->held_bytes = 0;
  for (const auto& line : held) {
    Session* again = sessions_.Find(sid);
    if (!again) return;
    if (again->holding()) {  // another hello, or a history request that must wait: keep the rest
      again->held_bytes += line.size();
      again->held.push_back(line);
      continue;
    }
    HandleLine(sid, line);
  }
}

void ChatService::BudgetFreed(SessionId sid) {
  Session* s = sessions_.Find(sid);
  if (!s || !s->waiting_budget) return;
  s->waiting_budget = false;
  ReleaseHeld(sid);
}

void ChatService::OnDrained(SessionId sid) {
  Session* s = sessions_.Find(sid);
  if (!s) return;
  login_.OnDrained(sid, *s);
  BudgetFreed(sid);
}

bool ChatService::Spend(RateLimiter& limiter, SessionId sid, const Session& session, const proto::Request& req,
                        const char* what) {
  int64_t retry_ms = 0;
  if (limiter.Take(static_cast<uint64_t>(session.user.id), clock_->MonoMs(), &retry_ms)) return true;
  router_.Error(sid, req.id, Status::RateLimited(what), retry_ms);
  return false;
}

void ChatService::LoginSiteUser(SessionId sid, const std::string& site_user, std::string_view id,
                                std::string_view device) {
  Session* session = sessions_.Find(sid);
  if (!session) return;
  proto::Request req;
  req.type = proto::RequestType::kHello;
  req.id.assign(id);
  req.device.assign(device);
  login_.HelloAsSiteUser(sid, *session, site_user, req);
}

void ChatService::Handle(SessionId sid, Session& session, const proto::Request& req) {
  using proto::RequestType;
  if (req.type == RequestType::kHello) return login_.Hello(sid, session, req);
  if (req.type == RequestType::kPing) return router_.Send(sid, proto::EncodeOk(req.id));
  if (!session.logged_in()) return router_.Error(sid, req.id, Status::Unauthorized("send a hello first"));
  switch (req.type) {
    case RequestType::kWho:
      // Listing everyone online costs O(users): it spends from the same bucket as sends.
      if (Spend(send_limiter_, sid, session, req, "slow down")) Who(sid, req);
      return;
    case RequestType::kUsers:
      if (Spend(send_limiter_, sid, session, req, "slow down")) Users(sid, session, req);
      return;
    case RequestType::kConversations: return Conversations(sid, session, req);
    case RequestType::kMembers:
      if (Spend(send_limiter_, sid, session, req, "slow down")) Members(sid, session, req);
      return;
    case RequestType::kSend: return messaging_.Send(sid, session, req);
    case RequestType::kAck: return messaging_.Ack(sid, session, req);
    case RequestType::kHistory: return messaging_.History(sid, session, req);
    case RequestType::kRead: return messaging_.Read(sid, session, req);
    case RequestType::kTyping: return rooms_.Typing(sid, session, req);
    case RequestType::kRooms: return rooms_.Rooms(sid, session, req);
    case RequestType::kJoin:
    case RequestType::kLeave:
    case RequestType::kInvite:
      // Each tells a whole room (and a join may create one): a budget of their own.
      if (!Spend(room_limiter_, sid, session, req, "slow down: too many room changes")) return;
      if (req.type == RequestType::kJoin) return rooms_.Join(sid, session, req);
      if (req.type == RequestType::kLeave) return rooms_.Leave(sid, session, req);
      return rooms_.Invite(sid, session, req);
    case RequestType::kHello:
    case RequestType::kPing: return;  // handled above
  }
}

void ChatService::Who(SessionId sid, const proto::Request& req) {
  // Names of everyone online, sorted, capped; `count` says how many there are in all.
  std::vector<std::pair<std::string, int64_t>> users;
  users.reserve(presence_.users());
  for (const auto& [uid, list] : presence_.all()) {
    const Session* s = sessions_.Find(list.front());
    if (s) users.emplace_back(s->user.name, static_cast<int64_t>(list.size()));
  }
  std::sort(users.begin(), users.end());
  int64_t count = static_cast<int64_t>(users.size());
  if (users.size() > kWhoLimit) users.resize(kWhoLimit);
  router_.Send(sid, proto::EncodeWho(req.id, users, count));
}

std::vector<std::pair<std::string, bool>> ChatService::WithPresence(const std::vector<store::UserInfo>& users) const {
  std::vector<std::pair<std::string, bool>> out;
  out.reserve(users.size());
  for (const auto& u : users) out.emplace_back(u.name, presence_.Online(u.id));
  return out;
}

void ChatService::Users(SessionId sid, Session& session, const proto::Request& req) {
  std::string re = req.id;
  if (!options_.user_directory) {
    return router_.Error(sid, re, Status::Forbidden("the user directory is off on this server"));
  }
  if (!sessions_.Admit(session)) return router_.Busy(sid, re);
  int limit = req.limit;
  store_->SearchUsers(
      store::UserSearch{req.query, limit},
      sessions_.Guard<std::vector<store::UserInfo>>(
          sid, [this, sid, re, limit](Session&, store::Result<std::vector<store::UserInfo>>&& r) {
            if (!r.status.ok()) return router_.Error(sid, re, r.status);
            bool more = r.value.size() > static_cast<size_t>(limit);
            if (more) r.value.resize(static_cast<size_t>(limit));
            router_.Send(sid, proto::EncodeUserList(re, WithPresence(r.value), more));
          }));
}

void ChatService::Members(SessionId sid, Session& session, const proto::Request& req) {
  std::string re = req.id;
  if (!sessions_.Admit(session)) return router_.Busy(sid, re);
  store_->Members(
      store::MembersRequest{session.user, req.room},
      sessions_.Guard<std::vector<store::UserInfo>>(
          sid, [this, sid, re, room = req.room, offset = req.offset, limit = req.limit](
                   Session&, store::Result<std::vector<store::UserInfo>>&& r) {
            if (!r.status.ok()) return router_.Error(sid, re, r.status);
            // Online first, then by name (the store's order); one page of it.
            std::vector<std::pair<std::string, bool>> all = WithPresence(r.value);
            std::stable_partition(all.begin(), all.end(), [](const auto& m) { return m.second; });
            proto::MemberPage page{re, room, {}, offset, static_cast<int64_t>(all.size()), 0, false};
            for (const auto& m : all) page.online += m.second ? 1 : 0;
            size_t from = static_cast<size_t>(std::min<int64_t>(offset, page.total));
            size_t to = std::min(all.size(), from + static_cast<size_t>(limit));
            page.members.assign(std::make_move_iterator(all.begin() + static_cast<std::ptrdiff_t>(from)),
                                std::make_move_iterator(all.begin() + static_cast<std::ptrdiff_t>(to)));
            page.more = to < all.size();
            router_.Send(sid, proto::EncodeMemberList(page));
          }));
}

void ChatService::Conversations(SessionId sid, Session& session, const proto::Request& req) {
  std::string re = req.id;
  if (!sessions_.Admit(session)) return router_.Busy(sid, re);
  store_->Conversations(
      store::ConversationsRequest{session.user.id, req.limit},
      sessions_.Guard<std::vector<store::ConversationSummary>>(
          sid, [this, sid, re](Session&, store::Result<std::vector<store::ConversationSummary>>&& r) {
            if (!r.status.ok()) return router_.Error(sid, re, r.status);
            std::vector<proto::ConversationEntry> list;
            list.reserve(r.value.size());
            for (auto& c : r.value) {
              list.push_back({std::move(c.with), std::move(c.room), c.is_private, c.last ? *c.last : std::string()});
            }
            router_.Send(sid, proto::EncodeConversationList(re, list));
          }));
}

}  // namespace chatd::core
