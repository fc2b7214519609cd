// SPDX-License-Identifier: MIT
#include "auth/crypto.h"

#include <doctest/doctest.h>

using namespace chatd::auth;

namespace {
const std::string kSecret = "0123456789abcdef0123456789abcdef";
}

TEST_CASE("crypto: passwords hash with argon2id and verify") {
  REQUIRE(InitCrypto());
  std::string hash;
  REQUIRE(HashPassword("correct horse", &hash).ok());
  CHECK(hash.rfind("$argon2id$", 0) == 0);
  CHECK(VerifyPassword(hash, "correct horse"));
  CHECK_FALSE(VerifyPassword(hash, "correct horsE"));
  CHECK_FALSE(VerifyPassword("", "anything"));  // accounts without a password
  CHECK_FALSE(CheckPasswordPolicy("short").ok());
  CHECK(CheckPasswordPolicy("long enough").ok());
}

TEST_CASE("crypto: session tokens are random and stored as their hash") {
  REQUIRE(InitCrypto());
  std::string a = NewToken(), b = NewToken();
  CHECK(a.size() == 43);
  CHECK(a != b);
  CHECK(TokenHash(a).size() == 64);
  CHECK(TokenHash(a) == TokenHash(a));
  CHECK(TokenHash(a) != TokenHash(b));
}

TEST_CASE("crypto: HS256 site tokens") {
  REQUIRE(InitCrypto());
  const int64_t now = 1'800'000'000;
  std::string sub;
  std::string good = SignSiteToken("alice", now + 60, kSecret);
  REQUIRE(VerifySiteToken(good, kSecret, now, &sub).ok());
  CHECK(sub == "alice");
  // Wrong secret, expired, tampered payload, no secret configured.
  CHECK_FALSE(VerifySiteToken(good, kSecret + "x", now, &sub).ok());
  CHECK_FALSE(VerifySiteToken(good, kSecret, now + 61, &sub).ok());
  CHECK_FALSE(VerifySiteToken(good, "", now, &sub).ok());
  std::string tampered = good;
  size_t dot = tampered.find('.');
  tampered[dot + 3] = tampered[dot + 3] == 'A' ? 'B' : 'A';
  CHECK_FALSE(VerifySiteToken(tampered, kSecret, now, &sub).ok());
  // alg "none" and other algorithms are refused even with a valid-looking shape.
  std::string none = Base64UrlEncode(R"({"alg":"none","typ":"JWT"})") + "." +
                     Base64UrlEncode(R"({"sub":"alice","exp":1900000000})") + ".";
  CHECK_FALSE(VerifySiteToken(none, kSecret, now, &sub).ok());
  std::string rs = Base64UrlEncode(R"({"alg":"RS256"})") + "." + good.substr(good.find('.') + 1);
  CHECK_FALSE(VerifySiteToken(rs, kSecret, now, &sub).ok());
  // Missing exp, bad sub, garbage.
  for (const char* bad : {"", "a.b", "a.b.c.d", "!!!.???.***"}) {
    CAPTURE(bad);
    CHECK_FALSE(VerifySiteToken(bad, kSecret, now, &sub).ok());
  }
  std::string bad_sub = SignSiteToken("not a name", now + 60, kSecret);
  CHECK_FALSE(VerifySiteToken(bad_sub, kSecret, now, &sub).ok());
}

TEST_CASE("crypto: base64url round trip") {
  std::string out;
  for (std::string s : {std::string(), std::string("f"), std::string("fo"), std::string("foo"), std::string("\xff\xfe\x00", 3)}) {
    REQUIRE(Base64UrlDecode(Base64UrlEncode(s), &out));
    CHECK(out == s);
  }
  CHECK_FALSE(Base64UrlDecode("a+b/", &out));
}
