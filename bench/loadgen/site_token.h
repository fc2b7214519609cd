// SPDX-License-Identifier: MIT
//
// HS256 site tokens, as a web site that embeds chatd signs them: header {"alg":"HS256","typ":"JWT"},
// claims {"sub":<user>,"exp":<unix seconds>}, base64url without padding, HMAC-SHA256 from
// libsodium. The load generator logs users in with these so that no password is hashed.
// REQUIRES: sodium_init() has run. Thread-compatible (no shared state).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace chatd::bench {

std::string SignSiteToken(std::string_view subject, int64_t exp_unix_s, std::string_view secret);

}  // namespace chatd::bench
