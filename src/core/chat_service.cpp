// SPDX-License-Identifier: MIT
//
// ChatService, part 1: sessions, hello and welcome, catch-up paging, request dispatch.
#include "core/chat_service.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "auth/crypto.h"
#include "proto/frames.h"
#include "proto/codec.h"
#include "proto/json_writer.h"
#include "store/catch_up_reader.h"
#include "store/engine.h"
#include "store/room_store.h"
#include "util/log.h"

namespace chatd::core {

using util::Status;

namespace {
constexpr int kClosePolicy = 1008;
constexpr int kCloseInternal = 1011;
constexpr int kCloseLoggedOut = 4001;
constexpr size_t kWhoLimit = 500;
constexpr size_t kMaxHeldBytes = 256 * 1024;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

ChatService::ChatService(ServiceOptions options, AuthService* auth, store::Storage* storage, Outbox* outbox,
                         const util::Clock* clock)
    : options_(options),
      auth_(auth),
      storage_(storage),
      outbox_(outbox),
      clock_(clock),
      send_limiter_(options.rate, options.burst),
      room_limiter_(options.room_rate, options.room_burst) {}

ChatService::~ChatService() = default;

ChatService::Session* ChatService::Find(SessionId sid) {
  auto it = sessions_.find(sid);
  return it == sessions_.end() ? nullptr : &it->second;
}

void ChatService::SendText(SessionId sid, std::string json) { outbox_->Send(sid, MakeFrame(std::move(json))); }

void ChatService::SendError(SessionId sid, std::string_view re, const Status& status, int64_t retry_ms) {
  SendText(sid, proto::EncodeError(re, status, retry_ms));
}

void ChatService::DeliverToUser(store::UserId user, const Frame& frame, SessionId except) {
  for (SessionId other : presence_.Sessions(user)) {
    if (other == except) continue;
    Session* s = Find(other);
    if (s && s->state == State::kLive) outbox_->Send(other, frame);
  }
}

void ChatService::DeliverEvent(store::UserId user, const Frame& frame, SessionId except) {
  for (SessionId other : presence_.Sessions(user)) {
    if (other == except) continue;
    Session* s = Find(other);
    if (s && s->state >= State::kSyncing) outbox_->Send(other, frame);
  }
}

void ChatService::OnOpen(SessionId sid, OpenInfo info) {
  Session& s = sessions_[sid];
  s.cookie_token = std::move(info.cookie_token);
  s.peer = std::move(info.peer);
  hello_deadlines_.emplace_back(clock_->MonoMs() + options_.auth_timeout_ms, sid);
}

void ChatService::OnClose(SessionId sid) {
  auto it = sessions_.find(sid);
  if (it == sessions_.end()) return;
  Session& s = it->second;
  if (!s.token_hash.empty()) {
    auto range = by_token_.equal_range(s.token_hash);
    for (auto t = range.first; t != range.second; ++t) {
      if (t->second == sid) {
        by_token_.erase(t);
        break;
      }
    }
  }
  if (LoggedIn(s)) {
    store::UserId user = s.user.id;
    LOG_INFO("session %llu (%s) closed", static_cast<unsigned long long>(sid), s.user.name.c_str());
    if (presence_.Remove(user, sid)) {
      send_limiter_.Release(static_cast<uint64_t>(user));
      room_limiter_.Release(static_cast<uint64_t>(user));
      online_names_.erase(Lower(s.user.name));
      auto ctx = users_.find(user);
      if (ctx != users_.end() && ctx->second.announced) {
        pending_offline_[user] = clock_->MonoMs() + options_.presence_grace_ms;
      } else if (ctx != users_.end()) {
        UntrackRooms(ctx->second);
        users_.erase(ctx);
      }
    }
  }
  sessions_.erase(it);
  if (options_.presence_grace_ms == 0) Tick();
}

void ChatService::OnTokenRevoked(const std::string& token_hash) {
  auto range = by_token_.equal_range(token_hash);
  for (auto t = range.first; t != range.second; ++t) {
    LOG_INFO("session %llu: its login was revoked (logout); closing", static_cast<unsigned long long>(t->second));
    outbox_->Close(t->second, kCloseLoggedOut, "logged out");
  }
}

void ChatService::Tick() {
  int64_t now = clock_->MonoMs();
  while (!hello_deadlines_.empty() && hello_deadlines_.front().first <= now) {
    SessionId sid = hello_deadlines_.front().second;
    hello_deadlines_.pop_front();
    Session* s = Find(sid);
    if (s && !LoggedIn(*s)) {
      LOG_INFO("session %llu: no valid hello in time", static_cast<unsigned long long>(sid));
      outbox_->Close(sid, kClosePolicy, "authentication timeout");
    }
  }
  for (auto it = pending_offline_.begin(); it != pending_offline_.end();) {
    if (it->second > now) {
      ++it;
      continue;
    }
    store::UserId user = it->first;
    it = pending_offline_.erase(it);
    if (presence_.Online(user)) continue;  // came back in time: nothing to say
    auto ctx = users_.find(user);
    if (ctx == users_.end()) continue;
    AnnouncePresence(user, ctx->second, false);
    UntrackRooms(ctx->second);
    users_.erase(ctx);
  }
  send_limiter_.Prune(now);
  room_limiter_.Prune(now);
}

void ChatService::OnFrame(SessionId sid, std::string_view frame) {
  for (std::string_view line : proto::SplitFrame(frame)) {
    Session* s = Find(sid);
    if (!s) return;  // closed while handling an earlier line
    if (Holding(*s)) {
      // A hello is being answered, or a history request waits for budget: keep what follows,
      // in order, for after it.
      if (s->held_bytes + line.size() > kMaxHeldBytes) {
        proto::Request req;
        (void)proto::Decode(line, &req);
        SendError(sid, req.id, Status::RateLimited("wait for the welcome before sending more"), 100);
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
  Session* s = Find(sid);
  if (!s) return;
  proto::Request req;
  Status st = proto::Decode(line, &req);
  if (!st.ok()) {
    SendError(sid, req.id, st);
    return;
  }
  if (req.type == proto::RequestType::kHistory && LoggedIn(*s)) {
    // Its answer may be a page of about a MiB: it needs room in the connection's outbound
    // budget before it is built. Without room it waits, with everything after it, until
    // answers are written out.
    if (!Reserve(sid, *s)) {
      s->held.insert(s->held.begin(), std::string(line));
      s->held_bytes += line.size();
      s->waiting_budget = true;
      return;
    }
  }
  Handle(sid, *s, req);
}

bool ChatService::Reserve(SessionId sid, Session& s) {
  size_t used = outbox_->Queued(sid) + s.reserved;
  if (used > 0 && used + PageReserve() > options_.outbound_limit) return false;
  s.reserved += PageReserve();
  return true;
}

void ChatService::Unreserve(SessionId sid, Session& s) {
  s.reserved -= std::min(s.reserved, PageReserve());
  if (!s.waiting_budget) return;
  s.waiting_budget = false;
  ReleaseHeld(sid);
}

void ChatService::ReleaseHeld(SessionId sid) {
  Session* s = Find(sid);
  if (!s || s->held.empty()) return;
  std::vector<std::string> held;
  held.swap(s->held);
  s->held_bytes = 0;
  for (const auto& line : held) {
    Session* again = Find(sid);
    if (!again) return;
    if (Holding(*again)) {
      again->held_bytes += line.size();  // another hello or a history request waits: keep waiting
      again->held.push_back(line);
      continue;
    }
    HandleLine(sid, line);
  }
}

void ChatService::Handle(SessionId sid, Session& session, const proto::Request& req) {
  using proto::RequestType;
  if (req.type == RequestType::kHello) {
    HandleHello(sid, session, req);
    return;
  }
  if (req.type == RequestType::kPing) {
    SendText(sid, proto::EncodeOk(req.id));
    return;
  }
  if (!LoggedIn(session)) {
    SendError(sid, req.id, Status::Unauthorized("send a hello first"));
    return;
  }

  switch (req.type) {
    case RequestType::kWho:
      // Listing everyone online costs O(users): it spends from the same bucket as sends.
      if (!Spend(send_limiter_, sid, session, req, "slow down")) return;
      return HandleWho(sid, req);
    case RequestType::kSend: return HandleSend(sid, session, req);
    case RequestType::kAck: return HandleAck(sid, session, req);
    case RequestType::kHistory: return HandleHistory(sid, session, req);
    case RequestType::kRead: return HandleRead(sid, session, req);
    case RequestType::kTyping: return HandleTyping(sid, session, req);
    case RequestType::kJoin:
    case RequestType::kLeave:
    case RequestType::kInvite:
      // Each tells a whole room (and a join may create one): a budget of their own.
      if (!Spend(room_limiter_, sid, session, req, "slow down: too many room changes")) return;
      if (req.type == RequestType::kJoin) return HandleJoin(sid, session, req);
      if (req.type == RequestType::kLeave) return HandleLeave(sid, session, req);
      return HandleInvite(sid, session, req);
    case RequestType::kRooms: return HandleRooms(sid, session, req);
    case RequestType::kHello:
    case RequestType::kPing: return;  // handled above
  }
}

bool ChatService::Spend(RateLimiter& limiter, SessionId sid, const Session& session, const proto::Request& req,
                        const char* what) {
  int64_t retry_ms = 0;
  if (limiter.Take(static_cast<uint64_t>(session.user.id), clock_->MonoMs(), &retry_ms)) return true;
  SendError(sid, req.id, Status::RateLimited(what), retry_ms);
  return false;
}

bool ChatService::SubmitFor(SessionId sid, Session& session, const std::string& re, store::Storage::Run run,
                            std::function<void(Session&, const Status&)> done) {
  if (session.inflight >= options_.max_inflight) {
    SendError(sid, re, Status::RateLimited("too many requests waiting; wait for answers"), 100);
    return false;
  }
  ++session.inflight;
  storage_->Submit(std::move(run), [this, sid, done = std::move(done)](const Status& commit) {
    Session* s = Find(sid);
    if (!s) return;
    --s->inflight;
    done(*s, commit);
  });
  return true;
}

void ChatService::HandleHello(SessionId sid, Session& session, const proto::Request& req) {
  if (LoggedIn(session)) {
    SendError(sid, req.id, Status::Conflict("already logged in as " + session.user.name));
    return;
  }
  if (session.state == State::kAuthenticating) {
    SendError(sid, req.id, Status::Conflict("a hello is already being checked"));
    return;
  }
  std::string token = !req.token.empty() ? req.token : session.cookie_token;
  if (req.user.empty() && token.empty()) {
    CompleteHello(sid, req, Status::Unauthorized("hello needs a token, the session cookie, or user and password"), {});
    return;
  }
  session.state = State::kAuthenticating;
  if (!req.user.empty()) {
    auth_->Login(req.user, req.password, session.peer, false, [this, sid, req](const AuthService::LoginResult& r) {
      CompleteHello(sid, req, r.status, r.user, r.retry_ms);
    });
  } else {
    // A session token (not a site JWT) can be revoked by a logout: remember which one it was.
    std::string hash = token.find('.') == std::string::npos ? auth::TokenHash(token) : std::string();
    auth_->ResolveToken(token, [this, sid, req, hash](const Status& status, const store::UserInfo& user) {
      Session* s = Find(sid);
      if (s && status.ok() && !hash.empty()) {
        s->token_hash = hash;
        by_token_.emplace(hash, sid);
      }
      CompleteHello(sid, req, status, user);
    });
  }
}

void ChatService::CompleteHello(SessionId sid, const proto::Request& req, const Status& status,
                                const store::UserInfo& user, int64_t retry_ms) {
  Session* s = Find(sid);
  if (!s) return;  // the connection went away while we checked
  if (!status.ok()) {
    s->state = State::kAwaitHello;
    Status answer = status.code() == util::Code::kNotFound ? Status::Unauthorized(status.message()) : status;
    SendError(sid, req.id, answer, retry_ms);
    if (++s->failed_hellos >= options_.max_failed_hellos) {
      outbox_->Close(sid, kClosePolicy, "too many failed logins");
      s->held.clear();
      return;
    }
    ReleaseHeld(sid);  // each held request gets its own `unauthorized`
    return;
  }
  s->state = State::kLoading;
  s->user = user;
  s->device = req.device.empty() ? "web" : req.device;
  s->hello_id = req.id;
  s->cookie_token.clear();
  s->cookie_token.shrink_to_fit();
  s->sync_with_cursor = req.has_cursor;
  s->sync_pos = req.has_cursor ? req.cursor : 0;
  presence_.Add(user.id, sid);
  online_names_[Lower(user.name)] = user.id;
  LOG_INFO("session %llu: %s logged in (device %s)", static_cast<unsigned long long>(sid), user.name.c_str(),
           s->device.c_str());
  auto state = std::make_shared<store::UserState>();
  auto st = std::make_shared<Status>();
  store::UserId uid = user.id;
  storage_->Submit([state, st, uid](store::Engine& e) { *st = e.rooms().LoadUserState(uid, state.get()); },
                   [this, sid, state, st](const Status&) {
                     Session* session = Find(sid);
                     if (!session || session->state != State::kLoading) return;
                     if (!st->ok()) {
                       LOG_ERR("session %llu: loading user state: %s", static_cast<unsigned long long>(sid),
                               st->ToString().c_str());
                       SendError(sid, session->hello_id, Status::Internal("could not load your account; try again"));
                       outbox_->Close(sid, kCloseInternal, "load failed");
                       return;
                     }
                     SendWelcome(sid, *session, *state);
                   });
}

void ChatService::SendWelcome(SessionId sid, Session& session, const store::UserState& state) {
  store::UserId uid = session.user.id;
  UserCtx& ctx = users_[uid];
  ctx.name = session.user.name;
  UntrackRooms(ctx);  // another device's welcome had them; this list is newer
  for (const auto& room : state.rooms) TrackRoom(ctx, room);
  for (const auto& p : state.partners) ctx.partners.insert(p.id);
  if (pending_offline_.erase(uid) == 0 && !ctx.announced) AnnouncePresence(uid, ctx, true);
  ctx.announced = true;

  std::string out;
  proto::JsonWriter w(&out);
  w.Begin().Str("type", "welcome");
  if (!session.hello_id.empty()) w.Raw("re", session.hello_id);
  w.Str("user", session.user.name).Str("device", session.device).Bool("admin", session.user.admin);
  w.BeginArray("rooms");
  for (const auto& room : state.rooms) {
    w.Begin()
        .Str("room", room.name)
        .Bool("private", room.is_private)
        .Int("members", static_cast<int64_t>(room.members ? room.members->size() : 0))
        .End();
  }
  w.EndArray().BeginArray("online");
  for (const auto& name : OnlineContacts(uid, ctx)) w.Str(name);
  w.EndArray().BeginObject("unread");
  for (const auto& [key, count] : state.unread) w.Int(key, count);
  w.End().End();
  SendText(sid, std::move(out));
  session.state = State::kSyncing;
  FetchNextPage(sid, session);
  ReleaseHeld(sid);
}

void ChatService::FetchNextPage(SessionId sid, Session& session) {
  session.sync_inflight = true;
  session.sync_waiting_drain = false;
  auto page = std::make_shared<store::FetchResult>();
  auto status = std::make_shared<Status>();
  store::UserId user = session.user.id;
  store::Mid after = session.sync_pos;
  bool with_cursor = session.sync_with_cursor;
  int limit = options_.sync_page;
  size_t max_bytes = options_.page_bytes;
  session.reserved += PageReserve();  // counted, never refused: catch-up is paced by OnDrained
  storage_->Submit(
      [page, status, user, after, with_cursor, limit, max_bytes](store::Engine& e) {
        *status = with_cursor ? e.pages().FetchSince(user, after, limit, page.get(), max_bytes)
                              : e.pages().FetchPending(user, after, limit, page.get(), max_bytes);
      },
      [this, sid, page, status](const Status&) {
        Session* s = Find(sid);
        if (!s || s->state != State::kSyncing) return;
        s->sync_inflight = false;
        s->reserved -= std::min(s->reserved, PageReserve());
        if (!status->ok()) {
          LOG_ERR("session %llu: catch-up failed: %s", static_cast<unsigned long long>(sid), status->ToString().c_str());
          SendError(sid, "", Status::Internal("could not load your messages; reconnect to try again"));
          outbox_->Close(sid, kCloseInternal, "catch-up failed");
          return;
        }
        for (const auto& m : page->messages) outbox_->Send(sid, m.json);
        if (page->complete) {
          // Everything up to high_water is out; later messages reach this session live, in
          // order, because their completions run after this one.
          s->state = State::kLive;
          std::string live;
          proto::JsonWriter(&live).Begin().Str("type", "live").Int("mid", page->high_water).End();
          SendText(sid, std::move(live));
          return;
        }
        // The store promises progress; never fetch the same page again (a spin that would
        // hold a storage job in flight forever and the device before `live`).
        if (page->next <= s->sync_pos) {
          LOG_ERR("session %llu: catch-up made no progress after mid %lld", static_cast<unsigned long long>(sid),
                  static_cast<long long>(s->sync_pos));
          SendError(sid, "", Status::Internal("could not load your messages; reconnect to try again"));
          outbox_->Close(sid, kCloseInternal, "catch-up failed");
          return;
        }
        s->sync_pos = page->next;
        if (outbox_->Queued(sid) > options_.sync_pause_bytes) {
          s->sync_waiting_drain = true;  // OnDrained() continues
        } else {
          FetchNextPage(sid, *s);
        }
      });
}

void ChatService::OnDrained(SessionId sid) {
  Session* s = Find(sid);
  if (!s) return;
  if (s->state == State::kSyncing && s->sync_waiting_drain && !s->sync_inflight) FetchNextPage(sid, *s);
  if (s->waiting_budget) {
    s->waiting_budget = false;
    ReleaseHeld(sid);
  }
}

void ChatService::HandleWho(SessionId sid, const proto::Request& req) {
  // Names of everyone online, sorted, capped; `count` says how many there are in all.
  std::vector<std::pair<std::string, size_t>> users;
  users.reserve(presence_.users());
  for (const auto& [uid, list] : presence_.all()) {
    const Session* s = Find(list.front());
    if (s) users.emplace_back(s->user.name, list.size());
  }
  std::sort(users.begin(), users.end());
  std::string out;
  proto::JsonWriter w(&out);
  w.Begin().Str("type", "ok");
  if (!req.id.empty()) w.Raw("re", req.id);
  w.BeginArray("users");
  for (size_t i = 0; i < users.size() && i < kWhoLimit; ++i) {
    w.Begin().Str("user", users[i].first).Int("devices", static_cast<int64_t>(users[i].second)).End();
  }
  w.EndArray().Int("count", static_cast<int64_t>(users.size())).End();
  SendText(sid, std::move(out));
}

}  // namespace chatd::core
