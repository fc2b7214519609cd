// SPDX-License-Identifier: MIT
#include "site_token.h"

#include <sodium.h>

#include <cstring>

namespace chatd::bench {

namespace {

std::string Base64Url(const void* data, size_t len) {
  std::string out(sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), static_cast<const unsigned char*>(data), len,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::strlen(out.c_str()));
  return out;
}

}  // namespace

std::string SignSiteToken(std::string_view subject, int64_t exp_unix_s, std::string_view secret) {
  static constexpr std::string_view kHeader = R"({"alg":"HS256","typ":"JWT"})";
  // The subject is a chatd user name (letters, digits, . _ -): nothing in it needs escaping.
  std::string claims = "{\"sub\":\"" + std::string(subject) + "\",\"exp\":" + std::to_string(exp_unix_s) + "}";
  std::string input = Base64Url(kHeader.data(), kHeader.size()) + "." + Base64Url(claims.data(), claims.size());
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  crypto_auth_hmacsha256_final(&st, mac);
  return input + "." + Base64Url(mac, sizeof mac);
}

}  // namespace chatd::bench
