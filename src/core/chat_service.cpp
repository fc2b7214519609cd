// SPDX-License-Identifier: MIT
#include "core/chat_service.h"

#include <algorithm>
#include <vector>

#include "core/frames.h"
#include "proto/codec.h"
#include "proto/json_writer.h"
#include "util/log.h"

namespace chatd::core {

using util::Status;

namespace {
constexpr int kClosePolicy = 1008;
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
  if (s.state == State::kLive) {
    presence_.Remove(s.user.id, sid);
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
    if (s && s->state != State::kLive) {
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
  if (session.state != State::kLive) {
    SendError(sid, req.id, Status::Unauthorized("send a hello first"));
    return;
  }
  switch (req.type) {
    case proto::RequestType::kWho:
      HandleWho(sid, req);
      return;
    default:
      SendError(sid, req.id,
                Status::BadRequest("'" + std::string(proto::RequestTypeName(req.type)) + "' is not available yet"));
      return;
  }
}

void ChatService::HandleHello(SessionId sid, Session& session, const proto::Request& req) {
  if (session.state == State::kLive) {
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
  s->state = State::kLive;
  s->user = user;
  s->device = req.device.empty() ? "web" : req.device;
  s->cookie_token.clear();
  s->cookie_token.shrink_to_fit();
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
  std::string live;
  proto::JsonWriter(&live).Begin().Str("type", "live").Int("mid", 0).End();
  SendText(sid, std::move(live));
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
