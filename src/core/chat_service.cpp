// SPDX-License-Identifier: MIT
#include "core/chat_service.h"

#include <algorithm>
#include <vector>

#include "core/frames.h"
#include "proto/codec.h"
#include "proto/json_writer.h"
#include "store/engine.h"
#include "store/message_store.h"
#include "util/log.h"

namespace chatd::core {

using util::Status;

namespace {
constexpr int kClosePolicy = 1008;
constexpr int kCloseInternal = 1011;
constexpr size_t kWhoLimit = 500;
}  // namespace

ChatService::ChatService(ServiceOptions options, AuthService* auth, store::Storage* storage, Outbox* outbox,
                         const util::Clock* clock)
    : options_(options), auth_(auth), storage_(storage), outbox_(outbox), clock_(clock) {}

ChatService::~ChatService() = default;

ChatService::Session* ChatService::Find(SessionId sid) {
  auto it = sessions_.find(sid);
  return it == sessions_.end() ? nullptr : &it->second;
}

void ChatService::SendText(SessionId sid, std::string json) { outbox_->Send(sid, MakeFrame(std::move(json))); }

void ChatService::SendError(SessionId sid, std::string_view re, const Status& status, int64_t retry_ms) {
  SendText(sid, EncodeError(re, status, retry_ms));
}

void ChatService::OnOpen(SessionId sid, OpenInfo info) {
  Session& s = sessions_[sid];
  s.opened_mono = clock_->MonoMs();
  s.peer = std::move(info.peer);
  s.cookie_token = std::move(info.cookie_token);
  hello_deadlines_.emplace_back(s.opened_mono + options_.auth_timeout_ms, sid);
}

void ChatService::OnClose(SessionId sid) {
  auto it = sessions_.find(sid);
  if (it == sessions_.end()) return;
  Session& s = it->second;
  if (s.state == State::kLive || s.state == State::kSyncing) {
    if (presence_.Remove(s.user.id, sid)) buckets_.erase(s.user.id);
    LOG_INFO("session %llu (%s) closed", static_cast<unsigned long long>(sid), s.user.name.c_str());
  }
  sessions_.erase(it);
}

void ChatService::Tick() {
  int64_t now = clock_->MonoMs();
  while (!hello_deadlines_.empty() && hello_deadlines_.front().first <= now) {
    SessionId sid = hello_deadlines_.front().second;
    hello_deadlines_.pop_front();
    Session* s = Find(sid);
    if (s && (s->state == State::kAwaitHello || s->state == State::kAuthenticating)) {
      LOG_INFO("session %llu: no valid hello in time", static_cast<unsigned long long>(sid));
      outbox_->Close(sid, kClosePolicy, "authentication timeout");
    }
  }
}

void ChatService::OnFrame(SessionId sid, std::string_view frame) {
  for (std::string_view line : proto::SplitFrame(frame)) {
    Session* s = Find(sid);
    if (!s) return;  // closed while handling an earlier line
    proto::Request req;
    Status st = proto::Decode(line, &req);
    if (!st.ok()) {
      SendError(sid, req.id, st);
      continue;
    }
    Handle(sid, *s, req);
  }
}

void ChatService::Handle(SessionId sid, Session& session, const proto::Request& req) {
  if (req.type == proto::RequestType::kHello) {
    HandleHello(sid, session, req);
    return;
  }
  if (req.type == proto::RequestType::kPing) {
    SendText(sid, EncodeOk(req.id));
    return;
  }
  if (session.state != State::kLive && session.state != State::kSyncing) {
    SendError(sid, req.id, Status::Unauthorized("send a hello first"));
    return;
  }
  switch (req.type) {
    case proto::RequestType::kWho:
      HandleWho(sid, req);
      return;
    case proto::RequestType::kSend:
      HandleSend(sid, session, req);
      return;
    case proto::RequestType::kAck:
      HandleAck(sid, session, req);
      return;
    case proto::RequestType::kHistory:
      HandleHistory(sid, session, req);
      return;
    default:
      SendError(sid, req.id,
                Status::BadRequest("'" + std::string(proto::RequestTypeName(req.type)) + "' is not available yet"));
      return;
  }
}

void ChatService::HandleHello(SessionId sid, Session& session, const proto::Request& req) {
  if (session.state == State::kLive || session.state == State::kSyncing) {
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
  auto done = [this, sid, req](const Status& status, const store::UserInfo& user) {
    CompleteHello(sid, req, status, user);
  };
  if (!req.user.empty()) {
    auth_->Login(req.user, req.password, false,
                 [done](const Status& status, const store::UserInfo& user, const std::string&) { done(status, user); });
  } else {
    auth_->ResolveToken(token, done);
  }
}

void ChatService::CompleteHello(SessionId sid, const proto::Request& req, const Status& status,
                                const store::UserInfo& user) {
  Session* s = Find(sid);
  if (!s) return;  // the connection went away while we checked
  if (!status.ok()) {
    s->state = State::kAwaitHello;
    Status answer = status.code() == util::Code::kNotFound ? Status::Unauthorized(status.message()) : status;
    SendError(sid, req.id, answer);
    if (++s->failed_hellos >= options_.max_failed_hellos) outbox_->Close(sid, kClosePolicy, "too many failed logins");
    return;
  }
  s->state = State::kSyncing;
  s->user = user;
  s->device = req.device.empty() ? "web" : req.device;
  s->cookie_token.clear();
  s->cookie_token.shrink_to_fit();
  s->sync_with_cursor = req.has_cursor;
  s->sync_pos = req.has_cursor ? req.cursor : 0;
  presence_.Add(user.id, sid);
  LOG_INFO("session %llu: %s logged in (device %s)", static_cast<unsigned long long>(sid), user.name.c_str(),
           s->device.c_str());
  std::string out;
  proto::JsonWriter w(&out);
  w.Begin().Str("type", "welcome");
  if (!req.id.empty()) w.Raw("re", req.id);
  w.Str("user", user.name).Str("device", s->device).Bool("admin", user.admin);
  w.BeginArray("rooms").EndArray();
  w.BeginArray("online").EndArray();
  w.BeginObject("unread").End();
  w.End();
  SendText(sid, std::move(out));
  FetchNextPage(sid, *s);
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
  storage_->Submit(
      [page, status, user, after, with_cursor, limit](store::Engine& e) {
        *status = with_cursor ? e.messages().FetchSince(user, after, limit, page.get())
                              : e.messages().FetchPending(user, after, limit, page.get());
      },
      [this, sid, page, status](const Status&) {
        Session* s = Find(sid);
        if (!s || s->state != State::kSyncing) return;
        s->sync_inflight = false;
        if (!status->ok()) {
          LOG_ERR("session %llu: catch-up failed: %s", static_cast<unsigned long long>(sid), status->ToString().c_str());
          SendError(sid, "", Status::Internal("could not load your messages; reconnect to try again"));
          outbox_->Close(sid, kCloseInternal, "catch-up failed");
          return;
        }
        for (const auto& m : page->messages) {
          outbox_->Send(sid, m.json);
          s->sync_pos = std::max(s->sync_pos, m.mid);
        }
        if (page->complete) {
          // Everything up to high_water is out; later messages reach this session live, in
          // order, because their completions run after this one.
          s->state = State::kLive;
          std::string live;
          proto::JsonWriter(&live).Begin().Str("type", "live").Int("mid", page->high_water).End();
          SendText(sid, std::move(live));
          return;
        }
        if (outbox_->Queued(sid) > options_.sync_pause_bytes) {
          s->sync_waiting_drain = true;  // OnDrained() continues
        } else {
          FetchNextPage(sid, *s);
        }
      });
}

void ChatService::OnDrained(SessionId sid) {
  Session* s = Find(sid);
  if (s && s->state == State::kSyncing && s->sync_waiting_drain && !s->sync_inflight) FetchNextPage(sid, *s);
}

bool ChatService::TakeToken(store::UserId user, int64_t* retry_ms) {
  int64_t now = clock_->MonoMs();
  auto [it, fresh] = buckets_.try_emplace(user, Bucket{options_.burst, now});
  Bucket& b = it->second;
  if (!fresh) {
    b.tokens = std::min(options_.burst, b.tokens + static_cast<double>(now - b.last_ms) * options_.rate / 1000.0);
    b.last_ms = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  *retry_ms = static_cast<int64_t>((1.0 - b.tokens) * 1000.0 / options_.rate) + 1;
  return false;
}

void ChatService::DeliverToUser(store::UserId user, const Frame& frame, SessionId except) {
  for (SessionId other : presence_.Sessions(user)) {
    if (other == except) continue;
    Session* s = Find(other);
    if (s && s->state == State::kLive) outbox_->Send(other, frame);
  }
}

void ChatService::HandleSend(SessionId sid, Session& session, const proto::Request& req) {
  if (req.text.size() > static_cast<size_t>(options_.max_text)) {
    SendError(sid, req.id,
              Status::TooLarge("message text is over " + std::to_string(options_.max_text) + " bytes"));
    return;
  }
  if (req.to == "*" && !session.user.admin) {
    SendError(sid, req.id, Status::Forbidden("only admins may broadcast"));
    return;
  }
  int64_t retry_ms = 0;
  if (!TakeToken(session.user.id, &retry_ms)) {
    SendError(sid, req.id, Status::RateLimited("slow down: too many messages"), retry_ms);
    return;
  }
  auto sreq = std::make_shared<store::SendRequest>();
  sreq->sender = session.user;
  sreq->cid = req.cid;
  sreq->to = req.to;
  sreq->room = req.room;
  sreq->text = req.text;
  sreq->ts = clock_->NowMs();
  auto result = std::make_shared<store::SendResult>();
  auto status = std::make_shared<Status>();
  std::string re = req.id;
  storage_->Submit(
      [sreq, result, status](store::Engine& e) {
        *status = e.messages().Send(*sreq, e.storage_full(), sreq->ts, result.get());
      },
      [this, sid, re, sreq, result, status](const Status& commit) {
        Status st = commit.ok() ? *status : commit;
        if (!st.ok()) {
          SendError(sid, re, st);
          return;
        }
        std::string ok;
        proto::JsonWriter w(&ok);
        w.Begin().Str("type", "ok");
        if (!re.empty()) w.Raw("re", re);
        w.Int("mid", result->mid).Int("ts", result->ts);
        if (result->dup) w.Bool("dup", true);
        w.End();
        SendText(sid, std::move(ok));
        if (result->dup || !result->json) return;
        const Frame& frame = result->json;
        switch (result->kind) {
          case store::ConvKind::kDirect:
            if (result->recipient.id != sreq->sender.id) DeliverToUser(result->recipient.id, frame, 0);
            DeliverToUser(sreq->sender.id, frame, sid);
            break;
          case store::ConvKind::kRoom:
            for (store::UserId member : result->members) DeliverToUser(member, frame, sid);
            break;
          case store::ConvKind::kBroadcast:
            for (auto& [other, s] : sessions_) {
              if (other != sid && s.state == State::kLive) outbox_->Send(other, frame);
            }
            break;
        }
      });
}

void ChatService::HandleAck(SessionId sid, Session& session, const proto::Request& req) {
  store::UserId user = session.user.id;
  store::Mid upto = req.upto;
  int64_t now = clock_->NowMs();
  auto status = std::make_shared<Status>();
  std::string re = req.id;
  storage_->Submit([user, upto, now, status](store::Engine& e) { *status = e.messages().Ack(user, upto, now); },
                   [this, sid, re, status](const Status& commit) {
                     Status st = commit.ok() ? *status : commit;
                     if (!st.ok()) {
                       SendError(sid, re, st);
                     } else if (!re.empty()) {
                       SendText(sid, EncodeOk(re));
                     }
                   });
}

void ChatService::HandleHistory(SessionId sid, Session& session, const proto::Request& req) {
  auto result = std::make_shared<store::HistoryResult>();
  auto status = std::make_shared<Status>();
  store::UserInfo user = session.user;
  std::string with = req.with, room = req.room, re = req.id;
  store::Mid before = req.has_before ? req.before : 0;
  int limit = req.limit;
  storage_->Submit(
      [=](store::Engine& e) { *status = e.messages().History(user, with, room, before, limit, result.get()); },
      [this, sid, re, result, status](const Status&) {
        if (!status->ok()) {
          SendError(sid, re, *status);
          return;
        }
        std::string out;
        size_t size = 64;
        for (const auto& m : result->messages) size += m->size() + 1;
        out.reserve(size);
        proto::JsonWriter w(&out);
        w.Begin().Str("type", "ok");
        if (!re.empty()) w.Raw("re", re);
        w.BeginArray("messages");
        for (const auto& m : result->messages) w.Raw(*m);
        w.EndArray().Bool("more", result->more).End();
        SendText(sid, std::move(out));
      });
}

void ChatService::HandleWho(SessionId sid, const proto::Request& req) {
  // Names of everyone online, sorted, capped; `count` says how many there are in all.
  std::vector<std::pair<std::string, size_t>> users;
  users.reserve(std::min(presence_.users(), kWhoLimit * 4));
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
