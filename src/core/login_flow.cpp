// SPDX-License-Identifier: MIT
#include "core/login_flow.h"

#include "auth/crypto.h"
#include "proto/frames.h"
#include "util/log.h"

namespace chatd::core {

using util::Status;

namespace {
constexpr int kClosePolicy = 1008;
constexpr int kCloseInternal = 1011;
unsigned long long Id(SessionId sid) { return static_cast<unsigned long long>(sid); }
}  // namespace

bool LoginFlow::MayLogIn(SessionId sid, const Session& session, const proto::Request& req) {
  if (session.logged_in()) {
    router_->Error(sid, req.id, Status::Conflict("already logged in as " + session.user.name));
    return false;
  }
  if (session.state == SessionState::kAuthenticating) {
    router_->Error(sid, req.id, Status::Conflict("a hello is already being checked"));
    return false;
  }
  return true;
}

void LoginFlow::HelloAsSiteUser(SessionId sid, Session& session, const std::string& site_user,
                                const proto::Request& req) {
  if (!MayLogIn(sid, session, req)) return;
  session.state = SessionState::kAuthenticating;
  auth_->SiteUser(site_user, [this, sid, req](const Status& status, const store::UserInfo& user) {
    CompleteHello(sid, req, status, user, 0);
  });
}

void LoginFlow::Hello(SessionId sid, Session& session, const proto::Request& req) {
  if (!MayLogIn(sid, session, req)) return;
  std::string token = !req.token.empty() ? req.token : session.cookie_token;
  if (req.user.empty() && token.empty()) {
    CompleteHello(sid, req, Status::Unauthorized("hello needs a token, the session cookie, or user and password"), {},
                  0);
    return;
  }
  session.state = SessionState::kAuthenticating;
  if (!req.user.empty()) {
    auth_->Login(req.user, req.password, session.peer, false, [this, sid, req](const AuthService::LoginResult& r) {
      CompleteHello(sid, req, r.status, r.user, r.retry_ms);
    });
    return;
  }
  // A session token (not a site JWT) can be revoked by a logout: remember which one it was.
  std::string hash = token.find('.') == std::string::npos ? auth::TokenHash(token) : std::string();
  auth_->ResolveToken(token, [this, sid, req, hash](const Status& status, const store::UserInfo& user) {
    Session* s = sessions_->Find(sid);
    if (s && status.ok() && !hash.empty()) sessions_->IndexToken(sid, *s, hash);
    CompleteHello(sid, req, status, user, 0);
  });
}

void LoginFlow::CompleteHello(SessionId sid, const proto::Request& req, const Status& status,
                              const store::UserInfo& user, int64_t retry_ms) {
  Session* s = sessions_->Find(sid);
  if (!s) return;  // the connection went away while we checked
  if (!status.ok()) {
    s->state = SessionState::kAwaitHello;
    Status answer = status.code() == util::Code::kNotFound ? Status::Unauthorized(status.message()) : status;
    router_->Error(sid, req.id, answer, retry_ms);
    if (++s->failed_hellos >= options_.max_failed_hellos) {
      router_->Close(sid, kClosePolicy, "too many failed logins");
      s->held.clear();
      return;
    }
    resume_(sid);  // each held request gets its own `unauthorized`
    return;
  }
  s->state = SessionState::kLoading;
  s->user = user;
  s->device = req.device.empty() ? "web" : req.device;
  s->hello_id = req.id;
  s->cookie_token.clear();
  s->cookie_token.shrink_to_fit();
  s->sync_with_cursor = req.has_cursor;
  s->sync_pos = req.has_cursor ? req.cursor : 0;
  presence_->Add(user.id, sid);
  online_->SetOnline(user);
  LOG_INFO("session %llu: %s logged in (device %s)", Id(sid), user.name.c_str(), s->device.c_str());
  store_->LoadUserState(user.id, [this, sid](store::Result<store::UserState>&& state) {
    Session* session = sessions_->Find(sid);
    if (!session || session->state != SessionState::kLoading) return;
    if (!state.status.ok()) {
      LOG_ERR("session %llu: loading user state: %s", Id(sid), state.status.ToString().c_str());
      router_->Error(sid, session->hello_id, Status::Internal("could not load your account; try again"));
      router_->Close(sid, kCloseInternal, "load failed");
      return;
    }
    Welcome(sid, *session, state.value);
  });
}

void LoginFlow::Welcome(SessionId sid, Session& session, const store::UserState& state) {
  store::UserId uid = session.user.id;
  OnlineUser& u = online_->Get(uid);
  u.name = session.user.name;
  online_->SetRooms(u, state.rooms);
  for (const auto& p : state.partners) u.partners.insert(p.id);
  announcer_->CameOnline(uid, u);

  proto::WelcomeFrame w;
  w.re = session.hello_id;
  w.user = session.user.name;
  w.device = session.device;
  w.admin = session.user.admin;
  for (const auto& room : state.rooms) {
    w.rooms.push_back({room.name, room.is_private, static_cast<int64_t>(room.members ? room.members->size() : 0), -1,
                       online_->Large(room) ? online_->OnlineIn(room.conv) : -1});
  }
  w.online = announcer_->OnlineContacts(uid, u);
  w.unread = state.unread;
  router_->Send(sid, proto::EncodeWelcome(w));
  session.state = SessionState::kSyncing;
  FetchNextPage(sid, session);
  resume_(sid);
}

void LoginFlow::FetchNextPage(SessionId sid, Session& session) {
  session.sync_inflight = true;
  session.sync_waiting_drain = false;
  budget_->Take(session);  // counted, never refused: catch-up is paced by OnDrained
  store::PageRequest req{session.user.id, session.sync_pos, session.sync_with_cursor, options_.page_messages,
                         options_.page_bytes};
  store_->FetchPage(req, [this, sid](store::Result<store::FetchResult>&& page) {
    Session* s = sessions_->Find(sid);
    if (s && s->state == SessionState::kSyncing) OnPage(sid, *s, std::move(page));
  });
}

void LoginFlow::OnPage(SessionId sid, Session& s, store::Result<store::FetchResult>&& page) {
  s.sync_inflight = false;
  budget_->Release(s);
  if (!page.status.ok()) {
    LOG_ERR("session %llu: catch-up failed: %s", Id(sid), page.status.ToString().c_str());
    router_->Error(sid, "", Status::Internal("could not load your messages; reconnect to try again"));
    router_->Close(sid, kCloseInternal, "catch-up failed");
    return;
  }
  for (const auto& m : page.value.messages) router_->Send(sid, m.json);
  if (page.value.complete) {
    // Everything up to high_water is out; later messages reach this session live, in order,
    // because their completions run after this one.
    s.state = SessionState::kLive;
    router_->Send(sid, proto::EncodeLive(page.value.high_water));
    return;
  }
  // The store promises progress; never fetch the same page again (a spin that would hold a
  // storage job in flight forever and the device before `live`).
  if (page.value.next <= s.sync_pos) {
    LOG_ERR("session %llu: catch-up made no progress after mid %lld", Id(sid), static_cast<long long>(s.sync_pos));
    router_->Error(sid, "", Status::Internal("could not load your messages; reconnect to try again"));
    router_->Close(sid, kCloseInternal, "catch-up failed");
    return;
  }
  s.sync_pos = page.value.next;
  if (router_->Queued(sid) > options_.pause_bytes) {
    s.sync_waiting_drain = true;  // OnDrained() goes on
  } else {
    FetchNextPage(sid, s);
  }
}

void LoginFlow::OnDrained(SessionId sid, Session& session) {
  if (session.state == SessionState::kSyncing && session.sync_waiting_drain && !session.sync_inflight) {
    FetchNextPage(sid, session);
  }
}

}  // namespace chatd::core
