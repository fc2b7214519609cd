// SPDX-License-Identifier: MIT
#include "core/auth_service.h"

#include <memory>

#include "auth/crypto.h"
#include "proto/codec.h"
#include "store/accounts.h"
#include "store/engine.h"

namespace chatd::core {

using util::Status;

namespace {
constexpr int64_t kDayMs = 24LL * 3600 * 1000;
const Status kBusy = Status::RateLimited("the server is busy checking passwords; try again in a moment");
// An argon2id hash (same cost as real ones) of a random password nobody knows: checked against
// when the user does not exist, so a wrong name costs as much time as a wrong password.
constexpr char kDummyHash[] =
    "$argon2id$v=19$m=65536,t=2,p=1$1Ad9DVnEAZrSk80+4nby8Q$dk3dKUGDf3zqMqe/Wyb082JxghnA75aAhucNPEVFY3U";
}  // namespace

AuthService::AuthService(AuthOptions options, store::Storage* storage, auth::HashPool* hashes,
                         const util::Clock* clock)
    : options_(std::move(options)), storage_(storage), hashes_(hashes), clock_(clock) {}

void AuthService::Register(const std::string& name, const std::string& password, const std::string& peer,
                           UserCallback done) {
  if (!options_.registration_open) {
    done(Status::Forbidden("registration is closed on this server; ask an admin for an account"), {});
    return;
  }
  if (!proto::ValidUserName(name)) {
    done(Status::BadRequest("user names are 1-32 letters, digits, '.', '_' or '-'"), {});
    return;
  }
  Status policy = auth::CheckPasswordPolicy(password);
  if (!policy.ok()) {
    done(policy, {});
    return;
  }
  struct State {
    Status status;
    std::string hash;
    store::UserInfo user;
  };
  auto st = std::make_shared<State>();
  bool queued = hashes_->Submit(LoginThrottle::AddressKey(peer),
                                [st, password] { st->status = auth::HashPassword(password, &st->hash); },
                                [this, st, name, done] {
                                  if (!st->status.ok()) {
                                    done(st->status, {});
                                    return;
                                  }
                                  int64_t now = clock_->NowMs();
                                  storage_->Submit(
                                      [st, name, now](store::Engine& e) {
                                        st->status = e.storage_full()
                                                         ? Status::StorageFull("the server is out of disk space")
                                                         : e.accounts().CreateUser(name, st->hash, false, now, &st->user);
                                      },
                                      [st, done](const Status& commit) {
                                        done(st->status.ok() ? commit : st->status, st->user);
                                      });
                                });
  if (!queued) done(kBusy, {});
}

void AuthService::Login(const std::string& name, const std::string& password, const std::string& peer,
                        bool mint_token, LoginCallback done) {
  int64_t wait = throttle_.WaitMs(peer, name, clock_->MonoMs());
  if (wait > 0) {
    done(LoginResult{Status::RateLimited("too many failed logins; try again in " + std::to_string((wait + 999) / 1000) +
                                         " s"),
                     {}, "", wait});
    return;
  }
  struct State {
    Status status;
    store::UserRecord rec;
    bool verified = false;
    std::string token;
  };
  auto st = std::make_shared<State>();
  storage_->Submit([st, name](store::Engine& e) { st->status = e.accounts().FindUser(name, &st->rec); },
                   [this, st, name, password, peer, mint_token, done](const Status&) {
                     if (!st->status.ok() && st->status.code() != util::Code::kNotFound) {
                       done(LoginResult{st->status});
                       return;
                     }
                     bool known = st->status.ok();
                     std::string hash = known && !st->rec.password_hash.empty() ? st->rec.password_hash : std::string(kDummyHash);
                     bool queued = hashes_->Submit(
                         LoginThrottle::AddressKey(peer),
                         [st, hash, password, known] { st->verified = auth::VerifyPassword(hash, password) && known; },
                         [this, st, name, peer, mint_token, done] {
                           if (!st->verified || st->rec.password_hash.empty()) {
                             throttle_.Failed(peer, name, clock_->MonoMs());
                             done(LoginResult{Status::Unauthorized("wrong user name or password")});
                             return;
                           }
                           throttle_.Succeeded(peer, name);
                           if (!mint_token) {
                             done(LoginResult{Status::Ok(), st->rec.info});
                             return;
                           }
                           st->token = auth::NewToken();
                           int64_t now = clock_->NowMs();
                           int64_t expires = now + options_.session_days * kDayMs;
                           std::string hash_of_token = auth::TokenHash(st->token);
                           storage_->Submit(
                               [st, hash_of_token, now, expires](store::Engine& e) {
                                 st->status = e.accounts().CreateSession(st->rec.info.id, hash_of_token, now, expires);
                               },
                               [st, done](const Status& commit) {
                                 Status s = st->status.ok() ? commit : st->status;
                                 done(LoginResult{s, st->rec.info, s.ok() ? st->token : ""});
                               });
                         });
                     if (!queued) done(LoginResult{kBusy, {}, "", 1000});
                   });
}

void AuthService::Logout(const std::string& token, DoneCallback done) {
  std::string hash = auth::TokenHash(token);
  auto status = std::make_shared<Status>();
  storage_->Submit([status, hash](store::Engine& e) { *status = e.accounts().DeleteSession(hash); },
                   [status, done](const Status& commit) { done(status->ok() ? commit : *status); });
}

void AuthService::ResolveToken(const std::string& token, UserCallback done) {
  struct State {
    Status status;
    store::UserInfo user;
  };
  auto st = std::make_shared<State>();
  if (token.find('.') != std::string::npos) {
    // An HS256 site token: the signature check is microseconds, fine on this thread.
    std::string subject;
    Status s = auth::VerifySiteToken(token, options_.site_secret, clock_->NowMs() / 1000, &subject);
    if (!s.ok()) {
      done(s, {});
      return;
    }
    bool allow_local = options_.site_users_may_be_local;
    storage_->Submit([st, subject, allow_local](store::Engine& e) { st->status = e.EnsureUser(subject, allow_local, &st->user); },
                     [st, done](const Status& commit) { done(st->status.ok() ? commit : st->status, st->user); });
    return;
  }
  std::string hash = auth::TokenHash(token);
  int64_t now = clock_->NowMs();
  storage_->Submit([st, hash, now](store::Engine& e) { st->status = e.accounts().ResolveSession(hash, now, &st->user); },
                   [st, done](const Status&) { done(st->status, st->user); });
}

}  // namespace chatd::core
