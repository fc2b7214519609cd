// SPDX-License-Identifier: MIT
#include "core/auth_service.h"

#include <memory>

#include "auth/crypto.h"
#include "proto/codec.h"

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

AuthService::AuthService(AuthOptions options, store::ChatStore* store, auth::HashPool* hashes,
                         const util::Clock* clock)
    : options_(std::move(options)), store_(store), hashes_(hashes), clock_(clock) {}

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
  };
  auto st = std::make_shared<State>();
  bool queued = hashes_->Submit(
      LoginThrottle::AddressKey(peer), [st, password] { st->status = auth::HashPassword(password, &st->hash); },
      [this, st, name, done] {
        if (!st->status.ok()) {
          done(st->status, {});
          return;
        }
        store_->CreateUser(store::NewUser{name, st->hash, false, clock_->NowMs()},
                           [done](store::Result<store::UserInfo>&& r) { done(r.status, r.value); });
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
  store_->FindUser(name, [this, name, password, peer, mint_token, done](store::Result<store::UserRecord>&& found) {
    if (!found.status.ok() && found.status.code() != util::Code::kNotFound) {
      done(LoginResult{found.status});
      return;
    }
    // An unknown name is checked against a dummy hash: it costs as much time as a wrong password.
    bool known = found.status.ok() && !found.value.password_hash.empty();
    auto rec = std::make_shared<store::UserRecord>(std::move(found.value));
    auto verified = std::make_shared<bool>(false);
    std::string hash = known ? rec->password_hash : std::string(kDummyHash);
    bool queued = hashes_->Submit(
        LoginThrottle::AddressKey(peer),
        [verified, hash, password, known] { *verified = auth::VerifyPassword(hash, password) && known; },
        [this, rec, verified, name, peer, mint_token, done] {
          if (!*verified) {
            throttle_.Failed(peer, name, clock_->MonoMs());
            done(LoginResult{Status::Unauthorized("wrong user name or password")});
            return;
          }
          throttle_.Succeeded(peer, name);
          if (!mint_token) {
            done(LoginResult{Status::Ok(), rec->info});
            return;
          }
          std::string token = auth::NewToken();
          int64_t now = clock_->NowMs();
          store_->CreateSession(store::NewSession{rec->info.id, auth::TokenHash(token), now,
                                                  now + options_.session_days * kDayMs},
                                [rec, token, done](const Status& s) {
                                  done(LoginResult{s, rec->info, s.ok() ? token : ""});
                                });
        });
    if (!queued) done(LoginResult{kBusy, {}, "", 1000});
  });
}

void AuthService::Logout(const std::string& token, DoneCallback done) {
  store_->DeleteSession(auth::TokenHash(token), std::move(done));
}

void AuthService::ResolveToken(const std::string& token, UserCallback done) {
  if (token.find('.') != std::string::npos) {
    // An HS256 site token: the signature check is microseconds, fine on this thread.
    std::string subject;
    Status s = auth::VerifySiteToken(token, options_.site_secret, clock_->NowMs() / 1000, &subject);
    if (!s.ok()) {
      done(s, {});
      return;
    }
    SiteUser(subject, std::move(done));
    return;
  }
  store_->ResolveSession(store::SessionLookup{auth::TokenHash(token), clock_->NowMs()},
                         [done](store::Result<store::UserInfo>&& r) { done(r.status, r.value); });
}

void AuthService::SiteUser(const std::string& name, UserCallback done) {
  store_->EnsureSiteUser(store::SiteLogin{name, options_.site_users_may_be_local},
                         [done](store::Result<store::UserInfo>&& r) { done(r.status, r.value); });
}

}  // namespace chatd::core
