// SPDX-License-Identifier: MIT
//
// core::AuthService: registration, password login, logout and token checks, shared by the
// WebSocket hello and the HTTP API. Password hashing runs on the HashPool (at most two at once,
// never on the network thread); database work goes through Storage. Every callback runs on the
// network thread. The service must outlive every callback it has handed out (the server stops
// storage and the pool, and drains completions, before destroying it).
#pragma once

#include <functional>
#include <string>

#include "auth/hash_pool.h"
#include "store/storage.h"
#include "store/types.h"
#include "util/clock.h"
#include "util/status.h"

namespace chatd::core {

struct AuthOptions {
  bool registration_open = false;
  int session_days = 30;
  std::string site_secret;  // empty = site tokens refused
};

class AuthService {
 public:
  using UserCallback = std::function<void(const util::Status&, const store::UserInfo&)>;
  using LoginCallback = std::function<void(const util::Status&, const store::UserInfo&, const std::string& token)>;
  using DoneCallback = std::function<void(const util::Status&)>;

  // All pointers must outlive the service.
  AuthService(AuthOptions options, store::Storage* storage, auth::HashPool* hashes, const util::Clock* clock);

  // Creates an account (when registration is open). Conflict if the name is taken.
  void Register(const std::string& name, const std::string& password, UserCallback done);
  // Checks a password; with `mint_token` also creates a login session and returns its token.
  void Login(const std::string& name, const std::string& password, bool mint_token, LoginCallback done);
  // Revokes a session token (unknown tokens are fine: the result is the same).
  void Logout(const std::string& token, DoneCallback done);
  // A session token from /api/login, or an HS256 site token (JWT) when a site secret is set.
  void ResolveToken(const std::string& token, UserCallback done);

  bool registration_open() const { return options_.registration_open; }

 private:
  AuthOptions options_;
  store::Storage* storage_;
  auth::HashPool* hashes_;
  const util::Clock* clock_;
};

}  // namespace chatd::core
