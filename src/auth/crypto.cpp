// SPDX-License-Identifier: MIT
#include "auth/crypto.h"

#include <sodium.h>

#include <cstring>

#include "proto/codec.h"
#include "proto/json_writer.h"

namespace chatd::auth {

using util::Status;

bool InitCrypto() { return sodium_init() >= 0; }

Status CheckPasswordPolicy(std::string_view password) {
  if (password.size() < kMinPasswordBytes) {
    return Status::BadRequest("password must be at least " + std::to_string(kMinPasswordBytes) + " characters");
  }
  if (password.size() > kMaxPasswordBytes) return Status::BadRequest("password is too long");
  return Status::Ok();
}

Status HashPassword(std::string_view password, std::string* out_hash) {
  char buf[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(buf, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return Status::Internal("password hashing ran out of memory");
  }
  out_hash->assign(buf);
  return Status::Ok();
}

bool VerifyPassword(const std::string& hash, std::string_view password) {
  if (hash.empty() || hash[0] != '$') return false;  // accounts without a password (site users)
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(strlen(out.c_str()));
  return out;
}

bool Base64UrlDecode(std::string_view text, std::string* out) {
  out->resize(text.size());
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out->data()), out->size(), text.data(), text.size(),
                        nullptr, &len, &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text.data() + text.size()) {
    return false;
  }
  out->resize(len);
  return true;
}

std::string NewToken() {
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  return Base64UrlEncode(std::string_view(reinterpret_cast<char*>(raw), sizeof raw));
}

std::string TokenHash(std::string_view token) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(token.data()), token.size());
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return std::string(hex, sizeof hex - 1);
}

namespace {

std::string Hs256(std::string_view signing_input, std::string_view secret) {
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(signing_input.data()),
                                signing_input.size());
  crypto_auth_hmacsha256_final(&st, mac);
  return std::string(reinterpret_cast<char*>(mac), sizeof mac);
}

}  // namespace

std::string NewApiKey() { return "chk_" + NewToken(); }

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && (a.empty() || sodium_memcmp(a.data(), b.data(), a.size()) == 0);
}

std::string HmacSha256Hex(std::string_view key, std::string_view message) {
  std::string mac = Hs256(message, key);
  char hex[crypto_auth_hmacsha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, reinterpret_cast<const unsigned char*>(mac.data()), mac.size());
  return std::string(hex, sizeof hex - 1);
}

Status VerifySiteToken(std::string_view jwt, std::string_view secret, int64_t now_s, std::string* subject) {
  if (secret.empty()) return Status::Unauthorized("site tokens are not enabled");
  if (jwt.size() > 4096) return Status::Unauthorized("token too long");
  size_t dot1 = jwt.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : jwt.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || jwt.find('.', dot2 + 1) != std::string_view::npos) {
    return Status::Unauthorized("malformed token");
  }
  std::string header, payload, sig;
  if (!Base64UrlDecode(jwt.substr(0, dot1), &header) ||
      !Base64UrlDecode(jwt.substr(dot1 + 1, dot2 - dot1 - 1), &payload) ||
      !Base64UrlDecode(jwt.substr(dot2 + 1), &sig)) {
    return Status::Unauthorized("malformed token");
  }
  proto::SiteTokenClaims claims;
  if (!proto::DecodeSiteTokenClaims(header, payload, &claims)) return Status::Unauthorized("malformed token");
  if (claims.alg != "HS256") return Status::Unauthorized("token alg must be HS256");
  if (sig.size() != crypto_auth_hmacsha256_BYTES) return Status::Unauthorized("bad token signature");
  std::string expect = Hs256(jwt.substr(0, dot2), secret);
  if (sodium_memcmp(expect.data(), sig.data(), sig.size()) != 0) return Status::Unauthorized("bad token signature");
  if (!claims.has_exp) return Status::Unauthorized("token has no exp");
  if (claims.exp <= now_s) return Status::Unauthorized("token expired");
  if (claims.has_nbf && claims.nbf > now_s + 60) return Status::Unauthorized("token not valid yet");
  if (!proto::ValidSiteUserName(claims.sub)) return Status::Unauthorized("token sub must be a valid user name");
  *subject = claims.sub;
  return Status::Ok();
}

std::string SignSiteToken(std::string_view subject, int64_t exp_s, std::string_view secret) {
  std::string claims;
  proto::JsonWriter(&claims).Begin().Str("sub", subject).Int("exp", exp_s).End();
  std::string input = Base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})") + "." + Base64UrlEncode(claims);
  return input + "." + Base64UrlEncode(Hs256(input, secret));
}

}  // namespace chatd::auth
