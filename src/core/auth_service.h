// SPDX-License-Identifier: MIT
//
// core::AuthService: registration, password login, logout and token checks, shared by the
// WebSocket hello and the HTTP API. Password hashing runs on the HashPool (at most two at once,
// never on the network thread), in the lane of the client's address; accounts and login
// sessions are the ChatStore's. Failed password checks are throttled per address and per account/address
// (LoginThrottle): a throttled attempt is refused at once, before any lookup or hash. Every callback runs on the
// network thread. The service must outlive every callback it has handed out (the server stops
// storage and the pool, and drains completions, before destroying it).
#pragma once

#include <functional>
#include <string>

#include "auth/hash_pool.h"
#include "core/login_throttle.h"
#include "store/chat_store.h"
#include "store/types.h"
#include "util/clock.h"
#include "util/status.h"

namespace chatd::core {

struct AuthOptions {
  bool registration_open = false;
  int session_days = 30;
  std::string site_secret;  // empty = site tokens refused
  bool site_users_may_be_local = false;  // a site token may log in as a local account of that name
};

class AuthService {
 public:
  using UserCallback = std::function<void(const util::Status&, const store::UserInfo&)>;
  struct LoginResult {
    explicit LoginResult(util::Status s, store::UserInfo u = {}, std::string t = {}, int64_t retry = 0)
        : status(std::move(s)), user(std::move(u)), token(std::move(t)), retry_ms(retry) {}
    util::Status status;
    store::UserInfo user;
    std::string token;     // with mint_token, on success
    int64_t retry_ms = 0;  // rate_limited: when an attempt may be checked again
  };
  using LoginCallback = std::function<void(const LoginResult&)>;
  using DoneCallback = std::function<void(const util::Status&)>;

  // All pointers must outlive the service.
  AuthService(AuthOptions options, store::ChatStore* store, auth::HashPool* hashes, const util::Clock* clock);

  // Creates an account (when registration is open). Conflict if the name is taken.
  // `peer` is the client's address (the lane its hashing waits in).
  void Register(const std::string& name, const std::string& password, const std::string& peer, UserCallback done);
  // Checks a password; with `mint_token` also creates a login session and returns its token.
  // Failures count against `peer` (the client's address) and the (name, peer) pair.
  void Login(const std::string& name, const std::string& password, const std::string& peer, bool mint_token,
             LoginCallback done);
  // Revokes a session token (unknown tokens are fine: the result is the same).
  void Logout(const std::string& token, DoneCallback done);
  // A session token from /api/login, or an HS256 site token (JWT) when a site secret is set.
  void ResolveToken(const std::string& token, UserCallback done);
  // The account of a site user whose name the caller already vouches for (a checked site token,
  // or a socket.io `login` under socketio-trust-uid), made on first use.
  void SiteUser(const std::string& name, UserCallback done);

  bool registration_open() const { return options_.registration_open; }

 private:
  AuthOptions options_;
  store::ChatStore* store_;
  auth::HashPool* hashes_;
  const util::Clock* clock_;
  LoginThrottle throttle_;
};

}  // namespace chatd::core
