// SPDX-License-Identifier: MIT
//
// auth crypto: the libsodium-backed primitives of accounts and tokens.
//  - passwords: argon2id (crypto_pwhash_str, INTERACTIVE limits: ~64 MiB and ~90 ms each).
//    Slow on purpose: call only from the HashPool, never from the network thread.
//  - session tokens: 32 random bytes, base64url; stored only as their SHA-256.
//  - site tokens: HS256 JWTs signed with the configured site secret.
// All functions are thread-safe once InitCrypto() has run (main calls it first).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace chatd::auth {

// Must run once before any other function here. Returns false if libsodium cannot start.
bool InitCrypto();

inline constexpr size_t kMinPasswordBytes = 8;
inline constexpr size_t kMaxPasswordBytes = 1024;

// Checks length rules; the message is fit for a user.
util::Status CheckPasswordPolicy(std::string_view password);

util::Status HashPassword(std::string_view password, std::string* out_hash);
bool VerifyPassword(const std::string& hash, std::string_view password);

// A fresh random session token (43 characters of base64url).
std::string NewToken();
// SHA-256 of a token, as 64 hex digits (what the sessions table stores).
std::string TokenHash(std::string_view token);

// A fresh API key for a site's backend: "chk_" and 43 characters of base64url (256 bits).
std::string NewApiKey();
// Whether `a` and `b` are equal, in time that depends on their lengths only.
bool ConstantTimeEqual(std::string_view a, std::string_view b);
// HMAC-SHA256 of `message` with `key`, as 64 hex digits (webhook signatures).
std::string HmacSha256Hex(std::string_view key, std::string_view message);

// Verifies an HS256 JWT: header alg must be HS256, the signature must match `secret`, `exp` must
// be present and in the future (`now_s`), `nbf` (if present) not in the future, and `sub` a valid
// user name, returned in *subject. Any other alg (including "none") is refused.
util::Status VerifySiteToken(std::string_view jwt, std::string_view secret, int64_t now_s, std::string* subject);

// Signs claims {"sub":subject,"exp":exp_s} with HS256 (for tests, benchmarks and `chatd token`).
std::string SignSiteToken(std::string_view subject, int64_t exp_s, std::string_view secret);

std::string Base64UrlEncode(std::string_view bytes);
bool Base64UrlDecode(std::string_view text, std::string* out);

}  // namespace chatd::auth
